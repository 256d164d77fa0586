//! How a [`crate::GraphClient`] is set up: who we are, where Graph is, how politely to call it.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::GraphError;
use crate::limits;
use crate::pacer::{Pacer, PacingConfig};
use crate::retry::RetryConfig;
use crate::secret::Secret;

/// Supplies a client assertion (a signed JWT) for each token request, e.g. an AWS-issued web
/// identity token for workload identity federation. Called whenever the cached access token
/// needs refreshing, so it should return a fresh assertion each time.
#[async_trait]
pub trait ClientAssertionProvider: Send + Sync + fmt::Debug {
    async fn assertion(&self) -> Result<Secret, AssertionError>;
}

/// Why a client assertion could not be produced.
#[derive(Debug, thiserror::Error)]
#[error("client assertion unavailable: {0}")]
pub struct AssertionError(pub String);

/// A fixed assertion: for tests, or a job shorter than the assertion's lifetime.
#[derive(Debug, Clone)]
pub struct StaticAssertion(pub Secret);

#[async_trait]
impl ClientAssertionProvider for StaticAssertion {
    async fn assertion(&self) -> Result<Secret, AssertionError> {
        Ok(self.0.clone())
    }
}

/// An assertion read from a file each time (a projected service-account token, the file that
/// `AZURE_FEDERATED_TOKEN_FILE` names, …), so a rotated file is picked up.
#[derive(Debug, Clone)]
pub struct FileAssertion(pub PathBuf);

#[async_trait]
impl ClientAssertionProvider for FileAssertion {
    async fn assertion(&self) -> Result<Secret, AssertionError> {
        let text = tokio::fs::read_to_string(&self.0)
            .await
            .map_err(|e| AssertionError(format!("reading {}: {e}", self.0.display())))?;
        let token = text.trim();
        if token.is_empty() {
            return Err(AssertionError(format!("{} is empty", self.0.display())));
        }
        Ok(Secret::new(token))
    }
}

/// How the app proves who it is to Entra.
#[derive(Clone)]
pub enum Credential {
    /// An app registration's client secret.
    ClientSecret(Secret),
    /// A client assertion (federated credential): no secret stored anywhere.
    ClientAssertion(Arc<dyn ClientAssertionProvider>),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::ClientSecret(_) => f.write_str("ClientSecret(<redacted>)"),
            Credential::ClientAssertion(p) => f.debug_tuple("ClientAssertion").field(p).finish(),
        }
    }
}

/// Everything a [`crate::GraphClient`] needs. Start from [`GraphConfig::new`] (public-cloud
/// defaults) and adjust with the `with_*` methods.
#[derive(Debug, Clone)]
pub struct GraphConfig {
    pub tenant_id: String,
    pub client_id: String,
    pub credential: Credential,
    /// Entra authority host; must be https (azure_identity refuses anything else).
    pub authority_host: String,
    /// Graph root, without version: `{graph_base_url}/v1.0/...`, `{graph_base_url}/beta/...`.
    pub graph_base_url: String,
    pub scope: String,
    /// One more root CA to trust besides the system's (the simulator's self-signed CA).
    pub extra_root_ca_pem: Option<String>,
    pub pacing: PacingConfig,
    /// A pacer to use instead of the process-wide one for this endpoint + tenant + app.
    pub pacer: Option<Arc<Pacer>>,
    pub retry: RetryConfig,
    /// Requests in flight at once through this client (and its clones).
    pub max_concurrency: usize,
    /// Whole-request deadline for one attempt.
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
}

