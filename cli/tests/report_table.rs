//! `autoenroll report --table`: autoenroll's own memory and audit (DynamoDB, on moto) beside
//! Graph's state — per user whether autoenroll registered the phone and its last outcome, in
//! the JSON, the CSV and the HTML's at-risk table; a table that cannot be read stops the run
//! before any user is read.

#[path = "support/coverage_tenant.rs"]
mod tenant;

use autoenroll_aws::dynamo::{DynamoStore, ensure_table};
use autoenroll_cli::coverage::own::{self, TableRecords};
use autoenroll_core::bootstrap::{BootstrapStore, OpenBootstrap};
use autoenroll_core::delivery::Channel;
use autoenroll_core::failure::Disposition;
use autoenroll_core::ports::{AuditOutcome, AuditRecord, AuditSink, ManagedPhone, MemoryStore};
use autoenroll_graph::model::PhoneType;
use serde_json::Value;
use tenant::{READER_ROLES, connect, report_with, upn};

fn moto_endpoint() -> String {
    match std::env::var("AUTOENROLL_TEST_MOTO_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => endpoint,
        _ => panic!(
            "AUTOENROLL_TEST_MOTO_ENDPOINT is not set: this test needs moto. Run it with \
             ./test.sh (it installs and starts moto), or start `moto_server -H 127.0.0.1 -p \
             PORT` and export AUTOENROLL_TEST_MOTO_ENDPOINT=http://127.0.0.1:PORT"
        ),
    }
}

/// The store on moto; `create`: make the table first.
async fn store(table: &str, create: bool) -> DynamoStore {
    let config = autoenroll_aws::config::for_moto(&moto_endpoint()).await;
    let client = autoenroll_aws::config::dynamodb_client(&config);
    if create {
        ensure_table(&client, table).await.expect("table");
    }
    DynamoStore::new(client, table)
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

fn audit(user_id: &str, at: &str, outcome: AuditOutcome, reasons: &[&str]) -> AuditRecord {
    AuditRecord {
        user_id: user_id.to_owned(),
        user_principal_name: None,
        at: at.to_owned(),
        outcome,
        actions: vec![],
        reasons: reasons.iter().map(|r| (*r).to_owned()).collect(),
        masked_number: None,
        trigger: None,
    }
}

/// One CSV line's cells (RFC 4180 quoting; the report writes no line breaks inside cells).
fn cells(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                out.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(String::new()),
            (c, _) => out.last_mut().unwrap().push(c),
        }
    }
    out
}

fn user<'a>(json: &'a Value, local: &str) -> &'a Value {
    json["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["userPrincipalName"] == upn(local))
        .unwrap_or_else(|| panic!("{local} in the report"))
}

#[tokio::test]
async fn the_report_shows_what_autoenroll_did_per_user() {
    let connected = connect(READER_ROLES).await;
    let sim = connected.simulator().expect("simulated");
    let id = |local: &str| {
        sim.control().user(&upn(local)).expect("user")["properties"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let table = unique("report-table");
    let store = store(&table, true).await;
    MemoryStore::put(
        &store,
        ManagedPhone {
            user_id: id("sms.only"),
            number_hash: "ab".repeat(32),
            last_two: "22".into(),
            phone_type: PhoneType::Mobile,
            registered_at: "2026-11-30T08:00:00Z".into(),
            version: 1,
            pending: None,
        },
        None,
    )
    .await
    .expect("memory written");
    let helpdesk = id("helpdesk.admin");
    for record in [
        audit(&helpdesk, "2026-12-01T09:00:00Z", AuditOutcome::Done, &[]),
        audit(
            &helpdesk,
            "2026-12-04T10:30:00Z",
            AuditOutcome::Failed(Disposition::Permanent),
            &["phoneRejected"],
        ),
    ] {
        store.record(record).await.expect("audit written");
    }
    // An open bootstrap whose pass could not be delivered, for the user without a number.
    let issued = time::macros::datetime!(2026-12-05 08:00 UTC);
    BootstrapStore::put(
        &store,
        &OpenBootstrap {
            tenant_id: connected.tenant_id.clone(),
            user_id: id("no.number"),
            tap_method_id: "tap-method-1".into(),
            issued_at: issued,
            valid_from: issued,
            valid_until: issued + time::Duration::hours(8),
            issue_count: 2,
            channel: Channel::ManagerEmail,
            delivered: false,
        },
        None,
    )
    .await
    .expect("bootstrap written");
    let records = TableRecords {
        store,
        tenant_id: connected.tenant_id.clone(),
    };
    own::probe(&records, &table).await.expect("table readable");

    let dir = tempfile::tempdir().unwrap();
    let run = report_with(&connected, dir.path(), "2026-12-06", 2000, Some(&records)).await;
    connected.close().await;
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(&run.files.json).unwrap()).unwrap();

    let sms = &user(&json, "sms.only")["autoenroll"];
    assert_eq!(sms["managedPhone"], true, "{sms}");
    assert_eq!(sms["managedPhoneLastTwo"], "22");
    assert!(sms.get("lastOutcome").is_none(), "{sms}");
    let hd = &user(&json, "helpdesk.admin")["autoenroll"];
    assert_eq!(hd["managedPhone"], false, "{hd}");
    assert_eq!(hd["lastOutcome"], "failedPermanent", "the newest record");
    assert_eq!(hd["lastOutcomeAt"], "2026-12-04T10:30:00Z");
    assert_eq!(hd["lastReasons"][0], "phoneRejected");
    assert_eq!(
        user(&json, "no.number")["autoenroll"]["managedPhone"],
        false
    );

    let csv = std::fs::read_to_string(&run.files.csv).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let line = |local: &str| -> Vec<String> {
        cells(csv.lines().find(|l| l.starts_with(&upn(local))).unwrap())
    };
    assert_eq!(line("sms.only")[col("managedPhone")], "yes");
    assert_eq!(
        line("helpdesk.admin")[col("lastOutcome")],
        "failedPermanent"
    );
    assert_eq!(
        line("helpdesk.admin")[col("lastOutcomeAt")],
        "2026-12-04T10:30:00Z"
    );
    assert!(
        line("no.number")[col("openBootstrap")]
            .starts_with("pass 2 via manager-email, NOT delivered"),
        "{:?}",
        line("no.number")
    );

    let html = std::fs::read_to_string(&run.files.html).unwrap();
    assert!(html.contains("<th>autoenroll (--table)</th>"));
    assert!(
        html.contains(
            "no managed phone · last: failedPermanent (phoneRejected) 2026-12-04T10:30:00Z"
        ),
        "the helpdesk admin's at-risk row says what autoenroll did"
    );
    assert!(html.contains("id=\"headline-open-bootstraps\""));
    assert!(html.contains("bootstrap open: pass 2 via manager-email, NOT delivered"));
}

#[tokio::test]
async fn a_table_that_cannot_be_read_stops_before_any_user() {
    let name = unique("no-such-table");
    let records = TableRecords {
        store: store(&name, false).await,
        tenant_id: "3c1f0a52-7d2e-4b8a-9f10-2a3b4c5d6e7f".into(),
    };
    let err = own::probe(&records, &name)
        .await
        .expect_err("a missing table is refused");
    assert!(err.to_string().contains(&name), "{err}");
}
