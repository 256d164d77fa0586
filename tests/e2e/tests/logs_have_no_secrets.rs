//! Secrets and personal data (issue 9, item 4): a representative run of the whole pipeline with
//! every crate logging at DEBUG — the simulator's token endpoint (client-secret grant), the
//! subscription handshake through the webhook's local front, notifications → webhook → SQS FIFO
//! on moto → enroll workers → Graph writes, Graph faults and retries, invalid and odd numbers,
//! a number change, a reconcile sweep, forged and hostile webhook requests — then every log
//! line, every EMF metric document and every audit record (what operators read) is scanned
//! with `logscan::assert_no_secrets`: no phone number, no access token, no client secret, no
//! clientState.
//!
//! The capture is process-wide (all threads, all crates at DEBUG); only the simulator's own
//! logs are left out — it is Microsoft Graph, not our code, and knows every number by design.

use std::time::Duration;

use autoenroll_core::ports::SecretSource;
use autoenroll_e2e::logscan::{LeakKind, LogCapture, assert_no_secrets, find_leaks};
use autoenroll_e2e::{APP_SECRET, CLIENT_STATE_SECRET, QueueKind, Stack, StackOptions, TENANT};
use graph_sim::{FaultKind, FaultRule};
use lambda_http::http::Method;
use serde_json::json;

