//! Microsoft Secure Score's MFA controls as a `doctor` row: the tenant's current score and
//! what MFA for admins (`AdminMFAV2`) and for all users (`MFARegistrationV2`) would still add —
//! the figure administrators quote when they justify enrolling everyone. Optional: without
//! SecurityEvents.Read.All the row is a reported skip, never a warning or a failure.

use autoenroll_graph::GraphClient;
use autoenroll_graph::resources::secure_score::{MFA_CONTROLS, SecureScore};

use super::check;
use crate::doctor::{Check, Status};

const NAME: &str = "Secure Score MFA controls";

/// The row for the latest score (`None`: the tenant has no score yet).
pub fn score_check(score: Option<&SecureScore>) -> Check {
    let Some(score) = score else {
        return check(
            NAME,
            Status::Ok,
            "no Secure Score yet (a new tenant gets its first within a day)",
        );
    };
    let headline = format!("{:.1} / {:.1}", score.current_score, score.max_score);
    let mut parts = Vec::new();
    let mut open = false;
    for name in MFA_CONTROLS {
        let Some(control) = score.control(name) else {
            parts.push(format!("{name} not in this tenant's score"));
            continue;
        };
        let earned = control.score.unwrap_or(0.0);
        match control.remaining_points() {
            Some(left) if left <= 0.0 => parts.push(format!("{name} fully earned ({earned:.1})")),
            Some(left) => {
                open = true;
                parts.push(format!(
                    "{name} {earned:.1} earned, +{left:.1} when complete"
                ));
            }
            None => {
                open = true;
                parts.push(format!(
                    "{name} not earned yet (its full value is under Secure Score > Recommended \
                     actions)"
                ));
            }
        }
    }
    if open {
        check(
            NAME,
            Status::Warn,
            format!(
                "{headline}; {}. Enrolling every user (and admins first) earns the rest",
                parts.join("; ")
            ),
        )
    } else {
        check(
            NAME,
            Status::Ok,
            format!("{headline}; {}", parts.join("; ")),
        )
    }
}

/// Reads the latest score; a missing permission is a reported skip, other failures a WARN.
pub async fn secure_score(graph: &GraphClient) -> Check {
    match graph.secure_scores().latest().await {
        Ok(score) => score_check(score.as_ref()),
        Err(e) if e.is_forbidden() => check(
            NAME,
            Status::Ok,
            "skipped: grant SecurityEvents.Read.All (optional, read-only) to see the tenant's \
             Secure Score and what the MFA controls would add",
        ),
        Err(e) => check(
            NAME,
            Status::Warn,
            format!("could not be read: {}", crate::coverage::read::summary(&e)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn score(controls: serde_json::Value) -> SecureScore {
        serde_json::from_value(json!({"id": "t_2026-12-05", "currentScore": 120.0,
            "maxScore": 300.0, "controlScores": controls}))
        .expect("score shape")
    }

    fn control(name: &str, score: f64, pct: f64) -> serde_json::Value {
        json!({"controlName": name, "controlCategory": "Identity", "score": score,
            "scoreInPercentage": pct})
    }

    #[test]
    fn outcomes() {
        let cases = [
            (
                "both complete",
                Some(score(json!([
                    control("AdminMFAV2", 10.0, 100.0),
                    control("MFARegistrationV2", 9.0, 100.0)
                ]))),
                Status::Ok,
                "AdminMFAV2 fully earned (10.0)",
            ),
            (
                "half of the admin control",
                Some(score(json!([
                    control("AdminMFAV2", 5.0, 50.0),
                    control("MFARegistrationV2", 9.0, 100.0)
                ]))),
                Status::Warn,
                "AdminMFAV2 5.0 earned, +5.0 when complete",
            ),
            (
                "nothing earned",
                Some(score(json!([
                    control("AdminMFAV2", 10.0, 100.0),
                    control("MFARegistrationV2", 0.0, 0.0)
                ]))),
                Status::Warn,
                "MFARegistrationV2 not earned yet",
            ),
            (
                "controls absent",
                Some(score(json!([]))),
                Status::Ok,
                "AdminMFAV2 not in this tenant's score",
            ),
            ("no score yet", None, Status::Ok, "no Secure Score yet"),
        ];
        for (name, score, status, text) in cases {
            let row = score_check(score.as_ref());
            assert_eq!(row.status, status, "{name}: {row:?}");
            assert!(row.detail.contains(text), "{name}: {row:?}");
            if score.is_some() {
                assert!(row.detail.starts_with("120.0 / 300.0"), "{name}: {row:?}");
            }
        }
    }
}
