//! `autoenroll apply`'s backfill in group mode on the Graph simulator: the users in flight
//! share batched group adds, and the run's write count is what the simulator counted.

use std::sync::Arc;
use std::time::Duration;

use autoenroll_cli::backfill::{BackfillOptions, Mode, StopFlag, run};
use autoenroll_core::engine::Enroller;
use autoenroll_core::memory::{InMemoryAuditSink, InMemoryMemoryStore};
use autoenroll_core::policy::{MfaMode, Policy, SmsDefault};
use autoenroll_graph::{Credential, GraphClient, GraphConfig, PacingConfig, RetryConfig, Secret};
use graph_sim::{Seed, Sim, SimOptions};
use serde_json::json;

const APP: &str = "5d3e8b0f-6a2c-4f1e-8b7d-2c9a4e6f1b30";
const APP_SECRET: &str = "sim-secret-autoenroll-Q8w~xV3pL9";
const CA_GROUP: &str = "c0a80101-5e1f-4c3a-8d2b-000000000001";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_mode_backfill_adds_its_users_in_flight_in_batches_and_counts_those_writes() {
    let sim = Sim::start(SimOptions {
        seed: Seed::contoso(),
        rng_seed: Some(7),
        ..Default::default()
    })
    .await
    .unwrap();
    let new: Vec<String> = (0..60)
        .map(|i| {
            sim.control()
                .create_user(json!({
                    "userPrincipalName": format!("batch{i}@contoso.onmicrosoft.com"),
                    "displayName": format!("Batch User {i}"),
                    "mobilePhone": format!("+31 6 {}", 30_000_000 + i),
                    "accountEnabled": true,
                    "userType": "Member",
                }))
                .unwrap()
        })
        .collect();
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
    let mut policy = Policy {
        default_region: Some("NL".parse().unwrap()),
        mfa_mode: MfaMode::Group(CA_GROUP.into()),
        excluded_upns: ["breakglass01@contoso.onmicrosoft.com".to_owned()].into(),
        ..Policy::default()
    };
    policy.set_sms_default_mode(SmsDefault::Never);
    let enroller = Enroller::new(
        GraphClient::new(config).unwrap(),
        Arc::new(policy),
        sim.tenant_id(),
        InMemoryMemoryStore::new(),
        InMemoryAuditSink::new(),
    );
    sim.control().reset_counters();
    let options = BackfillOptions {
        mode: Mode::Apply,
        only_admins: false,
        concurrency: 64,
        progress: false,
    };
    let outcome = run(&enroller, &options, &StopFlag::default())
        .await
        .unwrap();
    let counters = sim.control().counters();
    assert!(outcome.aborted.is_none(), "{:?}", outcome.aborted);
    assert_eq!(
        outcome.writes, counters.writes,
        "the run counts the writes Graph took"
    );
    let members = sim.control().dump()["groups"][CA_GROUP]["members"].clone();
    for id in &new {
        assert!(
            members.as_array().unwrap().iter().any(|m| m == id.as_str()),
            "{id} not in the group"
        );
    }
    // The seed's own users that need the group join the 60: every group write but the last
    // of a page carries 20 of them.
    let added = enroller.group_writes();
    let group_calls = counters.calls_with_status("PATCH /groups/{group}", 204)
        + counters.calls_with_status("POST /groups/{group}/members/$ref", 204);
    assert_eq!(added, group_calls);
    assert!(
        added <= 60_u64.div_ceil(20) + 2,
        "{added} group writes for 60 new users and the seed's"
    );
    sim.shutdown().await;
}
