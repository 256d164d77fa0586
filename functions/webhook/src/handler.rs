//! The webhook's one handler: validation handshake, or notifications → queues (user changes to
//! the enroll queue, lifecycle events to the lifecycle queue).
//!
//! Statuses (the order of the checks):
//!
//! | situation | status |
//! |---|---|
//! | `?validationToken=…` on a POST, any path | 200 `text/plain`, the decoded token (400 if unusable) |
//! | not POST | 405 (`Allow: POST`) |
//! | body over [`MAX_BODY_BYTES`] | 413 |
//! | content type not `application/json` (charset, if any, UTF-8) | 415 |
//! | not UTF-8, not JSON, not a change-notification collection (strict parser) | 400 |
//! | the clientState secret cannot be read | 503 (Graph retries) |
//! | every item failed authentication (clientState / tenant) | 401, nothing enqueued |
//! | otherwise: authenticated items enqueued, the rest dropped and counted | 202 once the queues accepted them |
//! | a queue failed | 503 (500 if it refused the messages), so Graph retries |
//!
//! A lifecycle event (`reauthorizationRequired`, `subscriptionRemoved`, `missed`) is
//! authenticated exactly like a change notification and becomes a [`SubscriptionLifecycle`]
//! message; the subscriptions function answers it through Graph. The webhook holds no Graph
//! credential and makes no Graph call, so its answer never waits on Graph or a token.
//!
//! Why 401 when nothing authenticates, yet 202 for a collection with some forged items: a
//! collection in which no item carries our clientState is either forged (the forger learns
//! nothing: the clientState is long, random and compared in constant time) or ours signed
//! with a secret we no longer accept (a rotation gone wrong) — then a 4xx makes Graph retry
//! for up to 4 hours, time to fix the secret without losing a change. Graph's docs say to
//! discard items whose clientState does not match and to answer 202 quickly; items that do
//! authenticate are never held hostage by forged neighbours.
//! Non-user resources are dropped and counted, and do not make Graph retry (202): they
//! cannot become valid later.

use std::time::Instant;

use autoenroll_aws::metrics::EmfMetrics;
use autoenroll_core::lifecycle::{LifecycleQueue, SubscriptionLifecycle};
use autoenroll_core::notification::{ChangeNotification, Notification};
use autoenroll_core::ports::{
    EnrollQueue, EnrollRequest, QueueError, SecretSource, SecretValue, Trigger,
};
use lambda_http::http::Method;
use lambda_http::http::header::CONTENT_TYPE;
use lambda_http::{Body, Request, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::parse::parse;
use crate::rejection::{Reason, Tally};
use crate::validation::{self, TokenCheck};

mod reply;

pub use reply::Reply;

/// Largest body accepted (Graph batches notifications; 1,000 items of ~600 bytes fit).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What the webhook needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Lowercase GUID.
    pub tenant_id: String,
    /// Name or ARN of the clientState secret.
    pub client_state_secret: String,
}

/// The handler, generic over its ports.
pub struct Webhook<Q, S, L> {
    config: WebhookConfig,
    queue: Q,
    secrets: S,
    lifecycle: L,
    metrics: EmfMetrics,
}

impl<Q, S, L> std::fmt::Debug for Webhook<Q, S, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("tenant_id", &self.config.tenant_id)
            .finish_non_exhaustive()
    }
}

