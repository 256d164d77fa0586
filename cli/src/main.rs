//! `autoenroll`: the operator CLI. Thin: clap parses, the library does the work.

use std::process::ExitCode;

use autoenroll_cli::phone_check;
use autoenroll_core::phone::RegionCode;
use clap::{Args, Parser, Subcommand};

/// Exit codes, as the help text documents them.
mod exit {
    /// The command ran and found problems (rejected numbers, failed users, doctor findings).
    pub const PROBLEMS: u8 = 1;
    /// Bad invocation or configuration (clap also exits 2 on usage errors).
    pub const CONFIG: u8 = 2;
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
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::CONFIG)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Phone(args) => phone(args),
    }
}

fn phone(args: PhoneArgs) -> anyhow::Result<ExitCode> {
    let region = args
        .region
        .as_deref()
        .map(str::parse::<RegionCode>)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--region: {e}"))?;
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
