//! TAP, passkey and registration-CA rows: ok / WARN / PROBLEM from payloads in Graph's shape.

use std::collections::BTreeSet;

use autoenroll_core::policy::{BootstrapDelivery, BootstrapMode};
use serde_json::{Value, json};

use super::*;

const SCOPE: &str = "c0a80101-5e1f-4c3a-8d2b-0000000000aa";
const BREAK_GLASS: &str = "c0a80101-5e1f-4c3a-8d2b-000000000002";

fn methods(configs: Value) -> AuthenticationMethodsPolicy {
    serde_json::from_value(json!({"authenticationMethodConfigurations": configs}))
        .expect("policy shape")
}

fn tap(extra: Value) -> Value {
    let mut c = json!({"id": "TemporaryAccessPass", "state": "enabled",
        "includeTargets": [{"id": "all_users", "targetType": "group"}],
        "defaultLifetimeInMinutes": 60, "minimumLifetimeInMinutes": 60,
        "maximumLifetimeInMinutes": 480, "isUsableOnce": true});
    merge(&mut c, extra);
    c
}

fn fido2(extra: Value) -> Value {
    let mut c = json!({"id": "Fido2", "state": "enabled",
        "includeTargets": [{"id": "all_users", "targetType": "group"}]});
    merge(&mut c, extra);
    c
}

fn merge(into: &mut Value, extra: Value) {
    if let (Some(o), Value::Object(e)) = (into.as_object_mut(), extra) {
        o.extend(e);
    }
}

fn with_bootstrap() -> Policy {
    let mut p = Policy::default();
    p.bootstrap.mode = Some(BootstrapMode::WhenNoUsableMethod);
    p.bootstrap.delivery = Some(BootstrapDelivery::MobileSms);
    p.excluded_groups = BTreeSet::from([BREAK_GLASS.to_owned()]);
    p
}

fn scoped(mut p: Policy) -> Policy {
    p.scope_groups = BTreeSet::from([SCOPE.to_owned()]);
    p
}

fn group_targets(id: &str) -> Value {
    json!({"includeTargets": [{"id": id, "targetType": "group"}]})
}

#[test]
fn tap_policy_outcomes() {
    let cases: Vec<(&str, Value, Policy, Status, &str)> = vec![
        (
            "enabled, one-time, all users",
            tap(json!({})),
            with_bootstrap(),
            Status::Ok,
            "one-time use only",
        ),
        (
            "disabled with bootstrap on",
            tap(json!({"state": "disabled"})),
            with_bootstrap(),
            Status::Fail,
            "disabled",
        ),
        (
            "disabled with bootstrap off",
            tap(json!({"state": "disabled"})),
            Policy::default(),
            Status::Warn,
            "disabled",
        ),
        (
            "missing entirely",
            Value::Null,
            with_bootstrap(),
            Status::Fail,
            "disabled",
        ),
        (
            "targets another group, no scope",
            tap(group_targets(BREAK_GLASS)),
            with_bootstrap(),
            Status::Fail,
            "does not target all_users",
        ),
        (
            "targets the scope group",
            tap(group_targets(SCOPE)),
            scoped(with_bootstrap()),
            Status::Ok,
            "one-time",
        ),
        (
            "misses the scope group",
            tap(group_targets(BREAK_GLASS)),
            scoped(with_bootstrap()),
            Status::Fail,
            SCOPE,
        ),
        (
            "excludes autoenroll's break-glass group",
            tap(json!({"excludeTargets": [{"id": BREAK_GLASS, "targetType": "group"}]})),
            with_bootstrap(),
            Status::Ok,
            "one-time",
        ),
        (
            "excludes another group",
            tap(json!({"excludeTargets": [{"id": SCOPE, "targetType": "group"}]})),
            with_bootstrap(),
            Status::Fail,
            "does not exclude",
        ),
        (
            "default above max",
            tap(json!({"defaultLifetimeInMinutes": 600})),
            with_bootstrap(),
            Status::Fail,
            "outside the limits",
        ),
        (
            "default below min",
            tap(json!({"defaultLifetimeInMinutes": 30})),
            with_bootstrap(),
            Status::Fail,
            "outside the limits",
        ),
        (
            "default too short to onboard",
            tap(json!({"defaultLifetimeInMinutes": 15, "minimumLifetimeInMinutes": 10})),
            with_bootstrap(),
            Status::Warn,
            "may expire",
        ),
        (
            "lifetimes omitted: Microsoft's defaults",
            json!({"id": "TemporaryAccessPass", "state": "enabled", "includeTargets": [{"id": "all_users", "targetType": "group"}], "isUsableOnce": true}),
            with_bootstrap(),
            Status::Ok,
            "default 60 min (allowed 60–480)",
        ),
        (
            "multi-use allowed",
            tap(json!({"isUsableOnce": false})),
            with_bootstrap(),
            Status::Warn,
            "isUsableOnce is false",
        ),
    ];
    for (name, config, policy, status, text) in cases {
        let configs = if config.is_null() {
            json!([])
        } else {
            json!([config])
        };
        let rows = method_checks(&methods(configs), &policy);
        let row = rows.iter().find(|r| r.check == TAP).expect("TAP row");
        assert_eq!(row.status, status, "{name}: {row:?}");
        assert!(row.detail.contains(text), "{name}: {row:?}");
    }
}

