//! The DynamoDB store against moto (./test.sh starts it).

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use autoenroll_aws::dynamo::{DEFAULT_AUDIT_RETENTION, DynamoStore, TTL_ATTRIBUTE, ensure_table};
use autoenroll_core::failure::Disposition;
use autoenroll_core::ports::{
    AuditOutcome, AuditRecord, AuditSink, DeltaLinkStore, LeaseGrant, LeaseStore, ManagedPhone,
    MemoryStore, PendingPhone, StoreError, SubscriptionRecord, SubscriptionStore, Trigger,
};
use autoenroll_graph::model::PhoneType;
use aws_sdk_dynamodb::types::AttributeValue;
use common::{moto_config, unique};

async fn store() -> (DynamoStore, aws_sdk_dynamodb::Client) {
    let config = moto_config().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = unique("autoenroll");
    ensure_table(&client, &table).await.unwrap();
    (DynamoStore::new(client.clone(), table), client)
}

fn phone(user: &str, version: u64, hash: &str) -> ManagedPhone {
    ManagedPhone {
        user_id: user.into(),
        number_hash: hash.into(),
        last_two: "78".into(),
        phone_type: PhoneType::Mobile,
        registered_at: "2025-01-01T00:00:00Z".into(),
        version,
        pending: None,
    }
}

fn epoch_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn ensure_table_is_idempotent_and_enables_ttl() {
    let (store, client) = store().await;
    ensure_table(&client, store.table()).await.unwrap();
    let ttl = client
        .describe_time_to_live()
        .table_name(store.table())
        .send()
        .await
        .unwrap();
    let description = ttl.time_to_live_description().unwrap();
    assert_eq!(description.attribute_name(), Some(TTL_ATTRIBUTE));
    assert_eq!(
        description.time_to_live_status(),
        Some(&aws_sdk_dynamodb::types::TimeToLiveStatus::Enabled)
    );
}

#[tokio::test]
async fn managed_phone_round_trips_and_absent_user_is_none() {
    let (store, _) = store().await;
    assert_eq!(store.get("nobody").await.unwrap(), None);
    store.put(phone("u1", 1, "h1"), None).await.unwrap();
    assert_eq!(store.get("u1").await.unwrap(), Some(phone("u1", 1, "h1")));
    store.delete("u1").await.unwrap();
    assert_eq!(store.get("u1").await.unwrap(), None);
}

#[tokio::test]
async fn pending_phone_entry_round_trips_and_confirming_clears_it() {
    let (store, _) = store().await;
    // A write-ahead record for a user with no phone of ours yet: empty confirmed hash.
    let mut ahead = phone("u1", 1, "");
    ahead.last_two = String::new();
    ahead.pending = Some(PendingPhone {
        number_hash: "h-new".into(),
        last_two: "12".into(),
        phone_type: PhoneType::Office,
        since: "2026-11-25T16:00:00Z".into(),
    });
    store.put(ahead.clone(), None).await.unwrap();
    assert_eq!(store.get("u1").await.unwrap(), Some(ahead));
    // Confirmed: PutItem replaces the item, so the pending attributes are gone.
    store.put(phone("u1", 2, "h-new"), Some(1)).await.unwrap();
    assert_eq!(
        store.get("u1").await.unwrap(),
        Some(phone("u1", 2, "h-new"))
    );
}

#[tokio::test]
async fn second_creator_of_the_same_record_gets_a_conflict() {
    let (store, _) = store().await;
    store.put(phone("u1", 1, "first"), None).await.unwrap();
    let err = store.put(phone("u1", 1, "second"), None).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    assert_eq!(store.get("u1").await.unwrap().unwrap().number_hash, "first");
}

