//! The local HTTP front: the same handler the Lambda runs, behind a plain axum server on
//! loopback. Each axum request becomes the `lambda_http::Request` the Function URL would
//! produce (method, URI with query, headers, body), so the CLI's local stack, the e2e tests and
//! the benches exercise exactly the Lambda code path.

use std::net::SocketAddr;
use std::sync::Arc;

use autoenroll_core::lifecycle::LifecycleQueue;
use autoenroll_core::ports::{EnrollQueue, SecretSource};
use axum::body::Body as AxumBody;
use axum::extract::Request as AxumRequest;
use axum::response::Response as AxumResponse;
use futures::StreamExt;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::handler::{MAX_BODY_BYTES, Webhook};

/// A running local webhook. Stop it with [`LocalWebhook::shutdown`].
#[derive(Debug)]
pub struct LocalWebhook {
    /// `http://127.0.0.1:PORT/` — what a subscription's notificationUrl points at.
    pub url: String,
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl LocalWebhook {
    /// Stops accepting, finishes in-flight requests, and waits for the server to end.
    pub async fn shutdown(mut self) {
        self.stop().await;
    }

    async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for LocalWebhook {
    fn drop(&mut self) {
        // Not awaited: a dropped front still stops serving.
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Serves `handler` on `addr` (use port 0 for a free one). Any path, any method: the handler
/// decides.
pub async fn serve_local<Q, S, L>(
    addr: SocketAddr,
    handler: Arc<Webhook<Q, S, L>>,
) -> std::io::Result<LocalWebhook>
where
    Q: EnrollQueue + 'static,
    S: SecretSource + 'static,
    L: LifecycleQueue + 'static,
{
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new().fallback(move |request: AxumRequest| {
        let handler = Arc::clone(&handler);
        async move { front(&handler, request).await }
    });
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let server = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = rx.await;
        });
        if let Err(e) = server.await {
            tracing::error!(error = %e, "local webhook server failed");
        }
    });
    Ok(LocalWebhook {
        url: format!("http://{addr}/"),
        addr,
        shutdown: Some(tx),
        task: Some(task),
    })
}

async fn front<Q, S, L>(handler: &Webhook<Q, S, L>, request: AxumRequest) -> AxumResponse
where
    Q: EnrollQueue,
    S: SecretSource,
    L: LifecycleQueue,
{
    let (parts, body) = request.into_parts();
    let bytes = read_capped(body).await;
    let mut lambda_request = lambda_http::Request::new(if bytes.is_empty() {
        lambda_http::Body::Empty
    } else {
        lambda_http::Body::Binary(bytes)
    });
    *lambda_request.method_mut() = parts.method;
    *lambda_request.uri_mut() = parts.uri;
    *lambda_request.headers_mut() = parts.headers;
    let response = handler.handle(lambda_request).await;
    let (parts, body) = response.into_parts();
    AxumResponse::from_parts(parts, AxumBody::from(body.to_vec()))
}

/// At most one byte more than the cap: enough for the handler to see "too large" without
/// this front buffering an unbounded body. A body that breaks off is what was read so far
/// (the strict parser rejects it).
async fn read_capped(body: AxumBody) -> Vec<u8> {
    let mut stream = body.into_data_stream();
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else { break };
        let room = MAX_BODY_BYTES + 1 - out.len();
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() > MAX_BODY_BYTES {
            break;
        }
    }
    out
}