#[test]
fn passkey_policy_outcomes() {
    let cases: Vec<(&str, Value, Policy, Status, &str)> = vec![
        (
            "enabled for all",
            fido2(json!({})),
            Policy::default(),
            Status::Ok,
            "can register a passkey",
        ),
        (
            "disabled",
            fido2(json!({"state": "disabled"})),
            Policy::default(),
            Status::Warn,
            "disabled",
        ),
        (
            "missing",
            Value::Null,
            Policy::default(),
            Status::Warn,
            "disabled",
        ),
        (
            "scope group targeted",
            fido2(group_targets(SCOPE)),
            scoped(Policy::default()),
            Status::Ok,
            "can register",
        ),
        (
            "scope group not targeted",
            fido2(group_targets(BREAK_GLASS)),
            scoped(Policy::default()),
            Status::Warn,
            SCOPE,
        ),
    ];
    for (name, config, policy, status, text) in cases {
        let configs = if config.is_null() {
            json!([])
        } else {
            json!([config])
        };
        let rows = method_checks(&methods(configs), &policy);
        let row = rows.iter().find(|r| r.check == FIDO2).expect("FIDO2 row");
        assert_eq!(row.status, status, "{name}: {row:?}");
        assert!(row.detail.contains(text), "{name}: {row:?}");
    }
}

fn ca(state: &str, actions: &[&str], grant: Value) -> ConditionalAccessPolicy {
    serde_json::from_value(
        json!({"id": "p1", "displayName": "Register", "state": state,
        "conditions": {"applications": {"includeUserActions": actions}},
        "grantControls": grant}),
    )
    .expect("CA shape")
}

fn strength(id: &str, combos: &[&str]) -> AuthenticationStrengthPolicy {
    serde_json::from_value(json!({"id": id, "allowedCombinations": combos})).expect("strength")
}

fn strengths() -> Vec<AuthenticationStrengthPolicy> {
    vec![
        strength(
            "00000000-0000-0000-0000-000000000002",
            &["password,sms", "temporaryAccessPassOneTime", "fido2"],
        ),
        strength(
            "00000000-0000-0000-0000-000000000004",
            &[
                "fido2",
                "windowsHelloForBusiness",
                "x509CertificateMultiFactor",
            ],
        ),
        strength("custom-tap", &["fido2", "temporaryAccessPassMultiUse"]),
    ]
}

