//! `autoenroll local`: the project's main job with no cloud at all. A generated demo tenant
//! (or `--seed FILE`) in graph-sim, the local stack ([`stack`]) wired from the functions' own
//! handlers, a scenario played on it ([`scenario`]), and a summary computed from the outcomes
//! and cross-checked against the simulator ([`summary`]).

pub mod demo;
pub mod passkey_era;
pub mod scenario;
pub mod stack;
pub mod summary;

mod eras;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use autoenroll_core::policy::Policy;
use graph_sim::Seed;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use scenario::{Progress, ScenarioOptions};
use stack::{LocalStack, StackOptions};
use summary::{Inputs, LocalSummary};

/// What `autoenroll local` runs.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// Size of the generated demo tenant.
    pub users: usize,
    /// A tenant of your own instead (graph-sim seed JSON).
    pub seed: Option<PathBuf>,
    pub stack: StackOptions,
    /// Draw a live status line (only when stderr is a terminal).
    pub progress: bool,
    /// Write the simulator's final tenant state (JSON) here, to check the summary against.
    pub state_out: Option<PathBuf>,
    /// `--date`: after the scenario, move the simulator's clock to this date and play the
    /// passkey era (bootstrap with Temporary Access Passes; the policy must turn it on).
    pub date: Option<time::Date>,
}

/// `--date YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Result<time::Date, String> {
    time::Date::parse(text, &time::format_description::well_known::Iso8601::DATE)
        .map_err(|e| format!("expected YYYY-MM-DD: {e}"))
}

/// Step lines on stderr, above a live status line when stderr is a terminal.
struct Live {
    started: Instant,
    bar: ProgressBar,
}

impl Progress for Live {
    fn step(&self, message: &str) {
        let line = format!("[{:>5.1}s] {message}", self.started.elapsed().as_secs_f64());
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }
}

/// Runs the whole local job and returns its summary.
pub async fn run(options: &LocalOptions, policy: Policy) -> anyhow::Result<LocalSummary> {
    let started = Instant::now();
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if !options.progress {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
        bar.set_style(style);
    }
    let live = Live { started, bar };
    let (seed, label) = match &options.seed {
        Some(path) => (
            Seed::from_file(path).with_context(|| format!("--seed {}", path.display()))?,
            format!("seed {}", path.display()),
        ),
        None => (
            demo::tenant(options.users),
            format!("generated demo tenant, {} users", options.users),
        ),
    };
    let stack = LocalStack::start(seed, &label, policy, &options.stack).await?;
    live.step(&format!(
        "Graph simulator up: {}",
        stack.connected.description
    ));
    live.step(&format!(
        "webhook listening on {}; /users subscription {} (validation handshake answered)",
        stack.webhook_url,
        if stack.subscription.created {
            "created"
        } else {
            "kept"
        }
    ));
    let ticker = spawn_status(&live.bar, &stack);
    let result = drive(&stack, &live, started, options).await;
    ticker.abort();
    live.bar.finish_and_clear();
    stack.shutdown().await;
    result
}

async fn drive(
    stack: &LocalStack,
    live: &Live,
    started: Instant,
    options: &LocalOptions,
) -> anyhow::Result<LocalSummary> {
    let users = scenario::backfill(stack, Duration::from_secs(45), live).await?;
    let scenario_options = ScenarioOptions::for_tenant(users);
    let events = scenario::play(stack, &scenario_options, live).await?;
    live.step("settling: one more reconcile round, queue drained");
    if !scenario::quiesce(stack, Duration::from_secs(20)).await {
        live.step("warning: the pipeline did not settle; the summary shows the state as it is");
    }
    let control = stack
        .control()
        .context("the local stack has no simulator")?;
    let eras = match options.date {
        Some(date) => eras::play(stack, live, date, &events, scenario_options.new_hires).await?,
        None => Vec::new(),
    };
    let final_dump = control.dump();
    let state_out = options.state_out.as_deref();
    if let Some(path) = state_out {
        let text = serde_json::to_string_pretty(&final_dump)?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    let counters = control.counters();
    let notifications = control.notification_counters();
    let records = stack.audit.records();
    let subscription_writes = stack.subscription_writes();
    let summary = summary::compute(&Inputs {
        tenant: stack.connected.description.clone(),
        policy: &stack.policy,
        initial: &stack.initial_dump,
        final_dump: &final_dump,
        records: &records,
        events: &events,
        simulator_writes: counters.writes,
        subscription_writes,
        notifications_delivered: notifications.delivered,
        notifications_dropped: notifications.dropped,
        dead_letters: stack.dead_letters(),
        wall_time_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    });
    let summary = LocalSummary { eras, ..summary };
    live.step("done");
    Ok(summary)
}

/// Refreshes the status line: queue depth, outcomes so far, Graph writes.
fn spawn_status(bar: &ProgressBar, stack: &LocalStack) -> tokio::task::JoinHandle<()> {
    let bar = bar.clone();
    let queue = stack.queue.clone();
    let audit = stack.audit.clone();
    let control = stack.control();
    tokio::spawn(async move {
        loop {
            let writes = control.as_ref().map_or(0, |c| c.counters().writes);
            bar.set_message(format!(
                "queue {:>4} · outcomes {:>5} · Graph writes {:>5}",
                queue.len(),
                audit.records().len(),
                writes
            ));
            bar.tick();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}
