//! What happened to one user: the result of `apply` (and of an early skip), which becomes one
//! audit record and one metric.

use crate::failure::{Disposition, Failure};
use crate::plan::{Action, Plan, SkipReason};
use crate::ports::AuditOutcome;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every planned action took effect (possibly none: the user was already enrolled).
    /// `notes` say what the policy asked for but was deliberately left alone.
    Done {
        actions: Vec<Action>,
        notes: Vec<SkipReason>,
    },
    /// Nothing was done, on purpose.
    Skipped(SkipReason),
    /// An action failed; the ones before it took effect, the ones after it were not tried.
    Failed {
        /// Why, typed; [`Failure::disposition`] says what happens next.
        failure: Failure,
        completed: Vec<Action>,
        /// The action that failed (`None` when what failed was not a Graph write, e.g. the
        /// memory store after a successful phone write).
        failed: Option<Action>,
        notes: Vec<SkipReason>,
    },
}

impl Outcome {
    /// The outcome of a plan with nothing to do (skip, or enrolled already).
    pub fn of_empty_plan(plan: &Plan) -> Option<Outcome> {
        match plan {
            Plan::Skip(reason) => Some(Outcome::Skipped(reason.clone())),
            Plan::Enroll { actions, notes } if actions.is_empty() => Some(Outcome::Done {
                actions: vec![],
                notes: notes.clone(),
            }),
            Plan::Enroll { .. } => None,
        }
    }

    /// What the audit record calls this outcome.
    pub fn audit_outcome(&self) -> AuditOutcome {
        match self {
            Outcome::Done { .. } => AuditOutcome::Done,
            Outcome::Skipped(_) => AuditOutcome::Skipped,
            Outcome::Failed { failure, .. } => AuditOutcome::Failed(failure.disposition()),
        }
    }

    /// What happens next after a failure (`None`: not a failure).
    pub fn disposition(&self) -> Option<Disposition> {
        match self {
            Outcome::Failed { failure, .. } => Some(failure.disposition()),
            _ => None,
        }
    }
}
