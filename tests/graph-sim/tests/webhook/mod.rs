//! A tiny webhook receiver on 127.0.0.1 for the subscription and notification tests: it
//! answers Graph's validation handshake (correctly or in a chosen wrong way), records every
//! request, and answers notifications with a chosen status and delay.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::{Notify, oneshot};

/// How the webhook answers a validation request.
#[derive(Debug, Clone, PartialEq)]
pub enum Validation {
    /// 200, text/plain, the decoded token — what Graph wants.
    Echo,
    /// 200, text/plain, the token still URL-encoded.
    EchoEncoded,
    /// 200, text/plain, something else.
    WrongBody,
    /// 200, application/json, the decoded token.
    WrongContentType,
    /// This status, text/plain, the decoded token.
    Status(u16),
    /// Answers correctly, but only after this long.
    Slow(Duration),
    /// 307 to `{path}/elsewhere` (which would echo correctly if a client followed it).
    Redirect,
}

#[derive(Debug, Clone)]
pub struct Behaviour {
    pub validation: Validation,
    /// Status for notification POSTs.
    pub status: u16,
    /// Delay before answering a notification POST.
    pub delay: Duration,
    /// The next this-many notification POSTs get 500 (then `status` again).
    pub fail_next: u32,
    /// Answer notification POSTs with a 307 redirect.
    pub redirect: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            validation: Validation::Echo,
            status: 202,
            delay: Duration::ZERO,
            fail_next: 0,
            redirect: false,
        }
    }
}

/// One request the webhook received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    /// The raw query string, as sent.
    pub raw_query: Option<String>,
    /// The decoded `validationToken`, for handshakes.
    pub validation_token: Option<String>,
    pub content_type: String,
    pub body: Bytes,
    /// What the webhook answered.
    pub answered: u16,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    /// The items of a `{"value":[...]}` collection.
    pub fn items(&self) -> Vec<Value> {
        self.json()["value"].as_array().cloned().unwrap_or_default()
    }
}

struct Shared {
    requests: Mutex<Vec<Received>>,
    changed: Notify,
    behaviour: Mutex<Behaviour>,
}

pub struct Webhook {
    pub addr: SocketAddr,
    scheme: &'static str,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    tls_handle: Option<axum_server::Handle<SocketAddr>>,
}

