//! autoenroll-e2e: the end-to-end harness the suites in `tests/` share (and benches may use).
//!
//! A [`Stack`] is the whole pipeline on loopback, built from the same handlers the Lambdas
//! run: the Graph simulator → the subscriptions function (validation handshake) → the
//! webhook behind its local HTTP front (`autoenroll_webhook::serve_local`) → an SQS FIFO queue
//! (on moto, with a dead-letter queue, or the in-memory twin) → enroll workers polling it like
//! Lambda's event source mapping (`autoenroll_enroll::local`) — plus the reconcile sweep into
//! the same queue. Assertions read the simulated tenant's final state.
//!
//! This crate is for tests: the pieces that a runtime (the CLI's `autoenroll local`) needs live
//! in the function crates (`serve_local`, `autoenroll_enroll::local`, the in-memory queue in
//! `autoenroll-aws`); what is here only wires them to the simulator and moto.

pub mod logscan;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use autoenroll_aws::memory::{MemoryFifoQueue, MemoryPoller, StaticSecrets};
use autoenroll_aws::metrics::{CapturedMetrics, EmfMetrics};
use autoenroll_aws::outbox::Outbox;
use autoenroll_aws::poller::{BatchOutcome, DrainReport, PollError, Settlement, SqsEventSource};
use autoenroll_aws::sqs::{SqsPoller, SqsQueue};
use autoenroll_core::engine::{Bootstrap, Enroller};
use autoenroll_core::memory::{
    InMemoryAuditSink, InMemoryBootstrapStore, InMemoryDeltaLinkStore, InMemoryMemoryStore,
    InMemorySubscriptionStore,
};
use autoenroll_core::policy::Policy;
use autoenroll_core::ports::{EnrollQueue, EnrollRequest, QueueError};
use autoenroll_enroll::EnrollFunction;
use autoenroll_graph::{Credential, GraphClient, GraphConfig, PacingConfig, RetryConfig, Secret};
use autoenroll_reconcile::{FollowUp, ReconcileFunction, Reconciler, SweepFailure, SweepReport};
use autoenroll_subscriptions::SubscriptionsConfig;
use autoenroll_webhook::{LocalWebhook, Webhook, WebhookConfig};
use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_sqs::types::QueueAttributeName;
use graph_sim::{ChangeKind, NotificationOptions, Seed, Sim, SimOptions};
use serde_json::Value;

/// The Contoso seed's tenant and its enrollment app (tests/graph-sim/seeds/contoso.json).
pub const TENANT: &str = "8f2c6a51-3b7e-4d0a-9c1e-5a4b2d9e7f10";
pub const APP: &str = "5d3e8b0f-6a2c-4f1e-8b7d-2c9a4e6f1b30";
pub const APP_SECRET: &str = "sim-secret-autoenroll-Q8w~xV3pL9";
/// Name of the clientState secret in the stack's secret source.
pub const CLIENT_STATE_SECRET: &str = "autoenroll/client-state";
pub const BREAKGLASS_UPN: &str = "breakglass01@contoso.onmicrosoft.com";
pub const BREAKGLASS_GROUP: &str = "c0a80101-5e1f-4c3a-8d2b-000000000002";