impl GraphConfig {
    pub fn new(
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        credential: Credential,
    ) -> Self {
        Self {
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            credential,
            authority_host: limits::DEFAULT_AUTHORITY_HOST.to_owned(),
            graph_base_url: limits::DEFAULT_GRAPH_BASE_URL.to_owned(),
            scope: limits::GRAPH_DEFAULT_SCOPE.to_owned(),
            extra_root_ca_pem: None,
            pacing: PacingConfig::default(),
            pacer: None,
            retry: RetryConfig::default(),
            max_concurrency: 16,
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }

    pub fn with_graph_base_url(mut self, url: impl Into<String>) -> Self {
        self.graph_base_url = url.into();
        self
    }

    pub fn with_authority_host(mut self, url: impl Into<String>) -> Self {
        self.authority_host = url.into();
        self
    }

    pub fn with_extra_root_ca_pem(mut self, pem: impl Into<String>) -> Self {
        self.extra_root_ca_pem = Some(pem.into());
        self
    }

    pub fn with_pacing(mut self, pacing: PacingConfig) -> Self {
        self.pacing = pacing;
        self
    }

    pub fn with_pacer(mut self, pacer: Arc<Pacer>) -> Self {
        self.pacer = Some(pacer);
        self
    }

    /// This instance takes quota ÷ `divisor` (the SQS event source's `MaximumConcurrency`).
    pub fn with_instance_share_divisor(mut self, divisor: u32) -> Self {
        self.pacing.instance_share_divisor = divisor.max(1);
        self
    }

    /// This consumer takes `share` of the app + tenant quota (before dividing it between
    /// instances).
    pub fn with_quota_share(mut self, share: crate::QuotaShare) -> Self {
        self.pacing.quota_share = share;
        self
    }

    pub fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = n.max(1);
        self
    }

    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Applies the local/test-only overrides (ARCHITECTURE.md): `AUTOENROLL_GRAPH_BASE_URL`,
    /// `AUTOENROLL_AUTHORITY_HOST`, and `AUTOENROLL_EXTRA_CA_PEM` (PEM text, or a path to a PEM
    /// file). Unset or empty variables change nothing.
    pub fn with_local_overrides_from_env(mut self) -> Result<Self, GraphError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        if let Some(url) = var("AUTOENROLL_GRAPH_BASE_URL") {
            self.graph_base_url = url;
        }
        if let Some(url) = var("AUTOENROLL_AUTHORITY_HOST") {
            self.authority_host = url;
        }
        if let Some(pem) = var("AUTOENROLL_EXTRA_CA_PEM") {
            self.extra_root_ca_pem = Some(if pem.contains("-----BEGIN") {
                pem
            } else {
                std::fs::read_to_string(pem.trim()).map_err(|e| {
                    GraphError::config(format!(
                        "AUTOENROLL_EXTRA_CA_PEM: reading {}: {e}",
                        pem.trim()
                    ))
                })?
            });
        }
        Ok(self)
    }

    /// The key under which clients share a pacer: the quota is per app + tenant, per cloud.
    pub(crate) fn pacer_key(&self) -> String {
        format!(
            "{}|{}|{}",
            self.graph_base_url.trim_end_matches('/'),
            self.tenant_id.to_ascii_lowercase(),
            self.client_id.to_ascii_lowercase()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_debug_never_shows_the_client_secret() {
        let config = GraphConfig::new(
            "t",
            "c",
            Credential::ClientSecret(Secret::new("s3cr3t-value")),
        );
        let text = format!("{config:?}");
        assert!(!text.contains("s3cr3t-value"), "{text}");
        assert!(text.contains("ClientSecret(<redacted>)"));
    }

    #[test]
    fn defaults_point_at_the_public_cloud() {
        let config = GraphConfig::new("t", "c", Credential::ClientSecret(Secret::new("s")));
        assert_eq!(config.graph_base_url, "https://graph.microsoft.com");
        assert_eq!(config.authority_host, "https://login.microsoftonline.com/");
        assert_eq!(config.scope, "https://graph.microsoft.com/.default");
    }

    #[test]
    fn pacer_key_ignores_case_and_trailing_slash() {
        let a = GraphConfig::new("Tenant", "App", Credential::ClientSecret(Secret::new("s")))
            .with_graph_base_url("https://g/");
        let b = GraphConfig::new("tenant", "app", Credential::ClientSecret(Secret::new("s")))
            .with_graph_base_url("https://g");
        assert_eq!(a.pacer_key(), b.pacer_key());
    }

    #[tokio::test]
    async fn file_assertion_is_reread_and_trimmed() {
        let dir = std::env::temp_dir().join(format!("ae-graph-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        std::fs::write(&path, "jwt-one\n").unwrap();
        let provider = FileAssertion(path.clone());
        assert_eq!(provider.assertion().await.unwrap().expose(), "jwt-one");
        std::fs::write(&path, "jwt-two").unwrap();
        assert_eq!(provider.assertion().await.unwrap().expose(), "jwt-two");
        std::fs::write(&path, "  ").unwrap();
        assert!(provider.assertion().await.is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
