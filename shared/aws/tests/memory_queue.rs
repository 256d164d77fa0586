//! The in-memory FIFO queue behaves like SQS FIFO, and its poller like Lambda's event source
//! mapping. Time is a manual clock: nothing here sleeps.

use std::time::Duration;

use autoenroll_aws::fifo::{FifoMessage, decode_body};
use autoenroll_aws::memory::{
    ManualClock, MemoryFifoQueue, MemoryPoller, MemoryQueueError, StaticSecrets,
};
use autoenroll_aws::poller::{DrainReport, SqsEventSource, drain};
use autoenroll_core::ports::{EnrollQueue, EnrollRequest, QueueError, SecretSource, Trigger};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};

fn message(group: &str, body: &str) -> FifoMessage {
    FifoMessage {
        group_id: group.into(),
        dedup_id: format!("{group}:{body}"),
        body: body.into(),
    }
}

fn request(user: &str, key: &str) -> EnrollRequest {
    EnrollRequest {
        tenant_id: "tenant".into(),
        user_id: user.into(),
        trigger: Trigger::Reconcile,
        observed_at: "2025-01-01T00:00:00Z".into(),
        dedup_key: key.into(),
    }
}

fn queue(clock: &ManualClock) -> MemoryFifoQueue {
    MemoryFifoQueue::builder("enroll.fifo")
        .visibility_timeout(Duration::from_secs(30))
        .clock(clock.clone())
        .build()
}

fn bodies(received: &[autoenroll_aws::memory::ReceivedMessage]) -> Vec<&str> {
    received.iter().map(|m| m.body.as_str()).collect()
}

#[test]
fn one_group_is_delivered_in_send_order_one_message_at_a_time() {
    let clock = ManualClock::new();
    let queue = queue(&clock);
    for body in ["a1", "a2", "a3"] {
        queue.send(message("A", body));
    }
    queue.send(message("B", "b1"));

    let first = queue.receive(10);
    assert_eq!(bodies(&first), ["a1", "b1"]);
    assert!(queue.receive(10).is_empty(), "both groups are in flight");

    queue.delete(&first[0].receipt_handle).unwrap();
    let second = queue.receive(10);
    assert_eq!(bodies(&second), ["a2"]);
    queue.delete(&second[0].receipt_handle).unwrap();
    queue.delete(&first[1].receipt_handle).unwrap();
    let third = queue.receive(10);
    assert_eq!(bodies(&third), ["a3"]);
    queue.delete(&third[0].receipt_handle).unwrap();
    assert!(queue.is_empty());
}

#[test]
fn group_batching_hands_out_consecutive_messages_of_a_group_together() {
    let clock = ManualClock::new();
    let queue = MemoryFifoQueue::builder("enroll.fifo")
        .group_batching(true)
        .clock(clock.clone())
        .build();
    for body in ["a1", "a2"] {
        queue.send(message("A", body));
    }
    queue.send(message("B", "b1"));
    queue.send(message("A", "a3"));

    let batch = queue.receive(3);
    assert_eq!(bodies(&batch), ["a1", "a2", "b1"]);
    assert!(
        queue.receive(10).is_empty(),
        "a3 waits while a1/a2 are in flight"
    );
}

#[test]
fn unacknowledged_message_comes_back_after_the_visibility_timeout_before_later_ones() {
    let clock = ManualClock::new();
    let queue = queue(&clock);
    queue.send(message("A", "a1"));
    queue.send(message("A", "a2"));

    let first = queue.receive(10);
    assert_eq!(first[0].receive_count, 1);
    clock.advance(Duration::from_secs(29));
    assert!(
        queue.receive(10).is_empty(),
        "still invisible, a2 must wait"
    );
    clock.advance(Duration::from_secs(1));

    let again = queue.receive(10);
    assert_eq!(bodies(&again), ["a1"]);
    assert_eq!(again[0].message_id, first[0].message_id);
    assert_eq!(again[0].receive_count, 2);
    assert_ne!(again[0].receipt_handle, first[0].receipt_handle);
    assert_eq!(
        queue.delete(&first[0].receipt_handle),
        Err(MemoryQueueError::InvalidReceiptHandle),
        "only the latest receipt handle deletes"
    );
    queue.delete(&again[0].receipt_handle).unwrap();
    assert_eq!(bodies(&queue.receive(10)), ["a2"]);
}

#[test]
fn expired_receipt_handle_no_longer_deletes() {
    let clock = ManualClock::new();
    let queue = queue(&clock);
    queue.send(message("A", "a1"));
    let received = queue.receive(1);
    clock.advance(Duration::from_secs(31));
    assert_eq!(
        queue.delete(&received[0].receipt_handle),
        Err(MemoryQueueError::ReceiptHandleExpired)
    );
    assert_eq!(queue.len(), 1);
}

