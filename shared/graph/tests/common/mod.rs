//! Helpers for the integration tests: a Contoso simulator and clients of its apps.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use autoenroll_graph::{
    Credential, GraphClient, GraphConfig, PacingConfig, RetryConfig, Secret, StaticAssertion,
};
use base64::Engine;
use graph_sim::{Seed, Sim, SimOptions};

pub const APP: &str = "5d3e8b0f-6a2c-4f1e-8b7d-2c9a4e6f1b30";
pub const APP_SECRET: &str = "sim-secret-autoenroll-Q8w~xV3pL9";
pub const READER: &str = "a1b2c3d4-0000-4000-8000-00000000read";
pub const READER_SECRET: &str = "sim-secret-reader-7Yh~2Lm";
pub const TENANT: &str = "8f2c6a51-3b7e-4d0a-9c1e-5a4b2d9e7f10";
pub const ADELE: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b01";
pub const ALEX: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b02";
pub const MEGAN: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b03";
pub const LEE: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b04";
pub const GUEST: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b17";
pub const GUEST_UPN: &str = "john.doe_fabrikam.com#EXT#@contoso.onmicrosoft.com";
pub const BREAKGLASS: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b19";
pub const IT_ADMIN: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b20";
pub const NEW_HIRE: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b21";
pub const CA_GROUP: &str = "c0a80101-5e1f-4c3a-8d2b-000000000001";
pub const BREAKGLASS_GROUP: &str = "c0a80101-5e1f-4c3a-8d2b-000000000002";
pub const GLOBAL_ADMIN_ROLE: &str = "d1e2f3a4-0000-4000-8000-000000000001";
pub const GLOBAL_ADMIN_TEMPLATE: &str = "62e90394-69f5-4237-9190-012177145e10";

pub async fn start() -> Sim {
    start_with(SimOptions {
        seed: Seed::contoso(),
        ..Default::default()
    })
    .await
}

pub async fn start_with(options: SimOptions) -> Sim {
    Sim::start(options).await.expect("simulator starts")
}

/// Retries quick enough for tests; pacing off unless a test is about pacing (each test's sim
/// has its own port, hence its own pacer, either way).
pub fn config(sim: &Sim, client_id: &str, credential: Credential) -> GraphConfig {
    GraphConfig::new(sim.tenant_id(), client_id, credential)
        .with_graph_base_url(sim.base_url())
        .with_authority_host(sim.authority_host())
        .with_extra_root_ca_pem(sim.ca_cert_pem())
        .with_retry(RetryConfig {
            max_attempts: 4,
            min_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(400),
            max_total_wait: Duration::from_secs(20),
        })
        .with_pacing(PacingConfig {
            enabled: false,
            ..PacingConfig::default()
        })
}

pub fn secret_config(sim: &Sim, client_id: &str, secret: &str) -> GraphConfig {
    config(
        sim,
        client_id,
        Credential::ClientSecret(Secret::new(secret)),
    )
}

/// The full-permission autoenroll app, with a client secret.
pub fn graph(sim: &Sim) -> GraphClient {
    GraphClient::new(secret_config(sim, APP, APP_SECRET)).expect("client builds")
}

/// An unsigned-looking but well-formed federated assertion, as AWS STS would issue for the
/// enroll function's role (the simulator checks issuer, subject, audience and lifetime; it
/// cannot check AWS's signature).
pub fn federated_assertion(subject: &str) -> Credential {
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).unwrap())
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let jwt = format!(
        "{}.{}.{}",
        b64(serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "aws"})),
        b64(serde_json::json!({
            "iss": "https://sts.amazonaws.com",
            "sub": subject,
            "aud": "api://AzureADTokenExchange",
            "iat": now,
            "nbf": now,
            "exp": now + 600,
        })),
        "c2lnbmF0dXJl"
    );
    Credential::ClientAssertion(std::sync::Arc::new(StaticAssertion(Secret::new(jwt))))
}

pub const ENROLL_ROLE: &str = "arn:aws:iam::123456789012:role/autoenroll-enroll";

/// The simulator's record of a user (properties and authentication).
pub fn sim_user(sim: &Sim, id: &str) -> serde_json::Value {
    sim.control()
        .user(id)
        .expect("user exists in the simulator")
}

/// A webhook on 127.0.0.1 that answers Graph's validation handshake and accepts
/// notifications. Stop it with [`Webhook::stop`].
pub struct Webhook {
    pub url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Webhook {
    pub async fn start() -> Self {
        use axum::extract::Query;
        use axum::http::{StatusCode, header};
        use axum::response::IntoResponse;
        use std::collections::HashMap;

        async fn handle(Query(query): Query<HashMap<String, String>>) -> axum::response::Response {
            match query.get("validationToken") {
                Some(token) => {
                    ([(header::CONTENT_TYPE, "text/plain")], token.clone()).into_response()
                }
                None => StatusCode::ACCEPTED.into_response(),
            }
        }
        let app = axum::Router::new().route("/{*path}", axum::routing::post(handle));
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self {
            url: format!("http://{addr}"),
            stop,
            task,
        }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Captures this thread's tracing output (JSON lines) for assertions on what gets logged.
#[derive(Clone, Default)]
pub struct LogCapture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl LogCapture {
    /// Installs a subscriber for the current thread (tokio tests run on one) until the guard
    /// is dropped.
    pub fn install(&self, filter: &str) -> tracing::subscriber::DefaultGuard {
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_span_list(true)
            .with_writer(self.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    pub fn lines(&self) -> Vec<serde_json::Value> {
        self.text()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
