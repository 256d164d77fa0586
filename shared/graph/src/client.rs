//! The client core: one reqwest client, tokens, pacing, bounded concurrency, retries, tracing.
//! The typed calls live in [`crate::resources`]; they all go through [`GraphClient::run`].

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use backon::Retryable;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use http::{HeaderMap, Method};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::{Instrument, field};
use url::Url;

use crate::auth;
use crate::config::GraphConfig;
use crate::error::GraphError;
use crate::pacer::{BudgetClass, Pacer};
use crate::retry::{RetryConfig, RetrySafety, next_delay};
use crate::secret::Secret;

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

/// One HTTP request as the client core sends it.
#[derive(Debug, Clone)]
pub(crate) struct GraphRequest {
    pub method: Method,
    pub url: Url,
    /// Route template for logs (`/users/{id}/authentication/phoneMethods`): never ids or queries.
    pub route: &'static str,
    pub api: ApiVersion,
    pub body: Option<Bytes>,
    pub safety: RetrySafety,
    /// Resource units drawn from the read budget.
    pub reads: u32,
    /// Writes drawn from the write budget.
    pub writes: u32,
}

impl GraphRequest {
    pub fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Result<Self, GraphError> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| GraphError::config(format!("serialising the request body: {e}")))?;
        self.body = Some(Bytes::from(bytes));
        Ok(self)
    }

    pub fn empty_body(mut self) -> Self {
        self.body = Some(Bytes::new());
        self
    }

    pub fn safety(mut self, safety: RetrySafety) -> Self {
        self.safety = safety;
        self
    }

    /// Resource units this read costs (GET user: 2, minus 1 with `$select`; minimum 1).
    pub fn read_cost(mut self, units: u32) -> Self {
        self.reads = units.max(1);
        self
    }

    /// The budget Graph's throttling feedback on this request is about.
    pub fn budget(&self) -> BudgetClass {
        if self.writes > 0 {
            BudgetClass::Write
        } else {
            BudgetClass::Read
        }
    }
}

/// A successful (2xx) response.
#[derive(Debug, Clone)]
pub(crate) struct GraphResponse {
    pub status: u16,
    pub body: Bytes,
    pub request_id: Option<String>,
}

impl GraphResponse {
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, GraphError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            // serde's message names the field and position, never the value.
            GraphError::decode(
                format!("unexpected response body: {e}"),
                self.request_id.clone(),
            )
        })
    }
}

/// A collection read page by page (see [`GraphClient::pages`]).
pub type PageStream<T> = BoxStream<'static, Result<Page<T>, GraphError>>;

/// A collection read item by item (pages fetched as needed).
pub type ItemStream<T> = BoxStream<'static, Result<T, GraphError>>;

/// Flattens pages into their items.
pub fn items<T: Send + 'static>(pages: PageStream<T>) -> ItemStream<T> {
    use futures::TryStreamExt;
    pages
        .map_ok(|page| futures::stream::iter(page.value.into_iter().map(Ok::<T, GraphError>)))
        .try_flatten()
        .boxed()
}

