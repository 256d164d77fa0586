//! autoenroll-aws: the AWS adapters for the ports of `autoenroll_core::ports`, and their
//! in-memory twins for the local stack and tests.
//!
//! - [`sqs`]: SQS FIFO sender ([`sqs::SqsQueue`], an `EnrollQueue`) and a poller for a real queue.
//! - [`dynamo`]: the single DynamoDB table behind `MemoryStore`, `AuditSink`, `DeltaLinkStore`,
//!   `SubscriptionStore`; [`dynamo::ensure_table`] for moto and local runs.
//! - [`secrets`]: Secrets Manager `SecretSource` with an in-process cache.
//! - [`metrics`]: CloudWatch embedded-metric-format lines.
//! - [`config`]: the SDK configuration (environment, endpoint override, moto).
//! - `memory` (feature `memory`): in-memory FIFO queue with SQS semantics, its poller, static
//!   secrets.
//! - [`poller`]: driving an SQS handler like Lambda's event source mapping.
//! - [`fifo`]: how a request becomes a FIFO message (group, de-duplication id, body).
//! - [`lifecycle`]: the subscription-lifecycle queue (SQS and in-memory), webhook → subscriptions.
//! - [`ses`], [`sns`]: delivering a Temporary Access Pass (SES v2 e-mail, SNS SMS);
//!   `outbox` (feature `memory`) their in-memory twin; [`delivery`] what they share, [`delivery::deliveries_for`].
//! - [`bootstrap`]: the open-bootstrap store in the DynamoDB table; [`bootstrap_notify`] the
//!   helpdesk's SNS topic when a new user's passes all expired.
//! - [`runtime`]: a function's start-up: configuration from the environment, AWS and Graph
//!   clients, JSON logs.

pub mod bootstrap;
pub mod bootstrap_notify;
pub mod config;
pub mod delivery;
pub mod dynamo;
mod error;
pub mod fifo;
pub mod lifecycle;
/// In-memory twins (feature `memory`): for the local stack, tests and benchmarks, never in a
/// function's Lambda build.
#[cfg(any(test, feature = "memory"))]
pub mod memory;
pub mod metrics;
#[cfg(any(test, feature = "memory"))]
pub mod outbox;
pub mod poller;
pub mod runtime;
pub mod secrets;
pub mod ses;
pub mod sns;
pub mod sqs;
