//! The enroll queue a stack runs on: SQS on moto or the in-memory twin.

use std::time::Duration;

use async_trait::async_trait;
use autoenroll_aws::memory::{MemoryFifoQueue, MemoryPoller};
use autoenroll_aws::poller::{BatchOutcome, PollError, Settlement, SqsEventSource};
use autoenroll_aws::sqs::{SqsPoller, SqsQueue};
use autoenroll_core::ports::{EnrollQueue, EnrollRequest, QueueError};
use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_sqs::types::QueueAttributeName;

use crate::HarnessError;

/// The enroll queue of a stack: SQS on moto or the in-memory twin.
#[derive(Debug, Clone)]
pub enum StackQueue {
    Moto {
        client: aws_sdk_sqs::Client,
        queue: SqsQueue,
        poller: SqsPoller,
        dlq_url: String,
    },
    InMemory {
        queue: MemoryFifoQueue,
        poller: MemoryPoller,
    },
}

#[async_trait]
impl EnrollQueue for StackQueue {
    async fn send_batch(&self, requests: &[EnrollRequest]) -> Result<(), QueueError> {
        match self {
            StackQueue::Moto { queue, .. } => queue.send_batch(requests).await,
            StackQueue::InMemory { queue, .. } => queue.send_batch(requests).await,
        }
    }
}

#[async_trait]
impl SqsEventSource for StackQueue {
    async fn receive(&self) -> Result<SqsEvent, PollError> {
        match self {
            StackQueue::Moto { poller, .. } => poller.receive().await,
            StackQueue::InMemory { poller, .. } => poller.receive().await,
        }
    }

    async fn settle(
        &self,
        event: &SqsEvent,
        outcome: BatchOutcome<'_>,
    ) -> Result<Settlement, PollError> {
        match self {
            StackQueue::Moto { poller, .. } => poller.settle(event, outcome).await,
            StackQueue::InMemory { poller, .. } => poller.settle(event, outcome).await,
        }
    }
}

impl StackQueue {
    pub(crate) async fn moto(
        endpoint: &str,
        batch_size: usize,
        max_receives: u32,
    ) -> Result<Self, HarnessError> {
        let aws = autoenroll_aws::config::for_moto(endpoint).await;
        let client = autoenroll_aws::config::sqs_client(&aws);
        let suffix = unique_suffix();
        let create = |name: String, redrive: Option<String>| {
            let client = client.clone();
            async move {
                let mut request = client
                    .create_queue()
                    .queue_name(name)
                    .attributes(QueueAttributeName::FifoQueue, "true")
                    .attributes(QueueAttributeName::ContentBasedDeduplication, "false")
                    .attributes(QueueAttributeName::VisibilityTimeout, "30");
                if let Some(redrive) = redrive {
                    request = request.attributes(QueueAttributeName::RedrivePolicy, redrive);
                }
                let output = request
                    .send()
                    .await
                    .map_err(|e| HarnessError::Queue(format!("CreateQueue: {e:?}")))?;
                output
                    .queue_url()
                    .map(str::to_owned)
                    .ok_or_else(|| HarnessError::Queue("CreateQueue returned no URL".into()))
            }
        };
        let dlq_url = create(format!("e2e-dlq-{suffix}.fifo"), None).await?;
        let dlq_arn = client
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| HarnessError::Queue(format!("GetQueueAttributes: {e:?}")))?
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .ok_or_else(|| HarnessError::Queue("DLQ has no ARN".into()))?;
        let redrive = serde_json::json!({
            "deadLetterTargetArn": dlq_arn,
            "maxReceiveCount": max_receives,
        })
        .to_string();
        let url = create(format!("e2e-enroll-{suffix}.fifo"), Some(redrive)).await?;
        Ok(StackQueue::Moto {
            queue: SqsQueue::new(client.clone(), &url),
            poller: SqsPoller::new(client.clone(), &url)
                .batch_size(batch_size)
                .retry_delay(Duration::ZERO),
            client,
            dlq_url,
        })
    }

    pub(crate) fn in_memory(batch_size: usize, max_receives: u32) -> Self {
        let dlq = MemoryFifoQueue::builder("e2e-dlq.fifo").build();
        let queue = MemoryFifoQueue::builder("e2e-enroll.fifo")
            .dead_letter_queue(dlq, max_receives)
            .build();
        let poller = MemoryPoller::new(queue.clone())
            .batch_size(batch_size)
            .retry_delay(Duration::ZERO);
        StackQueue::InMemory { queue, poller }
    }

    /// Messages on the enroll queue, visible or in flight.
    pub async fn pending(&self) -> Result<usize, PollError> {
        match self {
            StackQueue::Moto { client, queue, .. } => {
                approximate_count(client, queue.queue_url()).await
            }
            StackQueue::InMemory { queue, .. } => Ok(queue.len()),
        }
    }

    /// Messages that reached the dead-letter queue.
    pub async fn dead_letters(&self) -> Result<usize, PollError> {
        match self {
            StackQueue::Moto {
                client, dlq_url, ..
            } => approximate_count(client, dlq_url).await,
            StackQueue::InMemory { queue, .. } => {
                Ok(queue.dead_letter_queue().map_or(0, MemoryFifoQueue::len))
            }
        }
    }
}

async fn approximate_count(client: &aws_sdk_sqs::Client, url: &str) -> Result<usize, PollError> {
    let output = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .map_err(|e| PollError::Unavailable(format!("GetQueueAttributes: {e:?}")))?;
    let attributes = output.attributes();
    let count = |name: QueueAttributeName| {
        attributes
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0)
    };
    Ok(count(QueueAttributeName::ApproximateNumberOfMessages)
        + count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible))
}

pub(crate) fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}-{}", std::process::id(), nanos % 1_000_000_000_000)
}
