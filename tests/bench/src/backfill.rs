//! Scenario 1 — backfill throughput against Graph's write quota, per MFA mode.
//!
//! Modes: per-user MFA (phone + per-user state: 2 writes per user at least) and group mode (the
//! Conditional Access group: phone + a 20th of a batched group add, 1.05 writes at least). The
//! ceiling of a mode in users/s is 20 writes/s (here the scaled quota) ÷ that minimum; each
//! mode is measured against its own. TAP bootstrap mode (users without a usable phone get a
//! pass by e-mail to their manager, then per-user MFA: 2 writes at least) is set up in
//! [`tap`].
//!
//! A fresh simulator with 80 ms latency on every Graph call and the write quota scaled down
//! (3,000 per 15 s instead of per 150 s: same shape, ten times quicker — the read budget is
//! scaled alike, for the pacer and the simulator); N users that all need
//! enrolling. Our engine — the Graph client's pacer and bounded concurrency around the enroll
//! function's `Enroller::enroll_user` (read, plan, apply, memory, audit), as `autoenroll apply`
//! drives it — enrolls them all; then, on another fresh simulator in the same
//! process, the sequential baseline enrolls a subset one user at a time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use autoenroll_core::engine::{Enroller, UserResult};
use autoenroll_core::memory::{InMemoryAuditSink, InMemoryMemoryStore};
use autoenroll_core::outcome::Outcome;
use autoenroll_core::plan::Plan;
use autoenroll_core::policy::{MfaMode, Policy};
use autoenroll_core::ports::Trigger;
use autoenroll_graph::{GraphClient, PacingConfig};
use futures::StreamExt;
use graph_sim::{LatencyRule, Sim, SimOptions, TenantSize, ThrottleOptions};
use serde_json::json;

use crate::common::{self, create_users, graph_client, is_protected, start_sim};

mod series;
mod tap;
use crate::report::{Metric, ScenarioReport};
use series::{longest_429_run, sampler, timeline, writes_at};

/// The Conditional Access group of the Contoso seed (group mode's MFA group).
const CA_GROUP: &str = "c0a80101-5e1f-4c3a-8d2b-000000000001";

/// How MFA is required of the enrolled users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackfillMode {
    /// Per-user MFA state `enabled`.
    PerUser,
    /// Membership of the Conditional Access group, added in batches of up to 20.
    Group,
    /// Per-user MFA `enabled` for users without a usable phone, each given a Temporary Access
    /// Pass delivered to the manager by e-mail (the passkey era).
    Tap,
    /// As `tap`, but the users have an HR mobile number, which Microsoft no longer delivers to:
    /// the plan still registers it (a third write).
    TapHrMobile,
}

impl BackfillMode {
    pub fn name(self) -> &'static str {
        match self {
            BackfillMode::PerUser => "per-user",
            BackfillMode::Group => "group",
            BackfillMode::Tap => "tap",
            BackfillMode::TapHrMobile => "tap-hr-mobile",
        }
    }

    /// The fewest Graph writes a new user needs in this mode: the phone (TAP mode: the pass),
    /// then per-user MFA (one write) or a 20th of a full group batch. (The SMS preference is
    /// not written where Entra ignores it: system-preferred MFA is on for the bench's users,
    /// Microsoft's default.)
    pub fn min_writes_per_user(self) -> f64 {
        match self {
            BackfillMode::PerUser | BackfillMode::Tap | BackfillMode::TapHrMobile => 2.0,
            BackfillMode::Group => 1.0 + 1.0 / autoenroll_graph::MAX_MEMBERS_PER_REQUEST as f64,
        }
    }

    /// The target for writes per enrolled user.
    fn writes_target(self) -> f64 {
        match self {
            BackfillMode::PerUser | BackfillMode::Tap | BackfillMode::TapHrMobile => 2.0,
            BackfillMode::Group => 1.1,
        }
    }
}

