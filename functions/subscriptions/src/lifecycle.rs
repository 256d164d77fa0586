//! The lifecycle queue's consumer: Graph's lifecycle events for our subscription, which the
//! webhook authenticated and queued (it holds no Graph credential).
//!
//! Why this function and not enroll: answering means reauthorizing, or re-creating the
//! subscription — and re-creating takes the clientState secret and the notification URL, which
//! only this function has. Enroll keeps its least privilege and its queue stays about users.
//!
//! | event | what happens |
//! |---|---|
//! | `reauthorizationRequired` | `POST /subscriptions/{id}/reauthorize`; refused (403/400) or gone (404): [`ensure_replacing`] — a new subscription first, then the old one deleted |
//! | `subscriptionRemoved` | [`ensure_replacing`]: a new subscription |
//! | `missed` | counted (metric `SubscriptionLifecycle`, `Event=missed`) and logged; nothing else: the reconcile sweep runs every minute from its delta link, which returns every change since the last sweep whether or not a notification was sent, so the missed changes are found within a minute without a second, overlapping sweep |
//!
//! Failures (Graph unavailable or throttled, the store, the secret) are reported as batch item
//! failures: SQS delivers the message again after the visibility timeout, and after
//! `maxReceiveCount` receives it moves to the lifecycle dead-letter queue, which an alarm
//! watches. The queue is FIFO: once a message fails, the rest of its batch is reported failed
//! unprocessed, so nothing overtakes it.

use autoenroll_aws::metrics::Metric;
use autoenroll_core::lifecycle::SubscriptionLifecycle;
use autoenroll_core::notification::LifecycleEvent;
use autoenroll_core::ports::{SecretSource, SubscriptionStore};
use autoenroll_graph::GraphError;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use serde::{Deserialize, Serialize};

use crate::{Report, SubscriptionsError, SubscriptionsFunction, ensure_replacing};

/// What invoked the function: the schedule (its payload is not used) or the lifecycle queue's
/// event source (an SQS event: an object with `Records`).
#[derive(Debug, Clone)]
pub enum Invocation {
    Schedule,
    Queue(SqsEvent),
}

impl<'de> Deserialize<'de> for Invocation {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        if value.get("Records").is_some() {
            SqsEvent::deserialize(value)
                .map(Invocation::Queue)
                .map_err(serde::de::Error::custom)
        } else {
            Ok(Invocation::Schedule)
        }
    }
}

/// The function's answer: the schedule's report, or the SQS partial batch response.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Answer {
    Schedule(Report),
    Queue(SqsBatchResponse),
}

/// What became of one lifecycle event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LifecycleOutcome {
    Reauthorized,
    /// The subscription was replaced, or another one of ours is already current.
    Ensured(Report),
    /// `missed`: the every-minute reconcile sweep covers it (see the module docs).
    LeftToSweep,
}

