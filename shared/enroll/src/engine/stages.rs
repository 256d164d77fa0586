//! Which stages of a TAP bootstrap one user's enrollment reached, for the `Bootstrap` metric
//! (stages: `autoenroll_aws::metrics::BOOTSTRAP_STAGES`).

use super::{UserReport, UserResult};
use crate::failure::Cause;
use crate::outcome::Outcome;
use crate::plan::{Action, UserView, has_lasting_method};

/// What the read found about the user's bootstrap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BootstrapSeen {
    /// A bootstrap was open: a pass issued now replaces an earlier one.
    pub open: bool,
    /// … and the user has a lasting method now: apply closes it.
    pub closing: bool,
}

impl BootstrapSeen {
    pub fn of(view: &UserView) -> BootstrapSeen {
        let open = view.open_bootstrap.is_some();
        BootstrapSeen {
            open,
            closing: open && has_lasting_method(&view.methods),
        }
    }
}

impl UserReport {
    /// The bootstrap stages this enrollment reached: `issued` + `delivered` (+ `reissued` when
    /// it replaced an earlier pass), `issued` + `deliveryFailed` (the pass was withdrawn), or
    /// `closed`.
    pub fn bootstrap_stages(&self) -> Vec<&'static str> {
        let issued = |a: &Action| matches!(a, Action::IssueTap { .. });
        let mut stages = Vec::new();
        match &self.result {
            UserResult::Finished(Outcome::Done { actions, .. })
            | UserResult::Finished(Outcome::Failed {
                completed: actions, ..
            }) if actions.iter().any(issued) => {
                stages.extend(["issued", "delivered"]);
                if self.bootstrap.open {
                    stages.push("reissued");
                }
            }
            UserResult::Finished(Outcome::Failed {
                failure,
                failed: Some(a),
                ..
            }) if issued(a) && matches!(failure.cause, Cause::Delivery { .. }) => {
                stages.extend(["issued", "deliveryFailed"]);
            }
            _ => {}
        }
        if self.bootstrap.closing {
            stages.push("closed");
        }
        stages
    }
}
