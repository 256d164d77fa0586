//! The whole autoenroll pipeline in one process, with no cloud: graph-sim as Microsoft Graph,
//! the webhook function behind its local HTTP front, the subscription created through Graph's
//! real validation handshake, an in-memory SQS FIFO queue (with a dead-letter queue) polled the
//! way Lambda's event source mapping polls, the enroll function's handler, the subscriptions
//! function answering Graph's lifecycle events from the lifecycle queue, and the reconcile
//! function's `/users/delta` sweep on a short interval — every one of them the same code the
//! Lambda functions run. Stores are the in-memory twins of the DynamoDB ones.
//!
//! Reusable: `autoenroll local` drives it, and so can the e2e suite and the benches.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use autoenroll_aws::memory::{MemoryFifoQueue, MemoryPoller, StaticSecrets};
use autoenroll_aws::metrics::EmfMetrics;
use autoenroll_aws::outbox::Outbox;
use autoenroll_core::engine::{Bootstrap, Enroller};
use autoenroll_core::memory::{
    InMemoryAuditSink, InMemoryBootstrapStore, InMemoryDeltaLinkStore, InMemoryMemoryStore,
    InMemorySubscriptionStore,
};
use autoenroll_core::policy::Policy;
use autoenroll_core::ports::{SecretSource, SecretValue, StoreError};
use autoenroll_enroll::EnrollFunction;
use autoenroll_reconcile::{FollowUp, Reconciler};
use autoenroll_subscriptions::{
    Report as SubscriptionReport, SubscriptionsConfig, SubscriptionsFunction,
};
use autoenroll_webhook::{LocalWebhook, Webhook, WebhookConfig};
use graph_sim::{Seed, SimOptions};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::tenant::{self, Connected};

fn subscription_writes(report: &SubscriptionReport) -> u64 {
    u64::from(report.created) + u64::from(report.renewed) + report.deleted.len() as u64
}

type Subscriptions = SubscriptionsFunction<InMemorySubscriptionStore, SharedSecrets>;

/// Name of the clientState secret in the local secret source.
pub const CLIENT_STATE_SECRET: &str = "autoenroll/local/client-state";

/// How the local stack runs.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// Enroll pollers at once (the SQS event source's `MaximumConcurrency`).
    pub workers: usize,
    /// Time between two reconcile sweeps (every minute in AWS).
    pub reconcile_every: Duration,
    /// Graph requests in flight at once.
    pub graph_concurrency: usize,
    /// How soon a failed message comes back (the rest of the visibility timeout in AWS).
    pub retry_delay: Duration,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            workers: 4,
            reconcile_every: Duration::from_secs(3),
            graph_concurrency: 16,
            retry_delay: Duration::from_millis(500),
        }
    }
}

/// The local secret source, shared by the webhook and the subscriptions function.
#[derive(Debug, Clone)]
pub struct SharedSecrets(pub Arc<StaticSecrets>);

#[async_trait]
impl SecretSource for SharedSecrets {
    async fn get_secret(&self, name: &str) -> Result<SecretValue, StoreError> {
        self.0.get_secret(name).await
    }
}

/// A running local stack. Stop it with [`LocalStack::shutdown`].
pub struct LocalStack {
    pub connected: Connected,
    pub policy: Arc<Policy>,
    pub queue: MemoryFifoQueue,
    pub memory: InMemoryMemoryStore,
    pub audit: InMemoryAuditSink,
    pub links: InMemoryDeltaLinkStore,
    pub subscription_store: InMemorySubscriptionStore,
    pub secrets: SharedSecrets,
    /// Where Temporary Access Passes go (the SES/SNS twin; the pass masked in its listings).
    pub outbox: Arc<Outbox>,
    /// Open and closed bootstraps (the DynamoDB twin).
    pub bootstraps: InMemoryBootstrapStore,
    /// The reconcile schedule's bootstrap follow-up, run on the simulator's clock.
    pub follow_up: FollowUp,
    /// What the subscriptions function did at start-up.
    pub subscription: SubscriptionReport,
    /// `http://127.0.0.1:PORT/`: the subscription's notificationUrl.
    pub webhook_url: String,
    /// The tenant as it was before the pipeline touched it (the simulator's dump).
    pub initial_dump: serde_json::Value,
    webhook: Option<LocalWebhook>,
    subscriptions: Arc<Subscriptions>,
    later_subscription_writes: AtomicU64,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    reconcile_rounds: Arc<AtomicU64>,
}

impl std::fmt::Debug for LocalStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStack")
            .field("tenant", &self.connected.description)
            .field("webhook_url", &self.webhook_url)
            .finish_non_exhaustive()
    }
}

/// A clientState nobody can guess, without pulling in a random-number crate: the standard
/// library's per-process random hasher keys.
fn random_client_state() -> String {
    (0..4)
        .map(|i| {
            let mut h = RandomState::new().build_hasher();
            h.write_u64(i);
            format!("{:016x}", h.finish())
        })
        .collect()
}

