//! The report as ONE self-contained HTML page: no script, no external font, stylesheet or
//! image; charts are inline SVG; a print stylesheet makes "print to PDF" readable (A4
//! landscape, table headers repeated, no row split across pages, colours kept).
//!
//! Every directory value (UPN, display name, reason, methods…) is attacker-influenced — anyone
//! who can set a display name writes into this page — so each goes through [`esc`]. A
//! Content-Security-Policy forbidding scripts backs that up: a missed escape still runs nothing.

use std::io::{self, Read, Write};

use autoenroll_core::coverage::{RETIREMENT, RETIREMENT_LATE, State};

use super::sink::{CoverageTotals, Meta, largest_first, states_in_order};
use super::{CoverageRow, NOT_READ, Readiness, provider_label};
use crate::doctor::Status;

/// HTML-escapes text for element content and quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// What the page shows besides the non-admin at-risk rows (those are streamed in).
pub struct Page<'a> {
    pub meta: &'a Meta,
    pub totals: &'a CoverageTotals,
    pub readiness: &'a Readiness,
    /// At-risk administrators, Global Administrators first.
    pub admin_rows: &'a [CoverageRow],
    /// Non-admin at-risk rows in the streamed file (at most the cap).
    pub other_rows_shown: usize,
    pub csv_name: String,
    /// Interrupted or stopped: the numbers cover only the users read.
    pub partial: bool,
    pub notes: &'a [String],
}

fn state_label(code: &str) -> &'static str {
    State::ALL
        .iter()
        .find(|s| s.code() == code)
        .map(|s| s.label())
        .unwrap_or("not read")
}

fn state_colour(code: &str) -> &'static str {
    match code {
        "phishingResistant" => "#1a7f37",
        "otherMfa" => "#57ab5a",
        "smsVoiceOnly" => "#bf8700",
        "bootstrapPending" => "#0969da",
        "stuck" => "#cf222e",
        "excluded" => "#8c959f",
        _ => "#57606a",
    }
}

/// One `<tr>` of the at-risk table; `with_table`: the column of autoenroll's own records.
pub fn at_risk_row(row: &CoverageRow, with_table: bool) -> String {
    let admin = match (row.is_global_admin, row.is_admin) {
        (true, _) => "Global Admin",
        (false, true) => "admin",
        _ => "",
    };
    let what = match (&row.reason, &row.breaks_on) {
        (Some(reason), _) => reason.clone(),
        (None, Some(date)) => format!("breaks {date}"),
        (None, None) => String::new(),
    };
    let own = if with_table {
        let text = row
            .autoenroll
            .as_ref()
            .map(|o| o.summary())
            .unwrap_or_default();
        format!("<td class=\"own\">{}</td>", esc(&text))
    } else {
        String::new()
    };
    format!(
        "<tr class=\"risk{}\"><td>{}</td><td>{}</td><td>{}</td><td><span class=\"st\" \
         style=\"background:{}\">{}</span></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>{own}\
         </tr>\n",
        if row.is_admin { " admin" } else { "" },
        esc(admin),
        esc(&row.user_principal_name),
        esc(&row.display_name),
        state_colour(&row.state),
        esc(state_label(&row.state)),
        esc(&what),
        esc(&row.methods.join(", ")),
        esc(&row.masked_number),
        esc(&row.next_step),
    )
}

