//! Each readiness row's ok / WARN / PROBLEM, from policies in Graph's shape.

use serde_json::{Value, json};
use time::macros::date;

use super::*;

fn policy(sms: Value, voice: Value, extra: Value) -> AuthenticationMethodsPolicy {
    let mut p = json!({
        "policyMigrationState": "migrationComplete",
        "registrationEnforcement": {"authenticationMethodsRegistrationCampaign": {
            "state": "default", "includeTargets": [{"id": "all_users", "targetType": "group", "targetedAuthenticationMethod": "Fido2"}],
            "excludeTargets": []}},
        "authenticationMethodConfigurations": [sms, voice],
    });
    if let (Some(p), Some(extra)) = (p.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            p.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(p).expect("policy shape")
}

fn channel(id: &str, state: &str, provider: Value) -> Value {
    json!({"id": id, "state": state,
        "includeTargets": [{"id": "all_users", "targetType": "group"}], "excludeTargets": [],
        "telecomProviderSettings": provider})
}

fn provider(evaluation: bool, percent: u8) -> Value {
    json!({"url": "https://router.example/api", "appId": "8c1f4e2a-6b3d-4f7a-9e21-0d5c7b3a4e66",
        "isEvaluationModeEnabled": evaluation, "migrationPercentage": percent})
}

fn row<'a>(rows: &'a [Check], name: &str) -> &'a Check {
    rows.iter()
        .find(|c| c.check == name)
        .unwrap_or_else(|| panic!("no row {name}: {rows:?}"))
}

#[test]
fn telephony_by_date_and_provider_mode() {
    let before = date!(2026 - 12 - 06);
    let cases: Vec<(&str, Value, Date, Status, &str)> = vec![
        (
            "no provider, before",
            Value::Null,
            before,
            Status::Warn,
            "57 day(s) until 2027-02-01",
        ),
        (
            "evaluation, before",
            provider(true, 100),
            before,
            Status::Warn,
            "evaluation mode",
        ),
        (
            "partial, before",
            provider(false, 40),
            before,
            Status::Warn,
            "part of the traffic",
        ),
        (
            "production, before",
            provider(false, 100),
            before,
            Status::Ok,
            "keeps working",
        ),
        (
            "no provider, on the date",
            Value::Null,
            date!(2027 - 02 - 01),
            Status::Fail,
            "no longer works for anyone but",
        ),
        (
            "evaluation, after",
            provider(true, 100),
            date!(2027 - 03 - 01),
            Status::Fail,
            "retired on 2027-02-01",
        ),
        (
            "no provider, after July",
            Value::Null,
            date!(2027 - 07 - 01),
            Status::Fail,
            "no longer delivers codes",
        ),
        (
            "production, after July",
            provider(false, 100),
            date!(2027 - 08 - 01),
            Status::Ok,
            "keeps working",
        ),
    ];
    for (name, prov, today, status, text) in cases {
        let p = policy(
            channel("Sms", "enabled", prov.clone()),
            channel("Voice", "disabled", Value::Null),
            json!({}),
        );
        let rows = policy_checks(&p, today);
        let sms = row(&rows, "SMS method policy");
        assert_eq!(sms.status, status, "{name}: {sms:?}");
        assert!(sms.detail.contains(text), "{name}: {}", sms.detail);
        assert!(sms.detail.contains("targets all users"), "{name}");
        assert_eq!(
            row(&rows, "Voice method policy").status,
            Status::Ok,
            "disabled voice is fine"
        );
    }
}

#[test]
fn migration_opt_out_and_campaign() {
    let sms = channel("Sms", "enabled", Value::Null);
    let voice = channel("Voice", "enabled", Value::Null);
    let rows = policy_checks(
        &policy(sms.clone(), voice.clone(), json!({})),
        date!(2026 - 12 - 06),
    );
    assert_eq!(row(&rows, "methods policy migration").status, Status::Ok);
    assert_eq!(row(&rows, "passkey auto-enablement").status, Status::Ok);
    assert_eq!(row(&rows, "registration campaign").status, Status::Ok);
    assert!(row(&rows, "registration campaign").detail.contains("Fido2"));

    let rows = policy_checks(
        &policy(
            sms,
            voice,
            json!({
                "policyMigrationState": "preMigration",
                "optOutSettings": {"passkeyDynamicMigration": true},
                "registrationEnforcement": {"authenticationMethodsRegistrationCampaign": {"state": "disabled", "includeTargets": [], "excludeTargets": []}},
            }),
        ),
        date!(2026 - 12 - 06),
    );
    assert_eq!(row(&rows, "methods policy migration").status, Status::Warn);
    assert!(
        row(&rows, "methods policy migration")
            .detail
            .contains("legacy")
    );
    assert_eq!(row(&rows, "passkey auto-enablement").status, Status::Warn);
    assert_eq!(row(&rows, "registration campaign").status, Status::Warn);
}

#[test]
fn telephony_view_takes_the_weaker_channel() {
    let p = |s: Value, v: Value| policy(s, v, json!({}));
    let view = telephony_view(&p(
        channel("Sms", "enabled", provider(false, 100)),
        channel("Voice", "enabled", Value::Null),
    ));
    assert_eq!(
        view,
        Telephony {
            sms_or_voice_enabled: Some(true),
            provider: Provider::None
        }
    );
    let view = telephony_view(&p(
        channel("Sms", "enabled", provider(false, 100)),
        channel("Voice", "disabled", Value::Null),
    ));
    assert_eq!(view.provider, Provider::Production);
    let view = telephony_view(&p(
        channel("Sms", "disabled", Value::Null),
        channel("Voice", "disabled", Value::Null),
    ));
    assert_eq!(view.sms_or_voice_enabled, Some(false));
    let legacy = policy(
        channel("Sms", "disabled", Value::Null),
        channel("Voice", "disabled", Value::Null),
        json!({"policyMigrationState": "migrationInProgress"}),
    );
    assert_eq!(
        telephony_view(&legacy).sms_or_voice_enabled,
        None,
        "legacy settings may still enable phones"
    );
}
