//! [`Stack`]: the whole pipeline on loopback, and its crash injector.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use autoenroll_aws::memory::{MemoryFifoQueue, StaticSecrets};
use autoenroll_aws::metrics::{CapturedMetrics, EmfMetrics};
use autoenroll_aws::outbox::Outbox;
use autoenroll_aws::poller::DrainReport;
use autoenroll_core::engine::{Bootstrap, Enroller};
use autoenroll_core::memory::{
    InMemoryAuditSink, InMemoryBootstrapStore, InMemoryDeltaLinkStore, InMemoryMemoryStore,
    InMemorySubscriptionStore,
};
use autoenroll_enroll::EnrollFunction;
use autoenroll_graph::GraphClient;
use autoenroll_reconcile::{FollowUp, ReconcileFunction, Reconciler, SweepFailure, SweepReport};
use autoenroll_subscriptions::SubscriptionsConfig;
use autoenroll_webhook::{LocalWebhook, Webhook, WebhookConfig};
use aws_lambda_events::event::sqs::SqsEvent;
use graph_sim::{ChangeKind, Sim, SimOptions};
use serde_json::Value;

use crate::queue::unique_suffix;
use crate::{
    CLIENT_STATE_SECRET, HarnessError, QueueKind, StackOptions, StackQueue, TENANT,
    graph_client_with_timeout,
};

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
