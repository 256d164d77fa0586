//! Scenario 1's TAP bootstrap mode: the bootstrap's own case at backfill scale.
//!
//! The simulator's clock is in the passkey era (after Microsoft's SMS/voice retirement, no
//! telecom provider), the seed's TAP method policy is enabled for all users, MFA is per-user
//! `enabled`. Every new user has no mobile number in the directory and a manager with a mail
//! address, so the plan is one Temporary Access Pass delivered to the manager by e-mail (the
//! in-memory outbox, the SES twin) and the per-user MFA state: 2 Graph writes. The delivery is
//! not a Graph write and costs no quota.
//!
//! `tap-hr-mobile` is the same with an HR mobile number on every user: Microsoft no longer
//! delivers to it, so it does not make the user's phone usable and the user still gets a pass,
//! but the plan registers it all the same — a third write the mode's minimum does not count.

use std::sync::Arc;

use autoenroll_aws::outbox::Outbox;
use autoenroll_core::engine::Bootstrap;
use autoenroll_core::memory::InMemoryBootstrapStore;
use autoenroll_core::policy::{BootstrapDelivery, BootstrapPolicy, Policy};
use graph_sim::{Counters, Sim};
use time::OffsetDateTime;
use time::macros::datetime;

use super::{BackfillMode, BenchEnroller};
use crate::common::new_user;
use crate::report::{Metric, ScenarioReport};

/// A month after Microsoft stops delivering SMS and voice to everyone (2027-02-01): a phone
/// counts for nothing without a telecom provider, which the Contoso seed has none of.
const PASSKEY_ERA: OffsetDateTime = datetime!(2027-03-01 08:00 UTC);

/// A Contoso seed user with a mail address: every bench user's manager.
const MANAGER: &str = "megan.bowen@contoso.com";

/// The From address e-mail delivery requires (the outbox sends nothing anywhere).
const EMAIL_FROM: &str = "it@contoso.com";

/// The routes of the two writes the mode needs, the phone registration `tap-hr-mobile` adds
/// and the manager read (simulator route keys).
const TAP_CREATE: &str = "POST /users/{user}/authentication/temporaryAccessPassMethods";
const MFA_STATE: &str = "PATCH /users/{user}/authentication/requirements";
const PHONE_CREATE: &str = "POST /users/{user}/authentication/phoneMethods";
const MANAGER_READ: &str = "GET /users/{user}/manager";

/// The policy and population, for the report's parameters.
pub(super) fn policy_text(mode: BackfillMode) -> String {
    let users = match mode {
        BackfillMode::TapHrMobile => "users with an HR mobile number (not delivered to)",
        _ => "users without a mobile number",
    };
    format!(
        "default region NL, per-user MFA enabled, TAP bootstrap (when no usable method) by e-mail to the manager through the in-memory outbox; simulator date 2027-03-01 (SMS/voice retired, no telecom provider), TAP method policy enabled for all users; {users}, each with a manager with mail"
    )
}

/// Per-user MFA (`base`) with the bootstrap on: a pass for whoever has no usable method, by
/// e-mail to the manager.
pub(super) fn policy(base: Policy) -> Policy {
    Policy {
        bootstrap: BootstrapPolicy {
            delivery: Some(BootstrapDelivery::ManagerEmail),
            email_from: Some(EMAIL_FROM.into()),
            ..BootstrapPolicy::default()
        },
        ..base
    }
}

/// Moves `sim` into the passkey era and creates `n` new users, with an HR mobile number or
/// without one, each with [`MANAGER`] as manager (as HR provisioning would, through the admin
/// API: no quota).
pub(super) fn create_users(
    sim: &Sim,
    prefix: &str,
    n: usize,
    hr_mobile: bool,
) -> anyhow::Result<Vec<String>> {
    let control = sim.control();
    control.advance_clock_to(PASSKEY_ERA);
    (0..n)
        .map(|i| {
            let mut user = new_user(prefix, i);
            if let (false, Some(properties)) = (hr_mobile, user.as_object_mut()) {
                properties.remove("mobilePhone");
            }
            let id = control
                .create_user(user)
                .map_err(|e| anyhow::anyhow!("creating user {i}: {e}"))?;
            control
                .set_manager(&id, Some(MANAGER))
                .map_err(|e| anyhow::anyhow!("setting user {i}'s manager: {e}"))?;
            Ok(id)
        })
        .collect()
}

/// `enroller` with the bootstrap on — the in-memory outbox and bootstrap store, as the local
/// stack wires them — deciding on the simulator's date. Returns the outbox to count passes.
pub(super) fn with_bootstrap(enroller: BenchEnroller, sim: &Sim) -> (BenchEnroller, Arc<Outbox>) {
    let outbox = Arc::new(Outbox::new());
    let clock = sim.control();
    let enroller = enroller
        .with_bootstrap(Bootstrap {
            delivery: outbox.clone(),
            store: Arc::new(InMemoryBootstrapStore::new()),
        })
        .with_clock(Arc::new(move || clock.now()));
    (enroller, outbox)
}

/// Protected in this mode, as the simulator's state says: per-user MFA enabled or enforced and
/// a Temporary Access Pass to register a lasting method with (no phone reaches the user).
pub(super) fn is_protected(user: &serde_json::Value) -> bool {
    let auth = &user["authentication"];
    let mfa = auth["perUserMfaState"].as_str().unwrap_or_default();
    !auth["tap"].is_null() && matches!(mfa, "enabled" | "enforced")
}

