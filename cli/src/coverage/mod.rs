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
pub mod read;
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
    /// Status and Graph error code when the user could not be read (never Graph's message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl CoverageRow {
    /// Someone has to act: stuck, not read, or SMS/voice only with a date.
    pub fn is_at_risk(&self) -> bool {
        self.state == State::Stuck.code()
            || self.state == NOT_READ
            || (self.state == State::SmsVoiceOnly.code() && self.breaks_on.is_some())
    }
}

/// The state code of a user Graph could not be read for.
pub const NOT_READ: &str = "notRead";

/// Where the per-user data comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DataSource {
    /// `GET /users/{id}/authentication/methods` for each user.
    PerUserMethods,
}

impl DataSource {
    pub fn describe(self) -> &'static str {
        match self {
            DataSource::PerUserMethods => {
                "per-user method reads (GET /users/{id}/authentication/methods)"
            }
        }
    }
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
}

/// What a report run produced.
#[derive(Debug)]
pub struct ReportRun {
    pub files: ReportFiles,
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
    let reader = read::Reader {
        graph,
        policy,
        admins: &admins,
        telephony,
        today: options.today,
    };
    let mut sink = sink::Sink::create(options, DataSource::PerUserMethods)?;
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
        files,
        totals,
        interrupted,
        aborted,
        elapsed: started.elapsed(),
    })
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
        "{spinner} reading [{elapsed_precise}] {wide_bar} {pos}/{len} users  ETA {eta}",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
