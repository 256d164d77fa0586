//! The one error type of this crate, and the parsing of Graph's error responses.

use std::fmt;
use std::time::Duration;

mod from;
mod mask;

pub use mask::mask_phone_like;

/// What went wrong, coarsely. The HTTP details (if any) live in [`GraphError`]'s fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GraphErrorKind {
    /// Graph answered with a non-success status.
    Http,
    /// The connection could not be established: the request never reached Graph.
    Connect,
    /// The connection broke after the request may have been sent.
    Transport,
    /// No answer within the per-request timeout (the request may have landed).
    Timeout,
    /// The token endpoint refused us or could not be reached.
    Authentication,
    /// Graph answered 2xx with a body we could not read.
    Decode,
    /// The client was configured or called wrongly (bad URL, bad CA PEM, unknown phone type…).
    Config,
    /// Not sent: the budget for it would only be there after the caller's deadline
    /// ([`crate::GraphClient::until`]). The caller tries again in a later invocation.
    Deferred,
}

/// An error from Graph or from the way to it. (Text fields are `Box<str>` to keep the error
/// small; `err.code.as_deref()` reads them as `Option<&str>`.)
///
/// `status`, `code` (Graph's `error.code`, e.g. `Request_ResourceNotFound`), `message`
/// (phone-number-like text masked), `request_id` and the throttling headers are kept so the domain can
/// tell "already exists" from "invalid number" from "forbidden", and support can find the call.
#[derive(Debug, Clone, thiserror::Error)]
pub struct GraphError {
    pub kind: GraphErrorKind,
    pub status: Option<u16>,
    pub code: Option<Box<str>>,
    pub message: String,
    pub request_id: Option<Box<str>>,
    /// `x-ms-throttle-scope`, e.g. `Tenant_Application/Write/{appId}/{tenantId}`.
    pub throttle_scope: Option<Box<str>>,
    /// `x-ms-throttle-information`, e.g. `WriteLimitExceeded`.
    pub throttle_information: Option<Box<str>>,
    /// `Retry-After`, when Graph sent one.
    pub retry_after: Option<Duration>,
    /// Why the token endpoint failed, when it did (`kind` is then
    /// [`GraphErrorKind::Authentication`] or [`GraphErrorKind::Connect`]).
    pub token_failure: Option<Box<TokenFailure>>,
}

/// How getting an access token failed: lets a caller tell a refused credential (fix the
/// configuration) from an outage (retry later) without reading messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenFailure {
    /// Entra refused the request (4xx): `error` is the OAuth error, `aadsts` the AADSTS codes
    /// (`error_codes`). Does not heal by retrying.
    Refused {
        status: u16,
        error: OAuthError,
        aadsts: Vec<u32>,
    },
    /// Entra failed or throttled (5xx, 429), after azure_identity's own retries.
    Unavailable { status: u16 },
    /// No answer within the request timeout.
    Timeout,
    /// The token endpoint could not be reached (DNS, connect, TLS).
    Unreachable,
    /// Anything else (e.g. the client-assertion provider failed, an unreadable answer).
    Other,
}

/// The OAuth `error` of a token response (RFC 6749 §5.2, and Entra's `invalid_tenant`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthError {
    /// Bad, expired or missing secret or assertion.
    InvalidClient,
    /// The app is unknown to the tenant or disabled.
    UnauthorizedClient,
    InvalidRequest,
    InvalidScope,
    InvalidGrant,
    InvalidTenant,
    UnsupportedGrantType,
    TemporarilyUnavailable,
    ServerError,
    Other(Box<str>),
}

impl OAuthError {
    pub fn parse(error: &str) -> Self {
        match error {
            "invalid_client" => Self::InvalidClient,
            "unauthorized_client" => Self::UnauthorizedClient,
            "invalid_request" => Self::InvalidRequest,
            "invalid_scope" => Self::InvalidScope,
            "invalid_grant" => Self::InvalidGrant,
            "invalid_tenant" => Self::InvalidTenant,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "temporarily_unavailable" => Self::TemporarilyUnavailable,
            "server_error" => Self::ServerError,
            other => Self::Other(other.into()),
        }
    }
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(status) => write!(f, "Graph {status}")?,
            None => write!(f, "Graph {:?} error", self.kind)?,
        }
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(id) = &self.request_id {
            write!(f, " (request-id {id})")?;
        }
        Ok(())
    }
}

