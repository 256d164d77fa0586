//! What happened to one user: the result of `apply` (and of an early skip), which becomes one
//! audit record and one metric.

use crate::plan::{Action, Plan, SkipReason};

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
        /// Try the whole user again later (throttling, 5xx, timeouts, store outages).
        retryable: bool,
        /// Status and Graph error code or store error: never a number, token or clientState.
        error: String,
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

    /// "done" | "skipped" | "failed" (the audit record's `outcome`).
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Done { .. } => "done",
            Outcome::Skipped(_) => "skipped",
            Outcome::Failed { .. } => "failed",
        }
    }

    pub fn is_retryable_failure(&self) -> bool {
        matches!(
            self,
            Outcome::Failed {
                retryable: true,
                ..
            }
        )
    }
}
