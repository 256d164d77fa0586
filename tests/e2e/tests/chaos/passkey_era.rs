//! Chaos in the passkey era (issue 15): the same faults, crashes and notification trouble, on
//! the simulator's clock after the SMS/voice retirement with no telecom provider, the TAP
//! bootstrap on (the manager's e-mail, else SMS to the directory mobile), and deliveries that
//! fail — before sending, and after sending with the answer lost. At the end:
//! - 100 % of eligible new users reached "TAP delivered" (and the last pass delivered is the
//!   one that works) or a reported skip;
//! - 0 passes to users with a lasting method, 0 to excluded accounts;
//! - 0 duplicate deliveries: no pass value was sent twice;
//! - no pass value in the logs, the audit records, the bootstrap store or the queue.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::{Duration, Instant};

use autoenroll_aws::outbox::Injected;
use autoenroll_core::delivery::{Channel, DeliveryError};
use autoenroll_core::policy::{BootstrapDelivery, BootstrapPolicy};
use autoenroll_core::ports::AuditOutcome;
use autoenroll_e2e::{QueueKind, Stack, StackOptions, StackQueue};
use graph_sim::{NotificationOptions, PasskeyFlavour, Registration};
use serde_json::{Value, json};
use time::macros::datetime;

use super::{LogBuffer, Size, directory_form, faults, first_number};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cohort {
    /// A valid directory mobile: a pass by SMS (or e-mail when the manager is set in time).
    Eligible,
    /// A manager with mail is assigned right after creation.
    WithManager,
    /// Registered Authenticator before autoenroll saw them: no pass, ever.
    Lasting,
    /// No mobile, no manager: nobody to hand a pass to — a reported skip.
    NoRecipient,
    /// In the policy's exclusions: never written to.
    Excluded,
}

fn cohort(i: usize) -> Cohort {
    match i % 10 {
        0 => Cohort::NoRecipient,
        1 => Cohort::Lasting,
        2 | 5 => Cohort::WithManager,
        3 => Cohort::Excluded,
        _ => Cohort::Eligible,
    }
}

fn upn(i: usize) -> String {
    match cohort(i) {
        Cohort::Excluded => format!("svc.era{i:05}@contoso.com"),
        _ => format!("era.user{i:05}@contoso.com"),
    }
}

fn transient(outcome_unknown: bool) -> DeliveryError {
    DeliveryError::Transient {
        channel: Channel::MobileSms,
        detail: "injected".into(),
        outcome_unknown,
    }
}

