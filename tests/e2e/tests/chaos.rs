//! Chaos end to end (issue 9, items 1 and 4): users created and numbers changed while Graph
//! throttles, fails and times out, notifications are duplicated, dropped and reordered, and
//! enroll invocations crash part-way. After the queue drains and reconcile has run, the
//! tenant must be exactly right, and nothing personal or secret may be in the logs.
//!
//! `chaos_ci_sized` (200 users, 50 number changes) runs in the test command;
//! `chaos_full_size` (2,000 users, 500 changes, Retry-After honoured) is the larger run:
//! `cargo test -p autoenroll-e2e --test chaos -- --ignored --nocapture`. Both print figures.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use autoenroll_core::ports::SecretSource;
use autoenroll_e2e::{APP_SECRET, QueueKind, Stack, StackOptions, StackQueue};
use graph_sim::{ChangeKind, FaultKind, FaultRule, NotificationOptions};
use serde_json::{Value, json};

#[path = "chaos/passkey_era.rs"]
mod passkey_era;

struct Size {
    users: usize,
    changes: usize,
    retry_after_secs: u32,
    workers: usize,
}

/// What a created user is, and so what must hold for them at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cohort {
    /// A valid mobile number: phone and MFA (SMS default only where it takes effect; with
    /// system-preferred MFA on, as here, it is not written).
    Eligible,
    /// `mobilePhone` empty: skipped, MFA stays off, nothing written.
    NoNumber,
    /// `mobilePhone` is "n/a": the same.
    Invalid,
    /// Registered a phone of their own first: it stays as it is.
    SelfRegistered,
    /// A service account in the policy's exclusions: never written to.
    Excluded,
}

fn cohort(i: usize) -> Cohort {
    match i % 20 {
        0 => Cohort::NoNumber,
        1 => Cohort::Invalid,
        2 => Cohort::SelfRegistered,
        3 => Cohort::Excluded,
        _ => Cohort::Eligible,
    }
}

fn upn(i: usize) -> String {
    match cohort(i) {
        Cohort::Excluded => format!("svc.chaos{i:05}@contoso.com"),
        _ => format!("chaos.user{i:05}@contoso.com"),
    }
}

/// Graph form of the number a user starts with / changes to (Dutch mobile ranges).
fn first_number(i: usize) -> String {
    format!("+31 61{i:07}")
}
fn changed_number(i: usize) -> String {
    format!("+31 62{i:07}")
}
fn own_number(i: usize) -> String {
    format!("+31 64{i:07}")
}
/// As the directory writes it: national format with a space.
fn directory_form(graph: &str) -> String {
    format!("0{}", graph.trim_start_matches("+31 "))
}

/// A writer shared with the tracing subscriber: every log line of the run.
#[derive(Clone, Default)]
struct LogBuffer(Arc<parking_lot::Mutex<Vec<u8>>>);

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock()).into_owned()
    }
}

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn faults(size: &Size) -> Vec<FaultRule> {
    let with_retry_after = |mut rule: FaultRule| {
        rule.retry_after_secs = Some(size.retry_after_secs);
        rule
    };
    vec![
        with_retry_after(FaultRule::new("*", FaultKind::Throttle).rate(0.20)),
        FaultRule::new("*", FaultKind::Status { status: 500 }).rate(0.025),
        with_retry_after(FaultRule::new("*", FaultKind::Status { status: 503 }).rate(0.025)),
        // The client gives up after 250 ms; half the silent calls did their write first.
        FaultRule::new(
            "*",
            FaultKind::Timeout {
                hold_ms: 400,
                apply_first: false,
            },
        )
        .rate(0.01),
        FaultRule::new(
            "*",
            FaultKind::Timeout {
                hold_ms: 400,
                apply_first: true,
            },
        )
        .rate(0.01),
    ]
}

