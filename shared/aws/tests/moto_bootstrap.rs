//! The DynamoDB bootstrap store against moto (./test.sh starts it).

mod common;

use autoenroll_aws::dynamo::{DynamoStore, TTL_ATTRIBUTE, ensure_table};
use autoenroll_core::bootstrap::{
    BootstrapStore, CLOSED_RETENTION, CloseReason, OPEN_RETENTION, OpenBootstrap,
};
use autoenroll_core::delivery::Channel;
use autoenroll_core::ports::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;
use common::{moto_config, unique};
use time::{Duration, OffsetDateTime};

async fn store() -> (DynamoStore, aws_sdk_dynamodb::Client) {
    let config = moto_config().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = unique("autoenroll");
    ensure_table(&client, &table).await.unwrap();
    (DynamoStore::new(client.clone(), table), client)
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()
}

fn open(tenant: &str, user: &str, tap: &str, from: OffsetDateTime) -> OpenBootstrap {
    OpenBootstrap {
        tenant_id: tenant.into(),
        user_id: user.into(),
        tap_method_id: tap.into(),
        issued_at: from,
        valid_from: from,
        valid_until: from + Duration::hours(8),
        issue_count: 1,
        channel: Channel::MobileSms,
        delivered: false,
    }
}

async fn raw_item(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    pk: &str,
    sk: &str,
) -> Option<std::collections::HashMap<String, AttributeValue>> {
    client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(pk.into()))
        .key("sk", AttributeValue::S(sk.into()))
        .send()
        .await
        .unwrap()
        .item()
        .cloned()
}

#[tokio::test]
async fn open_deliver_replace_is_a_compare_and_swap() {
    let (store, client) = store().await;
    let t0 = now();
    let first = open("t1", "u1", "tap-1", t0);
    store.put(&first, None).await.unwrap();
    assert!(matches!(
        store.put(&open("t1", "u1", "tap-x", t0), None).await,
        Err(StoreError::Conflict)
    ));
    let delivered = OpenBootstrap {
        delivered: true,
        ..first.clone()
    };
    store.put(&delivered, Some("tap-1")).await.unwrap();
    assert_eq!(store.get("t1", "u1").await.unwrap(), Some(delivered));
    let second = OpenBootstrap {
        tap_method_id: "tap-2".into(),
        issue_count: 2,
        ..first.clone()
    };
    store.put(&second, Some("tap-1")).await.unwrap();
    assert!(matches!(
        store.put(&second, Some("tap-1")).await,
        Err(StoreError::Conflict)
    ));
    assert!(matches!(
        store
            .put(&open("t1", "u9", "tap-9", t0), Some("tap-0"))
            .await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.get("t1", "u1").await.unwrap(), Some(second));
    assert_eq!(store.get("t2", "u1").await.unwrap(), None);

    // Stored per tenant, with a TTL after the pass ends, and no pass value.
    let item = raw_item(&client, store.table(), "BOOTSTRAP#t1", "OPEN#u1")
        .await
        .unwrap();
    let ttl = (t0 + Duration::hours(8) + OPEN_RETENTION).unix_timestamp();
    assert_eq!(item[TTL_ATTRIBUTE], AttributeValue::N(ttl.to_string()));
    assert_eq!(item["channel"], AttributeValue::S("mobile-sms".into()));
    let mut names: Vec<_> = item.keys().cloned().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "channel",
            "delivered",
            "issueCount",
            "issuedAt",
            "pk",
            "sk",
            "tapMethodId",
            "tenantId",
            "ttl",
            "userId",
            "validFrom",
            "validUntil"
        ]
    );
}

#[tokio::test]
async fn close_removes_the_open_record_and_keeps_why() {
    let (store, client) = store().await;
    let t0 = now();
    let mut b = open("t1", "u1", "tap-1", t0);
    b.issue_count = 3;
    store.put(&b, None).await.unwrap();
    store
        .close("t1", "u1", CloseReason::Expired, t0)
        .await
        .unwrap();
    assert_eq!(store.get("t1", "u1").await.unwrap(), None);
    let closed = store.last_closed("t1", "u1").await.unwrap().unwrap();
    assert_eq!(
        (closed.reason, closed.closed_at, closed.issue_count),
        (CloseReason::Expired, t0, 3)
    );
    let item = raw_item(&client, store.table(), "BOOTSTRAP#t1", "CLOSED#u1")
        .await
        .unwrap();
    let ttl = (t0 + CLOSED_RETENTION).unix_timestamp();
    assert_eq!(item[TTL_ATTRIBUTE], AttributeValue::N(ttl.to_string()));
    // Idempotent, and a new bootstrap may open after it.
    store
        .close("t1", "u1", CloseReason::LastingMethod, t0)
        .await
        .unwrap();
    let closed = store.last_closed("t1", "u1").await.unwrap().unwrap();
    assert_eq!(
        (closed.reason, closed.issue_count),
        (CloseReason::LastingMethod, 0)
    );
    store
        .put(&open("t1", "u1", "tap-2", t0), None)
        .await
        .unwrap();
    assert_eq!(store.last_closed("t1", "u2").await.unwrap(), None);
}

