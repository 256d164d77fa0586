//! `plan` / `apply` with the TAP bootstrap on (issue 15), wired as the enroll function wires it
//! (`RunStores` with a table: SES / SNS on moto, open bootstraps in DynamoDB), on the Graph
//! simulator after the SMS/voice retirement with no telecom provider:
//! - `plan` shows the pass for the one new hire in scope, its recipient masked;
//! - `apply` issues and delivers exactly one pass (one e-mail, one live pass, one open
//!   bootstrap marked delivered) and no report row holds the pass;
//! - the binary refuses a policy with bootstrap on and no `--table`, naming what is missing.

use std::collections::BTreeSet;

use assert_cmd::Command;
use autoenroll_aws::{config, delivery, dynamo};
use autoenroll_cli::backfill::{BackfillOptions, BackfillRun, Mode, StopFlag, run};
use autoenroll_cli::report::{Decision, UserRow};
use autoenroll_cli::stores::{LocalFiles, RunStores, TableStores};
use autoenroll_cli::tenant::{Connected, start_simulated};
use autoenroll_core::bootstrap::BootstrapStore;
use autoenroll_core::policy::{BootstrapDelivery, BootstrapPolicy, Policy};
use graph_sim::{Seed, SimOptions};
use serde_json::{Value, json};
use time::{Date, Month};

const MANAGER: &str = "megan.bowen@contoso.com";

