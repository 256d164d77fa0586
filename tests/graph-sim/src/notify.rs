//! Change-notification delivery to subscribers: the validation handshake, the
//! background worker that turns the tenant's change log into POSTs of
//! `changeNotificationCollection`s, retries, lifecycle (`reauthorizationRequired`) events and
//! the fault knobs tests turn (delay, duplicates, drops, reordering).
//!
//! Sources (microsoft-graph-docs-contrib):
//! - concepts/change-notifications-delivery-webhooks.md — 2xx within 3 s, else retried "for up
//!   to 4 hours" then discarded; >2,900 ms is slow; ≥10 % slow (after 100 notifications) delays
//!   the endpoint's notifications 10 min, ≥15 % drops them; counters flushed every 10 min;
//!   several notifications (even of different subscriptions) may share one POST.
//! - concepts/includes/change-notifications-delivery-notificationurl-validation.md — the
//!   handshake: POST `{url}?validationToken=…`, `Content-Type: text/plain; charset=utf-8`,
//!   answer within 10 s with 200, `text/plain`, the URL-decoded token.
//! - concepts/change-notifications-lifecycle-events.md — `reauthorizationRequired` to the
//!   lifecycle URL when the subscription is about to expire, more often as expiry nears
//!   ("every 15 mins" in its sample); unanswered, "eventually change notification delivery
//!   pauses" and changes made while paused are lost.
//! - resources/subscription.md (changeType) — users: `updated` for created, updated *and soft
//!   deleted*; `deleted` only for permanent deletion. The simulator's `DELETE /users/{id}` is a
//!   soft delete (the user goes to deletedItems), so it is notified as `updated`.
//!
//! Payload shape: ../shared/graph-spec/examples-change-notification-users-derived.json (from
//! the Event Grid `Microsoft.Graph.UserUpdated` example) and, for `sequenceNumber` as a JSON
//! number, a real group payload quoted in microsoft-graph-docs-contrib issue #7634.

use std::collections::{HashMap, HashSet};
use std::time::Duration as StdDuration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::AppState;
use crate::error::GraphError;
use crate::state::{ChangeKind, Tenant};
use crate::subscriptions::{SubscriptionRecord, Target};

/// Graph's publishing client gives up after 3 s (delivery-webhooks.md, "Throttling").
pub const DEFAULT_RESPONSE_TIMEOUT_MS: u64 = 3_000;
/// The handshake must be answered within 10 s (notificationurl-validation.md).
pub const DEFAULT_VALIDATION_TIMEOUT_MS: u64 = 10_000;
/// A response slower than this counts as slow (delivery-webhooks.md).
const SLOW_MS: u128 = 2_900;
/// Failed notifications are retried "for up to 4 hours", then discarded.
const RETRY_WINDOW: Duration = Duration::hours(4);
/// Slow-endpoint evaluation: after this many notifications in a 10-minute window.
const SLOW_SAMPLE: u64 = 100;
const SLOW_WINDOW: Duration = Duration::minutes(10);
const SLOW_DELAY: Duration = Duration::minutes(10);
/// Docs silent on when "about to expire" starts; the lifecycle page's sample sends challenges
/// in the last hours and every 15 minutes near the end. Chosen: from 3 h before expiry, every
/// 15 simulated minutes until the subscription is reauthorized, renewed or expires.
pub(crate) const REAUTH_WINDOW: Duration = Duration::hours(3);
pub(crate) const REAUTH_REPEAT: Duration = Duration::minutes(15);
/// Docs: delivery pauses "eventually" when a challenge is ignored. Chosen: after 1 simulated
/// hour without a reauthorize or renewal; changes made while paused are lost (as documented).
pub(crate) const REAUTH_GRACE: Duration = Duration::hours(1);
/// How often the worker looks at the queue and the clock (real time). The simulated clock has
/// no change signal, so a jump forward is seen on the next tick.
const TICK: StdDuration = StdDuration::from_millis(50);

/// How notifications are delivered. All durations of the simulated pipeline (delay, jitter)
/// are simulated time; the two timeouts are real time (they bound real HTTP calls).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct NotificationOptions {
    /// Time between a change and its first delivery attempt (Graph: "unknown" for users, 10–30+
    /// minutes observed). Default 0.
    pub delay_ms: u64,
    /// Extra random delay per notification, 0..=jitter; notifications then arrive out of order
    /// across POSTs.
    pub jitter_ms: u64,
    /// Probability (0–1) that a notification is delivered twice.
    pub duplicate_rate: f64,
    /// Probability (0–1) that a notification is never delivered.
    pub drop_rate: f64,
    /// Shuffle the notifications inside each POST.
    pub reorder: bool,
    /// Most notifications in one POST (docs silent; chosen 50).
    pub max_batch: usize,
    /// The 3-second rule.
    pub response_timeout_ms: u64,
    /// The 10-second handshake limit.
    pub validation_timeout_ms: u64,
}

