//! `autoenroll`: the operator CLI. Thin: clap parses, the library does the work.

use std::process::ExitCode;

use std::path::PathBuf;

use anyhow::Context;
use autoenroll_cli::backfill::{self, BackfillOptions, Mode, StopFlag};
use autoenroll_cli::config::{self, PolicyFlags};
use autoenroll_cli::phone_check;
use autoenroll_cli::report::{self, Decision, ReportDocument, Totals};
use autoenroll_cli::stores::{LocalFiles, RunStores, TableStores};
use autoenroll_cli::tenant::{Connected, TenantFlags};
use autoenroll_core::phone::RegionCode;
use autoenroll_core::policy::Policy;
use clap::{Args, Parser, Subcommand};

/// Exit codes, as the help text documents them.
mod exit {
    /// The command ran and found problems (rejected numbers, failed users, doctor findings).
    pub const PROBLEMS: u8 = 1;
    /// Bad invocation or configuration (clap also exits 2 on usage errors).
    pub const CONFIG: u8 = 2;
    /// Stopped by Ctrl-C.
    pub const INTERRUPTED: u8 = 130;
}

#[derive(Debug, Parser)]
#[command(
    name = "autoenroll",
    version,
    about = "Register every Entra ID user's mobile number as their MFA phone and switch MFA on",
    long_about = "autoenroll registers each Microsoft Entra ID user's mobile number (from AD or HR \
provisioning) as their MFA phone method, makes SMS their default second factor and enables MFA \
- without ever locking anyone out, overwriting a phone a user registered themselves, or touching \
break-glass accounts.\n\nThis CLI checks numbers before a rollout, previews and runs a backfill \
against a tenant, checks an installation, and runs the whole pipeline on a simulated tenant.",
    after_help = "Exit status: 0 = all good, 1 = the command ran and found problems, \
2 = bad invocation or configuration.\nLogs go to stderr (-v, -vv, or RUST_LOG); \
results go to stdout."
)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(flatten)]
    policy: PolicyFlags,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show how phone numbers from AD would be read: Graph format and kind, or why rejected.
    #[command(
        long_about = "Show how raw phone values (as they sit in AD's `mobile` attribute or an HR \
export) are read: the Graph format (+{country code} {number}) and the kind of line, or the \
reason the value is rejected. Uses exactly the normalisation enrollment uses.\n\n\
Exit status 1 when any value is rejected.",
        after_help = "Examples:\n  autoenroll phone --region NL \"06-1234 5678\" \"+31 (0)20 555 0101\"\n  \
autoenroll phone \"+1 (206) 555-0100 x12\" n/a"
    )]
    Phone(PhoneArgs),
    /// Dry run: what autoenroll would do for every user, as a CSV and JSON report.
    #[command(
        long_about = "Dry run of the backfill: reads every user (or only administrators) \
and writes what autoenroll would do - the actions, or the reason a user is skipped - to a CSV \
and a JSON report (UPN, masked number, actions or skip reason). Nothing is changed.\n\n\
Without --tenant-id/--client-id it runs against a simulated Contoso tenant in this process."
    )]
    Plan(RunArgs),
    /// Backfill: enroll every user now, paced under Graph's quota, with a progress bar.
    #[command(long_about = "Backfill: reads, plans and enrolls every user (or only \
