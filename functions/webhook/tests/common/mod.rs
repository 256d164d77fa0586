//! Helpers for the webhook's integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::sync::Arc;

use autoenroll_aws::memory::{MemoryFifoQueue, StaticSecrets};
use autoenroll_aws::metrics::{CapturedMetrics, EmfMetrics};
use autoenroll_webhook::{Webhook, WebhookConfig};
use serde_json::{Value, json};

/// The Contoso tenant of the simulator's seed.
pub const TENANT: &str = "8f2c6a51-3b7e-4d0a-9c1e-5a4b2d9e7f10";
pub const OTHER_TENANT: &str = "11111111-2222-4333-8444-555555555555";
pub const SUBSCRIPTION: &str = "0e3f2a33-3c1f-4a8c-9a4b-1f5a7d2c9b10";
pub const USER_A: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b01";
pub const USER_B: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b02";
pub const CLIENT_STATE_SECRET: &str = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:cs";
pub const CLIENT_STATE: &str = "cs-7f3e9a1c4b2d8e6f0a5c3b9d7e1f4a2c-current";
pub const OLD_CLIENT_STATE: &str = "cs-previous-0a1b2c3d4e5f60718293a4b5c6d7e8f9";

pub type TestWebhook = Webhook<MemoryFifoQueue, StaticSecrets, MemoryFifoQueue>;

/// A webhook over in-memory FIFO queues (enroll and lifecycle) and static secrets, with its
/// metrics captured.
pub struct Harness {
    pub webhook: Arc<TestWebhook>,
    pub queue: MemoryFifoQueue,
    pub lifecycle: MemoryFifoQueue,
    pub metrics: CapturedMetrics,
}

impl Harness {
    pub fn new() -> Self {
        Self::with_secrets(StaticSecrets::new().with(CLIENT_STATE_SECRET, CLIENT_STATE))
    }

    /// During a rotation: current and previous accepted.
    pub fn rotating() -> Self {
        let secrets = StaticSecrets::new().with(CLIENT_STATE_SECRET, OLD_CLIENT_STATE);
        secrets.rotate(CLIENT_STATE_SECRET, CLIENT_STATE);
        Self::with_secrets(secrets)
    }

    pub fn with_secrets(secrets: StaticSecrets) -> Self {
        let queue = MemoryFifoQueue::builder("enroll-test.fifo").build();
        let lifecycle = MemoryFifoQueue::builder("lifecycle-test.fifo").build();
        let (metrics, captured) = EmfMetrics::capture();
        let webhook = Webhook::new(
            WebhookConfig {
                tenant_id: TENANT.into(),
                client_state_secret: CLIENT_STATE_SECRET.into(),
            },
            queue.clone(),
            secrets,
            lifecycle.clone(),
        )
        .with_metrics(metrics);
        Self {
            webhook: Arc::new(webhook),
            queue,
            lifecycle,
            metrics: captured,
        }
    }

    pub fn rejected(&self, reason: &str) -> f64 {
        self.metrics.total("WebhookRejected", Some(reason))
    }

    pub fn rejected_total(&self) -> f64 {
        self.metrics.total("WebhookRejected", None)
    }
}

/// One user change notification as Graph sends it (examples-change-notification-users-derived).
pub fn change(user: &str, client_state: &str) -> Value {
    json!({
        "changeType": "updated",
        "clientState": client_state,
        "resource": format!("Users/{user}"),
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.User",
            "@odata.id": format!("Users/{user}"),
            "id": user,
            "organizationId": TENANT,
            "eventTime": "2026-03-01T10:00:00.0000000Z",
            "sequenceNumber": 638000000000000000_u64
        },
        "subscriptionExpirationDateTime": "2026-03-20T10:00:00.0000000+00:00",
        "subscriptionId": SUBSCRIPTION,
        "tenantId": TENANT
    })
}

pub fn lifecycle(event: &str, client_state: &str) -> Value {
    json!({
        "subscriptionId": SUBSCRIPTION,
        "subscriptionExpirationDateTime": "2026-03-20T10:00:00.0000000+00:00",
        "tenantId": TENANT,
        "clientState": client_state,
        "lifecycleEvent": event
    })
}

pub fn collection(items: Vec<Value>) -> Vec<u8> {
    json!({ "value": items }).to_string().into_bytes()
}

/// A Lambda Function URL event (HTTP API v2 payload), as Lambda hands it to lambda_http.
pub fn function_url_event(
    method: &str,
    path: &str,
    query: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> lambda_http::Request {
    let event = function_url_event_json(method, path, query, content_type, body);
    lambda_http::request::from_str(&event.to_string()).expect("a valid Function URL event")
}

/// The JSON Lambda's Runtime API hands the function for a Function URL request.
pub fn function_url_event_json(
    method: &str,
    path: &str,
    query: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Value {
    use base64::Engine as _;
    let mut headers = serde_json::Map::new();
    headers.insert("host".into(), json!("abc.lambda-url.eu-west-1.on.aws"));
    if let Some(ct) = content_type {
        headers.insert("content-type".into(), json!(ct));
    }
    // Lambda base64-encodes bodies that are not text; do the same for anything not UTF-8.
    let (body, encoded) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (base64::engine::general_purpose::STANDARD.encode(body), true),
    };
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abc",
            "domainName": "abc.lambda-url.eu-west-1.on.aws",
            "domainPrefix": "abc",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "198.51.100.7",
                "userAgent": "Microsoft-Graph-ChangeTracking"
            },
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Mar/2026:10:00:00 +0000",
            "timeEpoch": 1772359200000_u64
        },
        "body": body,
        "isBase64Encoded": encoded
    })
}

/// Status, content type, `nosniff`, body of a Lambda response.
pub fn parts(response: lambda_http::Response<lambda_http::Body>) -> (u16, String, bool, String) {
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let content_type = header("content-type");
    let nosniff = header("x-content-type-options") == "nosniff";
    let body = String::from_utf8_lossy(response.body()).into_owned();
    (status, content_type, nosniff, body)
}
