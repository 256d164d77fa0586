//! autoenroll-enroll: the SQS handler. Each message names one user; the user is re-read from
//! Graph, planned, applied, remembered and audited ([`Enroller::enroll_user`], which the CLI's
//! `plan` / `apply` use too). The answer lists only the messages to deliver again.
//!
//! `main.rs` wires this to `lambda_runtime`; tests call [`EnrollFunction::handle`] with
//! hand-made or polled `SqsEvent`s.

use std::sync::Arc;
use std::time::Duration;

use autoenroll_aws::dynamo::DynamoStore;
use autoenroll_aws::metrics::EmfMetrics;
use autoenroll_aws::runtime::{self, Env, GraphSettings, RuntimeError};
use autoenroll_aws::secrets::SecretsManagerSource;
use autoenroll_core::policy::{self, Policy, PolicyError};
use autoenroll_core::ports::{AuditSink, MemoryStore};
use autoenroll_graph::{GraphClient, GraphError, RetryConfig};
use aws_config::SdkConfig;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use tokio::time::Instant;

mod batch;
pub mod local;

use autoenroll_core::engine::Enroller;
pub use batch::{BatchError, handle_batch};

/// The variables this function reads itself, besides the policy's.
const OWN_ENV_VARS: &[&str] = &[
    "AUTOENROLL_TENANT_ID",
    "AUTOENROLL_CLIENT_ID",
    "AUTOENROLL_CLIENT_SECRET_ARN",
    "AUTOENROLL_TABLE_NAME",
    "AUTOENROLL_GRAPH_MAX_CONCURRENCY",
    "AUTOENROLL_GRAPH_QUOTA_SHARE",
    autoenroll_core::bootstrap::ENV_HELPDESK_TOPIC_ARN,
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

/// The enroll function: an [`Enroller`] and where its metrics go. Clones share everything.
pub struct EnrollFunction<M, A> {
    enroller: Arc<Enroller<M, A>>,
    metrics: EmfMetrics,
}

impl<M, A> Clone for EnrollFunction<M, A> {
    fn clone(&self) -> Self {
        Self {
            enroller: self.enroller.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

impl<M, A> std::fmt::Debug for EnrollFunction<M, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollFunction")
            .field("enroller", &self.enroller)
            .finish_non_exhaustive()
    }
}

impl<M: MemoryStore, A: AuditSink> EnrollFunction<M, A> {
    pub fn new(enroller: Enroller<M, A>, metrics: EmfMetrics) -> Self {
        Self {
            enroller: Arc::new(enroller),
            metrics,
        }
    }

    pub fn enroller(&self) -> &Enroller<M, A> {
        &self.enroller
    }

    pub fn metrics(&self) -> &EmfMetrics {
        &self.metrics
    }

    /// One SQS batch (what Lambda's event source mapping delivers), with no deadline.
    pub async fn handle(&self, event: SqsEvent) -> Result<SqsBatchResponse, BatchError> {
        handle_batch(&self.enroller, &self.metrics, &event, None).await
    }

    /// One SQS batch that must be answered by `deadline` (see [`invocation_deadline`]).
    pub async fn handle_until(
        &self,
        event: SqsEvent,
        deadline: Instant,
    ) -> Result<SqsBatchResponse, BatchError> {
        handle_batch(&self.enroller, &self.metrics, &event, Some(deadline)).await
    }
}

/// Time kept back from the invocation's deadline for what follows the last Graph call: the
/// memory confirmation, the audit record and the answer to Lambda.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

/// The instant by which Graph calls must have started, from Lambda's invocation deadline
/// (milliseconds since the Unix epoch, `Context::deadline`).
pub fn invocation_deadline(deadline_epoch_ms: u64) -> Instant {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let left = Duration::from_millis(deadline_epoch_ms.saturating_sub(now_ms));
    Instant::now() + left.saturating_sub(DEADLINE_MARGIN)
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

/// Graph retries inside one invocation: the function's timeout is 60 s for a batch of up to 5
/// users, so one call waits at most 20 s in total before the user is left for redelivery
/// (the pacer and the queue's visibility timeout take it from there).
pub const LAMBDA_RETRY: RetryConfig = RetryConfig {
    max_attempts: 4,
    min_delay: Duration::from_millis(500),
    max_delay: Duration::from_secs(8),
    max_total_wait: Duration::from_secs(20),
};

/// The function as Lambda runs it, from exactly [`ENV_VARS`] (plus the test-only overrides):
/// DynamoDB for memory and audit, EMF metrics on stdout, and a Graph client that takes
/// quota ÷ `AUTOENROLL_GRAPH_MAX_CONCURRENCY` (the event source's `MaximumConcurrency`).
pub async fn from_env(
    env: &Env,
    aws: &SdkConfig,
) -> Result<EnrollFunction<DynamoStore, DynamoStore>, StartupError> {
    let settings = GraphSettings::from_env(env)?;
    let policy = Policy::from_lookup(|name| env.optional(name))?;
    // Decode the numbering-plan metadata and compile its patterns on a side thread while init
    // waits for Secrets Manager and the first message's Graph reads are under way — not
    // joined: a first parse that comes sooner waits for it on the metadata's lock
    // (BENCHMARKS.md, scenario 3).
    let region = policy.default_region;
    drop(tokio::task::spawn_blocking(move || {
        autoenroll_core::phone::warm_up(region)
    }));
    let divisor = env
        .parsed::<u32>(runtime::GRAPH_MAX_CONCURRENCY)?
        .unwrap_or(1);
    let secrets = SecretsManagerSource::new(autoenroll_aws::config::secrets_client(aws))
        // Only the client secret is read here, and only its current value signs in.
        .current_only();
    let config = settings
        .graph_config(&secrets, aws)
        .await?
        .with_instance_share_divisor(divisor)
        .with_retry(LAMBDA_RETRY);
    let graph = GraphClient::new(config)?;
    // The token request overlaps with the rest of init and the wait for the first message.
    drop(graph.warm_up());
    let store = DynamoStore::new(
        autoenroll_aws::config::dynamodb_client(aws),
        env.required(runtime::TABLE_NAME)?,
    );
    // SES / SNS only when the policy turns the TAP bootstrap on (a delivery channel set); the
    // open bootstraps live in the same table as the memory.
    let bootstrap = autoenroll_aws::delivery::bootstrap_for(&policy, aws, store.clone());
    let mut enroller = Enroller::new(
        graph,
        Arc::new(policy),
        settings.tenant_id,
        store.clone(),
        store,
    );
    if let Some(bootstrap) = bootstrap {
        enroller = enroller.with_bootstrap(bootstrap);
    }
    // The helpdesk hears of new users whose passes all expired unused (optional topic).
    let topic = env.optional(autoenroll_core::bootstrap::ENV_HELPDESK_TOPIC_ARN);
    if let Some(helpdesk) = autoenroll_aws::bootstrap_notify::SnsHelpdesk::from_topic(
        || autoenroll_aws::config::sns_client(aws),
        topic.as_deref(),
    ) {
        enroller = enroller.with_helpdesk(Arc::new(helpdesk));
    }
    let function = EnrollFunction::new(enroller, EmfMetrics::stdout());
    // The first user waits for the tenant's methods policy (telephony, TAP); reading it now
    // overlaps that round trip with the rest of init and the wait for the first message.
    let enroller = function.enroller.clone();
    drop(tokio::spawn(async move { enroller.warm_up().await }));
    Ok(function)
}
