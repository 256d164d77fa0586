//! What every Lambda function does at start-up, in one place: read its configuration from
//! exactly the environment variables ARCHITECTURE.md lists, build the AWS clients, build the
//! Graph client, and switch on JSON logs.
//!
//! ```no_run
//! # async fn demo() -> Result<(), autoenroll_aws::runtime::RuntimeError> {
//! use autoenroll_aws::runtime::{self, Env};
//! runtime::init_tracing();
//! let env = Env::from_process();
//! let aws = runtime::aws_config().await; // honours AWS_ENDPOINT_URL
//! let secrets = runtime::secrets(&aws);
//! let graph = runtime::GraphSettings::from_env(&env)?
//!     .build(&secrets, &aws)
//!     .await?;
//! let queue_url = env.required(runtime::QUEUE_URL)?;
//! # let _ = (graph, queue_url);
//! # Ok(())
//! # }
//! ```
//!
//! Configuration is read through an [`Env`] (a lookup function), so tests hand in a map
//! instead of touching the process environment. The local/test-only overrides
//! (`AUTOENROLL_GRAPH_BASE_URL`, `AUTOENROLL_AUTHORITY_HOST`, `AUTOENROLL_EXTRA_CA_PEM`) go
//! through the same lookup; `AWS_ENDPOINT_URL` is aws-config's own (see [`crate::config`]).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use autoenroll_core::ids;
use autoenroll_core::ports::{SecretSource, StoreError};
use autoenroll_graph::{
    AssertionError, ClientAssertionProvider, Credential, GraphClient, GraphConfig, GraphError,
    QuotaShare, Secret,
};
use aws_config::SdkConfig;

use crate::secrets::SecretsManagerSource;

/// Entra tenant id (GUID); every function.
pub const TENANT_ID: &str = "AUTOENROLL_TENANT_ID";
/// App registration client id; functions that call Graph.
pub const CLIENT_ID: &str = "AUTOENROLL_CLIENT_ID";
/// Secrets Manager ARN of the Entra client secret; empty = federated credential.
pub const CLIENT_SECRET_ARN: &str = "AUTOENROLL_CLIENT_SECRET_ARN";
/// Secrets Manager ARN of the subscription clientState.
pub const CLIENT_STATE_SECRET_ARN: &str = "AUTOENROLL_CLIENT_STATE_SECRET_ARN";
/// SQS FIFO queue URL of the enroll queue.
pub const QUEUE_URL: &str = "AUTOENROLL_QUEUE_URL";
/// SQS FIFO queue URL of the subscription-lifecycle queue (the webhook sends to it; the
/// subscriptions function's event source reads it).
pub const LIFECYCLE_QUEUE_URL: &str = "AUTOENROLL_LIFECYCLE_QUEUE_URL";
/// The DynamoDB table.
pub const TABLE_NAME: &str = "AUTOENROLL_TABLE_NAME";
/// The webhook's Function URL (subscriptions).
pub const NOTIFICATION_URL: &str = "AUTOENROLL_NOTIFICATION_URL";
/// The enroll event source's `MaximumConcurrency`.
pub const GRAPH_MAX_CONCURRENCY: &str = "AUTOENROLL_GRAPH_MAX_CONCURRENCY";
/// The fraction of the app + tenant Graph quota a function may use, in (0, 1]; every function
/// that calls Graph. Unset: the whole quota.
pub const GRAPH_QUOTA_SHARE: &str = "AUTOENROLL_GRAPH_QUOTA_SHARE";

/// Local/test-only: Graph root instead of `https://graph.microsoft.com` (the simulator).
pub const GRAPH_BASE_URL: &str = "AUTOENROLL_GRAPH_BASE_URL";
/// Local/test-only: Entra authority host (the simulator).
pub const AUTHORITY_HOST: &str = "AUTOENROLL_AUTHORITY_HOST";
/// Local/test-only: one more root CA, PEM text or a path to a PEM file (the simulator's).
pub const EXTRA_CA_PEM: &str = "AUTOENROLL_EXTRA_CA_PEM";

/// The audience Entra expects on a federated client assertion
/// (<https://learn.microsoft.com/entra/workload-id/workload-identity-federation-create-trust>).
pub const ENTRA_ASSERTION_AUDIENCE: &str = "api://AzureADTokenExchange";