impl Default for NotificationOptions {
    fn default() -> Self {
        Self {
            delay_ms: 0,
            jitter_ms: 0,
            duplicate_rate: 0.0,
            drop_rate: 0.0,
            reorder: false,
            max_batch: 50,
            response_timeout_ms: DEFAULT_RESPONSE_TIMEOUT_MS,
            validation_timeout_ms: DEFAULT_VALIDATION_TIMEOUT_MS,
        }
    }
}

impl NotificationOptions {
    pub(crate) fn validate(&self) -> Result<(), String> {
        for (name, rate) in [
            ("duplicateRate", self.duplicate_rate),
            ("dropRate", self.drop_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0 and 1"));
            }
        }
        if self.max_batch == 0 {
            return Err("maxBatch must be at least 1".into());
        }
        if self.response_timeout_ms == 0 || self.validation_timeout_ms == 0 {
            return Err("timeouts must be positive".into());
        }
        Ok(())
    }
}

/// What the delivery pipeline did, for tests and chaos runs. Counts are of notifications
/// (items of a collection), except `posts`, `failedPosts` and the validation counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NotificationCounters {
    /// Change notifications the endpoint acknowledged with 2xx in time.
    pub delivered: u64,
    /// `reauthorizationRequired` events acknowledged.
    pub lifecycle_delivered: u64,
    /// HTTP POSTs made (change and lifecycle), including failed ones.
    pub posts: u64,
    /// POSTs that failed (non-2xx, too slow, connection error).
    pub failed_posts: u64,
    /// Notifications dropped on purpose by `dropRate`.
    pub dropped: u64,
    /// Extra copies queued by `duplicateRate`.
    pub duplicated: u64,
    /// Notifications rescheduled after a failed POST.
    pub retried: u64,
    /// Notifications given up after 4 hours of failures.
    pub discarded: u64,
    /// Notifications whose subscription was deleted or expired before they went out.
    pub orphaned: u64,
    /// Changes lost because delivery was paused by an unanswered reauthorization challenge.
    pub lost_while_paused: u64,
    /// Notifications delayed 10 minutes because the endpoint was ≥10 % slow.
    pub throttled_delayed: u64,
    /// Notifications dropped because the endpoint was ≥15 % slow.
    pub throttled_dropped: u64,
    /// Validation handshakes made, and how many failed.
    pub validations: u64,
    pub validation_failures: u64,
    /// Notifications queued (not yet due, or waiting for a retry) when the counters were read.
    pub pending: u64,
    /// Notifications in a POST that has not completed yet.
    pub in_flight: u64,
    /// Passes of the delivery worker. A test that moved the clock can wait for this to grow
    /// by two to know the worker has seen the new time.
    pub worker_passes: u64,
}

#[derive(Debug, Clone)]
enum PendingKind {
    Change {
        user_id: String,
        change_type: &'static str,
        event_at: OffsetDateTime,
    },
    Reauthorization,
}

#[derive(Debug, Clone)]
struct Pending {
    id: u64,
    subscription_id: String,
    url: String,
    kind: PendingKind,
    due: OffsetDateTime,
    first_attempt: Option<OffsetDateTime>,
    attempts: u32,
    slow_delayed: bool,
}

impl Pending {
    fn is_lifecycle(&self) -> bool {
        matches!(self.kind, PendingKind::Reauthorization)
    }
}

/// Per notification URL: the slow-response window (delivery-webhooks.md, "Throttling").
#[derive(Debug, Clone)]
struct EndpointStats {
    window_start: OffsetDateTime,
    notifications: u64,
    slow: u64,
}

/// Delivery state, kept in the tenant (under its lock) so subscriptions and deliveries change
/// together.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub options: NotificationOptions,
    pub counters: NotificationCounters,
    #[serde(skip)]
    queue: Vec<Pending>,
    #[serde(skip)]
    in_flight: HashSet<(String, bool)>,
    #[serde(skip)]
    in_flight_items: u64,
    #[serde(skip)]
    next_id: u64,
    /// Last change-log sequence number turned into notifications.
    cursor: u64,
    #[serde(skip)]
    endpoints: HashMap<String, EndpointStats>,
    #[serde(skip)]
    rng: StdRng,
    #[serde(skip)]
    pub(crate) clients: Option<HttpClients>,
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            options: NotificationOptions::default(),
            counters: NotificationCounters::default(),
            queue: Vec::new(),
            in_flight: HashSet::new(),
            in_flight_items: 0,
            next_id: 0,
            cursor: 0,
            endpoints: HashMap::new(),
            rng: StdRng::seed_from_u64(0),
            clients: None,
        }
    }
}

