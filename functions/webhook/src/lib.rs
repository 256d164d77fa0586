//! autoenroll-webhook: the Function URL Graph posts change notifications to. It validates and
//! enqueues, nothing more (Graph penalises a webhook slower than ~3 s): the validation
//! handshake, strict parsing, tenant and clientState checks, then one send to the enroll FIFO
//! queue (user changes) and one to the lifecycle FIFO queue (lifecycle events, answered by the
//! subscriptions function). It holds no Graph credential: the only public function cannot
//! leak one, and no answer waits on a token or a Graph call. See [`handler`] for the statuses
//! and why.
//!
//! - [`handler`]: [`Webhook`], generic over the enroll queue, the secret source and the
//!   lifecycle queue; `handle` (a `lambda_http::Request`) and `handle_bytes` (plain inputs, for
//!   benchmarks).
//! - [`local`]: [`serve_local`], the same handler behind axum on loopback.
//! - [`validation`], [`rejection`]: the handshake token; rejection reasons and counters;
//!   `parse`: the strict body parse.

pub mod handler;
pub mod local;
mod parse;
pub mod rejection;
pub mod validation;

pub use handler::{MAX_BODY_BYTES, Reply, Webhook, WebhookConfig, dedup_key};
pub use local::{LocalWebhook, serve_local};
pub use rejection::{Reason, Tally};

use autoenroll_aws::runtime::{self, Env, RuntimeError};

/// Every environment variable this function reads (ARCHITECTURE.md, "Environment variables");
/// infra/template.yaml sets exactly these (tests/e2e/tests/template_consistency.rs). No
/// client id, no client secret: the webhook never calls Graph.
pub const ENV_VARS: &[&str] = &[
    "AUTOENROLL_TENANT_ID",
    "AUTOENROLL_CLIENT_STATE_SECRET_ARN",
    "AUTOENROLL_QUEUE_URL",
    "AUTOENROLL_LIFECYCLE_QUEUE_URL",
];

impl WebhookConfig {
    pub fn from_env(env: &Env) -> Result<Self, RuntimeError> {
        Ok(Self {
            tenant_id: env.tenant_id()?,
            client_state_secret: env.required(runtime::CLIENT_STATE_SECRET_ARN)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_comes_from_the_declared_variables_only() {
        let env = Env::from_pairs([
            (
                "AUTOENROLL_TENANT_ID",
                "8F2C6A51-3B7E-4D0A-9C1E-5A4B2D9E7F10",
            ),
            ("AUTOENROLL_CLIENT_STATE_SECRET_ARN", "arn:cs"),
        ]);
        let config = WebhookConfig::from_env(&env).unwrap();
        assert_eq!(config.tenant_id, "8f2c6a51-3b7e-4d0a-9c1e-5a4b2d9e7f10");
        assert_eq!(config.client_state_secret, "arn:cs");
        for name in [
            runtime::TENANT_ID,
            runtime::CLIENT_STATE_SECRET_ARN,
            runtime::QUEUE_URL,
            runtime::LIFECYCLE_QUEUE_URL,
        ] {
            assert!(ENV_VARS.contains(&name), "{name}");
        }
        let missing = Env::from_pairs([(
            "AUTOENROLL_TENANT_ID",
            "8f2c6a51-3b7e-4d0a-9c1e-5a4b2d9e7f10",
        )]);
        assert!(matches!(
            WebhookConfig::from_env(&missing),
            Err(RuntimeError::Missing("AUTOENROLL_CLIENT_STATE_SECRET_ARN"))
        ));
    }
}
