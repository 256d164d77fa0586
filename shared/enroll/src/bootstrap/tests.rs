use time::macros::datetime;

use super::*;
use crate::memory::InMemoryBootstrapStore;

fn open(user: &str, tap: &str, from: OffsetDateTime, delivered: bool) -> OpenBootstrap {
    OpenBootstrap {
        tenant_id: "t1".into(),
        user_id: user.into(),
        tap_method_id: tap.into(),
        issued_at: from,
        valid_from: from,
        valid_until: from + time::Duration::hours(8),
        issue_count: 1,
        channel: Channel::ManagerEmail,
        delivered,
    }
}

const T0: OffsetDateTime = datetime!(2027-03-01 08:00 UTC);

#[test]
fn serialises_with_rfc3339_times_and_the_channel_name() {
    let b = open("u1", "tap-1", T0, true);
    let json = serde_json::to_value(&b).unwrap();
    assert_eq!(json["validFrom"], "2027-03-01T08:00:00Z");
    assert_eq!(json["validUntil"], "2027-03-01T16:00:00Z");
    assert_eq!(json["channel"], "manager-email");
    assert_eq!(json["tapMethodId"], "tap-1");
    let back: OpenBootstrap = serde_json::from_value(json).unwrap();
    assert_eq!(back, b);
}

#[test]
fn close_reasons_round_trip_by_their_codes() {
    for reason in CloseReason::ALL {
        assert_eq!(reason.as_str().parse::<CloseReason>(), Ok(reason));
        let json = serde_json::to_string(&reason).unwrap();
        assert_eq!(serde_json::from_str::<CloseReason>(&json).unwrap(), reason);
    }
    assert_eq!(CloseReason::Expired.as_str(), "bootstrapExpired");
    assert!("closed".parse::<CloseReason>().is_err());
}

#[test]
fn due_means_started_or_unconfirmed_and_the_first_to_end_comes_first() {
    let now = T0 + time::Duration::hours(1);
    let later = T0 + time::Duration::days(3);
    let started = open("a", "1", T0, true);
    let mut ends_sooner = open("b", "2", T0, true);
    ends_sooner.valid_until = T0 + time::Duration::hours(2);
    let future_delivered = open("c", "3", later, true);
    let future_unconfirmed = open("d", "4", later, false);
    let picked = select_due(
        [
            started.clone(),
            ends_sooner.clone(),
            future_delivered,
            future_unconfirmed.clone(),
        ],
        now,
        10,
    );
    let users: Vec<_> = picked.iter().map(|b| b.user_id.as_str()).collect();
    assert_eq!(users, ["b", "a", "d"]);
    assert_eq!(select_due([started, ends_sooner], now, 1).len(), 1);
    assert!(open("e", "5", T0, true).expired_at(T0 + time::Duration::hours(8)));
    assert!(!open("e", "5", T0, true).expired_at(T0 + time::Duration::hours(7)));
}