impl Delivery {
    pub fn counters(&self) -> NotificationCounters {
        let mut c = self.counters.clone();
        c.pending = self.queue.len() as u64;
        c.in_flight = self.in_flight_items;
        c
    }

    fn push(&mut self, subscription_id: &str, url: &str, kind: PendingKind, due: OffsetDateTime) {
        self.next_id += 1;
        self.queue.push(Pending {
            id: self.next_id,
            subscription_id: subscription_id.to_string(),
            url: url.to_string(),
            kind,
            due,
            first_attempt: None,
            attempts: 0,
            slow_delayed: false,
        });
    }

    fn chance(&mut self, rate: f64) -> bool {
        rate > 0.0 && (rate >= 1.0 || self.rng.random_bool(rate))
    }

    fn jitter(&mut self) -> Duration {
        let max = self.options.jitter_ms;
        if max == 0 {
            Duration::ZERO
        } else {
            Duration::milliseconds(self.rng.random_range(0..=max) as i64)
        }
    }
}

/// The two HTTP clients deliveries use. Neither follows redirects (a 3xx is a failure, as for
/// any non-2xx). Loopback endpoints (tests, the local stack) may be plain http or https with
/// any certificate; anything else must be https with a certificate the platform trusts.
#[derive(Debug, Clone)]
pub(crate) struct HttpClients {
    loopback: reqwest::Client,
    remote: reqwest::Client,
}

impl HttpClients {
    fn new() -> Result<Self, reqwest::Error> {
        let loopback = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .tls_danger_accept_invalid_certs(true)
            .no_proxy()
            .build()?;
        let remote = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .https_only(true)
            .build()?;
        Ok(Self { loopback, remote })
    }

    fn for_url(&self, url: &url::Url) -> &reqwest::Client {
        if is_loopback(url) {
            &self.loopback
        } else {
            &self.remote
        }
    }
}

pub(crate) fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Graph requires https for notification and lifecycle URLs (resources/subscription.md). The
/// simulator also accepts plain http on loopback, where test webhooks and the local stack live.
pub(crate) fn check_endpoint_url(property: &str, raw: &str) -> Result<url::Url, GraphError> {
    let invalid = |why: &str| {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            format!("Invalid '{property}': {why}"),
        )
    };
    let url = url::Url::parse(raw).map_err(|_| invalid("not an absolute URL."))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        _ => Err(invalid("the URL must use the HTTPS protocol.")),
    }
}

/// Percent-encodes like .NET's `HttpUtility.UrlEncode`, which is what Graph's validation
/// requests look like on the wire (`Validation%3a+Testing+client…`): space as `+`, lower-case
/// hex, `-_.!*()` and alphanumerics kept. The webhook has to URL-decode it.
pub(crate) fn dotnet_url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'a'..=b'z'
            | b'A'..=b'Z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'*'
            | b'('
            | b')' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02x}")),
        }
    }
    out
}

/// The token Graph sends: real ones are a sentence, not an opaque string (docs-contrib issue
/// #21160 quotes one), with spaces and colons that must survive URL decoding.
pub(crate) fn new_validation_token() -> String {
    format!(
        "Validation: Testing client application reachability for subscription Request-Id: {}",
        uuid::Uuid::new_v4()
    )
}

/// `{url}?validationToken=…`, keeping any query string the URL already has (Graph includes
/// it in every request to the endpoint).
fn with_validation_token(url: &url::Url, token: &str) -> String {
    let sep = if url.query().is_some() { '&' } else { '?' };
    format!("{url}{sep}validationToken={}", dotnet_url_encode(token))
}

fn validation_failed(which: &str, why: &str) -> GraphError {
    // Graph's wording for a failed handshake: "Subscription validation request failed. …"
    // (code InvalidRequest), as reported in many client projects.
    GraphError::new(
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
        format!("Subscription validation request failed. {why} ({which})"),
    )
}

/// The handshake: POST `{url}?validationToken=…`; the endpoint must answer within the
/// validation timeout with exactly 200, a `text/plain` content type and the decoded token.
pub(crate) async fn validate_endpoint(
    state: &AppState,
    which: &str,
    url: &url::Url,
) -> Result<(), GraphError> {
    let (clients, timeout) = state.tenant.with(|t| {
        let d = &mut t.subscriptions.delivery;
        d.counters.validations += 1;
        (d.clients.clone(), d.options.validation_timeout_ms)
    });
    let result = match clients {
        None => Err(validation_failed(
            which,
            "The notification service is not running.",
        )),
        Some(clients) => handshake(&clients, which, url, StdDuration::from_millis(timeout)).await,
    };
    if result.is_err() {
        state
            .tenant
            .with(|t| t.subscriptions.delivery.counters.validation_failures += 1);
    }
    result
}