async fn run_chaos(size: Size) {
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(logs.clone())
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "autoenroll_graph=debug,autoenroll_core=debug,autoenroll_aws=debug,\
             autoenroll_enroll=debug,autoenroll_webhook=debug,autoenroll_reconcile=debug,\
             autoenroll_subscriptions=debug",
        ))
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);
    let started = Instant::now();

    let mut options = StackOptions::new(QueueKind::InMemory);
    options.workers = size.workers;
    options.crash_rate = 0.05;
    options.request_timeout = Duration::from_millis(250);
    options.rng_seed = 20_260_301;
    for i in (0..size.users).filter(|i| cohort(*i) == Cohort::Excluded) {
        options.policy.excluded_upns.insert(upn(i));
    }
    let stack = Stack::start(options).await.unwrap();
    stack.subscribe().await.unwrap();
    // The first sweep (backfill of the seed's users) stores the delta link.
    stack.reconcile().await.unwrap();
    stack.drain(500).await.unwrap();

    let control = stack.sim.control();
    control
        .set_notification_options(NotificationOptions {
            duplicate_rate: 0.10,
            drop_rate: 0.10,
            reorder: true,
            jitter_ms: 200,
            ..NotificationOptions::default()
        })
        .unwrap();
    control.set_faults(faults(&size));
    control.reset_counters();
    let baseline_changes = control.changes_since(0).last().map_or(0, |c| c.seq);

    // Users arrive from HR / AD sync.
    let mut ids = Vec::with_capacity(size.users);
    for i in 0..size.users {
        let mobile = match cohort(i) {
            Cohort::NoNumber => Value::Null,
            Cohort::Invalid => json!("n/a"),
            Cohort::SelfRegistered => json!(directory_form(&format!("+31 63{i:07}"))),
            Cohort::Eligible | Cohort::Excluded => json!(directory_form(&first_number(i))),
        };
        let id = control
            .create_user(json!({
                "userPrincipalName": upn(i),
                "displayName": format!("Chaos User {i}"),
                "mobilePhone": mobile,
                "accountEnabled": true,
                "userType": "Member",
            }))
            .unwrap();
        if cohort(i) == Cohort::SelfRegistered {
            control
                .register_method(
                    &id,
                    json!({"phoneType": "mobile", "phoneNumber": own_number(i)}),
                )
                .unwrap();
        }
        ids.push(id);
    }
    stack.settle().await.unwrap();

    // Mobile numbers change in AD for some eligible users.
    let changed: BTreeSet<usize> = (0..size.users)
        .filter(|i| cohort(*i) == Cohort::Eligible)
        .take(size.changes)
        .collect();
    for &i in &changed {
        control
            .update_user(
                &ids[i],
                json!({"mobilePhone": directory_form(&changed_number(i))}),
            )
            .unwrap();
    }
    stack.settle().await.unwrap();

    // Reconcile (under the same faults) until a round finishes, then drain; twice, so what
    // the first pass queued is handled and the second finds nothing new.
    let mut sweeps = Vec::new();
    let mut failed_sweeps = 0;
    for _ in 0..2 {
        for _ in 0..20 {
            // A sweep that fails on an injected fault (a 500 is not retried by the client) is
            // run again, as the schedule runs it again a minute later; it resumes from the
            // stored link.
            let report = match stack.reconcile().await {
                Ok(report) => report,
                Err(_) => {
                    failed_sweeps += 1;
                    continue;
                }
            };
            let finished = report.round_finished;
            sweeps.push(report);
            if finished {
                break;
            }
        }
        stack.drain(500).await.unwrap();
    }
    let elapsed = started.elapsed();

    // ---- the tenant at the end ----
    let counters = control.counters();
    let notifications = control.notification_counters();
    let writes: BTreeMap<String, usize> = control
        .changes_since(baseline_changes)
        .iter()
        .filter(|c| c.kind == ChangeKind::AuthenticationChanged)
        .fold(BTreeMap::new(), |mut acc, c| {
            *acc.entry(c.user_id.clone()).or_default() += 1;
            acc
        });
    let audit = stack.audit.records();
    let memory = stack.memory.snapshot();
    let mut enrolled = 0;
    let mut eligible = 0;
    let mut updated = 0;
    let mut unclaimed = 0;
    let mut extra_writes = 0;
    for (i, id) in ids.iter().enumerate() {
        let user = stack.user(id);
        let auth = &user["authentication"];
        let mobile = auth["phones"]["mobile"]["phoneNumber"].as_str();
        let mfa = auth["perUserMfaState"].as_str().unwrap_or_default();
        let user_writes = writes.get(id).copied().unwrap_or(0);
        let expected_writes = match cohort(i) {
            // Phone and MFA: system-preferred MFA is on (the simulator's default, as
            // Microsoft-managed), so the SMS preference Entra would ignore is not written.
            Cohort::Eligible => 2 + usize::from(changed.contains(&i)),
            // Their own registration is logged too; then MFA.
            Cohort::SelfRegistered => 2,
            _ => 0,
        };
        extra_writes += user_writes.saturating_sub(expected_writes);
        if user_writes > expected_writes && std::env::var("CHAOS_DEBUG").is_ok() {
            let trail: Vec<_> = audit
                .iter()
                .filter(|r| &r.user_id == id)
                .map(|r| (r.outcome, r.actions.clone(), r.reasons.clone()))
                .collect();
            let kinds: Vec<_> = control
                .changes_since(baseline_changes)
                .iter()
                .filter(|c| &c.user_id == id)
                .map(|c| format!("{:?}", c.kind))
                .collect();
            eprintln!(
                "EXTRA {i} {:?} writes {user_writes} expected {expected_writes}: {trail:?} {kinds:?}",
                cohort(i)
            );
        }
        match cohort(i) {
            Cohort::Eligible => {
                eligible += 1;
                assert!(mobile.is_some() && mfa != "disabled", "{i}: {user}");
                assert!(auth["preferredSecondaryMethod"].is_null(), "{i}: {user}");
                enrolled += 1;
                if changed.contains(&i) {
                    if mobile == Some(changed_number(i).as_str()) {
                        updated += 1;
                    } else {
                        // Our phone went in but its answer was lost (a timeout after the
                        // write, a crash), so it was never remembered as ours: the change is
                        // reported, never forced onto a phone we cannot prove is ours.
                        assert_eq!(mobile, Some(first_number(i).as_str()), "{i}: {user}");
                        assert!(!memory.contains_key(id), "{i}");
                        assert!(
                            audit.iter().any(|r| &r.user_id == id
                                && r.reasons.iter().any(|x| x == "selfRegisteredPhoneDiffers")),
                            "{i}: the unchanged phone is not reported"
                        );
                        unclaimed += 1;
                    }
                } else {
                    assert_eq!(mobile, Some(first_number(i).as_str()), "{i}: {user}");
                }
            }
            Cohort::NoNumber | Cohort::Invalid => {
                assert_eq!(mfa, "disabled", "{i}: {user}");
                assert!(auth["phones"].as_object().unwrap().is_empty(), "{i}");
                assert_eq!(user_writes, 0, "{i}");
            }
            Cohort::SelfRegistered => {
                assert_eq!(mobile, Some(own_number(i).as_str()), "{i}: {user}");
            }
            Cohort::Excluded => {
                assert_eq!(user_writes, 0, "{i}: excluded account written to");
                assert!(mobile.is_none(), "{i}");
            }
        }
    }
    assert_eq!(enrolled, eligible, "every eligible user enrolled");
    // Never MFA without a usable method, anywhere in the tenant.
    for (id, user) in control.dump()["users"].as_object().unwrap() {
        let auth = &user["authentication"];
        if auth["perUserMfaState"] != "disabled" {
            let phones = auth["phones"].as_object().is_some_and(|p| !p.is_empty());
            let other = auth["other"].as_array().is_some_and(|o| !o.is_empty());
            assert!(phones || other, "{id} has MFA on and no usable method");
        }
    }
    // Repeated writes only where a write landed and its answer was lost, so the client sent
    // the (idempotent) PATCH again: bounded by the calls retried after a timeout.
    let timeout_retries = logs
        .text()
        .lines()
        .filter(|l| l.contains("Graph call failed; retrying") && l.contains("\"kind\":\"Timeout\""))
        .count();
    assert!(
        extra_writes <= timeout_retries,
        "{extra_writes} repeated writes, {timeout_retries} retries after a timeout"
    );
    // Every dead-lettered message has the failure in its user's audit trail.
    let dead: Vec<String> = match &stack.queue {
        StackQueue::InMemory { queue, .. } => queue
            .dead_letter_queue()
            .map(|d| d.requests().into_iter().map(|r| r.user_id).collect())
            .unwrap_or_default(),
        StackQueue::Moto { .. } => Vec::new(),
    };
    assert!(
        updated + unclaimed == changed.len() && updated * 10 >= changed.len() * 9,
        "{updated} of {} number changes applied ({unclaimed} unclaimed)",
        changed.len()
    );

    // ---- logs: no number, token, secret or clientState ----
    let mut text = logs.text();
    for document in stack
        .enroll_metrics
        .documents()
        .into_iter()
        .chain(stack.webhook_metrics.documents())
    {
        text.push_str(&document.to_string());
        text.push('\n');
    }
    let log_lines = text.lines().count();
    assert!(
        log_lines > 100,
        "the run logged almost nothing: {log_lines}"
    );
    let client_state = stack
        .secrets
        .get_secret(autoenroll_e2e::CLIENT_STATE_SECRET)
        .await
        .unwrap()
        .current;
    assert!(!text.contains(APP_SECRET), "client secret in the logs");
    assert!(!text.contains(&client_state), "clientState in the logs");
    assert!(!looks_like_jwt(&text), "an access token in the logs");
    // Every number of the run, in any way it could be written: national (`06…`), with the
    // country code (`+31 6…`, `316…`) or bare (`6…`), separators ignored.
    let runs = digit_runs(&text);
    for i in 0..size.users {
        for number in [first_number(i), changed_number(i), own_number(i)] {
            let digits: String = number.chars().filter(char::is_ascii_digit).collect();
            let national = &digits[2..];
            for form in [digits.clone(), national.to_owned(), format!("0{national}")] {
                assert!(
                    !runs.contains(&form),
                    "a phone number of user {i} is in the logs"
                );
            }
        }
    }
    assert!(
        !has_plus_digit_run(&text),
        "a +digits run of 8+ in the logs"
    );

    println!(
        "chaos: {} users ({eligible} eligible), {} number changes, {} s",
        size.users,
        changed.len(),
        elapsed.as_secs()
    );
    println!(
        "  enrolled {enrolled}/{eligible}; number changes applied {updated}, left (unclaimed, reported) {unclaimed}"
    );
    println!(
        "  Graph calls {}, 429s {}, faults injected {}, retries after a timeout {timeout_retries}, repeated writes {extra_writes}",
        counters.routes.values().map(|r| r.total).sum::<u64>(),
        counters.throttled,
        counters.faults_injected
    );
    println!(
        "  notifications delivered {}, duplicated {}, dropped {}, failed POSTs {}",
        notifications.delivered,
        notifications.duplicated,
        notifications.dropped,
        notifications.failed_posts
    );
    println!(
        "  enroll invocations crashed {}, dead-lettered {}, reconcile runs {} (+{} failed on a fault and re-run), enqueued by reconcile {}",
        stack.crashes(),
        dead.len(),
        sweeps.len(),
        failed_sweeps,
        sweeps.iter().map(|s| s.enqueued).sum::<usize>()
    );
    println!("  log lines checked {log_lines}: no number, token, secret or clientState");
    for user in &dead {
        assert!(
            audit
                .iter()
                .any(|r| &r.user_id == user && r.outcome.is_failure()),
            "{user} dead-lettered without a recorded failure"
        );
    }
    stack.shutdown().await;
}

