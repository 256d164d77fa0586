//! The enroll handler against the Graph simulator (Contoso seed) with in-memory stores: SQS
//! events in, `SqsBatchResponse` out, and assertions on the simulated tenant's final state.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use autoenroll_aws::metrics::{CapturedMetrics, EmfMetrics};
use autoenroll_core::engine::{Enroller, PlannedUser, Settle, UserResult};
use autoenroll_core::failure::Disposition;
use autoenroll_core::memory::{InMemoryAuditSink, InMemoryMemoryStore};
use autoenroll_core::outcome::Outcome;
use autoenroll_core::policy::Policy;
use autoenroll_core::ports::{AuditOutcome, EnrollRequest, Trigger};
use autoenroll_enroll::EnrollFunction;
use autoenroll_graph::{
    BudgetClass, Credential, GraphClient, GraphConfig, Pacer, PacingConfig, RetryConfig, Secret,
};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use graph_sim::{FaultKind, FaultRule, Seed, Sim, SimOptions};
use serde_json::{Value, json};

const APP: &str = "5d3e8b0f-6a2c-4f1e-8b7d-2c9a4e6f1b30";
const APP_SECRET: &str = "sim-secret-autoenroll-Q8w~xV3pL9";
const PHONE_ONLY_APP: &str = "0e5c2d7a-9f41-4b8e-a3c6-7d1f0b2e4a99";
const PHONE_ONLY_SECRET: &str = "sim-secret-phone-only-4Tz~Kq1";
const TENANT: &str = "8f2c6a51-3b7e-4d0a-9c1e-5a4b2d9e7f10";
const ADELE: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b01";
const ISAIAH: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b06";
const JOHANNA: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b07";
const BREAKGLASS: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b19";
const NEW_HIRE: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b21";
const BREAKGLASS_GROUP: &str = "c0a80101-5e1f-4c3a-8d2b-000000000002";
const PHONE_POST: &str = "POST /users/{user}/authentication/phoneMethods";

type Function = EnrollFunction<InMemoryMemoryStore, InMemoryAuditSink>;

struct World {
    sim: Sim,
    function: Function,
    memory: InMemoryMemoryStore,
    audit: InMemoryAuditSink,
    metrics: CapturedMetrics,
}

fn graph(sim: &Sim, app: &str, secret: &str) -> GraphClient {
    let config = graph_config(sim, app, secret).with_pacing(PacingConfig {
        enabled: false,
        ..PacingConfig::default()
    });
    GraphClient::new(config).unwrap()
}

fn graph_config(sim: &Sim, app: &str, secret: &str) -> GraphConfig {
    GraphConfig::new(
        sim.tenant_id(),
        app,
        Credential::ClientSecret(Secret::new(secret)),
    )
    .with_graph_base_url(sim.base_url())
    .with_authority_host(sim.authority_host())
    .with_extra_root_ca_pem(sim.ca_cert_pem())
    .with_retry(RetryConfig {
        max_attempts: 2,
        min_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_total_wait: Duration::from_secs(2),
    })
}

fn policy() -> Policy {
    Policy {
        default_region: Some("NL".parse().unwrap()),
        excluded_upns: ["breakglass01@contoso.onmicrosoft.com".to_owned()].into(),
        excluded_groups: [BREAKGLASS_GROUP.to_owned()].into(),
        ..Policy::default()
    }
}

async fn world_as(app: &str, secret: &str) -> World {
    world_with(|sim| graph(sim, app, secret)).await
}

async fn world_with(client: impl FnOnce(&Sim) -> GraphClient) -> World {
    let sim = Sim::start(SimOptions {
        seed: Seed::contoso(),
        rng_seed: Some(11),
        ..Default::default()
    })
    .await
    .unwrap();
    let memory = InMemoryMemoryStore::new();
    let audit = InMemoryAuditSink::new();
    let (emf, metrics) = EmfMetrics::capture();
    let enroller = Enroller::new(
        client(&sim),
        Arc::new(policy()),
        TENANT,
        memory.clone(),
        audit.clone(),
    );
    World {
        function: EnrollFunction::new(enroller, emf),
        sim,
        memory,
        audit,
        metrics,
    }
}

