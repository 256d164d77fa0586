//! End to end on loopback: the Graph simulator → subscription handshake → webhook (through its
//! local HTTP front) → SQS FIFO on moto → enroll workers → assertions on the simulated tenant's
//! final state; and the same with every notification dropped, so only the reconcile sweep can
//! find the changes.

use autoenroll_core::ports::{AuditOutcome, Trigger};
use autoenroll_e2e::contoso::{ADELE, BREAKGLASS, JOHANNA};
use autoenroll_e2e::{QueueKind, Stack, StackOptions};
use graph_sim::NotificationOptions;
use serde_json::json;

const JOHANNAS_OWN_PHONE: &str = "+49 1709876543";

/// The directory changes both scenarios make, as AD sync / HR provisioning would: a new hire
/// with a mobile number, a new hire without one, a change on the break-glass account, and a
/// new mobile number for a user who registered a phone of her own. Returns the new users' ids.
fn directory_changes(stack: &Stack) -> (String, String) {
    let control = stack.sim.control();
    let rosa = control
        .create_user(json!({
            "userPrincipalName": "rosa.vermeer@contoso.com",
            "displayName": "Rosa Vermeer",
            "mobilePhone": "06 55555555",
            "accountEnabled": true,
            "userType": "Member",
        }))
        .unwrap();
    let noah = control
        .create_user(json!({
            "userPrincipalName": "noah.bakker@contoso.com",
            "displayName": "Noah Bakker",
            "accountEnabled": true,
            "userType": "Member",
        }))
        .unwrap();
    control
        .update_user(BREAKGLASS, json!({"mobilePhone": "+31 6 99999999"}))
        .unwrap();
    control
        .update_user(JOHANNA, json!({"mobilePhone": "+49 170 5555555"}))
        .unwrap();
    (rosa, noah)
}

/// What must hold after the pipeline has handled [`directory_changes`].
async fn assert_changes_handled(stack: &Stack, rosa: &str, noah: &str) {
    // The new hire: mobile registered, MFA on; system-preferred MFA is on (the tenant
    // default), so no SMS preference is written — Entra would ignore it.
    assert_eq!(stack.mobile(rosa).as_deref(), Some("+31 655555555"));
    assert_eq!(stack.preferred_method(rosa), None);
    assert_ne!(stack.mfa_state(rosa), "disabled");
    // No number: skipped, MFA left off, nothing written.
    assert_eq!(stack.mobile(noah), None);
    assert_eq!(stack.mfa_state(noah), "disabled");
    assert_eq!(stack.auth_changes(noah), 0);
    let noah_audit: Vec<_> = stack
        .audit
        .records()
        .into_iter()
        .filter(|r| r.user_id == noah)
        .collect();
    assert!(!noah_audit.is_empty(), "noah was never looked at");
    assert!(noah_audit.iter().all(|r| r.reasons == vec!["noNumber"]));
    // Break-glass: never written to.
    assert_eq!(stack.auth_changes(BREAKGLASS), 0);
    assert_eq!(stack.mobile(BREAKGLASS), None);
    // Johanna's own phone stays.
    assert_eq!(stack.mobile(JOHANNA).as_deref(), Some(JOHANNAS_OWN_PHONE));
    assert!(!stack.memory.snapshot().contains_key(JOHANNA));
    // Nothing dead-lettered.
    assert_eq!(stack.queue.dead_letters().await.unwrap(), 0);
}

