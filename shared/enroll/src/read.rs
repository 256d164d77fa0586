//! Reading what `plan` needs about one user — and no more: an excluded account is not read
//! beyond its UPN and group memberships, and a guest, disabled, out-of-scope or deleted user is
//! not read beyond the user object. Shared by the enroll function and the CLI.

use autoenroll_graph::model::USER_SELECT;
use autoenroll_graph::{GraphClient, GraphError};

use crate::failure::Cause;
use crate::plan::{self, Plan, SkipReason, UserView};
use crate::policy::{MfaMode, Policy};
use crate::ports::{MemoryStore, StoreError};

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

/// Read user `user_id` of `tenant_id` for [`plan::plan`].
pub async fn read_view(
    graph: &GraphClient,
    policy: &Policy,
    tenant_id: &str,
    user_id: &str,
    memory: &dyn MemoryStore,
) -> Result<ReadView, ReadError> {
    let user = match graph.users().get(user_id, USER_SELECT).await {
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
    let upn = user.user_principal_name.clone();
    if let Some(reason) = plan::excluded(policy, upn.as_deref(), &[]) {
        return Ok(ReadView::Skip {
            reason,
            user_principal_name: upn,
        });
    }
    let group_membership = if policy.needs_group_membership() {
        let mut ids: Vec<String> = policy
            .excluded_groups
            .iter()
            .chain(policy.scope_groups.iter())
            .cloned()
            .collect();
        if let MfaMode::Group(g) = &policy.mfa_mode {
            ids.push(g.clone());
        }
        // A GET, not `checkMemberGroups`: Graph charges every POST a write against the
        // app+tenant write quota, and the writes are what enrollment is paced by.
        let member_of = graph.users().member_of_ids(&user.id).await?;
        ids.retain(|id| member_of.iter().any(|m| m.eq_ignore_ascii_case(id)));
        ids.sort_unstable();
        ids.dedup();
        ids
    } else {
        Vec::new()
    };
    let mut view = UserView {
        tenant_id: tenant_id.to_owned(),
        user,
        methods: Vec::new(),
        mfa_state: None,
        sign_in_preferences: None,
        group_membership,
        managed: None,
    };
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
        async { Ok::<_, ReadError>(memory.get(id).await?) },
    )?;
    view.methods = methods;
    view.mfa_state = mfa_state;
    view.sign_in_preferences = sign_in_preferences;
    view.managed = managed;
    Ok(ReadView::View(Box::new(view)))
}
