//! One user, end to end: read (exclusion first), plan, apply, audit. The SQS handler calls
//! [`Enroller::enroll_user`] for each message; the CLI's `plan` and `apply` call
//! [`Enroller::plan_user`] and [`Enroller::enroll_user`] — one code path everywhere.

use std::sync::Arc;

use autoenroll_core::apply::apply;
use autoenroll_core::audit;
use autoenroll_core::outcome::Outcome;
use autoenroll_core::plan::{self, Plan, UserView};
use autoenroll_core::policy::Policy;
use autoenroll_core::ports::{AuditRecord, AuditSink, MemoryStore, StoreError, Trigger};
use autoenroll_core::read::{ReadError, ReadView, read_view};
use autoenroll_graph::{GraphClient, GraphError, GraphErrorKind};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// What enrolling one user needs: Graph, the policy, and the two stores. Cheap to share
/// (`Arc` it); every method takes `&self`.
pub struct Enroller<M, A> {
    graph: GraphClient,
    policy: Arc<Policy>,
    tenant_id: String,
    memory: M,
    audit: A,
}

impl<M, A> std::fmt::Debug for Enroller<M, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enroller")
            .field("tenant_id", &self.tenant_id)
            .finish_non_exhaustive()
    }
}

/// What reading and planning one user found, before anything is written (`autoenroll plan`).
#[derive(Debug, Clone)]
pub enum PlannedUser {
    /// Decided from the user object alone (excluded, deleted, guest, disabled, out of scope);
    /// the user's methods were not read.
    Skip {
        reason: plan::SkipReason,
        user_principal_name: Option<String>,
    },
    /// Read in full; `plan` says what `enroll_user` would do now.
    Planned { view: Box<UserView>, plan: Plan },
}

/// How enrolling one user went.
#[derive(Debug)]
pub struct UserReport {
    pub user_id: String,
    pub user_principal_name: Option<String>,
    /// The plan that was applied (`None` when the user was skipped before planning or could
    /// not be read).
    pub plan: Option<Plan>,
    pub result: UserResult,
}

#[derive(Debug)]
pub enum UserResult {
    /// Read, planned and (if there was anything to do) applied; the outcome is audited.
    Finished(Outcome),
    /// The user could not be read; nothing was written.
    ReadFailed(ReadError),
}

/// What the queue should do with the message that asked for this user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// Done, skipped on purpose, or failed in a way that retrying cannot fix for this user:
    /// delete the message (the outcome is in the audit trail).
    Ack,
    /// Try again later (throttling, 5xx, timeouts, store outages, a user changed under us) —
    /// or a failure that is not about this user (our credential or permissions), which an
    /// operator fixes and then redrives from the dead-letter queue.
    Retry,
}

impl UserReport {
    pub fn settle(&self) -> Settle {
        let retry = match &self.result {
            UserResult::Finished(Outcome::Failed {
                retryable, error, ..
            }) => *retryable || is_systemic_summary(error) || is_server_error_summary(error),
            UserResult::Finished(_) => false,
            UserResult::ReadFailed(e) => {
                e.is_retryable()
                    || is_systemic_read_error(e)
                    || matches!(e, ReadError::Graph(g) if g.status.is_some_and(|s| s >= 500))
            }
        };
        if retry { Settle::Retry } else { Settle::Ack }
    }

    /// Whether Graph's throttling is what stopped this user.
    pub fn was_throttled(&self) -> bool {
        match &self.result {
            UserResult::Finished(Outcome::Failed { error, .. }) => error.starts_with("429"),
            UserResult::ReadFailed(ReadError::Graph(e)) => e.is_throttled(),
            _ => false,
        }
    }