impl LocalStack {
    /// Starts the simulator with `seed`, then the webhook, the subscription, the enroll workers
    /// and the reconcile loop (whose first sweep walks every user: the backfill).
    pub async fn start(
        seed: Seed,
        label: &str,
        policy: Policy,
        options: &StackOptions,
    ) -> anyhow::Result<LocalStack> {
        let connected = tenant::start_simulated(
            seed,
            label,
            options.graph_concurrency,
            SimOptions {
                rng_seed: Some(7),
                ..SimOptions::default()
            },
        )
        .await?;
        let graph = connected.graph.clone();
        let tenant_id = connected.tenant_id.to_ascii_lowercase();
        let policy = Arc::new(policy);
        let secrets = SharedSecrets(Arc::new(
            StaticSecrets::new().with(CLIENT_STATE_SECRET, random_client_state()),
        ));
        let dead_letters = MemoryFifoQueue::builder("autoenroll-local-dlq.fifo").build();
        let queue = MemoryFifoQueue::builder("autoenroll-local.fifo")
            .dead_letter_queue(dead_letters, 5)
            .build();
        let lifecycle = MemoryFifoQueue::builder("autoenroll-local-lifecycle.fifo")
            .dead_letter_queue(
                MemoryFifoQueue::builder("autoenroll-local-lifecycle-dlq.fifo").build(),
                5,
            )
            .build();
        // Metrics lines would go to stdout in Lambda; here they would drown the summary.
        let quiet = || EmfMetrics::with_writer(std::io::sink());

        let webhook = Webhook::new(
            WebhookConfig {
                tenant_id: tenant_id.clone(),
                client_state_secret: CLIENT_STATE_SECRET.to_owned(),
            },
            queue.clone(),
            secrets.clone(),
            lifecycle.clone(),
        )
        .with_metrics(quiet());
        let front = autoenroll_webhook::serve_local(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            Arc::new(webhook),
        )
        .await
        .context("starting the local webhook")?;
        let webhook_url = front.url.clone();

        let subscription_store = InMemorySubscriptionStore::new();
        let clock = connected.simulator().map(|sim| sim.control());
        let subscriptions = SubscriptionsFunction::new(
            graph.clone(),
            subscription_store.clone(),
            secrets.clone(),
            SubscriptionsConfig {
                notification_url: webhook_url.clone(),
                client_state_secret: CLIENT_STATE_SECRET.to_owned(),
            },
        )
        .with_clock(move || {
            clock
                .as_ref()
                .map_or_else(time::OffsetDateTime::now_utc, |c| c.now())
        })
        .with_metrics(quiet());
        let subscription = subscriptions
            .run_schedule()
            .await
            .context("creating the /users subscription")?;

        let initial_dump = connected
            .simulator()
            .map(|sim| sim.control().dump())
            .unwrap_or_default();
        let memory = InMemoryMemoryStore::new();
        let audit = InMemoryAuditSink::new();
        let links = InMemoryDeltaLinkStore::new();
        let (stop, stop_rx) = watch::channel(false);
        let reconcile_rounds = Arc::new(AtomicU64::new(0));

        let outbox = Arc::new(Outbox::new());
        let bootstraps = InMemoryBootstrapStore::new();
        let sim_clock = connected.simulator().map(|sim| sim.control());
        let function = EnrollFunction::new(
            Enroller::new(
                graph.clone(),
                policy.clone(),
                tenant_id.clone(),
                memory.clone(),
                audit.clone(),
            )
            .with_bootstrap(Bootstrap {
                delivery: outbox.clone(),
                store: Arc::new(bootstraps.clone()),
            })
            // Telephony and passes are decided on the simulator's date (`local --date`).
            .with_clock(Arc::new(move || {
                sim_clock
                    .as_ref()
                    .map_or_else(time::OffsetDateTime::now_utc, |c| c.now())
            })),
            quiet(),
        );
        let follow_up = FollowUp::new(
            Arc::new(bootstraps.clone()),
            Arc::new(queue.clone()),
            tenant_id.clone(),
        );
        let poller = MemoryPoller::new(queue.clone()).retry_delay(options.retry_delay);
        let enroll_task = tokio::spawn(enroll_loop(
            function,
            poller,
            options.workers,
            stop_rx.clone(),
        ));
        let reconciler = Reconciler::new(
            graph.clone(),
            policy.clone(),
            tenant_id,
            links.clone(),
            queue.clone(),
        );
        let subscriptions = Arc::new(subscriptions);
        let lifecycle_task = tokio::spawn(lifecycle_loop(
            subscriptions.clone(),
            MemoryPoller::new(lifecycle).retry_delay(options.retry_delay),
            stop_rx.clone(),
        ));
        let sim_clock = connected.simulator().map(|sim| sim.control());
        let reconcile_task = tokio::spawn(reconcile_loop(
            reconciler,
            (follow_up.clone(), sim_clock),
            options.reconcile_every,
            reconcile_rounds.clone(),
            stop_rx,
        ));
        Ok(LocalStack {
            connected,
            policy,
            queue,
            memory,
            audit,
            links,
            subscription_store,
            secrets,
            outbox,
            bootstraps,
            follow_up,
            subscription,
            webhook_url,
            initial_dump,
            webhook: Some(front),
            subscriptions,
            later_subscription_writes: AtomicU64::new(0),
            stop,
            tasks: vec![enroll_task, lifecycle_task, reconcile_task],
            reconcile_rounds,
        })
    }