#[tokio::test]
async fn update_on_a_stale_version_gets_a_conflict_and_changes_nothing() {
    let (store, _) = store().await;
    store.put(phone("u1", 1, "v1"), None).await.unwrap();
    store.put(phone("u1", 2, "v2"), Some(1)).await.unwrap();
    // A writer that read version 1 lost the race.
    let err = store
        .put(phone("u1", 2, "stale"), Some(1))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    let stored = store.get("u1").await.unwrap().unwrap();
    assert_eq!((stored.version, stored.number_hash.as_str()), (2, "v2"));
    // Expecting a version of a record that does not exist is a conflict too.
    let err = store.put(phone("u9", 2, "x"), Some(1)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
}

#[tokio::test]
async fn audit_record_is_stored_with_a_ttl_about_ninety_days_out() {
    let (store, client) = store().await;
    let record = AuditRecord {
        user_id: "u1".into(),
        user_principal_name: Some("ada@contoso.example".into()),
        at: "2025-01-01T00:00:00Z".into(),
        outcome: AuditOutcome::Done,
        actions: vec!["AddPhone".into(), "EnableMfa".into()],
        reasons: vec![],
        masked_number: Some("+31 6******78".into()),
        trigger: Some(Trigger::Reconcile),
    };
    let before = epoch_now();
    store.record(record.clone()).await.unwrap();
    store
        .record(AuditRecord {
            outcome: AuditOutcome::Skipped,
            reasons: vec!["NoMobileNumber".into()],
            masked_number: None,
            trigger: None,
            ..record.clone()
        })
        .await
        .unwrap();
    let after = epoch_now();

    let trail = store.audit_trail("u1").await.unwrap();
    assert_eq!(trail.len(), 2, "same timestamp, two records");
    assert!(trail.iter().any(|stored| stored.record == record));
    let retention = DEFAULT_AUDIT_RETENTION.as_secs();
    for stored in &trail {
        assert!(stored.expires_at >= before + retention && stored.expires_at <= after + retention);
    }

    // The raw item carries `ttl` as a number, which is what DynamoDB's TTL reads.
    let items = client
        .scan()
        .table_name(store.table())
        .send()
        .await
        .unwrap();
    let audit_items: Vec<_> = items
        .items()
        .iter()
        .filter(|item| matches!(item.get("pk"), Some(AttributeValue::S(pk)) if pk == "AUDIT#u1"))
        .collect();
    assert_eq!(audit_items.len(), 2);
    for item in audit_items {
        assert!(matches!(
            item.get(TTL_ATTRIBUTE),
            Some(AttributeValue::N(_))
        ));
    }
}

#[tokio::test]
async fn audit_retention_is_configurable() {
    let (store, _) = store().await;
    let store = store.with_audit_retention(Duration::from_secs(3600));
    let before = epoch_now();
    store
        .record(AuditRecord {
            user_id: "u2".into(),
            user_principal_name: None,
            at: "2025-01-01T00:00:00Z".into(),
            outcome: AuditOutcome::Failed(Disposition::Retry),
            actions: vec![],
            reasons: vec!["GraphUnavailable".into()],
            masked_number: None,
            trigger: None,
        })
        .await
        .unwrap();
    let trail = store.audit_trail("u2").await.unwrap();
    assert!(trail[0].expires_at >= before + 3600 && trail[0].expires_at <= epoch_now() + 3600);
}

#[tokio::test]
async fn delta_link_round_trips_and_clears() {
    let (store, _) = store().await;
    assert_eq!(store.get_delta_link().await.unwrap(), None);
    let link = "https://graph.microsoft.com/v1.0/users/delta?$deltatoken=abc";
    store.put_delta_link(None, link).await.unwrap();
    assert_eq!(store.get_delta_link().await.unwrap().as_deref(), Some(link));
    let newer = "https://graph.microsoft.com/v1.0/users/delta?$deltatoken=def";
    store.put_delta_link(Some(link), newer).await.unwrap();
    assert_eq!(
        store.get_delta_link().await.unwrap().as_deref(),
        Some(newer)
    );
    store.clear_delta_link(newer).await.unwrap();
    assert_eq!(store.get_delta_link().await.unwrap(), None);
}

#[tokio::test]
async fn a_stale_run_cannot_overwrite_or_clear_a_newer_delta_link() {
    let (store, _) = store().await;
    let old = "https://graph.microsoft.com/v1.0/users/delta?$skiptoken=1";
    let newer = "https://graph.microsoft.com/v1.0/users/delta?$deltatoken=2";
    store.put_delta_link(None, old).await.unwrap();
    // Two runs started from `old`; the first stores its next link.
    store.put_delta_link(Some(old), newer).await.unwrap();
    // The second, stale, may not replace it, nor write as if nothing were stored, nor clear it.
    let stale = store
        .put_delta_link(
            Some(old),
            "https://graph.microsoft.com/v1.0/users/delta?$skiptoken=0",
        )
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict)), "{stale:?}");
    let fresh = store.put_delta_link(None, old).await;
    assert!(matches!(fresh, Err(StoreError::Conflict)), "{fresh:?}");
    let cleared = store.clear_delta_link(old).await;
    assert!(matches!(cleared, Err(StoreError::Conflict)), "{cleared:?}");
    assert_eq!(
        store.get_delta_link().await.unwrap().as_deref(),
        Some(newer)
    );
}

