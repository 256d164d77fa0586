//! Scenario 5 — exposure window: from a user's creation to "protected" (a mobile phone method
//! registered and per-user MFA enabled or enforced), observed in the simulator's own state.
//!
//! The local stack of `autoenroll local` (`autoenroll_cli::local::stack::LocalStack`): graph-sim
//! as Graph, the webhook behind its local front with the subscription made through the real
//! handshake, the in-memory SQS FIFO queue polled like Lambda's event source mapping, the
//! enroll function's handler and the reconcile function's `/users/delta` sweep every
//! `sweep` — all the functions' own code. Graph calls get the same 80 ms latency as the
//! backfill. New users are created through the simulator's admin API (as AD sync would), at a
//! steady pace, and each is watched through the simulator's change log.
//!
//! (a) notifications delivered promptly; (b) every notification dropped, so only the sweep
//! finds the new users — reported in sweep intervals as well; (c) the passkey era (clock on
//! 2027-03-01, no telecom provider): creation → Temporary Access Pass delivered.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use autoenroll_cli::local::scenario::quiesce;
use autoenroll_cli::local::stack::{LocalStack, StackOptions};
use autoenroll_core::policy::{BootstrapDelivery, BootstrapPolicy};
use graph_sim::{Control, LatencyRule, Seed};
use serde_json::json;

use crate::common::{is_protected, millis, new_user, percentile};
use crate::report::{Metric, ScenarioReport};

#[derive(Debug, Clone)]
pub struct ExposureArgs {
    pub users: usize,
    /// New users created per second.
    pub create_rate: f64,
    pub sweep: Duration,
    pub latency_ms: u64,
    /// Enroll pollers (the SQS event source's `MaximumConcurrency`).
    pub workers: usize,
    /// Graph requests in flight for the whole stack.
    pub graph_concurrency: usize,
}

/// Creates `n` users at `rate` per second and returns, per user, the time from its creation to
/// `done` (`None` if not done before `deadline` after the last creation). `done` is asked on
/// the user's changes and every `tick`.
async fn watch_new_users(
    control: &Control,
    prefix: &str,
    n: usize,
    rate: f64,
    deadline: Duration,
    tick: Duration,
    done: &dyn Fn(&str) -> bool,
) -> anyhow::Result<Vec<Option<Duration>>> {
    let mut changes = control.subscribe_changes();
    let mut created: HashMap<String, (usize, Instant)> = HashMap::new();
    let mut results: Vec<Option<Duration>> = vec![None; n];
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let start = tokio::time::Instant::now();
    let mut next = 0;
    let mut last_created = start;
    let mut check_all = tokio::time::interval(tick);
    loop {
        let pending = created.len();
        if next == n && pending == 0 {
            break;
        }
        if next == n && last_created.elapsed() > deadline {
            break;
        }
        let due = start + interval * next as u32;
        tokio::select! {
            _ = tokio::time::sleep_until(due), if next < n => {
                let id = control
                    .create_user(new_user(prefix, next))
                    .map_err(|e| anyhow::anyhow!("creating user {next}: {e}"))?;
                created.insert(id, (next, Instant::now()));
                next += 1;
                last_created = tokio::time::Instant::now();
            }
            event = changes.recv() => {
                // A lagged receiver only means events were skipped: the periodic check below
                // catches those users.
                if let Ok(event) = event
                    && let Some(&(i, at)) = created.get(&event.user_id)
                    && done(&event.user_id)
                {
                    results[i] = Some(at.elapsed());
                    created.remove(&event.user_id);
                }
            }
            _ = check_all.tick() => {
                let done: Vec<String> = created
                    .keys()
                    .filter(|id| done(id))
                    .cloned()
                    .collect();
                for id in done {
                    if let Some((i, at)) = created.remove(&id) {
                        results[i] = Some(at.elapsed());
                    }
                }
            }
        }
    }
    Ok(results)
}

