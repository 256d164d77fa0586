//! One user, end to end: read (exclusion first), plan, apply, audit. The SQS handler calls
//! [`Enroller::enroll_user`] for each message; the CLI's `plan` and `apply` call
//! [`Enroller::plan_user`] and [`Enroller::enroll_user`] — one code path everywhere.

use std::sync::Arc;

use crate::apply::{BootstrapPorts, Writer, apply_with};
mod stages;
use crate::audit;
use crate::bootstrap::{BootstrapStore, HelpdeskNotifier};
use crate::delivery::PassDelivery;
use crate::failure::Disposition;
use crate::group_batch::{GroupBatchConfig, GroupBatcher};
use crate::outcome::Outcome;
use crate::plan::{self, Plan, UserView};
use crate::policy::Policy;
use crate::ports::{AuditOutcome, AuditRecord, AuditSink, MemoryStore, StoreError, Trigger};
use crate::read::{
    ReadContext, ReadError, ReadView, TenantMethodsCache, TenantSource, read_view_with,
};
use crate::telephony::{TelephonySetting, TenantMethods};
use autoenroll_graph::GraphClient;
pub use stages::BootstrapSeen;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::time::Instant;

/// What enrolling one user needs: Graph, the policy, and the two stores. Cheap to share
/// (`Arc` it); every method takes `&self`.
pub struct Enroller<M, A> {
    graph: GraphClient,
    policy: Arc<Policy>,
    tenant_id: String,
    memory: M,
    audit: A,
    /// Group mode's MFA group adds, batched across the users in flight (group_batch.rs).
    group_batch: Option<GroupBatcher>,
    /// The TAP bootstrap's delivery port and store (`None`: bootstrap off).
    bootstrap: Option<Bootstrap>,
    /// Told of expired bootstraps (`None`: nobody; the skip is still reported).
    helpdesk: Option<Arc<dyn HelpdeskNotifier>>,
    /// The tenant's methods policy (telephony, TAP), read once per TTL.
    tenant_methods: TenantMethodsCache,
    /// What "now" is (the real clock unless a caller simulates a date).
    clock: Clock,
}

/// The TAP bootstrap's ports, as the engine holds them.
#[derive(Clone)]
pub struct Bootstrap {
    pub delivery: Arc<dyn PassDelivery>,
    pub store: Arc<dyn BootstrapStore>,
}

/// A source of the current time.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

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
    /// The user's open bootstrap as the read found it (metrics: re-issue, close).
    pub bootstrap: BootstrapSeen,
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
    /// Done, skipped on purpose, or [`Disposition::Permanent`]: delete the message (the
    /// outcome is in the audit trail).
    Ack,
    /// Fail the message: [`Disposition::Retry`] (passing) or [`Disposition::Systemic`] (not
    /// about this user; it ends in the dead-letter queue, to be redriven once fixed).
    Retry,
}

impl UserReport {
    /// What happens next, when this user failed (`None`: done or skipped).
    pub fn disposition(&self) -> Option<Disposition> {
        match &self.result {
            UserResult::Finished(outcome) => outcome.disposition(),
            UserResult::ReadFailed(e) => Some(e.cause().disposition()),
        }
    }

    pub fn settle(&self) -> Settle {
        match self.disposition() {
            Some(d) if d.keeps_message() => Settle::Retry,
            _ => Settle::Ack,
        }
    }

    /// Whether Graph's throttling is what stopped this user.
    pub fn was_throttled(&self) -> bool {
        match &self.result {
            UserResult::Finished(Outcome::Failed { failure, .. }) => failure.is_throttled(),
            UserResult::ReadFailed(e) => e.cause().is_throttled(),
            _ => false,
        }
    }

