//! Building the AWS SDK configuration.
//!
//! In Lambda everything comes from the environment (region, role credentials). For local runs
//! and tests the SDK talks to moto over loopback instead of AWS:
//!
//! - `AWS_ENDPOINT_URL` (and the per-service `AWS_ENDPOINT_URL_SQS`, `..._DYNAMODB`, ...) is
//!   honoured by aws-config itself: `ConfigLoader::load` resolves it through
//!   `default_provider::endpoint_url` unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is set
//!   (aws-config 1.x, `src/lib.rs`; <https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html>).
//!   `tests/config.rs` checks this by running a child test process with only that variable set.
//! - [`load`] with an explicit endpoint overrides it programmatically (programmatic wins).
//! - [`for_moto`] additionally pins static test credentials, so a developer's real credentials
//!   are never sent to the local endpoint.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sqs::config::Credentials;

/// Region used when neither the environment nor the caller names one (moto accepts any).
pub const FALLBACK_REGION: &str = "us-east-1";

/// The SDK configuration from the environment, with an optional endpoint override.
///
/// `endpoint_override = None` leaves endpoint resolution to aws-config, which honours
/// `AWS_ENDPOINT_URL`.
pub async fn load(endpoint_override: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(endpoint) = endpoint_override {
        loader = loader.endpoint_url(endpoint);
    }
    let config = loader.load().await;
    if config.region().is_none() {
        tracing::warn!("no AWS region configured (set AWS_REGION)");
    }
    config
}

/// Configuration for a local moto server: the given endpoint, static `testing` credentials and
/// the environment's region (or [`FALLBACK_REGION`]).
pub async fn for_moto(endpoint: &str) -> SdkConfig {
    let credentials = Credentials::new("testing", "testing", None, None, "autoenroll-moto");
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .credentials_provider(credentials)
        .load()
        .await;
    if config.region().is_some() {
        return config;
    }
    config
        .into_builder()
        .region(Region::new(FALLBACK_REGION))
        .build()
}

/// An SQS client; FIFO queues need nothing special from the client.
pub fn sqs_client(config: &SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(config)
}

pub fn dynamodb_client(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}

pub fn secrets_client(config: &SdkConfig) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(config)
}