/// Why one message was not handled; each is retried by SQS, then dead-lettered.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleFailure {
    /// Not a lifecycle message (serde's text names the field, never a value of ours: the body
    /// holds ids only).
    #[error("not a lifecycle message: {0}")]
    Undecodable(#[from] serde_json::Error),
    #[error("message without a body")]
    NoBody,
    #[error(transparent)]
    Subscriptions(#[from] SubscriptionsError),
    /// FIFO: an earlier message of the batch failed, so this one waits its turn.
    #[error("not processed: an earlier message of the batch failed")]
    AfterEarlierFailure,
}

/// Graph said no to the reauthorization itself, as opposed to not answering (throttled,
/// unavailable: retried) — replacing the subscription is the documented way out.
fn refused(error: &GraphError) -> bool {
    error.is_not_found() || error.is_forbidden() || error.is_invalid_request()
}

impl<St: SubscriptionStore, Se: SecretSource> SubscriptionsFunction<St, Se> {
    /// One batch from the lifecycle queue, answered with the messages to retry.
    pub async fn handle_lifecycle_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        let mut failed = false;
        for record in &event.records {
            let id = record.message_id.clone().unwrap_or_default();
            let result = if failed {
                Err(LifecycleFailure::AfterEarlierFailure)
            } else {
                self.handle_lifecycle_body(record.body.as_deref()).await
            };
            match result {
                Ok(outcome) => {
                    tracing::info!(message = %id, outcome = ?outcome_name(&outcome), "lifecycle event handled")
                }
                Err(e) => {
                    failed = true;
                    tracing::error!(message = %id, error = %e, "lifecycle event not handled; SQS will deliver it again");
                    response.add_failure(id);
                }
            }
        }
        response
    }

    async fn handle_lifecycle_body(
        &self,
        body: Option<&str>,
    ) -> Result<LifecycleOutcome, LifecycleFailure> {
        let message =
            autoenroll_aws::lifecycle::decode_body(body.ok_or(LifecycleFailure::NoBody)?)?;
        Ok(self.on_lifecycle(&message).await?)
    }

    /// Answers one lifecycle event; see the module docs.
    pub async fn on_lifecycle(
        &self,
        message: &SubscriptionLifecycle,
    ) -> Result<LifecycleOutcome, SubscriptionsError> {
        let id = message.subscription_id.as_str();
        self.metrics.emit(Metric::SubscriptionLifecycle {
            event: message.event.as_str(),
        });
        match message.event {
            LifecycleEvent::ReauthorizationRequired => {
                match self.graph.subscriptions().reauthorize(id).await {
                    Ok(()) => {
                        tracing::info!(subscription = %id, "subscription reauthorized");
                        Ok(LifecycleOutcome::Reauthorized)
                    }
                    Err(e) if refused(&e) => {
                        tracing::warn!(subscription = %id, status = ?e.status, code = ?e.code, "reauthorization refused; replacing the subscription");
                        self.replace(id).await
                    }
                    Err(e) => Err(e.into()),
                }
            }
            LifecycleEvent::SubscriptionRemoved => {
                tracing::warn!(subscription = %id, "Graph removed the subscription; re-creating it");
                self.replace(id).await
            }
            LifecycleEvent::Missed => {
                tracing::warn!(subscription = %id, "Graph missed notifications; the reconcile sweep finds the changes");
                Ok(LifecycleOutcome::LeftToSweep)
            }
        }
    }

    async fn replace(&self, id: &str) -> Result<LifecycleOutcome, SubscriptionsError> {
        let report = ensure_replacing(
            &self.graph,
            &self.store,
            &self.secrets,
            &self.config,
            (self.clock)(),
            Some(id),
        )
        .await?;
        tracing::info!(
            replaced = %id,
            subscription = %report.subscription_id,
            created = report.created,
            "subscription ensured after a lifecycle event"
        );
        Ok(LifecycleOutcome::Ensured(report))
    }
}

fn outcome_name(outcome: &LifecycleOutcome) -> &'static str {
    match outcome {
        LifecycleOutcome::Reauthorized => "reauthorized",
        LifecycleOutcome::Ensured(_) => "ensured",
        LifecycleOutcome::LeftToSweep => "leftToSweep",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_sqs_event_is_a_queue_invocation_and_anything_else_the_schedule() {
        let sqs = serde_json::json!({ "Records": [{
            "messageId": "m1", "receiptHandle": "r1", "body": "{}",
            "attributes": {}, "messageAttributes": {}, "md5OfBody": "",
            "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:eu-west-1:1:q.fifo",
            "awsRegion": "eu-west-1"
        }]});
        let Invocation::Queue(event) = serde_json::from_value(sqs).unwrap() else {
            panic!("an SQS event");
        };
        assert_eq!(event.records[0].message_id.as_deref(), Some("m1"));
        let scheduler = serde_json::json!({
            "version": "0", "id": "x", "detail-type": "Scheduled Event",
            "source": "aws.scheduler", "detail": {}
        });
        assert!(matches!(
            serde_json::from_value(scheduler).unwrap(),
            Invocation::Schedule
        ));
        assert!(matches!(
            serde_json::from_value(serde_json::json!({})).unwrap(),
            Invocation::Schedule
        ));
    }

    #[test]
    fn answers_serialise_as_the_report_or_the_batch_response() {
        let mut response = SqsBatchResponse::default();
        response.add_failure("m1");
        let text = serde_json::to_string(&Answer::Queue(response)).unwrap();
        assert!(
            text.contains(r#""batchItemFailures":[{"itemIdentifier":"m1"}]"#),
            "{text}"
        );
        let text = serde_json::to_string(&Answer::Schedule(Report::default())).unwrap();
        assert!(text.contains("subscriptionId"), "{text}");
    }
}