    /// A short label for logs and metrics: `enrolled`, `alreadyEnrolled`, the skip reason's
    /// code, or `failed`.
    pub fn label(&self) -> String {
        match &self.result {
            UserResult::Finished(Outcome::Done { actions, .. }) if actions.is_empty() => {
                "alreadyEnrolled".into()
            }
            UserResult::Finished(Outcome::Done { .. }) => "enrolled".into(),
            UserResult::Finished(Outcome::Skipped(reason)) => reason.code(),
            UserResult::Finished(Outcome::Failed { .. }) | UserResult::ReadFailed(_) => {
                "failed".into()
            }
        }
    }
}

/// A failure that says nothing about the user: our token was refused, the app lacks a
/// permission, the client is misconfigured, or the store refused us for a reason other than an
/// outage. Acking would drop every user's message until someone notices; failing sends them to
/// the dead-letter queue (alarmed) to be redriven once fixed.
///
/// `apply` summarises a Graph failure as `"{status} {code}"` or `"{kind:?}"`, and a store
/// failure as `"memory: …"` (autoenroll_core::apply); this reads that summary.
fn is_systemic_summary(error: &str) -> bool {
    let status = error.split_whitespace().next().unwrap_or_default();
    matches!(status, "401" | "403" | "Authentication" | "Config") || error.starts_with("memory:")
}

/// A 5xx the Graph client did not retry itself (a POST that may have been processed is
/// never repeated inline, and 500 is not in its retry set). Graph's 500s are transient in
/// practice; the message is delivered again, and the fresh read and plan make a repeat safe
/// (a landed phone is found, not added twice). Acknowledging would lose the user for good.
fn is_server_error_summary(error: &str) -> bool {
    error
        .split_whitespace()
        .next()
        .and_then(|status| status.parse::<u16>().ok())
        .is_some_and(|status| status >= 500)
}

fn is_systemic_read_error(e: &ReadError) -> bool {
    match e {
        ReadError::Graph(g) => is_systemic_graph_error(g),
        ReadError::Store(_) => true,
    }
}

fn is_systemic_graph_error(e: &GraphError) -> bool {
    e.is_unauthorized()
        || e.is_forbidden()
        || matches!(
            e.kind,
            GraphErrorKind::Authentication | GraphErrorKind::Config
        )
}

/// Status and Graph error code of a read failure, never Graph's message (it may echo input).
pub fn read_error_summary(e: &ReadError) -> String {
    match e {
        ReadError::Graph(g) => match (g.status, g.code.as_deref()) {
            (Some(status), Some(code)) => format!("{status} {code}"),
            (Some(status), None) => status.to_string(),
            (None, _) => format!("{:?}", g.kind),
        },
        ReadError::Store(s) => format!("memory: {s}"),
    }
}

impl<M: MemoryStore, A: AuditSink> Enroller<M, A> {
    pub fn new(
        graph: GraphClient,
        policy: Arc<Policy>,
        tenant_id: impl Into<String>,
        memory: M,
        audit: A,
    ) -> Self {
        Self {
            graph,
            policy,
            tenant_id: tenant_id.into().to_ascii_lowercase(),
            memory,
            audit,
        }
    }

    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn graph(&self) -> &GraphClient {
        &self.graph
    }

    pub fn memory(&self) -> &M {
        &self.memory
    }

    pub fn audit_sink(&self) -> &A {
        &self.audit
    }

    /// Reads `user` (object id or UPN) and plans, writing nothing (not even an audit record).
    pub async fn plan_user(&self, user: &str) -> Result<PlannedUser, ReadError> {
        let read = read_view(
            &self.graph,
            &self.policy,
            &self.tenant_id,
            user,
            &self.memory,
        )
        .await?;
        Ok(match read {
            ReadView::Skip {
                reason,
                user_principal_name,
            } => PlannedUser::Skip {
                reason,
                user_principal_name,
            },
            ReadView::View(view) => {
                let plan = plan::plan(&self.policy, &view);
                PlannedUser::Planned { view, plan }
            }
        })
    }