/// Numbers the run writes to the directory (as HR / AD would), in the layouts they come in.
const NUMBERS: &[(&str, &str)] = &[
    ("log.nl@contoso.com", "06-21436587"),
    ("log.intl@contoso.com", "+31 6 8765 4321"),
    ("log.de@contoso.com", "+49 (0)171 2345678"),
    ("log.us.ext@contoso.com", "+1 (206) 555-0142 x77"),
    ("log.plain@contoso.com", "0031622334455"),
    ("log.invalid@contoso.com", "06-1234"),
    ("log.placeholder@contoso.com", "n/a"),
];
const CHANGED_NUMBER: &str = "06 45678123";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_run_logged_at_debug_shows_no_number_token_secret_or_client_state() {
    let logs = LogCapture::global("debug,graph_sim=off");

    let stack = Stack::start(StackOptions::new(QueueKind::moto_from_env()))
        .await
        .expect("stack starts");
    let control = stack.sim.control();
    let token = stack.graph.access_token().await.expect("token");
    let client_state = stack
        .secrets
        .get_secret(CLIENT_STATE_SECRET)
        .await
        .expect("clientState")
        .current;

    stack
        .subscribe()
        .await
        .expect("subscription (validation handshake)");
    // Backfill of the Contoso seed (numbers in many layouts, exclusions, own phones).
    stack.reconcile().await.expect("first sweep");
    stack.drain(100).await.expect("backfill drained");

    // Graph misbehaves once on each write route, so retries and their errors are logged.
    control.add_fault(
        FaultRule::new(
            "POST /users/{user}/authentication/phoneMethods",
            FaultKind::Status { status: 503 },
        )
        .times(1),
    );
    control.add_fault(FaultRule::new("*", FaultKind::Throttle).times(2));
    control.add_fault(
        FaultRule::new(
            "PATCH /users/{user}/authentication/signInPreferences",
            FaultKind::Status { status: 500 },
        )
        .times(1),
    );

    let mut ids = Vec::new();
    for (upn, mobile) in NUMBERS {
        let id = control
            .create_user(json!({
                "userPrincipalName": upn,
                "displayName": upn,
                "mobilePhone": mobile,
                "businessPhones": ["+31 20 123 4567"],
                "accountEnabled": true,
                "userType": "Member",
            }))
            .expect("user created");
        ids.push(id);
    }
    stack.settle().await.expect("new users settled");
    control
        .update_user(&ids[0], json!({ "mobilePhone": CHANGED_NUMBER }))
        .expect("number changed");
    stack.settle().await.expect("number change settled");
    stack.reconcile().await.expect("second sweep");
    stack.drain(100).await.expect("drained");

    // Hostile requests straight to the handler the front runs: a forged clientState, the
    // right clientState for another tenant, a validation token full of markup and a number.
    let forged = json!({"value": [{
        "changeType": "updated",
        "clientState": "forged-client-state-0123456789",
        "resource": format!("Users/{}", ids[1]),
        "subscriptionExpirationDateTime": "2030-01-01T00:00:00Z",
        "subscriptionId": "0e3f2a33-3c1f-4a8c-9a4b-1f5a7d2c9b10",
        "tenantId": TENANT,
    }, {
        "changeType": "updated",
        "clientState": client_state,
        "resource": format!("Users/{}", ids[1]),
        "subscriptionExpirationDateTime": "2030-01-01T00:00:00Z",
        "subscriptionId": "0e3f2a33-3c1f-4a8c-9a4b-1f5a7d2c9b10",
        "tenantId": "11111111-2222-4333-8444-555555555555",
    }]})
    .to_string();
    let reply = stack
        .webhook
        .handle_bytes(
            &Method::POST,
            None,
            Some("application/json"),
            forged.as_bytes(),
        )
        .await;
    assert_eq!(reply.status, 401, "forged notifications are refused");
    let malformed =
        format!(r#"{{"value":[{{"clientState":"{client_state}","mobilePhone":"+31612345678""#);
    let reply = stack
        .webhook
        .handle_bytes(
            &Method::POST,
            None,
            Some("application/json"),
            malformed.as_bytes(),
        )
        .await;
    assert_eq!(reply.status, 400, "a malformed body is refused");
    let reply = stack
        .webhook
        .handle_bytes(
            &Method::POST,
            Some("validationToken=%3Cscript%3E%0D%0A%2B31612345678"),
            None,
            b"",
        )
        .await;
    assert_ne!(reply.status, 202);

    // The pipeline really ran (so the scan is not of an empty log).
    assert_eq!(stack.mobile(&ids[0]).as_deref(), Some("+31 645678123"));
    assert_eq!(stack.mobile(&ids[1]).as_deref(), Some("+31 687654321"));
    assert_eq!(
        stack.mfa_state(&ids[5]),
        "disabled",
        "invalid number: skipped"
    );
    assert!(
        control.counters().faults_injected >= 3,
        "faults were injected"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;

    let mut text = logs.text();
    let log_lines = text.lines().count();
    assert!(
        text.contains(r#""level":"DEBUG""#),
        "nothing was logged at DEBUG"
    );
    for target in [
        "autoenroll_webhook",
        "autoenroll_enroll",
        "autoenroll_graph",
    ] {
        assert!(text.contains(target), "nothing logged by {target}");
    }
    // Metrics are log lines too (EMF on stdout), and the audit trail is what operators read.
    for document in stack
        .enroll_metrics
        .documents()
        .into_iter()
        .chain(stack.webhook_metrics.documents())
    {
        text.push_str(&document.to_string());
        text.push('\n');
    }
    let audit = stack.audit.records();
    assert!(audit.iter().any(|r| r.masked_number.is_some()));
    for record in &audit {
        text.push_str(&serde_json::to_string(record).expect("audit record serializes"));
        text.push('\n');
    }
    let secrets = [APP_SECRET, client_state.as_str(), token.expose()];
    let leaks = find_leaks(&text, &secrets);
    println!(
        "scanned {log_lines} log lines at DEBUG, {} metric documents, {} audit records: {} leak(s)",
        stack.enroll_metrics.documents().len() + stack.webhook_metrics.documents().len(),
        audit.len(),
        leaks.len()
    );
    stack.shutdown().await;
    assert_no_secrets(&text, &secrets);

    // Control: a number logged by a task on another thread is seen, so the capture is not
    // blind to what the workers log.
    tokio::spawn(async {
        tracing::debug!(target: "autoenroll_enroll", planted = "+31 6 1111 2222", "control");
    })
    .await
    .expect("control task");
    assert!(
        find_leaks(&logs.text(), &[])
            .iter()
            .any(|l| l.kind == LeakKind::InternationalNumber),
        "the capture missed a number logged on a worker thread"
    );
}