async fn handshake(
    clients: &HttpClients,
    which: &str,
    url: &url::Url,
    timeout: StdDuration,
) -> Result<(), GraphError> {
    let token = new_validation_token();
    let request = clients
        .for_url(url)
        .post(with_validation_token(url, &token))
        .header("content-type", "text/plain; charset=utf-8")
        .body(Vec::new());
    let exchange = async {
        let response = request.send().await?;
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let body = response.bytes().await?;
        Ok::<_, reqwest::Error>((status, content_type, body))
    };
    let (status, content_type, body) = match tokio::time::timeout(timeout, exchange).await {
        Err(_) => {
            return Err(GraphError::new(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                format!("Subscription validation request timed out. ({which})"),
            ));
        }
        Ok(Err(e)) => {
            tracing::debug!(which, error = %e, "validation request failed");
            return Err(validation_failed(
                which,
                "The notification endpoint could not be reached.",
            ));
        }
        Ok(Ok(r)) => r,
    };
    if status != reqwest::StatusCode::OK {
        return Err(validation_failed(
            which,
            "Notification endpoint must respond with 200 OK to validation request.",
        ));
    }
    // Docs: "A content type of text/plain". Parameters (charset) are fine.
    if content_type.split(';').next().map(str::trim) != Some("text/plain") {
        return Err(validation_failed(
            which,
            "Response must have a 'text/plain' content type.",
        ));
    }
    // Docs: the body must be the URL-decoded token; an encoded one fails. Compared exactly
    // (docs silent on whitespace; stricter).
    if body.as_ref() != token.as_bytes() {
        return Err(validation_failed(
            which,
            "Response must exactly match validationToken query parameter.",
        ));
    }
    Ok(())
}

/// Graph's `subscriptionExpirationDateTime` in notifications: `+00:00` and 7 fractional digits,
/// as in the users example payload.
fn format_offset(at: OffsetDateTime) -> String {
    let s = crate::subscriptions::format_graph_datetime(at);
    format!("{}+00:00", s.trim_end_matches('Z'))
}

/// .NET ticks (100 ns since 0001-01-01): what Graph's directory `sequenceNumber` looks like.
fn dotnet_ticks(at: OffsetDateTime) -> i64 {
    let hundred_ns = (at.unix_timestamp_nanos() / 100) as i64;
    hundred_ns.saturating_add(621_355_968_000_000_000)
}

fn change_notification(
    sub: &SubscriptionRecord,
    tenant_id: &str,
    user_id: &str,
    change_type: &str,
    event_at: OffsetDateTime,
) -> Value {
    json!({
        "changeType": change_type,
        "clientState": sub.client_state,
        "resource": format!("Users/{user_id}"),
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.User",
            "@odata.id": format!("Users/{user_id}"),
            "id": user_id,
            "organizationId": tenant_id,
            "eventTime": crate::subscriptions::format_graph_datetime(event_at),
            "sequenceNumber": dotnet_ticks(event_at),
        },
        "subscriptionExpirationDateTime": format_offset(sub.expiration),
        "subscriptionId": sub.id,
        "tenantId": tenant_id,
    })
}

fn lifecycle_notification(sub: &SubscriptionRecord, tenant_id: &str) -> Value {
    json!({
        "subscriptionId": sub.id,
        "subscriptionExpirationDateTime": format_offset(sub.expiration),
        "tenantId": tenant_id,
        "clientState": sub.client_state,
        "lifecycleEvent": "reauthorizationRequired",
    })
}

/// One POST about to be made.
#[derive(Debug)]
struct Batch {
    url: String,
    lifecycle: bool,
    items: Vec<Pending>,
    body: Value,
}

/// Starts background delivery; it stops on `AppState::shutdown_signal`.
pub(crate) fn start(state: &AppState) {
    let seed = state.control.rng.lock().random::<u64>();
    let clients = match HttpClients::new() {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::error!(error = %e, "could not build the notification HTTP client; deliveries and handshakes will fail");
            None
        }
    };
    let options = state.notifications.clone();
    state.tenant.with(|t| {
        let cursor = t.changes.last().map_or(0, |c| c.seq);
        let d = &mut t.subscriptions.delivery;
        d.options = options;
        d.rng = StdRng::seed_from_u64(seed);
        d.cursor = cursor;
        d.clients = clients;
    });
    tokio::spawn(run(state.clone()));
}

async fn run(state: AppState) {
    let mut changes = state.tenant.subscribe_changes();
    let shutdown = state.shutdown_signal();
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            received = changes.recv() => {
                // Only a wake-up: the change log itself is read below, so a lagging receiver
                // loses nothing.
                if let Err(tokio::sync::broadcast::error::RecvError::Closed) = received {
                    break;
                }
            }
            _ = tick.tick() => {}
        }
        let now = state.now();
        let (batches, clients) = state.tenant.with(|t| {
            let batches = plan(t, now);
            (batches, t.subscriptions.delivery.clients.clone())
        });
        let Some(clients) = clients else { continue };
        for batch in batches {
            tokio::spawn(deliver(state.clone(), clients.clone(), batch));
        }
    }
}