/// Of the users whose UPN starts with `prefix`: how many were enrolled (audit record with
/// `addMobile`) by a run a notification triggered, and how many by the sweep.
fn protected_by(stack: &LocalStack, prefix: &str) -> (usize, usize) {
    use autoenroll_core::ports::Trigger;
    let records = stack.audit.records();
    let enrolling = records.iter().filter(|r| {
        r.user_principal_name
            .as_deref()
            .is_some_and(|u| u.starts_with(prefix))
            && r.actions.iter().any(|a| a == "addMobile")
    });
    let mut counts = (0, 0);
    for r in enrolling {
        match r.trigger {
            Some(Trigger::Notification { .. }) => counts.0 += 1,
            Some(Trigger::Reconcile) => counts.1 += 1,
            _ => {}
        }
    }
    counts
}

fn figures(
    report: &mut ScenarioReport,
    label: &str,
    results: &[Option<Duration>],
    sweep: Option<Duration>,
    p99_target_ms: Option<f64>,
) {
    let mut ms: Vec<f64> = results.iter().flatten().map(|d| millis(*d)).collect();
    ms.sort_by(f64::total_cmp);
    let protected = ms.len();
    report.metric(
        Metric::new(
            format!("{label}: users protected"),
            protected as f64,
            "users",
        )
        .at_least(results.len() as f64),
    );
    let (p50, p99, max) = (
        percentile(&ms, 50.0),
        percentile(&ms, 99.0),
        ms.last().copied().unwrap_or(f64::NAN),
    );
    let p99_metric = Metric::new(format!("{label}: p99"), p99, "ms");
    report
        .metric(Metric::new(format!("{label}: p50"), p50, "ms"))
        .metric(match p99_target_ms {
            Some(t) => p99_metric.at_most(t),
            None => p99_metric,
        })
        .metric(Metric::new(format!("{label}: max"), max, "ms"));
    if let Some(sweep) = sweep {
        let s = millis(sweep);
        report
            .metric(Metric::new(
                format!("{label}: p50 ÷ sweep interval"),
                p50 / s,
                "intervals",
            ))
            .metric(Metric::new(
                format!("{label}: p99 ÷ sweep interval"),
                p99 / s,
                "intervals",
            ))
            .metric(Metric::new(
                format!("{label}: max ÷ sweep interval"),
                max / s,
                "intervals",
            ));
    }
}

/// (c) The passkey era: the clock on 2027-03-01 (Microsoft's SMS/voice retired, no telecom
/// provider), notifications prompt again. A new user's phone no longer counts, so protection
/// starts with a Temporary Access Pass: measured from creation to the pass in the outbox
/// (delivered by the SMS twin, the moment the enroll run hands it over).
async fn passkey_era(
    stack: &LocalStack,
    control: &Control,
    args: &ExposureArgs,
    deadline: Duration,
    report: &mut ScenarioReport,
) -> anyhow::Result<Vec<Option<Duration>>> {
    let mut prompt = control.notification_options();
    prompt.drop_rate = 0.0;
    control
        .set_notification_options(prompt)
        .map_err(|e| anyhow::anyhow!("restoring notifications: {e}"))?;
    control.advance_clock_to(time::macros::datetime!(2027-03-01 09:00 UTC));
    // The subscription and the delta link expired on the way: a new subscription, and the
    // sweep's full walk re-reads everyone — measured after it has settled.
    stack.run_subscription_schedule().await?;
    if !quiesce(stack, Duration::from_secs(300)).await {
        report.note("(c) the stack did not settle within 300 s after the clock moved");
    }
    let upn_of = |id: &str| {
        control.user(id).and_then(|u| {
            u["properties"]["userPrincipalName"]
                .as_str()
                .map(str::to_owned)
        })
    };
    let delivered =
        |id: &str| upn_of(id).is_some_and(|upn| !stack.outbox.sent_to_user(&upn).is_empty());
    let sent_before = stack.outbox.sent().len();
    let c = watch_new_users(
        control,
        "exposc",
        args.users,
        args.create_rate,
        deadline,
        Duration::from_millis(10),
        &delivered,
    )
    .await?;
    figures(
        report,
        "(c) passkey era: trigger → TAP delivered",
        &c,
        None,
        None,
    );
    report.note(format!(
        "(c) passes delivered during (c): {} (one per new user expected; the outbox's SMS twin)",
        stack.outbox.sent().len() - sent_before
    ));
    Ok(c)
}

