//! `read_view` → `plan` → `apply` against the Graph simulator (Contoso seed): each action, the
//! conflicts ("already exists", a phone changed between plan and apply), failures (throttling,
//! 5xx, invalid number, memory store down) and exclusions. Assertions read the simulated
//! tenant's state back through Graph.

use std::sync::Arc;
use std::time::Duration;

use autoenroll_core::apply::apply;
use autoenroll_core::failure::{Cause, Disposition, Failure};
use autoenroll_core::memory::{InMemoryAuditSink, InMemoryMemoryStore};
use autoenroll_core::outcome::Outcome;
use autoenroll_core::phone::{self, GraphNumber};
use autoenroll_core::plan::{Action, Plan, SkipReason, UserView, plan};
use autoenroll_core::policy::{Exclusion, MfaMode, Policy, SmsDefault};
use autoenroll_core::ports::{AuditOutcome, ManagedPhone, MemoryStore, StoreError, Trigger};
use autoenroll_core::read::{ReadView, read_view};
use autoenroll_graph::model::{PerUserMfaState, PhoneType, SignInPreferences};
use autoenroll_graph::{
    BudgetClass, Credential, GraphClient, GraphConfig, Pacer, PacingConfig, RetryConfig, Secret,
};
use graph_sim::{Counters, FaultKind, FaultRule, Seed, Sim, SimOptions};
use serde_json::json;

const APP: &str = "5d3e8b0f-6a2c-4f1e-8b7d-2c9a4e6f1b30";
const APP_SECRET: &str = "sim-secret-autoenroll-Q8w~xV3pL9";
const TENANT: &str = "8f2c6a51-3b7e-4d0a-9c1e-5a4b2d9e7f10";
const ADELE: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b01";
const ISAIAH: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b06";
const LEE: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b04";
const JOHANNA: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b07";
const BREAKGLASS: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b19";
const NEW_HIRE: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b21";
const CA_GROUP: &str = "c0a80101-5e1f-4c3a-8d2b-000000000001";
const BREAKGLASS_GROUP: &str = "c0a80101-5e1f-4c3a-8d2b-000000000002";
const PHONE_POST: &str = "POST /users/{user}/authentication/phoneMethods";
const MFA_GET: &str = "GET /users/{user}/authentication/requirements";

struct World {
    sim: Sim,
    graph: GraphClient,
    memory: InMemoryMemoryStore,
    audit: InMemoryAuditSink,
}

async fn world() -> World {
    let sim = Sim::start(SimOptions {
        seed: Seed::contoso(),
        rng_seed: Some(7),
        ..Default::default()
    })
    .await
    .unwrap();
    let config = graph_config(&sim).with_pacing(PacingConfig {
        enabled: false,
        ..PacingConfig::default()
    });
    World {
        graph: GraphClient::new(config).unwrap(),
        sim,
        memory: InMemoryMemoryStore::new(),
        audit: InMemoryAuditSink::new(),
    }
}