    /// The failure written out for logs and reports (status and code, never a message).
    pub fn error_text(&self) -> Option<String> {
        match &self.result {
            UserResult::Finished(Outcome::Failed { failure, .. }) => Some(failure.to_string()),
            UserResult::Finished(_) => None,
            UserResult::ReadFailed(e) => Some(e.cause().to_string()),
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

impl<M: MemoryStore, A: AuditSink> Enroller<M, A> {
    pub fn new(
        graph: GraphClient,
        policy: Arc<Policy>,
        tenant_id: impl Into<String>,
        memory: M,
        audit: A,
    ) -> Self {
        let group_batch =
            matches!(policy.mfa_mode, crate::policy::MfaMode::Group(_)).then(GroupBatcher::default);
        Self {
            graph,
            policy,
            tenant_id: tenant_id.into().to_ascii_lowercase(),
            memory,
            audit,
            group_batch,
            bootstrap: None,
            helpdesk: None,
            tenant_methods: TenantMethodsCache::default(),
            clock: Arc::new(OffsetDateTime::now_utc),
        }
    }

    /// Issue Temporary Access Passes (when the policy's bootstrap is on) through `delivery`,
    /// remembering open bootstraps in `store`.
    pub fn with_bootstrap(mut self, bootstrap: Bootstrap) -> Self {
        self.bootstrap = Some(bootstrap);
        self
    }

    /// Tell `helpdesk` when a new user's passes all expired unused (`bootstrapExpired`).
    pub fn with_helpdesk(mut self, helpdesk: Arc<dyn HelpdeskNotifier>) -> Self {
        self.helpdesk = Some(helpdesk);
        self
    }

    /// Decide telephony and pass dates against `clock` instead of the real time (the local
    /// stack's simulated date).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    fn bootstrap_ports(&self) -> Option<BootstrapPorts<'_>> {
        self.bootstrap.as_ref().map(|b| BootstrapPorts {
            delivery: b.delivery.as_ref(),
            store: b.store.as_ref(),
        })
    }

    /// How this read gets the tenant's methods policy: known when no decision needs it or the
    /// cache holds a fresh one, else read beside the user.
    fn tenant_source(&self) -> TenantSource<'_> {
        if !self.needs_tenant_methods() {
            return TenantSource::Known(Arc::new(TenantMethods::unread()));
        }
        match self.tenant_methods.fresh() {
            Some(tenant) => TenantSource::Known(tenant),
            None => TenantSource::Read(&self.tenant_methods),
        }
    }

    /// Whether a decision needs the tenant's methods policy (telephony `auto`, or bootstrap on).
    fn needs_tenant_methods(&self) -> bool {
        let bootstrap_on = self.bootstrap.is_some() && self.policy.bootstrap_effect().is_on();
        self.policy.telephony == TelephonySetting::Auto || bootstrap_on
    }

    /// Group adds batched with `config` (group mode only; the default is
    /// [`GroupBatchConfig::default`]).
    pub fn with_group_batch(mut self, config: GroupBatchConfig) -> Self {
        if self.group_batch.is_some() {
            self.group_batch = Some(GroupBatcher::new(config));
        }
        self
    }

    /// Group writes the batched group adds have made so far (0 outside group mode): each
    /// enrolled user's `addToGroup` shares one of them with up to 19 others.
    pub fn group_writes(&self) -> u64 {
        self.group_batch.as_ref().map_or(0, GroupBatcher::writes)
    }

    /// Reads ahead what every first user needs of the tenant (its methods policy, when a
    /// decision needs it; cached per instance): a function's init calls it so that read
    /// overlaps with the rest of init instead of delaying the first message (BENCHMARKS.md §3).
    pub async fn warm_up(&self) {
        if !self.needs_tenant_methods() {
            return;
        }
        if let Err(e) = self.tenant_methods.get(&self.graph).await {
            tracing::debug!(error = %crate::failure::Cause::from(&e), "tenant methods policy not read ahead");
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
        self.plan_with(&self.graph, user).await
    }

    async fn plan_with(&self, graph: &GraphClient, user: &str) -> Result<PlannedUser, ReadError> {
        let ctx = ReadContext {
            now: (self.clock)(),
            tenant: self.tenant_source(),
            bootstrap: self.bootstrap.as_ref().map(|b| b.store.as_ref()),
        };
        let read = read_view_with(
            graph,
            &self.policy,
            &self.tenant_id,
            user,
            &self.memory,
            ctx,
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
        self.enroll_user_by(user, trigger, None).await
    }

    /// As [`Enroller::enroll_user`], with no wait for Graph budget past `deadline`: such a
    /// call ends as [`Cause::Deferred`](crate::failure::Cause) (retry), so the
    /// caller answers before its invocation times out.
    pub async fn enroll_user_by(
        &self,
        user: &str,
        trigger: &Trigger,
        deadline: Option<Instant>,
    ) -> UserReport {
        let graph = match deadline {
            Some(deadline) => self.graph.until(deadline),
            None => self.graph.clone(),
        };
        // In flight from here: a batch of group adds waits for this user until it knows
        // whether the user needs one.
        let participant = self
            .group_batch
            .as_ref()
            .map(|b| (b.clone(), b.participant()));
        let planned = match self.plan_with(&graph, user).await {
            Ok(planned) => planned,
            Err(e) => {
                let report = UserReport {
                    user_id: user.to_owned(),
                    user_principal_name: None,
                    plan: None,
                    result: UserResult::ReadFailed(e),
                    bootstrap: BootstrapSeen::default(),
                };
                if let UserResult::ReadFailed(e) = &report.result {
                    self.record_read_failure(user, trigger, e).await;
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
                    bootstrap: BootstrapSeen::default(),
                }
            }
            PlannedUser::Planned { view, plan } => {
                let bootstrap = BootstrapSeen::of(&view);
                let group = participant.filter(|_| {
                    plan.actions()
                        .iter()
                        .any(|a| matches!(a, crate::plan::Action::AddToGroup { .. }))
                });
                let writer = Writer {
                    graph: &graph,
                    group,
                    bootstrap: self.bootstrap_ports(),
                    helpdesk: self.helpdesk.as_deref(),
                };
                let outcome = apply_with(
                    writer,
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
                    bootstrap,
                }
            }
        }
    }

    /// A read failure is an outcome too: it goes to the audit trail.
    async fn record_read_failure(&self, user: &str, trigger: &Trigger, e: &ReadError) {
        let cause = e.cause();
        let now = OffsetDateTime::now_utc();
        let record = AuditRecord {
            user_id: user.to_owned(),
            user_principal_name: None,
            at: now
                .format(&Rfc3339)
                .unwrap_or_else(|_| now.unix_timestamp().to_string()),
            outcome: AuditOutcome::Failed(cause.disposition()),
            actions: vec![],
            reasons: vec![format!("error:read:{cause}")],
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
mod tests;