#[tokio::test]
async fn put_is_a_compare_and_swap_on_the_replaced_pass() {
    let store = InMemoryBootstrapStore::new();
    let first = open("u1", "tap-1", T0, false);
    store.put(&first, None).await.unwrap();
    // A second instance opening the same user loses.
    assert!(matches!(
        store.put(&open("u1", "tap-x", T0, false), None).await,
        Err(StoreError::Conflict)
    ));
    // Marking the pass delivered names the pass itself.
    let delivered = OpenBootstrap {
        delivered: true,
        ..first.clone()
    };
    store.put(&delivered, Some("tap-1")).await.unwrap();
    // A replacement names the pass it replaces; a stale replacement loses.
    let second = OpenBootstrap {
        tap_method_id: "tap-2".into(),
        issue_count: 2,
        delivered: false,
        ..first.clone()
    };
    store.put(&second, Some("tap-1")).await.unwrap();
    assert!(matches!(
        store.put(&second, Some("tap-1")).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.get("t1", "u1").await.unwrap(), Some(second));
    // Replacing what is not open is a conflict too.
    assert!(matches!(
        store
            .put(&open("u2", "tap-3", T0, false), Some("tap-0"))
            .await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store.get("t2", "u1").await.unwrap(),
        None,
        "tenants are apart"
    );
}

#[tokio::test]
async fn close_forgets_the_pass_and_remembers_why() {
    let store = InMemoryBootstrapStore::new();
    let mut b = open("u1", "tap-1", T0, true);
    b.issue_count = 3;
    store.put(&b, None).await.unwrap();
    let at = T0 + time::Duration::hours(9);
    store
        .close("t1", "u1", CloseReason::Expired, at)
        .await
        .unwrap();
    assert_eq!(store.get("t1", "u1").await.unwrap(), None);
    let closed = store.last_closed("t1", "u1").await.unwrap().unwrap();
    assert_eq!(
        (closed.reason, closed.closed_at, closed.issue_count),
        (CloseReason::Expired, at, 3)
    );
    assert!(store.due("t1", at, 10).await.unwrap().is_empty());
    // Idempotent; a new bootstrap may open afterwards (the plan decides whether it should).
    store
        .close("t1", "u1", CloseReason::LastingMethod, at)
        .await
        .unwrap();
    assert_eq!(
        store
            .last_closed("t1", "u1")
            .await
            .unwrap()
            .unwrap()
            .issue_count,
        0
    );
    store
        .put(&open("u1", "tap-9", at, false), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn due_is_per_tenant_and_the_store_can_be_down() {
    let store = InMemoryBootstrapStore::new();
    store.put(&open("u1", "1", T0, true), None).await.unwrap();
    let mut other = open("u2", "2", T0, true);
    other.tenant_id = "t2".into();
    store.put(&other, None).await.unwrap();
    let due = store.due("t1", T0, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].user_id, "u1");
    store.set_unavailable(true);
    assert!(matches!(
        store.due("t1", T0, 10).await,
        Err(StoreError::Unavailable(_))
    ));
}

#[tokio::test]
async fn the_helpdesk_notice_names_the_user_and_nothing_that_opens_the_account() {
    let mut b = open("u1", "tap-secret-id", T0, true);
    b.issue_count = 3;
    b.channel = Channel::MobileSms;
    let notice = ExpiredBootstrapNotice::for_bootstrap(&b, Some("new.hire@contoso.com"));
    let subject = notice.subject();
    assert!(subject.contains("new.hire@contoso.com"));
    assert!(subject.len() <= 100 && subject.is_ascii() && !subject.contains('\n'));
    let body = notice.body();
    for expected in [
        "new.hire@contoso.com",
        "Object id: u1",
        "Passes issued: 3 (sent by mobile-sms)",
        "2027-03-01T16:00:00Z",
    ] {
        assert!(body.contains(expected), "{expected} missing from {body}");
    }
    assert!(!body.contains("tap-secret-id") && !subject.contains("tap-secret-id"));
    // No UPN: the object id; a long or non-ASCII name stays a valid SNS subject.
    let mut anonymous = notice.clone();
    anonymous.user_principal_name = None;
    assert!(anonymous.subject().ends_with(" u1"));
    anonymous.user_principal_name = Some(format!("{}ë@contoso.com", "x".repeat(120)));
    let subject = anonymous.subject();
    assert!(subject.len() == 100 && subject.is_ascii());

    let helpdesk = InMemoryHelpdesk::new();
    helpdesk.bootstrap_expired(&notice).await.unwrap();
    assert_eq!(helpdesk.notices(), vec![notice]);
    assert_eq!(
        NotifyError::Refused("AuthorizationError".into()).disposition(),
        crate::failure::Disposition::Systemic
    );
    assert_eq!(
        NotifyError::Unavailable("Throttled".into()).disposition(),
        crate::failure::Disposition::Retry
    );
}