fn graph_config(sim: &Sim) -> GraphConfig {
    GraphConfig::new(
        sim.tenant_id(),
        APP,
        Credential::ClientSecret(Secret::new(APP_SECRET)),
    )
    .with_graph_base_url(sim.base_url())
    .with_authority_host(sim.authority_host())
    .with_extra_root_ca_pem(sim.ca_cert_pem())
    .with_retry(RetryConfig {
        max_attempts: 3,
        min_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        max_total_wait: Duration::from_secs(10),
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

impl World {
    async fn view(&self, policy: &Policy, user: &str) -> UserView {
        match read_view(&self.graph, policy, TENANT, user, &self.memory)
            .await
            .unwrap()
        {
            ReadView::View(v) => *v,
            ReadView::Skip { reason, .. } => panic!("unexpected skip {reason:?}"),
        }
    }

    async fn run(&self, policy: &Policy, view: &UserView, p: &Plan) -> Outcome {
        apply(
            &self.graph,
            policy,
            view,
            p,
            &self.memory,
            &self.audit,
            Some(&Trigger::Reconcile),
        )
        .await
    }

    /// Read, plan and apply once.
    async fn enroll(&self, policy: &Policy, user: &str) -> (Plan, Outcome) {
        let view = self.view(policy, user).await;
        let p = plan(policy, &view);
        let outcome = self.run(policy, &view, &p).await;
        (p, outcome)
    }

    async fn mobile(&self, user: &str) -> Option<String> {
        self.graph
            .phone_methods(user)
            .get(PhoneType::Mobile)
            .await
            .unwrap()
            .map(|m| m.phone_number)
    }

    async fn mfa_state(&self, user: &str) -> PerUserMfaState {
        self.graph
            .mfa_requirements(user)
            .get()
            .await
            .unwrap()
            .per_user_mfa_state
    }

    /// Turns system-preferred MFA off for `user` (the seed leaves it at the Microsoft-managed
    /// default, on), so the SMS preference takes effect and `when-effective` writes it.
    async fn system_preferred_off(&self, user: &str) {
        self.graph
            .sign_in_preferences(user)
            .set(&SignInPreferences {
                is_system_preferred_authentication_method_enabled: Some(false),
                ..SignInPreferences::default()
            })
            .await
            .unwrap();
    }

    async fn preferred(&self, user: &str) -> Option<String> {
        self.graph
            .sign_in_preferences(user)
            .get()
            .await
            .unwrap()
            .user_preferred_method_for_secondary_authentication
    }
}

/// Calls that change a user's enrollment.
fn enrollment_writes(c: &Counters) -> u64 {
    c.calls("POST /users/{user}/authentication*")
        + c.calls("PATCH /users/{user}/authentication*")
        + c.calls("DELETE /users/{user}/authentication*")
        + c.calls("POST /groups/{group}/members/$ref")
}

/// A fault whose `Retry-After` is zero, so the client's retries do not slow the test.
fn no_wait(mut rule: FaultRule) -> FaultRule {
    rule.retry_after_secs = Some(0);
    rule
}

fn add_mobile(n: &str) -> Action {
    Action::AddMobile {
        number: GraphNumber::new(n),
    }
}

fn labels(actions: &[Action]) -> Vec<String> {
    actions.iter().map(Action::label).collect()
}

#[tokio::test]
async fn new_hire_gets_mobile_sms_default_and_mfa_and_a_second_pass_does_nothing() {
    let w = world().await;
    let p = policy();
    w.system_preferred_off(NEW_HIRE).await;
    let setup = enrollment_writes(&w.sim.control().counters());
    let (planned, outcome) = w.enroll(&p, NEW_HIRE).await;
    assert_eq!(
        labels(planned.actions()),
        vec!["addMobile", "setSmsPreferred", "setPerUserMfa:enabled"]
    );
    assert!(
        matches!(&outcome, Outcome::Done { actions, .. } if actions.len() == 3),
        "{outcome:?}"
    );
    assert_eq!(w.mobile(NEW_HIRE).await.as_deref(), Some("+31 633333333"));
    assert_eq!(w.preferred(NEW_HIRE).await.as_deref(), Some("sms"));
    assert_ne!(w.mfa_state(NEW_HIRE).await, PerUserMfaState::Disabled);

    let memory = w.memory.get(NEW_HIRE).await.unwrap().unwrap();
    assert_eq!(
        memory.number_hash,
        phone::fingerprint(TENANT, "+31 633333333")
    );
    assert_eq!(memory.last_two, "33");
    assert!(memory.pending.is_none());
    // Two memory writes: the write-ahead record, then its confirmation.
    assert_eq!(memory.version, 2);

    let audit = w.audit.records();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].outcome, AuditOutcome::Done);
    assert_eq!(audit[0].masked_number.as_deref(), Some("+31 6******33"));
    assert_eq!(audit[0].trigger, Some(Trigger::Reconcile));

    assert_eq!(enrollment_writes(&w.sim.control().counters()) - setup, 3);

    // Idempotence against the real (simulated) state, not a model of it.
    let (again, outcome) = w.enroll(&p, NEW_HIRE).await;
    assert!(again.actions().is_empty(), "{again:?}");
    assert_eq!(enrollment_writes(&w.sim.control().counters()) - setup, 3);
    assert!(matches!(outcome, Outcome::Done { ref actions, .. } if actions.is_empty()));
    assert_eq!(w.audit.records().len(), 2);
    w.sim.shutdown().await;
}

#[tokio::test]
async fn system_preferred_user_gets_mobile_and_mfa_but_no_ignored_preference_write() {
    let w = world().await;
    // Seed default: system-preferred MFA on, so Entra would ignore the preference.
    let prefs = w.graph.sign_in_preferences(NEW_HIRE).get().await.unwrap();
    assert_eq!(
        prefs.is_system_preferred_authentication_method_enabled,
        Some(true)
    );
    let p = policy();
    let (planned, outcome) = w.enroll(&p, NEW_HIRE).await;
    assert_eq!(
        labels(planned.actions()),
        vec!["addMobile", "setPerUserMfa:enabled"]
    );
    assert!(matches!(&outcome, Outcome::Done { .. }), "{outcome:?}");
    assert_eq!(w.mobile(NEW_HIRE).await.as_deref(), Some("+31 633333333"));
    assert_ne!(w.mfa_state(NEW_HIRE).await, PerUserMfaState::Disabled);
    assert_eq!(w.preferred(NEW_HIRE).await, None);
    assert_eq!(enrollment_writes(&w.sim.control().counters()), 2);
    let (again, _) = w.enroll(&p, NEW_HIRE).await;
    assert!(again.actions().is_empty(), "{again:?}");

    // `always` (NPS extension / AD FS adapter tenants) writes it anyway, once.
    let mut always = policy();
    always.set_sms_default_mode(SmsDefault::Always);
    let (planned, outcome) = w.enroll(&always, NEW_HIRE).await;
    assert_eq!(labels(planned.actions()), vec!["setSmsPreferred"]);
    assert!(matches!(&outcome, Outcome::Done { .. }), "{outcome:?}");
    assert_eq!(w.preferred(NEW_HIRE).await.as_deref(), Some("sms"));
    assert_eq!(enrollment_writes(&w.sim.control().counters()), 3);
    w.sim.shutdown().await;
}

#[tokio::test]
async fn group_mode_adds_the_user_to_the_conditional_access_group() {
    let w = world().await;
    let p = Policy {
        mfa_mode: MfaMode::Group(CA_GROUP.into()),
        ..policy()
    };
    let (planned, outcome) = w.enroll(&p, ADELE).await;
    assert_eq!(
        labels(planned.actions()),
        vec!["addMobile", &format!("addToGroup:{CA_GROUP}")]
    );
    assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    assert!(w.graph.groups(CA_GROUP).has_member(ADELE).await.unwrap());
    assert_eq!(w.mfa_state(ADELE).await, PerUserMfaState::Disabled);
    let (again, _) = w.enroll(&p, ADELE).await;
    assert!(again.actions().is_empty(), "{again:?}");
    w.sim.shutdown().await;
}

#[tokio::test]
async fn self_registered_phone_is_left_alone_and_mfa_still_enabled() {
    let w = world().await;
    let p = policy();
    let (planned, outcome) = w.enroll(&p, JOHANNA).await;
    assert!(
        planned
            .reasons()
            .contains(&SkipReason::SelfRegisteredPhoneDiffers)
    );
    assert!(!planned.actions().iter().any(Action::is_phone_write));
    assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    assert_eq!(w.mobile(JOHANNA).await.as_deref(), Some("+49 1709876543"));
    assert_ne!(w.mfa_state(JOHANNA).await, PerUserMfaState::Disabled);
    assert!(w.memory.get(JOHANNA).await.unwrap().is_none());
    w.sim.shutdown().await;
}

#[tokio::test]
async fn changed_directory_number_updates_the_phone_we_registered() {
    let w = world().await;
    let p = policy();
    w.enroll(&p, ADELE).await;
    assert_eq!(w.mobile(ADELE).await.as_deref(), Some("+31 612345678"));
    w.sim
        .control()
        .update_user(ADELE, json!({"mobilePhone": "06-87654321"}))
        .unwrap();
    let (planned, outcome) = w.enroll(&p, ADELE).await;
    assert_eq!(labels(planned.actions()), vec!["updateManagedMobile"]);
    assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    assert_eq!(w.mobile(ADELE).await.as_deref(), Some("+31 687654321"));
    let memory = w.memory.get(ADELE).await.unwrap().unwrap();
    // Two memory writes per phone write (write-ahead, then confirmed).
    assert_eq!(memory.version, 4);
    assert!(memory.pending.is_none());
    assert_eq!(
        memory.number_hash,
        phone::fingerprint(TENANT, "+31 687654321")
    );
    w.sim.shutdown().await;
}

#[tokio::test]
async fn phone_changed_by_the_user_between_plan_and_apply_is_not_overwritten() {
    let w = world().await;
    let p = policy();
    w.enroll(&p, ADELE).await;
    w.sim
        .control()
        .update_user(ADELE, json!({"mobilePhone": "06-87654321"}))
        .unwrap();
    let view = w.view(&p, ADELE).await;
    let planned = plan(&p, &view);
    assert_eq!(labels(planned.actions()), vec!["updateManagedMobile"]);
    // The user edits the phone in My Sign-Ins before our write lands.
    w.graph
        .phone_methods(ADELE)
        .update(PhoneType::Mobile, "+31 611112222")
        .await
        .unwrap();
    let outcome = w.run(&p, &view, &planned).await;
    assert!(
        matches!(&outcome, Outcome::Failed { failure, completed, .. }
            if completed.is_empty() && failure.disposition() == Disposition::Retry),
        "{outcome:?}"
    );
    assert_eq!(w.mobile(ADELE).await.as_deref(), Some("+31 611112222"));
    // The retry re-reads and now sees the user's own phone.
    let (replanned, _) = w.enroll(&p, ADELE).await;
    assert!(
        replanned
            .reasons()
            .contains(&SkipReason::SelfRegisteredPhoneDiffers)
    );
    assert_eq!(w.mobile(ADELE).await.as_deref(), Some("+31 611112222"));
    w.sim.shutdown().await;
}

#[tokio::test]
async fn already_existing_phone_with_our_number_counts_as_done_but_is_not_claimed() {
    let w = world().await;
    let p = policy();
    let view = w.view(&p, NEW_HIRE).await;
    let planned = plan(&p, &view);
    // Someone else registers the very same number first.
    w.graph
        .phone_methods(NEW_HIRE)
        .add("+31 633333333", PhoneType::Mobile)
        .await
        .unwrap();
    let outcome = w.run(&p, &view, &planned).await;
    assert!(
        matches!(&outcome, Outcome::Done { actions, .. } if actions.len() == 2),
        "{outcome:?}"
    );
    assert_ne!(w.mfa_state(NEW_HIRE).await, PerUserMfaState::Disabled);
    // The write-ahead entry was released: nothing of ours is recorded.
    let stored = w.memory.get(NEW_HIRE).await.unwrap();
    assert!(
        stored
            .as_ref()
            .is_none_or(|m| m.number_hash.is_empty() && m.pending.is_none()),
        "{stored:?}"
    );
    w.sim.shutdown().await;
}

#[tokio::test]
async fn already_existing_phone_with_another_number_stops_before_mfa() {
    let w = world().await;
    let p = policy();
    let view = w.view(&p, NEW_HIRE).await;
    let planned = plan(&p, &view);
    w.graph
        .phone_methods(NEW_HIRE)
        .add("+31 644445555", PhoneType::Mobile)
        .await
        .unwrap();
    let outcome = w.run(&p, &view, &planned).await;
    assert!(
        matches!(
            &outcome,
            Outcome::Failed {
                failure: Failure {
                    cause: Cause::Changed(_),
                    ..
                },
                failed: Some(Action::AddMobile { .. }),
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(outcome.disposition(), Some(Disposition::Retry));
    assert_eq!(w.mobile(NEW_HIRE).await.as_deref(), Some("+31 644445555"));
    assert_eq!(w.mfa_state(NEW_HIRE).await, PerUserMfaState::Disabled);
    assert_eq!(w.preferred(NEW_HIRE).await, None);
    assert_eq!(
        w.audit.records()[0].outcome,
        AuditOutcome::Failed(Disposition::Retry)
    );
    w.sim.shutdown().await;
}

#[tokio::test]
async fn one_throttled_phone_write_is_retried_by_the_client_and_succeeds() {
    let w = world().await;
    w.sim.control().add_fault(no_wait(
        FaultRule::new(PHONE_POST, FaultKind::Throttle).times(1),
    ));
    let (_, outcome) = w.enroll(&policy(), NEW_HIRE).await;
    assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    assert_eq!(w.mobile(NEW_HIRE).await.as_deref(), Some("+31 633333333"));
    assert_eq!(
        w.sim
            .control()
            .counters()
            .calls_with_status(PHONE_POST, 429),
        1
    );
    w.sim.shutdown().await;
}

#[tokio::test]
async fn persistent_server_errors_fail_retryably_and_never_reach_mfa() {
    let w = world().await;
    w.sim.control().add_fault(FaultRule::new(
        PHONE_POST,
        FaultKind::Status { status: 500 },
    ));
    let (_, outcome) = w.enroll(&policy(), NEW_HIRE).await;
    match &outcome {
        Outcome::Failed {
            failure,
            completed,
            failed,
            ..
        } => {
            assert!(completed.is_empty());
            assert!(matches!(failed, Some(Action::AddMobile { .. })));
            // The client does not repeat a POST Graph may have carried out; the queue does.
            assert_eq!(failure.disposition(), Disposition::Retry, "{failure}");
        }
        other => panic!("{other:?}"),
    }
    w.sim.control().clear_faults();
    assert_eq!(w.mobile(NEW_HIRE).await, None);
    assert_eq!(w.mfa_state(NEW_HIRE).await, PerUserMfaState::Disabled);
    let audit = &w.audit.records()[0];
    assert_eq!(audit.outcome, AuditOutcome::Failed(Disposition::Retry));
    assert!(
        audit.reasons[0].starts_with("error:addMobile:500"),
        "{audit:?}"
    );
    w.sim.shutdown().await;
}

#[tokio::test]
async fn service_unavailable_is_reported_retryable() {
    let w = world().await;
    w.sim.control().add_fault(no_wait(FaultRule::new(
        PHONE_POST,
        FaultKind::Status { status: 503 },
    )));
    let (_, outcome) = w.enroll(&policy(), NEW_HIRE).await;
    assert_eq!(
        outcome.disposition(),
        Some(Disposition::Retry),
        "{outcome:?}"
    );
    w.sim.shutdown().await;
}

#[tokio::test]
async fn number_graph_rejects_is_a_permanent_failure() {
    let w = world().await;
    let p = policy();
    let view = w.view(&p, NEW_HIRE).await;
    // Not what plan produces (it normalises); a hand-made plan shows how Graph's 400 is read.
    let bad = Plan::Enroll {
        actions: vec![add_mobile("0612345678")],
        notes: vec![],
    };
    let outcome = w.run(&p, &view, &bad).await;
    assert!(
        matches!(
            &outcome,
            Outcome::Failed {
                failure: Failure {
                    cause: Cause::Graph {
                        status: Some(400),
                        ..
                    },
                    ..
                },
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(outcome.disposition(), Some(Disposition::Permanent));
    assert_eq!(w.mobile(NEW_HIRE).await, None);
    assert!(!format!("{outcome:?}").contains("612345678"));
    w.sim.shutdown().await;
}

#[tokio::test]
async fn memory_store_down_means_no_phone_write_is_started() {
    let w = world().await;
    let p = policy();
    let view = w.view(&p, NEW_HIRE).await;
    let planned = plan(&p, &view);
    w.memory.set_unavailable(true);
    let outcome = w.run(&p, &view, &planned).await;
    match &outcome {
        Outcome::Failed {
            failure,
            completed,
            failed: Some(Action::AddMobile { .. }),
            ..
        } => {
            assert!(completed.is_empty());
            assert_eq!(failure.disposition(), Disposition::Retry);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(w.mobile(NEW_HIRE).await, None);
    assert_eq!(w.mfa_state(NEW_HIRE).await, PerUserMfaState::Disabled);
    w.sim.shutdown().await;
}

/// The in-memory store, but every `put` after the first `ok_puts` fails as unavailable: a
/// worker whose memory writes stop once it has started a phone write (an outage, or a crash
/// right after the POST went out).
struct PutsFailAfter {
    inner: InMemoryMemoryStore,
    ok_puts: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl MemoryStore for PutsFailAfter {
    async fn get(&self, user_id: &str) -> Result<Option<ManagedPhone>, StoreError> {
        self.inner.get(user_id).await
    }
    async fn put(&self, record: ManagedPhone, expected: Option<u64>) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        let left = self
            .ok_puts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if left.is_err() {
            return Err(StoreError::Unavailable("injected".into()));
        }
        self.inner.put(record, expected).await
    }
    async fn delete(&self, user_id: &str) -> Result<(), StoreError> {
        self.inner.delete(user_id).await
    }
}

#[tokio::test]
async fn phone_written_but_never_confirmed_is_still_ours_next_time() {
    let w = world().await;
    let p = policy();
    let view = w.view(&p, NEW_HIRE).await;
    let planned = plan(&p, &view);
    let flaky = PutsFailAfter {
        inner: w.memory.clone(),
        ok_puts: 1.into(),
    };
    let outcome = apply(
        &w.graph,
        &p,
        &view,
        &planned,
        &flaky,
        &w.audit,
        Some(&Trigger::Reconcile),
    )
    .await;
    // The confirmation runs beside the writes after the phone, which do not wait for it: they
    // went ahead — MFA is on with the phone in place — and the lost confirmation makes
    // the outcome a retryable failure with every Graph write listed.
    match &outcome {
        Outcome::Failed {
            failure,
            completed,
            failed: None,
            ..
        } => {
            assert_eq!(
                labels(completed),
                vec!["addMobile", "setPerUserMfa:enabled"]
            );
            assert!(matches!(failure.cause, Cause::Store { .. }), "{failure}");
            assert_eq!(failure.disposition(), Disposition::Retry);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(w.mobile(NEW_HIRE).await.as_deref(), Some("+31 633333333"));
    assert_ne!(w.mfa_state(NEW_HIRE).await, PerUserMfaState::Disabled);
    let stored = w.memory.get(NEW_HIRE).await.unwrap().unwrap();
    assert!(stored.number_hash.is_empty());
    assert_eq!(
        stored.pending.map(|p| p.number_hash),
        Some(phone::fingerprint(TENANT, "+31 633333333"))
    );

    // Redelivered with a working store: the phone is recognised and confirmed as ours, and
    // nothing is left to write.
    let (planned, outcome) = w.enroll(&p, NEW_HIRE).await;
    assert!(planned.actions().is_empty(), "{planned:?}");
    assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    let stored = w.memory.get(NEW_HIRE).await.unwrap().unwrap();
    assert_eq!(
        stored.number_hash,
        phone::fingerprint(TENANT, "+31 633333333")
    );
    assert!(stored.pending.is_none());

    // So a later change of the directory number updates it, as for any phone of ours
    // (without the write-ahead record it was taken for the user's own and left).
    w.sim
        .control()
        .update_user(NEW_HIRE, json!({"mobilePhone": "06-87654321"}))
        .unwrap();
    let (planned, outcome) = w.enroll(&p, NEW_HIRE).await;
    assert_eq!(labels(planned.actions()), vec!["updateManagedMobile"]);
    assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    assert_eq!(w.mobile(NEW_HIRE).await.as_deref(), Some("+31 687654321"));
    w.sim.shutdown().await;
}

/// The in-memory store, noting for each confirmation (a put with no pending entry) whether
/// the user's per-user MFA was already on in the simulator when it started.
struct NotesMfaAtConfirmation {
    inner: InMemoryMemoryStore,
    graph: GraphClient,
    mfa_on_at_confirmation: parking_lot::Mutex<Vec<bool>>,
}

#[async_trait::async_trait]
impl MemoryStore for NotesMfaAtConfirmation {
    async fn get(&self, user_id: &str) -> Result<Option<ManagedPhone>, StoreError> {
        self.inner.get(user_id).await
    }
    async fn put(&self, record: ManagedPhone, expected: Option<u64>) -> Result<(), StoreError> {
        if record.pending.is_none() {
            let state = self
                .graph
                .mfa_requirements(&record.user_id)
                .get()
                .await
                .map_err(|e| StoreError::Other(format!("reading MFA state: {e}")))?
                .per_user_mfa_state;
            self.mfa_on_at_confirmation
                .lock()
                .push(state != PerUserMfaState::Disabled);
        }
        self.inner.put(record, expected).await
    }
    async fn delete(&self, user_id: &str) -> Result<(), StoreError> {
        self.inner.delete(user_id).await
    }
}

#[tokio::test]
async fn the_phone_is_confirmed_in_memory_while_the_mfa_write_is_under_way() {
    let w = world().await;
    let p = policy();
    let view = w.view(&p, NEW_HIRE).await;
    let planned = plan(&p, &view);
    assert_eq!(
        labels(planned.actions()),
        vec!["addMobile", "setPerUserMfa:enabled"]
    );
    // The MFA write takes long enough for the confirmation to start (and end) inside it.
    w.sim.control().set_latency(vec![graph_sim::LatencyRule {
        route: "PATCH /users/{user}/authentication/requirements".into(),
        min_ms: 400,
        max_ms: None,
    }]);
    let store = NotesMfaAtConfirmation {
        inner: w.memory.clone(),
        graph: w.graph.clone(),
        mfa_on_at_confirmation: parking_lot::Mutex::new(Vec::new()),
    };
    let outcome = apply(
        &w.graph,
        &p,
        &view,
        &planned,
        &store,
        &w.audit,
        Some(&Trigger::Reconcile),
    )
    .await;
    assert!(
        matches!(&outcome, Outcome::Done { actions, .. } if actions.len() == 2),
        "{outcome:?}"
    );
    // One confirmation, begun before the MFA write had landed.
    assert_eq!(*store.mfa_on_at_confirmation.lock(), vec![false]);
    assert_ne!(w.mfa_state(NEW_HIRE).await, PerUserMfaState::Disabled);
    let memory = w.memory.get(NEW_HIRE).await.unwrap().unwrap();
    assert!(memory.pending.is_none());
    assert_eq!(
        memory.number_hash,
        phone::fingerprint(TENANT, "+31 633333333")
    );
    assert_eq!(memory.version, 2);
    assert_eq!(w.audit.records().len(), 1);
    w.sim.shutdown().await;
}

#[tokio::test]
async fn excluded_user_is_not_written_even_with_a_hand_made_plan() {
    let w = world().await;
    let p = policy();
    let view = w.view(&Policy::default(), BREAKGLASS).await;
    let forced = Plan::Enroll {
        actions: vec![
            add_mobile("+31 699999999"),
            Action::SetPerUserMfa {
                state: PerUserMfaState::Enforced,
            },
        ],
        notes: vec![],
    };
    w.sim.control().reset_counters();
    let outcome = w.run(&p, &view, &forced).await;
    assert_eq!(
        outcome,
        Outcome::Skipped(SkipReason::Excluded(Exclusion::Upn))
    );
    assert_eq!(w.sim.control().counters().writes, 0);
    w.sim.shutdown().await;
}

#[tokio::test]
async fn break_glass_account_is_not_read_beyond_upn_and_groups() {
    let w = world().await;
    // Excluded by group only: the UPN list does not name it.
    let p = Policy {
        excluded_upns: Default::default(),
        ..policy()
    };
    w.sim.control().reset_counters();
    let read = read_view(&w.graph, &p, TENANT, BREAKGLASS, &w.memory)
        .await
        .unwrap();
    assert!(
        matches!(&read, ReadView::Skip { reason: SkipReason::Excluded(Exclusion::Group(g)), .. } if g == BREAKGLASS_GROUP),
        "{read:?}"
    );
    let counters = w.sim.control().counters();
    assert_eq!(counters.calls("GET /users/{user}/authentication*"), 0);
    assert_eq!(enrollment_writes(&counters), 0);
    // Group membership is read with a GET: not even the write quota is spent on it.
    assert_eq!(counters.writes, 0);
    assert_eq!(counters.calls("GET /users/{user}/transitiveMemberOf"), 1);
    w.sim.shutdown().await;
}

#[tokio::test]
async fn deleted_user_reads_as_a_deleted_skip() {
    let w = world().await;
    w.sim.control().delete_user(NEW_HIRE).unwrap();
    let read = read_view(&w.graph, &policy(), TENANT, NEW_HIRE, &w.memory)
        .await
        .unwrap();
    assert!(
        matches!(
            read,
            ReadView::Skip {
                reason: SkipReason::Deleted,
                ..
            }
        ),
        "{read:?}"
    );
    w.sim.shutdown().await;
}

#[tokio::test]
async fn placeholder_number_is_skipped_and_audited_without_writes() {
    let w = world().await;
    let p = policy();
    w.sim.control().reset_counters();
    let (planned, outcome) = w.enroll(&p, LEE).await;
    assert!(
        matches!(planned, Plan::Skip(SkipReason::InvalidNumber(_))),
        "{planned:?}"
    );
    assert!(matches!(outcome, Outcome::Skipped(_)));
    assert_eq!(enrollment_writes(&w.sim.control().counters()), 0);
    assert_eq!(w.mfa_state(LEE).await, PerUserMfaState::Disabled);
    let audit = &w.audit.records()[0];
    assert_eq!(audit.outcome, AuditOutcome::Skipped);
    assert_eq!(audit.reasons, vec!["invalidNumber:placeholder"]);
    w.sim.shutdown().await;
}

#[tokio::test]
async fn office_fallback_registers_the_business_phone_for_voice() {
    let w = world().await;
    let p = Policy {
        office_fallback: true,
        ..policy()
    };
    w.sim
        .control()
        .update_user(ISAIAH, json!({"businessPhones": ["020-1234567"]}))
        .unwrap();
    let (planned, outcome) = w.enroll(&p, ISAIAH).await;
    assert_eq!(
        labels(planned.actions()),
        vec!["addOffice", "setPerUserMfa:enabled"]
    );
    assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    let office = w
        .graph
        .phone_methods(ISAIAH)
        .get(PhoneType::Office)
        .await
        .unwrap()
        .map(|m| m.phone_number);
    assert_eq!(office.as_deref(), Some("+31 201234567"));
    assert_eq!(w.mobile(ISAIAH).await, None);
    assert_eq!(
        w.memory.get(ISAIAH).await.unwrap().map(|m| m.phone_type),
        Some(PhoneType::Office)
    );
    w.sim.shutdown().await;
}

/// A worker whose write budget is one write per `window`, already spent: its next write waits.
async fn worker_with_spent_write_budget(sim: &Sim, window: Duration) -> GraphClient {
    let pacer = Arc::new(Pacer::new(PacingConfig {
        writes_per_window: 1,
        write_window: window,
        headroom: 1.0,
        ..PacingConfig::default()
    }));
    pacer.acquire(BudgetClass::Write, 1).await;
    GraphClient::new(graph_config(sim).with_pacer(pacer)).unwrap()
}

#[tokio::test]
async fn mfa_raised_by_an_admin_while_our_write_waited_is_not_lowered() {
    let w = world().await;
    let p = policy();
    let view = w.view(&p, NEW_HIRE).await;
    assert_eq!(view.mfa_state, Some(PerUserMfaState::Disabled));
    let worker = worker_with_spent_write_budget(&w.sim, Duration::from_millis(300)).await;
    // Our write has to wait for budget; meanwhile an administrator enforces MFA.
    w.graph
        .mfa_requirements(NEW_HIRE)
        .set(PerUserMfaState::Enforced)
        .await
        .unwrap();
    let enable = Plan::Enroll {
        actions: vec![Action::SetPerUserMfa {
            state: PerUserMfaState::Enabled,
        }],
        notes: vec![],
    };
    let outcome = apply(&worker, &p, &view, &enable, &w.memory, &w.audit, None).await;
    assert_eq!(w.mfa_state(NEW_HIRE).await, PerUserMfaState::Enforced);
    assert!(
        matches!(&outcome, Outcome::Failed { failure: Failure { cause: Cause::Changed(_), .. }, completed, .. } if completed.is_empty()),
        "{outcome:?}"
    );
    assert_eq!(outcome.disposition(), Some(Disposition::Retry));
    // The next attempt plans from the fresh state: nothing left to raise.
    let (replanned, _) = w.enroll(&p, NEW_HIRE).await;
    assert!(
        !replanned
            .actions()
            .iter()
            .any(|a| matches!(a, Action::SetPerUserMfa { .. })),
        "{replanned:?}"
    );
    w.sim.shutdown().await;
}

#[tokio::test]
async fn a_write_that_did_not_wait_is_sent_without_reading_again() {
    let w = world().await;
    let p = policy();
    let view = w.view(&p, NEW_HIRE).await;
    let before = w.sim.control().counters().calls(MFA_GET);
    let enable = Plan::Enroll {
        actions: vec![Action::SetPerUserMfa {
            state: PerUserMfaState::Enabled,
        }],
        notes: vec![],
    };
    // Paced as in production, with the budget there at once.
    let graph = GraphClient::new(graph_config(&w.sim)).unwrap();
    let outcome = apply(
        &graph,
        &p,
        &view,
        &enable,
        &w.memory,
        &w.audit,
        Some(&Trigger::Reconcile),
    )
    .await;
    assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    assert_eq!(w.sim.control().counters().calls(MFA_GET), before);
    assert_eq!(w.mfa_state(NEW_HIRE).await, PerUserMfaState::Enabled);
    w.sim.shutdown().await;
}

#[tokio::test]
async fn a_preferred_method_chosen_while_our_write_waited_is_kept() {
    let w = world().await;
    let p = policy();
    let view = w.view(&p, NEW_HIRE).await;
    let worker = worker_with_spent_write_budget(&w.sim, Duration::from_millis(300)).await;
    // The phone is there (so Graph accepts voice as the preference), and the user picks it.
    w.graph
        .phone_methods(NEW_HIRE)
        .add("+31 633333333", PhoneType::Mobile)
        .await
        .unwrap();
    w.graph
        .sign_in_preferences(NEW_HIRE)
        .set(&SignInPreferences {
            user_preferred_method_for_secondary_authentication: Some("voiceMobile".into()),
            ..SignInPreferences::default()
        })
        .await
        .unwrap();
    let sms = Plan::Enroll {
        actions: vec![Action::SetSmsPreferred],
        notes: vec![],
    };
    let outcome = apply(&worker, &p, &view, &sms, &w.memory, &w.audit, None).await;
    assert_eq!(w.preferred(NEW_HIRE).await.as_deref(), Some("voiceMobile"));
    assert_eq!(
        outcome.disposition(),
        Some(Disposition::Retry),
        "{outcome:?}"
    );
    w.sim.shutdown().await;
}

#[tokio::test]
async fn a_user_named_by_upn_reads_the_memory_kept_under_its_object_id() {
    let w = world().await;
    let p = policy();
    let (_, outcome) = w.enroll(&p, NEW_HIRE).await;
    assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    let upn = w
        .graph
        .users()
        .get(NEW_HIRE, &["id", "userPrincipalName"])
        .await
        .unwrap()
        .user_principal_name
        .unwrap();
    // The memory is read together with the user, by the name in hand; under a UPN that key
    // holds nothing, so the read must look again under the object id.
    let read = read_view(&w.graph, &p, TENANT, &upn, &w.memory)
        .await
        .unwrap();
    let ReadView::View(view) = read else {
        panic!("{read:?}")
    };
    assert_eq!(view.user.id, NEW_HIRE);
    let managed = view
        .managed
        .as_ref()
        .expect("the memory of the enrolled user");
    assert_eq!(managed.last_two, "33");
    assert!(plan(&p, &view).actions().is_empty());
    w.sim.shutdown().await;
}

#[tokio::test]
async fn memory_store_down_holds_up_an_enrollment_but_not_a_skip() {
    let w = world().await;
    let p = policy();
    w.memory.set_unavailable(true);
    let read = read_view(&w.graph, &p, TENANT, BREAKGLASS, &w.memory)
        .await
        .unwrap();
    assert!(
        matches!(
            read,
            ReadView::Skip {
                reason: SkipReason::Excluded(_),
                ..
            }
        ),
        "{read:?}"
    );
    let err = read_view(&w.graph, &p, TENANT, NEW_HIRE, &w.memory)
        .await
        .unwrap_err();
    assert_eq!(err.cause().disposition(), Disposition::Retry, "{err}");
    w.sim.shutdown().await;
}

/// The in-memory store, with every `get` taking 300 ms and noting how many authentication
/// method reads the simulator had received by the time it answered.
struct SlowGets {
    inner: InMemoryMemoryStore,
    sim_control: graph_sim::Control,
    methods_reads_at_answer: parking_lot::Mutex<Vec<u64>>,
}

#[async_trait::async_trait]
impl MemoryStore for SlowGets {
    async fn get(&self, user_id: &str) -> Result<Option<ManagedPhone>, StoreError> {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let reads = self
            .sim_control
            .counters()
            .calls("GET /users/{user}/authentication/methods");
        self.methods_reads_at_answer.lock().push(reads);
        self.inner.get(user_id).await
    }
    async fn put(&self, record: ManagedPhone, expected: Option<u64>) -> Result<(), StoreError> {
        self.inner.put(record, expected).await
    }
    async fn delete(&self, user_id: &str) -> Result<(), StoreError> {
        self.inner.delete(user_id).await
    }
}

#[tokio::test]
async fn the_methods_are_read_while_the_memory_read_is_still_under_way() {
    let w = world().await;
    let p = policy();
    let store = SlowGets {
        inner: w.memory.clone(),
        sim_control: w.sim.control(),
        methods_reads_at_answer: parking_lot::Mutex::new(Vec::new()),
    };
    let before = w
        .sim
        .control()
        .counters()
        .calls("GET /users/{user}/authentication/methods");
    let read = read_view(&w.graph, &p, TENANT, NEW_HIRE, &store)
        .await
        .unwrap();
    let ReadView::View(view) = read else {
        panic!("{read:?}")
    };
    assert!(view.managed.is_none());
    // One memory read (under the message's id), answered after the methods had been asked for.
    assert_eq!(*store.methods_reads_at_answer.lock(), vec![before + 1]);
    w.sim.shutdown().await;
}