#[test]
fn change_visibility_to_zero_makes_the_message_visible_at_once() {
    let clock = ManualClock::new();
    let queue = queue(&clock);
    queue.send(message("A", "a1"));
    let received = queue.receive(1);
    queue
        .change_visibility(&received[0].receipt_handle, Duration::ZERO)
        .unwrap();
    assert_eq!(bodies(&queue.receive(1)), ["a1"]);
}

#[test]
fn message_moves_to_the_dead_letter_queue_after_max_receives_and_frees_its_group() {
    let clock = ManualClock::new();
    let dlq = MemoryFifoQueue::builder("enroll-dlq.fifo")
        .clock(clock.clone())
        .build();
    let queue = MemoryFifoQueue::builder("enroll.fifo")
        .visibility_timeout(Duration::from_secs(30))
        .dead_letter_queue(dlq.clone(), 3)
        .clock(clock.clone())
        .build();
    queue.send(message("A", "poison"));
    queue.send(message("A", "next"));

    let mut poison_id = String::new();
    for attempt in 1..=3 {
        let received = queue.receive(10);
        assert_eq!(bodies(&received), ["poison"], "attempt {attempt}");
        assert_eq!(received[0].receive_count, attempt);
        poison_id = received[0].message_id.clone();
        clock.advance(Duration::from_secs(30));
    }

    let after = queue.receive(10);
    assert_eq!(bodies(&after), ["next"], "the group moves on");
    assert_eq!(queue.len(), 1);
    assert_eq!(dlq.len(), 1);
    let dead = dlq.receive(10);
    assert_eq!(bodies(&dead), ["poison"]);
    assert_eq!(dead[0].message_id, poison_id);
    assert_eq!(dead[0].group_id, "A");
}

#[test]
fn duplicate_within_five_minutes_is_dropped_even_after_the_first_was_deleted() {
    let clock = ManualClock::new();
    let queue = queue(&clock);
    let first = queue.send(message("A", "a1"));
    assert!(!first.duplicate);
    let duplicate = queue.send(message("A", "a1"));
    assert!(duplicate.duplicate);
    assert_eq!(duplicate.message_id, first.message_id);
    assert_eq!(queue.len(), 1);

    let received = queue.receive(1);
    queue.delete(&received[0].receipt_handle).unwrap();
    clock.advance(Duration::from_secs(4 * 60));
    assert!(queue.send(message("A", "a1")).duplicate);
    assert!(queue.is_empty());

    clock.advance(Duration::from_secs(60));
    assert!(!queue.send(message("A", "a1")).duplicate, "window is over");
    assert_eq!(queue.len(), 1);
}

#[tokio::test]
async fn enroll_queue_collapses_requests_with_the_same_dedup_key() {
    let clock = ManualClock::new();
    let queue = queue(&clock);
    queue
        .send_batch(&[
            request("u1", "sub:u1:n1"),
            request("u1", "sub:u1:n1"),
            request("u2", "sub:u2:n1"),
        ])
        .await
        .unwrap();
    let users: Vec<String> = queue.requests().into_iter().map(|r| r.user_id).collect();
    assert_eq!(users, ["u1", "u2"]);
}

#[tokio::test]
async fn unavailable_queue_fails_the_send_and_keeps_nothing() {
    let clock = ManualClock::new();
    let queue = queue(&clock);
    queue.set_unavailable(true);
    let err = queue.send_batch(&[request("u1", "k1")]).await.unwrap_err();
    assert!(matches!(err, QueueError::Unavailable(_)));
    assert!(queue.is_empty());
}

#[tokio::test]
async fn batch_with_an_invalid_request_is_rejected_before_anything_is_enqueued() {
    let clock = ManualClock::new();
    let queue = queue(&clock);
    let err = queue
        .send_batch(&[request("u1", "k1"), request("", "k2")])
        .await
        .unwrap_err();
    assert!(matches!(err, QueueError::Rejected(_)));
    assert!(queue.is_empty());
}

#[tokio::test]
async fn poller_event_looks_like_the_lambda_sqs_event() {
    let clock = ManualClock::new();
    let queue = queue(&clock);
    queue.send_batch(&[request("u1", "k1")]).await.unwrap();
    let poller = MemoryPoller::new(queue.clone());
    let event = poller.receive().await.unwrap();
    assert_eq!(event.records.len(), 1);
    let record = &event.records[0];
    assert_eq!(record.event_source.as_deref(), Some("aws:sqs"));
    assert_eq!(record.event_source_arn, Some(queue.arn()));
    assert_eq!(record.attributes["MessageGroupId"], "u1");
    assert_eq!(record.attributes["ApproximateReceiveCount"], "1");
    assert!(record.attributes.contains_key("MessageDeduplicationId"));
    assert!(record.attributes.contains_key("SequenceNumber"));
    let body = decode_body(record.body.as_deref().unwrap()).unwrap();
    assert_eq!(body, request("u1", "k1"));
    // Lambda events round-trip through JSON: the handler gets what Lambda would send.
    let json = serde_json::to_string(&event).unwrap();
    let parsed: SqsEvent = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed, event);
}