/// Every maximal run of digits in `text`, joined over single spaces and dashes between digits
/// (how numbers are written). A number inside a longer run (a timestamp) is not a match.
fn digit_runs(text: &str) -> std::collections::HashSet<String> {
    let mut runs = std::collections::HashSet::new();
    let mut run = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            run.push(c);
            continue;
        }
        let joins = matches!(c, ' ' | '-')
            && !run.is_empty()
            && chars.peek().is_some_and(char::is_ascii_digit);
        if !joins && !run.is_empty() {
            runs.insert(std::mem::take(&mut run));
        }
    }
    if !run.is_empty() {
        runs.insert(run);
    }
    runs
}

/// `eyJ…` header, a dot, a payload, a dot: the shape of a JWT.
fn looks_like_jwt(text: &str) -> bool {
    text.match_indices("eyJ").any(|(at, _)| {
        let rest = &text[at..];
        let token: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect();
        token.split('.').filter(|part| !part.is_empty()).count() >= 2 && token.len() > 40
    })
}

/// `+` followed by 8 or more digits (spaces between digits allowed): an unmasked number.
fn has_plus_digit_run(text: &str) -> bool {
    text.match_indices('+').any(|(at, _)| {
        text[at + 1..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == ' ')
            .filter(char::is_ascii_digit)
            .count()
            >= 8
    })
}

