//! Reading what `plan` needs about one user — and no more: an excluded, guest, disabled,
//! out-of-scope or deleted user is not read from Graph beyond the user object and — when the
//! policy or the tenant's methods policy names groups — its group memberships, which are read
//! together with it (as is our memory of the user, unused for a skip). Shared by the enroll
//! function and the CLI.

use std::sync::Arc;

use autoenroll_graph::model::USER_SELECT;
use autoenroll_graph::{GraphClient, GraphError};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::bootstrap::{BootstrapStore, CloseReason};
use crate::delivery::Channel;
use crate::early::{Early, beside};
use crate::failure::Cause;
use crate::plan::{self, BootstrapView, Plan, SkipReason, UserView};
use crate::policy::{MfaMode, Policy};
use crate::ports::{MemoryStore, StoreError};
use crate::telephony::{PhoneDelivery, TenantMethods, UserFacts};

mod tenant;
pub use tenant::{TENANT_METHODS_TTL, TenantMethodsCache, read_tenant_methods};

/// What a read needs besides the user: the moment, the tenant's methods policy and, when
/// bootstrap runs, the bootstrap store.
pub struct ReadContext<'a> {
    pub now: OffsetDateTime,
    pub tenant: TenantSource<'a>,
    pub bootstrap: Option<&'a dyn BootstrapStore>,
}

/// Where the tenant's methods policy comes from.
pub enum TenantSource<'a> {
    /// Already known (cached and fresh, or not needed: [`TenantMethods::unread`]).
    Known(Arc<TenantMethods>),
    /// To be read through the cache — beside the user's first reads, not before them: the
    /// first message of an instance (and the first after the cache's TTL) would otherwise
    /// wait one more Graph round trip. The user's groups are then read whether or not the
    /// policy names any (one GET; the tenant's answer decides whether they are used).
    Read(&'a TenantMethodsCache),
}

/// What the bootstrap adds to [`USER_SELECT`]: a pass starts on the user's first day.
const HIRE_DATE: &str = "employeeHireDate";