administrators with --only-admins) exactly as the enroll function does, paced under Graph's \
write quota, with a progress bar (users done/total, writes per second, ETA) and a report.\n\n\
Safe to interrupt (Ctrl-C finishes the users in progress) and to run again: users that are \
done plan to nothing and are not written to again.")]
    Apply(RunArgs),
    /// Check the configuration and the tenant: token, permissions, subscription, exclusions.
    #[command(
        long_about = "Check the configuration and the tenant before trusting them: the \
policy, that a token can be obtained, the app's granted roles against what the policy needs \
(missing and excessive), the /users change-notification subscription and its expiry, the MFA \
mode, and that every break-glass exclusion names a user or group that exists.\n\n\
Exit status 1 when a check fails (warnings do not fail)."
    )]
    Doctor(DoctorArgs),
    /// MFA coverage and SMS/voice readiness of every user: CSV, JSON and one HTML page.
    #[command(
        long_about = "MFA coverage of every user, for administrators and auditors: \
protected by a phishing-resistant method, by other MFA, by SMS/voice only (and the day that \
stops working: 2027-02-01, 2027-07-01 for Global Administrators and external users, unless a \
telecom provider is in production), bootstrap pending, stuck (and why), or excluded - with \
administrators marked and what to do next. Writes a CSV, a JSON and one self-contained HTML \
page (charts, the at-risk table with administrators first, the readiness checks of `doctor`) \
that prints to PDF. Read-only, paced under Graph's read quota.\n\n\
Without --tenant-id/--client-id it runs against a simulated Contoso tenant in this process.\n\n\
Exit status 1 when some users could not be read."
    )]
    Report(autoenroll_cli::coverage::command::ReportArgs),
    /// Run the whole pipeline on a simulated tenant, with no cloud: the main demo.
    #[command(
        long_about = "Run the whole autoenroll pipeline on a simulated tenant, with no \
cloud and nothing to configure: a generated demo tenant (several countries and number formats, \
users without numbers, guests, disabled accounts, break-glass accounts, self-registered phones, \
administrators) in the Graph simulator, the webhook on loopback, the /users subscription created \
through the real validation handshake, the enroll and reconcile functions with an in-memory \
queue and stores. It backfills every user, then plays a scenario - new hires arrive, numbers \
change, one notification is dropped - and prints a summary that is cross-checked against the \
simulator's final state.\n\nExit status 1 when a scenario user is not protected, a user fails, \
or the outcomes and the simulator disagree."
    )]
    Local(LocalArgs),
}

#[derive(Debug, Args)]
struct LocalArgs {
    /// Users in the generated demo tenant.
    #[arg(long, value_name = "N", default_value_t = 300, value_parser = clap::value_parser!(u64).range(10..=20_000))]
    users: u64,
    /// A tenant of your own (graph-sim seed JSON, see tests/graph-sim/README.md) instead of
    /// the generated one. Pair it with --config for its break-glass accounts and region.
    #[arg(long, value_name = "FILE")]
    seed: Option<PathBuf>,
    /// Print the summary as JSON on stdout (progress still goes to stderr).
    #[arg(long)]
    json: bool,
    /// Enroll pollers at once (the SQS event source's MaximumConcurrency).
    #[arg(long, value_name = "N", default_value_t = 4)]
    workers: usize,
    /// Seconds between reconcile sweeps (every 60 in AWS).
    #[arg(long, value_name = "SECS", default_value_t = 3)]
    reconcile_every: u64,
    /// No live status line.
    #[arg(long)]
    no_progress: bool,
    /// Also write the simulator's final tenant state (JSON) to FILE, to check the summary
    /// against. It holds the demo tenant's (fictitious) phone numbers in clear.
    #[arg(long, value_name = "FILE")]
    state_out: Option<PathBuf>,
    /// Then play the passkey era: the simulator's clock moves to DATE (after the SMS/voice
    /// retirement; no telecom provider) and new hires get a Temporary Access Pass instead of
    /// a phone. The demo policy turns the TAP bootstrap on for such a run.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = autoenroll_cli::local::parse_date)]
    date: Option<time::Date>,
}

#[derive(Debug, Args)]
struct DoctorArgs {
    /// The webhook's Function URL: fail unless a /users subscription points at it.
    #[arg(long, value_name = "URL")]
    notification_url: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    tenant: TenantFlags,
}

/// What `plan` and `apply` share.
#[derive(Debug, Args)]
struct RunArgs {
    /// Only members of directory roles (Global Administrator, …): run this first to protect
    /// the admin accounts, then run again without it for everyone.
    #[arg(long)]
    only_admins: bool,
    /// Directory for the reports (created if missing).
    #[arg(long, value_name = "DIR", default_value = "autoenroll-reports")]
    out: PathBuf,
    /// Keep memory and audit in the deployed stack's DynamoDB table (AWS credentials from the
    /// environment), so the Lambda functions know which phones the CLI registered.
    #[arg(long, value_name = "NAME")]
    table: Option<String>,
    /// Without --table: the local file remembering which phones autoenroll registered (hashes
    /// only, no numbers). Unused with a simulated tenant.
    #[arg(long, value_name = "FILE", default_value = "autoenroll-memory.json")]
    state_file: PathBuf,
    /// No progress bar.
    #[arg(long)]
    no_progress: bool,
    #[command(flatten)]
    tenant: TenantFlags,
}