impl GraphError {
    pub(crate) fn new(kind: GraphErrorKind, message: impl AsRef<str>) -> Self {
        Self {
            kind,
            status: None,
            code: None,
            message: mask_phone_like(message.as_ref()),
            request_id: None,
            throttle_scope: None,
            throttle_information: None,
            retry_after: None,
            token_failure: None,
        }
    }

    pub(crate) fn config(message: impl AsRef<str>) -> Self {
        Self::new(GraphErrorKind::Config, message)
    }

    pub(crate) fn deferred(class: crate::pacer::BudgetClass) -> Self {
        Self::new(
            GraphErrorKind::Deferred,
            format!("no {class:?} budget before the deadline; not sent"),
        )
    }

    pub(crate) fn decode(message: impl AsRef<str>, request_id: Option<String>) -> Self {
        Self {
            request_id: request_id.map(Box::from),
            ..Self::new(GraphErrorKind::Decode, message)
        }
    }

    /// Worth trying again: throttled (429), a transient server state (502/503/504), or the
    /// connection failed or timed out. Whether a retry is *safe* depends on the call too.
    pub fn is_retryable(&self) -> bool {
        match self.kind {
            GraphErrorKind::Connect | GraphErrorKind::Transport | GraphErrorKind::Timeout => true,
            GraphErrorKind::Http => matches!(self.status, Some(429 | 502 | 503 | 504)),
            _ => false,
        }
    }

    /// The request was certainly not carried out, so even a non-idempotent call may be sent again:
    /// Graph rejects a throttled request before doing it, and a failed connect sent nothing.
    pub fn was_not_processed(&self) -> bool {
        self.is_throttled() || self.kind == GraphErrorKind::Connect
    }

    pub fn is_throttled(&self) -> bool {
        self.kind == GraphErrorKind::Http && self.status == Some(429)
    }

    pub fn is_not_found(&self) -> bool {
        self.status == Some(404)
            || matches!(
                self.code.as_deref(),
                Some("Request_ResourceNotFound" | "ResourceNotFound" | "itemNotFound")
            )
    }

    /// "A phone of that type already exists", "One or more added object references already
    /// exist" (group membership), or a conflict. Graph's docs do not name a code for the phone
    /// case (see graph-spec/BEHAVIOUR.md), so the message is matched as community scripts do.
    pub fn is_already_exists(&self) -> bool {
        if self.kind != GraphErrorKind::Http {
            return false;
        }
        let code = self
            .code
            .as_deref()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let message = self.message.to_ascii_lowercase();
        self.status == Some(409)
            || code.contains("alreadyexist")
            || code.contains("conflict")
            || message.contains("already exist")
    }

    /// Why the token endpoint failed, if that is what this error is.
    pub fn token_failure(&self) -> Option<&TokenFailure> {
        self.token_failure.as_deref()
    }

    /// 403 `Authentication_RequestFromNonPremiumTenantOrB2CTenant`: the API (e.g. the
    /// registration report) needs an Entra ID P1/P2 tenant.
    pub fn is_premium_licence_required(&self) -> bool {
        self.status == Some(403)
            && self.code.as_deref() == Some("Authentication_RequestFromNonPremiumTenantOrB2CTenant")
    }

    /// 403: the app lacks a permission (`Authorization_RequestDenied`) or a quota was hit.
    pub fn is_forbidden(&self) -> bool {
        self.status == Some(403)
    }

    /// 401 from Graph, or the token endpoint refused our credential.
    pub fn is_unauthorized(&self) -> bool {
        self.status == Some(401) || self.kind == GraphErrorKind::Authentication
    }

    /// 400 for a reason other than "already exists": a malformed number, an unsupported
    /// changeType, a bad expiration…
    pub fn is_invalid_request(&self) -> bool {
        self.status == Some(400) && !self.is_already_exists()
    }

