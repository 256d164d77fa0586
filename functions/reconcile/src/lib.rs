//! autoenroll-reconcile: the scheduled `/users/delta` sweep ([`Reconciler::sweep`]) that sends
//! every changed user to the enroll queue — the second trigger and the safety net for late or
//! dropped change notifications.
//!
//! `main.rs` wires this to `lambda_runtime`; tests call [`Reconciler::sweep`] or
//! [`ReconcileFunction::handle`] directly.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use autoenroll_aws::dynamo::DynamoStore;
use autoenroll_aws::runtime::{self, Env, GraphSettings, RuntimeError};
use autoenroll_aws::secrets::SecretsManagerSource;
use autoenroll_aws::sqs::SqsQueue;
use autoenroll_core::policy::{self, Policy, PolicyError};
use autoenroll_core::ports::{DeltaLinkStore, EnrollQueue};
use autoenroll_graph::{GraphClient, GraphError};
use aws_config::SdkConfig;

pub mod follow_up;
pub mod lease;
mod sweep;

pub use follow_up::{FollowUp, FollowUpError, FollowUpReport};
pub use lease::RunLease;
pub use sweep::{Reconciler, SweepError, SweepFailure, SweepReport, dedup_key};

/// The variables this function reads itself, besides the policy's.
const OWN_ENV_VARS: &[&str] = &[
    "AUTOENROLL_TENANT_ID",
    "AUTOENROLL_CLIENT_ID",
    "AUTOENROLL_CLIENT_SECRET_ARN",
    "AUTOENROLL_QUEUE_URL",
    "AUTOENROLL_TABLE_NAME",
    "AUTOENROLL_GRAPH_QUOTA_SHARE",
];

/// Every environment variable this function reads, including the policy's
/// (`autoenroll_core::policy::ENV_VARS`); infra/template.yaml sets exactly these
/// (tests/e2e/tests/template_consistency.rs).
pub const ENV_VARS: &[&str] = &{
    let mut all = [""; OWN_ENV_VARS.len() + policy::ENV_VARS.len()];
    let mut i = 0;
    while i < OWN_ENV_VARS.len() {
        all[i] = OWN_ENV_VARS[i];
        i += 1;
    }
    let mut j = 0;
    while j < policy::ENV_VARS.len() {
        all[i + j] = policy::ENV_VARS[j];
        j += 1;
    }
    all
};

/// Time kept free at the end of an invocation: no page is started later than this before the
/// Lambda deadline (the function's timeout is 300 s; a later run continues).
pub const DEADLINE_RESERVE: Duration = Duration::from_secs(60);
/// How long a page started before that point may still take.
pub const PAGE_GRACE: Duration = Duration::from_secs(30);

/// The scheduled function around a [`Reconciler`].
#[derive(Debug)]
pub struct ReconcileFunction<L, Q> {
    reconciler: Reconciler<L, Q>,
    follow_up: Option<FollowUp>,
    lease: Option<RunLease>,
}

impl<L: DeltaLinkStore, Q: EnrollQueue> ReconcileFunction<L, Q> {
    pub fn new(reconciler: Reconciler<L, Q>) -> Self {
        Self {
            reconciler,
            follow_up: None,
            lease: None,
        }
    }

    /// Runs only while holding the reconcile lease ([`lease`]); a run that finds it held
    /// exits at once.
    pub fn with_lease(mut self, lease: RunLease) -> Self {
        self.lease = Some(lease);
        self
    }

    /// Also re-check open bootstraps on every run ([`follow_up`]).
    pub fn with_follow_up(mut self, follow_up: FollowUp) -> Self {
        self.follow_up = Some(follow_up);
        self
    }

