//! SQS FIFO: the sender behind [`EnrollQueue`] and a poller for a real queue URL.
//!
//! Sending: `SendMessageBatch` in chunks of 10, chunks one after another so a user's messages
//! keep their order. SQS answers per entry; an entry that failed for a transient reason
//! (`SenderFault = false`: throttling, internal error) is sent again with the same
//! de-duplication id, so a retry can never deliver twice; anything still failing fails the
//! whole call, so the caller (the webhook) answers 5xx and Graph redelivers — nothing is
//! acknowledged that SQS did not persist. (A retried entry may land after a later message of the
//! same user; harmless, because a message only says "look at this user again".)

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use autoenroll_core::ports::{EnrollQueue, EnrollRequest, QueueError};
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, SendMessageBatchRequestEntry,
};

use crate::error::{Failure, classify, is_transient_code};
use crate::fifo::{FifoMessage, MAX_BATCH};
use crate::poller::{BatchOutcome, Disposition, PollError, Settlement, SqsEventSource};

/// How often one entry is offered to SQS before the call fails.
const ENTRY_ATTEMPTS: u32 = 3;
/// Pause before re-sending failed entries (doubles per attempt).
const ENTRY_RETRY_BASE: Duration = Duration::from_millis(100);

/// Sends enroll requests to an SQS FIFO queue.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    /// Sends up to 10 messages, re-sending entries that failed transiently.
    pub(crate) async fn send_chunk(&self, chunk: &[FifoMessage]) -> Result<(), QueueError> {
        // Batch entry ids are the positions in the chunk.
        let mut pending: Vec<usize> = (0..chunk.len()).collect();
        let mut last_codes = Vec::new();
        for attempt in 0..ENTRY_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(ENTRY_RETRY_BASE * 2u32.pow(attempt - 1)).await;
            }
            let entries = pending
                .iter()
                .map(|&i| entry(i, &chunk[i]))
                .collect::<Result<Vec<_>, _>>()?;
            let output = self
                .client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| match classify("SendMessageBatch", &e) {
                    Failure::Retryable(text) => QueueError::Unavailable(text),
                    Failure::Permanent(text) => QueueError::Rejected(text),
                })?;

            let mut retry = Vec::new();
            let mut rejected = Vec::new();
            last_codes.clear();
            for failed in output.failed() {
                let index = failed
                    .id()
                    .parse::<usize>()
                    .ok()
                    .filter(|i| pending.contains(i));
                let Some(index) = index else {
                    return Err(QueueError::Rejected(format!(
                        "SendMessageBatch reported an unknown entry id {:?}",
                        failed.id()
                    )));
                };
                last_codes.push(failed.code().to_owned());
                if failed.sender_fault() && !is_transient_code(failed.code()) {
                    rejected.push(failed.code().to_owned());
                } else {
                    retry.push(index);
                }
            }
            if !rejected.is_empty() {
                return Err(QueueError::Rejected(format!(
                    "SQS rejected {} of {} messages: {}",
                    rejected.len(),
                    chunk.len(),
                    rejected.join(", ")
                )));
            }
            let accepted = output.successful().len();
            if accepted + retry.len() != pending.len() {
                return Err(QueueError::Unavailable(format!(
                    "SendMessageBatch answered for {} of {} entries",
                    accepted + retry.len(),
                    pending.len()
                )));
            }
            if retry.is_empty() {
                return Ok(());
            }
            tracing::warn!(
                failed = retry.len(),
                attempt = attempt + 1,
                codes = %last_codes.join(","),
                "SQS did not accept some messages; re-sending them"
            );
            pending = retry;
        }
        Err(QueueError::Unavailable(format!(
            "SQS did not accept {} of {} messages after {ENTRY_ATTEMPTS} attempts: {}",
            pending.len(),
            chunk.len(),
            last_codes.join(", ")
        )))
    }
}

fn entry(index: usize, message: &FifoMessage) -> Result<SendMessageBatchRequestEntry, QueueError> {
    SendMessageBatchRequestEntry::builder()
        .id(index.to_string())
        .message_body(&message.body)
        .message_group_id(&message.group_id)
        .message_deduplication_id(&message.dedup_id)
        .build()
        .map_err(|e| QueueError::Rejected(format!("cannot build batch entry: {e}")))
}

#[async_trait]
impl EnrollQueue for SqsQueue {
    async fn send_batch(&self, requests: &[EnrollRequest]) -> Result<(), QueueError> {
        // Encode everything first: a bad request fails the call before anything is sent.
        let messages = requests
            .iter()
            .map(FifoMessage::from_request)
            .collect::<Result<Vec<_>, _>>()?;
        for chunk in messages.chunks(MAX_BATCH) {
            self.send_chunk(chunk).await?;
        }
        tracing::debug!(count = messages.len(), "enroll requests queued");
        Ok(())
    }
}