#[tokio::test]
async fn due_reads_the_tenant_partition_and_orders_by_end() {
    let (store, client) = store().await;
    let t0 = now();
    for i in 0..25u32 {
        let mut b = open("t1", &format!("u{i:02}"), &format!("tap-{i}"), t0);
        b.valid_until = t0 + Duration::minutes(i64::from(100 - i));
        b.delivered = true;
        store.put(&b, None).await.unwrap();
    }
    // Not due: starts tomorrow and delivered. Due: starts tomorrow, not confirmed delivered.
    let mut later = open("t1", "later", "tap-l", t0 + Duration::days(1));
    later.delivered = true;
    store.put(&later, None).await.unwrap();
    store
        .put(
            &open("t1", "unconfirmed", "tap-u", t0 + Duration::days(1)),
            None,
        )
        .await
        .unwrap();
    store
        .put(&open("t2", "other", "tap-o", t0), None)
        .await
        .unwrap();
    // A closed record in the same partition is not an open one.
    store
        .close("t1", "gone", CloseReason::NotEligible, t0)
        .await
        .unwrap();
    // An item DynamoDB has not yet deleted after its TTL is skipped.
    let mut stale = open("t1", "stale", "tap-s", t0 - Duration::days(30));
    stale.delivered = true;
    store.put(&stale, None).await.unwrap();

    let due = store.due("t1", t0, 100).await.unwrap();
    let users: Vec<_> = due.iter().map(|b| b.user_id.as_str()).collect();
    assert_eq!(users.len(), 26, "{users:?}");
    assert_eq!(users[0], "u24", "the pass that ends first comes first");
    assert_eq!(users[24], "u00");
    assert_eq!(users[25], "unconfirmed");
    assert!(!users.contains(&"later") && !users.contains(&"stale"));
    assert_eq!(store.due("t1", t0, 3).await.unwrap().len(), 3);
    assert_eq!(store.due("t2", t0, 10).await.unwrap().len(), 1);

    // The stale item is still in the table: only reads hide it.
    assert!(
        raw_item(&client, store.table(), "BOOTSTRAP#t1", "OPEN#stale")
            .await
            .is_some()
    );
}

#[tokio::test]
async fn a_malformed_item_is_a_store_error_not_a_panic() {
    let (store, client) = store().await;
    client
        .put_item()
        .table_name(store.table())
        .item("pk", AttributeValue::S("BOOTSTRAP#t1".into()))
        .item("sk", AttributeValue::S("OPEN#u1".into()))
        .item("tenantId", AttributeValue::S("t1".into()))
        .item("userId", AttributeValue::S("u1".into()))
        .item("channel", AttributeValue::S("pigeon".into()))
        .send()
        .await
        .unwrap();
    assert!(matches!(
        store.get("t1", "u1").await,
        Err(StoreError::Other(_))
    ));
    assert!(matches!(
        store.due("t1", now(), 10).await,
        Err(StoreError::Other(_))
    ));
}

#[tokio::test]
async fn the_helpdesk_topic_gets_the_notice_and_a_missing_topic_is_refused() {
    use autoenroll_aws::bootstrap_notify::SnsHelpdesk;
    use autoenroll_core::bootstrap::{ExpiredBootstrapNotice, HelpdeskNotifier, NotifyError};

    let aws = moto_config().await;
    let sns = aws_sdk_sns::Client::new(&aws);
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let topic = sns
        .create_topic()
        .name(unique("helpdesk"))
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_owned();
    let queue_url = sqs
        .create_queue()
        .queue_name(unique("helpdesk-inbox"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(queue_arn)
        .send()
        .await
        .unwrap();

    let mut b = open("t1", "u1", "tap-1", now());
    b.issue_count = 2;
    let notice = ExpiredBootstrapNotice::for_bootstrap(&b, Some("new.hire@contoso.com"));
    assert!(SnsHelpdesk::from_topic(|| sns.clone(), Some("  ")).is_none());
    let helpdesk = SnsHelpdesk::from_topic(|| sns.clone(), Some(&topic)).unwrap();
    helpdesk.bootstrap_expired(&notice).await.unwrap();

    let received = sqs
        .receive_message()
        .queue_url(&queue_url)
        .wait_time_seconds(2)
        .send()
        .await
        .unwrap();
    let envelope: serde_json::Value =
        serde_json::from_str(received.messages()[0].body().unwrap()).unwrap();
    assert_eq!(envelope["Subject"], notice.subject());
    assert_eq!(envelope["Message"], notice.body());
    assert!(!envelope.to_string().contains("tap-1"));

    let missing = SnsHelpdesk::new(
        sns,
        topic.replace(topic.rsplit(':').next().unwrap(), "no-such-topic"),
    );
    let err = missing.bootstrap_expired(&notice).await.unwrap_err();
    assert!(matches!(err, NotifyError::Refused(_)), "{err}");
}
