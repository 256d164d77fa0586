//! `bench`: autoenroll's benchmark driver (issue 8). Runs scenarios against the Graph
//! simulator, prints a Markdown table and writes the figures as JSON.
//!
//! ```sh
//! cargo run --release -p bench -- [--scenario NAME] [--users N] [--json FILE]
//! ```
//!
//! Scenarios: `backfill` (1), `webhook` (2), `coldstart` (3), `scale` (4), `exposure` (5),
//! `all` (default). Figures are printed, never asserted: see BENCHMARKS.md for the latest run.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, ValueEnum};

mod backfill;
mod coldstart;
mod common;
mod exposure;
mod lambda_api;
mod report;
mod scale;
mod webhook;

use report::{Machine, RunReport};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    All,
    Backfill,
    Scale,
    Webhook,
    Exposure,
    Coldstart,
}

#[derive(Debug, Parser)]
#[command(
    name = "bench",
    about = "autoenroll benchmarks against the Graph simulator"
)]
struct Args {
    /// Which scenarios to run (comma separated).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "all")]
    scenario: Vec<Scenario>,
    /// MFA modes of the backfill scenario (comma separated), each run with its own baseline.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "per-user,group,tap"
    )]
    backfill_modes: Vec<backfill::BackfillMode>,
    /// Users to backfill (scenario 1).
    #[arg(long, default_value_t = 5_000)]
    users: usize,
    /// Users the sequential baseline enrolls; its time is extrapolated per user.
    #[arg(long, default_value_t = 200)]
    baseline_users: usize,
    /// Users in flight in the backfill engine (and Graph requests in flight). The bench's
    /// quota refills ten times faster than Graph's, so it needs ten times the users in flight
    /// a real backfill needs: at ~0.65 s per user, group mode's 190 users/s needs ~130.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Latency the simulator adds to every Graph call, in ms.
    #[arg(long, default_value_t = 80)]
    latency_ms: u64,
    /// Write quota window in seconds (Graph: 150; 15 runs ten times faster, same shape).
    #[arg(long, default_value_t = 15)]
    write_window_secs: u64,
    /// Pacer headroom for the backfill (default: the Graph client's default).
    #[arg(long)]
    pacer_headroom: Option<f64>,
    /// Tenant sizes the scale scenario plans over (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    scale_sizes: Vec<usize>,
    /// Users read and planned at once in the scale scenario.
    #[arg(long, default_value_t = 32)]
    scale_concurrency: usize,
    /// Runs per scale size (fastest time and highest peak RSS reported).
    #[arg(long, default_value_t = 2)]
    scale_repeats: usize,
    /// Webhook notification POSTs per second.
    #[arg(long, default_value_t = 500)]
    webhook_rate: u32,
    /// Seconds of webhook load.
    #[arg(long, default_value_t = 20)]
    webhook_secs: u32,
    /// New users created in each exposure phase.
    #[arg(long, default_value_t = 200)]
    exposure_users: usize,
    /// New users created per second in the exposure scenario.
    #[arg(long, default_value_t = 20.0)]
    exposure_rate: f64,
    /// Reconcile sweep interval of the local stack, in seconds (60 in AWS).
    #[arg(long, default_value_t = 3.0)]
    sweep_secs: f64,
    /// Enroll pollers in the exposure scenario (the SQS event source's MaximumConcurrency).
    #[arg(long, default_value_t = 4)]
    exposure_workers: usize,
    /// Graph requests in flight for the whole local stack. Default: 16 per poller, as each
    /// Lambda instance has its own client with 16.
    #[arg(long)]
    exposure_graph_concurrency: Option<usize>,
    /// Where the functions' release binaries are (default: next to this binary, i.e.
    /// target/release after `cargo build --release -p autoenroll-webhook -p autoenroll-enroll
    /// -p autoenroll-subscriptions -p autoenroll-reconcile`).
    #[arg(long)]
    functions_dir: Option<PathBuf>,
    /// Cold starts per function.
    #[arg(long, default_value_t = 5)]
    coldstart_runs: usize,
    /// Functions the cold-start scenario starts (comma separated; default all four).
    #[arg(long, value_delimiter = ',')]
    coldstart_functions: Vec<String>,
    /// Where to write the JSON report.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    // The scale scenario re-runs this binary as its planner (peak RSS of its own).
    if std::env::args().nth(1).as_deref() == Some(scale::CHILD_ARG) {
        return scale::child_main();
    }
    let args = Args::parse();
    init_logs();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(run(args))
}