/// A changed mobile number reaches the phone we registered (and nothing else is written).
async fn change_rosas_number(stack: &Stack, rosa: &str, via_reconcile: bool) {
    let writes_before = stack.auth_changes(rosa);
    stack
        .sim
        .control()
        .update_user(rosa, json!({"mobilePhone": "06-12312312"}))
        .unwrap();
    stack.settle().await.unwrap();
    if via_reconcile {
        assert_eq!(stack.mobile(rosa).as_deref(), Some("+31 655555555"));
        let report = stack.reconcile().await.unwrap();
        assert_eq!(report.enqueued, 1, "{report:?}");
        stack.drain(100).await.unwrap();
    }
    let trail: Vec<_> = stack
        .audit
        .records()
        .into_iter()
        .filter(|r| r.user_id == rosa)
        .collect();
    assert_eq!(
        stack.mobile(rosa).as_deref(),
        Some("+31 612312312"),
        "{trail:#?}"
    );
    assert_eq!(stack.auth_changes(rosa), writes_before + 1, "one PATCH");
    // Two phone writes, each written ahead and confirmed.
    let memory = &stack.memory.snapshot()[rosa];
    assert_eq!(memory.version, 4);
    assert!(memory.pending.is_none());
}

#[tokio::test]
async fn change_notifications_drive_enrollment_through_webhook_and_sqs() {
    let stack = Stack::start(StackOptions::new(QueueKind::moto_from_env()))
        .await
        .unwrap();
    let subscription = stack.subscribe().await.unwrap();
    assert!(subscription.created);
    assert_eq!(stack.sim.control().subscriptions().len(), 1);
    assert!(stack.sim.control().notification_counters().validations >= 1);

    let (rosa, noah) = directory_changes(&stack);
    let drained = stack.settle().await.unwrap();
    assert!(drained.deleted >= 4, "{drained:?}");
    let counters = stack.sim.control().notification_counters();
    assert!(counters.delivered >= 4, "{counters:?}");
    assert_eq!(counters.failed_posts, 0, "{counters:?}");

    assert_changes_handled(&stack, &rosa, &noah).await;
    // The notification path did it: the audit says so, and an unchanged user was not touched.
    let rosa_audit = stack
        .audit
        .records()
        .into_iter()
        .find(|r| r.user_id == rosa && r.outcome == AuditOutcome::Done)
        .unwrap();
    assert!(matches!(
        rosa_audit.trigger,
        Some(Trigger::Notification { .. })
    ));
    assert_eq!(stack.mobile(ADELE), None);
    assert_eq!(stack.auth_changes(ADELE), 0);

    change_rosas_number(&stack, &rosa, false).await;
    stack.shutdown().await;
}

#[tokio::test]
async fn with_every_notification_dropped_reconcile_finds_the_changes() {
    let mut options = StackOptions::new(QueueKind::moto_from_env());
    options.notifications = NotificationOptions {
        drop_rate: 1.0,
        ..NotificationOptions::default()
    };
    let stack = Stack::start(options).await.unwrap();
    stack.subscribe().await.unwrap();

    // The first sweep is the backfill: every user but the excluded one is queued.
    let backfill = stack.reconcile().await.unwrap();
    assert!(
        backfill.full_walk && backfill.round_finished,
        "{backfill:?}"
    );
    assert_eq!(backfill.enqueued, stack.user_ids().len() - 1);
    stack.drain(200).await.unwrap();
    assert_eq!(stack.mobile(ADELE).as_deref(), Some("+31 612345678"));

    let (rosa, noah) = directory_changes(&stack);
    let drained = stack.settle().await.unwrap();
    assert_eq!(drained.messages, 0, "nothing came through the webhook");
    let counters = stack.sim.control().notification_counters();
    assert!(counters.dropped >= 4, "{counters:?}");
    assert_eq!(stack.mobile(&rosa), None);

    let sweep = stack.reconcile().await.unwrap();
    assert!(!sweep.full_walk, "{sweep:?}");
    // rosa, noah, johanna; the break-glass account is not even queued.
    assert_eq!((sweep.users, sweep.excluded, sweep.enqueued), (4, 1, 3));
    stack.drain(200).await.unwrap();
    assert_changes_handled(&stack, &rosa, &noah).await;
    let rosa_audit = stack
        .audit
        .records()
        .into_iter()
        .find(|r| r.user_id == rosa && r.outcome == AuditOutcome::Done)
        .unwrap();
    assert_eq!(rosa_audit.trigger, Some(Trigger::Reconcile));

    change_rosas_number(&stack, &rosa, true).await;
    stack.shutdown().await;
}