/// One pass: expire subscriptions, turn new changes into notifications, send challenges, and
/// cut the POSTs that are due.
fn plan(t: &mut Tenant, now: OffsetDateTime) -> Vec<Batch> {
    t.subscriptions.delivery.counters.worker_passes += 1;
    t.subscriptions.remove_expired(now);
    ingest(t);
    challenge(t, now);
    collect_due(t, now)
}

fn ingest(t: &mut Tenant) {
    let events = t.changes_since(t.subscriptions.delivery.cursor);
    let Some(last) = events.last() else { return };
    let last_seq = last.seq;
    let store = &mut t.subscriptions;
    for event in events {
        let change_type = match event.kind {
            // Creation and soft deletion both arrive as `updated` (resources/subscription.md).
            ChangeKind::Created | ChangeKind::Updated | ChangeKind::Deleted => "updated",
            // Not a user property change: no notification (see state.rs).
            ChangeKind::AuthenticationChanged => continue,
        };
        let targets: Vec<(String, String, bool)> = store
            .items
            .values()
            .filter(|s| s.created_after_seq < event.seq && event.at < s.expiration)
            .filter(|s| s.change_types.iter().any(|c| c == change_type))
            .filter(|s| match &s.target {
                Target::AllUsers => true,
                Target::User(id) => *id == event.user_id,
            })
            .map(|s| {
                (
                    s.id.clone(),
                    s.notification_url.clone(),
                    s.delivery_paused(event.at),
                )
            })
            .collect();
        let d = &mut store.delivery;
        for (sub_id, url, paused) in targets {
            if paused {
                d.counters.lost_while_paused += 1;
                continue;
            }
            if d.chance(d.options.drop_rate) {
                d.counters.dropped += 1;
                continue;
            }
            let kind = PendingKind::Change {
                user_id: event.user_id.clone(),
                change_type,
                event_at: event.at,
            };
            let delay = Duration::milliseconds(d.options.delay_ms as i64);
            let due = event.at + delay + d.jitter();
            d.push(&sub_id, &url, kind.clone(), due);
            if d.chance(d.options.duplicate_rate) {
                d.counters.duplicated += 1;
                // The copy comes a little later, usually in another POST.
                let due = due + Duration::seconds(1) + d.jitter();
                d.push(&sub_id, &url, kind, due);
            }
        }
    }
    store.delivery.cursor = last_seq;
}

fn challenge(t: &mut Tenant, now: OffsetDateTime) {
    let store = &mut t.subscriptions;
    let mut due = Vec::new();
    for sub in store.items.values_mut() {
        let Some(url) = sub.lifecycle_notification_url.clone() else {
            continue;
        };
        let remaining = sub.expiration - now;
        if remaining > REAUTH_WINDOW || remaining <= Duration::ZERO {
            continue;
        }
        let r = &mut sub.reauthorization;
        if r.last_challenge
            .is_some_and(|last| now - last < REAUTH_REPEAT)
        {
            continue;
        }
        r.last_challenge = Some(now);
        r.outstanding_since.get_or_insert(now);
        r.challenges_sent += 1;
        due.push((sub.id.clone(), url));
    }
    for (id, url) in due {
        store
            .delivery
            .push(&id, &url, PendingKind::Reauthorization, now);
    }
}