/// Contoso users by object id.
pub mod contoso {
    pub const ADELE: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b01";
    pub const MEGAN: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b03";
    pub const ISAIAH: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b06";
    pub const JOHANNA: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b07";
    pub const BREAKGLASS: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b19";
    pub const IT_ADMIN: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b20";
    pub const NEW_HIRE: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b21";
}

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("simulator: {0}")]
    Sim(String),
    #[error("Graph client: {0}")]
    Graph(#[from] autoenroll_graph::GraphError),
    #[error("local webhook: {0}")]
    Webhook(#[from] std::io::Error),
    #[error("queue: {0}")]
    Queue(String),
    #[error("subscription: {0}")]
    Subscription(#[from] autoenroll_subscriptions::SubscriptionsError),
    #[error("the pipeline did not settle: {0}")]
    NotSettled(String),
}

/// Which SQS the stack uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueKind {
    /// A real SQS FIFO queue (and its dead-letter queue) on moto at this endpoint.
    Moto { endpoint: String },
    /// The in-memory FIFO twin (with a dead-letter queue), for larger runs.
    InMemory,
}

impl QueueKind {
    /// Moto at `AUTOENROLL_TEST_MOTO_ENDPOINT` (exported by ./test.sh). Panics with how to
    /// get it when missing: tests that need AWS fail rather than skip.
    pub fn moto_from_env() -> Self {
        match std::env::var("AUTOENROLL_TEST_MOTO_ENDPOINT") {
            Ok(endpoint) if !endpoint.is_empty() => QueueKind::Moto { endpoint },
            _ => panic!(
                "AUTOENROLL_TEST_MOTO_ENDPOINT is not set: the end-to-end tests need moto. Run \
                 them with ./test.sh, or start `moto_server -H 127.0.0.1 -p PORT` and export \
                 AUTOENROLL_TEST_MOTO_ENDPOINT=http://127.0.0.1:PORT"
            ),
        }
    }
}

/// How to build a [`Stack`].
#[derive(Debug, Clone)]
pub struct StackOptions {
    pub seed: Seed,
    pub synthetic_users: usize,
    pub rng_seed: u64,
    pub notifications: NotificationOptions,
    pub queue: QueueKind,
    pub policy: Policy,
    /// Enroll workers polling at once (the event source mapping's `MaximumConcurrency`).
    pub workers: usize,
    /// Messages per batch (the template's `BatchSize`: 5).
    pub batch_size: usize,
    /// Receives before a message moves to the dead-letter queue (the template: 5).
    pub max_receive_count: u32,
    pub retry: RetryConfig,
    /// Per-attempt Graph timeout of the functions' client.
    pub request_timeout: Duration,
    /// Probability (0–1) that an enroll invocation crashes: its batch is cut off after a
    /// random 0–`crash_within` (Graph calls in flight are abandoned, whatever they did stays
    /// done) and the invocation fails, so every message of the batch is delivered again.
    pub crash_rate: f64,
    pub crash_within: Duration,
    /// Access-token lifetime in the simulator (`None`: an hour). Under 5 minutes the functions'
    /// client asks for a token on every Graph call.
    pub token_lifetime: Option<Duration>,
}

impl StackOptions {
    pub fn new(queue: QueueKind) -> Self {
        Self {
            seed: Seed::contoso(),
            synthetic_users: 0,
            rng_seed: 42,
            notifications: NotificationOptions::default(),
            queue,
            policy: policy(),
            workers: 2,
            batch_size: 5,
            max_receive_count: 5,
            retry: RetryConfig {
                max_attempts: 3,
                min_delay: Duration::from_millis(10),
                max_delay: Duration::from_millis(100),
                max_total_wait: Duration::from_secs(2),
            },
            request_timeout: Duration::from_secs(5),
            crash_rate: 0.0,
            crash_within: Duration::from_millis(40),
            token_lifetime: None,
        }
    }
}

/// The policy the suites use: Dutch numbers without a country code, the break-glass account
/// excluded by UPN and by group, per-user MFA, SMS as default.
pub fn policy() -> Policy {
    Policy {
        default_region: "NL".parse().ok(),
        excluded_upns: [BREAKGLASS_UPN.to_owned()].into(),
        excluded_groups: [BREAKGLASS_GROUP.to_owned()].into(),
        ..Policy::default()
    }
}

/// A Graph client for the enrollment app against `sim` (pacing off: the suites measure
/// behaviour, not rate; the simulator still throttles).
pub fn graph_client(sim: &Sim, retry: RetryConfig) -> Result<GraphClient, HarnessError> {
    graph_client_with_timeout(sim, retry, Duration::from_secs(5))
}

/// [`graph_client`] with a per-attempt timeout.
pub fn graph_client_with_timeout(
    sim: &Sim,
    retry: RetryConfig,
    request_timeout: Duration,
) -> Result<GraphClient, HarnessError> {
    let config = GraphConfig::new(
        sim.tenant_id(),
        APP,
        Credential::ClientSecret(Secret::new(APP_SECRET)),
    )
    .with_graph_base_url(sim.base_url())
    .with_authority_host(sim.authority_host())
    .with_extra_root_ca_pem(sim.ca_cert_pem())
    .with_retry(retry)
    .with_request_timeout(request_timeout)
    .with_pacing(PacingConfig {
        enabled: false,
        ..PacingConfig::default()
    });
    Ok(GraphClient::new(config)?)
}

/// The enroll queue of a stack: SQS on moto or the in-memory twin.
#[derive(Debug, Clone)]
pub enum StackQueue {
    Moto {
        client: aws_sdk_sqs::Client,
        queue: SqsQueue,
        poller: SqsPoller,
        dlq_url: String,
    },
    InMemory {
        queue: MemoryFifoQueue,
        poller: MemoryPoller,
    },
}

#[async_trait]
impl EnrollQueue for StackQueue {
    async fn send_batch(&self, requests: &[EnrollRequest]) -> Result<(), QueueError> {
        match self {
            StackQueue::Moto { queue, .. } => queue.send_batch(requests).await,
            StackQueue::InMemory { queue, .. } => queue.send_batch(requests).await,
        }
    }
}

#[async_trait]
impl SqsEventSource for StackQueue {
    async fn receive(&self) -> Result<SqsEvent, PollError> {
        match self {
            StackQueue::Moto { poller, .. } => poller.receive().await,
            StackQueue::InMemory { poller, .. } => poller.receive().await,
        }
    }

    async fn settle(
        &self,
        event: &SqsEvent,
        outcome: BatchOutcome<'_>,
    ) -> Result<Settlement, PollError> {
        match self {
            StackQueue::Moto { poller, .. } => poller.settle(event, outcome).await,
            StackQueue::InMemory { poller, .. } => poller.settle(event, outcome).await,
        }
    }
}

impl StackQueue {
    async fn moto(
        endpoint: &str,
        batch_size: usize,
        max_receives: u32,
    ) -> Result<Self, HarnessError> {
        let aws = autoenroll_aws::config::for_moto(endpoint).await;
        let client = autoenroll_aws::config::sqs_client(&aws);
        let suffix = unique_suffix();
        let create = |name: String, redrive: Option<String>| {
            let client = client.clone();
            async move {
                let mut request = client
                    .create_queue()
                    .queue_name(name)
                    .attributes(QueueAttributeName::FifoQueue, "true")
                    .attributes(QueueAttributeName::ContentBasedDeduplication, "false")
                    .attributes(QueueAttributeName::VisibilityTimeout, "30");
                if let Some(redrive) = redrive {
                    request = request.attributes(QueueAttributeName::RedrivePolicy, redrive);
                }
                let output = request
                    .send()
                    .await
                    .map_err(|e| HarnessError::Queue(format!("CreateQueue: {e:?}")))?;
                output
                    .queue_url()
                    .map(str::to_owned)
                    .ok_or_else(|| HarnessError::Queue("CreateQueue returned no URL".into()))
            }
        };
        let dlq_url = create(format!("e2e-dlq-{suffix}.fifo"), None).await?;
        let dlq_arn = client
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| HarnessError::Queue(format!("GetQueueAttributes: {e:?}")))?
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .ok_or_else(|| HarnessError::Queue("DLQ has no ARN".into()))?;
        let redrive = serde_json::json!({
            "deadLetterTargetArn": dlq_arn,
            "maxReceiveCount": max_receives,
        })
        .to_string();
        let url = create(format!("e2e-enroll-{suffix}.fifo"), Some(redrive)).await?;
        Ok(StackQueue::Moto {
            queue: SqsQueue::new(client.clone(), &url),
            poller: SqsPoller::new(client.clone(), &url)
                .batch_size(batch_size)
                .retry_delay(Duration::ZERO),
            client,
            dlq_url,
        })
    }

    fn in_memory(batch_size: usize, max_receives: u32) -> Self {
        let dlq = MemoryFifoQueue::builder("e2e-dlq.fifo").build();
        let queue = MemoryFifoQueue::builder("e2e-enroll.fifo")
            .dead_letter_queue(dlq, max_receives)
            .build();
        let poller = MemoryPoller::new(queue.clone())
            .batch_size(batch_size)
            .retry_delay(Duration::ZERO);
        StackQueue::InMemory { queue, poller }
    }

    /// Messages on the enroll queue, visible or in flight.
    pub async fn pending(&self) -> Result<usize, PollError> {
        match self {
            StackQueue::Moto { client, queue, .. } => {
                approximate_count(client, queue.queue_url()).await
            }
            StackQueue::InMemory { queue, .. } => Ok(queue.len()),
        }
    }

    /// Messages that reached the dead-letter queue.
    pub async fn dead_letters(&self) -> Result<usize, PollError> {
        match self {
            StackQueue::Moto {
                client, dlq_url, ..
            } => approximate_count(client, dlq_url).await,
            StackQueue::InMemory { queue, .. } => {
                Ok(queue.dead_letter_queue().map_or(0, MemoryFifoQueue::len))
            }
        }
    }
}