pub async fn run(args: &ExposureArgs) -> anyhow::Result<ScenarioReport> {
    let mut report = ScenarioReport::new(
        "5 exposure",
        json!({
            "newUsers": args.users,
            "createdPerSec": args.create_rate,
            "sweepIntervalSecs": args.sweep.as_secs_f64(),
            "graphLatencyMs": args.latency_ms,
            "workers": args.workers,
            "graphConcurrency": args.graph_concurrency,
            "stack": "autoenroll_cli::local::stack::LocalStack (webhook front, subscription, in-memory FIFO + poller, enroll handler, reconcile sweep)",
            "policy": "default region NL, per-user MFA enabled, SMS default; TAP bootstrap by SMS (takes effect in (c))",
            "passkeyEra": "(c) simulator clock 2027-03-01, no telecom provider: creation → pass in the outbox",
            "protected": "mobile phone method present and perUserMfaState enabled/enforced, read from the simulator",
        }),
    );
    let options = StackOptions {
        reconcile_every: args.sweep,
        workers: args.workers,
        graph_concurrency: args.graph_concurrency,
        ..StackOptions::default()
    };
    // Bootstrap on (SMS to the directory mobile) for (c); (a) and (b) run before the
    // retirement, where every new user has a working phone and gets no pass.
    let mut policy = crate::backfill::policy();
    policy.bootstrap = BootstrapPolicy {
        delivery: Some(BootstrapDelivery::MobileSms),
        ..BootstrapPolicy::default()
    };
    let stack = LocalStack::start(Seed::contoso(), "bench", policy, &options).await?;
    let Some(control) = stack.control() else {
        anyhow::bail!("the local stack runs without a simulator");
    };
    control.set_latency(vec![LatencyRule {
        route: "*".into(),
        min_ms: args.latency_ms,
        max_ms: None,
    }]);
    // The first sweep backfills the seed's users; measure on a settled stack.
    if !quiesce(&stack, Duration::from_secs(120)).await {
        report.note("the stack did not settle within 120 s before the measurement");
    }
    let deadline = args.sweep * 5 + Duration::from_secs(30);

    // (a) prompt notifications.
    let protected = |id: &str| control.user(id).is_some_and(|u| is_protected(&u));
    let tick = Duration::from_millis(100);
    let a = watch_new_users(
        &control,
        "exposa",
        args.users,
        args.create_rate,
        deadline,
        tick,
        &protected,
    )
    .await?;
    figures(
        &mut report,
        "(a) prompt notifications",
        &a,
        None,
        Some(2_000.0),
    );
    let series = |r: &[Option<Duration>]| -> Vec<Option<u64>> {
        r.iter().map(|d| d.map(|d| d.as_millis() as u64)).collect()
    };
    let delivered = control.notification_counters();
    let (by_notification, by_sweep) = protected_by(&stack, "exposa");
    report.note(format!(
        "(a) the enrolling run was triggered by a notification for {by_notification} users, by the sweep for {by_sweep}"
    ));

    // (b) every notification dropped: only the reconcile sweep sees the new users.
    let mut drop_all = control.notification_options();
    drop_all.drop_rate = 1.0;
    control
        .set_notification_options(drop_all)
        .map_err(|e| anyhow::anyhow!("dropping notifications: {e}"))?;
    let rounds_before = stack.reconcile_rounds();
    let b = watch_new_users(
        &control,
        "exposb",
        args.users,
        args.create_rate,
        deadline,
        tick,
        &protected,
    )
    .await?;
    let rounds = stack.reconcile_rounds() - rounds_before;
    figures(
        &mut report,
        "(b) notifications dropped, sweep only",
        &b,
        Some(args.sweep),
        None,
    );
    let c = passkey_era(&stack, &control, args, deadline, &mut report).await?;
    report.series = Some(json!({
        "msToProtectedByCreationOrderA": series(&a),
        "msToProtectedByCreationOrderB": series(&b),
        "msToPassDeliveredByCreationOrderC": series(&c),
    }));
    report.note(format!(
        "(a) notification counters after (a): {delivered:?}; (b) {rounds} sweeps completed during (b)"
    ));
    report.note(format!(
        "sweep interval {} s here (the local stack's default; 60 s in AWS): (b) scales with it — expect ≈ interval × the figures in intervals, plus the enroll time",
        args.sweep.as_secs_f64()
    ));
    report.note(format!("dead letters at the end: {}", stack.dead_letters()));
    stack.shutdown().await;
    Ok(report.finish())
}
