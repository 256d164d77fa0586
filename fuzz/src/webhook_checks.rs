//! Invariants the `webhook_request` fuzz target checks on the webhook handler's bytes-level
//! entry point (`Webhook::handle_bytes`): it never panics, answers only the documented
//! statuses, and never enqueues anything (user change or lifecycle event) that does not carry
//! our tenant and an accepted clientState — while every authenticated user change and lifecycle
//! event of an accepted body does reach its queue.
//!
//! Compiled by the fuzz crate and, through `#[path]`, by
//! `functions/webhook/tests/fuzz_regressions.rs`, which replays the committed inputs; so it only
//! uses what the webhook's integration tests can use (the webhook, autoenroll-core/-aws, http,
//! serde_json, tokio).
//!
//! Input format (decoded by [`decode`], so any bytes are a case): byte 0 picks the method
//! (bits 0-2, POST most often), the content type (bits 3-4), whether a query string follows
//! (bit 5), a structured or raw body (bit 6) and a clientState rotation (bit 7). Then the
//! query (2-byte length), a custom content type (1-byte length), and the body: raw bytes, or a
//! notification collection built item by item from choice bytes (our tenant or another, the
//! current / previous / a near-miss / no clientState, user or other resources, resourceData
//! that agrees or not, …) so the fuzzer reaches the authenticated paths that random JSON never
//! would.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use autoenroll_aws::memory::{MemoryFifoQueue, StaticSecrets};
use autoenroll_aws::metrics::EmfMetrics;
use autoenroll_core::notification::{self, Notification};
use autoenroll_webhook::{MAX_BODY_BYTES, Webhook, WebhookConfig};
use http::Method;
use serde_json::{Value, json};

pub const TENANT: &str = "8f2c6a51-3b7e-4d0a-9c1e-5a4b2d9e7f10";
pub const OTHER_TENANT: &str = "11111111-2222-4333-8444-555555555555";
pub const SUBSCRIPTION: &str = "0e3f2a33-3c1f-4a8c-9a4b-1f5a7d2c9b10";
pub const SECRET_NAME: &str = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:cs";
pub const CLIENT_STATE: &str = "cs-7f3e9a1c4b2d8e6f0a5c3b9d7e1f4a2c-current";
pub const OLD_CLIENT_STATE: &str = "cs-previous-0a1b2c3d4e5f60718293a4b5c6d7e8f9";
pub const USERS: [&str; 3] = [
    "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b01",
    "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b02",
    "9a1b2c3d-0000-4abc-8def-0123456789ab",
];
const STATUSES: &[u16] = &[200, 202, 400, 401, 405, 413, 415, 500, 503];

/// One request to the handler.
#[derive(Debug, Clone)]
pub struct Case {
    pub method: Method,
    pub query: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// The secret holds a previous clientState too (a rotation window).
    pub rotating: bool,
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }

    fn text(&mut self) -> String {
        let n = usize::from(self.byte());
        String::from_utf8_lossy(self.take(n)).into_owned()
    }

    fn rest(&mut self) -> &'a [u8] {
        self.take(self.0.len())
    }
}

/// Any bytes → a request.
pub fn decode(data: &[u8]) -> Case {
    let mut r = Reader(data);
    let flags = r.byte();
    let method = match flags & 7 {
        0..=3 => Method::POST,
        4 => Method::GET,
        5 => Method::PUT,
        6 => Method::DELETE,
        _ => Method::OPTIONS,
    };
    let content_type = match (flags >> 3) & 3 {
        0 => Some("application/json".to_owned()),
        1 => Some("application/json; charset=utf-8".to_owned()),
        2 => None,
        _ => Some(r.text()),
    };
    let query = (flags & 0x20 != 0).then(|| {
        let n = usize::from(u16::from_le_bytes([r.byte(), r.byte()]));
        String::from_utf8_lossy(r.take(n)).into_owned()
    });
    let body = if flags & 0x40 != 0 {
        structured_body(&mut r)
    } else {
        r.rest().to_vec()
    };
    Case {
        method,
        query,
        content_type,
        body,
        rotating: flags & 0x80 != 0,
    }
}

