//! autoenroll-webhook: the Function URL Graph posts change notifications to. It validates and
//! enqueues, nothing more (Graph penalises a webhook slower than ~3 s): the validation
//! handshake, strict parsing, tenant and clientState checks, then one `send_batch` to the SQS
//! FIFO queue; `reauthorizationRequired` is answered through Graph. See [`handler`] for the
//! statuses and why.
//!
//! - [`handler`]: [`Webhook`], generic over the queue, the secret source and the lifecycle sink;
//!   `handle` (a `lambda_http::Request`) and `handle_bytes` (plain inputs, for benchmarks).
//! - [`local`]: [`serve_local`], the same handler behind axum on loopback.
//! - [`lifecycle`]: [`GraphLifecycle`], reauthorizing through Graph.
//! - [`validation`], [`rejection`]: the handshake token; rejection reasons and counters.

pub mod handler;
pub mod lifecycle;
pub mod local;
pub mod rejection;
pub mod validation;

pub use handler::{
    LifecycleError, LifecycleSink, MAX_BODY_BYTES, Reply, Webhook, WebhookConfig, dedup_key,
};
pub use lifecycle::GraphLifecycle;
pub use local::{LocalWebhook, serve_local};
pub use rejection::{Reason, Tally};

use autoenroll_aws::runtime::{self, Env, RuntimeError};

/// Every environment variable this function reads (ARCHITECTURE.md, "Environment variables");
/// infra/template.yaml sets exactly these (tests/e2e/tests/template_consistency.rs). The
/// client id and secret are for answering `reauthorizationRequired` ([`lifecycle`]).
pub const ENV_VARS: &[&str] = &[
    "AUTOENROLL_TENANT_ID",
    "AUTOENROLL_CLIENT_ID",
    "AUTOENROLL_CLIENT_SECRET_ARN",
    "AUTOENROLL_CLIENT_STATE_SECRET_ARN",
    "AUTOENROLL_QUEUE_URL",
];

impl WebhookConfig {
    pub fn from_env(env: &Env) -> Result<Self, RuntimeError> {
        Ok(Self {
            tenant_id: env.tenant_id()?,
            client_state_secret: env.required(runtime::CLIENT_STATE_SECRET_ARN)?,
        })
    }
}
