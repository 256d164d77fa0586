//! The report's outputs, written while users arrive: CSV and JSON rows go straight to their
//! files; the HTML's at-risk rows go to memory (administrators: few) or, pre-rendered, to a
//! temporary file (everyone else, up to the cap) that the page copies in at the end. Only
//! counters grow with the tenant.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use autoenroll_core::coverage::State;
use serde::Serialize;

use super::html;
use super::{Counts, CoverageRow, NOT_READ, Readiness, ReportOptions, Source};
use crate::report::csv_cell;

/// The three files of a report.
#[derive(Debug, Clone)]
pub struct ReportFiles {
    pub csv: PathBuf,
    pub json: PathBuf,
    pub html: PathBuf,
}

/// The headline numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CoverageTotals {
    pub users: usize,
    /// Users per state code (every state listed, zero included; `notRead` when any).
    pub by_state: Counts,
    /// Stuck users per reason code.
    pub stuck_by_reason: Counts,
    /// Stuck, not read, or SMS/voice only with a date.
    pub at_risk: usize,
    pub admins: usize,
    pub admins_at_risk: usize,
    /// SMS/voice-only users per retirement date that applies to them.
    pub breaking_on: Counts,
    /// Open TAP bootstraps in autoenroll's table (`--table`), and how many of those passes
    /// were not delivered.
    pub open_bootstraps: usize,
    pub open_bootstraps_undelivered: usize,
}

impl CoverageTotals {
    pub fn state(&self, state: State) -> usize {
        self.by_state.get(state.code()).copied().unwrap_or(0)
    }

    pub fn protected(&self) -> usize {
        self.state(State::PhishingResistant) + self.state(State::OtherMfa)
    }

    fn add(&mut self, row: &CoverageRow) {
        self.users += 1;
        *self.by_state.entry(row.state.clone()).or_default() += 1;
        if row.state == State::Stuck.code() {
            let reason = row.reason.clone().unwrap_or_else(|| "unknown".into());
            *self.stuck_by_reason.entry(reason).or_default() += 1;
        }
        if let Some(date) = &row.breaks_on {
            *self.breaking_on.entry(date.clone()).or_default() += 1;
        }
        if let Some(b) = row
            .autoenroll
            .as_ref()
            .and_then(|o| o.open_bootstrap.as_ref())
        {
            self.open_bootstraps += 1;
            self.open_bootstraps_undelivered += usize::from(!b.delivered);
        }
        self.admins += usize::from(row.is_admin);
        if row.is_at_risk() {
            self.at_risk += 1;
            self.admins_at_risk += usize::from(row.is_admin);
        }
    }
}

/// What the page says about itself.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    pub kind: &'static str,
    pub generated_at: String,
    /// The day described (`YYYY-MM-DD`).
    pub date: String,
    pub tenant: String,
    pub policy: String,
    pub source: Source,
    /// autoenroll's own records (`--table`) were read beside Graph.
    pub with_table: bool,
}

pub(super) struct Sink {
    files: ReportFiles,
    meta: Meta,
    csv: BufWriter<File>,
    json: BufWriter<File>,
    json_rows: usize,
    rows_path: PathBuf,
    rows: Option<BufWriter<File>>,
    rows_in_file: usize,
    html_cap: usize,
    admin_rows: Vec<CoverageRow>,
    totals: CoverageTotals,
    notes: Vec<String>,
}

const CSV_HEADER: &str = "userPrincipalName,displayName,userId,userType,admin,globalAdmin,state,\
reason,methods,maskedNumber,breaksOn,nextStep,error,methodSource,managedPhone,lastOutcome,lastOutcomeAt,openBootstrap,autoenroll\n";

fn create(path: &Path) -> anyhow::Result<BufWriter<File>> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    Ok(BufWriter::new(file))
}