fn structured_body(r: &mut Reader<'_>) -> Vec<u8> {
    let shape = r.byte();
    let count = usize::from(shape % 8);
    let items: Vec<Value> = (0..count).map(|_| item(r)).collect();
    let mut top = match shape >> 3 & 3 {
        0 | 1 => json!({ "value": items }),
        2 => json!({ "value": items, "validationTokens": [r.text()] }),
        _ => json!({ "value": items.first().cloned().unwrap_or(Value::Null) }),
    };
    if shape & 0x80 != 0 {
        // An unknown top-level property (Graph adds properties without notice).
        top[r.text()] = json!(r.text());
    }
    serde_json::to_vec(&top).expect("JSON serializes")
}

fn item(r: &mut Reader<'_>) -> Value {
    let mut n = serde_json::Map::new();
    let kind = r.byte();
    let tenant = match r.byte() % 6 {
        0 | 1 => Some(Value::from(TENANT)),
        2 => Some(Value::from(TENANT.to_ascii_uppercase())),
        3 => Some(Value::from(OTHER_TENANT)),
        4 => None,
        _ => Some(Value::from(r.text())),
    };
    let client_state = match r.byte() % 9 {
        0..=2 => Some(Value::from(CLIENT_STATE)),
        3 => Some(Value::from(OLD_CLIENT_STATE)),
        4 => Some(Value::from(CLIENT_STATE.to_ascii_uppercase())),
        5 => Some(Value::from(format!("{CLIENT_STATE} "))),
        6 => None,
        7 => Some(Value::from(&CLIENT_STATE[..CLIENT_STATE.len() - 1])),
        _ => Some(Value::from(r.text())),
    };
    let user = match r.byte() % 6 {
        u @ 0..=2 => USERS[usize::from(u)].to_owned(),
        3 => USERS[0].to_ascii_uppercase(),
        4 => format!("{}-x", USERS[1]),
        _ => r.text(),
    };
    let resource = match r.byte() % 5 {
        0 | 1 => format!("Users/{user}"),
        2 => format!("users/{user}"),
        3 => format!("groups/{user}"),
        _ => r.text(),
    };
    if let Some(t) = &tenant {
        n.insert("tenantId".into(), t.clone());
    }
    if let Some(cs) = client_state {
        n.insert("clientState".into(), cs);
    }
    n.insert(
        "subscriptionId".into(),
        match r.byte() % 4 {
            0..=2 => SUBSCRIPTION.into(),
            _ => r.text().into(),
        },
    );
    n.insert(
        "subscriptionExpirationDateTime".into(),
        match r.byte() % 4 {
            0..=2 => "2026-05-24T23:21:19.3554403+00:00".into(),
            _ => r.text().into(),
        },
    );
    let change_type = match r.byte() % 6 {
        0 | 1 => "updated".to_owned(),
        2 => "created".to_owned(),
        3 => "deleted".to_owned(),
        4 => "Updated".to_owned(),
        _ => r.text(),
    };
    let lifecycle = match r.byte() % 5 {
        0 | 1 => "reauthorizationRequired".to_owned(),
        2 => "missed".to_owned(),
        3 => "subscriptionRemoved".to_owned(),
        _ => r.text(),
    };
    match kind % 5 {
        0..=2 => {
            n.insert("changeType".into(), change_type.into());
            n.insert("resource".into(), resource.clone().into());
        }
        3 => {
            n.insert("lifecycleEvent".into(), lifecycle.into());
        }
        _ => {
            n.insert("changeType".into(), change_type.into());
            n.insert("lifecycleEvent".into(), lifecycle.into());
            n.insert("resource".into(), resource.clone().into());
        }
    }
    if kind & 0x08 != 0 {
        n.insert("id".into(), r.text().into());
    }
    let data_kind = (kind >> 4) % 6;
    if data_kind > 0 {
        let org = tenant.clone().unwrap_or(Value::Null);
        let mut data = json!({
            "@odata.type": "#Microsoft.Graph.User",
            "@odata.id": resource,
            "id": user,
            "organizationId": org,
            "sequenceNumber": r.byte().to_string(),
        });
        match data_kind {
            2 => data["@odata.type"] = "#Microsoft.Graph.Group".into(),
            3 => data["id"] = USERS[2].into(),
            4 => data["organizationId"] = OTHER_TENANT.into(),
            5 => data["eventTime"] = r.text().into(),
            _ => {}
        }
        n.insert("resourceData".into(), data);
    }
    if kind & 0x04 != 0 {
        // Wrong types where strings are expected.
        let key = ["tenantId", "clientState", "resource", "value"][usize::from(r.byte() % 4)];
        n.insert(key.into(), json!([1, {"a": null}]));
    }
    Value::Object(n)
}

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
});

