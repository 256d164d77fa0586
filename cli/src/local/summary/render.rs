//! The summary as a table for the terminal.

use super::{EraSummary, LocalSummary, ScenarioCount};
use crate::table::Table;

fn secs(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

fn scenario_line(c: &ScenarioCount) -> String {
    format!(
        "{}/{}  ({} by notification, {} by reconcile)",
        c.protected, c.total, c.by_notification, c.by_reconcile
    )
}

/// The summary table.
pub fn render(s: &LocalSummary) -> String {
    let mut t = Table::new(["SUMMARY", s.tenant.as_str()]);
    t.row(["users in the tenant".to_owned(), s.users.to_string()]);
    t.row([
        "enrolled by autoenroll".to_owned(),
        format!("{}  (phone registered and/or MFA switched on)", s.enrolled),
    ]);
    t.row([
        "already protected".to_owned(),
        s.already_protected.to_string(),
    ]);
    t.row([
        "skipped (reported, never enabled)".to_owned(),
        s.skipped.to_string(),
    ]);
    for (reason, n) in &s.skipped_by_reason {
        t.row([format!("  {reason}"), n.to_string()]);
    }
    t.row([
        "conflicts (own phone differs from AD)".to_owned(),
        format!("{}  (left alone)", s.conflicts),
    ]);
    t.row(["failed".to_owned(), s.failed.to_string()]);
    for (disposition, count) in &s.failed_by_disposition {
        t.row([format!("  {}", disposition.as_str()), count.to_string()]);
    }
    t.row(["dead letters".to_owned(), s.dead_letters.to_string()]);
    t.row([
        "new hires protected".to_owned(),
        scenario_line(&s.new_hires),
    ]);
    t.row([
        "number changes applied".to_owned(),
        scenario_line(&s.number_changes),
    ]);
    t.row([
        "dropped notification caught".to_owned(),
        scenario_line(&s.dropped_notifications),
    ]);
    let by_action = s
        .writes_by_action
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    t.row([
        "Graph writes used".to_owned(),
        format!(
            "{}  ({by_action}, subscription {})",
            s.graph_writes,
            s.cross_check.outcome_writes - s.writes_by_action.values().sum::<u64>()
        ),
    ]);
    t.row([
        "time to protection p50 / p99".to_owned(),
        format!(
            "{} / {}  (max {}, {} changes)",
            secs(s.time_to_protection.p50_ms),
            secs(s.time_to_protection.p99_ms),
            secs(s.time_to_protection.max_ms),
            s.time_to_protection.samples
        ),
    ]);
    t.row([
        "notifications delivered / dropped".to_owned(),
        format!(
            "{} / {}",
            s.notifications_delivered, s.notifications_dropped
        ),
    ]);
    t.row(["wall time".to_owned(), secs(s.wall_time_ms)]);
    t.row([
        "simulator cross-check".to_owned(),
        if s.cross_check.agrees {
            format!(
                "agrees ({} users, {} changed, {} writes)",
                s.cross_check.users_checked,
                s.cross_check.protected_in_simulator,
                s.cross_check.simulator_writes
            )
        } else {
            format!("DISAGREES: {} mismatch(es)", s.cross_check.mismatches.len())
        },
    ]);
    let mut out = t.render();
    if !s.eras.is_empty() {
        out.push('\n');
        out.push_str(&render_eras(&s.eras));
    }
    for m in &s.cross_check.mismatches {
        out.push_str(&format!("  mismatch: {m}\n"));
    }
    out
}

/// One column per era.
fn render_eras(eras: &[EraSummary]) -> String {
    let mut header = vec!["ERAS".to_owned()];
    header.extend(eras.iter().map(|e| format!("{} ({})", e.era, e.date)));
    let mut t = Table::new(header);
    let mut row = |label: &str, value: &dyn Fn(&EraSummary) -> String| {
        let mut cells = vec![label.to_owned()];
        cells.extend(eras.iter().map(value));
        t.row(cells);
    };
    row("new hires", &|e| e.new_hires.to_string());
    row("phones registered", &|e| e.phones_registered.to_string());
    row("TAPs issued / delivered", &|e| {
        format!("{} / {}", e.taps_issued, e.taps_delivered)
    });
    row("TAPs redeemed (passkey registered)", &|e| {
        e.taps_redeemed.to_string()
    });
    row("TAPs re-issued / expired", &|e| {
        format!("{} / {}", e.taps_reissued, e.taps_expired)
    });
    row("relying on an undeliverable phone", &|e| {
        e.relying_on_undeliverable_phone.to_string()
    });
    row("time to protection p50 / p99", &|e| {
        format!(
            "{} / {}",
            secs(e.time_to_protection.p50_ms),
            secs(e.time_to_protection.p99_ms)
        )
    });
    t.render()
}
