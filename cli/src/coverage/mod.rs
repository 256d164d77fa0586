//! `autoenroll report`: the MFA coverage of every user — protected by a phishing-resistant
//! method, by other MFA, by SMS/voice only (and the day that breaks), bootstrap pending, stuck
//! (and why), excluded — with what to do next, as CSV, JSON and one self-contained HTML page.
//!
//! The decision per user is `autoenroll_core::coverage::classify` (pure, shared); this module
//! only reads Graph, streams rows to the outputs and draws a progress bar.
//!
//! Memory stays flat however large the tenant: users arrive page by page (`GET /users`, 999 a
//! page), each row is written to the CSV and JSON files as soon as it is classified, and only
//! counters, the (few) administrators' at-risk rows and the tenant's admin ids stay in memory.
//! The HTML's at-risk table is capped (`--html-rows`, all administrators always shown first):
//! non-admin rows are pre-rendered into a temporary file in the output directory and copied into
//! the page at the end. The cap is a choice for the reader, not for memory — a 100,000-row table
//! prints as thousands of PDF pages nobody reads; the page says how many rows it leaves out and
//! points to the CSV, which holds every user.

pub mod command;
pub mod html;
pub mod own;
pub mod read;
pub mod registration;
pub mod sink;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use autoenroll_core::coverage::{Provider, State, Telephony};
use autoenroll_core::policy::Policy;
use autoenroll_graph::GraphClient;
use futures::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use time::Date;

use crate::backfill::StopFlag;
use crate::doctor::Check;

pub use sink::{CoverageTotals, ReportFiles};

/// One user's line in every output. Numbers are masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CoverageRow {
    pub user_principal_name: String,
    pub display_name: String,
    pub user_id: String,
    /// `member` or `guest`.
    pub user_type: String,
    /// Holds any directory role.
    pub is_admin: bool,
    pub is_global_admin: bool,
    /// A [`State`] code, or `notRead` when Graph could not be read for this user.
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub methods: Vec<String>,
    /// Registered phone(s), else the directory mobile; masked (`+31 6******78`).
    pub masked_number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaks_on: Option<String>,
    pub next_step: String,
    /// Where this user's methods came from.
    pub method_source: MethodSource,
    /// What autoenroll itself did (`--table`), when a table was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autoenroll: Option<own::OwnRecord>,
    /// Status and Graph error code when the user could not be read (never Graph's message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl CoverageRow {
    /// Someone has to act or wait: stuck, not read, SMS/voice only with a date, or nothing but
    /// a Temporary Access Pass yet (as `autoenroll_core::coverage::Coverage::is_at_risk`).
    pub fn is_at_risk(&self) -> bool {
        self.state == State::Stuck.code()
            || self.state == NOT_READ
            || self.state == State::BootstrapPending.code()
            || (self.state == State::SmsVoiceOnly.code() && self.breaks_on.is_some())
    }
}

/// The state code of a user Graph could not be read for.
pub const NOT_READ: &str = "notRead";

/// Where the report's method data comes from (registration.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DataSource {
    /// `GET /reports/authenticationMethods/userRegistrationDetails`, one call per page; method
    /// lists only where it falls short.
    RegistrationReport,
    /// `GET /users/{id}/authentication/methods` for each user.
    PerUserMethods,
}

impl DataSource {
    pub fn describe(self) -> &'static str {
        match self {
            DataSource::RegistrationReport => {
                "registration report (GET /reports/authenticationMethods/userRegistrationDetails, \
                 one call per page), with a user's own method list only where it falls short"
            }
            DataSource::PerUserMethods => {
                "per-user method reads (GET /users/{id}/authentication/methods)"
            }
        }
    }
}

/// Where one user's methods came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum MethodSource {
    RegistrationReport,
    /// The user's own method list (the fallback, or where the registration report falls short).
    MethodList,
    /// Not read (excluded by policy, or the read failed).
    None,
}

