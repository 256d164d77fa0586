use super::endpoint::{dotnet_url_encode, with_validation_token};
use super::worker::{backoff, collect_due, dotnet_ticks, format_offset};
use super::*;
use crate::state::Tenant;
use crate::subscriptions::Reauthorization;
use crate::subscriptions::{SubscriptionRecord, Target};

const HOOK: &str = "http://127.0.0.1:9/notify";

/// A tenant with one `/users` subscription to HOOK and `n` notifications due now.
fn tenant_with_due(n: usize, now: OffsetDateTime) -> Tenant {
    let mut t = Tenant::from_seed(&crate::Seed::contoso(), 0, now).unwrap();
    t.subscriptions.items.insert(
        "sub".into(),
        SubscriptionRecord {
            id: "sub".into(),
            resource: "/users".into(),
            target: Target::AllUsers,
            change_type: "updated".into(),
            change_types: vec!["updated".into()],
            notification_url: HOOK.into(),
            lifecycle_notification_url: None,
            expiration: now + Duration::days(2),
            client_state: None,
            application_id: "app".into(),
            creator_id: "sp".into(),
            latest_supported_tls_version: "v1_2".into(),
            notification_url_app_id: None,
            created: now,
            created_after_seq: 0,
            reauthorization: Reauthorization::default(),
        },
    );
    for i in 0..n {
        let kind = PendingKind::Change {
            user_id: format!("user-{i}"),
            change_type: "updated",
            event_at: now,
        };
        t.subscriptions.delivery.push("sub", HOOK, kind, now);
    }
    t
}

fn slow_share(t: &mut Tenant, slow: u64, now: OffsetDateTime) {
    t.subscriptions.delivery.endpoints.insert(
        HOOK.into(),
        EndpointStats {
            window_start: now - Duration::minutes(1),
            notifications: 100,
            slow,
        },
    );
}

#[test]
fn an_endpoint_with_fifteen_percent_slow_answers_loses_its_notifications() {
    let now = time::macros::datetime!(2026-01-01 12:00 UTC);
    let mut t = tenant_with_due(3, now);
    slow_share(&mut t, 15, now);
    assert!(collect_due(&mut t, now).is_empty());
    assert_eq!(t.subscriptions.delivery.counters.throttled_dropped, 3);
}

#[test]
fn an_endpoint_with_ten_percent_slow_answers_is_delayed_ten_minutes() {
    let now = time::macros::datetime!(2026-01-01 12:00 UTC);
    let mut t = tenant_with_due(2, now);
    slow_share(&mut t, 10, now);
    assert!(collect_due(&mut t, now).is_empty());
    assert_eq!(t.subscriptions.delivery.counters.throttled_delayed, 2);
    let later = now + Duration::minutes(10);
    let batches = collect_due(&mut t, later);
    assert_eq!(batches.len(), 1, "delayed once, then sent");
    assert_eq!(batches[0].items.len(), 2);
}

#[test]
fn slow_answers_only_count_within_their_ten_minute_window_and_after_100_notifications() {
    let now = time::macros::datetime!(2026-01-01 12:00 UTC);
    let mut t = tenant_with_due(1, now);
    t.subscriptions.delivery.endpoints.insert(
        HOOK.into(),
        EndpointStats {
            window_start: now - Duration::minutes(1),
            notifications: 99,
            slow: 99,
        },
    );
    assert_eq!(
        collect_due(&mut t, now).len(),
        1,
        "fewer than 100: not judged"
    );
    let mut t = tenant_with_due(1, now);
    slow_share(&mut t, 50, now - Duration::minutes(10));
    assert_eq!(
        collect_due(&mut t, now).len(),
        1,
        "an old window does not count"
    );
}

#[test]
fn a_batch_holds_at_most_max_batch_notifications() {
    let now = time::macros::datetime!(2026-01-01 12:00 UTC);
    let mut t = tenant_with_due(7, now);
    t.subscriptions.delivery.options.max_batch = 5;
    let batches = collect_due(&mut t, now);
    assert_eq!(batches.len(), 1, "one POST per endpoint at a time");
    assert_eq!(batches[0].items.len(), 5);
    assert_eq!(batches[0].body["value"].as_array().unwrap().len(), 5);
    assert_eq!(t.subscriptions.delivery.counters().pending, 2);
    assert_eq!(t.subscriptions.delivery.counters().in_flight, 5);
}

#[test]
fn validation_token_is_encoded_the_way_dotnet_does() {
    assert_eq!(
        dotnet_url_encode("Validation: Testing a/b+c"),
        "Validation%3a+Testing+a%2fb%2bc"
    );
}

#[test]
fn the_token_is_appended_to_an_existing_query_string() {
    let url = url::Url::parse("http://127.0.0.1:9/hook?tenant=x").unwrap();
    assert_eq!(
        with_validation_token(&url, "a b"),
        "http://127.0.0.1:9/hook?tenant=x&validationToken=a+b"
    );
}

#[test]
fn plain_http_is_only_accepted_on_loopback() {
    assert!(check_endpoint_url("notificationUrl", "http://127.0.0.1:1/x").is_ok());
    assert!(check_endpoint_url("notificationUrl", "http://[::1]:1/x").is_ok());
    assert!(check_endpoint_url("notificationUrl", "http://localhost/x").is_ok());
    assert!(check_endpoint_url("notificationUrl", "https://webhook.example.com/x").is_ok());
    assert!(check_endpoint_url("notificationUrl", "http://webhook.example.com/x").is_err());
    assert!(check_endpoint_url("notificationUrl", "not a url").is_err());
}

#[test]
fn defaults_follow_the_documented_limits() {
    let o = NotificationOptions::default();
    assert_eq!(o.response_timeout_ms, 3_000);
    assert_eq!(o.validation_timeout_ms, 10_000);
    assert!(o.validate().is_ok());
}

#[test]
fn backoff_grows_and_is_capped_at_an_hour() {
    assert_eq!(backoff(1), Duration::minutes(1));
    assert_eq!(backoff(2), Duration::minutes(2));
    assert_eq!(backoff(4), Duration::minutes(8));
    assert_eq!(backoff(30), Duration::minutes(60));
}

#[test]
fn sequence_numbers_are_dotnet_ticks() {
    let at = time::macros::datetime!(2018-11-22 01:47:00.2455823 UTC);
    assert_eq!(dotnet_ticks(at), 636_784_480_202_455_823);
}

#[test]
fn expiration_in_notifications_uses_an_explicit_offset() {
    let at = time::macros::datetime!(2022-05-24 23:21:19.3554403 UTC);
    assert_eq!(format_offset(at), "2022-05-24T23:21:19.3554403+00:00");
}
