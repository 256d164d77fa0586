use super::*;
use crate::failure::{Cause, Failure};
use crate::plan::Action;
use crate::ports::StoreError;
use autoenroll_graph::{GraphError, GraphErrorKind};

fn failed_after_phone(e: &GraphError) -> UserReport {
    UserReport {
        user_id: "u1".into(),
        user_principal_name: None,
        plan: None,
        bootstrap: BootstrapSeen::default(),
        result: UserResult::Finished(Outcome::Failed {
            failure: Failure::new(Cause::from(e)),
            completed: vec![Action::AddMobile {
                number: crate::phone::GraphNumber::new("+31 612345678"),
            }],
            failed: Some(Action::SetSmsPreferred),
            notes: vec![],
        }),
    }
}

/// The token endpoint as the Graph client reports it: kind Authentication with Entra's
/// status and OAuth `error`.
fn token_refused(status: u16, code: &str) -> GraphError {
    let mut e = GraphError::from_response(status, &Default::default(), b"");
    e.kind = GraphErrorKind::Authentication;
    e.code = Some(code.into());
    e
}

#[test]
fn a_token_refused_with_400_mid_apply_keeps_the_message() {
    // Entra answers a disabled app with 400 unauthorized_client: not this user's fault.
    let report = failed_after_phone(&token_refused(400, "unauthorized_client"));
    assert_eq!(report.disposition(), Some(Disposition::Systemic));
    assert_eq!(report.settle(), Settle::Retry);
}

#[test]
fn permission_and_store_refusals_keep_the_message_a_bad_number_does_not() {
    let graph = |status: u16, code: &str| {
        GraphError::from_response(
            status,
            &Default::default(),
            format!(r#"{{"error":{{"code":"{code}"}}}}"#).as_bytes(),
        )
    };
    let cases = [
        (graph(403, "Authorization_RequestDenied"), Settle::Retry),
        (graph(500, "InternalServerError"), Settle::Retry),
        (graph(429, "TooManyRequests"), Settle::Retry),
        (graph(400, "invalidRequest"), Settle::Ack),
    ];
    for (e, settle) in cases {
        assert_eq!(failed_after_phone(&e).settle(), settle, "{e}");
    }
    let read = UserReport {
        user_id: "u1".into(),
        user_principal_name: None,
        plan: None,
        bootstrap: BootstrapSeen::default(),
        result: UserResult::ReadFailed(ReadError::Store(StoreError::Other("denied".into()))),
    };
    assert_eq!(read.disposition(), Some(Disposition::Systemic));
    assert_eq!(read.settle(), Settle::Retry);
}

#[test]
fn throttling_is_read_from_the_cause() {
    let e = GraphError::from_response(429, &Default::default(), b"");
    assert!(failed_after_phone(&e).was_throttled());
    assert!(!failed_after_phone(&token_refused(429, "x")).was_throttled());
}
