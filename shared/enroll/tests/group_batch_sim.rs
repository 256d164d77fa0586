//! Group mode's batched MFA group adds against the Graph simulator (Contoso seed): through the
//! `Enroller` (45 users → 3 PATCHes; members already present are not in any batch) and through
//! the batcher itself (one bad member among 20, a member added meanwhile, a just-created user
//! that Graph does not find at first). Write counts are the simulator's.

use std::sync::Arc;
use std::time::Duration;

use autoenroll_core::engine::{Enroller, UserResult};
use autoenroll_core::failure::{Cause, Disposition};
use autoenroll_core::group_batch::{GroupAddError, GroupAdded, GroupBatchConfig, GroupBatcher};
use autoenroll_core::memory::{InMemoryAuditSink, InMemoryMemoryStore};
use autoenroll_core::outcome::Outcome;
use autoenroll_core::plan::Action;
use autoenroll_core::policy::{MfaMode, Policy, SmsDefault};
use autoenroll_core::ports::{AuditOutcome, Trigger};
use autoenroll_graph::{Credential, GraphClient, GraphConfig, PacingConfig, RetryConfig, Secret};
use graph_sim::{Seed, Sim, SimOptions};
use serde_json::json;

const APP: &str = "5d3e8b0f-6a2c-4f1e-8b7d-2c9a4e6f1b30";
const APP_SECRET: &str = "sim-secret-autoenroll-Q8w~xV3pL9";
const CA_GROUP: &str = "c0a80101-5e1f-4c3a-8d2b-000000000001";
const PATCH_GROUP: &str = "PATCH /groups/{group}";
const POST_REF: &str = "POST /groups/{group}/members/$ref";

async fn sim() -> Sim {
    Sim::start(SimOptions {
        seed: Seed::contoso(),
        rng_seed: Some(7),
        ..Default::default()
    })
    .await
    .unwrap()
}

fn graph(sim: &Sim) -> GraphClient {
    let config = GraphConfig::new(
        sim.tenant_id(),
        APP,
        Credential::ClientSecret(Secret::new(APP_SECRET)),
    )
    .with_graph_base_url(sim.base_url())
    .with_authority_host(sim.authority_host())
    .with_extra_root_ca_pem(sim.ca_cert_pem())
    .with_pacing(PacingConfig {
        enabled: false,
        ..PacingConfig::default()
    })
    .with_max_concurrency(64)
    .with_retry(RetryConfig {
        max_attempts: 3,
        min_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        max_total_wait: Duration::from_secs(10),
    });
    GraphClient::new(config).unwrap()
}

fn group_policy() -> Policy {
    let mut policy = Policy {
        default_region: Some("NL".parse().unwrap()),
        mfa_mode: MfaMode::Group(CA_GROUP.into()),
        ..Policy::default()
    };
    policy.set_sms_default_mode(SmsDefault::Never);
    policy
}

/// A new user whose mobile number needs enrolling, as AD sync creates it.
fn new_user(sim: &Sim, prefix: &str, i: usize) -> String {
    sim.control()
        .create_user(json!({
            "userPrincipalName": format!("{prefix}{i}@contoso.onmicrosoft.com"),
            "displayName": format!("Batch User {i}"),
            "mobilePhone": format!("+31 6 {}", 30_000_000 + i),
            "accountEnabled": true,
            "userType": "Member",
        }))
        .unwrap()
}

/// A batcher whose window outlasts the test: its batches go out full or when every user waits.
fn batcher(not_found_delay: Duration) -> GroupBatcher {
    GroupBatcher::new(GroupBatchConfig {
        window: Duration::from_secs(30),
        not_found_delay,
    })
}

/// Every user of `ids` added at once, each as a user in flight of its own.
async fn add_all<S: AsRef<str>>(
    batcher: &GroupBatcher,
    graph: &GraphClient,
    ids: &[S],
) -> Vec<Result<GroupAdded, GroupAddError>> {
    futures::future::join_all(
        ids.iter()
            .map(|id| batcher.add(batcher.participant(), graph, CA_GROUP, id.as_ref())),
    )
    .await
}

