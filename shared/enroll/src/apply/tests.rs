use super::*;
use crate::failure::{Disposition, StoreKind};
use crate::plan::SkipReason;

fn add_mobile() -> Action {
    Action::AddMobile {
        number: GraphNumber::new("+31 612345678"),
    }
}

#[test]
fn a_lost_confirmation_makes_done_a_failure_keeping_the_writes() {
    let done = Outcome::Done {
        actions: vec![add_mobile(), Action::SetSmsPreferred],
        notes: vec![],
    };
    let outage = StoreError::Unavailable("throttled".into());
    match unconfirmed(done.clone(), &outage) {
        Outcome::Failed {
            failure,
            completed,
            failed: None,
            ..
        } => {
            assert_eq!(failure.cause, Cause::from(&outage));
            assert_eq!(failure.disposition(), Disposition::Retry);
            assert_eq!(completed.len(), 2);
        }
        other => panic!("{other:?}"),
    }
    // A store that refuses us is systemic: the message is kept for after the fix.
    let broken = StoreError::Other("access denied".into());
    assert_eq!(
        unconfirmed(done, &broken).disposition(),
        Some(Disposition::Systemic)
    );
}

#[test]
fn a_lost_confirmation_after_a_failed_write_keeps_that_failure_and_adds_the_memory_error() {
    let bad_number = Cause::Graph {
        kind: autoenroll_graph::GraphErrorKind::Http,
        status: Some(400),
        code: Some("invalidRequest".into()),
        throttled: false,
    };
    let failed = Outcome::Failed {
        failure: Failure::new(bad_number.clone()),
        completed: vec![add_mobile()],
        failed: Some(Action::SetSmsPreferred),
        notes: vec![],
    };
    match unconfirmed(failed, &StoreError::Conflict) {
        Outcome::Failed {
            failure, failed, ..
        } => {
            assert_eq!(
                failure.disposition(),
                Disposition::Retry,
                "a conflict is worth another attempt"
            );
            assert_eq!(failure.cause, bad_number);
            assert_eq!(
                failure.then.as_deref(),
                Some(&Cause::Store {
                    kind: StoreKind::Conflict,
                    detail: String::new()
                })
            );
            assert_eq!(failed, Some(Action::SetSmsPreferred));
        }
        other => panic!("{other:?}"),
    }
    let skipped = Outcome::Skipped(SkipReason::Disabled);
    assert_eq!(unconfirmed(skipped.clone(), &StoreError::Conflict), skipped);
}