    /// The simulator (always there: the local stack runs on one).
    pub fn control(&self) -> Option<graph_sim::Control> {
        self.connected.simulator().map(|sim| sim.control())
    }

    /// The subscriptions function's scheduled run (after the simulator's clock jumped: the
    /// subscription it made has expired on the new date and is made again).
    pub async fn run_subscription_schedule(&self) -> anyhow::Result<SubscriptionReport> {
        let report = self
            .subscriptions
            .run_schedule()
            .await
            .context("renewing the /users subscription")?;
        self.later_subscription_writes
            .fetch_add(subscription_writes(&report), Ordering::SeqCst);
        Ok(report)
    }

    /// Graph writes the subscriptions function made (create, renew, delete) in this run.
    pub fn subscription_writes(&self) -> u64 {
        subscription_writes(&self.subscription)
            + self.later_subscription_writes.load(Ordering::SeqCst)
    }

    /// Reconcile sweeps that finished a round so far.
    pub fn reconcile_rounds(&self) -> u64 {
        self.reconcile_rounds.load(Ordering::SeqCst)
    }

    /// Nothing on the queue, not even in flight.
    pub fn queue_idle(&self) -> bool {
        self.queue.is_empty()
    }

    /// Messages on the dead-letter queue.
    pub fn dead_letters(&self) -> usize {
        self.queue
            .dead_letter_queue()
            .map_or(0, MemoryFifoQueue::len)
    }

    /// Stops the loops, the webhook and the simulator, and waits for them.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        if let Some(front) = self.webhook.take() {
            front.shutdown().await;
        }
        self.connected.close().await;
    }
}

/// Lambda's event source mapping, locally: `workers` pollers, each draining the queue on its
/// own and, when it finds nothing, waiting a moment for more. Independent, as the mapping's
/// pollers are: an idle poller takes the next message at once instead of waiting for a busy
/// one to finish its batch (with one drain round for all pollers, the exposure bench saw new
/// users queue behind each other: p99 10 s to protection at 20 new users/s).
async fn enroll_loop(
    function: EnrollFunction<InMemoryMemoryStore, InMemoryAuditSink>,
    poller: MemoryPoller,
    workers: usize,
    stop: watch::Receiver<bool>,
) {
    let pollers = (0..workers.max(1)).map(|_| {
        let (function, poller, mut stop) = (function.clone(), poller.clone(), stop.clone());
        async move {
            loop {
                if let Err(e) =
                    autoenroll_enroll::local::drain(&function, &poller, 1, usize::MAX).await
                {
                    tracing::warn!(error = %e, "polling the local queue failed");
                }
                tokio::select! {
                    _ = stop.changed() => break,
                    _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                }
                if *stop.borrow() {
                    break;
                }
            }
        }
    });
    futures::future::join_all(pollers).await;
}

/// The lifecycle queue's event source, locally: Graph's lifecycle events (queued by the
/// webhook) to the subscriptions function, until stopped.
async fn lifecycle_loop(
    function: Arc<Subscriptions>,
    poller: MemoryPoller,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let drained = autoenroll_aws::poller::drain(&poller, 10, |event| {
            let function = &function;
            async move {
                Ok::<_, std::convert::Infallible>(function.handle_lifecycle_batch(event).await)
            }
        })
        .await;
        if let Err(e) = drained {
            tracing::warn!(error = %e, "polling the local lifecycle queue failed");
        }
        tokio::select! {
            _ = stop.changed() => break,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        if *stop.borrow() {
            break;
        }
    }
}

/// The reconcile schedule, locally: the bootstrap follow-up (on the simulator's clock) and a
/// sweep, then `every`, until stopped.
async fn reconcile_loop(
    reconciler: Reconciler<InMemoryDeltaLinkStore, MemoryFifoQueue>,
    (follow_up, clock): (FollowUp, Option<graph_sim::Control>),
    every: Duration,
    rounds: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let now = clock
            .as_ref()
            .map_or_else(time::OffsetDateTime::now_utc, |c| c.now());
        if let Err(e) = follow_up.run(now).await {
            tracing::warn!(error = %e, "bootstrap follow-up failed");
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        match reconciler.sweep(deadline, Duration::from_secs(10)).await {
            Ok(report) => {
                if report.round_finished {
                    rounds.fetch_add(1, Ordering::SeqCst);
                }
                tracing::debug!(
                    pages = report.pages,
                    enqueued = report.enqueued,
                    "reconcile sweep"
                );
            }
            Err(failure) => tracing::warn!(error = %failure, "reconcile sweep failed"),
        }
        tokio::select! {
            _ = stop.changed() => break,
            _ = tokio::time::sleep(every) => {}
        }
        if *stop.borrow() {
            break;
        }
    }
}
