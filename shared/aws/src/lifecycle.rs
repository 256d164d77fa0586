//! The subscription-lifecycle queue: the webhook sends [`SubscriptionLifecycle`] messages, the
//! subscriptions function consumes them (an SQS event source in AWS). A FIFO queue of its own,
//! not the enroll queue: its consumer is another function, with its own dead-letter queue.
//!
//! Message group = the subscription id (one subscription's events in order, never two at
//! once); de-duplication id = SHA-256 of [`SubscriptionLifecycle::dedup_key`] (a queue send
//! retried with the same id never delivers twice).

use async_trait::async_trait;
use autoenroll_core::lifecycle::{LifecycleQueue, SubscriptionLifecycle};
use autoenroll_core::ports::QueueError;
use sha2::{Digest, Sha256};

use crate::fifo::{FifoMessage, MAX_BATCH, group_id};
use crate::sqs::SqsQueue;

/// Checks and encodes a lifecycle message.
pub fn fifo_message(message: &SubscriptionLifecycle) -> Result<FifoMessage, QueueError> {
    if message.subscription_id.trim().is_empty() {
        return Err(QueueError::Rejected(
            "lifecycle message without a subscription id".into(),
        ));
    }
    let body = serde_json::to_string(message)
        .map_err(|e| QueueError::Rejected(format!("cannot encode lifecycle message: {e}")))?;
    Ok(FifoMessage {
        group_id: group_id(&message.subscription_id),
        dedup_id: hex::encode(Sha256::digest(message.dedup_key().as_bytes())),
        body,
    })
}

/// Decodes a body written by [`fifo_message`].
pub fn decode_body(body: &str) -> Result<SubscriptionLifecycle, serde_json::Error> {
    serde_json::from_str(body)
}

#[async_trait]
impl LifecycleQueue for SqsQueue {
    async fn send_lifecycle(&self, messages: &[SubscriptionLifecycle]) -> Result<(), QueueError> {
        let encoded = messages
            .iter()
            .map(fifo_message)
            .collect::<Result<Vec<_>, _>>()?;
        for chunk in encoded.chunks(MAX_BATCH) {
            self.send_chunk(chunk).await?;
        }
        tracing::debug!(count = encoded.len(), "lifecycle messages queued");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryFifoQueue;
    use autoenroll_core::notification::LifecycleEvent;

    fn message(subscription: &str) -> SubscriptionLifecycle {
        SubscriptionLifecycle {
            tenant_id: "8f2c6a51-3b7e-4d0a-9c1e-5a4b2d9e7f10".into(),
            subscription_id: subscription.into(),
            event: LifecycleEvent::ReauthorizationRequired,
            subscription_expiration: "2026-03-20T10:00:00Z".into(),
            observed_at: "2026-03-20T07:00:00Z".into(),
        }
    }

    #[test]
    fn grouped_by_subscription_and_deduplicated_per_receipt() {
        let a = fifo_message(&message("0e3f2a33-3c1f-4a8c-9a4b-1f5a7d2c9b10")).unwrap();
        assert_eq!(a.group_id, "0e3f2a33-3c1f-4a8c-9a4b-1f5a7d2c9b10");
        assert_eq!(a.dedup_id.len(), 64);
        let same = fifo_message(&message("0e3f2a33-3c1f-4a8c-9a4b-1f5a7d2c9b10")).unwrap();
        assert_eq!(same.dedup_id, a.dedup_id);
        let mut asked_again = message("0e3f2a33-3c1f-4a8c-9a4b-1f5a7d2c9b10");
        asked_again.observed_at = "2026-03-20T07:15:00Z".into();
        assert_ne!(fifo_message(&asked_again).unwrap().dedup_id, a.dedup_id);
        assert_eq!(
            decode_body(&a.body).unwrap(),
            message("0e3f2a33-3c1f-4a8c-9a4b-1f5a7d2c9b10")
        );
        assert!(matches!(
            fifo_message(&message(" ")),
            Err(QueueError::Rejected(_))
        ));
    }

    #[tokio::test]
    async fn memory_queue_keeps_one_copy_of_a_resent_message_and_fails_when_unavailable() {
        let queue = MemoryFifoQueue::builder("lifecycle.fifo").build();
        let m = message("0e3f2a33-3c1f-4a8c-9a4b-1f5a7d2c9b10");
        queue.send_lifecycle(&[m.clone(), m.clone()]).await.unwrap();
        assert_eq!(queue.lifecycle_messages(), vec![m.clone()]);
        queue.set_unavailable(true);
        assert!(matches!(
            queue.send_lifecycle(&[m]).await,
            Err(QueueError::Unavailable(_))
        ));
    }
}
