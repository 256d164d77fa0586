//! Sending: the retry loop around one call, one attempt (budget, precondition, concurrency
//! slot, token, request) and the pacer's feedback from Graph's answer.

use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use backon::Retryable;
use http::HeaderMap;
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use tracing::{Instrument, field};

use super::{GraphClient, GraphRequest, GraphResponse};
use crate::error::GraphError;
use crate::pacer::BudgetClass;
use crate::retry::next_delay;

impl GraphClient {
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
