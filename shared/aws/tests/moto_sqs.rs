//! The SQS FIFO sender and poller against moto (./test.sh starts it).

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use autoenroll_aws::fifo::{FifoMessage, decode_body};
use autoenroll_aws::poller::{BatchOutcome, SqsEventSource};
use autoenroll_aws::sqs::{SqsPoller, SqsQueue};
use autoenroll_core::ports::{EnrollQueue, EnrollRequest, QueueError, Trigger};
use aws_lambda_events::event::sqs::SqsBatchResponse;
use aws_sdk_sqs::config::interceptors::{
    BeforeSerializationInterceptorContextMut, FinalizerInterceptorContextMut,
};
use aws_sdk_sqs::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_sqs::operation::send_message_batch::{SendMessageBatchInput, SendMessageBatchOutput};
use aws_sdk_sqs::types::{BatchResultErrorEntry, MessageSystemAttributeName, QueueAttributeName};
use common::{moto_config, unique};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn request(user: &str, key: &str) -> EnrollRequest {
    EnrollRequest {
        tenant_id: "tenant".into(),
        user_id: user.into(),
        trigger: Trigger::Notification {
            subscription_id: "sub".into(),
            change_type: "updated".into(),
        },
        observed_at: "2025-01-01T00:00:00Z".into(),
        dedup_key: key.into(),
    }
}

async fn create_fifo_queue(client: &aws_sdk_sqs::Client) -> String {
    let name = format!("{}.fifo", unique("enroll"));
    client
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::FifoQueue, "true")
        .attributes(QueueAttributeName::ContentBasedDeduplication, "false")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned()
}

/// Every message on the queue: (body, system attributes). Leaves them in flight.
async fn receive_all(
    client: &aws_sdk_sqs::Client,
    queue_url: &str,
) -> Vec<(String, HashMap<String, String>)> {
    let mut all = Vec::new();
    loop {
        let output = client
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        if output.messages().is_empty() {
            return all;
        }
        for message in output.messages() {
            let attributes = message
                .attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                        .collect()
                })
                .unwrap_or_default();
            all.push((message.body().unwrap().to_owned(), attributes));
        }
    }
}

fn dedup_keys(messages: &[(String, HashMap<String, String>)]) -> Vec<String> {
    let mut keys: Vec<String> = messages
        .iter()
        .filter_map(|(body, _)| decode_body(body).ok())
        .map(|r| r.dedup_key)
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn fifo_send_groups_by_user_and_collapses_duplicate_dedup_keys() {
    let config = moto_config().await;
    let client = aws_sdk_sqs::Client::new(&config);
    let queue_url = create_fifo_queue(&client).await;
    let queue = SqsQueue::new(client.clone(), &queue_url);

    // 12 requests (two SendMessageBatch calls), two of them duplicates of earlier ones.
    let mut requests: Vec<EnrollRequest> = (0..10)
        .map(|i| request(&format!("user-{i}"), &format!("sub:user-{i}:n1")))
        .collect();
    requests.push(request("user-3", "sub:user-3:n1"));
    requests.push(request("user-7", "sub:user-7:n1"));
    queue.send_batch(&requests).await.unwrap();
    // Graph redelivers the same notification later: still collapsed.
    queue
        .send_batch(&[request("user-0", "sub:user-0:n1")])
        .await
        .unwrap();

    let messages = receive_all(&client, &queue_url).await;
    assert_eq!(messages.len(), 10);
    for (body, attributes) in &messages {
        let decoded = decode_body(body).unwrap();
        assert_eq!(attributes["MessageGroupId"], decoded.user_id);
        let expected = FifoMessage::from_request(&decoded).unwrap();
        assert_eq!(attributes["MessageDeduplicationId"], expected.dedup_id);
    }
    let mut expected: Vec<String> = (0..10).map(|i| format!("sub:user-{i}:n1")).collect();
    expected.sort();
    assert_eq!(dedup_keys(&messages), expected);
}

#[tokio::test]
async fn send_to_a_missing_queue_fails_as_a_whole() {
    let config = moto_config().await;
    let client = aws_sdk_sqs::Client::new(&config);
    let existing = create_fifo_queue(&client).await;
    let missing = existing.replace(".fifo", "-missing.fifo");
    let queue = SqsQueue::new(client, missing);
    let err = queue
        .send_batch(&[request("user-1", "k1")])
        .await
        .unwrap_err();
    assert!(matches!(err, QueueError::Rejected(_)), "{err:?}");
}

/// Makes SQS report one batch entry (by entry id) as failed, `failures` times. The entry is
/// really not stored: its de-duplication id is swapped for one of a message already on the
/// queue, so moto drops it, and the answer is rewritten from "successful" to "failed".
#[derive(Debug, Clone)]
struct FailEntry {
    entry_id: &'static str,
    sacrificial_dedup_id: &'static str,
    sender_fault: bool,
    failures_left: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
}

impl Intercept for FailEntry {
    fn name(&self) -> &'static str {
        "FailEntry"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(input) = context.input_mut().downcast_mut::<SendMessageBatchInput>() else {
            return Ok(());
        };
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.failures_left.load(Ordering::SeqCst) == 0 {
            return Ok(());
        }
        for entry in input.entries.iter_mut().flatten() {
            if entry.id == self.entry_id {
                entry.message_deduplication_id = Some(self.sacrificial_dedup_id.to_owned());
            }
        }
        Ok(())
    }

    fn modify_before_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(Ok(output)) = context.output_or_error_mut() else {
            return Ok(());
        };
        let Some(output) = output.downcast_mut::<SendMessageBatchOutput>() else {
            return Ok(());
        };
        if self.failures_left.load(Ordering::SeqCst) == 0 {
            return Ok(());
        }
        let before = output.successful.len();
        output.successful.retain(|s| s.id != self.entry_id);
        if output.successful.len() < before {
            self.failures_left.fetch_sub(1, Ordering::SeqCst);
            let (code, sender_fault) = if self.sender_fault {
                ("InvalidParameterValue", true)
            } else {
                ("InternalError", false)
            };
            output.failed.push(
                BatchResultErrorEntry::builder()
                    .id(self.entry_id)
                    .code(code)
                    .sender_fault(sender_fault)
                    .message("injected by the test")
                    .build()?,
            );
        }
        Ok(())
    }
}

