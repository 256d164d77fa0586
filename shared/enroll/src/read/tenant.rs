//! The tenant's methods policy, read once and kept briefly: every user's telephony and TAP
//! decision needs it, and it changes rarely (an administrator's edit, a provider rollout).

use std::sync::Arc;
use std::time::Duration;

use autoenroll_graph::{ApiVersion, GraphClient, GraphError};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::telephony::{GLOBAL_ADMIN_TEMPLATE, TenantMethods};

/// How long one read is trusted: a provider switched to production, or the TAP policy
/// widened, is seen within five minutes.
pub const TENANT_METHODS_TTL: Duration = Duration::from_secs(300);

/// The beta methods policy (telecom provider settings are beta-only) and the Global
/// Administrator role's object id. A policy Graph refuses to show (403: no
/// Policy.Read.AuthenticationMethod) is [`TenantMethods::unread`] — the dates alone then decide
/// telephony and no pass is issued; any other error is the caller's (retry later).
pub async fn read_tenant_methods(graph: &GraphClient) -> Result<TenantMethods, GraphError> {
    let (methods_policy, directory_roles) = (graph.methods_policy(), graph.directory_roles());
    let (policy, roles) =
        tokio::join!(methods_policy.get(ApiVersion::Beta), directory_roles.list());
    let policy = match policy {
        Ok(p) => p,
        Err(e) if e.is_forbidden() => {
            tracing::warn!(error = %e, "methods policy not readable: telephony by date only, no TAP bootstrap");
            return Ok(TenantMethods::unread());
        }
        Err(e) => return Err(e),
    };
    // Without Directory.Read.All-level access to roles, Global Administrators are treated as
    // everyone else: their phones count as retired five months early (the stricter side).
    let ga_role = match roles {
        Ok(roles) => roles
            .into_iter()
            .find(|r| {
                r.role_template_id
                    .as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case(GLOBAL_ADMIN_TEMPLATE))
            })
            .map(|r| r.id),
        Err(e) if e.is_forbidden() => None,
        Err(e) => return Err(e),
    };
    Ok(TenantMethods::from_policy(&policy, ga_role))
}

/// One instance's cached [`TenantMethods`], re-read after [`TENANT_METHODS_TTL`].
#[derive(Debug, Default)]
pub struct TenantMethodsCache {
    slot: Mutex<Option<(Instant, Arc<TenantMethods>)>>,
}

impl TenantMethodsCache {
    /// The cached view if it is within the TTL and nobody is reading it right now: lets a
    /// caller decide whether its first reads can wait for [`Self::get`] or should run beside it.
    pub fn fresh(&self) -> Option<Arc<TenantMethods>> {
        let slot = self.slot.try_lock().ok()?;
        slot.as_ref()
            .filter(|(at, _)| at.elapsed() < TENANT_METHODS_TTL)
            .map(|(_, methods)| methods.clone())
    }

    /// The cached view, or a fresh read when it is older than the TTL (one reader at a time;
    /// the others wait for its answer).
    pub async fn get(&self, graph: &GraphClient) -> Result<Arc<TenantMethods>, GraphError> {
        let mut slot = self.slot.lock().await;
        if let Some((at, methods)) = slot.as_ref()
            && at.elapsed() < TENANT_METHODS_TTL
        {
            return Ok(methods.clone());
        }
        let methods = Arc::new(read_tenant_methods(graph).await?);
        *slot = Some((Instant::now(), methods.clone()));
        Ok(methods)
    }
}
