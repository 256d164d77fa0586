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

mod queue;
mod stack;

pub use queue::StackQueue;
pub use stack::{Stack, StackEnroll, StackWebhook};

use std::time::Duration;

use autoenroll_core::policy::Policy;
use autoenroll_graph::{Credential, GraphClient, GraphConfig, PacingConfig, RetryConfig, Secret};
use graph_sim::{NotificationOptions, Seed, Sim};

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