    /// A `/users/delta` link that Graph no longer knows (identity delta tokens last 7 days):
    /// start a full resync. MGDC api-reference/v1.0/api/user-delta.md.
    pub fn is_delta_token_expired(&self) -> bool {
        self.code.as_deref() == Some("syncStateNotFound")
            || self.code.as_deref() == Some("resyncRequired")
            || self.status == Some(410)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn graph_error_body_and_headers_are_parsed() {
        let body = br#"{"error":{"code":"Request_ResourceNotFound","message":"Resource 'x' does not exist.","innerError":{"request-id":"inner-id","date":"2024-01-01T00:00:00"}}}"#;
        let err = GraphError::from_response(404, &headers(&[("request-id", "hdr-id")]), body);
        assert_eq!(err.status, Some(404));
        assert_eq!(err.code.as_deref(), Some("Request_ResourceNotFound"));
        assert_eq!(err.request_id.as_deref(), Some("hdr-id"));
        assert!(err.is_not_found());
        assert!(!err.is_retryable());
        assert!(err.to_string().contains("request-id hdr-id"));
    }

    #[test]
    fn request_id_falls_back_to_the_inner_error() {
        let body =
            br#"{"error":{"code":"x","message":"m","innerError":{"request-id":"inner-id"}}}"#;
        let err = GraphError::from_response(400, &HeaderMap::new(), body);
        assert_eq!(err.request_id.as_deref(), Some("inner-id"));
    }

    #[test]
    fn throttled_response_keeps_scope_information_and_retry_after() {
        let h = headers(&[
            ("retry-after", "7"),
            ("x-ms-throttle-scope", "Tenant_Application/Write/app/tenant"),
            ("x-ms-throttle-information", "WriteLimitExceeded"),
        ]);
        let body = br#"{"error":{"code":"TooManyRequests","message":"Too many requests"}}"#;
        let err = GraphError::from_response(429, &h, body);
        assert!(err.is_throttled());
        assert!(err.is_retryable());
        assert!(err.was_not_processed());
        assert_eq!(err.retry_after, Some(Duration::from_secs(7)));
        assert_eq!(
            err.throttle_scope.as_deref(),
            Some("Tenant_Application/Write/app/tenant")
        );
        assert_eq!(
            err.throttle_information.as_deref(),
            Some("WriteLimitExceeded")
        );
    }

    #[test]
    fn non_json_body_gets_the_status_reason_as_message() {
        let err = GraphError::from_response(503, &HeaderMap::new(), b"<html>oops</html>");
        assert_eq!(err.message, "Service Unavailable");
        assert!(err.is_retryable());
        assert!(!err.was_not_processed());
    }

    #[test]
    fn already_existing_phone_is_told_apart_from_an_invalid_number() {
        let exists = GraphError::from_response(
            400,
            &HeaderMap::new(),
            br#"{"error":{"code":"badRequest","message":"Phone method of type mobile already exists."}}"#,
        );
        assert!(exists.is_already_exists());
        assert!(!exists.is_invalid_request());
        let invalid = GraphError::from_response(
            400,
            &HeaderMap::new(),
            br#"{"error":{"code":"badRequest","message":"Invalid phone number format."}}"#,
        );
        assert!(invalid.is_invalid_request());
        assert!(!invalid.is_already_exists());
    }

    #[test]
    fn group_member_already_present_counts_as_already_exists() {
        let err = GraphError::from_response(
            400,
            &HeaderMap::new(),
            br#"{"error":{"code":"Request_BadRequest","message":"One or more added object references already exist for the following modified properties: 'members'."}}"#,
        );
        assert!(err.is_already_exists());
    }

    #[test]
    fn missing_permission_is_forbidden() {
        let err = GraphError::from_response(
            403,
            &HeaderMap::new(),
            br#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}}"#,
        );
        assert!(err.is_forbidden());
        assert!(!err.is_retryable());
    }

    #[test]
    fn expired_delta_link_is_recognised() {
        let err = GraphError::from_response(
            400,
            &HeaderMap::new(),
            br#"{"error":{"code":"syncStateNotFound","message":"The sync state generation is not found."}}"#,
        );
        assert!(err.is_delta_token_expired());
    }

    #[test]
    fn phone_numbers_in_error_messages_are_masked() {
        let err = GraphError::from_response(
            400,
            &HeaderMap::new(),
            br#"{"error":{"code":"badRequest","message":"Invalid phone number '+31 612345678'."}}"#,
        );
        assert!(!err.message.contains("612345678"), "{}", err.message);
        assert!(err.message.contains("+31 6******78"), "{}", err.message);
    }

    #[test]
    fn masking_leaves_guids_dates_and_short_numbers_alone() {
        let text = "id 3179e48a-750b-4051-897c-87b9720928f7 at 2024-01-01T10:00:00Z, 3 retries, code 12345";
        assert_eq!(mask_phone_like(text), text);
        assert_eq!(mask_phone_like("call 06-12345678."), "call 06-1*****78.");
        assert_eq!(mask_phone_like("+1 (206) 555-0100"), "+1 (20*) ***-**00");
    }
}