async fn approximate_count(client: &aws_sdk_sqs::Client, url: &str) -> Result<usize, PollError> {
    let output = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .map_err(|e| PollError::Unavailable(format!("GetQueueAttributes: {e:?}")))?;
    let attributes = output.attributes();
    let count = |name: QueueAttributeName| {
        attributes
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0)
    };
    Ok(count(QueueAttributeName::ApproximateNumberOfMessages)
        + count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible))
}

fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}-{}", std::process::id(), nanos % 1_000_000_000_000)
}

pub type StackEnroll = EnrollFunction<InMemoryMemoryStore, InMemoryAuditSink>;
pub type StackWebhook = Webhook<StackQueue, StaticSecrets, MemoryFifoQueue>;

/// The whole pipeline on loopback. Stop it with [`Stack::shutdown`].
pub struct Stack {
    pub sim: Sim,
    pub graph: GraphClient,
    pub queue: StackQueue,
    /// Where the webhook puts Graph's lifecycle events (the subscriptions function's queue).
    pub lifecycle: MemoryFifoQueue,
    pub webhook: Arc<StackWebhook>,
    front: Option<LocalWebhook>,
    pub webhook_url: String,
    pub enroll: StackEnroll,
    pub reconcile: ReconcileFunction<InMemoryDeltaLinkStore, StackQueue>,
    pub memory: InMemoryMemoryStore,
    pub audit: InMemoryAuditSink,
    pub delta_links: InMemoryDeltaLinkStore,
    pub subscriptions: InMemorySubscriptionStore,
    pub secrets: StaticSecrets,
    pub enroll_metrics: CapturedMetrics,
    pub webhook_metrics: CapturedMetrics,
    pub workers: usize,
    /// Where passes go when the policy turns the TAP bootstrap on (the SES/SNS twin).
    pub outbox: Arc<Outbox>,
    pub bootstraps: InMemoryBootstrapStore,
    /// The reconcile schedule's bootstrap follow-up; run it with the simulator's `now`.
    pub follow_up: FollowUp,
    crashes: CrashInjector,
}