    /// Reads `user` (object id or UPN) afresh, plans, applies, and records one audit record —
    /// for a read failure too, retried or not, so a message that ends in the dead-letter queue
    /// has its reasons in the user's audit trail.
    /// An excluded account is read no further than its UPN and group memberships, and never
    /// written to.
    pub async fn enroll_user(&self, user: &str, trigger: &Trigger) -> UserReport {
        let planned = match self.plan_user(user).await {
            Ok(planned) => planned,
            Err(e) => {
                let report = UserReport {
                    user_id: user.to_owned(),
                    user_principal_name: None,
                    plan: None,
                    result: UserResult::ReadFailed(e),
                };
                let retried = report.settle() == Settle::Retry;
                if let UserResult::ReadFailed(e) = &report.result {
                    self.record_read_failure(user, trigger, e, retried).await;
                }
                return report;
            }
        };
        match planned {
            PlannedUser::Skip {
                reason,
                user_principal_name,
            } => {
                let outcome = Outcome::Skipped(reason);
                let record = audit::record(
                    user,
                    user_principal_name.as_deref(),
                    Some(trigger),
                    &outcome,
                    OffsetDateTime::now_utc(),
                );
                self.store_audit(record).await;
                UserReport {
                    user_id: user.to_owned(),
                    user_principal_name,
                    plan: None,
                    result: UserResult::Finished(outcome),
                }
            }
            PlannedUser::Planned { view, plan } => {
                let outcome = apply(
                    &self.graph,
                    &self.policy,
                    &view,
                    &plan,
                    &self.memory,
                    &self.audit,
                    Some(trigger),
                )
                .await;
                UserReport {
                    user_id: view.user.id.clone(),
                    user_principal_name: view.user.user_principal_name.clone(),
                    plan: Some(plan),
                    result: UserResult::Finished(outcome),
                }
            }
        }
    }

    /// A read failure is an outcome too: it goes to the audit trail.
    async fn record_read_failure(
        &self,
        user: &str,
        trigger: &Trigger,
        e: &ReadError,
        retried: bool,
    ) {
        let now = OffsetDateTime::now_utc();
        let record = AuditRecord {
            user_id: user.to_owned(),
            user_principal_name: None,
            at: now
                .format(&Rfc3339)
                .unwrap_or_else(|_| now.unix_timestamp().to_string()),
            outcome: "failed".into(),
            actions: vec![],
            reasons: vec![format!(
                "error:read:{}:{}",
                if retried { "retryable" } else { "permanent" },
                read_error_summary(e)
            )],
            masked_number: None,
            trigger: Some(trigger.clone()),
        };
        self.store_audit(record).await;
    }

    async fn store_audit(&self, record: AuditRecord) {
        if let Err(e) = self.audit.record(record.clone()).await {
            log_lost_audit(&e, &record);
        }
    }
}

/// The record holds no number in clear, so the log is a safe place for it when the store
/// is down (as `apply` does).
fn log_lost_audit(e: &StoreError, record: &AuditRecord) {
    tracing::error!(
        error = %e,
        user_id = %record.user_id,
        outcome = %record.outcome,
        reasons = ?record.reasons,
        "audit record could not be stored"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_and_credential_failures_are_systemic() {
        for summary in [
            "403 Authorization_RequestDenied",
            "401 InvalidAuthenticationToken",
            "Authentication",
            "Config",
            "memory: store error: AccessDenied",
        ] {
            assert!(is_systemic_summary(summary), "{summary}");
        }
    }

    #[test]
    fn server_errors_the_client_did_not_retry_are_retried_by_the_queue() {
        assert!(is_server_error_summary("500 InternalServerError"));
        assert!(is_server_error_summary("503"));
        assert!(!is_server_error_summary("400 invalidRequest"));
        assert!(!is_server_error_summary("Timeout"));
    }

    #[test]
    fn per_user_failures_are_not_systemic() {
        for summary in [
            "400 invalidRequest",
            "404 Request_ResourceNotFound",
            "429 TooManyRequests",
            "changed since planned: the mobile phone was removed",
            "",
        ] {
            assert!(!is_systemic_summary(summary), "{summary}");
        }
    }
}
