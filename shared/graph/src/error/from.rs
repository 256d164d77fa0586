//! Building a [`GraphError`] from what failed: a Graph error response, the token credential,
//! or the HTTP transport.

use http::HeaderMap;
use serde::Deserialize;

use super::{GraphError, GraphErrorKind, OAuthError, TokenFailure, mask_phone_like};
use crate::retry::parse_retry_after;

impl GraphError {
    /// Builds the error for a non-success Graph response from its status, headers and body.
    pub fn from_response(status: u16, headers: &HeaderMap, body: &[u8]) -> Self {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(Box::<str>::from)
        };
        let parsed = serde_json::from_slice::<ErrorEnvelope>(body).ok();
        let (code, message, inner_request_id) = match parsed {
            Some(ErrorEnvelope { error }) => (
                error.code.filter(|c| !c.is_empty()).map(Box::from),
                error.message.unwrap_or_default(),
                error.inner_error.and_then(|i| i.request_id).map(Box::from),
            ),
            None => (None, String::new(), None),
        };
        let message = if message.is_empty() {
            http::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("error")
                .to_owned()
        } else {
            message
        };
        Self {
            kind: GraphErrorKind::Http,
            status: Some(status),
            code,
            message: mask_phone_like(&message),
            request_id: header("request-id").or(inner_request_id),
            throttle_scope: header("x-ms-throttle-scope"),
            throttle_information: header("x-ms-throttle-information"),
            retry_after: headers
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, std::time::SystemTime::now())),
            token_failure: None,
        }
    }

    /// From the token credential (azure_identity): keeps the token endpoint's status and
    /// `error` code (e.g. 401 `invalid_client`) when there is one.
    pub(crate) fn from_credential(err: &azure_core::Error) -> Self {
        let mut status = None;
        let mut code = None;
        let mut aadsts = Vec::new();
        let mut transport = None;
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
        while let Some(e) = source {
            if let Some(az) = e.downcast_ref::<azure_core::Error>()
                && let azure_core::error::ErrorKind::HttpResponse {
                    status: s,
                    error_code,
                    raw_response,
                } = az.kind()
            {
                status = Some(u16::from(*s));
                // Prefer the OAuth `error` (`invalid_client`, …) over azure_identity's
                // `error_codes` (AADSTS numbers), which stay in the message.
                #[derive(Deserialize)]
                struct OAuthBody {
                    error: String,
                    #[serde(default)]
                    error_codes: Vec<u32>,
                }
                let body = raw_response
                    .as_ref()
                    .and_then(|r| serde_json::from_slice::<OAuthBody>(r.body().as_ref()).ok());
                aadsts = body
                    .as_ref()
                    .map(|b| b.error_codes.clone())
                    .unwrap_or_default();
                code = body
                    .map(|o| Box::from(o.error))
                    .or_else(|| error_code.as_deref().map(Box::from));
                break;
            }
            if let Some(r) = e.downcast_ref::<reqwest::Error>() {
                transport = Some(if r.is_timeout() {
                    TokenFailure::Timeout
                } else if r.is_connect() {
                    TokenFailure::Unreachable
                } else {
                    TokenFailure::Other
                });
            }
            source = e.source();
        }
        let failure = match status {
            Some(s @ (429 | 500..=599)) => TokenFailure::Unavailable { status: s },
            Some(s) => TokenFailure::Refused {
                status: s,
                error: OAuthError::parse(code.as_deref().unwrap_or_default()),
                aadsts,
            },
            None => transport.unwrap_or(TokenFailure::Other),
        };
        let kind = match err.kind() {
            azure_core::error::ErrorKind::Connection if status.is_none() => GraphErrorKind::Connect,
            _ => GraphErrorKind::Authentication,
        };
        Self {
            status,
            code,
            token_failure: Some(Box::new(failure)),
            ..Self::new(kind, err.to_string())
        }
    }

    pub(crate) fn from_reqwest(err: reqwest::Error) -> Self {
        let kind = if err.is_timeout() {
            GraphErrorKind::Timeout
        } else if err.is_connect() {
            GraphErrorKind::Connect
        } else if err.is_builder() {
            GraphErrorKind::Config
        } else {
            GraphErrorKind::Transport
        };
        // reqwest's Display carries the URL, which can hold a UPN or a $filter: drop it.
        let err = err.without_url();
        Self::new(kind, describe_chain(&err))
    }
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "innerError", alias = "innererror")]
    inner_error: Option<InnerError>,
}

#[derive(Deserialize)]
struct InnerError {
    #[serde(default, rename = "request-id")]
    request_id: Option<String>,
}

fn describe_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}