/// Receives from a real SQS queue (moto in tests) and settles like the Lambda event source
/// mapping: successes deleted, failures left for redelivery.
#[derive(Debug, Clone)]
pub struct SqsPoller {
    client: aws_sdk_sqs::Client,
    queue_url: String,
    event_source_arn: Option<String>,
    batch_size: i32,
    wait_time: Duration,
    retry_delay: Option<Duration>,
}

impl SqsPoller {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
            event_source_arn: None,
            batch_size: MAX_BATCH as i32,
            wait_time: Duration::ZERO,
            retry_delay: None,
        }
    }

    /// Messages per event, 1..=10 (the event source mapping's `BatchSize` for FIFO).
    pub fn batch_size(mut self, size: usize) -> Self {
        self.batch_size = size.clamp(1, MAX_BATCH) as i32;
        self
    }

    /// Long-poll wait per receive (0 = short poll; SQS allows up to 20 s).
    pub fn wait_time(mut self, wait: Duration) -> Self {
        self.wait_time = wait.min(Duration::from_secs(20));
        self
    }

    /// The queue ARN to put in `eventSourceARN`.
    pub fn event_source_arn(mut self, arn: impl Into<String>) -> Self {
        self.event_source_arn = Some(arn.into());
        self
    }

    /// Lambda leaves a failed message invisible for the rest of its visibility timeout. With a
    /// retry delay, failed messages become visible again after this delay instead (local runs
    /// and tests that do not want to wait).
    pub fn retry_delay(mut self, delay: Duration) -> Self {
        self.retry_delay = Some(delay);
        self
    }

    fn to_event_message(&self, message: &aws_sdk_sqs::types::Message) -> SqsMessage {
        let mut out = SqsMessage::default();
        out.message_id = message.message_id().map(str::to_owned);
        out.receipt_handle = message.receipt_handle().map(str::to_owned);
        out.body = message.body().map(str::to_owned);
        out.md5_of_body = message.md5_of_body().map(str::to_owned);
        out.attributes = message
            .attributes()
            .map(|attributes| {
                attributes
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                    .collect::<HashMap<_, _>>()
            })
            .unwrap_or_default();
        out.event_source = Some("aws:sqs".into());
        out.event_source_arn = self.event_source_arn.clone();
        out.aws_region = self.client.config().region().map(|r| r.to_string());
        out
    }
}

fn poll_error(
    operation: &str,
    err: &aws_sdk_sqs::error::SdkError<
        impl std::error::Error + aws_sdk_sqs::error::ProvideErrorMetadata + 'static,
        aws_sdk_sqs::config::http::HttpResponse,
    >,
) -> PollError {
    match classify(operation, err) {
        Failure::Retryable(text) => PollError::Unavailable(text),
        Failure::Permanent(text) => PollError::Other(text),
    }
}

#[async_trait]
impl SqsEventSource for SqsPoller {
    async fn receive(&self) -> Result<SqsEvent, PollError> {
        let output = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(self.batch_size)
            .wait_time_seconds(self.wait_time.as_secs() as i32)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            // A FIFO receive retried by the SDK with the same attempt id returns the same
            // messages instead of hiding them for a visibility timeout.
            .receive_request_attempt_id(uuid::Uuid::new_v4().simple().to_string())
            .send()
            .await
            .map_err(|e| poll_error("ReceiveMessage", &e))?;
        let mut event = SqsEvent::default();
        event.records = output
            .messages()
            .iter()
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
                let changed = self
                    .client
                    .change_message_visibility()
                    .queue_url(&self.queue_url)
                    .receipt_handle(handle)
                    .visibility_timeout(delay.as_secs() as i32)
                    .send()
                    .await;
                match changed {
                    Ok(_) => {}
                    // The message was received again under another receipt (e.g. this handler
                    // outlasted the visibility timeout) and perhaps deleted: that receipt
                    // settles it.
                    Err(e)
                        if e.as_service_error().is_some_and(|se| {
                            se.is_receipt_handle_is_invalid() || se.is_message_not_inflight()
                        }) =>
                    {
                        tracing::warn!(
                            "receipt no longer valid (handled past the visibility timeout); \
                             the queue delivers the message again if it is still there"
                        );
                    }
                    Err(e) => return Err(poll_error("ChangeMessageVisibility", &e)),
                }
            }
        }
        for chunk in disposition.delete.chunks(MAX_BATCH) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, handle)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(handle)
                        .build()
                        .map_err(|e| PollError::Other(format!("cannot build delete entry: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let output = self
                .client
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| poll_error("DeleteMessageBatch", &e))?;
            settlement.deleted += output.successful().len();
            settlement.delete_failed += output.failed().len();
            for failed in output.failed() {
                tracing::warn!(
                    code = failed.code(),
                    "delete failed; the message will be delivered again"
                );
            }
        }
        Ok(settlement)
    }
}