fn collect_due(t: &mut Tenant, now: OffsetDateTime) -> Vec<Batch> {
    let tenant_id = t.id.clone();
    let store = &mut t.subscriptions;
    let d = &mut store.delivery;
    if d.queue.is_empty() {
        return Vec::new();
    }
    // Oldest first (and by queue order for equal due times).
    d.queue.sort_by_key(|p| (p.due, p.id));
    let mut keep = Vec::with_capacity(d.queue.len());
    let mut groups: Vec<((String, bool), Vec<Pending>)> = Vec::new();
    for mut p in std::mem::take(&mut d.queue) {
        if !store.items.contains_key(&p.subscription_id) {
            d.counters.orphaned += 1;
            continue;
        }
        if p.due > now {
            keep.push(p);
            continue;
        }
        let key = (p.url.clone(), p.is_lifecycle());
        if d.in_flight.contains(&key) {
            keep.push(p);
            continue;
        }
        // Slow-endpoint throttling (delivery-webhooks.md).
        if !p.is_lifecycle() {
            let stats = d.endpoints.get(&p.url);
            let slow_share = stats
                .filter(|s| now - s.window_start < SLOW_WINDOW && s.notifications >= SLOW_SAMPLE)
                .map(|s| s.slow as f64 / s.notifications as f64);
            match slow_share {
                Some(share) if share >= 0.15 => {
                    d.counters.throttled_dropped += 1;
                    continue;
                }
                Some(share) if share >= 0.10 && !p.slow_delayed => {
                    d.counters.throttled_delayed += 1;
                    p.slow_delayed = true;
                    p.due = now + SLOW_DELAY;
                    keep.push(p);
                    continue;
                }
                _ => {}
            }
        }
        // One POST per endpoint per pass; what does not fit waits for the next.
        match groups.iter().position(|(k, _)| *k == key) {
            Some(i) if groups[i].1.len() < d.options.max_batch => groups[i].1.push(p),
            Some(_) => keep.push(p),
            None => groups.push((key, vec![p])),
        }
    }
    d.queue = keep;
    let mut batches = Vec::new();
    for ((url, lifecycle), mut items) in groups {
        if d.options.reorder {
            items.shuffle(&mut d.rng);
        }
        let value: Vec<Value> = items
            .iter()
            .filter_map(|p| {
                let sub = store.items.get(&p.subscription_id)?;
                Some(match &p.kind {
                    PendingKind::Change {
                        user_id,
                        change_type,
                        event_at,
                    } => change_notification(sub, &tenant_id, user_id, change_type, *event_at),
                    PendingKind::Reauthorization => lifecycle_notification(sub, &tenant_id),
                })
            })
            .collect();
        for p in &mut items {
            p.first_attempt.get_or_insert(now);
            p.attempts += 1;
        }
        d.in_flight.insert((url.clone(), lifecycle));
        d.in_flight_items += items.len() as u64;
        batches.push(Batch {
            url,
            lifecycle,
            items,
            body: json!({ "value": value }),
        });
    }
    batches
}

/// Exponential backoff between attempts (docs silent on the schedule): 1, 2, 4 … minutes,
/// at most 60.
fn backoff(attempts: u32) -> Duration {
    let minutes = 1i64 << attempts.saturating_sub(1).min(6);
    Duration::minutes(minutes.min(60))
}

#[derive(Debug)]
struct Outcome {
    ok: bool,
    slow: bool,
}

async fn deliver(state: AppState, clients: HttpClients, batch: Batch) {
    let timeout = state
        .tenant
        .with(|t| t.subscriptions.delivery.options.response_timeout_ms);
    let shutdown = state.shutdown_signal();
    let outcome = tokio::select! {
        _ = shutdown => return,
        o = post(&clients, &batch, StdDuration::from_millis(timeout)) => o,
    };
    let now = state.now();
    state
        .tenant
        .with(|t| complete(&mut t.subscriptions.delivery, batch, outcome, now));
}

async fn post(clients: &HttpClients, batch: &Batch, timeout: StdDuration) -> Outcome {
    let started = std::time::Instant::now();
    let Ok(url) = url::Url::parse(&batch.url) else {
        return Outcome {
            ok: false,
            slow: false,
        };
    };
    let request = clients
        .for_url(&url)
        .post(url.clone())
        .header("content-type", "application/json; charset=utf-8")
        .body(batch.body.to_string());
    let exchange = async {
        let response = request.send().await?;
        let status = response.status();
        // Read the body so the response really completed within the limit.
        let _ = response.bytes().await?;
        Ok::<_, reqwest::Error>(status)
    };
    let result = tokio::time::timeout(timeout, exchange).await;
    let slow = started.elapsed().as_millis() > SLOW_MS;
    let ok = matches!(result, Ok(Ok(status)) if status.is_success());
    if !ok {
        // Never log the body: it carries the clientState.
        let why = match &result {
            Err(_) => "timed out".to_string(),
            Ok(Err(e)) => format!("request failed: {e}"),
            Ok(Ok(status)) => format!("status {status}"),
        };
        tracing::debug!(items = batch.items.len(), lifecycle = batch.lifecycle, %why, "notification POST failed");
    }
    Outcome { ok, slow }
}

fn complete(d: &mut Delivery, batch: Batch, outcome: Outcome, now: OffsetDateTime) {
    let n = batch.items.len() as u64;
    d.in_flight.remove(&(batch.url.clone(), batch.lifecycle));
    d.in_flight_items = d.in_flight_items.saturating_sub(n);
    d.counters.posts += 1;
    if !batch.lifecycle {
        let stats = d
            .endpoints
            .entry(batch.url.clone())
            .or_insert(EndpointStats {
                window_start: now,
                notifications: 0,
                slow: 0,
            });
        if now - stats.window_start >= SLOW_WINDOW {
            *stats = EndpointStats {
                window_start: now,
                notifications: 0,
                slow: 0,
            };
        }
        stats.notifications += n;
        if outcome.slow {
            stats.slow += n;
        }
    }
    if outcome.ok {
        if batch.lifecycle {
            d.counters.lifecycle_delivered += n;
        } else {
            d.counters.delivered += n;
        }
        return;
    }
    d.counters.failed_posts += 1;
    for mut p in batch.items {
        let first = p.first_attempt.unwrap_or(now);
        if now - first >= RETRY_WINDOW {
            d.counters.discarded += 1;
            continue;
        }
        p.due = now + backoff(p.attempts);
        d.counters.retried += 1;
        d.queue.push(p);
    }
}