/// Why a function could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{name}: {message}")]
    Invalid { name: &'static str, message: String },
    #[error("reading a secret: {0}")]
    Secret(#[from] StoreError),
    #[error("building the Graph client: {0}")]
    Graph(#[from] GraphError),
}

type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

/// Where configuration comes from: the process environment in Lambda, a map in tests.
/// Values are trimmed; an empty value counts as unset.
#[derive(Clone)]
pub struct Env {
    lookup: Arc<Lookup>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Env")
    }
}

impl Env {
    /// The process environment (variables that are not UTF-8 count as unset).
    pub fn from_process() -> Self {
        Self::from_fn(|name| std::env::var(name).ok())
    }

    pub fn from_fn(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        Self {
            lookup: Arc::new(lookup),
        }
    }

    /// A fixed set of variables (tests, the CLI's local stack).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let map: HashMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self::from_fn(move |name| map.get(name).cloned())
    }

    /// The value, or `None` when unset or blank.
    pub fn optional(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &'static str) -> Result<String, RuntimeError> {
        self.optional(name).ok_or(RuntimeError::Missing(name))
    }

    /// A required GUID, lowercased (tenant and client ids).
    pub fn guid(&self, name: &'static str) -> Result<String, RuntimeError> {
        let value = self.required(name)?;
        ids::canonical_guid(&value).ok_or_else(|| RuntimeError::Invalid {
            name,
            message: "not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)".into(),
        })
    }

    /// An optional value parsed with `FromStr`.
    pub fn parsed<T: std::str::FromStr>(
        &self,
        name: &'static str,
    ) -> Result<Option<T>, RuntimeError>
    where
        T::Err: std::fmt::Display,
    {
        self.optional(name)
            .map(|v| {
                v.parse::<T>().map_err(|e| RuntimeError::Invalid {
                    name,
                    message: e.to_string(),
                })
            })
            .transpose()
    }

    /// The tenant id every function reads.
    pub fn tenant_id(&self) -> Result<String, RuntimeError> {
        self.guid(TENANT_ID)
    }
}

/// The AWS SDK configuration from the environment (region, role credentials), honouring
/// `AWS_ENDPOINT_URL` (moto in tests and local runs), trusting the roots
/// [`crate::config::TrustedRoots::for_lambda`] picks (Amazon's, for AWS's own endpoints).
pub async fn aws_config() -> SdkConfig {
    crate::config::load_for_lambda().await
}

/// The cached Secrets Manager reader every function uses for its secrets (wrap it in an `Arc`
/// to share it).
pub fn secrets(aws: &SdkConfig) -> SecretsManagerSource {
    SecretsManagerSource::new(crate::config::secrets_client(aws))
}

/// How a function signs in to Entra: [`CLIENT_ID`], and the client secret from Secrets Manager
/// ([`CLIENT_SECRET_ARN`]) or, when that is empty, an AWS-issued web identity token as a
/// federated client assertion. Plus the local/test-only overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphSettings {
    pub tenant_id: String,
    pub client_id: String,
    /// `None` = federated credential (STS `GetWebIdentityToken`).
    pub client_secret_arn: Option<String>,
    pub graph_base_url: Option<String>,
    pub authority_host: Option<String>,
    /// PEM text or a path to a PEM file.
    pub extra_ca_pem: Option<String>,
    /// [`GRAPH_QUOTA_SHARE`]; `None`: the whole quota.
    pub quota_share: Option<QuotaShare>,
}

impl GraphSettings {
    pub fn from_env(env: &Env) -> Result<Self, RuntimeError> {
        Ok(Self {
            tenant_id: env.tenant_id()?,
            client_id: env.guid(CLIENT_ID)?,
            client_secret_arn: env.optional(CLIENT_SECRET_ARN),
            graph_base_url: env.optional(GRAPH_BASE_URL),
            authority_host: env.optional(AUTHORITY_HOST),
            extra_ca_pem: env.optional(EXTRA_CA_PEM),
            quota_share: env.parsed(GRAPH_QUOTA_SHARE)?,
        })
    }