    /// The bootstrap follow-up of one scheduled run, on the wall clock. A transient failure is
    /// logged and the run carries on (the next one a minute later retries); anything else
    /// fails the invocation.
    pub async fn follow_up(&self) -> Result<Option<FollowUpReport>, FollowUpError> {
        let Some(follow_up) = &self.follow_up else {
            return Ok(None);
        };
        match follow_up.run(time::OffsetDateTime::now_utc()).await {
            Ok(report) => Ok(Some(report)),
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %e, "bootstrap follow-up interrupted; the next run retries");
                Ok(None)
            }
            Err(e) => {
                tracing::error!(error = %e, "bootstrap follow-up failed");
                Err(e)
            }
        }
    }

    pub fn reconciler(&self) -> &Reconciler<L, Q> {
        &self.reconciler
    }

    /// One scheduled run that must end by `lambda_deadline` (the invocation's deadline).
    ///
    /// A transient failure (Graph throttling or 5xx after the client's retries, a store or
    /// queue outage) is logged and the run ends normally: its progress is stored and the next
    /// run a minute later carries on, so one blip does not raise the failed-invocation alarm.
    /// Anything else (a permission missing, a bad configuration) fails the invocation.
    pub async fn handle(&self, lambda_deadline: SystemTime) -> Result<SweepReport, SweepFailure> {
        let Some(lease) = &self.lease else {
            return self.sweep_until(lambda_deadline).await;
        };
        let held = match lease.take(lambda_deadline).await {
            Ok(Some(held)) => held,
            Ok(None) => {
                return Ok(SweepReport {
                    lease_held_elsewhere: true,
                    ..SweepReport::default()
                });
            }
            Err(error) => {
                let failure = SweepFailure {
                    error: error.into(),
                    partial: SweepReport::default(),
                };
                return self.settle(Err(failure));
            }
        };
        let result = self.sweep_until(lambda_deadline).await;
        lease.release(held).await;
        result
    }

    async fn sweep_until(&self, lambda_deadline: SystemTime) -> Result<SweepReport, SweepFailure> {
        let remaining = lambda_deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        let deadline = tokio::time::Instant::now() + remaining.saturating_sub(DEADLINE_RESERVE);
        let grace = PAGE_GRACE.min(remaining.saturating_sub(DEADLINE_RESERVE / 2));
        self.settle(self.reconciler.sweep(deadline, grace).await)
    }

    /// Logs a run's end; a transient failure ends the run normally.
    #[expect(
        clippy::result_large_err,
        reason = "passes the sweep's own result through, as `handle` returns it"
    )]
    fn settle(
        &self,
        result: Result<SweepReport, SweepFailure>,
    ) -> Result<SweepReport, SweepFailure> {
        match result {
            Ok(report) => {
                log_report(&report);
                Ok(report)
            }
            Err(failure) if failure.error.is_transient() => {
                tracing::warn!(
                    error = %failure.error,
                    pages = failure.partial.pages,
                    enqueued = failure.partial.enqueued,
                    "sweep interrupted by a transient failure; the next run continues"
                );
                Ok(failure.partial)
            }
            Err(failure) => {
                tracing::error!(
                    error = %failure.error,
                    pages = failure.partial.pages,
                    enqueued = failure.partial.enqueued,
                    "sweep failed"
                );
                Err(failure)
            }
        }
    }
}

fn log_report(report: &SweepReport) {
    tracing::info!(
        pages = report.pages,
        users = report.users,
        enqueued = report.enqueued,
        removed = report.removed,
        excluded = report.excluded,
        full_walk = report.full_walk,
        restarted = report.restarted,
        round_finished = report.round_finished,
        stopped_for_time = report.stopped_for_time,
        superseded = report.superseded,
        "sweep done"
    );
}

/// Why the function could not start (configuration, secret, Graph client).
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("policy: {0}")]
    Policy(#[from] PolicyError),
    #[error("building the Graph client: {0}")]
    Graph(#[from] GraphError),
}

/// The function as Lambda runs it, from exactly [`ENV_VARS`] (plus the test-only overrides):
/// the delta link in DynamoDB, requests to the SQS FIFO enroll queue.
pub async fn from_env(
    env: &Env,
    aws: &SdkConfig,
) -> Result<ReconcileFunction<DynamoStore, SqsQueue>, StartupError> {
    let settings = GraphSettings::from_env(env)?;
    let policy = Policy::from_lookup(|name| env.optional(name))?;
    let secrets = SecretsManagerSource::new(autoenroll_aws::config::secrets_client(aws))
        // Only the client secret is read here, and only its current value signs in.
        .current_only();
    let graph = GraphClient::new(settings.graph_config(&secrets, aws).await?)?;
    let links = DynamoStore::new(
        autoenroll_aws::config::dynamodb_client(aws),
        env.required(runtime::TABLE_NAME)?,
    );
    let queue = SqsQueue::new(
        autoenroll_aws::config::sqs_client(aws),
        env.required(runtime::QUEUE_URL)?,
    );
    let follow_up = FollowUp::new(
        Arc::new(links.clone()),
        Arc::new(queue.clone()),
        settings.tenant_id.clone(),
    );
    let lease = RunLease::new(Arc::new(links.clone()));
    Ok(ReconcileFunction::new(Reconciler::new(
        graph,
        Arc::new(policy),
        settings.tenant_id,
        links,
        queue,
    ))
    .with_follow_up(follow_up)
    .with_lease(lease))
}
