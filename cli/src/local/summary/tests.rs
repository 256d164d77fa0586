use super::*;

fn record(user: &str, outcome: AuditOutcome, actions: &[&str]) -> AuditRecord {
    AuditRecord {
        user_id: user.into(),
        user_principal_name: Some(format!("{user}@contoso.com")),
        at: "2026-01-01T00:00:00Z".into(),
        outcome,
        actions: actions.iter().map(|a| (*a).to_owned()).collect(),
        reasons: vec![],
        masked_number: actions
            .contains(&"addMobile")
            .then(|| "+31 6******78".to_owned()),
        trigger: Some(Trigger::Reconcile),
    }
}

fn dump(mfa: &str, phone: Option<&str>) -> Value {
    let phones = match phone {
        Some(n) => serde_json::json!({"mobile": {"phoneNumber": n}}),
        None => serde_json::json!({}),
    };
    serde_json::json!({"users": {"u1": {
        "properties": {"userPrincipalName": "u1@contoso.com"},
        "authentication": {"phones": phones, "other": [], "perUserMfaState": mfa}
    }}})
}

fn inputs<'a>(
    policy: &'a Policy,
    initial: &'a Value,
    final_dump: &'a Value,
    records: &'a [AuditRecord],
    writes: u64,
) -> Inputs<'a> {
    Inputs {
        tenant: "t".into(),
        policy,
        initial,
        final_dump,
        records,
        events: &[],
        simulator_writes: writes,
        subscription_writes: 0,
        notifications_delivered: 0,
        notifications_dropped: 0,
        dead_letters: 0,
        wall_time_ms: 0,
    }
}

/// One user enrolled by the outcomes (phone + MFA, 2 writes), checked against a simulator
/// that shows `mfa` and `phone` and counted `writes`.
fn check_one(mfa: &str, phone: Option<&str>, writes: u64) -> LocalSummary {
    let policy = Policy::default();
    let initial = dump("disabled", None);
    let final_dump = dump(mfa, phone);
    let records = [record(
        "u1",
        AuditOutcome::Done,
        &["addMobile", "setPerUserMfa:enabled"],
    )];
    compute(&inputs(&policy, &initial, &final_dump, &records, writes))
}

#[test]
fn outcomes_that_match_the_simulator_agree() {
    let s = check_one("enforced", Some("+31 612345678"), 2);
    assert!(s.cross_check.agrees, "{:?}", s.cross_check.mismatches);
    assert_eq!(s.enrolled, 1);
    assert!(s.ok());
}

#[test]
fn every_disagreement_with_the_simulator_is_a_mismatch() {
    for (situation, mfa, phone, writes) in [
        ("the simulator shows nothing changed", "disabled", None, 2),
        (
            "more writes than the outcomes account for",
            "enforced",
            Some("+31 612345678"),
            3,
        ),
        (
            "another number registered",
            "enforced",
            Some("+31 612345600"),
            2,
        ),
        ("MFA still off", "disabled", Some("+31 612345678"), 2),
    ] {
        let s = check_one(mfa, phone, writes);
        assert!(!s.cross_check.agrees, "{situation}");
        assert!(!s.ok(), "{situation}");
    }
}

#[test]
fn percentiles_use_the_nearest_rank() {
    let p = Percentiles::of((1..=100).collect());
    assert_eq!(
        (p.p50_ms, p.p99_ms, p.max_ms, p.samples),
        (50, 99, 100, 100)
    );
    assert_eq!(Percentiles::of(vec![]).p99_ms, 0);
    assert_eq!(Percentiles::of(vec![7]).p50_ms, 7);
}
