//! The per-user report of `plan` and `apply`: one row per user (UPN, masked number, what was
//! or would be done, or why not), written as CSV and JSON, plus the totals printed at the end.
//! Numbers appear masked only (`+31 6******78`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::table::Table;

/// What happened (or would happen) to one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Decision {
    /// plan: there is something to do.
    WouldEnroll,
    /// apply: the actions were carried out now.
    Enrolled,
    /// Everything the policy asks for is in place already.
    AlreadyEnrolled,
    /// Left alone on purpose (see the reasons).
    Skipped,
    /// Could not be read or written (see the error); a rerun tries again.
    Failed,
}

impl Decision {
    pub fn label(self) -> &'static str {
        match self {
            Decision::WouldEnroll => "would enroll",
            Decision::Enrolled => "enrolled",
            Decision::AlreadyEnrolled => "already enrolled",
            Decision::Skipped => "skipped",
            Decision::Failed => "failed",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRow {
    pub user_principal_name: String,
    pub user_id: String,
    /// The user's mobile number, masked; empty when there is none or it was not read
    /// (excluded, guest, disabled and out-of-scope users are not read that far).
    pub masked_number: String,
    pub decision: Decision,
    /// Action labels (`addMobile`, `setSmsPreferred`, `setPerUserMfa:enabled`, …).
    pub actions: Vec<String>,
    /// Skip reason, or what the policy asked for but was deliberately not done.
    pub reasons: Vec<String>,
    /// Status and Graph error code of a failure (never Graph's message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Totals over the rows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    pub users: usize,
    pub by_decision: BTreeMap<String, usize>,
    /// Users per reason code (skips and notes).
    pub by_reason: BTreeMap<String, usize>,
    /// Planned or performed actions per kind.
    pub by_action: BTreeMap<String, usize>,
}

impl Totals {
    pub fn of(rows: &[UserRow]) -> Self {
        let mut t = Totals {
            users: rows.len(),
            ..Totals::default()
        };
        for row in rows {
            *t.by_decision
                .entry(row.decision.label().to_owned())
                .or_default() += 1;
            for reason in &row.reasons {
                *t.by_reason.entry(reason.clone()).or_default() += 1;
            }
            for action in &row.actions {
                *t.by_action.entry(action.clone()).or_default() += 1;
            }
        }
        t
    }

    pub fn count(&self, decision: Decision) -> usize {
        self.by_decision.get(decision.label()).copied().unwrap_or(0)
    }

    /// The totals as a two-column table.
    pub fn render(&self) -> String {
        let mut table = Table::new(["", "USERS"]);
        table.row(["users".to_owned(), self.users.to_string()]);
        for (decision, n) in &self.by_decision {
            table.row([format!("  {decision}"), n.to_string()]);
        }
        if !self.by_reason.is_empty() {
            table.row(["reasons".to_owned(), String::new()]);
            for (reason, n) in &self.by_reason {
                table.row([format!("  {reason}"), n.to_string()]);
            }
        }
        if !self.by_action.is_empty() {
            table.row(["actions".to_owned(), String::new()]);
            for (action, n) in &self.by_action {
                table.row([format!("  {action}"), n.to_string()]);
            }
        }
        table.render()
    }
}

/// The JSON report document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportDocument<'a> {
    pub kind: &'a str,
    pub generated_at: String,
    pub tenant: &'a str,
    pub policy: &'a str,
    pub interrupted: bool,
    pub totals: &'a Totals,
    pub users: &'a [UserRow],
}

/// One CSV cell: quoted when needed, and a leading `= + - @` (a formula to spreadsheet apps —
/// masked numbers start with `+`) neutralised with `'` (OWASP "CSV injection").
pub fn csv_cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

pub fn to_csv(rows: &[UserRow]) -> String {
    let mut out =
        String::from("userPrincipalName,userId,maskedNumber,decision,actions,reasons,error\n");
    for row in rows {
        let cells = [
            row.user_principal_name.as_str(),
            row.user_id.as_str(),
            row.masked_number.as_str(),
            row.decision.label(),
            &row.actions.join("; "),
            &row.reasons.join("; "),
            row.error.as_deref().unwrap_or_default(),
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// Writes `{kind}-{timestamp}.csv` and `.json` into `dir` (created if missing); returns both
/// paths.
pub fn write(dir: &Path, document: &ReportDocument<'_>) -> anyhow::Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("creating the report directory {}: {e}", dir.display()))?;
    let stamp = time::OffsetDateTime::now_utc();
    let name = format!(
        "{}-{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        document.kind,
        stamp.year(),
        u8::from(stamp.month()),
        stamp.day(),
        stamp.hour(),
        stamp.minute(),
        stamp.second()
    );
    let csv = dir.join(format!("{name}.csv"));
    let json = dir.join(format!("{name}.json"));
    std::fs::write(&csv, to_csv(document.users))
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", csv.display()))?;
    let text = serde_json::to_string_pretty(document)?;
    std::fs::write(&json, text).map_err(|e| anyhow::anyhow!("writing {}: {e}", json.display()))?;
    Ok((csv, json))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(number: &str) -> UserRow {
        UserRow {
            user_principal_name: "a@contoso.com".into(),
            user_id: "id".into(),
            masked_number: number.into(),
            decision: Decision::WouldEnroll,
            actions: vec!["addMobile".into(), "setSmsPreferred".into()],
            reasons: vec![],
            error: None,
        }
    }

    #[test]
    fn csv_neutralises_formulas_and_quotes_separators() {
        let text = to_csv(&[row("+31 6******78")]);
        let line = text.lines().nth(1).unwrap();
        assert_eq!(
            line,
            "a@contoso.com,id,'+31 6******78,would enroll,addMobile; setSmsPreferred,,"
        );
        assert_eq!(csv_cell("a,\"b\""), "\"a,\"\"b\"\"\"");
    }

    #[test]
    fn totals_count_decisions_reasons_and_actions() {
        let mut skipped = row("");
        skipped.decision = Decision::Skipped;
        skipped.actions.clear();
        skipped.reasons = vec!["noNumber".into()];
        let t = Totals::of(&[row("+31 6******78"), skipped]);
        assert_eq!(t.users, 2);
        assert_eq!(t.count(Decision::WouldEnroll), 1);
        assert_eq!(t.by_reason["noNumber"], 1);
        assert_eq!(t.by_action["addMobile"], 1);
    }
}
