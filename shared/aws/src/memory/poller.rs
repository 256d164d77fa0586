//! Driving an in-memory queue into an SQS handler as Lambda's event source mapping does.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};

use super::{LOCAL_REGION, MemoryFifoQueue, ReceivedMessage};
use crate::fifo::MAX_BATCH;
use crate::poller::{BatchOutcome, Disposition, PollError, Settlement, SqsEventSource};

/// Feeds an in-memory queue to an SQS handler as Lambda's event source mapping would.
#[derive(Debug, Clone)]
pub struct MemoryPoller {
    queue: MemoryFifoQueue,
    batch_size: usize,
    retry_delay: Option<Duration>,
}

impl MemoryPoller {
    pub fn new(queue: MemoryFifoQueue) -> Self {
        Self {
            queue,
            batch_size: MAX_BATCH,
            retry_delay: None,
        }
    }

    /// Messages per event, 1..=10.
    pub fn batch_size(mut self, size: usize) -> Self {
        self.batch_size = size.clamp(1, MAX_BATCH);
        self
    }

    /// Failed messages become visible after this delay instead of the rest of the visibility
    /// timeout (which is what Lambda does).
    pub fn retry_delay(mut self, delay: Duration) -> Self {
        self.retry_delay = Some(delay);
        self
    }

    pub fn queue(&self) -> &MemoryFifoQueue {
        &self.queue
    }

    fn to_event_message(&self, message: ReceivedMessage) -> SqsMessage {
        let mut out = SqsMessage::default();
        out.attributes = HashMap::from([
            (
                "ApproximateReceiveCount".to_owned(),
                message.receive_count.to_string(),
            ),
            (
                "SentTimestamp".to_owned(),
                message.sent_timestamp_ms.to_string(),
            ),
            ("SenderId".to_owned(), "AIDAAUTOENROLLLOCAL".to_owned()),
            (
                "ApproximateFirstReceiveTimestamp".to_owned(),
                message.first_receive_timestamp_ms.to_string(),
            ),
            (
                "SequenceNumber".to_owned(),
                format!("{:020}", message.sequence_number),
            ),
            ("MessageGroupId".to_owned(), message.group_id),
            ("MessageDeduplicationId".to_owned(), message.dedup_id),
        ]);
        out.message_id = Some(message.message_id);
        out.receipt_handle = Some(message.receipt_handle);
        out.body = Some(message.body);
        out.event_source = Some("aws:sqs".to_owned());
        out.event_source_arn = Some(self.queue.arn());
        out.aws_region = Some(LOCAL_REGION.to_owned());
        out
    }
}

#[async_trait]
impl SqsEventSource for MemoryPoller {
    async fn receive(&self) -> Result<SqsEvent, PollError> {
        let mut event = SqsEvent::default();
        event.records = self
            .queue
            .receive(self.batch_size)
            .into_iter()
            .map(|m| self.to_event_message(m))
            .collect();
        Ok(event)
    }

    async fn settle(
        &self,
        event: &SqsEvent,
        outcome: BatchOutcome<'_>,
    ) -> Result<Settlement, PollError> {
        let disposition = Disposition::of(event, outcome);
        let mut settlement = Settlement {
            left_for_redelivery: disposition.redeliver.len(),
            ..Settlement::default()
        };
        if let Some(delay) = self.retry_delay {
            for handle in &disposition.redeliver {
                // An expired handle means the message is visible already: nothing to do.
                let _ = self.queue.change_visibility(handle, delay);
            }
        }
        for handle in &disposition.delete {
            match self.queue.delete(handle) {
                Ok(()) => settlement.deleted += 1,
                Err(e) => {
                    tracing::warn!(error = %e, "delete failed; the message will be delivered again");
                    settlement.delete_failed += 1;
                }
            }
        }
        Ok(settlement)
    }
}
