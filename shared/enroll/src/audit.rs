//! One audit record per outcome: who, when, what was done and why — never a number in clear
//! (the masked form only) and never a Graph error message (it may echo the number); the error
//! reason of a failed outcome holds the typed cause written out (status and code).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::outcome::Outcome;
use crate::plan::Action;
use crate::ports::{AuditRecord, Trigger};

/// Build the audit record for `outcome`. `at` is when the outcome was reached.
pub fn record(
    user_id: &str,
    user_principal_name: Option<&str>,
    trigger: Option<&Trigger>,
    outcome: &Outcome,
    at: OffsetDateTime,
) -> AuditRecord {
    let labels = |actions: &[Action]| actions.iter().map(Action::label).collect::<Vec<_>>();
    let codes =
        |notes: &[crate::plan::SkipReason]| notes.iter().map(|n| n.code()).collect::<Vec<_>>();
    let (actions, reasons, touched): (Vec<String>, Vec<String>, Vec<&Action>) = match outcome {
        Outcome::Done { actions, notes } => {
            (labels(actions), codes(notes), actions.iter().collect())
        }
        Outcome::Skipped(reason) => (vec![], vec![reason.code()], vec![]),
        Outcome::Failed {
            failure,
            completed,
            failed,
            notes,
        } => {
            let mut reasons = vec![format!(
                "error:{}:{failure}",
                failed
                    .as_ref()
                    .map_or_else(|| "store".to_owned(), Action::label),
            )];
            reasons.extend(codes(notes));
            let touched = completed.iter().chain(failed.iter()).collect();
            (labels(completed), reasons, touched)
        }
    };
    let masked_number = touched
        .into_iter()
        .find_map(|a| a.number())
        .map(|n| n.masked());
    AuditRecord {
        user_id: user_id.to_owned(),
        user_principal_name: user_principal_name.map(str::to_owned),
        // Formatting a UTC OffsetDateTime as RFC 3339 only fails for years beyond 9999.
        at: at
            .format(&Rfc3339)
            .unwrap_or_else(|_| at.unix_timestamp().to_string()),
        outcome: outcome.audit_outcome(),
        actions,
        reasons,
        masked_number,
        trigger: trigger.cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::{Cause, Disposition, Failure, StoreKind};
    use crate::phone::{GraphNumber, PhoneRejection};
    use crate::plan::SkipReason;
    use crate::policy::Exclusion;
    use crate::ports::AuditOutcome;
    use autoenroll_graph::model::PerUserMfaState;
    use time::macros::datetime;

    const AT: OffsetDateTime = datetime!(2026-03-01 12:00:00 UTC);

    fn add_mobile() -> Action {
        Action::AddMobile {
            number: GraphNumber::new("+31 612345678"),
        }
    }

    #[test]
    fn done_outcome_lists_actions_and_masks_the_number() {
        let outcome = Outcome::Done {
            actions: vec![
                add_mobile(),
                Action::SetSmsPreferred,
                Action::SetPerUserMfa {
                    state: PerUserMfaState::Enabled,
                },
            ],
            notes: vec![],
        };
        let r = record(
            "u1",
            Some("anna@contoso.com"),
            Some(&Trigger::Reconcile),
            &outcome,
            AT,
        );
        assert_eq!(r.outcome, AuditOutcome::Done);
        assert_eq!(
            r.actions,
            vec!["addMobile", "setSmsPreferred", "setPerUserMfa:enabled"]
        );
        assert_eq!(r.masked_number.as_deref(), Some("+31 6******78"));
        assert_eq!(r.at, "2026-03-01T12:00:00Z");
        assert_eq!(r.trigger, Some(Trigger::Reconcile));
        let json = serde_json::to_string(&r).unwrap();
        assert!(!json.contains("612345678"), "{json}");
    }

    #[test]
    fn skipped_outcome_carries_its_reason_and_no_number() {
        let outcome = Outcome::Skipped(SkipReason::InvalidNumber(PhoneRejection::TooShort));
        let r = record("u1", None, None, &outcome, AT);
        assert_eq!(r.outcome, AuditOutcome::Skipped);
        assert!(r.actions.is_empty());
        assert_eq!(r.reasons, vec!["invalidNumber:tooShort"]);
        assert_eq!(r.masked_number, None);
    }

    #[test]
    fn excluded_skip_names_the_rule() {
        let r = record(
            "u1",
            Some("breakglass@contoso.com"),
            None,
            &Outcome::Skipped(SkipReason::Excluded(Exclusion::Upn)),
            AT,
        );
        assert_eq!(r.reasons, vec!["excluded:upn"]);
    }

    #[test]
    fn failed_outcome_records_completed_actions_the_failure_and_the_masked_number() {
        let outcome = Outcome::Failed {
            failure: Failure::new(Cause::Graph {
                kind: autoenroll_graph::GraphErrorKind::Http,
                status: Some(429),
                code: Some("TooManyRequests".into()),
                throttled: true,
            }),
            completed: vec![],
            failed: Some(add_mobile()),
            notes: vec![SkipReason::NoNumber],
        };
        let r = record("u1", None, None, &outcome, AT);
        assert_eq!(r.outcome, AuditOutcome::Failed(Disposition::Retry));
        assert!(r.actions.is_empty());
        assert_eq!(
            r.reasons,
            vec!["error:addMobile:429 TooManyRequests", "noNumber"]
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["outcome"], "failedRetry");
        assert_eq!(r.masked_number.as_deref(), Some("+31 6******78"));
    }

    #[test]
    fn store_failure_after_graph_writes_is_labelled_store() {
        let outcome = Outcome::Failed {
            failure: Failure::new(Cause::Store {
                kind: StoreKind::Refused,
                detail: "AccessDenied".into(),
            }),
            completed: vec![add_mobile()],
            failed: None,
            notes: vec![],
        };
        let r = record("u1", None, None, &outcome, AT);
        assert_eq!(r.actions, vec!["addMobile"]);
        assert_eq!(r.reasons, vec!["error:store:memory refused: AccessDenied"]);
        assert_eq!(r.outcome, AuditOutcome::Failed(Disposition::Systemic));
    }
}

#[cfg(test)]
mod outcome_names {
    use crate::ports::AuditOutcome;

    #[test]
    fn every_audit_outcome_reads_back_from_its_name() {
        for o in AuditOutcome::ALL {
            assert_eq!(AuditOutcome::from_name(o.as_str()), Some(o));
            let json = serde_json::to_string(&o).unwrap();
            assert_eq!(serde_json::from_str::<AuditOutcome>(&json).unwrap(), o);
        }
        assert_eq!(AuditOutcome::from_name("failed"), None);
    }
}
