//! The webhook's answer to one request, and the HTTP response it becomes.

use lambda_http::http::StatusCode;
use lambda_http::http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use lambda_http::{Body, Response};

use crate::rejection::{Reason, Tally};

/// The answer to one request, before it becomes an HTTP response; with what happened, for
/// tests and benchmarks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// `Some` for the validation echo and error texts.
    pub body: Option<String>,
    pub rejected: Tally,
    /// Requests handed to the queue.
    pub enqueued: usize,
    /// Lifecycle messages handed to the lifecycle queue.
    pub lifecycle: usize,
}

impl Reply {
    pub(super) fn status(status: u16) -> Self {
        Self {
            status,
            body: None,
            rejected: Tally::default(),
            enqueued: 0,
            lifecycle: 0,
        }
    }

    pub(super) fn text(status: u16, text: impl Into<String>) -> Self {
        Self {
            body: Some(text.into()),
            ..Self::status(status)
        }
    }

    pub(super) fn refused(status: u16, reason: Reason, text: &str) -> Self {
        Self {
            rejected: Tally::one(reason),
            ..Self::text(status, text)
        }
    }

    /// The HTTP response. Every text body is `text/plain` with `nosniff`: nothing we answer is
    /// ever rendered as HTML, least of all the echoed validation token.
    pub fn into_response(self) -> Response<Body> {
        let body = match self.body {
            Some(text) => Body::Text(text),
            None => Body::Empty,
        };
        let mut response = Response::new(body);
        *response.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == 405 {
            headers.insert(ALLOW, HeaderValue::from_static("POST"));
        }
        response
    }
}