pub fn check_webhook_bytes(data: &[u8]) {
    check_webhook(&decode(data));
}

/// Runs one request through a fresh webhook (in-memory FIFO queues, static secrets) and checks
/// what it answered and what it enqueued.
pub fn check_webhook(case: &Case) {
    let secrets = if case.rotating {
        let s = StaticSecrets::new().with(SECRET_NAME, OLD_CLIENT_STATE);
        s.rotate(SECRET_NAME, CLIENT_STATE);
        s
    } else {
        StaticSecrets::new().with(SECRET_NAME, CLIENT_STATE)
    };
    let queue = MemoryFifoQueue::builder("fuzz.fifo").build();
    let lifecycle = MemoryFifoQueue::builder("fuzz-lifecycle.fifo").build();
    let (metrics, _captured) = EmfMetrics::capture();
    let webhook = Webhook::new(
        WebhookConfig {
            tenant_id: TENANT.into(),
            client_state_secret: SECRET_NAME.into(),
        },
        queue.clone(),
        secrets,
        lifecycle.clone(),
    )
    .with_metrics(metrics);

    let reply = RUNTIME.block_on(webhook.handle_bytes(
        &case.method,
        case.query.as_deref(),
        case.content_type.as_deref(),
        &case.body,
    ));
    let enqueued = queue.requests();
    let lifecycle_events = lifecycle.lifecycle_messages();

    assert!(
        STATUSES.contains(&reply.status),
        "undocumented status {}",
        reply.status
    );
    assert!(
        enqueued.len() <= reply.enqueued,
        "queue holds more than the reply says was enqueued"
    );
    assert_eq!(lifecycle_events.len(), reply.lifecycle, "lifecycle count");
    if case.method != Method::POST {
        assert_eq!(reply.status, 405, "a non-POST was not refused");
    }
    if reply.status != 202 {
        assert!(
            enqueued.is_empty() && lifecycle_events.is_empty(),
            "status {} but something was enqueued",
            reply.status
        );
    }
    if reply.status == 200 {
        let token = reply.body.as_deref().unwrap_or_default();
        assert!(case.query.is_some(), "200 without a query string");
        assert!(
            !token.is_empty() && token.len() <= 1024,
            "echoed token size"
        );
        assert!(
            !token.chars().any(char::is_control),
            "echoed token holds a control character"
        );
    } else if let Some(text) = &reply.body {
        assert!(
            !text.contains(CLIENT_STATE) && !text.contains(OLD_CLIENT_STATE),
            "the answer shows the clientState"
        );
    }
    if case.body.len() > MAX_BODY_BYTES && case.method == Method::POST && case.query.is_none() {
        assert_eq!(reply.status, 413);
    }

    // Safety: only what carries our tenant and an accepted clientState gets anywhere.
    let accepted: &[&str] = if case.rotating {
        &[CLIENT_STATE, OLD_CLIENT_STATE]
    } else {
        &[CLIENT_STATE]
    };
    let authentic = authentic_items(&case.body, accepted);
    for request in &enqueued {
        assert_eq!(request.tenant_id, TENANT, "enqueued for another tenant");
        assert!(
            authentic.users.contains(&request.user_id),
            "enqueued a user no authenticated notification named"
        );
    }
    for event in &lifecycle_events {
        assert_eq!(
            event.tenant_id, TENANT,
            "lifecycle event for another tenant"
        );
        assert!(
            authentic.lifecycle_events.contains(&(
                event.subscription_id.clone(),
                event.event.as_str().to_owned()
            )),
            "queued a lifecycle event no authenticated item named"
        );
    }
    if reply.status == 401 {
        assert!(
            authentic.users.is_empty() && !authentic.lifecycle,
            "401 although an item authenticates"
        );
    }

    // Liveness: when the strict parser accepts the whole body and the answer is 202, every
    // authenticated user change is on the queue.
    if reply.status == 202
        && let Ok(collection) = notification::parse_collection(&case.body)
    {
        let wanted: BTreeSet<String> = collection
            .value
            .iter()
            .filter_map(|n| match n {
                Notification::Change(c)
                    if c.tenant_id == TENANT
                        && c.client_state
                            .as_ref()
                            .is_some_and(|s| accepted.contains(&s.expose())) =>
                {
                    Some(c.user_id.clone())
                }
                _ => None,
            })
            .collect();
        let got: BTreeSet<String> = enqueued.iter().map(|r| r.user_id.clone()).collect();
        assert_eq!(got, wanted, "an authenticated change was not enqueued");
        let wanted: BTreeSet<(String, &str)> = collection
            .value
            .iter()
            .filter_map(|n| match n {
                Notification::Lifecycle(l)
                    if l.tenant_id == TENANT
                        && l.client_state
                            .as_ref()
                            .is_some_and(|s| accepted.contains(&s.expose())) =>
                {
                    Some((l.subscription_id.clone(), l.lifecycle_event.as_str()))
                }
                _ => None,
            })
            .collect();
        let got: BTreeSet<(String, &str)> = lifecycle_events
            .iter()
            .map(|e| (e.subscription_id.clone(), e.event.as_str()))
            .collect();
        assert_eq!(
            got, wanted,
            "an authenticated lifecycle event was not queued"
        );
    }
}

