//! Secrets and personal data (issue 9, item 4), on the project's main job: the CLI's local
//! stack (`autoenroll local`: the generated demo tenant with numbers from nine countries in
//! every layout AD allows, placeholders, extensions, own phones, break-glass accounts) runs its
//! backfill and scenario (new hires, number changes, a dropped notification) with every crate
//! logging at DEBUG. Then the logs, the progress lines an operator reads, and the audit trail
//! are scanned with `logscan::assert_no_secrets` for phone numbers, tokens, the app secret and
//! the clientState.

use std::sync::Mutex;
use std::time::Duration;

use autoenroll_cli::local::demo;
use autoenroll_cli::local::scenario::{self, Progress, ScenarioOptions};
use autoenroll_cli::local::stack::{CLIENT_STATE_SECRET, LocalStack, StackOptions};
use autoenroll_core::policy::Policy;
use autoenroll_core::ports::SecretSource;
use autoenroll_e2e::logscan::{LogCapture, assert_no_secrets};

/// The operator's progress lines (`autoenroll local` prints them on stderr).
#[derive(Default)]
struct Steps(Mutex<Vec<String>>);

impl Progress for Steps {
    fn step(&self, message: &str) {
        self.0.lock().expect("steps").push(message.to_owned());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_job_logged_at_debug_shows_no_number_token_secret_or_client_state() {
    let logs = LogCapture::global("debug,graph_sim=off");
    let policy = Policy::from_toml_str(&demo::policy_toml()).expect("demo policy");
    let stack = LocalStack::start(
        demo::tenant(80),
        "demo tenant",
        policy,
        &StackOptions::default(),
    )
    .await
    .expect("local stack starts");
    let token = stack.connected.graph.access_token().await.expect("token");
    let client_state = stack
        .secrets
        .get_secret(CLIENT_STATE_SECRET)
        .await
        .expect("clientState")
        .current;

    let steps = Steps::default();
    let users = scenario::backfill(&stack, Duration::from_secs(45), &steps)
        .await
        .expect("backfill");
    let events = scenario::play(&stack, &ScenarioOptions::for_tenant(users), &steps)
        .await
        .expect("scenario");
    assert!(
        scenario::quiesce(&stack, Duration::from_secs(20)).await,
        "the local stack did not settle"
    );
    let audit = stack.audit.records();
    assert!(
        !events.is_empty() && audit.len() >= users,
        "the job did its work"
    );
    assert!(audit.iter().any(|r| r.masked_number.is_some()));
    stack.shutdown().await;

    let mut text = logs.text();
    assert!(
        text.contains(r#""level":"DEBUG""#),
        "nothing logged at DEBUG"
    );
    let log_lines = text.lines().count();
    for line in steps.0.lock().expect("steps").iter() {
        text.push_str(line);
        text.push('\n');
    }
    for record in &audit {
        text.push_str(&serde_json::to_string(record).expect("audit record serializes"));
        text.push('\n');
    }
    println!(
        "local job: {users} users, {} scenario events; scanned {log_lines} log lines, the \
         progress lines and {} audit records",
        events.len(),
        audit.len()
    );
    assert_no_secrets(&text, &[demo::APP_SECRET, &client_state, token.expose()]);
}