pub(super) async fn run(size: Size) {
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(logs.clone())
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "autoenroll_graph=debug,autoenroll_core=debug,autoenroll_aws=debug,\
             autoenroll_enroll=debug,autoenroll_reconcile=debug",
        ))
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);
    let started = Instant::now();

    let mut options = StackOptions::new(QueueKind::InMemory);
    options.workers = size.workers;
    options.crash_rate = 0.05;
    options.request_timeout = Duration::from_millis(250);
    options.rng_seed = 20_270_301;
    options.policy.bootstrap = BootstrapPolicy {
        delivery: Some(BootstrapDelivery::ManagerEmailThenSms),
        email_from: Some("autoenroll@contoso.com".into()),
        ..BootstrapPolicy::default()
    };
    for i in (0..size.users).filter(|i| cohort(*i) == Cohort::Excluded) {
        options.policy.excluded_upns.insert(upn(i));
    }
    let stack = Stack::start(options).await.unwrap();
    let control = stack.sim.control();
    control.advance_clock_to(datetime!(2027-03-01 08:00 UTC));
    stack.subscribe().await.unwrap();
    stack.reconcile().await.unwrap();
    stack.drain(500).await.unwrap();
    let seed_passes = stack.outbox.sent().len();

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
    for k in 0..6 {
        stack.outbox.fail_next(if k % 2 == 0 {
            Injected::before_sending(transient(false))
        } else {
            Injected::after_sending(transient(true))
        });
    }

    let mut ids = Vec::with_capacity(size.users);
    for i in 0..size.users {
        let mut user = json!({
            "userPrincipalName": upn(i),
            "displayName": format!("Era User {i}"),
            "mobilePhone": directory_form(&first_number(i)),
            "accountEnabled": true,
            "userType": "Member",
        });
        match cohort(i) {
            Cohort::NoRecipient => user["mobilePhone"] = Value::Null,
            Cohort::Lasting => {
                user["authentication"] = json!({"otherMethods": ["microsoftAuthenticator"]});
            }
            _ => {}
        }
        let id = control.create_user(user).unwrap();
        if cohort(i) == Cohort::WithManager {
            control
                .set_manager(&id, Some("adele.vance@contoso.com"))
                .unwrap();
        }
        ids.push(id);
    }
    stack.settle().await.unwrap();
    // The schedule: follow-up and sweep under the same faults, until a round finishes.
    for _ in 0..2 {
        for _ in 0..20 {
            let _ = stack.follow_up.run(control.now()).await;
            match stack.reconcile().await {
                Ok(report) if report.round_finished => break,
                _ => continue,
            }
        }
        stack.drain(500).await.unwrap();
    }
    control.set_faults(Vec::new());
    // A last follow-up without faults: write-ahead records whose delivery was cut short.
    stack.follow_up.run(control.now()).await.unwrap();
    stack.drain(500).await.unwrap();
    let elapsed = started.elapsed();

    // ---- what reached whom ----
    let sent = stack.outbox.sent();
    let mut by_user: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for message in &sent[seed_passes..] {
        by_user
            .entry(message.user_principal_name.to_ascii_lowercase())
            .or_default()
            .push(message.clone());
    }
    let mut seen = HashSet::new();
    let duplicates = sent
        .iter()
        .filter(|m| !seen.insert(m.pass().expose().to_owned()))
        .count();
    assert_eq!(duplicates, 0, "a pass was delivered twice");

    let audit = stack.audit.records();
    let (mut eligible, mut delivered, mut skipped, mut works) = (0, 0, 0, 0);
    let mut skip_reasons: BTreeMap<String, usize> = BTreeMap::new();
    for (i, id) in ids.iter().enumerate() {
        let messages = by_user.get(&upn(i)).cloned().unwrap_or_default();
        let last_skip = audit
            .iter()
            .rev()
            .find(|r| &r.user_id == id)
            .filter(|r| r.outcome == AuditOutcome::Skipped)
            .and_then(|r| r.reasons.first().cloned());
        match cohort(i) {
            Cohort::Eligible | Cohort::WithManager | Cohort::NoRecipient => {
                eligible += 1;
                if let Some(last) = messages.last() {
                    delivered += 1;
                    // The last pass handed over is the live one: its holder signs in with it.
                    let signed_in = control.sign_in_with_tap(
                        id,
                        last.pass().expose(),
                        Registration::Passkey {
                            passkey: PasskeyFlavour::Authenticator,
                        },
                    );
                    assert!(signed_in.is_ok(), "{i}: {signed_in:?}");
                    works += 1;
                } else {
                    let reason = last_skip.unwrap_or_else(|| {
                        let trail: Vec<_> = audit
                            .iter()
                            .filter(|r| &r.user_id == id)
                            .map(|r| (r.outcome, r.reasons.clone(), r.actions.clone()))
                            .collect();
                        panic!(
                            "{i} ({:?}): no pass delivered and no reported skip; audit {trail:?}",
                            cohort(i)
                        )
                    });
                    skipped += 1;
                    *skip_reasons.entry(reason).or_default() += 1;
                }
                if cohort(i) == Cohort::NoRecipient {
                    assert!(messages.is_empty(), "{i}: a pass without a recipient");
                }
            }
            Cohort::Lasting => {
                assert!(
                    messages.is_empty(),
                    "{i}: a pass to a user with a lasting method"
                );
                assert!(stack.user(id)["authentication"]["tap"].is_null(), "{i}");
            }
            Cohort::Excluded => {
                assert!(messages.is_empty(), "{i}: a pass to an excluded account");
                assert_eq!(
                    stack.auth_changes(id),
                    0,
                    "{i}: excluded account written to"
                );
            }
        }
    }
    assert_eq!(
        delivered + skipped,
        eligible,
        "every eligible user accounted for"
    );
    // Everyone with a number (or a manager) got a pass; only the recipient-less are skipped.
    assert_eq!(
        skipped,
        ids.iter()
            .enumerate()
            .filter(|(i, _)| cohort(*i) == Cohort::NoRecipient)
            .count(),
        "{skip_reasons:?}"
    );

    // ---- no pass value anywhere it must not be ----
    let mut text = logs.text();
    for record in &audit {
        text.push_str(&serde_json::to_string(record).unwrap_or_default());
    }
    for open in stack.bootstraps.open() {
        text.push_str(&serde_json::to_string(&open).unwrap_or_default());
    }
    if let StackQueue::InMemory { queue, .. } = &stack.queue {
        text.push_str(&queue.bodies().join("\n"));
        if let Some(dlq) = queue.dead_letter_queue() {
            text.push_str(&dlq.bodies().join("\n"));
        }
    }
    for message in &sent {
        assert!(
            !text.contains(message.pass().expose()),
            "a pass value in the logs, audit, store or queue"
        );
    }
    let distinct: BTreeSet<_> = by_user.keys().collect();
    println!(
        "chaos (passkey era): {} users, {eligible} eligible, {} s",
        size.users,
        elapsed.as_secs()
    );
    println!(
        "  TAP delivered {delivered} (the last one signs in: {works}), reported skips {skipped} \
         {skip_reasons:?}; passes sent {} to {} users, duplicate deliveries {duplicates}",
        sent.len() - seed_passes,
        distinct.len()
    );
    println!(
        "  deliveries attempted {}, enroll invocations crashed {}, log lines {}",
        stack.outbox.attempts(),
        stack.crashes(),
        logs.text().lines().count()
    );
    stack.shutdown().await;
}