/// The simulator's successful writes by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct WriteKinds {
    tap_creates: u64,
    mfa_states: u64,
    phone_creates: u64,
    other: u64,
}

impl WriteKinds {
    fn of(counters: &Counters) -> Self {
        let tap_creates = counters.calls_with_status(TAP_CREATE, 201);
        let mfa_states = counters.calls_with_status(MFA_STATE, 204);
        let phone_creates = counters.calls_with_status(PHONE_CREATE, 201);
        Self {
            tap_creates,
            mfa_states,
            phone_creates,
            other: counters
                .writes
                .saturating_sub(tap_creates + mfa_states + phone_creates),
        }
    }
}

/// The mode's own figures: writes per enrolled user by kind, planned = performed, one pass
/// delivered per enrolled user.
pub(super) fn metrics(
    report: &mut ScenarioReport,
    counters: &Counters,
    enrolled: usize,
    planned: usize,
    delivered: usize,
) {
    let kinds = WriteKinds::of(counters);
    let per_user = |n: u64| n as f64 / enrolled.max(1) as f64;
    report
        .metric(Metric::new(
            "TAP creates per enrolled user",
            per_user(kinds.tap_creates),
            "writes",
        ))
        .metric(Metric::new(
            "MFA state writes per enrolled user",
            per_user(kinds.mfa_states),
            "writes",
        ))
        .metric(Metric::new(
            "phone registrations per enrolled user",
            per_user(kinds.phone_creates),
            "writes",
        ))
        .metric(
            Metric::new(
                "other writes per enrolled user",
                per_user(kinds.other),
                "writes",
            )
            .at_most(0.0),
        )
        .metric(
            Metric::new(
                "planned writes per enrolled user",
                per_user(planned as u64),
                "writes",
            )
            .target("= writes per user", planned as u64 == counters.writes),
        )
        .metric(
            Metric::new("passes delivered (outbox)", delivered as f64, "passes")
                .target("= users enrolled", delivered == enrolled),
        )
        .metric(Metric::new(
            "Graph reads per enrolled user",
            per_user(counters.calls("GET *")),
            "reads",
        ))
        .metric(Metric::new(
            "manager reads per enrolled user",
            per_user(counters.calls(MANAGER_READ)),
            "reads",
        ))
        // One with the user's reads; a second only for a write that had to wait for budget.
        .metric(Metric::new(
            "MFA state reads per enrolled user",
            per_user(counters.calls("GET /users/{user}/authentication/requirements")),
            "reads",
        ));
}

#[cfg(test)]
mod tests {
    use super::super::{BackfillArgs, BackfillMode, run_mode};
    use super::*;

    fn value(report: &ScenarioReport, name: &str) -> f64 {
        report
            .metrics
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("no metric {name}: {:?}", report.metrics))
            .value
    }

    async fn small_run(mode: BackfillMode) -> ScenarioReport {
        let args = BackfillArgs {
            modes: vec![mode],
            users: 12,
            baseline_users: 3,
            concurrency: 8,
            latency_ms: 2,
            ..BackfillArgs::default()
        };
        run_mode(&args, mode).await.unwrap()
    }

    /// Every user of a small run gets exactly one pass, delivered, and the MFA state; the plan
    /// asked for every write made; the simulator sees them all protected.
    fn assert_bootstrapped(report: &ScenarioReport) {
        assert_eq!(value(report, "users enrolled"), 12.0);
        assert_eq!(value(report, "users protected (sim state)"), 12.0);
        assert_eq!(value(report, "users failed"), 0.0);
        assert_eq!(value(report, "passes delivered (outbox)"), 12.0);
        assert_eq!(value(report, "TAP creates per enrolled user"), 1.0);
        assert_eq!(value(report, "MFA state writes per enrolled user"), 1.0);
        assert_eq!(value(report, "other writes per enrolled user"), 0.0);
        assert_eq!(value(report, "manager reads per enrolled user"), 1.0);
        // The budget is never short here: no write re-reads the state it was planned on.
        assert_eq!(value(report, "MFA state reads per enrolled user"), 1.0);
        assert_eq!(value(report, "baseline users protected"), 3.0);
        let planned = report
            .metrics
            .iter()
            .find(|m| m.name == "planned writes per enrolled user")
            .unwrap();
        assert_eq!(planned.pass, Some(true), "{planned:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tap_mode_costs_the_pass_and_the_mfa_state_only() {
        let report = small_run(BackfillMode::Tap).await;
        assert_bootstrapped(&report);
        assert_eq!(value(&report, "phone registrations per enrolled user"), 0.0);
        assert_eq!(value(&report, "writes per enrolled user"), 2.0);
    }

    /// The HR mobile does not make the user's phone usable in the passkey era: the pass goes
    /// out all the same.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn users_with_an_hr_mobile_still_get_a_pass() {
        assert_bootstrapped(&small_run(BackfillMode::TapHrMobile).await);
    }

    #[test]
    fn protected_needs_the_pass_and_the_mfa_state() {
        let user = |tap: serde_json::Value, mfa: &str| serde_json::json!({"authentication": {"tap": tap, "perUserMfaState": mfa}});
        let pass = serde_json::json!({"id": "t1"});
        assert!(is_protected(&user(pass.clone(), "enabled")));
        assert!(!is_protected(&user(pass, "disabled")));
        assert!(!is_protected(&user(serde_json::Value::Null, "enabled")));
    }
}