    /// The [`GraphConfig`] with the credential resolved (the client secret is read now, through
    /// the cache). Adjust pacing or concurrency on the result before building the client.
    pub async fn graph_config(
        &self,
        secrets: &dyn SecretSource,
        aws: &SdkConfig,
    ) -> Result<GraphConfig, RuntimeError> {
        let credential = match &self.client_secret_arn {
            Some(arn) => {
                let value = secrets.get_secret(arn).await?;
                Credential::ClientSecret(Secret::new(value.current))
            }
            None => Credential::ClientAssertion(Arc::new(StsWebIdentityAssertion::new(
                aws_sdk_sts::Client::new(aws),
            ))),
        };
        let mut config = GraphConfig::new(&self.tenant_id, &self.client_id, credential);
        if let Some(url) = &self.graph_base_url {
            config = config.with_graph_base_url(url);
        }
        if let Some(url) = &self.authority_host {
            config = config.with_authority_host(url);
        }
        if let Some(pem) = &self.extra_ca_pem {
            config = config.with_extra_root_ca_pem(read_pem(pem)?);
        }
        if let Some(share) = self.quota_share {
            config = config.with_quota_share(share);
        }
        Ok(config)
    }

    /// The Graph client with default pacing.
    pub async fn build(
        &self,
        secrets: &dyn SecretSource,
        aws: &SdkConfig,
    ) -> Result<GraphClient, RuntimeError> {
        Ok(GraphClient::new(self.graph_config(secrets, aws).await?)?)
    }
}

fn read_pem(value: &str) -> Result<String, RuntimeError> {
    if value.contains("-----BEGIN") {
        return Ok(value.to_owned());
    }
    std::fs::read_to_string(value).map_err(|e| RuntimeError::Invalid {
        name: EXTRA_CA_PEM,
        message: format!("reading {value}: {e}"),
    })
}

/// A federated client assertion: a JWT from STS `GetWebIdentityToken` for the function's role,
/// audience [`ENTRA_ASSERTION_AUDIENCE`]. Asked for each time the Graph token needs refreshing.
#[derive(Debug, Clone)]
pub struct StsWebIdentityAssertion {
    client: aws_sdk_sts::Client,
}

