//! Two enroll workers on the same user at once — as if the FIFO grouping were misconfigured,
//! or a message were redelivered while its first delivery was still running: still one phone
//! method, registered once, remembered once (conditional writes in DynamoDB on moto), and MFA
//! switched on once. The worker that loses the write-ahead memory record backs off before
//! writing anything to Graph; its redelivery finds nothing left to do.

use std::sync::Arc;
use std::time::Duration;

use autoenroll_aws::dynamo::{DynamoStore, ensure_table};
use autoenroll_core::engine::{Enroller, Settle, UserResult};
use autoenroll_core::failure::{Cause, Disposition, StoreKind};
use autoenroll_core::outcome::Outcome;
use autoenroll_core::ports::{AuditOutcome, Trigger};
use autoenroll_e2e::contoso::NEW_HIRE;
use autoenroll_e2e::{QueueKind, TENANT, graph_client, policy};
use autoenroll_graph::RetryConfig;
use graph_sim::{LatencyRule, Seed, Sim, SimOptions};

const PHONE_POST: &str = "POST /users/{user}/authentication/phoneMethods";

async fn dynamo_store() -> DynamoStore {
    let QueueKind::Moto { endpoint } = QueueKind::moto_from_env() else {
        unreachable!("moto_from_env returns Moto or panics")
    };
    let aws = autoenroll_aws::config::for_moto(&endpoint).await;
    let client = autoenroll_aws::config::dynamodb_client(&aws);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let table = format!("e2e-concurrency-{}-{nanos}", std::process::id());
    ensure_table(&client, &table).await.unwrap();
    DynamoStore::new(client, table)
}

#[tokio::test]
async fn two_workers_on_one_user_register_one_phone_and_switch_mfa_on_once() {
    let sim = Sim::start(SimOptions {
        seed: Seed::contoso(),
        rng_seed: Some(3),
        ..Default::default()
    })
    .await
    .unwrap();
    // Phone writes are slow, so both workers have read "no phone" and planned to add one
    // before either write lands.
    sim.control().set_latency(vec![LatencyRule {
        route: PHONE_POST.into(),
        min_ms: 300,
        max_ms: None,
    }]);
    let store = dynamo_store().await;
    let retry = RetryConfig {
        max_attempts: 3,
        min_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
        max_total_wait: Duration::from_secs(2),
    };
    // Two "Lambda instances": their own Graph clients, one table.
    let worker = || {
        Enroller::new(
            graph_client(&sim, retry.clone()).unwrap(),
            Arc::new(policy()),
            TENANT,
            store.clone(),
            store.clone(),
        )
    };
    let (a, b) = (worker(), worker());
    let (ra, rb) = tokio::join!(
        a.enroll_user(NEW_HIRE, &Trigger::Reconcile),
        b.enroll_user(NEW_HIRE, &Trigger::Reconcile)
    );

    // They did race: both planned the phone.
    for report in [&ra, &rb] {
        let labels: Vec<String> = report
            .plan
            .as_ref()
            .map(|p| p.actions().iter().map(|a| a.label()).collect())
            .unwrap_or_default();
        assert_eq!(
            labels.first().map(String::as_str),
            Some("addMobile"),
            "{report:?}"
        );
    }
    // The write-ahead memory record is a conditional put: one worker wins it and enrolls; the
    // other loses it before writing anything to Graph and leaves the message for redelivery.
    let (winner, loser) = match (&ra.result, &rb.result) {
        (UserResult::Finished(Outcome::Done { .. }), _) => (&ra, &rb),
        _ => (&rb, &ra),
    };
    assert_eq!(winner.settle(), Settle::Ack, "{winner:?}");
    assert!(
        matches!(winner.result, UserResult::Finished(Outcome::Done { .. })),
        "{winner:?}"
    );
    assert_eq!(loser.settle(), Settle::Retry, "{loser:?}");
    assert!(
        matches!(
            &loser.result,
            UserResult::Finished(Outcome::Failed { failure, completed, failed: Some(_), .. })
                if completed.is_empty()
                    && matches!(failure.cause, Cause::Store { kind: StoreKind::Conflict, .. })
                    && failure.disposition() == Disposition::Retry
        ),
        "{loser:?}"
    );

    let counters = sim.control().counters();
    assert_eq!(
        counters.calls_with_status(PHONE_POST, 201),
        1,
        "one phone registered"
    );
    assert_eq!(counters.calls(PHONE_POST), 1, "the loser never posted");
    let user = sim.control().user(NEW_HIRE).unwrap();
    let phones = user["authentication"]["phones"].as_object().unwrap();
    assert_eq!(phones.len(), 1);
    assert_eq!(phones["mobile"]["phoneNumber"], "+31 633333333");
    // One MFA change: disabled → on. Per-user MFA state is not versioned in Graph, so the
    // racing worker's PATCH (the same target, `enabled`) is an idempotent repeat that cannot
    // lower or alter it — Entra keeps `enforced` once the user has a method.
    let mfa_patches =
        counters.calls_with_status("PATCH /users/{user}/authentication/requirements", 204);
    assert_eq!(mfa_patches, 1);
    let plan = winner.plan.as_ref().unwrap();
    assert!(
        plan.actions()
            .iter()
            .filter(|a| a.enables_mfa())
            .all(|a| a.label() == "setPerUserMfa:enabled")
    );
    assert_eq!(user["authentication"]["perUserMfaState"], "enforced");

    // Remembered once: write-ahead (version 1), confirmed (version 2), nothing pending.
    use autoenroll_core::ports::MemoryStore;
    let memory = store.get(NEW_HIRE).await.unwrap().unwrap();
    assert_eq!(memory.version, 2);
    assert_eq!(memory.last_two, "33");
    assert!(memory.pending.is_none());
    let trail = store.audit_trail(NEW_HIRE).await.unwrap();
    assert_eq!(trail.len(), 2);
    assert_eq!(
        trail
            .iter()
            .filter(|t| t.record.outcome == AuditOutcome::Done)
            .count(),
        1
    );

    // The loser's redelivery (and any later pass) finds nothing to do.
    let again = worker().enroll_user(NEW_HIRE, &Trigger::Reconcile).await;
    assert!(
        again.plan.as_ref().is_some_and(|p| p.actions().is_empty()),
        "{again:?}"
    );
    assert_eq!(again.settle(), Settle::Ack, "{again:?}");
    sim.shutdown().await;
}