const SACRIFICIAL: &str = "sacrificial";

/// A queue holding one "sacrificial" message and a sender whose entry "1" fails `failures`
/// times.
async fn queue_with_failing_entry(
    sender_fault: bool,
    failures: usize,
) -> (SqsQueue, aws_sdk_sqs::Client, String, FailEntry) {
    let config = moto_config().await;
    let plain = aws_sdk_sqs::Client::new(&config);
    let queue_url = create_fifo_queue(&plain).await;
    plain
        .send_message()
        .queue_url(&queue_url)
        .message_body("{}")
        .message_group_id(SACRIFICIAL)
        .message_deduplication_id(SACRIFICIAL)
        .send()
        .await
        .unwrap();
    let interceptor = FailEntry {
        entry_id: "1",
        sacrificial_dedup_id: SACRIFICIAL,
        sender_fault,
        failures_left: Arc::new(AtomicUsize::new(failures)),
        calls: Arc::new(AtomicUsize::new(0)),
    };
    let faulty = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&config)
            .interceptor(interceptor.clone())
            .build(),
    );
    (
        SqsQueue::new(faulty, &queue_url),
        plain,
        queue_url,
        interceptor,
    )
}

fn three_requests() -> Vec<EnrollRequest> {
    vec![
        request("user-a", "k-a"),
        request("user-b", "k-b"),
        request("user-c", "k-c"),
    ]
}

#[tokio::test]
async fn entry_that_fails_once_is_resent_and_stored_exactly_once() {
    let (queue, plain, queue_url, interceptor) = queue_with_failing_entry(false, 1).await;
    queue.send_batch(&three_requests()).await.unwrap();
    assert_eq!(interceptor.calls.load(Ordering::SeqCst), 2);
    let messages = receive_all(&plain, &queue_url).await;
    assert_eq!(dedup_keys(&messages), ["k-a", "k-b", "k-c"]);
    assert_eq!(
        messages.len(),
        4,
        "three requests and the sacrificial message"
    );
}

#[tokio::test]
async fn entry_that_keeps_failing_fails_the_call_so_nothing_is_acknowledged() {
    let (queue, plain, queue_url, interceptor) = queue_with_failing_entry(false, usize::MAX).await;
    let err = queue.send_batch(&three_requests()).await.unwrap_err();
    assert!(matches!(err, QueueError::Unavailable(_)), "{err:?}");
    assert_eq!(interceptor.calls.load(Ordering::SeqCst), 3);
    let messages = receive_all(&plain, &queue_url).await;
    assert_eq!(
        dedup_keys(&messages),
        ["k-a", "k-c"],
        "k-b was never stored"
    );
}