/// Fails every message of `failing_user` while `fail` says so; records what it saw.
fn handler<'a>(
    seen: &'a std::sync::Mutex<Vec<String>>,
    failing_user: &'a str,
    fail: bool,
) -> impl FnMut(SqsEvent) -> std::future::Ready<Result<SqsBatchResponse, String>> + 'a {
    move |event: SqsEvent| {
        let mut response = SqsBatchResponse::default();
        for record in &event.records {
            let request = decode_body(record.body.as_deref().unwrap()).unwrap();
            seen.lock().unwrap().push(request.dedup_key.clone());
            if fail && request.user_id == failing_user {
                response.add_failure(record.message_id.clone().unwrap());
            }
        }
        std::future::ready(Ok(response))
    }
}

#[tokio::test]
async fn failed_messages_are_redelivered_in_order_and_successes_are_deleted() {
    let clock = ManualClock::new();
    let queue = queue(&clock);
    queue
        .send_batch(&[
            request("u1", "u1-first"),
            request("u2", "u2-only"),
            request("u1", "u1-second"),
        ])
        .await
        .unwrap();
    let poller = MemoryPoller::new(queue.clone());
    let seen = std::sync::Mutex::new(Vec::new());

    let report = drain(&poller, 100, handler(&seen, "u1", true))
        .await
        .unwrap();
    assert_eq!(
        report,
        DrainReport {
            batches: 1,
            messages: 2,
            deleted: 1,
            left_for_redelivery: 1,
            handler_errors: 0
        }
    );
    assert_eq!(*seen.lock().unwrap(), ["u1-first", "u2-only"]);
    assert_eq!(queue.len(), 2, "u1's two messages remain");

    clock.advance(Duration::from_secs(30));
    seen.lock().unwrap().clear();
    let report = drain(&poller, 100, handler(&seen, "u1", false))
        .await
        .unwrap();
    assert_eq!(report.deleted, 2);
    assert_eq!(*seen.lock().unwrap(), ["u1-first", "u1-second"]);
    assert!(queue.is_empty());
}

#[tokio::test]
async fn handler_error_leaves_the_whole_batch_for_redelivery() {
    let clock = ManualClock::new();
    let queue = queue(&clock);
    queue
        .send_batch(&[request("u1", "k1"), request("u2", "k2")])
        .await
        .unwrap();
    let poller = MemoryPoller::new(queue.clone());
    let report = drain(&poller, 100, |_event: SqsEvent| {
        std::future::ready(Err::<SqsBatchResponse, _>("boom"))
    })
    .await
    .unwrap();
    assert_eq!(report.handler_errors, 1);
    assert_eq!(report.left_for_redelivery, 2);
    assert_eq!(queue.len(), 2);
    assert_eq!(queue.in_flight_len(), 2);
}

#[tokio::test]
async fn retry_delay_brings_failures_back_sooner_than_the_visibility_timeout() {
    let clock = ManualClock::new();
    let queue = queue(&clock);
    queue.send_batch(&[request("u1", "k1")]).await.unwrap();
    let poller = MemoryPoller::new(queue.clone()).retry_delay(Duration::from_secs(1));
    let seen = std::sync::Mutex::new(Vec::new());
    drain(&poller, 100, handler(&seen, "u1", true))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(1));
    let event = poller.receive().await.unwrap();
    assert_eq!(event.records.len(), 1);
    assert_eq!(event.records[0].attributes["ApproximateReceiveCount"], "2");
}

#[tokio::test]
async fn poison_message_reaches_the_dlq_through_the_poller() {
    let clock = ManualClock::new();
    let dlq = MemoryFifoQueue::builder("dlq.fifo")
        .clock(clock.clone())
        .build();
    let queue = MemoryFifoQueue::builder("enroll.fifo")
        .dead_letter_queue(dlq.clone(), 2)
        .clock(clock.clone())
        .build();
    queue.send_batch(&[request("u1", "k1")]).await.unwrap();
    let poller = MemoryPoller::new(queue.clone());
    let seen = std::sync::Mutex::new(Vec::new());
    for _ in 0..3 {
        drain(&poller, 100, handler(&seen, "u1", true))
            .await
            .unwrap();
        clock.advance(Duration::from_secs(30));
    }
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "delivered max_receive_count times"
    );
    assert!(queue.is_empty());
    let dead: Vec<String> = dlq.requests().into_iter().map(|r| r.dedup_key).collect();
    assert_eq!(dead, ["k1"]);
}

#[tokio::test]
async fn static_secrets_rotate_keeps_the_previous_value() {
    let secrets = StaticSecrets::new().with("client-state", "one");
    secrets.rotate("client-state", "two");
    let value = secrets.get_secret("client-state").await.unwrap();
    assert_eq!(value.current, "two");
    assert_eq!(value.previous.as_deref(), Some("one"));
    assert_ne!(value.version.as_deref(), Some("v1"));
    assert_eq!(format!("{value:?}"), "SecretValue(<redacted>)");
    assert!(secrets.get_secret("missing").await.is_err());
    assert_eq!(secrets.reads(), 2);
}