fn by_strength(id: &str) -> Value {
    json!({"operator": "OR", "builtInControls": [], "authenticationStrength": {"id": id}})
}

#[test]
fn registration_ca_outcomes() {
    let reg = &["urn:user:registersecurityinfo"][..];
    let mfa = json!({"operator": "OR", "builtInControls": ["mfa"]});
    let cases: Vec<(&str, Vec<ConditionalAccessPolicy>, Status, &str)> = vec![
        (
            "plain MFA",
            vec![ca("enabled", reg, mfa.clone())],
            Status::Ok,
            "'Register'",
        ),
        (
            "built-in MFA strength",
            vec![ca(
                "enabled",
                reg,
                by_strength("00000000-0000-0000-0000-000000000002"),
            )],
            Status::Ok,
            "satisfies",
        ),
        (
            "custom strength with multi-use TAP",
            vec![ca("enabled", reg, by_strength("custom-tap"))],
            Status::Ok,
            "satisfies",
        ),
        (
            "phishing-resistant strength",
            vec![ca(
                "enabled",
                reg,
                by_strength("00000000-0000-0000-0000-000000000004"),
            )],
            Status::Fail,
            "locked out",
        ),
        (
            "phishing-resistant beside plain MFA",
            vec![
                ca("enabled", reg, mfa.clone()),
                ca(
                    "enabled",
                    reg,
                    by_strength("00000000-0000-0000-0000-000000000004"),
                ),
            ],
            Status::Fail,
            "locked out",
        ),
        (
            "unknown strength, embedded without TAP",
            vec![ca("enabled", reg, by_strength("gone"))],
            Status::Fail,
            "cannot satisfy",
        ),
        (
            "none at all",
            vec![],
            Status::Warn,
            "Securing security info registration",
        ),
        (
            "report-only",
            vec![ca("enabledForReportingButNotEnforced", reg, mfa.clone())],
            Status::Warn,
            "report-only",
        ),
        (
            "disabled phishing-resistant is harmless",
            vec![ca(
                "disabled",
                reg,
                by_strength("00000000-0000-0000-0000-000000000004"),
            )],
            Status::Warn,
            "no enforced",
        ),
        (
            "MFA for apps, not registration",
            vec![ca("enabled", &[], mfa.clone())],
            Status::Warn,
            "no enforced",
        ),
        (
            "registration blocked outright",
            vec![ca(
                "enabled",
                reg,
                json!({"operator": "OR", "builtInControls": ["block"]}),
            )],
            Status::Warn,
            "no enforced",
        ),
    ];
    for (name, policies, status, text) in cases {
        let row = registration_check(&policies, &strengths());
        assert_eq!(row.status, status, "{name}: {row:?}");
        assert!(row.detail.contains(text), "{name}: {row:?}");
    }
}

#[test]
fn the_bootstrap_row_says_why_it_is_off() {
    let mut policy = Policy::default();
    let row = bootstrap_row(&policy);
    assert_eq!(row.status, Status::Warn, "{row:?}");
    assert!(row.detail.contains("no delivery channel"), "{row:?}");
    policy.bootstrap.mode = Some(autoenroll_core::policy::BootstrapMode::Off);
    let row = bootstrap_row(&policy);
    assert_eq!(
        (row.status, row.detail.as_str()),
        (Status::Ok, "off: bootstrap is set to off")
    );
    policy.bootstrap.mode = None;
    policy.bootstrap.delivery = Some(autoenroll_core::policy::BootstrapDelivery::ManagerEmail);
    let row = bootstrap_row(&policy);
    assert_eq!(row.status, Status::Warn);
    assert!(row.detail.contains("no sender"), "{row:?}");
    policy.bootstrap.email_from = Some("autoenroll@contoso.com".into());
    let row = bootstrap_row(&policy);
    assert_eq!(row.status, Status::Ok);
    assert_eq!(
        row.detail,
        "on: when-no-usable-method, the pass goes by manager-email"
    );
}
