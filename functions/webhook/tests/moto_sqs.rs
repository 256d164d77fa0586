//! The webhook over a real SQS FIFO queue (moto, started by ./test.sh): notifications land as
//! messages grouped by user, Graph's duplicates collapse by de-duplication id, and a queue
//! that cannot take them makes the webhook answer 5xx.

mod common;

use std::collections::BTreeMap;

use autoenroll_aws::memory::{MemoryFifoQueue, StaticSecrets};
use autoenroll_aws::metrics::EmfMetrics;
use autoenroll_aws::sqs::SqsQueue;
use autoenroll_webhook::{Webhook, WebhookConfig};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use common::*;
use lambda_http::http::Method;

const JSON: Option<&str> = Some("application/json");

fn moto_endpoint() -> String {
    match std::env::var("AUTOENROLL_TEST_MOTO_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => endpoint,
        _ => panic!(
            "AUTOENROLL_TEST_MOTO_ENDPOINT is not set: these tests need moto. Run them with \
             ./test.sh (it installs and starts moto), or start `moto_server -H 127.0.0.1 -p PORT` \
             and export AUTOENROLL_TEST_MOTO_ENDPOINT=http://127.0.0.1:PORT"
        ),
    }
}

async fn sqs() -> aws_sdk_sqs::Client {
    let config = autoenroll_aws::config::for_moto(&moto_endpoint()).await;
    autoenroll_aws::config::sqs_client(&config)
}

async fn fifo_queue(client: &aws_sdk_sqs::Client) -> String {
    let name = format!(
        "webhook-{}.fifo",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    client
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::FifoQueue, "true")
        .attributes(QueueAttributeName::ContentBasedDeduplication, "false")
        .send()
        .await
        .expect("queue created")
        .queue_url()
        .expect("queue url")
        .to_owned()
}

fn webhook(
    client: &aws_sdk_sqs::Client,
    url: &str,
) -> Webhook<SqsQueue, StaticSecrets, MemoryFifoQueue> {
    Webhook::new(
        WebhookConfig {
            tenant_id: TENANT.into(),
            client_state_secret: CLIENT_STATE_SECRET.into(),
        },
        SqsQueue::new(client.clone(), url),
        StaticSecrets::new().with(CLIENT_STATE_SECRET, CLIENT_STATE),
        MemoryFifoQueue::builder("lifecycle-moto-test.fifo").build(),
    )
    .with_metrics(EmfMetrics::capture().0)
}

/// Every message on the queue: (group id, body), received and deleted.
async fn drain(client: &aws_sdk_sqs::Client, url: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    loop {
        let received = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
            .send()
            .await
            .expect("receive");
        let messages = received.messages();
        if messages.is_empty() {
            return out;
        }
        for message in messages {
            let group = message
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                .cloned()
                .unwrap_or_default();
            out.push((group, message.body().unwrap_or_default().to_owned()));
            client
                .delete_message()
                .queue_url(url)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("delete");
        }
    }
}

#[tokio::test]
async fn notifications_land_in_the_fifo_queue_grouped_by_user_and_deduplicated() {
    let client = sqs().await;
    let url = fifo_queue(&client).await;
    let webhook = webhook(&client, &url);

    // 12 users (more than one SendMessageBatch of 10), plus a duplicate of the first.
    let users: Vec<String> = (0..12)
        .map(|i| format!("4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5c{i:02}"))
        .collect();
    let mut items: Vec<_> = users.iter().map(|u| change(u, CLIENT_STATE)).collect();
    items.push(change(&users[0], CLIENT_STATE));
    let reply = webhook
        .handle_bytes(&Method::POST, None, JSON, &collection(items))
        .await;
    assert_eq!(reply.status, 202);
    // Graph delivers one of them again: nothing new on the queue.
    let reply = webhook
        .handle_bytes(
            &Method::POST,
            None,
            JSON,
            &collection(vec![change(&users[1], CLIENT_STATE)]),
        )
        .await;
    assert_eq!(reply.status, 202);

    let messages = drain(&client, &url).await;
    assert_eq!(messages.len(), 12, "one message per distinct change");
    let by_group: BTreeMap<_, _> = messages.into_iter().collect();
    for user in &users {
        let body = by_group
            .get(user)
            .expect("a message grouped by the user id");
        let request = autoenroll_aws::fifo::decode_body(body).expect("an enroll request");
        assert_eq!(&request.user_id, user);
        assert_eq!(request.tenant_id, TENANT);
    }
}

#[tokio::test]
async fn a_queue_that_cannot_take_the_messages_gets_a_5xx_not_a_202() {
    let client = sqs().await;
    let missing = format!(
        "{}/000000000000/does-not-exist-{}.fifo",
        moto_endpoint(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let webhook = webhook(&client, &missing);
    let reply = webhook
        .handle_bytes(
            &Method::POST,
            None,
            JSON,
            &collection(vec![change(USER_A, CLIENT_STATE)]),
        )
        .await;
    assert!(
        (500..600).contains(&reply.status),
        "status {} for a queue that does not exist",
        reply.status
    );
    assert_eq!(reply.enqueued, 0);
}