#[tokio::test]
async fn a_run_lease_is_exclusive_until_it_expires_or_is_released() {
    let (store, _) = store().await;
    let granted = |g: Result<LeaseGrant, StoreError>| matches!(g, Ok(LeaseGrant::Granted));
    assert!(granted(store.acquire("reconcile", "a", 1_000, 5_000).await));
    match store.acquire("reconcile", "b", 2_000, 6_000).await {
        Ok(LeaseGrant::HeldElsewhere {
            holder,
            expires_at_ms,
        }) => assert_eq!((holder.as_str(), expires_at_ms), ("a", 5_000)),
        other => panic!("expected the lease held by a, got {other:?}"),
    }
    // The holder may renew; another name is independent.
    assert!(granted(store.acquire("reconcile", "a", 2_000, 7_000).await));
    assert!(granted(store.acquire("other", "b", 2_000, 6_000).await));
    // Expired: the next run takes it, and the old holder's release leaves the new lease alone.
    assert!(granted(store.acquire("reconcile", "b", 7_000, 9_000).await));
    store.release("reconcile", "a").await.unwrap();
    assert!(!granted(
        store.acquire("reconcile", "c", 8_000, 9_500).await
    ));
    store.release("reconcile", "b").await.unwrap();
    assert!(granted(store.acquire("reconcile", "c", 8_000, 9_500).await));
}

#[tokio::test]
async fn of_two_runs_starting_together_exactly_one_gets_the_lease() {
    let (store, _) = store().await;
    let (a, b) = tokio::join!(
        store.acquire("reconcile", "a", 1_000, 60_000),
        store.acquire("reconcile", "b", 1_000, 60_000)
    );
    let winners = [a.unwrap(), b.unwrap()]
        .iter()
        .filter(|g| **g == LeaseGrant::Granted)
        .count();
    assert_eq!(winners, 1);
}

fn subscription(id: &str, expiration: &str) -> SubscriptionRecord {
    SubscriptionRecord {
        subscription_id: id.into(),
        expiration: expiration.into(),
        notification_url: "https://example.lambda-url.eu-west-1.on.aws/".into(),
        client_state_version: Some("v1".into()),
    }
}

#[tokio::test]
async fn subscription_record_round_trips_and_renewal_replaces_it() {
    let (store, _) = store().await;
    assert_eq!(store.get_subscription().await.unwrap(), None);
    let first = subscription("s1", "2025-01-10T00:00:00.0000000Z");
    store.put_subscription(first.clone()).await.unwrap();
    assert_eq!(store.get_subscription().await.unwrap(), Some(first));
    let renewed = subscription("s1", "2025-01-20T00:00:00Z");
    store.put_subscription(renewed.clone()).await.unwrap();
    assert_eq!(store.get_subscription().await.unwrap(), Some(renewed));
}

#[tokio::test]
async fn stale_renewal_cannot_move_the_expiry_back_but_a_new_subscription_replaces() {
    let (store, _) = store().await;
    store
        .put_subscription(subscription("s1", "2025-01-20T00:00:00Z"))
        .await
        .unwrap();
    let err = store
        .put_subscription(subscription("s1", "2025-01-10T00:00:00Z"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    assert_eq!(
        store.get_subscription().await.unwrap().unwrap().expiration,
        "2025-01-20T00:00:00Z"
    );
    let recreated = subscription("s2", "2025-01-05T00:00:00Z");
    store.put_subscription(recreated.clone()).await.unwrap();
    assert_eq!(store.get_subscription().await.unwrap(), Some(recreated));
}

#[tokio::test]
async fn subscription_with_unparseable_expiry_is_refused() {
    let (store, _) = store().await;
    let err = store
        .put_subscription(subscription("s1", "next tuesday"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Other(_)), "{err:?}");
    assert_eq!(store.get_subscription().await.unwrap(), None);
}

#[tokio::test]
async fn missing_table_is_reported_not_panicked() {
    let config = moto_config().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let store = DynamoStore::new(client, unique("no-such-table"));
    let err = store.get("u1").await.unwrap_err();
    assert!(matches!(err, StoreError::Other(_)), "{err:?}");
}