#[tokio::test]
async fn chaos_ci_sized() {
    run_chaos(Size {
        users: 200,
        changes: 50,
        retry_after_secs: 0,
        workers: 4,
    })
    .await;
}

/// The passkey era: post-retirement clock, TAP bootstrap on, failing deliveries.
#[tokio::test]
async fn chaos_passkey_era_ci_sized() {
    passkey_era::run(Size {
        users: 100,
        changes: 0,
        retry_after_secs: 0,
        workers: 4,
    })
    .await;
}

#[tokio::test]
#[ignore = "larger chaos run (2,000 users); run with --ignored --nocapture"]
async fn chaos_full_size() {
    run_chaos(Size {
        users: 2_000,
        changes: 500,
        retry_after_secs: 1,
        workers: 8,
    })
    .await;
}

#[test]
fn log_scanners_catch_what_they_are_for() {
    assert!(has_plus_digit_run("number +31 612345678 here"));
    assert!(!has_plus_digit_run("masked +31 6******78"));
    assert!(looks_like_jwt(
        "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig"
    ));
    assert!(!looks_like_jwt("eyJust a word"));
    let runs = digit_runs("call 06-123 456 78 now, at 1764612345678, id 42");
    assert!(runs.contains("0612345678"));
    assert!(!runs.contains("612345678"));
}