async fn world() -> World {
    world_as(APP, APP_SECRET).await
}

fn request(user: &str) -> EnrollRequest {
    EnrollRequest {
        tenant_id: TENANT.into(),
        user_id: user.into(),
        trigger: Trigger::Reconcile,
        observed_at: "2026-03-01T12:00:00Z".into(),
        dedup_key: format!("test:{user}"),
    }
}

/// A message as Lambda's event source mapping hands it over (group = user id, as the
/// webhook and reconcile send it).
fn message(id: &str, group: &str, body: String) -> SqsMessage {
    let mut m = SqsMessage::default();
    m.message_id = Some(id.to_owned());
    m.receipt_handle = Some(format!("rh-{id}"));
    m.body = Some(body);
    m.attributes = HashMap::from([
        ("MessageGroupId".to_owned(), group.to_owned()),
        ("ApproximateReceiveCount".to_owned(), "1".to_owned()),
    ]);
    m.event_source = Some("aws:sqs".into());
    m
}

fn user_message(id: &str, user: &str) -> SqsMessage {
    message(id, user, serde_json::to_string(&request(user)).unwrap())
}

fn event(messages: Vec<SqsMessage>) -> SqsEvent {
    let mut e = SqsEvent::default();
    e.records = messages;
    e
}

fn failed_ids(response: &SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

impl World {
    fn user(&self, id: &str) -> Value {
        self.sim.control().user(id).unwrap()
    }

    fn mobile(&self, id: &str) -> Option<String> {
        self.user(id)["authentication"]["phones"]["mobile"]["phoneNumber"]
            .as_str()
            .map(str::to_owned)
    }

    fn mfa_state(&self, id: &str) -> String {
        self.user(id)["authentication"]["perUserMfaState"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Turns system-preferred MFA off for `id` through Graph (the seed leaves it at the
    /// Microsoft-managed default, on), so the SMS preference takes effect and is written.
    async fn system_preferred_off(&self, id: &str) {
        graph(&self.sim, APP, APP_SECRET)
            .sign_in_preferences(id)
            .set(&autoenroll_graph::model::SignInPreferences {
                is_system_preferred_authentication_method_enabled: Some(false),
                ..Default::default()
            })
            .await
            .unwrap();
    }

    /// Authentication or group changes the simulator logged for `id` (each write we make).
    fn auth_changes(&self, id: &str) -> usize {
        self.sim
            .control()
            .changes_since(0)
            .iter()
            .filter(|c| c.user_id == id && c.kind == graph_sim::ChangeKind::AuthenticationChanged)
            .count()
    }
}

#[tokio::test]
async fn new_hire_message_enrolls_the_user_and_is_acknowledged() {
    let w = world().await;
    w.system_preferred_off(NEW_HIRE).await;
    let response = w
        .function
        .handle(event(vec![user_message("m1", NEW_HIRE)]))
        .await
        .unwrap();
    assert!(failed_ids(&response).is_empty(), "{response:?}");
    assert_eq!(w.mobile(NEW_HIRE).as_deref(), Some("+31 633333333"));
    assert_ne!(w.mfa_state(NEW_HIRE), "disabled");
    assert_eq!(
        w.user(NEW_HIRE)["authentication"]["preferredSecondaryMethod"],
        "sms"
    );
    assert!(w.memory.snapshot().contains_key(NEW_HIRE));
    let audit = w.audit.records();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].outcome, AuditOutcome::Done);
    assert_eq!(w.metrics.total("Enrolled", None), 1.0);
    assert!(w.metrics.total("LatencyMs", None) > 0.0);
    w.sim.shutdown().await;
}

#[tokio::test]
async fn duplicate_messages_for_one_user_register_one_phone() {
    let w = world().await;
    let response = w
        .function
        .handle(event(vec![
            user_message("m1", NEW_HIRE),
            user_message("m2", NEW_HIRE),
        ]))
        .await
        .unwrap();
    assert!(failed_ids(&response).is_empty(), "{response:?}");
    let counters = w.sim.control().counters();
    assert_eq!(counters.calls_with_status(PHONE_POST, 201), 1);
    // System-preferred MFA is on (seed default): no preference write, which Entra would ignore.
    assert_eq!(w.auth_changes(NEW_HIRE), 2, "phone and MFA once");
    assert!(w.user(NEW_HIRE)["authentication"]["preferredSecondaryMethod"].is_null());
    assert_eq!(w.metrics.total("Enrolled", None), 1.0);
    assert_eq!(w.metrics.total("Skipped", Some("alreadyEnrolled")), 1.0);
    w.sim.shutdown().await;
}

#[tokio::test]
async fn excluded_break_glass_account_is_never_written_nor_its_methods_read() {
    let w = world().await;
    let response = w
        .function
        .handle(event(vec![user_message("m1", BREAKGLASS)]))
        .await
        .unwrap();
    assert!(failed_ids(&response).is_empty());
    assert_eq!(w.auth_changes(BREAKGLASS), 0);
    let counters = w.sim.control().counters();
    assert_eq!(counters.calls("GET /users/{user}/authentication*"), 0);
    assert_eq!(w.audit.records()[0].reasons, vec!["excluded:upn"]);
    assert_eq!(w.metrics.total("Skipped", Some("excluded")), 1.0);
    w.sim.shutdown().await;
}

#[tokio::test]
async fn user_without_a_number_is_skipped_and_mfa_stays_off() {
    let w = world().await;
    let response = w
        .function
        .handle(event(vec![user_message("m1", ISAIAH)]))
        .await
        .unwrap();
    assert!(failed_ids(&response).is_empty());
    assert_eq!(w.mfa_state(ISAIAH), "disabled");
    assert_eq!(w.mobile(ISAIAH), None);
    assert_eq!(w.auth_changes(ISAIAH), 0);
    assert_eq!(w.metrics.total("Skipped", Some("noNumber")), 1.0);
    w.sim.shutdown().await;
}

#[tokio::test]
async fn user_with_a_self_registered_phone_keeps_it() {
    let w = world().await;
    let response = w
        .function
        .handle(event(vec![user_message("m1", JOHANNA)]))
        .await
        .unwrap();
    assert!(failed_ids(&response).is_empty());
    assert_eq!(w.mobile(JOHANNA).as_deref(), Some("+49 1709876543"));
    assert!(!w.memory.snapshot().contains_key(JOHANNA));
    w.sim.shutdown().await;
}

#[tokio::test]
async fn throttled_user_is_retried_and_later_messages_of_its_group_wait_while_other_groups_go_on() {
    let w = world().await;
    // Every phone POST answers 429 (Retry-After 0) until the client gives up.
    let mut rule = FaultRule::new(PHONE_POST, FaultKind::Throttle).times(2);
    rule.retry_after_secs = Some(0);
    w.sim.control().add_fault(rule);
    let response = w
        .function
        .handle(event(vec![
            user_message("new-1", NEW_HIRE),
            user_message("isaiah", ISAIAH),
            user_message("new-2", NEW_HIRE),
        ]))
        .await
        .unwrap();
    assert_eq!(failed_ids(&response), vec!["new-1", "new-2"]);
    // The second message of the group was not processed: one attempt at the phone only.
    assert_eq!(w.sim.control().counters().calls(PHONE_POST), 2);
    assert_eq!(w.mobile(NEW_HIRE), None);
    assert_eq!(w.mfa_state(NEW_HIRE), "disabled");
    assert_eq!(w.metrics.total("GraphThrottled", None), 1.0);
    assert_eq!(w.metrics.total("Skipped", Some("noNumber")), 1.0);

    // Redelivered after the throttling passed: enrolled.
    let response = w
        .function
        .handle(event(vec![user_message("new-1", NEW_HIRE)]))
        .await
        .unwrap();
    assert!(failed_ids(&response).is_empty());
    assert_eq!(w.mobile(NEW_HIRE).as_deref(), Some("+31 633333333"));
    w.sim.shutdown().await;
}

#[tokio::test]
async fn malformed_or_foreign_messages_are_dropped_not_looped() {
    let w = world().await;
    let mut foreign = request(ADELE);
    foreign.tenant_id = "00000000-0000-4000-8000-000000000000".into();
    let mut by_upn = request(ADELE);
    by_upn.user_id = "adele.vance@contoso.com".into();
    let response = w
        .function
        .handle(event(vec![
            message("junk", "g1", "{not json".into()),
            message(
                "phone",
                "g2",
                json!({"mobilePhone": "+31 612345678"}).to_string(),
            ),
            message("foreign", ADELE, serde_json::to_string(&foreign).unwrap()),
            message("upn", "g3", serde_json::to_string(&by_upn).unwrap()),
        ]))
        .await
        .unwrap();
    assert!(failed_ids(&response).is_empty(), "{response:?}");
    assert_eq!(w.metrics.total("Failed", None), 4.0);
    assert_eq!(w.auth_changes(ADELE), 0);
    assert_eq!(w.sim.control().counters().calls("GET /users/{user}"), 0);
    w.sim.shutdown().await;
}

#[tokio::test]
async fn app_missing_a_permission_leaves_the_message_for_the_dead_letter_queue() {
    // The phone-only app may not read per-user MFA state (403): not this user's fault, so the
    // message is not acknowledged — it reaches the DLQ and can be redriven once consent is fixed.
    let w = world_as(PHONE_ONLY_APP, PHONE_ONLY_SECRET).await;
    let response = w
        .function
        .handle(event(vec![user_message("m1", NEW_HIRE)]))
        .await
        .unwrap();
    assert_eq!(failed_ids(&response), vec!["m1"]);
    assert_eq!(w.auth_changes(NEW_HIRE), 0);
    assert_eq!(w.metrics.total("Failed", None), 1.0);
    // The reason is in the audit trail, for whoever looks at the dead-letter queue.
    let audit = w.audit.records();
    assert_eq!(audit.len(), 1);
    assert_eq!(
        audit[0].outcome,
        AuditOutcome::Failed(Disposition::Systemic)
    );
    assert!(
        audit[0].reasons[0].starts_with("error:read:403"),
        "{audit:?}"
    );
    w.sim.shutdown().await;
}

#[tokio::test]
async fn deleted_user_is_acknowledged_as_a_skip() {
    let w = world().await;
    w.sim.control().delete_user(ADELE).unwrap();
    let response = w
        .function
        .handle(event(vec![user_message("m1", ADELE)]))
        .await
        .unwrap();
    assert!(failed_ids(&response).is_empty());
    assert_eq!(w.audit.records()[0].reasons, vec!["deleted"]);
    assert_eq!(w.metrics.total("Skipped", Some("deleted")), 1.0);
    w.sim.shutdown().await;
}

#[tokio::test]
async fn plan_user_reads_without_writing_and_enroll_user_applies_the_same_plan() {
    let w = world().await;
    let enroller = w.function.enroller();
    let planned = enroller.plan_user("new.hire@contoso.com").await.unwrap();
    let PlannedUser::Planned { plan, .. } = planned else {
        panic!("expected a plan, got {planned:?}");
    };
    let labels: Vec<String> = plan.actions().iter().map(|a| a.label()).collect();
    assert_eq!(labels, vec!["addMobile", "setPerUserMfa:enabled"]);
    assert_eq!(w.auth_changes(NEW_HIRE), 0);
    assert!(w.audit.records().is_empty());

    let report = enroller
        .enroll_user("new.hire@contoso.com", &Trigger::Backfill)
        .await;
    assert_eq!(report.user_id, NEW_HIRE);
    assert_eq!(report.settle(), Settle::Ack);
    assert!(
        matches!(&report.result, UserResult::Finished(Outcome::Done { actions, .. }) if actions.len() == 2),
        "{report:?}"
    );
    assert_eq!(report.plan.as_ref(), Some(&plan));
    assert_eq!(w.auth_changes(NEW_HIRE), 2);
    w.sim.shutdown().await;
}

#[tokio::test]
async fn start_up_names_the_policy_variable_that_does_not_parse() {
    let env = autoenroll_aws::runtime::Env::from_pairs([
        ("AUTOENROLL_TENANT_ID", TENANT),
        ("AUTOENROLL_CLIENT_ID", APP),
        (
            "AUTOENROLL_CLIENT_SECRET_ARN",
            "arn:aws:secretsmanager:eu-west-1:0:secret:x",
        ),
        ("AUTOENROLL_TABLE_NAME", "t"),
        ("AUTOENROLL_POLICY_MFA_MODE", "sometimes"),
    ]);
    let aws = autoenroll_aws::config::for_moto("http://127.0.0.1:9").await;
    let err = autoenroll_enroll::from_env(&env, &aws).await.unwrap_err();
    assert!(
        err.to_string().contains("AUTOENROLL_POLICY_MFA_MODE"),
        "{err}"
    );
}

#[tokio::test]
async fn local_workers_drain_an_in_memory_queue_like_the_event_source_mapping() {
    use autoenroll_aws::memory::{MemoryFifoQueue, MemoryPoller};
    use autoenroll_core::ports::EnrollQueue;
    let w = world().await;
    let queue = MemoryFifoQueue::builder("local.fifo").build();
    let requests: Vec<EnrollRequest> = [NEW_HIRE, ADELE, ISAIAH, BREAKGLASS, JOHANNA]
        .iter()
        .map(|u| request(u))
        .collect();
    queue.send_batch(&requests).await.unwrap();
    let poller = MemoryPoller::new(queue.clone())
        .batch_size(2)
        .retry_delay(Duration::ZERO);
    let report = autoenroll_enroll::local::drain(&w.function, &poller, 3, 100)
        .await
        .unwrap();
    assert_eq!(report.deleted, 5, "{report:?}");
    assert!(queue.is_empty());
    assert_eq!(w.mobile(NEW_HIRE).as_deref(), Some("+31 633333333"));
    assert_eq!(w.mobile(ADELE).as_deref(), Some("+31 612345678"));
    assert_eq!(w.audit.records().len(), 5);
    w.sim.shutdown().await;
}

#[tokio::test]
async fn graph_500_on_a_phone_write_leaves_the_message_for_another_attempt() {
    let w = world().await;
    // POST is not repeated inline after a 500 (it may have landed); the queue retries it.
    w.sim
        .control()
        .add_fault(FaultRule::new(PHONE_POST, FaultKind::Status { status: 500 }).times(1));
    let response = w
        .function
        .handle(event(vec![user_message("m1", NEW_HIRE)]))
        .await
        .unwrap();
    assert_eq!(failed_ids(&response), vec!["m1"]);
    assert_eq!(w.mobile(NEW_HIRE), None);
    let response = w
        .function
        .handle(event(vec![user_message("m1", NEW_HIRE)]))
        .await
        .unwrap();
    assert!(failed_ids(&response).is_empty());
    assert_eq!(w.mobile(NEW_HIRE).as_deref(), Some("+31 633333333"));
    w.sim.shutdown().await;
}

#[tokio::test]
async fn drain_until_settled_comes_back_for_messages_that_failed_the_first_time() {
    use autoenroll_aws::memory::{MemoryFifoQueue, MemoryPoller};
    use autoenroll_core::ports::EnrollQueue;
    let w = world().await;
    let mut rule = FaultRule::new(PHONE_POST, FaultKind::Throttle).times(2);
    rule.retry_after_secs = Some(0);
    w.sim.control().add_fault(rule);
    let queue = MemoryFifoQueue::builder("settle.fifo").build();
    queue.send_batch(&[request(NEW_HIRE)]).await.unwrap();
    let poller = MemoryPoller::new(queue.clone()).retry_delay(Duration::ZERO);
    let pending = || {
        let queue = queue.clone();
        async move { Ok(queue.len()) }
    };
    let (report, empty) = autoenroll_enroll::local::drain_until_settled(
        &w.function,
        &poller,
        1,
        5,
        Duration::from_millis(1),
        pending,
    )
    .await
    .unwrap();
    assert!(empty, "{report:?}");
    assert_eq!(report.left_for_redelivery, 1, "{report:?}");
    assert_eq!(w.mobile(NEW_HIRE).as_deref(), Some("+31 633333333"));
    w.sim.shutdown().await;
}

#[tokio::test]
async fn a_write_that_would_wait_past_the_deadline_fails_only_its_message() {
    // The whole write budget (one write per 150 s) is spent: the new hire's phone write could
    // only go out after the invocation's deadline.
    let pacer = Arc::new(Pacer::new(PacingConfig {
        writes_per_window: 1,
        headroom: 1.0,
        ..PacingConfig::default()
    }));
    pacer.acquire(BudgetClass::Write, 1).await;
    let w = world_with(|sim| {
        GraphClient::new(graph_config(sim, APP, APP_SECRET).with_pacer(pacer.clone())).unwrap()
    })
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let response = w
        .function
        .handle_until(
            event(vec![
                user_message("m1", NEW_HIRE),
                user_message("m2", BREAKGLASS),
            ]),
            deadline,
        )
        .await
        .unwrap();
    // Answered before the deadline; only the deferred user's message comes back.
    assert!(tokio::time::Instant::now() < deadline);
    assert_eq!(failed_ids(&response), vec!["m1"]);
    assert_eq!(w.auth_changes(NEW_HIRE), 0);
    let audit = w.audit.records();
    let new_hire = audit.iter().find(|r| r.user_id == NEW_HIRE).unwrap();
    assert_eq!(new_hire.outcome, AuditOutcome::Failed(Disposition::Retry));
    assert!(
        new_hire.reasons[0].starts_with("error:addMobile:deferred"),
        "{new_hire:?}"
    );
    assert_eq!(pacer.snapshot(BudgetClass::Write).used, 1, "nothing booked");
    w.sim.shutdown().await;
}

#[test]
fn the_invocation_deadline_keeps_a_margin_for_what_follows_graph() {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let deadline = autoenroll_enroll::invocation_deadline(now_ms + 60_000);
    let left = deadline - tokio::time::Instant::now();
    assert!(left <= Duration::from_secs(60) - autoenroll_enroll::DEADLINE_MARGIN);
    assert!(left > Duration::from_secs(50));
    // Already past: no time at all, never a panic.
    let past = autoenroll_enroll::invocation_deadline(now_ms - 1_000);
    assert!(past <= tokio::time::Instant::now());
}

#[tokio::test]
async fn the_tenant_methods_policy_is_read_with_the_first_user_and_then_cached() {
    let w = world().await;
    w.sim.control().reset_counters();
    for (id, user) in [("m1", NEW_HIRE), ("m2", ADELE)] {
        let response = w
            .function
            .handle(event(vec![user_message(id, user)]))
            .await
            .unwrap();
        assert!(failed_ids(&response).is_empty(), "{response:?}");
    }
    assert!(w.mobile(NEW_HIRE).is_some());
    let counters = w.sim.control().counters();
    assert_eq!(
        counters.calls("GET /policies/authenticationMethodsPolicy"),
        1
    );
    w.sim.shutdown().await;
}
