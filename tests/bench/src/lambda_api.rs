//! A minimal AWS Lambda Runtime API on loopback, enough to drive one function binary through
//! its first invocation (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>):
//! `GET /2018-06-01/runtime/invocation/next` hands out the event once (later calls wait, as
//! they do between invocations), `POST …/invocation/{id}/response` and `…/error` record the
//! answer, `POST /2018-06-01/runtime/init/error` records a failed start.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use parking_lot::Mutex;
use tokio::sync::{Notify, oneshot};

pub const REQUEST_ID: &str = "bench-0001-cold-start";

/// What the function answered.
#[derive(Debug, Clone)]
pub enum Answer {
    Response { at: Instant, body: Bytes },
    Error { body: Bytes },
    InitError { body: Bytes },
}

struct Shared {
    event: Mutex<Option<Bytes>>,
    /// The function's timeout: `Lambda-Runtime-Deadline-Ms` is this far from when the event is
    /// handed out.
    timeout: std::time::Duration,
    /// When the function first asked for an event (its init is done then).
    first_next_at: Mutex<Option<Instant>>,
    answer: Mutex<Option<oneshot::Sender<Answer>>>,
    never: Notify,
}

pub struct RuntimeApi {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    answer: Option<oneshot::Receiver<Answer>>,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    /// Serves `event` (JSON) as the first invocation of a function with `timeout`.
    pub async fn start(
        event: serde_json::Value,
        timeout: std::time::Duration,
    ) -> anyhow::Result<Self> {
        let (tx, rx) = oneshot::channel();
        let shared = Arc::new(Shared {
            event: Mutex::new(Some(Bytes::from(serde_json::to_vec(&event)?))),
            timeout,
            first_next_at: Mutex::new(None),
            answer: Mutex::new(Some(tx)),
            never: Notify::new(),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener.tap_io(nodelay), app).await;
        });
        Ok(Self {
            addr,
            shared,
            answer: Some(rx),
            server,
        })
    }

    /// `AWS_LAMBDA_RUNTIME_API` for the function.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    pub fn first_next_at(&self) -> Option<Instant> {
        *self.shared.first_next_at.lock()
    }

    /// Waits for the function's answer to the first event.
    pub async fn answer(&mut self) -> Option<Answer> {
        self.answer.take()?.await.ok()
    }

    pub fn stop(self) {
        self.shared.never.notify_waiters();
        self.server.abort();
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    shared.first_next_at.lock().get_or_insert_with(Instant::now);
    let event = shared.event.lock().take();
    let Some(event) = event else {
        // Between invocations the real API just does not answer.
        shared.never.notified().await;
        return StatusCode::GONE.into_response();
    };
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
        + shared.timeout.as_millis();
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    put("lambda-runtime-aws-request-id", REQUEST_ID.into());
    put("lambda-runtime-deadline-ms", deadline.to_string());
    put(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:eu-west-1:123456789012:function:bench".into(),
    );
    put(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0".into(),
    );
    put("content-type", "application/json".into());
    (StatusCode::OK, headers, event).into_response()
}

fn deliver(shared: &Shared, answer: Answer) -> StatusCode {
    if let Some(tx) = shared.answer.lock().take() {
        let _ = tx.send(answer);
    }
    StatusCode::ACCEPTED
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(_id): Path<String>,
    body: Bytes,
) -> StatusCode {
    deliver(
        &shared,
        Answer::Response {
            at: Instant::now(),
            body,
        },
    )
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(_id): Path<String>,
    body: Bytes,
) -> StatusCode {
    deliver(&shared, Answer::Error { body })
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    deliver(&shared, Answer::InitError { body })
}

/// TCP_NODELAY on an accepted connection (no 40 ms delayed-ACK stalls on loopback).
pub fn nodelay(stream: &mut tokio::net::TcpStream) {
    let _ = stream.set_nodelay(true);
}