/// The result of reading a user.
#[derive(Debug, Clone)]
pub enum ReadView {
    /// Decided before the methods were read (excluded, deleted, guest, disabled, out of scope).
    Skip {
        reason: SkipReason,
        user_principal_name: Option<String>,
    },
    View(Box<UserView>),
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("reading the user from Graph: {0}")]
    Graph(#[from] GraphError),
    #[error("reading the user's memory: {0}")]
    Store(#[from] StoreError),
}

impl ReadError {
    /// The typed cause; its disposition says what happens next.
    pub fn cause(&self) -> Cause {
        match self {
            ReadError::Graph(e) => Cause::from(e),
            ReadError::Store(e) => Cause::from(e),
        }
    }
}

/// Read user `user_id` of `tenant_id` for [`plan::plan`], now, with the tenant's methods policy
/// unread (telephony by the dates alone) and no bootstrap.
pub async fn read_view(
    graph: &GraphClient,
    policy: &Policy,
    tenant_id: &str,
    user_id: &str,
    memory: &dyn MemoryStore,
) -> Result<ReadView, ReadError> {
    let ctx = ReadContext {
        now: OffsetDateTime::now_utc(),
        tenant: TenantSource::Known(Arc::new(TenantMethods::unread())),
        bootstrap: None,
    };
    read_view_with(graph, policy, tenant_id, user_id, memory, ctx).await
}

/// Read user `user_id` of `tenant_id` for [`plan::plan`].
pub async fn read_view_with(
    graph: &GraphClient,
    policy: &Policy,
    tenant_id: &str,
    user_id: &str,
    memory: &dyn MemoryStore,
    ctx: ReadContext<'_>,
) -> Result<ReadView, ReadError> {
    let bootstrap_on = ctx.bootstrap.is_some() && policy.bootstrap_effect().is_on();
    let with_hire_date: Vec<&str>;
    let select = if bootstrap_on {
        with_hire_date = USER_SELECT.iter().copied().chain([HIRE_DATE]).collect();
        &with_hire_date[..]
    } else {
        USER_SELECT
    };
    let needs_groups = policy.needs_group_membership()
        || match &ctx.tenant {
            TenantSource::Known(tenant) => !tenant.membership_ids().is_empty(),
            TenantSource::Read(_) => true,
        };
    // The user, its groups, our memory of it (and the tenant's methods policy when it is not
    // cached) need only the id from the message: one round trip of wall time instead of up to
    // four in series before the methods are read. The memory is needed only by the plan: its
    // read runs on beside the Graph reads after these instead of holding them up, and a skip
    // drops it unread (a store failure does not hold up a skip).
    let users = graph.users();
    let mut early_memory = Early::new(memory.get(user_id));
    let (tenant, user, member_of) = beside(
        async {
            tokio::join!(
                async {
                    match &ctx.tenant {
                        TenantSource::Known(tenant) => Ok(tenant.clone()),
                        TenantSource::Read(cache) => cache.get(graph).await,
                    }
                },
                users.get(user_id, select),
                async {
                    if needs_groups {
                        users.member_of_ids(user_id).await.map(Some)
                    } else {
                        Ok(None)
                    }
                },
            )
        },
        Some(&mut early_memory),
    )
    .await;
    let user = match user {
        Ok(user) => user,
        // Hard-deleted, or soft-deleted (no longer under /users): nothing to do.
        Err(e) if e.is_not_found() => {
            return Ok(ReadView::Skip {
                reason: SkipReason::Deleted,
                user_principal_name: None,
            });
        }
        Err(e) => return Err(e.into()),
    };
    let tenant = tenant?;
    let tenant_ids = tenant.membership_ids();
    let upn = user.user_principal_name.clone();
    if let Some(reason) = plan::excluded(policy, upn.as_deref(), &[]) {
        return Ok(ReadView::Skip {
            reason,
            user_principal_name: upn,
        });
    }
    let group_membership = match member_of? {
        Some(member_of) => {
            let mut ids: Vec<String> = policy
                .excluded_groups
                .iter()
                .chain(policy.scope_groups.iter())
                .cloned()
                .chain(tenant_ids)
                .collect();
            if let MfaMode::Group(g) = &policy.mfa_mode {
                ids.push(g.clone());
            }
            // A GET, not `checkMemberGroups`: Graph charges every POST a write against the
            // app+tenant write quota, and the writes are what enrollment is paced by.
            ids.retain(|id| member_of.iter().any(|m| m.eq_ignore_ascii_case(id)));
            ids.sort_unstable();
            ids.dedup();
            ids
        }
        None => Vec::new(),
    };
    let mut view = UserView {
        tenant_id: tenant_id.to_owned(),
        user,
        methods: Vec::new(),
        mfa_state: None,
        sign_in_preferences: None,
        group_membership,
        managed: None,
        now: ctx.now,
        phone_delivery: PhoneDelivery::ALL,
        bootstrap: None,
        open_bootstrap: None,
    };
    let facts = UserFacts {
        user_id: &view.user.id,
        member_of: &view.group_membership,
        user_principal_name: view.user.user_principal_name.as_deref(),
    };
    view.phone_delivery = tenant.phone_delivery(policy.telephony, &facts, ctx.now);
    let tap_policy = tenant.tap_for(&facts).cloned();
    // The pure decision on the user object alone settles every skip that does not depend on
    // methods; only those users are read further.
    if let Plan::Skip(
        reason @ (SkipReason::Excluded(_)
        | SkipReason::Deleted
        | SkipReason::Guest
        | SkipReason::Disabled
        | SkipReason::OutOfScope),
    ) = plan::plan(policy, &view)
    {
        return Ok(ReadView::Skip {
            reason,
            user_principal_name: upn,
        });
    }
    // The rest is independent: read it at once (one round trip of wall time instead of four —
    // with Graph's typical 50–100 ms per call, most of a new user's time to protection).
    let id = view.user.id.as_str();
    let per_user_mfa = matches!(
        policy.mfa_mode,
        MfaMode::PerUserEnabled | MfaMode::PerUserEnforced
    );
    let (methods, mfa_state, sign_in_preferences, managed) = tokio::try_join!(
        async { Ok::<_, ReadError>(graph.auth_methods(id).list().await?) },
        async {
            if !per_user_mfa {
                return Ok::<_, ReadError>(None);
            }
            Ok(Some(
                graph.mfa_requirements(id).get().await?.per_user_mfa_state,
            ))
        },
        async {
            if !policy.set_sms_default {
                return Ok::<_, ReadError>(None);
            }
            Ok(Some(graph.sign_in_preferences(id).get().await?))
        },
        async {
            // The memory is keyed by the object id; the message may have named the user
            // otherwise (the CLI takes a UPN), and then the early read looked up another key.
            if id == user_id {
                Ok::<_, ReadError>(early_memory.finish().await?)
            } else {
                Ok(memory.get(id).await?)
            }
        },
    )?;
    view.methods = methods;
    view.mfa_state = mfa_state;
    view.sign_in_preferences = sign_in_preferences;
    view.managed = managed;
    if let (true, Some(store)) = (bootstrap_on, ctx.bootstrap) {
        read_bootstrap(graph, policy, store, &mut view, tap_policy).await?;
    }
    Ok(ReadView::View(Box::new(view)))
}

/// The bootstrap part of the view: the open bootstrap and how the last one ended (store), and
/// — only for a user who could get a pass (no lasting method) and only when e-mail is a
/// channel — the manager's mail.
async fn read_bootstrap(
    graph: &GraphClient,
    policy: &Policy,
    store: &dyn BootstrapStore,
    view: &mut UserView,
    tap_policy: Option<crate::telephony::TapConfig>,
) -> Result<(), ReadError> {
    let (tenant_id, user_id) = (view.tenant_id.as_str(), view.user.id.as_str());
    let (open, closed) = tokio::try_join!(
        store.get(tenant_id, user_id),
        store.last_closed(tenant_id, user_id)
    )?;
    // Passes that reached someone and expired unused count against the re-issues; a pass
    // replaced because its delivery failed does not (nobody ever held it).
    let issued = match (&open, &closed) {
        (Some(o), _) if o.delivered => o.issue_count,
        (Some(o), _) => o.issue_count.saturating_sub(1),
        (None, Some(c)) if c.reason == CloseReason::Expired => u32::MAX,
        _ => 0,
    };
    let wants_manager = policy
        .bootstrap
        .delivery
        .is_some_and(|d| d.uses(Channel::ManagerEmail));
    let manager_mail = if wants_manager && !plan::has_lasting_method(&view.methods) {
        graph
            .manager(user_id)
            .get(&["id", "mail"])
            .await?
            .map(|m| m.mail.filter(|m| !m.trim().is_empty()))
    } else {
        None
    };
    view.bootstrap = Some(BootstrapView {
        tap_policy,
        manager_mail,
        hire_date: view
            .user
            .employee_hire_date
            .as_deref()
            .and_then(|d| OffsetDateTime::parse(d, &Rfc3339).ok()),
        issued,
    });
    view.open_bootstrap = open;
    Ok(())
}