impl Webhook {
    /// A plain-http receiver on an ephemeral loopback port.
    pub async fn start() -> Self {
        let shared = Arc::new(Shared {
            requests: Mutex::new(Vec::new()),
            changed: Notify::new(),
            behaviour: Mutex::new(Behaviour::default()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = router(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Self {
            addr,
            scheme: "http",
            shared,
            stop: Some(stop),
            task: Some(task),
            tls_handle: None,
        }
    }

    /// An https receiver with a self-signed certificate nobody has been told to trust.
    pub async fn start_tls() -> Self {
        let shared = Arc::new(Shared {
            requests: Mutex::new(Vec::new()),
            changed: Notify::new(),
            behaviour: Mutex::new(Behaviour::default()),
        });
        let cert = rcgen::generate_simple_self_signed(vec![
            "127.0.0.1".to_string(),
            "localhost".to_string(),
        ])
        .unwrap();
        let chain = vec![rustls::pki_types::CertificateDer::from(
            cert.cert.der().to_vec(),
        )];
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(
            rustls::pki_types::PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()),
        );
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = axum_server::Handle::new();
        let server = axum_server::from_tcp_rustls(
            listener,
            axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(config)),
        )
        .unwrap()
        .handle(handle.clone());
        let app = router(shared.clone());
        let task = tokio::spawn(async move {
            let _ = server.serve(app.into_make_service()).await;
        });
        Self {
            addr,
            scheme: "https",
            shared,
            stop: None,
            task: Some(task),
            tls_handle: Some(handle),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.addr)
    }

    pub fn set(&self, f: impl FnOnce(&mut Behaviour)) {
        f(&mut self.shared.behaviour.lock());
    }

    pub fn requests(&self) -> Vec<Received> {
        self.shared.requests.lock().clone()
    }

    pub fn validations(&self) -> Vec<Received> {
        self.requests()
            .into_iter()
            .filter(|r| r.validation_token.is_some())
            .collect()
    }

    /// Notification POSTs (not handshakes) to `path`.
    pub fn posts(&self, path: &str) -> Vec<Received> {
        self.requests()
            .into_iter()
            .filter(|r| r.validation_token.is_none() && r.path == path)
            .collect()
    }

    /// Every notification item POSTed to `path` and acknowledged with 2xx.
    pub fn accepted_items(&self, path: &str) -> Vec<Value> {
        self.posts(path)
            .iter()
            .filter(|r| (200..300).contains(&r.answered))
            .flat_map(Received::items)
            .collect()
    }

    /// Waits until `done` holds. A liveness bound (60 s), not a timing assertion: the simulated
    /// clock drives every delay the tests care about.
    pub async fn wait_until(&self, what: &str, mut done: impl FnMut(&Webhook) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let changed = self.shared.changed.notified();
            if done(self) {
                return;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() && !done(self) {
                panic!("webhook never saw: {what}; got {:#?}", self.requests());
            }
        }
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.tls_handle.take() {
            handle.shutdown();
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.tls_handle.take() {
            handle.shutdown();
        }
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let shared = shared.clone();
        async move { handle(shared, uri, headers, body).await }
    })
}

async fn handle(shared: Arc<Shared>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let raw_query = uri.query().map(str::to_string);
    let validation_token = raw_query.as_deref().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "validationToken")
            .map(|(_, v)| v.into_owned())
    });
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let path = uri.path().to_string();
    let behaviour = shared.behaviour.lock().clone();
    let response: Response = match &validation_token {
        Some(token) => {
            let encoded = raw_query
                .as_deref()
                .and_then(|q| {
                    q.split('&')
                        .find_map(|kv| kv.strip_prefix("validationToken="))
                })
                .unwrap_or_default()
                .to_string();
            let text = |status: u16, body: String| {
                (
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    [("content-type", "text/plain; charset=utf-8")],
                    body,
                )
                    .into_response()
            };
            if path.ends_with("/elsewhere") {
                text(200, token.clone())
            } else {
                match behaviour.validation {
                    Validation::Echo => text(200, token.clone()),
                    Validation::EchoEncoded => text(200, encoded),
                    Validation::WrongBody => text(200, "not-the-token".into()),
                    Validation::WrongContentType => (
                        StatusCode::OK,
                        [("content-type", "application/json")],
                        token.clone(),
                    )
                        .into_response(),
                    Validation::Status(s) => text(s, token.clone()),
                    Validation::Slow(d) => {
                        tokio::time::sleep(d).await;
                        text(200, token.clone())
                    }
                    Validation::Redirect => (
                        StatusCode::TEMPORARY_REDIRECT,
                        [(
                            "location",
                            format!("{path}/elsewhere?{}", raw_query.clone().unwrap_or_default()),
                        )],
                    )
                        .into_response(),
                }
            }
        }
        None => {
            if !behaviour.delay.is_zero() {
                tokio::time::sleep(behaviour.delay).await;
            }
            let status = {
                let mut b = shared.behaviour.lock();
                if b.fail_next > 0 {
                    b.fail_next -= 1;
                    500
                } else {
                    b.status
                }
            };
            if behaviour.redirect {
                (
                    StatusCode::TEMPORARY_REDIRECT,
                    [("location", format!("{path}/elsewhere"))],
                )
                    .into_response()
            } else {
                StatusCode::from_u16(status)
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                    .into_response()
            }
        }
    };
    shared.requests.lock().push(Received {
        path,
        raw_query,
        validation_token,
        content_type,
        body,
        answered: response.status().as_u16(),
    });
    shared.changed.notify_waiters();
    response
}