fn members(sim: &Sim) -> Vec<String> {
    sim.control().dump()["groups"][CA_GROUP]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn forty_five_users_in_group_mode_take_three_group_writes() {
    let sim = sim().await;
    let new: Vec<String> = (0..45).map(|i| new_user(&sim, "batch", i)).collect();
    // Five more who are members already: their plans ask for no add, so no batch holds them.
    let present: Vec<String> = (0..5).map(|i| new_user(&sim, "present", i)).collect();
    let graph = graph(&sim);
    graph
        .groups(CA_GROUP)
        .add_members(&present.iter().map(String::as_str).collect::<Vec<_>>())
        .await
        .unwrap();
    sim.control().reset_counters();
    let audit = InMemoryAuditSink::new();
    let enroller = Enroller::new(
        graph,
        Arc::new(group_policy()),
        sim.tenant_id(),
        InMemoryMemoryStore::new(),
        audit.clone(),
    )
    // A window far longer than the test: batches go out full or when everyone waits.
    .with_group_batch(GroupBatchConfig {
        window: Duration::from_secs(30),
        not_found_delay: Duration::from_millis(100),
    });
    let all: Vec<&String> = new.iter().chain(&present).collect();
    let reports = futures::future::join_all(
        all.iter()
            .map(|id| enroller.enroll_user(id, &Trigger::Backfill)),
    )
    .await;
    for report in &reports {
        let UserResult::Finished(Outcome::Done { actions, .. }) = &report.result else {
            panic!("{}: {:?}", report.user_id, report.result);
        };
        let adds = actions
            .iter()
            .any(|a| matches!(a, Action::AddToGroup { .. }));
        assert_eq!(adds, new.contains(&report.user_id), "{actions:?}");
    }
    let counters = sim.control().counters();
    assert_eq!(
        counters.calls(PATCH_GROUP),
        3,
        "{:?}",
        counters.routes.keys()
    );
    assert_eq!(counters.calls(POST_REF), 0);
    // One phone per user (50) and three group writes; nothing else.
    assert_eq!(counters.writes, 50 + 3);
    assert_eq!(enroller.group_writes(), 3);
    let now = members(&sim);
    for id in new.iter().chain(&present) {
        assert!(now.contains(id), "{id} not in the group");
    }
    let records = audit.records();
    assert_eq!(records.len(), 50);
    assert!(records.iter().all(|r| r.outcome == AuditOutcome::Done));
    sim.shutdown().await;
}

#[tokio::test]
async fn one_bad_member_among_twenty_leaves_the_others_added_and_is_reported_alone() {
    let sim = sim().await;
    let mut ids: Vec<String> = (0..19).map(|i| new_user(&sim, "good", i)).collect();
    // Read a moment ago, deleted before the write: Graph does not find it, now or later.
    let gone = new_user(&sim, "gone", 0);
    sim.control().delete_user(&gone).unwrap();
    ids.insert(7, gone.clone());
    let graph = graph(&sim);
    sim.control().reset_counters();
    let batcher = batcher(Duration::from_millis(100));
    let results = add_all(&batcher, &graph, &ids).await;
    let now = members(&sim);
    for (id, result) in ids.iter().zip(&results) {
        if *id == gone {
            assert!(
                matches!(result, Err(GroupAddError::NotYetVisible)),
                "{result:?}"
            );
            let cause = Cause::from(result.as_ref().unwrap_err());
            assert_eq!(cause.disposition(), Disposition::Retry);
            assert!(!now.contains(id));
        } else {
            assert!(
                matches!(result, Ok(GroupAdded::Added { with }) if *with < 20),
                "{result:?}"
            );
            assert!(now.contains(id), "{id} not added");
        }
    }
    let counters = sim.control().counters();
    // Split in halves down to the bad member: 20 → 10 + 10 → … Every successful PATCH is one
    // write; the bad member's writes (batched, alone, and alone again after the delay) failed.
    let patches_ok = counters.calls_with_status(PATCH_GROUP, 204);
    assert!(
        (2..=6).contains(&patches_ok),
        "{patches_ok} successful PATCHes"
    );
    assert_eq!(counters.writes, patches_ok);
    assert_eq!(batcher.writes(), patches_ok);
    assert_eq!(
        counters.calls_with_status(POST_REF, 404),
        2,
        "alone, then after the delay"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_member_added_meanwhile_is_already_a_member_and_the_rest_are_added() {
    let sim = sim().await;
    let ids: Vec<String> = (0..6).map(|i| new_user(&sim, "meanwhile", i)).collect();
    let graph = graph(&sim);
    // Someone else adds the third user after our read (the plan asked for the add).
    graph.groups(CA_GROUP).add_member(&ids[2]).await.unwrap();
    sim.control().reset_counters();
    let batcher = batcher(Duration::from_millis(100));
    let results = add_all(&batcher, &graph, &ids).await;
    assert!(
        matches!(results[2], Ok(GroupAdded::AlreadyMember)),
        "{results:?}"
    );
    for (i, r) in results.iter().enumerate().filter(|(i, _)| *i != 2) {
        assert!(matches!(r, Ok(GroupAdded::Added { .. })), "{i}: {r:?}");
    }
    let now = members(&sim);
    assert!(ids.iter().all(|id| now.contains(id)));
    let counters = sim.control().counters();
    // [0..6] fails (400), [0..3] fails, [0] is added alone, [1..3] fails, [1] is added
    // alone, [2] alone is "already a member", [3..6] is added: 3 successful writes.
    assert_eq!(counters.writes, 3);
    assert_eq!(batcher.writes(), 3);
    assert_eq!(counters.calls_with_status(PATCH_GROUP, 400), 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_just_created_user_not_found_at_first_is_added_alone_after_the_delay() {
    let sim = sim().await;
    let known: Vec<String> = (0..4).map(|i| new_user(&sim, "known", i)).collect();
    let late = "6b1f0c2e-4d3a-4e5b-8c7d-000000000042";
    let graph = graph(&sim);
    sim.control().reset_counters();
    let batcher = batcher(Duration::from_millis(400));
    let mut ids: Vec<&str> = known.iter().map(String::as_str).collect();
    ids.push(late);
    let control = sim.control();
    let appears = async {
        // Graph's replicas catch up while the batcher waits.
        tokio::time::sleep(Duration::from_millis(150)).await;
        control
            .create_user(json!({
                "id": late,
                "userPrincipalName": "late@contoso.onmicrosoft.com",
                "displayName": "Late",
                "mobilePhone": "+31 6 39999999",
                "accountEnabled": true,
                "userType": "Member",
            }))
            .unwrap();
    };
    let (results, ()) = tokio::join!(add_all(&batcher, &graph, &ids), appears);
    assert!(
        matches!(results[4], Ok(GroupAdded::AddedAfterWait)),
        "{results:?}"
    );
    assert!(results[..4].iter().all(|r| r.is_ok()), "{results:?}");
    let now = members(&sim);
    assert!(ids.iter().all(|id| now.contains(&id.to_string())));
    let counters = sim.control().counters();
    // Not found once alone, then added by the attempt after the delay.
    assert_eq!(counters.calls_with_status(POST_REF, 404), 1);
    sim.shutdown().await;
}