impl MethodSource {
    pub fn code(self) -> &'static str {
        match self {
            MethodSource::RegistrationReport => "registrationReport",
            MethodSource::MethodList => "methodList",
            MethodSource::None => "",
        }
    }
}

/// Which source to use (`--source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SourceChoice {
    /// The registration report when the tenant and the app allow it, else per-user reads.
    #[default]
    Auto,
    /// Per-user method reads even where the registration report is available.
    PerUser,
}

#[derive(Debug, Clone)]
pub struct ReportOptions {
    pub out: PathBuf,
    /// Users read at once (the client's pacer keeps the total under the read quota).
    pub concurrency: usize,
    pub progress: bool,
    /// The day the report describes (states and days left are computed for it).
    pub today: Date,
    /// At most this many non-admin at-risk rows in the HTML table.
    pub html_rows: usize,
    /// What the report says it describes (tenant and how it was reached).
    pub tenant: String,
    pub policy_line: String,
    pub source: SourceChoice,
}

/// What a report run produced.
#[derive(Debug)]
pub struct ReportRun {
    pub files: ReportFiles,
    pub source: Source,
    pub totals: CoverageTotals,
    pub interrupted: bool,
    /// Stopped because Graph refused the app (401/403).
    pub aborted: Option<String>,
    pub elapsed: Duration,
}

/// Extra sections of the page besides the users: readiness checks and Secure Score.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Readiness {
    pub checks: Vec<Check>,
    pub telephony: Option<Telephony>,
}

/// Page size for `GET /users` (Graph's maximum).
const PAGE_SIZE: u32 = 999;

/// Reads every user, classifies, and writes the CSV, JSON and HTML reports.
pub async fn run(
    graph: &GraphClient,
    policy: &Policy,
    options: &ReportOptions,
    readiness: &Readiness,
    stop: &StopFlag,
) -> anyhow::Result<ReportRun> {
    run_with(graph, policy, options, readiness, None, stop).await
}

/// [`run`], with autoenroll's own records (`--table`) beside Graph's.
pub async fn run_with(
    graph: &GraphClient,
    policy: &Policy,
    options: &ReportOptions,
    readiness: &Readiness,
    own: Option<&dyn own::OwnRecords>,
    stop: &StopFlag,
) -> anyhow::Result<ReportRun> {
    let started = Instant::now();
    let bar = progress_bar(options.progress);
    // Without RoleManagement.Read.Directory the report still runs; it says administrators are
    // unknown rather than claiming there are none.
    let (admins, admin_note) = match read::admins(graph).await {
        Ok(admins) => (admins, None),
        Err(e) if e.is_forbidden() => (
            read::Admins::default(),
            Some(
                "Administrators could not be identified (the app lacks \
                 RoleManagement.Read.Directory): nobody is marked admin, and Global \
                 Administrators' later retirement date (2027-07-01) is not applied."
                    .to_owned(),
            ),
        ),
        Err(e) => return Err(e.into()),
    };
    let telephony = readiness.telephony.unwrap_or_default();
    let loaded = match options.source {
        SourceChoice::Auto => {
            let mut listed = 0;
            registration::load(graph, stop, |n| {
                listed += n;
                bar.set_message(format!("(registration report: {listed} users)"));
            })
            .await?
        }
        SourceChoice::PerUser => Err(registration::Fallback::Asked),
    };
    let (index, source) = match &loaded {
        Ok(index) => (Some(index), Source::registration(index)),
        Err(fallback) => (None, Source::fallback(*fallback)),
    };
    let reader = read::Reader {
        graph,
        policy,
        admins: &admins,
        telephony,
        today: options.today,
        index,
        own,
    };
    let mut sink = sink::Sink::create(options, source, own.is_some())?;
    if index.is_some() {
        sink.note(
            "Methods come from Entra's registration report, which lags up to a few hours and \
             names method kinds, not numbers: the number column shows the directory mobile \
             (masked), and users it does not list (disabled or new) and users whose only \
             method is a Temporary Access Pass were read one by one."
                .to_owned(),
        );
    }
    if let Some(note) = admin_note {
        eprintln!("warning: {note}");
        sink.note(note);
    }
    let mut aborted = None;
    let pages = graph.users().list_pages(&read::user_query(PAGE_SIZE));
    futures::pin_mut!(pages);
    'pages: while !stop.is_stopped() {
        let Some(page) = pages.try_next().await? else {
            break;
        };
        bar.inc_length(page.value.len() as u64);
        // `buffered`, not `buffer_unordered`: rows keep the page's order, so two runs over the
        // same tenant write the same files.
        let mut rows = futures::stream::iter(page.value)
            .map(|user| reader.row(user))
            .buffered(options.concurrency.max(1));
        while let Some((row, systemic)) = rows.next().await {
            if let Some(refusal) = row.error.as_deref().filter(|_| systemic) {
                aborted = Some(format!(
                    "Graph refused the app ({refusal}): check its permissions with `autoenroll doctor`"
                ));
                break 'pages;
            }
            sink.push(&row)?;
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let interrupted = stop.is_stopped() && aborted.is_none();
    let (files, totals) = sink.finish(readiness, interrupted || aborted.is_some())?;
    Ok(ReportRun {
        source: sink.source().clone(),
        files,
        totals,
        interrupted,
        aborted,
        elapsed: started.elapsed(),
    })
}

/// The source a run used, in words for every output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    pub kind: DataSource,
    /// Why per-user reads, when the registration report was not used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<registration::Fallback>,
    /// Registration report pages read (one Graph call each).
    pub registration_pages: usize,
    /// One line for a person: the source and, for a fallback, why.
    pub summary: String,
}

