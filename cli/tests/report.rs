//! `autoenroll report` on a simulated tenant: every state and stuck reason in the JSON and CSV
//! against what the simulator holds, the retirement date moving users, masked numbers,
//! escaping in the HTML, the at-risk cap, and a refused permission stopping the run.

#[path = "support/coverage_tenant.rs"]
mod tenant;

use std::collections::BTreeMap;

use serde_json::Value;
use tenant::{EVIL_NAME, READER_ROLES, connect, report, upn};

/// (state, reason, breaksOn) per UPN, from the JSON report.
fn states(json: &Value) -> BTreeMap<String, (String, Option<String>, Option<String>)> {
    json["users"]
        .as_array()
        .expect("users array")
        .iter()
        .map(|u| {
            let s = |k: &str| u[k].as_str().map(str::to_owned);
            (
                s("userPrincipalName").unwrap_or_default(),
                (s("state").unwrap_or_default(), s("reason"), s("breaksOn")),
            )
        })
        .collect()
}

fn expect(
    state: &str,
    reason: Option<&str>,
    breaks: Option<&str>,
) -> (String, Option<String>, Option<String>) {
    (state.into(), reason.map(Into::into), breaks.map(Into::into))
}

#[tokio::test]
async fn report_classifies_every_user_and_writes_csv_json_html() {
    let connected = connect(READER_ROLES).await;
    let dir = tempfile::tempdir().unwrap();
    let run = report(&connected, dir.path(), "2026-12-06", 2000).await;
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(&run.files.json).unwrap()).unwrap();
    let got = states(&json);
    let want: BTreeMap<_, _> = [
        (upn("passkey.user"), expect("phishingResistant", None, None)),
        (upn("hello.user"), expect("phishingResistant", None, None)),
        (upn("app.user"), expect("otherMfa", None, None)),
        (
            upn("sms.only"),
            expect("smsVoiceOnly", None, Some("2027-02-01")),
        ),
        (
            upn("ga.sms"),
            expect("smsVoiceOnly", None, Some("2027-07-01")),
        ),
        (
            upn("helpdesk.admin"),
            expect("stuck", Some("notEnrolled"), None),
        ),
        (upn("no.number"), expect("stuck", Some("noNumber"), None)),
        (
            upn("landline"),
            expect("stuck", Some("notAMobileNumber"), None),
        ),
        (
            upn("placeholder"),
            expect("stuck", Some("invalidNumber:placeholder"), None),
        ),
        (
            format!("guest_fabrikam.com#EXT#@{}", tenant::DOMAIN),
            expect("stuck", Some("guest"), None),
        ),
        (upn("disabled"), expect("stuck", Some("disabled"), None)),
        (
            upn("breakglass"),
            expect("excluded", Some("excluded:upn"), None),
        ),
        (
            upn("evil"),
            expect("smsVoiceOnly", None, Some("2027-02-01")),
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want);

    // Against the simulator: the report's methods are the ones Graph holds for each user.
    let sim = connected.simulator().expect("simulated");
    for user in json["users"].as_array().unwrap() {
        let upn = user["userPrincipalName"].as_str().unwrap();
        let labels: Vec<&str> = user["methods"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let held = sim
            .control()
            .user(upn)
            .expect("user in the simulator")
            .to_string();
        let has_phone = held.contains("+31 6");
        if user["state"] != "excluded" {
            assert_eq!(
                labels.contains(&"phone (SMS/voice)"),
                has_phone,
                "{upn}: {labels:?} vs {held}"
            );
        }
    }

    let totals = &json["totals"];
    assert_eq!(totals["users"], 13);
    assert_eq!(totals["byState"]["stuck"], 6);
    assert_eq!(totals["byState"]["bootstrapPending"], 0);
    assert_eq!(totals["admins"], 3);
    assert_eq!(
        totals["adminsAtRisk"], 2,
        "ga.sms (July) and helpdesk.admin (stuck)"
    );
    assert_eq!(totals["breakingOn"]["2027-02-01"], 2);
    assert_eq!(totals["atRisk"], 9);
    assert!(
        json["readiness"]["checks"]
            .as_array()
            .is_some_and(|c| !c.is_empty())
    );

    let csv = std::fs::read_to_string(&run.files.csv).unwrap();
    assert_eq!(csv.lines().count(), 14, "header + 13 users");
    let ga = csv.lines().find(|l| l.starts_with(&upn("ga.sms"))).unwrap();
    assert!(
        ga.contains(",yes,yes,smsVoiceOnly,") && ga.contains("'+31 6******33"),
        "{ga}"
    );
    let html = std::fs::read_to_string(&run.files.html).unwrap();
    for text in [&csv, &json.to_string(), &html] {
        for digits in ["622222222", "633333333", "44444444", "666666666"] {
            assert!(
                !text.contains(digits),
                "unmasked number {digits} in a report"
            );
        }
    }
    assert!(!html.contains(EVIL_NAME) && html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(
        !html.contains("<script") && !html.contains("http://") && !html.contains("https://"),
        "self-contained, no script"
    );
    assert!(!html.contains("id=\"capped\""), "nothing left out");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary row file removed");
    connected.close().await;
}

#[tokio::test]
async fn on_the_retirement_day_phone_only_users_are_stuck_but_global_admins_have_until_july() {
    let connected = connect(READER_ROLES).await;
    let dir = tempfile::tempdir().unwrap();
    let run = report(&connected, dir.path(), "2027-02-01", 2000).await;
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(&run.files.json).unwrap()).unwrap();
    let got = states(&json);
    assert_eq!(
        got[&upn("sms.only")],
        expect("stuck", Some("phoneNotDelivered"), None)
    );
    assert_eq!(
        got[&upn("ga.sms")],
        expect("smsVoiceOnly", None, Some("2027-07-01"))
    );
    assert_eq!(
        got[&upn("helpdesk.admin")],
        expect("stuck", Some("notEnrolled"), None)
    );
    let row = json["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["userPrincipalName"] == upn("helpdesk.admin"))
        .unwrap();
    assert!(
        row["nextStep"]
            .as_str()
            .unwrap()
            .contains("Temporary Access Pass"),
        "{row}"
    );
    connected.close().await;
}

#[tokio::test]
async fn the_html_table_is_capped_admins_first_and_says_so() {
    let connected = connect(READER_ROLES).await;
    let dir = tempfile::tempdir().unwrap();
    let run = report(&connected, dir.path(), "2026-12-06", 1).await;
    let html = std::fs::read_to_string(&run.files.html).unwrap();
    assert!(
        html.contains("id=\"capped\">Showing 3 of 9 at-risk users"),
        "two admins + one other"
    );
    let table = html.split("id=\"at-risk\"").nth(1).unwrap();
    let first_rows: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("<tr class=\"risk"))
        .collect();
    assert_eq!(first_rows.len(), 3);
    assert!(
        first_rows[0].contains(&upn("ga.sms")),
        "Global Administrators first: {}",
        first_rows[0]
    );
    assert!(first_rows[1].contains(&upn("helpdesk.admin")));
    // The CSV still has everyone.
    assert_eq!(
        std::fs::read_to_string(&run.files.csv)
            .unwrap()
            .lines()
            .count(),
        14
    );
    connected.close().await;
}

#[tokio::test]
async fn without_the_methods_permission_the_report_stops_and_says_why() {
    let connected = connect(&["User.Read.All", "RoleManagement.Read.Directory"]).await;
    let dir = tempfile::tempdir().unwrap();
    let run = report(&connected, dir.path(), "2026-12-06", 10).await;
    let reason = run.aborted.expect("stopped");
    assert!(
        reason.contains("403") && reason.contains("doctor"),
        "{reason}"
    );
    connected.close().await;
}