impl StsWebIdentityAssertion {
    pub fn new(client: aws_sdk_sts::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl ClientAssertionProvider for StsWebIdentityAssertion {
    async fn assertion(&self) -> Result<Secret, AssertionError> {
        let output = self
            .client
            .get_web_identity_token()
            .audience(ENTRA_ASSERTION_AUDIENCE)
            .signing_algorithm("RS256")
            .send()
            .await
            .map_err(|e| {
                AssertionError(format!(
                    "STS GetWebIdentityToken: {}",
                    aws_sdk_sts::error::DisplayErrorContext(&e)
                ))
            })?;
        output
            .web_identity_token()
            .filter(|t| !t.is_empty())
            .map(Secret::new)
            .ok_or_else(|| AssertionError("STS GetWebIdentityToken returned no token".into()))
    }
}

/// JSON logs, one object per line, as Lambda's `LogFormat: JSON` expects. The level comes from
/// `AWS_LAMBDA_LOG_LEVEL` (set by Lambda's logging config) or `RUST_LOG`, default `info`.
/// Calling it twice is harmless.
pub fn init_tracing() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .or_else(|| std::env::var("AWS_LAMBDA_LOG_LEVEL").ok())
        .map(|level| level.to_ascii_lowercase())
        .and_then(|level| tracing_subscriber::EnvFilter::try_new(level).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info"));
    let _already_set = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(true)
        // Lambda stamps every line itself.
        .without_time()
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::StaticSecrets;

    const TENANT: &str = "84BD8158-6D4D-4958-8B9F-9D6445542F95";
    const CLIENT: &str = "11111111-1111-1111-1111-111111111111";

    fn aws() -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build()
    }

    #[test]
    fn blank_values_count_as_unset_and_are_reported_by_name() {
        let env = Env::from_pairs([(TENANT_ID, "  "), (QUEUE_URL, " https://q ")]);
        assert!(matches!(
            env.tenant_id(),
            Err(RuntimeError::Missing("AUTOENROLL_TENANT_ID"))
        ));
        assert_eq!(env.required(QUEUE_URL).unwrap(), "https://q");
        assert!(env.optional(TABLE_NAME).is_none());
    }

    #[test]
    fn tenant_id_must_be_a_guid_and_is_lowercased() {
        let env = Env::from_pairs([(TENANT_ID, TENANT)]);
        assert_eq!(env.tenant_id().unwrap(), TENANT.to_ascii_lowercase());
        let bad = Env::from_pairs([(TENANT_ID, "contoso.onmicrosoft.com")]);
        let err = bad.tenant_id().unwrap_err().to_string();
        assert!(err.contains("AUTOENROLL_TENANT_ID"), "{err}");
    }

    #[test]
    fn parsed_values_name_the_variable_when_they_do_not_parse() {
        let env = Env::from_pairs([(GRAPH_MAX_CONCURRENCY, "ten")]);
        let err = env.parsed::<u32>(GRAPH_MAX_CONCURRENCY).unwrap_err();
        assert!(err.to_string().contains(GRAPH_MAX_CONCURRENCY));
        let env = Env::from_pairs([(GRAPH_MAX_CONCURRENCY, "10")]);
        assert_eq!(env.parsed::<u32>(GRAPH_MAX_CONCURRENCY).unwrap(), Some(10));
    }

    #[tokio::test]
    async fn client_secret_is_read_from_the_secret_source_and_overrides_apply() {
        let secrets = StaticSecrets::new().with("arn:secret", "the-client-secret");
        let env = Env::from_pairs([
            (TENANT_ID, TENANT),
            (CLIENT_ID, CLIENT),
            (CLIENT_SECRET_ARN, "arn:secret"),
            (GRAPH_BASE_URL, "https://127.0.0.1:9"),
            (AUTHORITY_HOST, "https://127.0.0.1:9/"),
        ]);
        let settings = GraphSettings::from_env(&env).unwrap();
        let config = settings.graph_config(&secrets, &aws()).await.unwrap();
        assert_eq!(secrets.reads(), 1);
        match &config.credential {
            Credential::ClientSecret(secret) => assert_eq!(secret.expose(), "the-client-secret"),
            other => panic!("expected a client secret, got {other:?}"),
        }
        assert_eq!(config.graph_base_url, "https://127.0.0.1:9");
        assert_eq!(config.authority_host, "https://127.0.0.1:9/");
        assert_eq!(config.tenant_id, TENANT.to_ascii_lowercase());
    }

    #[tokio::test]
    async fn the_quota_share_reaches_the_pacing_and_a_bad_one_is_named() {
        let secrets = StaticSecrets::new().with("arn:secret", "s");
        let pairs = |share: &'static str| {
            Env::from_pairs([
                (TENANT_ID, TENANT),
                (CLIENT_ID, CLIENT),
                (CLIENT_SECRET_ARN, "arn:secret"),
                (GRAPH_QUOTA_SHARE, share),
            ])
        };
        let settings = GraphSettings::from_env(&pairs("0.25")).unwrap();
        let config = settings.graph_config(&secrets, &aws()).await.unwrap();
        assert_eq!(config.pacing.quota_share.get(), 0.25);
        let whole = GraphSettings::from_env(&pairs(" ")).unwrap();
        let config = whole.graph_config(&secrets, &aws()).await.unwrap();
        assert_eq!(config.pacing.quota_share, QuotaShare::WHOLE);
        let err = GraphSettings::from_env(&pairs("2"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(GRAPH_QUOTA_SHARE), "{err}");
    }

    #[tokio::test]
    async fn empty_secret_arn_means_a_federated_assertion() {
        let secrets = StaticSecrets::new();
        let env = Env::from_pairs([
            (TENANT_ID, TENANT),
            (CLIENT_ID, CLIENT),
            (CLIENT_SECRET_ARN, ""),
        ]);
        let settings = GraphSettings::from_env(&env).unwrap();
        assert_eq!(settings.client_secret_arn, None);
        let config = settings.graph_config(&secrets, &aws()).await.unwrap();
        assert!(matches!(config.credential, Credential::ClientAssertion(_)));
        assert_eq!(secrets.reads(), 0);
    }

    #[tokio::test]
    async fn missing_client_secret_fails_start_up() {
        let secrets = StaticSecrets::new();
        let env = Env::from_pairs([
            (TENANT_ID, TENANT),
            (CLIENT_ID, CLIENT),
            (CLIENT_SECRET_ARN, "arn:nope"),
        ]);
        let settings = GraphSettings::from_env(&env).unwrap();
        let err = settings.graph_config(&secrets, &aws()).await.unwrap_err();
        assert!(matches!(err, RuntimeError::Secret(_)), "{err}");
    }

    #[test]
    fn extra_ca_that_is_neither_pem_nor_a_readable_file_is_an_error() {
        let err = read_pem("/nonexistent/ca.pem").unwrap_err().to_string();
        assert!(err.contains(EXTRA_CA_PEM), "{err}");
        assert!(read_pem("-----BEGIN CERTIFICATE-----\nx").is_ok());
    }
}
