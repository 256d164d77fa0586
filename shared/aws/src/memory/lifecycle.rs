//! The in-memory queue as the subscription-lifecycle queue (the webhook sends, the
//! subscriptions function consumes).

use async_trait::async_trait;
use autoenroll_core::lifecycle::{LifecycleQueue, SubscriptionLifecycle};
use autoenroll_core::ports::QueueError;

use super::MemoryFifoQueue;
use crate::lifecycle::{decode_body, fifo_message};

#[async_trait]
impl LifecycleQueue for MemoryFifoQueue {
    async fn send_lifecycle(&self, messages: &[SubscriptionLifecycle]) -> Result<(), QueueError> {
        self.check_available()?;
        let encoded = messages
            .iter()
            .map(fifo_message)
            .collect::<Result<Vec<_>, _>>()?;
        for message in encoded {
            self.send(message);
        }
        Ok(())
    }
}

impl MemoryFifoQueue {
    /// The lifecycle messages on the queue, in send order (inspection; other bodies are left
    /// out).
    pub fn lifecycle_messages(&self) -> Vec<SubscriptionLifecycle> {
        self.bodies()
            .iter()
            .filter_map(|body| decode_body(body).ok())
            .collect()
    }
}