fn moto() -> String {
    std::env::var("AUTOENROLL_TEST_MOTO_ENDPOINT")
        .ok()
        .filter(|e| !e.trim().is_empty())
        .expect("AUTOENROLL_TEST_MOTO_ENDPOINT: this test sends through SES on moto (./test.sh starts it)")
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

/// Bodies of the e-mails moto's SES took from `sender`.
async fn sent_from(endpoint: &str, sender: &str) -> Vec<String> {
    let data: Value = reqwest::get(format!("{endpoint}/moto-api/data.json"))
        .await
        .expect("moto's data")
        .json()
        .await
        .expect("moto's data is JSON");
    let messages = data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    messages
        .iter()
        .filter(|m| m["source"].as_str().is_some_and(|s| s.contains(sender)))
        .filter_map(|m| m["body"].as_str().map(str::to_owned))
        .collect()
}

/// Manager e-mail, from a sender unique to this run; every seeded user excluded so the one
/// new hire is the only user a pass can go to.
fn policy(sender: &str) -> Policy {
    let excluded: BTreeSet<String> = Seed::contoso()
        .users
        .iter()
        .filter_map(|u| u.properties.get("userPrincipalName")?.as_str())
        .map(str::to_lowercase)
        .collect();
    Policy {
        default_region: Some("NL".parse().expect("region")),
        excluded_upns: excluded,
        bootstrap: BootstrapPolicy {
            delivery: Some(BootstrapDelivery::ManagerEmail),
            email_from: Some(sender.to_owned()),
            ..BootstrapPolicy::default()
        },
        ..Policy::default()
    }
}

/// One `plan` / `apply` as the binary runs it with `--table`.
async fn backfill(
    mode: Mode,
    connected: &Connected,
    policy: &Policy,
    table: TableStores,
    out: &std::path::Path,
) -> BackfillRun {
    assert!(table.bootstrap.is_some(), "the policy turns bootstrap on");
    let files = LocalFiles {
        state_file: &out.join("memory.json"),
        out,
    };
    let stores = RunStores::open(mode, policy, Some(table), files, true)
        .await
        .expect("stores");
    let enroller = stores.enroller(connected, policy.clone());
    let options = BackfillOptions {
        mode,
        only_admins: false,
        concurrency: 4,
        progress: false,
    };
    run(&enroller, &options, &StopFlag::default())
        .await
        .expect("the run")
}

fn row_of<'a>(run: &'a BackfillRun, user: &str) -> &'a UserRow {
    let mut rows = run.rows.iter().filter(|r| r.user_id == user);
    rows.next().expect("the user has a row")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_shows_the_pass_masked_and_apply_delivers_exactly_one() {
    let endpoint = moto();
    let aws = config::for_moto(&endpoint).await;
    let sender = format!("it{}@autoenroll.example", nanos());
    // SES sends only from a verified identity (moto verifies at once).
    let ses = config::sesv2_client(&aws);
    let verify = ses.create_email_identity().email_identity(&sender);
    verify.send().await.expect("CreateEmailIdentity");
    let table = format!("cli-tap-{}", nanos());
    dynamo::ensure_table(&config::dynamodb_client(&aws), &table)
        .await
        .expect("table");

    let options = SimOptions {
        rng_seed: Some(15),
        ..SimOptions::default()
    };
    let connected = start_simulated(Seed::contoso(), "test", 4, options)
        .await
        .expect("simulator");
    let sim = connected.simulator().expect("simulated");
    let after_retirement = Date::from_calendar_date(2027, Month::March, 1)
        .and_then(|d| d.with_hms(8, 0, 0))
        .expect("date")
        .assume_utc();
    sim.control().advance_clock_to(after_retirement);
    let hire = sim
        .control()
        .create_user(json!({
            "userPrincipalName": "cli.tap.hire@contoso.com",
            "displayName": "CLI TAP hire",
            "mobilePhone": "+31 6 44440021",
            "accountEnabled": true,
            "userType": "Member",
        }))
        .expect("hire");
    sim.control()
        .set_manager(&hire, Some(MANAGER))
        .expect("manager");
    let policy = policy(&sender);
    let out = tempfile::tempdir().expect("temp dir");
    // What the binary builds from `--table` (main.rs), once per run.
    let table_stores = || {
        let store = dynamo::DynamoStore::new(config::dynamodb_client(&aws), table.clone());
        TableStores {
            bootstrap: delivery::bootstrap_for(&policy, &aws, store.clone()),
            store,
        }
    };

    let plan = backfill(Mode::Plan, &connected, &policy, table_stores(), out.path()).await;
    let row = row_of(&plan, &hire);
    assert_eq!(row.decision, Decision::WouldEnroll, "{row:?}");
    assert!(
        row.actions.iter().any(|a| a.starts_with("issueTap:")),
        "{row:?}"
    );
    assert!(
        row.masked_number.ends_with("@contoso.com")
            && row.masked_number.contains('*')
            && !row.masked_number.contains("megan"),
        "the manager's address, masked: {row:?}"
    );
    let passes: usize = plan
        .rows
        .iter()
        .filter(|r| r.actions.iter().any(|a| a.starts_with("issueTap:")))
        .count();
    assert_eq!(passes, 1, "only the new hire is in scope");
    assert!(
        sent_from(&endpoint, &sender).await.is_empty(),
        "plan sends nothing"
    );

    let apply = backfill(Mode::Apply, &connected, &policy, table_stores(), out.path()).await;
    let row = row_of(&apply, &hire);
    assert_eq!(row.decision, Decision::Enrolled, "{row:?}");
    assert!(
        !row.reasons.iter().any(|r| r == "phoneNotDelivered"),
        "{row:?}"
    );
    let mails = sent_from(&endpoint, &sender).await;
    assert_eq!(
        mails.len(),
        1,
        "exactly one pass delivered: {}",
        mails.len()
    );
    let pass = mails[0]
        .split_once("Temporary Access Pass:")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .expect("the e-mail holds the pass")
        .to_owned();
    assert!(pass.len() >= 8);
    let store = dynamo::DynamoStore::new(config::dynamodb_client(&aws), table.clone());
    let open = store
        .get(&connected.tenant_id, &hire)
        .await
        .expect("store read")
        .expect("an open bootstrap in the table");
    assert!(open.delivered, "{open:?}");
    assert_eq!(open.issue_count, 1, "{open:?}");
    let rows = format!("{:?}{:?}{open:?}", plan.rows, apply.rows);
    assert!(
        !rows.contains(&pass),
        "no pass value in a report row or the store"
    );
    let live = connected
        .graph
        .tap(&hire)
        .list()
        .await
        .expect("the hire's passes")
        .into_iter()
        .filter(|t| t.is_usable != Some(false))
        .count();
    assert_eq!(live, 1, "one live pass in Graph");
    connected.close().await;
}

#[test]
fn bootstrap_on_without_a_table_refuses_to_start_and_names_what_is_missing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let policy = dir.path().join("autoenroll.toml");
    std::fs::write(
        &policy,
        "default_region = \"NL\"\nbootstrap_delivery = \"manager-email\"\n\
         bootstrap_email_from = \"it@contoso.example\"\n",
    )
    .expect("policy file");
    for command in ["plan", "apply"] {
        // Nothing from the environment: no AWS configuration, no tenant, no RUST_LOG.
        let out = Command::cargo_bin("autoenroll")
            .expect("the autoenroll binary is built")
            .env_clear()
            .current_dir(dir.path())
            .args([command, "--no-progress", "--config"])
            .arg(&policy)
            .assert()
            .code(2)
            .get_output()
            .clone();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("TAP bootstrap on") && stderr.contains("--table"),
            "{command}: {stderr}"
        );
        assert!(
            !dir.path()
                .join("autoenroll-reports")
                .join("audit.jsonl")
                .exists(),
            "{command} did nothing"
        );
    }
}