impl crate::Control {
    /// The delivery knobs in force.
    pub fn notification_options(&self) -> NotificationOptions {
        self.app_state()
            .tenant
            .with(|t| t.subscriptions.delivery.options.clone())
    }

    /// Changes the delivery knobs while running (affects notifications queued from now on;
    /// timeouts apply to the next request).
    pub fn set_notification_options(&self, options: NotificationOptions) -> Result<(), String> {
        options.validate()?;
        self.app_state()
            .tenant
            .with(|t| t.subscriptions.delivery.options = options);
        Ok(())
    }

    pub fn notification_counters(&self) -> NotificationCounters {
        self.app_state()
            .tenant
            .with(|t| t.subscriptions.delivery.counters())
    }

    pub fn reset_notification_counters(&self) {
        self.app_state()
            .tenant
            .with(|t| t.subscriptions.delivery.counters = NotificationCounters::default());
    }
}

/// Graph routes, nested under both `/v1.0` and `/beta` (none: delivery has no Graph API).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}

/// Test-control routes, nested under `/_sim`:
/// `GET /notifications` (options and counters), `PUT /notifications/options`,
/// `DELETE /notifications/counters`.
pub(crate) fn admin_routes() -> Router<AppState> {
    Router::new()
        .route("/notifications", get(get_notifications))
        .route("/notifications/options", get(get_options).put(put_options))
        .route("/notifications/counters", delete(delete_counters))
}

async fn get_notifications(State(state): State<AppState>) -> Json<Value> {
    let (options, counters) = state.tenant.with(|t| {
        let d = &t.subscriptions.delivery;
        (d.options.clone(), d.counters())
    });
    Json(json!({ "options": options, "counters": counters }))
}

async fn get_options(State(state): State<AppState>) -> Json<NotificationOptions> {
    Json(
        state
            .tenant
            .with(|t| t.subscriptions.delivery.options.clone()),
    )
}

async fn put_options(
    State(state): State<AppState>,
    body: Result<Json<NotificationOptions>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let options = match body {
        Ok(Json(o)) => o,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": e.body_text()})),
            )
                .into_response();
        }
    };
    if let Err(e) = options.validate() {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": e}))).into_response();
    }
    state
        .tenant
        .with(|t| t.subscriptions.delivery.options = options);
    StatusCode::NO_CONTENT.into_response()
}