#[derive(Debug, Args)]
struct PhoneArgs {
    /// Region for numbers written without a country code (ISO 3166-1 alpha-2, e.g. NL, US, GB).
    /// Without it, only international numbers (+…) are accepted — as in enrollment without a
    /// default region.
    #[arg(long, value_name = "XX")]
    region: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// The raw values to check (quote values with spaces).
    #[arg(required = true, value_name = "NUMBER")]
    numbers: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(exit::CONFIG);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::CONFIG)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Phone(args) => phone(args, &cli.policy),
        Command::Plan(args) => backfill_command(Mode::Plan, args, &cli.policy).await,
        Command::Apply(args) => backfill_command(Mode::Apply, args, &cli.policy).await,
        Command::Doctor(args) => doctor(args, &cli.policy).await,
        Command::Local(args) => local(args, &cli.policy).await,
        Command::Report(args) => {
            use autoenroll_cli::coverage::command::{self, Ending};
            Ok(match command::run(args, &cli.policy).await? {
                Ending::Complete => ExitCode::SUCCESS,
                Ending::Problems => ExitCode::from(exit::PROBLEMS),
                Ending::Interrupted => ExitCode::from(exit::INTERRUPTED),
            })
        }
    }
}

fn phone(args: PhoneArgs, policy: &PolicyFlags) -> anyhow::Result<ExitCode> {
    let region = match args.region.as_deref() {
        Some(r) => Some(
            r.parse::<RegionCode>()
                .map_err(|e| anyhow::anyhow!("--region: {e}"))?,
        ),
        // The region enrollment itself would use.
        None => policy.load()?.0.default_region,
    };
    let checks = phone_check::check_all(&args.numbers, region);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&checks)?);
    } else {
        print!("{}", phone_check::render_table(&checks));
    }
    let rejected = checks.iter().filter(|c| c.is_rejected()).count();
    if rejected > 0 {
        eprintln!(
            "{rejected} of {} value(s) rejected: these users would be skipped and reported.",
            checks.len()
        );
        return Ok(ExitCode::from(exit::PROBLEMS));
    }
    Ok(ExitCode::SUCCESS)
}

async fn backfill_command(
    mode: Mode,
    args: RunArgs,
    policy_flags: &PolicyFlags,
) -> anyhow::Result<ExitCode> {
    let (policy, source) = policy_flags.load()?;
    let policy_line = format!("{source} ({})", config::describe(&policy));
    let connected = args.tenant.connect().await?;
    let result = backfill_with(mode, &args, policy, &policy_line, &connected).await;
    connected.close().await;
    result
}

