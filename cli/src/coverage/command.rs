//! The `autoenroll report` command: flags, the run, what it prints. (Here rather than in
//! main.rs so the binary stays a thin clap front.)

use std::path::PathBuf;

use clap::Args;
use time::Date;

use super::{Readiness, ReportOptions, SourceChoice};
use crate::backfill::StopFlag;
use crate::config::{self, PolicyFlags};
use crate::doctor;
use crate::tenant::TenantFlags;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Directory for the reports (created if missing).
    #[arg(long, value_name = "DIR", default_value = "autoenroll-reports")]
    pub out: PathBuf,
    /// The day the report describes, YYYY-MM-DD (default: today, UTC). States and days left
    /// are computed for it: `--date 2027-02-01` shows who breaks on the retirement day.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub date: Option<Date>,
    /// At most this many non-administrator rows in the HTML's at-risk table (administrators
    /// are always all shown); the CSV and JSON always hold every user.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    pub html_rows: usize,
    /// Where methods are read from: `auto` uses the registration report (one call per 999
    /// users; needs Entra ID P1/P2 and AuditLog.Read.All) and falls back to per-user reads;
    /// `per-user` always reads each user's method list.
    #[arg(long, value_enum, default_value_t = SourceChoice::Auto)]
    pub source: SourceChoice,
    /// Also read autoenroll's own memory and audit from the deployed stack's DynamoDB table
    /// (AWS credentials from the environment): per user, whether autoenroll registered the
    /// phone and its last outcome.
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
    /// Leave the readiness checks (`doctor`) out of the report.
    #[arg(long)]
    pub no_checks: bool,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
    #[command(flatten)]
    pub tenant: TenantFlags,
}

fn parse_date(text: &str) -> Result<Date, String> {
    Date::parse(text, &time::format_description::well_known::Iso8601::DATE)
        .map_err(|e| format!("expected YYYY-MM-DD: {e}"))
}

/// What the command ended with (the binary maps it to an exit status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Every user read.
    Complete,
    /// Some users could not be read, or Graph refused the app.
    Problems,
    Interrupted,
}

/// Runs the report; prints the summary to stdout and the file names.
pub async fn run(args: ReportArgs, policy_flags: &PolicyFlags) -> anyhow::Result<Ending> {
    let (policy, source) = policy_flags.load()?;
    let policy_line = format!("{source} ({})", config::describe(&policy));
    let connected = args.tenant.connect().await?;
    let today = args
        .date
        .unwrap_or_else(|| time::OffsetDateTime::now_utc().date());
    let result = async {
        // The report's telephony view comes from the same policy read as doctor's rows; without
        // it (no permission) dates apply as if no provider were configured, and the page says
        // the provider was not read.
        let telephony = crate::readiness::read_policy(&connected.graph)
            .await
            .ok()
            .map(|p| crate::readiness::telephony_view(&p));
        let readiness = Readiness {
            checks: if args.no_checks {
                vec![]
            } else {
                doctor::run(&connected.graph, &policy, None).await
            },
            telephony,
        };
        let options = ReportOptions {
            out: args.out.clone(),
            concurrency: args.tenant.concurrency,
            progress: !args.no_progress,
            today,
            html_rows: args.html_rows,
            tenant: connected.description.clone(),
            policy_line,
            source: args.source,
        };
        eprintln!("Reporting on {} as of {today}", connected.description);
        let own = match &args.table {
            Some(name) => Some(super::own::open_table(name, &connected.tenant_id).await?),
            None => None,
        };
        let stop = StopFlag::default();
        stop.on_ctrl_c();
        let own = own.as_ref().map(|t| t as &dyn super::own::OwnRecords);
        super::run_with(&connected.graph, &policy, &options, &readiness, own, &stop).await
    }
    .await;
    connected.close().await;
    let run = result?;
    println!("Data: {}", run.source.summary);
    print!("{}", super::render_totals(&run.totals));
    println!(
        "Report: {}, {} and {} ({} users in {:.1} s)",
        run.files.html.display(),
        run.files.csv.display(),
        run.files.json.display(),
        run.totals.users,
        run.elapsed.as_secs_f64()
    );
    if let Some(reason) = &run.aborted {
        eprintln!("error: stopped: {reason}");
        return Ok(Ending::Problems);
    }
    if run.interrupted {
        return Ok(Ending::Interrupted);
    }
    if run
        .totals
        .by_state
        .get(super::NOT_READ)
        .copied()
        .unwrap_or(0)
        > 0
    {
        eprintln!("Some users could not be read (state notRead in the report); run it again.");
        return Ok(Ending::Problems);
    }
    Ok(Ending::Complete)
}
