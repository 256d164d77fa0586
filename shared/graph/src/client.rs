//! The client core: one reqwest client, tokens, pacing, bounded concurrency, retries, tracing.
//! The typed calls live in [`crate::resources`]; they all go through [`GraphClient::run`].

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use futures::StreamExt;
use http::Method;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use url::Url;

use crate::auth;
use crate::config::GraphConfig;
use crate::error::GraphError;
use crate::pacer::Pacer;
use crate::retry::{RetryConfig, RetrySafety};
use crate::secret::Secret;

mod request;
mod send;

pub(crate) use request::{GraphRequest, GraphResponse};
pub use request::{ItemStream, Page, PageStream, items};
pub(crate) use send::throttled_budget;

/// Graph's two API versions. Chosen per call, never globally: phone methods are v1.0, sign-in
/// preferences and per-user MFA state exist only in beta.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiVersion {
    V1,
    Beta,
}

impl ApiVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1.0",
            ApiVersion::Beta => "beta",
        }
    }
}

/// A Microsoft Graph client. Cheap to clone; clones share the connection pool, the token cache,
/// the concurrency limit and the pacer.
#[derive(Clone)]
pub struct GraphClient {
    inner: Arc<Inner>,
    /// Calls through this handle give up waiting (for budget or a retry) that would end after
    /// this instant: see [`GraphClient::until`].
    deadline: Option<Instant>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    credential: Arc<dyn TokenCredential>,
    scope: String,
    pacer: Arc<Pacer>,
    permits: Semaphore,
    retry: RetryConfig,
    request_timeout: Duration,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("base", &self.inner.base.as_str())
            .finish_non_exhaustive()
    }
}