impl<Q, S, L> Webhook<Q, S, L>
where
    Q: EnrollQueue,
    S: SecretSource,
    L: LifecycleQueue,
{
    pub fn new(config: WebhookConfig, queue: Q, secrets: S, lifecycle: L) -> Self {
        Self {
            config,
            queue,
            secrets,
            lifecycle,
            metrics: EmfMetrics::stdout(),
        }
    }

    /// Metrics to somewhere else than stdout (tests capture them).
    pub fn with_metrics(mut self, metrics: EmfMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn queue(&self) -> &Q {
        &self.queue
    }

    /// A Lambda (Function URL) or local-front request.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("\u{fffd}"));
        // Text, binary (base64-decoded by lambda_http) or empty, as bytes.
        let body: &[u8] = request.body();
        self.handle_bytes(request.method(), request.uri().query(), content_type, body)
            .await
            .into_response()
    }

    /// The whole decision on plain inputs: what a benchmark times (with an in-memory queue it
    /// is the handler's own work).
    pub async fn handle_bytes(
        &self,
        method: &Method,
        query: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Reply {
        let started = Instant::now();
        let reply = self.decide(method, query, content_type, body).await;
        reply.rejected.report(&self.metrics);
        tracing::info!(
            status = reply.status,
            enqueued = reply.enqueued,
            lifecycle = reply.lifecycle,
            rejected = reply.rejected.total(),
            body_bytes = body.len(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "webhook request"
        );
        reply
    }

    async fn decide(
        &self,
        method: &Method,
        query: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Reply {
        match validation::check(query) {
            TokenCheck::Absent => {}
            _ if method != Method::POST => {
                return Reply::refused(405, Reason::MethodNotAllowed, "method not allowed");
            }
            TokenCheck::Echo(token) => return Reply::text(200, token),
            TokenCheck::Refused(why) => {
                return Reply::refused(400, Reason::BadValidationToken, why);
            }
        }
        if method != Method::POST {
            return Reply::refused(405, Reason::MethodNotAllowed, "method not allowed");
        }
        if body.len() > MAX_BODY_BYTES {
            return Reply::refused(413, Reason::TooLarge, "body too large");
        }
        if !is_json(content_type) {
            return Reply::refused(
                415,
                Reason::UnsupportedMediaType,
                "expected application/json",
            );
        }
        let (collection, not_users) = match parse(body) {
            Ok(parsed) => parsed,
            Err(why) => {
                tracing::info!(error = %why, "malformed notification body");
                return Reply::refused(400, Reason::Malformed, "malformed change notification");
            }
        };
        let mut rejected = Tally::default();
        rejected.add(Reason::NotAUser, not_users);
        let Some(collection) = collection else {
            // Only non-user items: nothing to do, and nothing Graph should retry.
            return Reply {
                rejected,
                ..Reply::status(202)
            };
        };

        let secret = match self
            .secrets
            .get_secret(&self.config.client_state_secret)
            .await
        {
            Ok(secret) => secret,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the clientState secret");
                return Reply {
                    rejected,
                    ..Reply::text(503, "temporarily unavailable")
                };
            }
        };
        let expected = ExpectedClientState::new(&secret);

        let mut requests = Vec::new();
        let mut lifecycle: Vec<SubscriptionLifecycle> = Vec::new();
        let mut authenticated = 0usize;
        let observed_at = OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .unwrap_or_default();
        for item in &collection.value {
            if let Err(reason) = self.authenticate(item, &expected) {
                rejected.add(reason, 1);
                continue;
            }
            authenticated += 1;
            match item {
                Notification::Change(change) => {
                    requests.push(self.request_for(change, &observed_at));
                }
                Notification::Lifecycle(event) => {
                    let message = SubscriptionLifecycle::from_notification(event, &observed_at);
                    // One message per event: copies in one POST would only collapse in the queue.
                    if !lifecycle
                        .iter()
                        .any(|m| m.dedup_key() == message.dedup_key())
                    {
                        lifecycle.push(message);
                    }
                }
            }
        }
        if authenticated == 0 {
            return Reply {
                rejected,
                ..Reply::text(401, "not authenticated")
            };
        }

        let mut reply = Reply {
            rejected,
            ..Reply::status(202)
        };
        if !requests.is_empty() {
            if let Err(e) = self.queue.send_batch(&requests).await {
                tracing::error!(error = %e, count = requests.len(), "enqueue failed; Graph will retry");
                return Reply {
                    status: queue_status(&e),
                    body: Some("not persisted".into()),
                    ..reply
                };
            }
            reply.enqueued = requests.len();
        }
        if !lifecycle.is_empty() {
            if let Err(e) = self.lifecycle.send_lifecycle(&lifecycle).await {
                tracing::error!(error = %e, count = lifecycle.len(), "lifecycle enqueue failed; Graph will retry");
                return Reply {
                    status: queue_status(&e),
                    body: Some("not persisted".into()),
                    ..reply
                };
            }
            reply.lifecycle = lifecycle.len();
            for message in &lifecycle {
                tracing::info!(
                    subscription = %message.subscription_id,
                    event = message.event.as_str(),
                    "lifecycle event queued"
                );
            }
        }
        reply
    }

    fn authenticate(
        &self,
        item: &Notification,
        expected: &ExpectedClientState,
    ) -> Result<(), Reason> {
        // Tenant ids are not secret; the parser lowercased it.
        if item.tenant_id() != self.config.tenant_id {
            return Err(Reason::WrongTenant);
        }
        let Some(presented) = item.client_state() else {
            return Err(Reason::ClientStateMissing);
        };
        if expected.matches(presented.expose()) {
            Ok(())
        } else {
            Err(Reason::ClientStateMismatch)
        }
    }

    fn request_for(&self, change: &ChangeNotification, observed_at: &str) -> EnrollRequest {
        EnrollRequest {
            tenant_id: change.tenant_id.clone(),
            user_id: change.user_id.clone(),
            trigger: Trigger::Notification {
                subscription_id: change.subscription_id.clone(),
                change_type: change.change_type.as_str().to_owned(),
            },
            observed_at: observed_at.to_owned(),
            dedup_key: dedup_key(change),
        }
    }
}

/// Identity of one change as Graph sent it, so Graph's duplicates (a retried POST, the same
/// notification twice) collapse in the FIFO queue while distinct changes of one user do not:
/// subscription, user, change type, and the notification's own identity (its `id`, else
/// `resourceData` sequence number / event time, else the subscription expiry it was sent
/// under).
pub fn dedup_key(change: &ChangeNotification) -> String {
    let identity = change
        .id
        .as_deref()
        .map(|id| format!("id:{id}"))
        .or_else(|| change.event_identity.clone())
        .unwrap_or_else(|| {
            format!(
                "exp:{}",
                change
                    .subscription_expiration_date_time
                    .unix_timestamp_nanos()
            )
        });
    format!(
        "n|{}|{}|{}|{identity}",
        change.subscription_id,
        change.user_id,
        change.change_type.as_str()
    )
}

/// 503 for a queue that may take the messages on Graph's retry, 500 for one that refused them.
fn queue_status(error: &QueueError) -> u16 {
    match error {
        QueueError::Unavailable(_) => 503,
        QueueError::Rejected(_) => 500,
    }
}

/// `application/json`, optionally with `charset=utf-8` (Graph sends exactly that).
fn is_json(content_type: Option<&str>) -> bool {
    let Some(value) = content_type else {
        return false;
    };
    let mut parts = value.split(';');
    let media = parts.next().unwrap_or_default().trim();
    if !media.eq_ignore_ascii_case("application/json") {
        return false;
    }
    parts.all(|param| {
        let (name, value) = param.split_once('=').unwrap_or((param, ""));
        !name.trim().eq_ignore_ascii_case("charset")
            || value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
    })
}

/// The accepted clientState values, as SHA-256 digests: comparing digests in constant time
/// hides both the content and the length of the secret.
struct ExpectedClientState {
    current: [u8; 32],
    previous: Option<[u8; 32]>,
}

impl ExpectedClientState {
    fn new(secret: &SecretValue) -> Self {
        Self {
            current: digest(&secret.current),
            previous: secret.previous.as_deref().map(digest),
        }
    }

    fn matches(&self, presented: &str) -> bool {
        let presented = digest(presented);
        let current = presented.ct_eq(&self.current);
        let previous = match &self.previous {
            Some(previous) => presented.ct_eq(previous),
            None => subtle::Choice::from(0),
        };
        (current | previous).into()
    }
}

fn digest(value: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&Sha256::digest(value.as_bytes()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types_graph_sends_are_accepted_and_others_not() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON;charset=\"UTF-8\"",
        ] {
            assert!(is_json(Some(ok)), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/json; charset=latin1",
            "application/jsonp",
            "application/x-www-form-urlencoded",
            "",
        ] {
            assert!(!is_json(Some(bad)), "{bad}");
        }
        assert!(!is_json(None));
    }

    #[test]
    fn current_and_previous_client_state_match_and_nothing_else() {
        let expected = ExpectedClientState::new(&SecretValue {
            current: "new-secret".into(),
            previous: Some("old-secret".into()),
            version: None,
        });
        assert!(expected.matches("new-secret"));
        assert!(expected.matches("old-secret"));
        assert!(!expected.matches("new-secre"));
        assert!(!expected.matches(""));
        let no_previous = ExpectedClientState::new(&SecretValue {
            current: "new-secret".into(),
            previous: None,
            version: None,
        });
        assert!(!no_previous.matches("old-secret"));
    }
}