/// JSON logs at INFO, as the functions write them in Lambda, formatted into a sink: the
/// figures include what logging costs, and the terminal only shows the report.
fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_writer(std::io::sink)
        .try_init();
}

fn wants(args: &Args, s: Scenario) -> bool {
    args.scenario.contains(&Scenario::All) || args.scenario.contains(&s)
}

async fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let started_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut run = RunReport {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        started_at,
        duration_secs: 0.0,
        machine: Machine::probe(),
        scenarios: Vec::new(),
    };
    if wants(&args, Scenario::Backfill) {
        let b = backfill::BackfillArgs {
            modes: args.backfill_modes.clone(),
            users: args.users,
            baseline_users: args.baseline_users,
            concurrency: args.concurrency,
            latency_ms: args.latency_ms,
            write_window: Duration::from_secs(args.write_window_secs.max(1)),
            headroom: args.pacer_headroom,
            ..backfill::BackfillArgs::default()
        };
        eprintln!("bench: scenario 1 (backfill), {} users…", b.users);
        run.scenarios.extend(backfill::run(&b).await?);
    }
    if wants(&args, Scenario::Webhook) {
        let w = webhook::WebhookArgs {
            rate: args.webhook_rate,
            secs: args.webhook_secs,
            handler_calls: (args.webhook_rate * args.webhook_secs) as usize,
        };
        eprintln!(
            "bench: scenario 2 (webhook), {} POST/s for {} s…",
            w.rate, w.secs
        );
        run.scenarios.push(webhook::run(&w).await?);
    }
    if wants(&args, Scenario::Scale) {
        let s = scale::ScaleArgs {
            sizes: args.scale_sizes.clone(),
            concurrency: args.scale_concurrency,
            repeats: args.scale_repeats,
        };
        run.scenarios.push(scale::run(&s).await?);
    }
    if wants(&args, Scenario::Exposure) {
        let e = exposure::ExposureArgs {
            users: args.exposure_users,
            create_rate: args.exposure_rate,
            sweep: Duration::from_secs_f64(args.sweep_secs.max(0.1)),
            latency_ms: args.latency_ms,
            workers: args.exposure_workers,
            graph_concurrency: args
                .exposure_graph_concurrency
                .unwrap_or(16 * args.exposure_workers.max(1)),
        };
        eprintln!(
            "bench: scenario 5 (exposure), {} new users per phase…",
            e.users
        );
        run.scenarios.push(exposure::run(&e).await?);
    }
    if wants(&args, Scenario::Coldstart) {
        let dir = match &args.functions_dir {
            Some(d) => d.clone(),
            None => std::env::current_exe()?
                .parent()
                .map(PathBuf::from)
                .unwrap_or_default(),
        };
        let c = coldstart::ColdStartArgs {
            dir,
            runs: args.coldstart_runs,
            functions: if args.coldstart_functions.is_empty() {
                coldstart::FUNCTIONS
                    .iter()
                    .map(|f| (*f).to_owned())
                    .collect()
            } else {
                args.coldstart_functions.clone()
            },
        };
        eprintln!(
            "bench: scenario 3 (cold start), binaries in {}…",
            c.dir.display()
        );
        run.scenarios.push(coldstart::run(&c).await?);
    }
    run.machine.load_at_end = report::load_average();
    run.duration_secs = started.elapsed().as_secs_f64();
    print!("{}", report::markdown(&run));
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&run)?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("bench: JSON written to {}", path.display());
    }
    Ok(())
}
