use autoenroll_aws::memory::MemoryFifoQueue;
use autoenroll_core::delivery::Channel;
use autoenroll_core::memory::InMemoryBootstrapStore;
use time::Duration;
use time::macros::datetime;

use super::*;

const T0: OffsetDateTime = datetime!(2027-03-01 08:00 UTC);

fn open(user: &str, tap: &str, from: OffsetDateTime) -> OpenBootstrap {
    OpenBootstrap {
        tenant_id: "t1".into(),
        user_id: user.into(),
        tap_method_id: tap.into(),
        issued_at: from,
        valid_from: from,
        valid_until: from + Duration::hours(1),
        issue_count: 1,
        channel: Channel::ManagerEmail,
        delivered: true,
    }
}

fn setup() -> (InMemoryBootstrapStore, MemoryFifoQueue, FollowUp) {
    let store = InMemoryBootstrapStore::new();
    let queue = MemoryFifoQueue::builder("enroll.fifo").build();
    let follow_up = FollowUp::new(Arc::new(store.clone()), Arc::new(queue.clone()), "T1");
    (store, queue, follow_up)
}

#[test]
fn the_key_changes_per_slot_and_when_the_pass_expires() {
    let b = open("u1", "tap-1", T0);
    let key = |at| follow_up_key(&b, at);
    assert_eq!(key(T0), key(T0 + Duration::minutes(9)));
    assert_ne!(key(T0), key(T0 + Duration::minutes(10)));
    // 08:50 and 09:00 are different slots; 09:00 and 09:05 one slot, but the pass ended at 09:00.
    let before_end = T0 + Duration::minutes(59);
    let at_end = T0 + Duration::hours(1);
    assert_ne!(key(before_end), key(at_end));
    assert!(key(at_end).ends_with(":expired"));
    assert_ne!(
        key(T0),
        follow_up_key(&open("u1", "tap-2", T0), T0),
        "a new pass is a new check"
    );
    let request = follow_up_request(&b, T0);
    assert_eq!(
        request.trigger,
        Trigger::FollowUp {
            tap_method_id: "tap-1".into()
        }
    );
    assert_eq!(request.observed_at, "2027-03-01T08:00:00Z");
    assert_eq!(
        (request.tenant_id.as_str(), request.user_id.as_str()),
        ("t1", "u1")
    );
}

#[tokio::test]
async fn due_bootstraps_become_follow_up_requests_once_per_interval() {
    let (store, queue, follow_up) = setup();
    store.put(&open("a", "tap-a", T0), None).await.unwrap();
    store
        .put(&open("later", "tap-l", T0 + Duration::days(2)), None)
        .await
        .unwrap();

    let report = follow_up.run(T0 + Duration::minutes(1)).await.unwrap();
    assert_eq!((report.due, report.expired, report.enqueued), (1, 0, 1));
    // The schedule runs every minute; the queue drops the repeats of this slot.
    follow_up.run(T0 + Duration::minutes(2)).await.unwrap();
    let users: Vec<_> = queue.requests().into_iter().map(|r| r.user_id).collect();
    assert_eq!(users, ["a"]);

    // The pass expires: queued at once.
    let report = follow_up.run(T0 + Duration::hours(1)).await.unwrap();
    assert_eq!((report.due, report.expired), (1, 1));
    assert_eq!(queue.requests().len(), 2);
}

#[tokio::test]
async fn a_closed_bootstrap_is_not_followed_up_and_outages_are_transient() {
    let (store, queue, follow_up) = setup();
    store.put(&open("a", "tap-a", T0), None).await.unwrap();
    store
        .close(
            "t1",
            "a",
            autoenroll_core::bootstrap::CloseReason::LastingMethod,
            T0,
        )
        .await
        .unwrap();
    let report = follow_up.run(T0).await.unwrap();
    assert_eq!(report, FollowUpReport::default());
    assert!(queue.is_empty());

    store.put(&open("b", "tap-b", T0), None).await.unwrap();
    queue.set_unavailable(true);
    let err = follow_up.run(T0).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    queue.set_unavailable(false);
    store.set_unavailable(true);
    let err = follow_up.run(T0).await.unwrap_err();
    assert!(matches!(err, FollowUpError::Store(_)) && err.is_transient());
}