async fn delete_counters(State(state): State<AppState>) -> StatusCode {
    state
        .tenant
        .with(|t| t.subscriptions.delivery.counters = NotificationCounters::default());
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subscriptions::Reauthorization;

    const HOOK: &str = "http://127.0.0.1:9/notify";

    /// A tenant with one `/users` subscription to HOOK and `n` notifications due now.
    fn tenant_with_due(n: usize, now: OffsetDateTime) -> Tenant {
        let mut t = Tenant::from_seed(&crate::Seed::contoso(), 0, now).unwrap();
        t.subscriptions.items.insert(
            "sub".into(),
            SubscriptionRecord {
                id: "sub".into(),
                resource: "/users".into(),
                target: Target::AllUsers,
                change_type: "updated".into(),
                change_types: vec!["updated".into()],
                notification_url: HOOK.into(),
                lifecycle_notification_url: None,
                expiration: now + Duration::days(2),
                client_state: None,
                application_id: "app".into(),
                creator_id: "sp".into(),
                latest_supported_tls_version: "v1_2".into(),
                notification_url_app_id: None,
                created: now,
                created_after_seq: 0,
                reauthorization: Reauthorization::default(),
            },
        );
        for i in 0..n {
            let kind = PendingKind::Change {
                user_id: format!("user-{i}"),
                change_type: "updated",
                event_at: now,
            };
            t.subscriptions.delivery.push("sub", HOOK, kind, now);
        }
        t
    }

    fn slow_share(t: &mut Tenant, slow: u64, now: OffsetDateTime) {
        t.subscriptions.delivery.endpoints.insert(
            HOOK.into(),
            EndpointStats {
                window_start: now - Duration::minutes(1),
                notifications: 100,
                slow,
            },
        );
    }

    #[test]
    fn an_endpoint_with_fifteen_percent_slow_answers_loses_its_notifications() {
        let now = time::macros::datetime!(2026-01-01 12:00 UTC);
        let mut t = tenant_with_due(3, now);
        slow_share(&mut t, 15, now);
        assert!(collect_due(&mut t, now).is_empty());
        assert_eq!(t.subscriptions.delivery.counters.throttled_dropped, 3);
    }

    #[test]
    fn an_endpoint_with_ten_percent_slow_answers_is_delayed_ten_minutes() {
        let now = time::macros::datetime!(2026-01-01 12:00 UTC);
        let mut t = tenant_with_due(2, now);
        slow_share(&mut t, 10, now);
        assert!(collect_due(&mut t, now).is_empty());
        assert_eq!(t.subscriptions.delivery.counters.throttled_delayed, 2);
        let later = now + Duration::minutes(10);
        let batches = collect_due(&mut t, later);
        assert_eq!(batches.len(), 1, "delayed once, then sent");
        assert_eq!(batches[0].items.len(), 2);
    }

    #[test]
    fn slow_answers_only_count_within_their_ten_minute_window_and_after_100_notifications() {
        let now = time::macros::datetime!(2026-01-01 12:00 UTC);
        let mut t = tenant_with_due(1, now);
        t.subscriptions.delivery.endpoints.insert(
            HOOK.into(),
            EndpointStats {
                window_start: now - Duration::minutes(1),
                notifications: 99,
                slow: 99,
            },
        );
        assert_eq!(
            collect_due(&mut t, now).len(),
            1,
            "fewer than 100: not judged"
        );
        let mut t = tenant_with_due(1, now);
        slow_share(&mut t, 50, now - Duration::minutes(10));
        assert_eq!(
            collect_due(&mut t, now).len(),
            1,
            "an old window does not count"
        );
    }

    #[test]
    fn a_batch_holds_at_most_max_batch_notifications() {
        let now = time::macros::datetime!(2026-01-01 12:00 UTC);
        let mut t = tenant_with_due(7, now);
        t.subscriptions.delivery.options.max_batch = 5;
        let batches = collect_due(&mut t, now);
        assert_eq!(batches.len(), 1, "one POST per endpoint at a time");
        assert_eq!(batches[0].items.len(), 5);
        assert_eq!(batches[0].body["value"].as_array().unwrap().len(), 5);
        assert_eq!(t.subscriptions.delivery.counters().pending, 2);
        assert_eq!(t.subscriptions.delivery.counters().in_flight, 5);
    }

    #[test]
    fn validation_token_is_encoded_the_way_dotnet_does() {
        assert_eq!(
            dotnet_url_encode("Validation: Testing a/b+c"),
            "Validation%3a+Testing+a%2fb%2bc"
        );
    }

    #[test]
    fn the_token_is_appended_to_an_existing_query_string() {
        let url = url::Url::parse("http://127.0.0.1:9/hook?tenant=x").unwrap();
        assert_eq!(
            with_validation_token(&url, "a b"),
            "http://127.0.0.1:9/hook?tenant=x&validationToken=a+b"
        );
    }

    #[test]
    fn plain_http_is_only_accepted_on_loopback() {
        assert!(check_endpoint_url("notificationUrl", "http://127.0.0.1:1/x").is_ok());
        assert!(check_endpoint_url("notificationUrl", "http://[::1]:1/x").is_ok());
        assert!(check_endpoint_url("notificationUrl", "http://localhost/x").is_ok());
        assert!(check_endpoint_url("notificationUrl", "https://webhook.example.com/x").is_ok());
        assert!(check_endpoint_url("notificationUrl", "http://webhook.example.com/x").is_err());
        assert!(check_endpoint_url("notificationUrl", "not a url").is_err());
    }

    #[test]
    fn defaults_follow_the_documented_limits() {
        let o = NotificationOptions::default();
        assert_eq!(o.response_timeout_ms, 3_000);
        assert_eq!(o.validation_timeout_ms, 10_000);
        assert!(o.validate().is_ok());
    }

    #[test]
    fn backoff_grows_and_is_capped_at_an_hour() {
        assert_eq!(backoff(1), Duration::minutes(1));
        assert_eq!(backoff(2), Duration::minutes(2));
        assert_eq!(backoff(4), Duration::minutes(8));
        assert_eq!(backoff(30), Duration::minutes(60));
    }

    #[test]
    fn sequence_numbers_are_dotnet_ticks() {
        let at = time::macros::datetime!(2018-11-22 01:47:00.2455823 UTC);
        assert_eq!(dotnet_ticks(at), 636_784_480_202_455_823);
    }

    #[test]
    fn expiration_in_notifications_uses_an_explicit_offset() {
        let at = time::macros::datetime!(2022-05-24 23:21:19.3554403 UTC);
        assert_eq!(format_offset(at), "2022-05-24T23:21:19.3554403+00:00");
    }
}
