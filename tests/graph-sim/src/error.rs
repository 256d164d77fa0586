//! Graph's error envelope and the simulator's own start-up errors.
//!
//! Graph answers every failure with
//! `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}` and a
//! `request-id` header (https://learn.microsoft.com/graph/errors). Handlers return a
//! [`GraphError`]; it renders an empty response carrying the error in its extensions, and the
//! request pipeline (`pipeline.rs`) writes the body, because only the pipeline knows the request
//! id and the simulated time.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("could not bind the listener: {0}")]
    Bind(#[source] std::io::Error),
    #[error("could not generate the TLS certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("could not build the TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    #[error("seed is not valid JSON: {0}")]
    SeedJson(#[from] serde_json::Error),
    #[error("seed is invalid: {0}")]
    InvalidSeed(String),
    #[error("could not read {path}: {source}")]
    ReadFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A Graph error as a handler returns it. The pipeline turns it into Graph's envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    /// Extra response headers (e.g. `Retry-After` on 429, `WWW-Authenticate` on 401).
    pub headers: Vec<(&'static str, String)>,
}

impl GraphError {
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// 400 `Request_BadRequest`, the directory's generic validation error.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Request_BadRequest", message)
    }

    /// 400 as the authentication-methods service words it (lower camel case codes).
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalidRequest", message)
    }

    /// 404 `Request_ResourceNotFound` with the directory's wording.
    pub fn not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!(
                "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
            ),
        )
    }

    /// 404 for a path segment Graph does not know.
    pub fn unknown_segment(segment: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("Resource not found for the segment '{segment}'."),
        )
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            message,
        )
        .with_header(
            "www-authenticate",
            "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
        )
    }

    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Request_BadRequest",
            "The requested HTTP method is not supported for this resource.",
        )
    }

    /// The envelope with the per-request fields filled in.
    pub fn body(&self, request_id: &str, client_request_id: &str, date: &str) -> serde_json::Value {
        json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": {
                    "date": date,
                    "request-id": request_id,
                    "client-request-id": client_request_id,
                }
            }
        })
    }

    /// A complete response, for callers outside the pipeline (the pipeline itself, `$batch`).
    pub fn to_response(&self, request_id: &str, client_request_id: &str, date: &str) -> Response {
        let mut response = (
            self.status,
            axum::Json(self.body(request_id, client_request_id, date)),
        )
            .into_response();
        apply_headers(response.headers_mut(), &self.headers);
        response
    }
}

pub(crate) fn apply_headers(headers: &mut HeaderMap, extra: &[(&'static str, String)]) {
    for (name, value) in extra {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(*name, value);
        }
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

pub type GraphResult<T> = Result<T, GraphError>;