/// One page of a Graph collection.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    #[serde(default, rename = "@odata.nextLink")]
    pub next_link: Option<String>,
    /// Only on the last page of a delta round: where the next round starts.
    #[serde(default, rename = "@odata.deltaLink")]
    pub delta_link: Option<String>,
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
        // Trust roots: Mozilla's set, compiled in (webpki-root-certs), not the platform store.
        // The platform verifier read every file of the system store at start-up — 290 files
        // here, a bundle plus a directory on Amazon Linux — ~15 % of the enroll function's
        // cold-start CPU (BENCHMARKS.md, scenario 3). Graph's and Entra's chains end in
        // DigiCert / Microsoft roots, which are in that set.
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

    /// Sends `req` with retries and returns the 2xx response.
    pub(crate) async fn send(&self, req: &GraphRequest) -> Result<GraphResponse, GraphError> {
        self.run(req, |attempt| self.attempt_unconditional(req, attempt))
            .await
    }

    /// One attempt with no precondition.
    pub(crate) async fn attempt_unconditional(
        &self,
        req: &GraphRequest,
        attempt: u32,
    ) -> Result<GraphResponse, GraphError> {
        let go_ahead = || async { Ok(true) };
        self.attempt(req, attempt, &go_ahead)
            .await?
            .ok_or_else(|| GraphError::config("a call without a precondition was withheld"))
    }

    /// Sends the write `req` unless `still_wanted` says otherwise: it is asked (and may read
    /// Graph) before any attempt that had to wait — for budget, or after a failed attempt — since
    /// someone else may have changed what the write was planned on meanwhile. `Ok(None)`: not
    /// sent, `still_wanted` said no.
    pub(crate) async fn send_unless_changed<F, Fut>(
        &self,
        req: &GraphRequest,
        still_wanted: F,
    ) -> Result<Option<GraphResponse>, GraphError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<bool, GraphError>>,
    {
        self.run(req, |attempt| self.attempt(req, attempt, &still_wanted))
            .await
    }

    pub(crate) async fn send_json<T: DeserializeOwned>(
        &self,
        req: &GraphRequest,
    ) -> Result<T, GraphError> {
        self.send(req).await?.json()
    }

    /// Runs `op` (one attempt; told its attempt number, from 1) under `req`'s retry policy,
    /// in one tracing span for the whole call.
    pub(crate) async fn run<T, Op, Fut>(
        &self,
        req: &GraphRequest,
        mut op: Op,
    ) -> Result<T, GraphError>
    where
        Op: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, GraphError>>,
    {
        let span = tracing::info_span!(
            "graph",
            method = %req.method,
            route = req.route,
            api = req.api.as_str(),
            status = field::Empty,
            attempt = field::Empty,
            request_id = field::Empty,
            duration_ms = field::Empty,
        );
        let started = Instant::now();
        let attempts = AtomicU32::new(0);
        let slept_nanos = AtomicU64::new(0);
        let config = &self.inner.retry;
        let safety = req.safety;
        let result = (|| op(attempts.fetch_add(1, Ordering::Relaxed) + 1))
            .retry(config.backoff())
            .sleep(tokio::time::sleep)
            .when(|e: &GraphError| safety.allows(e))
            .adjust(|e: &GraphError, cap| {
                let spent = Duration::from_nanos(slept_nanos.load(Ordering::Relaxed));
                let delay = next_delay(e, cap, spent, config, rand::random::<f64>())
                    .filter(|d| self.deadline.is_none_or(|end| Instant::now() + *d < end));
                if let Some(d) = delay {
                    let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
                    slept_nanos.fetch_add(nanos, Ordering::Relaxed);
                }
                delay
            })
            .notify(|e: &GraphError, delay| {
                tracing::warn!(
                    status = e.status,
                    code = e.code.as_deref(),
                    kind = ?e.kind,
                    throttle_scope = e.throttle_scope.as_deref(),
                    request_id = e.request_id.as_deref(),
                    attempt = attempts.load(Ordering::Relaxed),
                    delay_ms = delay.as_millis() as u64,
                    "Graph call failed; retrying"
                );
            })
            .instrument(span.clone())
            .await;
        let duration_ms = started.elapsed().as_millis() as u64;
        span.record("duration_ms", duration_ms);
        span.in_scope(|| match &result {
            Ok(_) => tracing::debug!("Graph call succeeded"),
            Err(e) => tracing::debug!(
                status = e.status,
                code = e.code.as_deref(),
                kind = ?e.kind,
                "Graph call failed"
            ),
        });
        result
    }

    /// One attempt: the budget (booked when the request really leaves, so the pacer's window
    /// matches what Graph sees), the precondition if the attempt had to wait, then a concurrency
    /// slot, the token and the request. The slot is taken after the budget so that a write
    /// waiting for write budget does not hold a slot a read could use.
    pub(crate) async fn attempt<F, Fut>(
        &self,
        req: &GraphRequest,
        attempt: u32,
        still_wanted: &F,
    ) -> Result<Option<GraphResponse>, GraphError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<bool, GraphError>>,
    {
        let span = tracing::Span::current();
        span.record("attempt", attempt);
        let mut waited = Duration::ZERO;
        for (class, cost) in [
            (BudgetClass::Write, req.writes),
            (BudgetClass::Read, req.reads),
        ] {
            if cost > 0 {
                waited += self
                    .inner
                    .pacer
                    .acquire_before(class, cost, self.deadline)
                    .await
                    .map_err(|_| GraphError::deferred(class))?;
            }
        }
        if waited >= Duration::from_millis(1) {
            tracing::debug!(waited_ms = waited.as_millis() as u64, "paced");
        }
        if (waited > Duration::ZERO || attempt > 1) && !still_wanted().await? {
            tracing::info!("write withheld: what it was planned on changed while it waited");
            return Ok(None);
        }
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|_| GraphError::config("the client's concurrency limit was closed"))?;
        let token = self.access_token().await?;
        let mut builder = self
            .inner
            .http
            .request(req.method.clone(), req.url.clone())
            .bearer_auth(token.expose())
            .timeout(self.inner.request_timeout)
            .header(http::header::ACCEPT, "application/json");
        if let Some(body) = &req.body {
            if !body.is_empty() {
                builder = builder.header(http::header::CONTENT_TYPE, "application/json");
            }
            // An empty body still says `Content-Length: 0`, which Graph wants on body-less POSTs.
            builder = builder.body(body.clone());
        }
        let response = builder.send().await.map_err(GraphError::from_reqwest)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let request_id = headers
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        span.record("status", status);
        if let Some(id) = &request_id {
            span.record("request_id", id.as_str());
        }
        self.feed_back(req, status, &headers);
        let body = response.bytes().await.map_err(GraphError::from_reqwest)?;
        if (200..300).contains(&status) {
            Ok(Some(GraphResponse {
                status,
                body,
                request_id,
            }))
        } else {
            Err(GraphError::from_response(status, &headers, &body))
        }
    }

    /// Tells the pacer what Graph said about our rate.
    fn feed_back(&self, req: &GraphRequest, status: u16, headers: &HeaderMap) {
        let pacer = &self.inner.pacer;
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(fraction) =
            header("x-ms-throttle-limit-percentage").and_then(|v| v.trim().parse::<f64>().ok())
        {
            pacer.on_limit_percentage(req.budget(), fraction);
        }
        if status == 429 {
            let class = throttled_budget(
                header("x-ms-throttle-scope"),
                header("x-ms-throttle-information"),
                req.budget(),
            );
            let retry_after = header("retry-after")
                .and_then(|v| crate::retry::parse_retry_after(v, std::time::SystemTime::now()));
            pacer.on_throttled(class, retry_after);
        } else if (200..300).contains(&status) {
            pacer.on_success(req.budget());
        }
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

/// Which budget a 429 speaks about: `x-ms-throttle-information` (`WriteLimitExceeded`,
/// `ResourceUnitLimitExceeded`) or `x-ms-throttle-scope` (`Tenant_Application/Write/…`) name it;
/// without them, the budget of the request. MGDC concepts/throttling-limits.md.
pub(crate) fn throttled_budget(
    scope: Option<&str>,
    information: Option<&str>,
    requested: BudgetClass,
) -> BudgetClass {
    let information = information.unwrap_or_default().to_ascii_lowercase();
    if information.contains("write") {
        return BudgetClass::Write;
    }
    if information.contains("resourceunit") {
        return BudgetClass::Read;
    }
    match scope {
        Some(scope)
            if scope
                .split('/')
                .any(|part| part.eq_ignore_ascii_case("Write")) =>
        {
            BudgetClass::Write
        }
        Some(scope) if scope.to_ascii_lowercase().contains("resourceunit") => BudgetClass::Read,
        _ => requested,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_headers_pick_the_budget_to_slow_down() {
        let scope = |s| throttled_budget(Some(s), None, BudgetClass::Read);
        assert_eq!(
            scope("Tenant_Application/Write/app/tenant"),
            BudgetClass::Write
        );
        assert_eq!(
            throttled_budget(
                Some("Tenant_Application/ResourceUnitLimit/app/tenant"),
                None,
                BudgetClass::Write
            ),
            BudgetClass::Read
        );
        assert_eq!(
            throttled_budget(
                Some("Tenant_Application/ReadWrite/app/tenant"),
                Some("ResourceUnitLimitExceeded"),
                BudgetClass::Write
            ),
            BudgetClass::Read
        );
        assert_eq!(
            throttled_budget(None, Some("WriteLimitExceeded"), BudgetClass::Read),
            BudgetClass::Write
        );
        assert_eq!(
            throttled_budget(None, None, BudgetClass::Write),
            BudgetClass::Write
        );
    }
}
