//! The "subscription lifecycle" message: what the webhook hands on when Graph sends a lifecycle
//! event (`reauthorizationRequired`, `subscriptionRemoved`, `missed`) for our subscription.
//!
//! The webhook is public and holds no Graph credential, so it cannot answer these itself: it
//! authenticates the event like any change notification (tenant, clientState), puts one of
//! these on the lifecycle FIFO queue (group = subscription id) and answers 202. The
//! subscriptions function — which holds the credential, the clientState secret and the
//! notification URL, everything re-creating a subscription takes — consumes the queue.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;

use crate::notification::{LifecycleEvent, LifecycleNotification};
use crate::ports::QueueError;

/// One authenticated lifecycle event. Ids only: no clientState, nothing about users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubscriptionLifecycle {
    pub tenant_id: String,
    pub subscription_id: String,
    pub event: LifecycleEvent,
    /// RFC 3339: the subscription's expiry as the event stated it.
    pub subscription_expiration: String,
    /// RFC 3339: when the webhook received it.
    pub observed_at: String,
}

impl SubscriptionLifecycle {
    pub fn from_notification(event: &LifecycleNotification, observed_at: &str) -> Self {
        Self {
            tenant_id: event.tenant_id.clone(),
            subscription_id: event.subscription_id.clone(),
            event: event.lifecycle_event,
            subscription_expiration: event
                .subscription_expiration_date_time
                .format(&Rfc3339)
                .unwrap_or_default(),
            observed_at: observed_at.to_owned(),
        }
    }

    /// Queue de-duplication identity: subscription, event, the expiry it was sent under and the
    /// time it was received. Lifecycle events carry no id of their own, and Graph sends the
    /// same `reauthorizationRequired` again and again until it is answered, so only copies of
    /// one receipt collapse (several in one POST, a queue send retried); a POST Graph retries
    /// is queued again, which costs one more idempotent reauthorize.
    pub fn dedup_key(&self) -> String {
        format!(
            "l|{}|{}|{}|{}",
            self.subscription_id,
            self.event.as_str(),
            self.subscription_expiration,
            self.observed_at
        )
    }
}

/// Where the webhook puts lifecycle events (an SQS FIFO queue in AWS, consumed by the
/// subscriptions function).
#[async_trait]
pub trait LifecycleQueue: Send + Sync {
    /// Persist every message or fail as a whole (the webhook answers 5xx then, Graph retries).
    async fn send_lifecycle(&self, messages: &[SubscriptionLifecycle]) -> Result<(), QueueError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(event: LifecycleEvent, expiration: &str) -> SubscriptionLifecycle {
        SubscriptionLifecycle {
            tenant_id: "t".into(),
            subscription_id: "s".into(),
            event,
            subscription_expiration: expiration.into(),
            observed_at: "2026-03-01T10:00:00Z".into(),
        }
    }

    #[test]
    fn body_uses_graphs_event_names_and_round_trips() {
        let m = message(
            LifecycleEvent::ReauthorizationRequired,
            "2026-03-20T10:00:00Z",
        );
        let body = serde_json::to_string(&m).unwrap();
        assert!(
            body.contains(r#""event":"reauthorizationRequired""#),
            "{body}"
        );
        assert_eq!(
            serde_json::from_str::<SubscriptionLifecycle>(&body).unwrap(),
            m
        );
        for (event, name) in [
            (LifecycleEvent::SubscriptionRemoved, "subscriptionRemoved"),
            (LifecycleEvent::Missed, "missed"),
        ] {
            let body = serde_json::to_string(&message(event, "x")).unwrap();
            assert!(body.contains(name), "{body}");
        }
    }

    #[test]
    fn dedup_key_tells_events_expiries_and_receipts_apart() {
        let a = message(
            LifecycleEvent::ReauthorizationRequired,
            "2026-03-20T10:00:00Z",
        );
        assert_eq!(a.dedup_key(), a.clone().dedup_key());
        // Graph asks again: the same event, received later, is a new message.
        let mut asked_again = a.clone();
        asked_again.observed_at = "2026-03-01T10:15:00Z".into();
        assert_ne!(a.dedup_key(), asked_again.dedup_key());
        let renewed = message(
            LifecycleEvent::ReauthorizationRequired,
            "2026-03-28T10:00:00Z",
        );
        assert_ne!(a.dedup_key(), renewed.dedup_key());
        let missed = message(LifecycleEvent::Missed, "2026-03-20T10:00:00Z");
        assert_ne!(a.dedup_key(), missed.dedup_key());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let body = r#"{"tenantId":"t","subscriptionId":"s","event":"missed","subscriptionExpiration":"x","observedAt":"y","clientState":"z"}"#;
        assert!(serde_json::from_str::<SubscriptionLifecycle>(body).is_err());
    }
}