/// A horizontal bar chart, one bar per `(label, count)`, scaled to the largest.
fn bar_chart(id: &str, title: &str, bars: &[(String, String, usize)]) -> String {
    const LABEL_W: usize = 230;
    const BAR_W: usize = 380;
    const ROW_H: usize = 30;
    let max = bars.iter().map(|b| b.2).max().unwrap_or(0).max(1);
    let height = bars.len().max(1) * ROW_H + 10;
    let mut svg = format!(
        "<svg id=\"{id}\" class=\"chart\" role=\"img\" aria-label=\"{}\" width=\"{w}\" \
         height=\"{height}\" viewBox=\"0 0 {w} {height}\">\n",
        esc(title),
        w = LABEL_W + BAR_W + 80,
    );
    if bars.is_empty() {
        svg.push_str("<text x=\"0\" y=\"20\" class=\"none\">none</text>\n");
    }
    for (i, (label, colour, count)) in bars.iter().enumerate() {
        let y = i * ROW_H + 5;
        let width = count * BAR_W / max;
        svg.push_str(&format!(
            "<text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{label}</text>\
             <rect class=\"bar\" data-label=\"{label}\" data-count=\"{count}\" x=\"{LABEL_W}\" \
             y=\"{y}\" width=\"{width}\" height=\"{h}\" fill=\"{colour}\"><title>{label}: {count}\
             </title></rect><text x=\"{cx}\" y=\"{ty}\">{count}</text>\n",
            lx = LABEL_W - 8,
            ty = y + 15,
            h = ROW_H - 8,
            cx = LABEL_W + width + 6,
            label = esc(label),
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

const STYLE: &str = "
:root{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#1f2328}
body{margin:24px;max-width:1200px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de}
.sub{color:#57606a;font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin-top:16px}
.card{border:1px solid #d0d7de;border-radius:6px;padding:10px 14px;min-width:130px}
.card .num{font-size:26px;font-weight:600}.card .lbl{font-size:12px;color:#57606a}
.card.bad .num{color:#cf222e}.card.warn .num{color:#9a6700}.card.good .num{color:#1a7f37}
.charts{display:flex;flex-wrap:wrap;gap:24px}
.chart text{font-size:13px;fill:#1f2328}
table{border-collapse:collapse;width:100%;font-size:12px}
th,td{border-bottom:1px solid #d8dee4;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f6f8fa}
tr.admin td:first-child{font-weight:600;color:#cf222e}
.st{color:#fff;border-radius:4px;padding:1px 5px;white-space:nowrap}
.s-ok{color:#1a7f37;font-weight:600}.s-warn{color:#9a6700;font-weight:600}.s-fail{color:#cf222e;font-weight:600}
.note{background:#fff8c5;border:1px solid #d4a72c;padding:6px 10px;border-radius:6px;font-size:13px}
footer{margin-top:28px;color:#57606a;font-size:12px}
@page{size:A4 landscape;margin:12mm}
@media print{body{margin:0;max-width:none}.card,.chart,tr{break-inside:avoid}
thead{display:table-header-group}h2{break-after:avoid}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
";

fn card(id: &str, class: &str, number: String, label: &str) -> String {
    format!(
        "<div class=\"card {class}\" id=\"{id}\"><div class=\"num\">{}</div><div class=\"lbl\">{}\
         </div></div>\n",
        esc(&number),
        esc(label)
    )
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 {
        return "0 %".into();
    }
    format!("{:.0} %", part as f64 * 100.0 / whole as f64)
}

fn headline(page: &Page<'_>) -> String {
    let t = page.totals;
    let today = time::Date::parse(
        &page.meta.date,
        &time::format_description::well_known::Iso8601::DATE,
    )
    .ok();
    let days_left = today.map(|d| (RETIREMENT - d).whole_days().max(0));
    let sms = t.state(State::SmsVoiceOnly);
    let mut out = String::from("<div class=\"cards\">\n");
    out.push_str(&card("headline-users", "", t.users.to_string(), "users"));
    out.push_str(&card(
        "headline-protected",
        "good",
        t.protected().to_string(),
        &format!("protected by MFA ({})", percent(t.protected(), t.users)),
    ));
    out.push_str(&card(
        "headline-phishing-resistant",
        "good",
        t.state(State::PhishingResistant).to_string(),
        "phishing-resistant",
    ));
    out.push_str(&card(
        "headline-sms-only",
        if sms > 0 { "warn" } else { "" },
        sms.to_string(),
        "SMS/voice only",
    ));
    out.push_str(&card(
        "headline-stuck",
        if t.state(State::Stuck) > 0 { "bad" } else { "" },
        t.state(State::Stuck).to_string(),
        "stuck (no working method)",
    ));
    let pending = t.state(State::BootstrapPending);
    if pending > 0 {
        out.push_str(&card(
            "headline-bootstrap-pending",
            "warn",
            pending.to_string(),
            "bootstrap pending (a live Temporary Access Pass, no method yet)",
        ));
    }
    if page.meta.with_table {
        out.push_str(&card(
            "headline-open-bootstraps",
            if t.open_bootstraps_undelivered > 0 {
                "bad"
            } else {
                ""
            },
            t.open_bootstraps.to_string(),
            &format!(
                "open TAP bootstraps in autoenroll's table ({} not delivered)",
                t.open_bootstraps_undelivered
            ),
        ));
    }
    out.push_str(&card(
        "headline-admins-at-risk",
        if t.admins_at_risk > 0 { "bad" } else { "good" },
        t.admins_at_risk.to_string(),
        &format!("administrators at risk (of {})", t.admins),
    ));
    if let Some(days) = days_left {
        out.push_str(&card(
            "headline-days-left",
            if days <= 60 { "warn" } else { "" },
            days.to_string(),
            &format!("days until {RETIREMENT} (SMS/voice retirement)"),
        ));
    }
    out.push_str("</div>\n");
    let on = |d: time::Date| t.breaking_on.get(&d.to_string()).copied().unwrap_or(0);
    out.push_str(&format!(
        "<p class=\"sub\" id=\"breaking\">SMS/voice-only users whose phone stops working: <b>{}</b> on \
         {RETIREMENT}, <b>{}</b> on {RETIREMENT_LATE} (Global Administrators and external users), \
         unless a telecom provider is in production mode.</p>\n",
        on(RETIREMENT),
        on(RETIREMENT_LATE),
    ));
    out
}

fn charts(page: &Page<'_>) -> String {
    let t = page.totals;
    let states: Vec<(String, String, usize)> = states_in_order(t)
        .into_iter()
        .map(|(code, n)| {
            (
                state_label(&code).to_owned(),
                state_colour(&code).to_owned(),
                n,
            )
        })
        .collect();
    let reasons: Vec<(String, String, usize)> = largest_first(&t.stuck_by_reason)
        .into_iter()
        .map(|(reason, n)| (reason, "#cf222e".to_owned(), n))
        .collect();
    format!(
        "<div class=\"charts\"><div><h2>Coverage by state</h2>{}</div>\
         <div><h2>Stuck users by reason</h2>{}</div></div>\n",
        bar_chart("chart-states", "users by coverage state", &states),
        bar_chart("chart-stuck", "stuck users by reason", &reasons),
    )
}

fn readiness(page: &Page<'_>) -> String {
    let r = page.readiness;
    let mut out = String::from("<h2>Readiness checks</h2>\n");
    if let Some(tel) = &r.telephony {
        out.push_str(&format!(
            "<p class=\"sub\">Telecom provider for SMS/voice: <b>{}</b>.</p>\n",
            esc(provider_label(tel.provider))
        ));
    }
    if r.checks.is_empty() {
        out.push_str("<p class=\"sub\">Not run (--no-checks).</p>\n");
        return out;
    }
    out.push_str(
        "<table id=\"checks\"><thead><tr><th>status</th><th>check</th><th>detail / what to do\
         </th></tr></thead><tbody>\n",
    );
    for c in &r.checks {
        let (class, label) = match c.status {
            Status::Ok => ("s-ok", "ok"),
            Status::Warn => ("s-warn", "WARN"),
            Status::Fail => ("s-fail", "PROBLEM"),
        };
        out.push_str(&format!(
            "<tr><td class=\"{class}\">{label}</td><td>{}</td><td>{}</td></tr>\n",
            esc(&c.check),
            esc(&c.detail)
        ));
    }
    out.push_str("</tbody></table>\n");
    out
}

/// Writes the page; `other_rows` is the streamed file of non-admin at-risk `<tr>`s.
pub fn write(out: &mut impl Write, page: &Page<'_>, other_rows: &mut impl Read) -> io::Result<()> {
    let m = page.meta;
    let t = page.totals;
    write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'\">\n<meta name=\"viewport\" content=\"width=device-width\">\n\
         <title>MFA coverage — {tenant} — {date}</title>\n<style>{STYLE}</style></head><body>\n\
         <h1>MFA coverage and readiness for {RETIREMENT}</h1>\n\
         <p class=\"sub\" id=\"describes\">{tenant} · as of <b>{date}</b> · generated {generated} \
         </p>\n<p class=\"sub\" id=\"data-source\">Data: {source}</p>\n",
        tenant = esc(&m.tenant),
        date = esc(&m.date),
        generated = esc(&m.generated_at),
        source = esc(&m.source.summary),
    )?;
    if page.partial {
        out.write_all(
            b"<p class=\"note\">The run was stopped before every user was read: the numbers \
              cover only the users read.</p>\n",
        )?;
    }
    for note in page.notes {
        writeln!(out, "<p class=\"note\">{}</p>", esc(note))?;
    }
    out.write_all(headline(page).as_bytes())?;
    out.write_all(charts(page).as_bytes())?;
    let shown = page.admin_rows.len() + page.other_rows_shown;
    write!(
        out,
        "<h2>At-risk users ({at_risk}) — administrators first</h2>\n\
         <p class=\"sub\">Stuck users, users not read, users with nothing but a Temporary Access \
         Pass yet (bootstrap pending), and SMS/voice-only users whose phone stops working on a \
         known date.</p>\n",
        at_risk = t.at_risk
    )?;
    if shown < t.at_risk {
        writeln!(
            out,
            "<p class=\"note\" id=\"capped\">Showing {shown} of {} at-risk users: every \
             administrator, then the first {} others. The full list (every user) is in {}.</p>",
            t.at_risk,
            page.other_rows_shown,
            esc(&page.csv_name)
        )?;
    }
    writeln!(
        out,
        "<table id=\"at-risk\"><thead><tr><th>admin</th><th>user</th><th>name</th><th>state</th>\
         <th>reason</th><th>methods</th><th>number</th><th>next step</th>{}</tr></thead><tbody>",
        if m.with_table {
            "<th>autoenroll (--table)</th>"
        } else {
            ""
        }
    )?;
    for row in page.admin_rows {
        out.write_all(at_risk_row(row, m.with_table).as_bytes())?;
    }
    io::copy(other_rows, out)?;
    out.write_all(b"</tbody></table>\n")?;
    out.write_all(readiness(page).as_bytes())?;
    let not_read = t.by_state.get(NOT_READ).copied().unwrap_or(0);
    write!(
        out,
        "<footer>Policy: {policy}. States: protected by a phishing-resistant method (passkey/FIDO2, \
         Windows Hello, platform credential); other MFA (Authenticator, OATH); SMS/voice only \
         (Microsoft-provided SMS/voice retire on {RETIREMENT}, on {RETIREMENT_LATE} for Global \
         Administrators and external users, unless a customer telecom provider is in production \
         mode); bootstrap pending (a live Temporary Access Pass); stuck (no working method, with \
         the reason); excluded (policy exclusions, not read further). {not_read} user(s) could \
         not be read. Numbers are masked. Generated by autoenroll report.</footer>\n</body></html>\n",
        policy = esc(&m.policy),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
    }

    #[test]
    fn chart_bars_scale_to_the_largest() {
        let svg = bar_chart(
            "c",
            "t",
            &[
                ("a".into(), "#000".into(), 10),
                ("<b>".into(), "#000".into(), 5),
            ],
        );
        assert!(
            svg.contains("data-count=\"10\" x=\"230\" y=\"5\" width=\"380\""),
            "{svg}"
        );
        assert!(svg.contains("width=\"190\""), "{svg}");
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"), "{svg}");
    }
}