/// Decides which enroll invocations crash (a small seeded generator: runs repeat).
#[derive(Debug)]
struct CrashInjector {
    rate: f64,
    within_ms: u64,
    state: std::sync::atomic::AtomicU64,
    crashed: std::sync::atomic::AtomicU64,
}

impl CrashInjector {
    fn new(rate: f64, within: Duration, seed: u64) -> Self {
        Self {
            rate,
            within_ms: u64::try_from(within.as_millis()).unwrap_or(u64::MAX),
            state: std::sync::atomic::AtomicU64::new(seed | 1),
            crashed: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// xorshift64*: uniform in [0, 1).
    fn next(&self) -> f64 {
        use std::sync::atomic::Ordering;
        let mut x = self.state.load(Ordering::Relaxed);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state.store(x, Ordering::Relaxed);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `Some(after)` when this invocation is to crash after `after`.
    fn roll(&self) -> Option<Duration> {
        if self.rate <= 0.0 || self.next() >= self.rate {
            return None;
        }
        let ms = (self.next() * self.within_ms as f64) as u64;
        Some(Duration::from_millis(ms))
    }
}

impl Stack {
    pub async fn start(options: StackOptions) -> Result<Stack, HarnessError> {
        let sim = Sim::start(SimOptions {
            seed: options.seed.clone(),
            synthetic_users: options.synthetic_users,
            rng_seed: Some(options.rng_seed),
            notifications: options.notifications.clone(),
            token_lifetime: options.token_lifetime,
            ..Default::default()
        })
        .await
        .map_err(|e| HarnessError::Sim(e.to_string()))?;
        let graph = graph_client_with_timeout(&sim, options.retry, options.request_timeout)?;
        let queue = match &options.queue {
            QueueKind::Moto { endpoint } => {
                StackQueue::moto(endpoint, options.batch_size, options.max_receive_count).await?
            }
            QueueKind::InMemory => {
                StackQueue::in_memory(options.batch_size, options.max_receive_count)
            }
        };
        let client_state = format!("e2e-client-state-{}", unique_suffix());
        let secrets = StaticSecrets::new().with(CLIENT_STATE_SECRET, client_state.clone());
        let (webhook_emf, webhook_metrics) = EmfMetrics::capture();
        let lifecycle = MemoryFifoQueue::builder("e2e-lifecycle.fifo").build();
        let webhook = Arc::new(
            Webhook::new(
                WebhookConfig {
                    tenant_id: TENANT.into(),
                    client_state_secret: CLIENT_STATE_SECRET.into(),
                },
                queue.clone(),
                StaticSecrets::new().with(CLIENT_STATE_SECRET, client_state),
                lifecycle.clone(),
            )
            .with_metrics(webhook_emf),
        );
        let front =
            autoenroll_webhook::serve_local(SocketAddr::from(([127, 0, 0, 1], 0)), webhook.clone())
                .await?;
        let webhook_url = front.url.clone();

        let policy = Arc::new(options.policy.clone());
        let memory = InMemoryMemoryStore::new();
        let audit = InMemoryAuditSink::new();
        let (enroll_emf, enroll_metrics) = EmfMetrics::capture();
        let outbox = Arc::new(Outbox::new());
        let bootstraps = InMemoryBootstrapStore::new();
        let clock = sim.control();
        let enroll = EnrollFunction::new(
            Enroller::new(
                graph.clone(),
                policy.clone(),
                TENANT,
                memory.clone(),
                audit.clone(),
            )
            // Inert unless the policy turns bootstrap on.
            .with_bootstrap(Bootstrap {
                delivery: outbox.clone(),
                store: Arc::new(bootstraps.clone()),
            })
            .with_clock(Arc::new(move || clock.now())),
            enroll_emf,
        );
        let follow_up = FollowUp::new(
            Arc::new(bootstraps.clone()),
            Arc::new(queue.clone()),
            TENANT,
        );
        let delta_links = InMemoryDeltaLinkStore::new();
        let reconcile = ReconcileFunction::new(Reconciler::new(
            graph.clone(),
            policy,
            TENANT,
            delta_links.clone(),
            queue.clone(),
        ));
        Ok(Stack {
            sim,
            graph,
            queue,
            lifecycle,
            webhook,
            front: Some(front),
            webhook_url,
            enroll,
            reconcile,
            memory,
            audit,
            delta_links,
            subscriptions: InMemorySubscriptionStore::new(),
            secrets,
            enroll_metrics,
            webhook_metrics,
            workers: options.workers,
            outbox,
            bootstraps,
            follow_up,
            crashes: CrashInjector::new(options.crash_rate, options.crash_within, options.rng_seed),
        })
    }

    /// Runs the subscriptions function once: the simulator validates the webhook (the
    /// handshake goes through the local front) and starts notifying it.
    pub async fn subscribe(&self) -> Result<autoenroll_subscriptions::Report, HarnessError> {
        let config = SubscriptionsConfig {
            notification_url: self.webhook_url.clone(),
            client_state_secret: CLIENT_STATE_SECRET.into(),
        };
        Ok(autoenroll_subscriptions::ensure(
            &self.graph,
            &self.subscriptions,
            &self.secrets,
            &config,
            self.sim.control().now(),
        )
        .await?)
    }

    /// Waits until the simulator has delivered (or dropped) every notification for the
    /// changes made so far: its delivery worker has run twice since the call and holds
    /// nothing queued or in flight. Bounded by `limit` (an error then, not a hang).
    pub async fn notifications_settled(&self, limit: Duration) -> Result<(), HarnessError> {
        let control = self.sim.control();
        let start_passes = control.notification_counters().worker_passes;
        let started = tokio::time::Instant::now();
        loop {
            let c = control.notification_counters();
            if c.worker_passes >= start_passes + 2 && c.pending == 0 && c.in_flight == 0 {
                return Ok(());
            }
            if started.elapsed() > limit {
                return Err(HarnessError::NotSettled(format!(
                    "notifications still pending after {limit:?}: {c:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Enroll workers take batches until the queue is empty (failed messages come back at
    /// once and are retried, up to the dead-letter queue). At most `max_rounds` rounds. With
    /// a crash rate, some invocations are cut off part-way (see [`StackOptions::crash_rate`]).
    pub async fn drain(&self, max_rounds: usize) -> Result<DrainReport, HarnessError> {
        let mut total = DrainReport::default();
        for _ in 0..max_rounds {
            let workers = (0..self.workers.max(1)).map(|_| {
                autoenroll_aws::poller::drain(&self.queue, usize::MAX, |event| {
                    self.invoke_enroll(event)
                })
            });
            for report in futures::future::join_all(workers).await {
                let report = report.map_err(|e| HarnessError::Queue(e.to_string()))?;
                total.batches += report.batches;
                total.messages += report.messages;
                total.deleted += report.deleted;
                total.left_for_redelivery += report.left_for_redelivery;
                total.handler_errors += report.handler_errors;
            }
            let pending = self
                .queue
                .pending()
                .await
                .map_err(|e| HarnessError::Queue(e.to_string()))?;
            if pending == 0 {
                return Ok(total);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(HarnessError::NotSettled(format!(
            "enroll queue not empty after {max_rounds} rounds: {total:?}"
        )))
    }

    /// One enroll invocation, possibly crashing part-way.
    async fn invoke_enroll(
        &self,
        event: SqsEvent,
    ) -> Result<aws_lambda_events::event::sqs::SqsBatchResponse, String> {
        match self.crashes.roll() {
            None => self.enroll.handle(event).await.map_err(|e| e.to_string()),
            Some(after) => {
                // The invocation dies: whatever it finished stays done, nothing is acknowledged.
                let _ = tokio::time::timeout(after, self.enroll.handle(event)).await;
                self.crashes
                    .crashed
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Err("injected crash".to_owned())
            }
        }
    }

    /// Enroll invocations crashed on purpose so far.
    pub fn crashes(&self) -> u64 {
        self.crashes
            .crashed
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Notifications delivered, then the queue drained.
    pub async fn settle(&self) -> Result<DrainReport, HarnessError> {
        self.notifications_settled(Duration::from_secs(30)).await?;
        self.drain(200).await
    }

    /// One reconcile run with a whole scheduled invocation's time.
    pub async fn reconcile(&self) -> Result<SweepReport, SweepFailure> {
        self.reconcile
            .handle(std::time::SystemTime::now() + Duration::from_secs(300))
            .await
    }

    /// One user's record in the simulated tenant (properties and authentication).
    pub fn user(&self, id: &str) -> Value {
        self.sim.control().user(id).unwrap_or(Value::Null)
    }

    /// The user's `mobile` phone method, as the tenant holds it.
    pub fn mobile(&self, id: &str) -> Option<String> {
        self.user(id)["authentication"]["phones"]["mobile"]["phoneNumber"]
            .as_str()
            .map(str::to_owned)
    }

    /// `disabled`, `enabled` or `enforced`.
    pub fn mfa_state(&self, id: &str) -> String {
        self.user(id)["authentication"]["perUserMfaState"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn preferred_method(&self, id: &str) -> Option<String> {
        self.user(id)["authentication"]["preferredSecondaryMethod"]
            .as_str()
            .map(str::to_owned)
    }

    /// Authentication, MFA or group changes the tenant logged for `id`: every write that
    /// touched the user.
    pub fn auth_changes(&self, id: &str) -> usize {
        self.sim
            .control()
            .changes_since(0)
            .iter()
            .filter(|c| c.user_id == id && c.kind == ChangeKind::AuthenticationChanged)
            .count()
    }

    /// Every user id of the tenant.
    pub fn user_ids(&self) -> BTreeSet<String> {
        self.sim.control().dump()["users"]
            .as_object()
            .map(|users| users.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Stops the webhook front and the simulator.
    pub async fn shutdown(mut self) {
        if let Some(front) = self.front.take() {
            front.shutdown().await;
        }
        self.sim.shutdown().await;
    }
}
