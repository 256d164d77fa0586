//! `autoenroll phone`: how each raw value (as it sits in AD's `mobile` attribute or an HR
//! export) normalises — Graph's `+{cc} {national}` form and the kind of line — or why it is
//! rejected. The same `autoenroll_core::phone::normalize` the enroll function uses, so what this
//! prints is what enrollment will do.
//!
//! The table shows the normalised number in clear. That is deliberate and the one exception to
//! "never print a phone number": the administrator typed these values on the command line
//! themselves, so nothing is disclosed that they did not already have, and a masked result would
//! make the tool useless for cleaning AD data. Nothing here is logged.

use autoenroll_core::phone::{self, NormalizedPhone, PhoneKind, PhoneRejection, RegionCode};
use serde::Serialize;

use crate::table::Table;

/// The verdict on one raw value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneCheck {
    pub raw: String,
    #[serde(flatten)]
    pub result: PhoneVerdict,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum PhoneVerdict {
    /// A valid number.
    #[serde(rename_all = "camelCase")]
    Accepted {
        graph: String,
        kind: PhoneKind,
        region: Option<String>,
        /// autoenroll would register it as the `mobile` phone (SMS + voice). A valid number that
        /// is not SMS-capable (fixed line, toll-free, with an extension) is skipped as
        /// `notAMobileNumber` unless the office fallback applies.
        sms_capable: bool,
    },
    /// Not a usable number.
    #[serde(rename_all = "camelCase")]
    Rejected { reason: String, message: String },
}

impl PhoneCheck {
    pub fn is_rejected(&self) -> bool {
        matches!(self.result, PhoneVerdict::Rejected { .. })
    }
}

/// Checks every raw value with `region` for numbers written without a country code.
pub fn check_all(raws: &[String], region: Option<RegionCode>) -> Vec<PhoneCheck> {
    raws.iter().map(|raw| check(raw, region)).collect()
}

pub fn check(raw: &str, region: Option<RegionCode>) -> PhoneCheck {
    let result = match phone::normalize(raw, region) {
        Ok(n) => accepted(n),
        Err(r) => rejected(&r),
    };
    PhoneCheck {
        raw: raw.to_owned(),
        result,
    }
}

fn accepted(n: NormalizedPhone) -> PhoneVerdict {
    PhoneVerdict::Accepted {
        sms_capable: n.is_sms_capable(),
        graph: n.graph,
        kind: n.kind,
        region: n.region,
    }
}

fn rejected(r: &PhoneRejection) -> PhoneVerdict {
    PhoneVerdict::Rejected {
        reason: r.code().to_owned(),
        message: r.to_string(),
    }
}

/// `mobile`, `fixed-line`, … as an administrator reads it.
pub fn kind_label(kind: PhoneKind) -> &'static str {
    match kind {
        PhoneKind::Mobile => "mobile",
        PhoneKind::FixedLine => "fixed-line",
        PhoneKind::FixedLineOrMobile => "fixed-line or mobile",
        PhoneKind::Other => "other (toll-free, VoIP, pager, …)",
    }
}

/// The table `autoenroll phone` prints.
pub fn render_table(checks: &[PhoneCheck]) -> String {
    let mut table = Table::new(["RAW", "GRAPH FORMAT", "KIND", "REGION", "AS MOBILE (SMS)"]);
    for c in checks {
        let raw = format!("\"{}\"", c.raw);
        match &c.result {
            PhoneVerdict::Accepted {
                graph,
                kind,
                region,
                sms_capable,
            } => table.row([
                raw,
                graph.clone(),
                kind_label(*kind).to_owned(),
                region.clone().unwrap_or_else(|| "-".into()),
                if *sms_capable {
                    "yes".to_owned()
                } else if graph.contains('x') {
                    "no: has an extension".to_owned()
                } else {
                    "no: not a mobile line".to_owned()
                },
            ]),
            PhoneVerdict::Rejected { reason, message } => table.row([
                raw,
                format!("REJECTED: {message}"),
                format!("({reason})"),
                String::new(),
                "no".to_owned(),
            ]),
        }
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dutch_national_number_with_nl_region_is_a_mobile() {
        let region: RegionCode = "NL".parse().unwrap();
        let c = check("06-12345678", Some(region));
        assert_eq!(
            c.result,
            PhoneVerdict::Accepted {
                graph: "+31 612345678".into(),
                kind: PhoneKind::Mobile,
                region: Some("NL".into()),
                sms_capable: true,
            }
        );
    }

    #[test]
    fn national_number_without_region_is_rejected_with_its_reason() {
        let c = check("06-12345678", None);
        assert!(c.is_rejected());
        assert!(
            matches!(c.result, PhoneVerdict::Rejected { ref reason, .. } if reason == "noCountryCode")
        );
    }

    #[test]
    fn table_marks_rejections_and_extensions() {
        let checks = check_all(
            &["n/a".to_owned(), "+1 (206) 555-0100 x12".to_owned()],
            None,
        );
        let text = render_table(&checks);
        assert!(text.contains("REJECTED: placeholder `n/a`"), "{text}");
        assert!(text.contains("no: has an extension"), "{text}");
    }
}
