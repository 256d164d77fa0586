//! Group mode in the enroll handler: the users of one SQS batch share their MFA group adds —
//! ten new users, one `PATCH /groups/{id}` — and each message is settled on its own user's
//! outcome.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use autoenroll_aws::metrics::EmfMetrics;
use autoenroll_core::engine::Enroller;
use autoenroll_core::group_batch::GroupBatchConfig;
use autoenroll_core::memory::{InMemoryAuditSink, InMemoryMemoryStore};
use autoenroll_core::policy::{MfaMode, Policy, SmsDefault};
use autoenroll_core::ports::{AuditOutcome, EnrollRequest, Trigger};
use autoenroll_enroll::EnrollFunction;
use autoenroll_graph::{Credential, GraphClient, GraphConfig, PacingConfig, RetryConfig, Secret};
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use graph_sim::{Seed, Sim, SimOptions};
use serde_json::json;

const APP: &str = "5d3e8b0f-6a2c-4f1e-8b7d-2c9a4e6f1b30";
const APP_SECRET: &str = "sim-secret-autoenroll-Q8w~xV3pL9";
const TENANT: &str = "8f2c6a51-3b7e-4d0a-9c1e-5a4b2d9e7f10";
const CA_GROUP: &str = "c0a80101-5e1f-4c3a-8d2b-000000000001";

fn message(i: usize, user: &str) -> SqsMessage {
    let request = EnrollRequest {
        tenant_id: TENANT.into(),
        user_id: user.into(),
        trigger: Trigger::Reconcile,
        observed_at: "2026-03-01T12:00:00Z".into(),
        dedup_key: format!("test:{user}"),
    };
    let mut m = SqsMessage::default();
    m.message_id = Some(format!("m{i}"));
    m.body = Some(serde_json::to_string(&request).unwrap());
    m.attributes = HashMap::from([
        ("MessageGroupId".to_owned(), user.to_owned()),
        ("ApproximateReceiveCount".to_owned(), "1".to_owned()),
    ]);
    m
}

#[tokio::test]
async fn ten_new_users_of_one_sqs_batch_are_added_to_the_group_in_one_write() {
    let sim = Sim::start(SimOptions {
        seed: Seed::contoso(),
        rng_seed: Some(11),
        ..Default::default()
    })
    .await
    .unwrap();
    let users: Vec<String> = (0..10)
        .map(|i| {
            sim.control()
                .create_user(json!({
                    "userPrincipalName": format!("sqs{i}@contoso.onmicrosoft.com"),
                    "displayName": format!("Queue User {i}"),
                    "mobilePhone": format!("+31 6 {}", 40_000_000 + i),
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
    .with_retry(RetryConfig {
        max_attempts: 2,
        min_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_total_wait: Duration::from_secs(2),
    });
    let mut policy = Policy {
        default_region: Some("NL".parse().unwrap()),
        mfa_mode: MfaMode::Group(CA_GROUP.into()),
        ..Policy::default()
    };
    policy.set_sms_default_mode(SmsDefault::Never);
    let audit = InMemoryAuditSink::new();
    let enroller = Enroller::new(
        GraphClient::new(config).unwrap(),
        Arc::new(policy),
        TENANT,
        InMemoryMemoryStore::new(),
        audit.clone(),
    )
    // A window the test would notice: the batch must go out once all ten wait in it.
    .with_group_batch(GroupBatchConfig {
        window: Duration::from_secs(60),
        not_found_delay: Duration::from_millis(100),
    });
    let function = EnrollFunction::new(enroller, EmfMetrics::capture().0);
    sim.control().reset_counters();
    let mut event = SqsEvent::default();
    event.records = users
        .iter()
        .enumerate()
        .map(|(i, u)| message(i, u))
        .collect();
    let response = tokio::time::timeout(Duration::from_secs(20), function.handle(event))
        .await
        .expect("the batch went out when every user waited, not after the window")
        .unwrap();
    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        response.batch_item_failures
    );
    let counters = sim.control().counters();
    assert_eq!(counters.calls("PATCH /groups/{group}"), 1);
    assert_eq!(counters.calls("POST /groups/{group}/members/$ref"), 0);
    assert_eq!(counters.writes, 10 + 1, "ten phones and one group write");
    let members = sim.control().dump()["groups"][CA_GROUP]["members"].clone();
    for u in &users {
        assert!(members.as_array().unwrap().iter().any(|m| m == u.as_str()));
    }
    let records = audit.records();
    assert_eq!(records.len(), 10);
    for r in records {
        assert_eq!(r.outcome, AuditOutcome::Done);
        assert!(
            r.actions.contains(&format!("addToGroup:{CA_GROUP}")),
            "{:?}",
            r.actions
        );
    }
    sim.shutdown().await;
}