#[tokio::test]
async fn entry_rejected_by_sender_fault_fails_at_once_without_retry() {
    let (queue, _plain, _queue_url, interceptor) = queue_with_failing_entry(true, usize::MAX).await;
    let err = queue.send_batch(&three_requests()).await.unwrap_err();
    assert!(matches!(err, QueueError::Rejected(_)), "{err:?}");
    assert_eq!(interceptor.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn poller_deletes_successes_and_leaves_failures_for_redelivery() {
    let config = moto_config().await;
    let client = aws_sdk_sqs::Client::new(&config);
    let queue_url = create_fifo_queue(&client).await;
    SqsQueue::new(client.clone(), &queue_url)
        .send_batch(&three_requests())
        .await
        .unwrap();
    let poller = SqsPoller::new(client.clone(), &queue_url).retry_delay(std::time::Duration::ZERO);

    let event = poller.receive().await.unwrap();
    assert_eq!(event.records.len(), 3);
    let failing = event
        .records
        .iter()
        .find(|r| decode_body(r.body.as_deref().unwrap()).unwrap().user_id == "user-b")
        .unwrap();
    assert_eq!(failing.attributes["MessageGroupId"], "user-b");
    assert_eq!(failing.event_source.as_deref(), Some("aws:sqs"));
    let mut response = SqsBatchResponse::default();
    response.add_failure(failing.message_id.clone().unwrap());
    let settlement = poller
        .settle(&event, BatchOutcome::Handled(&response))
        .await
        .unwrap();
    assert_eq!(settlement.deleted, 2);
    assert_eq!(settlement.left_for_redelivery, 1);

    let again = poller.receive().await.unwrap();
    assert_eq!(again.records.len(), 1, "only the failure is left");
    let record = &again.records[0];
    assert_eq!(record.message_id, failing.message_id);
    assert_eq!(record.attributes["ApproximateReceiveCount"], "2");
    let settlement = poller
        .settle(&again, BatchOutcome::Handled(&SqsBatchResponse::default()))
        .await
        .unwrap();
    assert_eq!(settlement.deleted, 1);
    assert!(receive_all(&client, &queue_url).await.is_empty());
}

/// A handler slower than the queue's visibility timeout: the message is received again
/// (another receipt handle), handled and deleted before the first receipt is settled. Asking
/// for its redelivery with the stale handle is refused (`ReceiptHandleIsInvalid`); the message
/// is settled already, so that is no reason to stop polling.
#[tokio::test]
async fn a_failure_settled_after_its_receipt_went_stale_is_left_to_the_queue() {
    let config = moto_config().await;
    let client = aws_sdk_sqs::Client::new(&config);
    let queue_url = create_fifo_queue(&client).await;
    client
        .set_queue_attributes()
        .queue_url(&queue_url)
        .attributes(QueueAttributeName::VisibilityTimeout, "1")
        .send()
        .await
        .unwrap();
    SqsQueue::new(client.clone(), &queue_url)
        .send_batch(&[request("user-slow", "k-slow")])
        .await
        .unwrap();
    let poller = SqsPoller::new(client.clone(), &queue_url)
        .wait_time(std::time::Duration::ZERO)
        .retry_delay(std::time::Duration::ZERO);
    let first = poller.receive().await.unwrap();
    assert_eq!(first.records.len(), 1);
    let mut second = poller.receive().await.unwrap();
    for _ in 0..40 {
        if !second.records.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        second = poller.receive().await.unwrap();
    }
    assert_eq!(second.records.len(), 1, "received again after the timeout");
    assert_ne!(
        first.records[0].receipt_handle,
        second.records[0].receipt_handle
    );

    // The second receipt is handled first and deletes the message; then the first, slow
    // receipt fails and asks for a redelivery of a message that is gone.
    let settlement = poller
        .settle(&second, BatchOutcome::Handled(&SqsBatchResponse::default()))
        .await
        .unwrap();
    assert_eq!(settlement.deleted, 1);
    let mut failed = SqsBatchResponse::default();
    failed.add_failure(first.records[0].message_id.clone().unwrap());
    let settlement = poller
        .settle(&first, BatchOutcome::Handled(&failed))
        .await
        .expect("a stale receipt does not fail the settlement");
    assert_eq!(settlement.left_for_redelivery, 1);
    assert!(receive_all(&client, &queue_url).await.is_empty());
}