async fn backfill_with(
    mode: Mode,
    args: &RunArgs,
    policy: Policy,
    policy_line: &str,
    connected: &Connected,
) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating the report directory {}", args.out.display()))?;
    let table = match &args.table {
        Some(name) => {
            let aws = autoenroll_aws::config::load(None).await;
            let store = autoenroll_aws::dynamo::DynamoStore::new(
                autoenroll_aws::config::dynamodb_client(&aws),
                name.clone(),
            );
            let bootstrap = autoenroll_aws::delivery::bootstrap_for(&policy, &aws, store.clone());
            Some(TableStores { store, bootstrap })
        }
        None => None,
    };
    let files = LocalFiles {
        state_file: &args.state_file,
        out: &args.out,
    };
    let stores = RunStores::open(mode, &policy, table, files, connected.is_simulated()).await?;
    let enroller = stores.enroller(connected, policy);
    let stop = StopFlag::default();
    stop.on_ctrl_c();
    let options = BackfillOptions {
        mode,
        only_admins: args.only_admins,
        concurrency: args.tenant.concurrency,
        progress: !args.no_progress,
    };
    eprintln!(
        "{} {}; policy: {policy_line}",
        if mode == Mode::Plan {
            "Planning for"
        } else {
            "Applying to"
        },
        connected.description
    );
    let run = backfill::run(&enroller, &options, &stop).await?;
    let totals = Totals::of(&run.rows);
    let kind = match mode {
        Mode::Plan => "plan",
        Mode::Apply => "apply",
    };
    let document = ReportDocument {
        kind,
        generated_at: now_rfc3339(),
        tenant: &connected.description,
        policy: policy_line,
        interrupted: run.interrupted,
        totals: &totals,
        users: &run.rows,
    };
    let (csv, json) = report::write(&args.out, &document)?;
    print!("{}", totals.render());
    if mode == Mode::Apply {
        let secs = run.elapsed.as_secs_f64();
        println!(
            "Graph writes: {} in {:.1} s ({:.1}/s)",
            run.writes,
            secs,
            run.writes as f64 / secs.max(0.001)
        );
    }
    println!("Report: {} and {}", csv.display(), json.display());
    if let Some(reason) = &run.aborted {
        eprintln!("error: stopped: {reason}");
        return Ok(ExitCode::from(exit::PROBLEMS));
    }
    if run.interrupted {
        eprintln!(
            "Interrupted after {} user(s). Run the same command again to continue: users \
             already done plan to nothing and are not written again.",
            run.rows.len()
        );
        return Ok(ExitCode::from(exit::INTERRUPTED));
    }
    if totals.count(Decision::Failed) > 0 {
        eprintln!(
            "{} user(s) failed; see the report. A rerun tries them again.",
            totals.count(Decision::Failed)
        );
        return Ok(ExitCode::from(exit::PROBLEMS));
    }
    Ok(ExitCode::SUCCESS)
}

async fn doctor(args: DoctorArgs, policy_flags: &PolicyFlags) -> anyhow::Result<ExitCode> {
    let (policy, source) = policy_flags.load()?;
    let connected = args.tenant.connect().await?;
    let checks =
        autoenroll_cli::doctor::run(&connected.graph, &policy, args.notification_url.as_deref())
            .await;
    connected.close().await;
    let mut checks = checks;
    checks.insert(
        0,
        autoenroll_cli::doctor::Check {
            check: "policy".into(),
            status: autoenroll_cli::doctor::Status::Ok,
            detail: format!("{source}: {}", config::describe(&policy)),
        },
    );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&checks)?);
    } else {
        print!("{}", autoenroll_cli::doctor::render(&checks));
    }
    let count = |s| checks.iter().filter(|c| c.status == s).count();
    let (failed, warned) = (
        count(autoenroll_cli::doctor::Status::Fail),
        count(autoenroll_cli::doctor::Status::Warn),
    );
    eprintln!("doctor: {failed} problem(s), {warned} warning(s)");
    Ok(if failed > 0 {
        ExitCode::from(exit::PROBLEMS)
    } else {
        ExitCode::SUCCESS
    })
}

async fn local(args: LocalArgs, policy_flags: &PolicyFlags) -> anyhow::Result<ExitCode> {
    use autoenroll_cli::local;
    let demo_policy = match args.date {
        Some(_) => local::demo::passkey_era_policy_toml(),
        None => local::demo::policy_toml(),
    };
    let default = args.seed.is_none().then_some((
        demo_policy.as_str(),
        "the demo policy (NL region, break-glass excluded)",
    ));
    let (policy, source) = policy_flags.load_or(default)?;
    eprintln!("policy: {source} ({})", config::describe(&policy));
    let options = local::LocalOptions {
        users: usize::try_from(args.users).unwrap_or(300),
        seed: args.seed,
        stack: local::stack::StackOptions {
            workers: args.workers.max(1),
            reconcile_every: std::time::Duration::from_secs(args.reconcile_every.max(1)),
            ..local::stack::StackOptions::default()
        },
        progress: !args.no_progress && !args.json,
        state_out: args.state_out,
        date: args.date,
    };
    let summary = local::run(&options, policy).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", local::summary::render(&summary));
    }
    if summary.ok() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "local: the run did not do what it promises (see the summary: unprotected scenario \
             users, failures, or a disagreement with the simulator)"
        );
        Ok(ExitCode::from(exit::PROBLEMS))
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Logs to stderr, `warn` by default so stdout stays the result; `RUST_LOG` wins.
fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info,autoenroll=info",
        _ => "debug,hyper=info,rustls=info,h2=info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
