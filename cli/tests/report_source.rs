//! `autoenroll report`'s two method sources on the same simulated tenant: the registration
//! report (tenant licence P1, app holding AuditLog.Read.All) and per-user method reads (licence
//! Free → 403 `Authentication_RequestFromNonPremiumTenantOrB2CTenant`, or no AuditLog.Read.All).
//! Both must classify every user the same way; the call counts show one registration call per
//! page against one method read per user; every output says which source it used.

#[path = "support/coverage_tenant.rs"]
mod tenant;

use std::collections::BTreeMap;

use autoenroll_cli::tenant::Connected;
use serde_json::Value;
use tenant::{READER_ROLES, connect_with_taps as start, report, upn};

const REGISTRATION: &str = "GET /reports/authenticationMethods/userRegistrationDetails";
const METHODS: &str = "GET /users/{user}/authentication/methods";

/// (state, reason, breaksOn, second-factor methods) per UPN. The password is left out of the
/// methods: the per-user list always holds it and the registration report never names it.
type Verdicts = BTreeMap<String, (Value, Value, Value, Vec<String>)>;

fn verdicts(json: &Value) -> Verdicts {
    json["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| {
            let methods = u["methods"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter(|m| !m.contains("not MFA"))
                .map(str::to_owned)
                .collect();
            (
                u["userPrincipalName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                (
                    u["state"].clone(),
                    u["reason"].clone(),
                    u["breaksOn"].clone(),
                    methods,
                ),
            )
        })
        .collect()
}

fn method_sources(json: &Value) -> BTreeMap<String, String> {
    json["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["userPrincipalName"].as_str().unwrap().to_owned(),
                u["methodSource"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The detail of doctor's "registration report" row in the report's readiness section.
fn doctor_row(json: &Value) -> String {
    json["readiness"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "registration report")
        .and_then(|c| c["detail"].as_str())
        .expect("doctor's registration report row")
        .to_owned()
}

struct Outcome {
    json: Value,
    csv: String,
    html: String,
    registration_calls: u64,
    method_calls: u64,
}

async fn run(connected: &Connected) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let run = report(connected, dir.path(), "2026-12-06", 2000).await;
    // doctor's probe of the registration report (one call) is part of `report` above; count
    // only the report's own calls.
    let counters = connected.simulator().unwrap().control().counters();
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap();
    let json: Value = serde_json::from_str(&read(&run.files.json)).unwrap();
    Outcome {
        registration_calls: counters.calls(REGISTRATION) - 1,
        method_calls: counters.calls(METHODS),
        csv: read(&run.files.csv),
        html: read(&run.files.html),
        json,
    }
}

/// The report's reader roles, TAP creation for the setup, and optionally AuditLog.Read.All.
fn roles(audit_log: bool) -> Vec<&'static str> {
    let mut all: Vec<&'static str> = READER_ROLES.to_vec();
    all.push("UserAuthenticationMethod.ReadWrite.All");
    if audit_log {
        all.push("AuditLog.Read.All");
    }
    all
}

#[tokio::test]
async fn both_sources_classify_every_user_alike_and_say_which_they_used() {
    let premium = start("P1", &roles(true)).await;
    let free = start("Free", &roles(true)).await;
    let by_report = run(&premium).await;
    let per_user = run(&free).await;

    // Same tenant state, same verdict for every user.
    let a = verdicts(&by_report.json);
    let b = verdicts(&per_user.json);
    assert_eq!(a.len(), 15);
    assert_eq!(a, b);
    assert_eq!(a[&upn("tap.live")].0, "bootstrapPending");
    assert_eq!(a[&upn("tap.expired")].0, "stuck");
    assert_eq!(a[&upn("tap.expired")].1, "bootstrapExpired");
    assert_eq!(a[&upn("sms.only")].0, "smsVoiceOnly");
    assert_eq!(a[&upn("disabled")].1, "disabled");

    // P1: the whole tenant in one registration page; method lists only for the user the report
    // does not list (disabled) and the two whose TAP decides their state.
    assert_eq!(by_report.json["source"]["kind"], "registrationReport");
    assert_eq!(by_report.json["source"]["registrationPages"], 1);
    assert_eq!(by_report.registration_calls, 1);
    assert_eq!(by_report.method_calls, 3);
    let sources = method_sources(&by_report.json);
    for local in ["disabled", "tap.live", "tap.expired"] {
        assert_eq!(sources[&upn(local)], "methodList", "{local}");
    }
    for local in ["passkey.user", "sms.only", "no.number", "helpdesk.admin"] {
        assert_eq!(sources[&upn(local)], "registrationReport", "{local}");
    }
    assert_eq!(sources[&upn("breakglass")], "none", "excluded: not read");

    // Free: Graph's 403 (one call), then one method read per user not excluded.
    assert_eq!(per_user.json["source"]["kind"], "perUserMethods");
    assert_eq!(per_user.json["source"]["fallback"], "notPremium");
    assert_eq!(per_user.registration_calls, 1);
    assert_eq!(per_user.method_calls, 14);
    assert!(
        method_sources(&per_user.json)
            .values()
            .all(|s| s == "methodList" || s == "none")
    );

    // Every output says which source it used.
    assert!(
        by_report
            .html
            .contains("id=\"data-source\">Data: registration report")
    );
    assert!(
        per_user
            .html
            .contains("id=\"data-source\">Data: per-user method reads")
            && per_user.html.contains("no Entra ID P1/P2 licence"),
    );
    assert!(
        by_report
            .csv
            .lines()
            .next()
            .unwrap()
            .contains("methodSource")
    );
    let sms_line = |csv: &str| {
        csv.lines()
            .find(|l| l.starts_with(&upn("sms.only")))
            .unwrap()
            .to_owned()
    };
    assert!(sms_line(&by_report.csv).contains(",registrationReport,"));
    assert!(sms_line(&per_user.csv).contains(",methodList,"));
    // The registration report has no numbers: the directory mobile stands in, masked.
    assert!(sms_line(&by_report.csv).contains("'+31 6******22"));
    // doctor's row says the same.
    assert!(doctor_row(&by_report.json).contains("readable"));
    assert!(doctor_row(&per_user.json).contains("no Entra ID P1/P2"));
    premium.close().await;
    free.close().await;
}

#[tokio::test]
async fn without_audit_log_read_all_a_premium_tenant_falls_back_and_says_why() {
    let connected = start("P2", &roles(false)).await;
    let got = run(&connected).await;
    assert_eq!(got.json["source"]["kind"], "perUserMethods");
    assert_eq!(got.json["source"]["fallback"], "noPermission");
    assert_eq!(got.method_calls, 14);
    assert!(got.html.contains("AuditLog.Read.All"));
    let row = doctor_row(&got.json);
    assert!(row.contains("grant AuditLog.Read.All"), "{row}");
    connected.close().await;
}
