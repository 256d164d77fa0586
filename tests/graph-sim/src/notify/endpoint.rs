//! The notification HTTP clients, endpoint URL checks and the validation handshake.

use std::time::Duration as StdDuration;

use axum::http::StatusCode;

use crate::AppState;
use crate::error::GraphError;

/// The two HTTP clients deliveries use. Neither follows redirects (a 3xx is a failure, as for
/// any non-2xx). Loopback endpoints (tests, the local stack) may be plain http or https with
/// any certificate; anything else must be https with a certificate the platform trusts.
#[derive(Debug, Clone)]
pub(crate) struct HttpClients {
    loopback: reqwest::Client,
    remote: reqwest::Client,
}

impl HttpClients {
    pub(super) fn new() -> Result<Self, reqwest::Error> {
        let loopback = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .tls_danger_accept_invalid_certs(true)
            .no_proxy()
            .build()?;
        let remote = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .https_only(true)
            .build()?;
        Ok(Self { loopback, remote })
    }

    pub(super) fn for_url(&self, url: &url::Url) -> &reqwest::Client {
        if is_loopback(url) {
            &self.loopback
        } else {
            &self.remote
        }
    }
}

pub(crate) fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Graph requires https for notification and lifecycle URLs (resources/subscription.md). The
/// simulator also accepts plain http on loopback, where test webhooks and the local stack live.
pub(crate) fn check_endpoint_url(property: &str, raw: &str) -> Result<url::Url, GraphError> {
    let invalid = |why: &str| {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            format!("Invalid '{property}': {why}"),
        )
    };
    let url = url::Url::parse(raw).map_err(|_| invalid("not an absolute URL."))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        _ => Err(invalid("the URL must use the HTTPS protocol.")),
    }
}

/// Percent-encodes like .NET's `HttpUtility.UrlEncode`, which is what Graph's validation
/// requests look like on the wire (`Validation%3a+Testing+client…`): space as `+`, lower-case
/// hex, `-_.!*()` and alphanumerics kept. The webhook has to URL-decode it.
pub(crate) fn dotnet_url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'a'..=b'z'
            | b'A'..=b'Z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'*'
            | b'('
            | b')' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02x}")),
        }
    }
    out
}

/// The token Graph sends: real ones are a sentence, not an opaque string (docs-contrib issue
/// #21160 quotes one), with spaces and colons that must survive URL decoding.
pub(crate) fn new_validation_token() -> String {
    format!(
        "Validation: Testing client application reachability for subscription Request-Id: {}",
        uuid::Uuid::new_v4()
    )
}

/// `{url}?validationToken=…`, keeping any query string the URL already has (Graph includes
/// it in every request to the endpoint).
pub(super) fn with_validation_token(url: &url::Url, token: &str) -> String {
    let sep = if url.query().is_some() { '&' } else { '?' };
    format!("{url}{sep}validationToken={}", dotnet_url_encode(token))
}

fn validation_failed(which: &str, why: &str) -> GraphError {
    // Graph's wording for a failed handshake: "Subscription validation request failed. …"
    // (code InvalidRequest), as reported in many client projects.
    GraphError::new(
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
        format!("Subscription validation request failed. {why} ({which})"),
    )
}

/// The handshake: POST `{url}?validationToken=…`; the endpoint must answer within the
/// validation timeout with exactly 200, a `text/plain` content type and the decoded token.
pub(crate) async fn validate_endpoint(
    state: &AppState,
    which: &str,
    url: &url::Url,
) -> Result<(), GraphError> {
    let (clients, timeout) = state.tenant.with(|t| {
        let d = &mut t.subscriptions.delivery;
        d.counters.validations += 1;
        (d.clients.clone(), d.options.validation_timeout_ms)
    });
    let result = match clients {
        None => Err(validation_failed(
            which,
            "The notification service is not running.",
        )),
        Some(clients) => handshake(&clients, which, url, StdDuration::from_millis(timeout)).await,
    };
    if result.is_err() {
        state
            .tenant
            .with(|t| t.subscriptions.delivery.counters.validation_failures += 1);
    }
    result
}

async fn handshake(
    clients: &HttpClients,
    which: &str,
    url: &url::Url,
    timeout: StdDuration,
) -> Result<(), GraphError> {
    let token = new_validation_token();
    let request = clients
        .for_url(url)
        .post(with_validation_token(url, &token))
        .header("content-type", "text/plain; charset=utf-8")
        .body(Vec::new());
    let exchange = async {
        let response = request.send().await?;
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let body = response.bytes().await?;
        Ok::<_, reqwest::Error>((status, content_type, body))
    };
    let (status, content_type, body) = match tokio::time::timeout(timeout, exchange).await {
        Err(_) => {
            return Err(GraphError::new(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                format!("Subscription validation request timed out. ({which})"),
            ));
        }
        Ok(Err(e)) => {
            tracing::debug!(which, error = %e, "validation request failed");
            return Err(validation_failed(
                which,
                "The notification endpoint could not be reached.",
            ));
        }
        Ok(Ok(r)) => r,
    };
    if status != reqwest::StatusCode::OK {
        return Err(validation_failed(
            which,
            "Notification endpoint must respond with 200 OK to validation request.",
        ));
    }
    // Docs: "A content type of text/plain". Parameters (charset) are fine.
    if content_type.split(';').next().map(str::trim) != Some("text/plain") {
        return Err(validation_failed(
            which,
            "Response must have a 'text/plain' content type.",
        ));
    }
    // Docs: the body must be the URL-decoded token; an encoded one fails. Compared exactly
    // (docs silent on whitespace; stricter).
    if body.as_ref() != token.as_bytes() {
        return Err(validation_failed(
            which,
            "Response must exactly match validationToken query parameter.",
        ));
    }
    Ok(())
}