impl Sink {
    pub(super) fn create(
        options: &ReportOptions,
        source: Source,
        with_table: bool,
    ) -> anyhow::Result<Self> {
        let dir = &options.out;
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the report directory {}", dir.display()))?;
        let now = time::OffsetDateTime::now_utc();
        let name = format!(
            "coverage-{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        );
        let files = ReportFiles {
            csv: dir.join(format!("{name}.csv")),
            json: dir.join(format!("{name}.json")),
            html: dir.join(format!("{name}.html")),
        };
        let meta = Meta {
            kind: "coverage",
            generated_at: now
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            date: options.today.to_string(),
            tenant: options.tenant.clone(),
            policy: options.policy_line.clone(),
            source,
            with_table,
        };
        let mut csv = create(&files.csv)?;
        csv.write_all(CSV_HEADER.as_bytes())?;
        let mut json = create(&files.json)?;
        // The document's head; the users follow one by one, the totals close it.
        let head = serde_json::to_string(&meta)?;
        let head = head.strip_suffix('}').unwrap_or(&head);
        write!(json, "{head},\"users\":[")?;
        let rows_path = dir.join(format!(".{name}.rows.tmp"));
        let rows = create(&rows_path)?;
        Ok(Sink {
            files,
            meta,
            csv,
            json,
            json_rows: 0,
            rows_path,
            rows: Some(rows),
            rows_in_file: 0,
            html_cap: options.html_rows,
            admin_rows: Vec::new(),
            totals: CoverageTotals::default(),
            notes: Vec::new(),
        })
    }

    pub(super) fn source(&self) -> &Source {
        &self.meta.source
    }

    /// A limitation the reader must know (shown on the page and in the JSON).
    pub(super) fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    pub(super) fn push(&mut self, row: &CoverageRow) -> anyhow::Result<()> {
        self.totals.add(row);
        self.csv.write_all(csv_line(row).as_bytes())?;
        if self.json_rows > 0 {
            self.json.write_all(b",")?;
        }
        self.json.write_all(b"\n")?;
        serde_json::to_writer(&mut self.json, row)?;
        self.json_rows += 1;
        if row.is_at_risk() {
            if row.is_admin {
                self.admin_rows.push(row.clone());
            } else if self.rows_in_file < self.html_cap
                && let Some(rows) = self.rows.as_mut()
            {
                rows.write_all(html::at_risk_row(row, self.meta.with_table).as_bytes())?;
                self.rows_in_file += 1;
            }
        }
        Ok(())
    }

    /// Closes the CSV and JSON, assembles the HTML page, removes the temporary file.
    pub(super) fn finish(
        &mut self,
        readiness: &Readiness,
        partial: bool,
    ) -> anyhow::Result<(ReportFiles, CoverageTotals)> {
        for state in State::ALL {
            self.totals
                .by_state
                .entry(state.code().to_owned())
                .or_default();
        }
        self.csv.flush()?;
        let tail = serde_json::json!({
            "partial": partial,
            "notes": &self.notes,
            "totals": &self.totals,
            "readiness": readiness,
        });
        let tail = tail.to_string();
        let tail = tail.strip_prefix('{').unwrap_or(&tail);
        write!(self.json, "\n],{tail}")?;
        self.json.flush()?;
        if let Some(mut rows) = self.rows.take() {
            rows.flush()?;
        }
        self.admin_rows.sort_by(|a, b| {
            (!a.is_global_admin, a.user_principal_name.to_lowercase())
                .cmp(&(!b.is_global_admin, b.user_principal_name.to_lowercase()))
        });
        let page = html::Page {
            meta: &self.meta,
            totals: &self.totals,
            readiness,
            admin_rows: &self.admin_rows,
            other_rows_shown: self.rows_in_file,
            csv_name: self
                .files
                .csv
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            partial,
            notes: &self.notes,
        };
        let mut out = create(&self.files.html)?;
        let mut rows = File::open(&self.rows_path)
            .with_context(|| format!("reading {}", self.rows_path.display()))?;
        html::write(&mut out, &page, &mut rows)?;
        out.flush()?;
        drop(rows);
        let _ = std::fs::remove_file(&self.rows_path);
        Ok((self.files.clone(), std::mem::take(&mut self.totals)))
    }
}

impl Drop for Sink {
    // An error before `finish` must not leave the temporary file behind; after `finish` it is
    // already gone and this does nothing.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.rows_path);
    }
}

fn csv_line(row: &CoverageRow) -> String {
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let own = row.autoenroll.as_ref();
    let managed = own
        .filter(|o| o.read_error.is_none())
        .map(|o| yes_no(o.managed_phone))
        .unwrap_or_default();
    let summary = own.map(|o| o.summary()).unwrap_or_default();
    let bootstrap = own
        .and_then(|o| o.open_bootstrap.as_ref())
        .map(|b| b.summary())
        .unwrap_or_default();
    let cells = [
        row.user_principal_name.as_str(),
        &row.display_name,
        &row.user_id,
        &row.user_type,
        yes_no(row.is_admin),
        yes_no(row.is_global_admin),
        &row.state,
        row.reason.as_deref().unwrap_or_default(),
        &row.methods.join("; "),
        &row.masked_number,
        row.breaks_on.as_deref().unwrap_or_default(),
        &row.next_step,
        row.error.as_deref().unwrap_or_default(),
        row.method_source.code(),
        managed,
        own.and_then(|o| o.last_outcome.as_deref())
            .unwrap_or_default(),
        own.and_then(|o| o.last_outcome_at.as_deref())
            .unwrap_or_default(),
        &bootstrap,
        &summary,
    ];
    let mut line: String = cells
        .iter()
        .map(|c| csv_cell(c))
        .collect::<Vec<_>>()
        .join(",");
    line.push('\n');
    line
}

/// Rows per state, in the order the page shows them (`notRead` last, when any).
pub fn states_in_order(totals: &CoverageTotals) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = State::ALL
        .iter()
        .map(|s| (s.code().to_owned(), totals.state(*s)))
        .collect();
    if let Some(n) = totals.by_state.get(NOT_READ).filter(|n| **n > 0) {
        out.push((NOT_READ.to_owned(), *n));
    }
    out
}

/// For tests and the page: a sorted copy of a count map, largest first.
pub fn largest_first(counts: &BTreeMap<String, usize>) -> Vec<(String, usize)> {
    let mut v: Vec<(String, usize)> = counts.iter().map(|(k, n)| (k.clone(), *n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}