#[derive(Debug, Clone)]
pub struct BackfillArgs {
    pub modes: Vec<BackfillMode>,
    pub users: usize,
    /// Users the sequential baseline enrolls (its time is extrapolated per user to `users`).
    pub baseline_users: usize,
    /// Users in flight in our engine (and the Graph client's request limit).
    pub concurrency: usize,
    pub latency_ms: u64,
    pub write_limit: u32,
    pub write_window: Duration,
    /// Overrides the pacer's headroom (default: the library's).
    pub headroom: Option<f64>,
}

impl Default for BackfillArgs {
    fn default() -> Self {
        Self {
            modes: vec![
                BackfillMode::PerUser,
                BackfillMode::Group,
                BackfillMode::Tap,
            ],
            users: 5_000,
            baseline_users: 200,
            concurrency: 256,
            latency_ms: 80,
            write_limit: 3_000,
            write_window: Duration::from_secs(15),
            headroom: None,
        }
    }
}

/// What enrolling one user came to.
#[derive(Debug, Default, Clone, Copy)]
struct UserTally {
    /// Writes the plan asked for.
    planned_writes: usize,
    enrolled: bool,
    failed: bool,
}

/// One user through the enroll function's own [`Enroller::enroll_user`] (read with exclusions
/// first, plan, apply, memory, audit) — the code path of the Lambda and of `autoenroll apply`.
async fn enroll_user(enroller: &BenchEnroller, user_id: &str) -> UserTally {
    let report = enroller.enroll_user(user_id, &Trigger::Backfill).await;
    let planned_writes = match &report.plan {
        Some(Plan::Enroll { actions, .. }) => actions.len(),
        _ => 0,
    };
    let (enrolled, failed) = match &report.result {
        UserResult::Finished(Outcome::Done { actions, .. }) => (!actions.is_empty(), false),
        UserResult::Finished(Outcome::Skipped(_)) => (false, false),
        UserResult::Finished(Outcome::Failed { .. }) | UserResult::ReadFailed(_) => (false, true),
    };
    UserTally {
        planned_writes,
        enrolled,
        failed,
    }
}

type BenchEnroller = Enroller<InMemoryMemoryStore, InMemoryAuditSink>;

/// The per-user mode's policy (the other scenarios use it too).
pub fn policy() -> Policy {
    policy_for(BackfillMode::PerUser)
}

pub fn policy_for(mode: BackfillMode) -> Policy {
    let policy = Policy {
        default_region: Some("NL".parse().expect("NL is a region")),
        mfa_mode: match mode {
            BackfillMode::PerUser | BackfillMode::Tap | BackfillMode::TapHrMobile => {
                MfaMode::PerUserEnabled
            }
            BackfillMode::Group => MfaMode::Group(CA_GROUP.into()),
        },
        ..Policy::default()
    };
    match mode {
        BackfillMode::Tap | BackfillMode::TapHrMobile => tap::policy(policy),
        BackfillMode::PerUser | BackfillMode::Group => policy,
    }
}

/// Graph's documented write window; the bench's is shorter by [`time_scale`].
const GRAPH_WRITE_WINDOW: Duration = Duration::from_secs(150);

/// How much faster than Graph's the bench's write quota refills (10 with the default 15 s
/// window).
fn time_scale(args: &BackfillArgs) -> f64 {
    GRAPH_WRITE_WINDOW.as_secs_f64() / args.write_window.as_secs_f64()
}

/// A large tenant's read budget (8,000 RU per 10 s) scaled like the write quota: compressing
/// only the writes would make reads the bottleneck at a rate no real backfill reaches (at
/// Graph's 20 writes/s a per-user backfill reads ~60 RU/s of the 800 it may).
fn resource_units(args: &BackfillArgs) -> u32 {
    (f64::from(TenantSize::Large.resource_units()) * time_scale(args)).round() as u32
}