impl GraphClient {
    /// Builds the client: one reqwest client (with the extra root CA, if any) used for Graph
    /// calls and, through azure_core's transport, for token requests.
    pub fn new(config: GraphConfig) -> Result<Self, GraphError> {
        let mut base = Url::parse(&config.graph_base_url)
            .map_err(|e| GraphError::config(format!("Graph base URL: {e}")))?;
        if base.cannot_be_a_base() {
            return Err(GraphError::config("Graph base URL cannot be a base"));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.request_timeout)
            // Graph does not redirect the calls we make; a redirect would carry our token away.
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("autoenroll-graph/", env!("CARGO_PKG_VERSION")));
        // Trust roots: Mozilla's set, compiled in (webpki-root-certs), not the platform store:
        // the platform verifier reads every file of the system store at start-up, a large part
        // of a function's cold start (BENCHMARKS.md, scenario 3). Graph's and Entra's chains end
        // in DigiCert / Microsoft roots, which are in that set.
        let mut roots: Vec<reqwest::Certificate> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .filter_map(|der| reqwest::Certificate::from_der(der.as_ref()).ok())
            .collect();
        if let Some(pem) = &config.extra_root_ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| GraphError::config(format!("extra root CA PEM: {e}")))?;
            if certs.is_empty() {
                return Err(GraphError::config("extra root CA PEM holds no certificate"));
            }
            roots.extend(certs);
        }
        builder = builder.tls_certs_only(roots);
        let http = builder
            .build()
            .map_err(|e| GraphError::config(format!("building the HTTP client: {e}")))?;
        let credential = auth::build_credential(&config, http.clone())?;
        let pacer = match &config.pacer {
            Some(pacer) => pacer.clone(),
            None => Pacer::shared(&config.pacer_key(), &config.pacing),
        };
        Ok(Self {
            deadline: None,
            inner: Arc::new(Inner {
                http,
                base,
                credential,
                scope: config.scope,
                pacer,
                permits: Semaphore::new(config.max_concurrency.max(1)),
                retry: config.retry,
                request_timeout: config.request_timeout,
            }),
        })
    }

    /// A handle whose calls end with [`GraphErrorKind::Deferred`](crate::GraphErrorKind) instead of
    /// waiting for budget past `deadline`, and stop retrying when the next retry would start
    /// after it (the caller's invocation ends then; a wait that outlives it times out the whole
    /// batch). Shares everything else with `self`.
    pub fn until(&self, deadline: Instant) -> GraphClient {
        GraphClient {
            inner: self.inner.clone(),
            deadline: Some(deadline),
        }
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The pacer this client draws on (shared process-wide per endpoint + tenant + app).
    pub fn pacer(&self) -> &Arc<Pacer> {
        &self.inner.pacer
    }

    pub(crate) fn retry_config(&self) -> &RetryConfig {
        &self.inner.retry
    }

    /// The reqwest client shared by Graph calls and token requests.
    pub fn http_client(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// A Graph access token (cached by the credential, refreshed before expiry).
    pub async fn access_token(&self) -> Result<Secret, GraphError> {
        let scopes = [self.inner.scope.as_str()];
        let token = self
            .inner
            .credential
            .get_token(&scopes, None)
            .await
            .map_err(|e| GraphError::from_credential(&e))?;
        Ok(Secret::new(token.token.secret().to_owned()))
    }

    /// Starts getting the access token in the background (not awaited) and returns its task.
    /// A function calls this at start-up, so the token request — a round trip to Entra and its
    /// TLS handshake — overlaps with the rest of init and the wait for the first event instead
    /// of delaying the first user's writes. A call that needs the token while this is under way
    /// waits for it on the credential's cache lock (azure_identity's `TokenCache` refreshes
    /// under a write lock and re-checks), so there is still one token request. A failure is
    /// only logged (without any secret): the first real call asks again and reports it.
    pub fn warm_up(&self) -> tokio::task::JoinHandle<()> {
        let client = self.clone();
        tokio::spawn(async move {
            if let Err(e) = client.access_token().await {
                tracing::warn!(error = %e, "token warm-up failed; the first Graph call asks again");
            }
        })
    }

    /// The application permissions (`roles`) granted to this app, from the access token.
    pub async fn granted_roles(&self) -> Result<Vec<String>, GraphError> {
        let token = self.access_token().await?;
        Ok(auth::token_roles(token.expose()))
    }

    /// `{base}/{version}/{segments…}`, each segment percent-encoded on its own (UPNs of guests
    /// hold `#`, which would otherwise end the path).
    pub(crate) fn url(&self, api: ApiVersion, segments: &[&str]) -> Url {
        let mut url = self.inner.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push(api.as_str());
            for segment in segments {
                path.push(segment);
            }
        }
        url
    }

    /// A request with the defaults for its method: GETs draw 1 resource unit and may be
    /// repeated; writes draw 1 write, and only a non-POST may be repeated after a 5xx.
    pub(crate) fn request(
        &self,
        method: Method,
        api: ApiVersion,
        route: &'static str,
        segments: &[&str],
    ) -> GraphRequest {
        // Costs: MGDC concepts/throttling-limits.md — a write is 1 RU + 1 write; the write
        // budget is by far the tighter one, so writes are paced on it alone.
        let (reads, writes, safety) = if method == Method::GET {
            (1, 0, RetrySafety::Idempotent)
        } else if method == Method::POST {
            (0, 1, RetrySafety::OnlyIfNotProcessed)
        } else {
            (0, 1, RetrySafety::Idempotent)
        };
        GraphRequest {
            url: self.url(api, segments),
            method,
            route,
            api,
            body: None,
            safety,
            reads,
            writes,
        }
    }

    /// Whether `link` (an `@odata.nextLink` / `deltaLink`) points at our Graph endpoint: we never
    /// send our token to another origin because a response said so.
    pub(crate) fn check_link(&self, link: &str) -> Result<Url, GraphError> {
        let url = Url::parse(link)
            .map_err(|e| GraphError::decode(format!("bad link from Graph: {e}"), None))?;
        if url.origin() != self.inner.base.origin() {
            return Err(GraphError::decode(
                "Graph returned a link to another origin; not following it",
                None,
            ));
        }
        Ok(url)
    }

    /// Streams a collection page by page, following `@odata.nextLink`; only one page is held in
    /// memory at a time however large the tenant.
    pub(crate) fn pages<T>(&self, first: GraphRequest) -> PageStream<T>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let client = self.clone();
        futures::stream::try_unfold(Some(first), move |next| {
            let client = client.clone();
            async move {
                let Some(req) = next else {
                    return Ok(None);
                };
                let page: Page<T> = client.send_json(&req).await?;
                let following = match &page.next_link {
                    Some(link) => Some(GraphRequest {
                        url: client.check_link(link)?,
                        ..req
                    }),
                    None => None,
                };
                Ok(Some((page, following)))
            }
        })
        .boxed()
    }

    /// Every item of a collection (for the small ones: a user's methods, role members…).
    pub(crate) async fn collect_all<T>(&self, first: GraphRequest) -> Result<Vec<T>, GraphError>
    where
        T: DeserializeOwned + Send + 'static,
    {
        use futures::TryStreamExt;
        let pages = self.pages::<T>(first);
        futures::pin_mut!(pages);
        let mut all = Vec::new();
        while let Some(page) = pages.try_next().await? {
            all.extend(page.value);
        }
        Ok(all)
    }
}