/// Computed from the raw JSON, independently of the handler: of the items with our tenant (any
/// case) and an accepted clientState (exact), the users (lowercase) that user changes name and
/// the (subscription, event) of lifecycle events.
struct Authentic {
    users: BTreeSet<String>,
    lifecycle_events: BTreeSet<(String, String)>,
    /// Any lifecycle event (they authenticate a request too).
    lifecycle: bool,
}

fn authentic_items(body: &[u8], accepted: &[&str]) -> Authentic {
    let mut out = Authentic {
        users: BTreeSet::new(),
        lifecycle_events: BTreeSet::new(),
        lifecycle: false,
    };
    let Ok(document) = serde_json::from_slice::<Value>(body) else {
        return out;
    };
    let Some(items) = document.get("value").and_then(Value::as_array) else {
        return out;
    };
    for item in items {
        let tenant_ok = item
            .get("tenantId")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case(TENANT));
        let state_ok = item
            .get("clientState")
            .and_then(Value::as_str)
            .is_some_and(|s| accepted.contains(&s));
        if !(tenant_ok && state_ok) {
            continue;
        }
        if item.get("lifecycleEvent").is_some() {
            out.lifecycle = true;
            if let Some(event) = item.get("lifecycleEvent").and_then(Value::as_str)
                && let Some(s) = item.get("subscriptionId").and_then(Value::as_str)
            {
                out.lifecycle_events
                    .insert((s.to_ascii_lowercase(), event.to_owned()));
            }
            continue;
        }
        // A change about a user: the resource names one, and resourceData (if any) does not
        // say it is something else (such items are dropped as "not a user").
        let user_type = item
            .get("resourceData")
            .and_then(|d| d.get("@odata.type"))
            .and_then(Value::as_str)
            .is_none_or(|t| t.eq_ignore_ascii_case("#microsoft.graph.user"));
        if let Some(user) = item
            .get("resource")
            .and_then(Value::as_str)
            .and_then(notification::user_id_of)
            && user_type
        {
            out.users.insert(user);
        }
    }
    out
}