fn sim_options(args: &BackfillArgs) -> SimOptions {
    SimOptions {
        rng_seed: Some(8),
        throttle: ThrottleOptions {
            // A tenant of thousands of users is "large" (8,000 RU per 10 s); the contoso seed
            // alone would make it small.
            tenant_size: Some(TenantSize::Large),
            resource_units: Some(resource_units(args)),
            write_limit: args.write_limit,
            write_window_ms: args.write_window.as_millis() as u64,
            ..ThrottleOptions::default()
        },
        ..SimOptions::default()
    }
}

fn pacing(args: &BackfillArgs) -> PacingConfig {
    // The pacer gets the same (scaled) write quota and read budget the simulator enforces, as
    // a deployment gets the documented ones; everything else is the default.
    let default = PacingConfig::default();
    PacingConfig {
        writes_per_window: args.write_limit,
        write_window: args.write_window,
        read_units_per_window: resource_units(args),
        headroom: args.headroom.unwrap_or(default.headroom),
        ..default
    }
}

async fn prepared_sim(
    args: &BackfillArgs,
    mode: BackfillMode,
    users: usize,
) -> anyhow::Result<(Sim, Vec<String>)> {
    let sim = start_sim(sim_options(args)).await?;
    let ids = match mode {
        BackfillMode::Tap => tap::create_users(&sim, "bench", users, false)?,
        BackfillMode::TapHrMobile => tap::create_users(&sim, "bench", users, true)?,
        BackfillMode::PerUser | BackfillMode::Group => create_users(&sim, "bench", users)?,
    };
    sim.control().set_latency(vec![LatencyRule {
        route: "*".into(),
        min_ms: args.latency_ms,
        max_ms: None,
    }]);
    Ok((sim, ids))
}

/// Enrolls `ids`, `concurrency` at a time; returns each user's tally and the passes delivered
/// (TAP mode; 0 otherwise).
async fn run_users(
    mode: BackfillMode,
    graph: &GraphClient,
    sim: &Sim,
    ids: &[String],
    concurrency: usize,
) -> (Vec<UserTally>, usize) {
    let enroller = Enroller::new(
        graph.clone(),
        Arc::new(policy_for(mode)),
        sim.tenant_id(),
        InMemoryMemoryStore::new(),
        InMemoryAuditSink::new(),
    );
    let (enroller, outbox) = match mode {
        BackfillMode::Tap | BackfillMode::TapHrMobile => {
            let (enroller, outbox) = tap::with_bootstrap(enroller, sim);
            (enroller, Some(outbox))
        }
        BackfillMode::PerUser | BackfillMode::Group => (enroller, None),
    };
    let tallies = futures::stream::iter(ids)
        .map(|id| enroll_user(&enroller, id))
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    (tallies, outbox.map_or(0, |o| o.sent().len()))
}

