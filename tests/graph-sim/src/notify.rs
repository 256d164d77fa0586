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
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::AppState;

mod endpoint;
#[cfg(test)]
mod tests;
mod worker;

pub(crate) use endpoint::{HttpClients, check_endpoint_url, validate_endpoint};
pub(crate) use worker::start;

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
