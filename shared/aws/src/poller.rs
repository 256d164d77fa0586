//! Driving an SQS handler the way Lambda's SQS event source mapping does, outside Lambda.
//!
//! A source hands out batches as [`SqsEvent`]s and settles them from the handler's
//! [`SqsBatchResponse`]: successes are deleted, reported failures stay on the queue and come
//! back after the visibility timeout. The in-memory queue ([`crate::memory::MemoryPoller`]) and a
//! real queue URL ([`crate::sqs::SqsPoller`], used against moto) implement it.
//!
//! Lambda's rules (<https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html>):
//! an empty `batchItemFailures` is full success; an empty identifier or one that names no
//! message of the batch fails the whole batch; a handler error fails the whole batch.

use std::collections::HashSet;
use std::fmt::Display;
use std::future::Future;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("queue unavailable (retryable): {0}")]
    Unavailable(String),
    #[error("queue error: {0}")]
    Other(String),
}

/// What the handler said about a batch.
#[derive(Debug, Clone, Copy)]
pub enum BatchOutcome<'a> {
    /// The handler returned; the listed items failed.
    Handled(&'a SqsBatchResponse),
    /// The handler returned an error (or panicked): every message is retried.
    HandlerFailed,
}

/// What settling a batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settlement {
    pub deleted: usize,
    /// Failed messages, left on the queue for redelivery.
    pub left_for_redelivery: usize,
    /// Successes whose delete did not go through; they will be delivered again (at least once).
    pub delete_failed: usize,
}

#[async_trait]
pub trait SqsEventSource: Send + Sync {
    /// The next batch of visible messages; an event with no records when none is visible.
    async fn receive(&self) -> Result<SqsEvent, PollError>;
    /// Deletes what succeeded; leaves the rest for redelivery.
    async fn settle(
        &self,
        event: &SqsEvent,
        outcome: BatchOutcome<'_>,
    ) -> Result<Settlement, PollError>;
}

/// The message ids of `event` that Lambda would leave on the queue after `outcome`.
pub fn failed_message_ids(event: &SqsEvent, outcome: BatchOutcome<'_>) -> HashSet<String> {
    let all = || {
        event
            .records
            .iter()
            .filter_map(|m| m.message_id.clone())
            .collect::<HashSet<_>>()
    };
    let BatchOutcome::Handled(response) = outcome else {
        return all();
    };
    let in_batch = all();
    let mut failed = HashSet::new();
    for failure in &response.batch_item_failures {
        if failure.item_identifier.is_empty() || !in_batch.contains(&failure.item_identifier) {
            tracing::warn!("batch response names no message of the batch; failing the whole batch");
            return in_batch;
        }
        failed.insert(failure.item_identifier.clone());
    }
    failed
}

/// The receipt handles of a batch, split by what Lambda does with them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Disposition {
    /// Handled successfully: delete.
    pub delete: Vec<String>,
    /// Failed: leave on the queue for redelivery.
    pub redeliver: Vec<String>,
}

impl Disposition {
    /// Applies Lambda's rules ([`failed_message_ids`]) to `event`. Records without a receipt
    /// handle cannot be settled and are skipped.
    pub fn of(event: &SqsEvent, outcome: BatchOutcome<'_>) -> Self {
        let failed = failed_message_ids(event, outcome);
        let mut disposition = Self::default();
        for message in &event.records {
            let Some(handle) = message.receipt_handle.clone() else {
                continue;
            };
            let id = message.message_id.as_deref().unwrap_or_default();
            if failed.contains(id) {
                disposition.redeliver.push(handle);
            } else {
                disposition.delete.push(handle);
            }
        }
        disposition
    }
}

/// Totals of a [`drain`] run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainReport {
    pub batches: usize,
    pub messages: usize,
    pub deleted: usize,
    pub left_for_redelivery: usize,
    pub handler_errors: usize,
}

/// Feeds batches to `handler` until no message is visible (or `max_batches` were handled, a
/// guard for queues whose failures come back at once), settling each batch as Lambda would.
pub async fn drain<S, F, Fut, E>(
    source: &S,
    max_batches: usize,
    mut handler: F,
) -> Result<DrainReport, PollError>
where
    S: SqsEventSource + ?Sized,
    F: FnMut(SqsEvent) -> Fut,
    Fut: Future<Output = Result<SqsBatchResponse, E>>,
    E: Display,
{
    let mut report = DrainReport::default();
    while report.batches < max_batches {
        let event = source.receive().await?;
        if event.records.is_empty() {
            break;
        }
        report.batches += 1;
        report.messages += event.records.len();
        let settlement = match handler(event.clone()).await {
            Ok(response) => {
                source
                    .settle(&event, BatchOutcome::Handled(&response))
                    .await?
            }
            Err(e) => {
                tracing::warn!(error = %e, "handler failed the whole batch");
                report.handler_errors += 1;
                source.settle(&event, BatchOutcome::HandlerFailed).await?
            }
        };
        report.deleted += settlement.deleted;
        report.left_for_redelivery += settlement.left_for_redelivery;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::event::sqs::SqsMessage;

    fn event(ids: &[&str]) -> SqsEvent {
        let mut event = SqsEvent::default();
        for id in ids {
            let mut message = SqsMessage::default();
            message.message_id = Some((*id).to_owned());
            event.records.push(message);
        }
        event
    }

    fn response(ids: &[&str]) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        response.set_failures(ids.iter().copied());
        response
    }

    #[test]
    fn empty_failure_list_means_every_message_succeeded() {
        let failed = failed_message_ids(&event(&["a", "b"]), BatchOutcome::Handled(&response(&[])));
        assert!(failed.is_empty());
    }

    #[test]
    fn listed_failures_are_the_only_ones_left() {
        let failed = failed_message_ids(
            &event(&["a", "b", "c"]),
            BatchOutcome::Handled(&response(&["b"])),
        );
        assert_eq!(failed, HashSet::from(["b".to_owned()]));
    }

    #[test]
    fn unknown_or_empty_identifier_fails_the_whole_batch() {
        let batch = event(&["a", "b"]);
        let all = HashSet::from(["a".to_owned(), "b".to_owned()]);
        assert_eq!(
            failed_message_ids(&batch, BatchOutcome::Handled(&response(&["zz"]))),
            all
        );
        assert_eq!(
            failed_message_ids(&batch, BatchOutcome::Handled(&response(&[""]))),
            all
        );
    }

    #[test]
    fn handler_error_fails_the_whole_batch() {
        let failed = failed_message_ids(&event(&["a", "b"]), BatchOutcome::HandlerFailed);
        assert_eq!(failed.len(), 2);
    }
}