impl Source {
    fn registration(index: &registration::RegistrationIndex) -> Self {
        Source {
            kind: DataSource::RegistrationReport,
            fallback: None,
            registration_pages: index.pages,
            summary: format!(
                "{} — {} users listed in {} page(s)",
                DataSource::RegistrationReport.describe(),
                index.len(),
                index.pages
            ),
        }
    }

    fn fallback(why: registration::Fallback) -> Self {
        Source {
            kind: DataSource::PerUserMethods,
            fallback: Some(why),
            registration_pages: 0,
            summary: format!(
                "{}, because {}",
                DataSource::PerUserMethods.describe(),
                why.describe()
            ),
        }
    }
}

/// Counts per key, for the charts.
pub type Counts = BTreeMap<String, usize>;

/// The telephony view's provider, in words.
pub fn provider_label(provider: Provider) -> &'static str {
    match provider {
        Provider::Unknown => "not read",
        Provider::None => "none",
        Provider::Evaluation => "evaluation mode",
        Provider::Partial => "production, partial rollout",
        Provider::Production => "production (100 %)",
    }
}

/// The totals as a table for the terminal.
pub fn render_totals(totals: &CoverageTotals) -> String {
    let mut table = crate::table::Table::new(["", "USERS"]);
    table.row(["users".to_owned(), totals.users.to_string()]);
    for (state, n) in sink::states_in_order(totals) {
        table.row([format!("  {state}"), n.to_string()]);
    }
    for (reason, n) in sink::largest_first(&totals.stuck_by_reason) {
        table.row([format!("    stuck: {reason}"), n.to_string()]);
    }
    for (date, n) in &totals.breaking_on {
        table.row([format!("SMS/voice only, breaks {date}"), n.to_string()]);
    }
    table.row(["at risk".to_owned(), totals.at_risk.to_string()]);
    if totals.open_bootstraps > 0 {
        table.row([
            "open TAP bootstraps (--table)".to_owned(),
            format!(
                "{} ({} not delivered)",
                totals.open_bootstraps, totals.open_bootstraps_undelivered
            ),
        ]);
    }
    table.row([
        "administrators at risk".to_owned(),
        format!("{} of {}", totals.admins_at_risk, totals.admins),
    ]);
    table.render()
}

fn progress_bar(show: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    if !show {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} reading [{elapsed_precise}] {wide_bar} {pos}/{len} users  ETA {eta} {msg}",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