/// Users protected as the simulator's state says: per-user MFA on, or in the CA group, with a
/// mobile phone registered (TAP mode: with a pass instead).
fn protected_count(sim: &Sim, mode: BackfillMode, ids: &[String]) -> usize {
    let control = sim.control();
    let members: Vec<String> = match mode {
        BackfillMode::PerUser | BackfillMode::Tap | BackfillMode::TapHrMobile => Vec::new(),
        BackfillMode::Group => control.dump()["groups"][CA_GROUP]["members"]
            .as_array()
            .map(|m| {
                m.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
    };
    ids.iter()
        .filter(|id| {
            control.user(id).is_some_and(|u| match mode {
                BackfillMode::PerUser => is_protected(&u),
                BackfillMode::Tap | BackfillMode::TapHrMobile => tap::is_protected(&u),
                BackfillMode::Group => {
                    u["authentication"]["phones"].get("mobile").is_some() && members.contains(id)
                }
            })
        })
        .count()
}

/// Scenario 1 once per mode in `args.modes`, each with its sequential baseline.
pub async fn run(args: &BackfillArgs) -> anyhow::Result<Vec<ScenarioReport>> {
    let mut reports = Vec::new();
    for &mode in &args.modes {
        eprintln!("bench: scenario 1 (backfill, {} mode)…", mode.name());
        reports.push(run_mode(args, mode).await?);
    }
    Ok(reports)
}

async fn run_mode(args: &BackfillArgs, mode: BackfillMode) -> anyhow::Result<ScenarioReport> {
    let ceiling = f64::from(args.write_limit) / args.write_window.as_secs_f64();
    let min_writes = mode.min_writes_per_user();
    let user_ceiling = ceiling / min_writes;
    let mut report = ScenarioReport::new(
        format!("1 backfill {}", mode.name()),
        json!({
            "mode": mode.name(),
            "minWritesPerUser": min_writes,
            "ceilingUsersPerSec": user_ceiling,
            "users": args.users,
            "baselineUsers": args.baseline_users.min(args.users),
            "concurrency": args.concurrency,
            "latencyMs": args.latency_ms,
            "writeQuota": format!("{} per {} s", args.write_limit, args.write_window.as_secs_f64()),
            "readBudget": format!("{} RU per 10 s (a large tenant's 8,000 × {:.0})", resource_units(args), time_scale(args)),
            "ceilingWritesPerSec": ceiling,
            "policy": match mode {
                BackfillMode::Tap | BackfillMode::TapHrMobile => tap::policy_text(mode),
                _ => format!("default region NL, {} MFA, SMS default when effective (system-preferred MFA on: not written)", mode.name()),
            },
        }),
    );

    // --- our engine ---
    let (sim, ids) = prepared_sim(args, mode, args.users).await?;
    let graph = graph_client(&sim, pacing(args), args.concurrency)?;
    graph.access_token().await?; // the token is not what is measured
    let start = Instant::now();
    let (sampling, stop) = sampler(&sim, start);
    let (tallies, delivered) = run_users(mode, &graph, &sim, &ids, args.concurrency).await;
    let total = start.elapsed().as_secs_f64();
    stop.notify_one();
    let samples = sampling.await?;
    let counters = sim.control().counters();
    let protected = protected_count(&sim, mode, &ids);
    let pacer = graph.pacer().snapshot(autoenroll_graph::BudgetClass::Write);
    sim.shutdown().await;

    let enrolled = tallies.iter().filter(|t| t.enrolled).count();
    let failed = tallies.iter().filter(|t| t.failed).count();
    let planned: usize = tallies.iter().map(|t| t.planned_writes).sum();
    let writes = counters.writes;
    let last_write_at = samples
        .iter()
        .find(|s| s.writes == writes)
        .map_or(total, |s| s.at);
    let window = args.write_window.as_secs_f64();
    // Sustained rate: over the whole quota windows after the first (whose full bucket lets a
    // burst through), so a sliding-window pacer is measured over complete windows.
    let whole = ((last_write_at - window) / window).floor();
    let sustained = (whole >= 1.0).then(|| {
        let (from, to) = (window, window * (1.0 + whole));
        (writes_at(&samples, to) - writes_at(&samples, from)) as f64 / (to - from)
    });
    // Everything Graph could have admitted while we wrote: the full bucket plus its refill.
    let admissible = f64::from(args.write_limit) + ceiling * last_write_at;
    let storm = longest_429_run(&samples);
    report.series = Some(timeline(&samples));

    report
        .metric(Metric::new("users enrolled", enrolled as f64, "users").at_least(args.users as f64))
        .metric(Metric::new(
            "users protected (sim state)",
            protected as f64,
            "users",
        ))
        .metric(Metric::new("users failed", failed as f64, "users").at_most(0.0))
        .metric(Metric::new("total time", total, "s"));
    let writes_per_user = writes as f64 / enrolled.max(1) as f64;
    match sustained {
        Some(rate) => {
            let users_per_sec = rate / writes_per_user;
            report
                .metric(Metric::new("sustained writes/s", rate, "writes/s"))
                .metric(
                    Metric::new("sustained writes/s ÷ ceiling", rate / ceiling, "").at_least(0.95),
                )
                .metric(Metric::new("sustained users/s", users_per_sec, "users/s"))
                .metric(
                    Metric::new(
                        "sustained users/s ÷ mode's ceiling",
                        users_per_sec / user_ceiling,
                        "",
                    )
                    .at_least(0.95),
                );
        }
        None => {
            report.note(format!(
                "run too short for a sustained rate (last write at {last_write_at:.1} s, window {window} s): use more users"
            ));
        }
    }
    report
        .metric(Metric::new(
            "writes ÷ admissible (bucket + refill over run)",
            writes as f64 / admissible,
            "",
        ))
        .metric(Metric::new("429s received", counters.throttled as f64, ""))
        .metric(
            Metric::new("longest run of seconds with 429s", storm as f64, "s")
                .target("< 3 (no sustained storm)", storm < 3),
        )
        .metric(
            Metric::new("writes per enrolled user", writes_per_user, "writes")
                .at_most(mode.writes_target()),
        )
        .metric(Metric::new(
            "mode's minimum ÷ writes per user",
            min_writes / writes_per_user,
            "",
        ))
        .metric(Metric::new(
            "users/s over the whole run",
            enrolled as f64 / total,
            "users/s",
        ));
    let group_writes = counters.calls_with_status("PATCH /groups/{group}", 204)
        + counters.calls_with_status("POST /groups/{group}/members/$ref", 204);
    match mode {
        // Every planned action is one write.
        BackfillMode::PerUser => {
            report.metric(
                Metric::new(
                    "planned writes per enrolled user",
                    planned as f64 / enrolled.max(1) as f64,
                    "writes",
                )
                .target("= writes per user", planned as u64 == writes),
            );
        }
        BackfillMode::Tap | BackfillMode::TapHrMobile => {
            tap::metrics(&mut report, &counters, enrolled, planned, delivered)
        }
        // The group adds of many users share a write.
        BackfillMode::Group => {
            report
                .metric(Metric::new("group writes", group_writes as f64, "writes"))
                .metric(Metric::new(
                    "users per group write",
                    enrolled as f64 / group_writes.max(1) as f64,
                    "users",
                ));
        }
    }
    report.note(format!(
        "ceiling = {} writes / {} s = {ceiling:.0} writes/s, i.e. {user_ceiling:.1} users/s at the mode's minimum of {min_writes} writes per user; sustained = writes in the whole windows from {window} s to {:.0} s (last write at {last_write_at:.1} s); pacer headroom {}, writer pacer factor at end {:.2}",
        args.write_limit, window, window * (1.0 + whole.max(0.0)), pacing(args).headroom, pacer.factor
    ));

    // --- sequential baseline ---
    let n_base = args.baseline_users.min(args.users).max(1);
    let (sim, ids) = prepared_sim(args, mode, n_base).await?;
    let graph = graph_client(&sim, pacing(args), 1)?;
    graph.access_token().await?;
    let start = Instant::now();
    let (base, _) = run_users(mode, &graph, &sim, &ids, 1).await;
    let base_total = start.elapsed().as_secs_f64();
    let base_protected = protected_count(&sim, mode, &ids);
    sim.shutdown().await;
    let per_user = base_total / n_base as f64;
    let extrapolated = per_user * args.users as f64;
    report
        .metric(Metric::new(
            "baseline time per user",
            common::millis(Duration::from_secs_f64(per_user)),
            "ms",
        ))
        .metric(
            Metric::new("baseline users protected", base_protected as f64, "users")
                .at_least(n_base as f64),
        )
        .metric(Metric::new(
            "baseline time for N users (extrapolated)",
            extrapolated,
            "s",
        ))
        .metric(Metric::new("speed ÷ baseline", extrapolated / total, "×").at_least(20.0));
    let base_enrolled = base.iter().filter(|t| t.enrolled).count();
    report.note(format!(
        "baseline: one user at a time, read then write (the same Enroller::enroll_user, client limited to 1 request in flight), {n_base} users ({base_enrolled} enrolled) on a fresh simulator, extrapolated per user to {} users",
        args.users
    ));
    Ok(report.finish())
}
