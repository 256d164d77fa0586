//! A token failure in the middle of one user's enrollment — after the phone was added, before
//! MFA is switched on — loses nothing: the SQS message is not deleted, and its redelivery
//! finishes the job. Entra answers a disabled or unauthorised app with HTTP 400
//! `unauthorized_client`; read as a permanent failure for the user, the message would be
//! deleted and the user left with a phone and MFA off.
//!
//! The simulator's tokens live 60 s, so the client asks the token endpoint before every call,
//! and the token fault is armed by the phone POST: it hits the very next call.

use std::time::Duration;

use autoenroll_core::failure::Disposition;
use autoenroll_core::ports::{AuditOutcome, EnrollQueue, EnrollRequest, Trigger};
use autoenroll_e2e::contoso::NEW_HIRE;
use autoenroll_e2e::{QueueKind, Stack, StackOptions, TENANT};
use graph_sim::{FaultKind, FaultRule, TOKEN_ROUTE, TokenErrorCode};

const PHONE_POST: &str = "POST /users/{user}/authentication/phoneMethods";

#[tokio::test]
async fn a_token_refusal_between_phone_and_mfa_is_retried_and_the_user_enrolled() {
    let mut options = StackOptions::new(QueueKind::moto_from_env());
    options.token_lifetime = Some(Duration::from_secs(60));
    options.workers = 1;
    let stack = Stack::start(options).await.unwrap();
    stack.sim.control().add_fault(
        FaultRule::new(
            TOKEN_ROUTE,
            FaultKind::TokenError {
                error: TokenErrorCode::UnauthorizedClient,
                status: None,
            },
        )
        .after(PHONE_POST)
        .times(1),
    );
    stack
        .queue
        .send_batch(&[EnrollRequest {
            tenant_id: TENANT.into(),
            user_id: NEW_HIRE.into(),
            trigger: Trigger::Reconcile,
            observed_at: "2026-12-01T09:00:00Z".into(),
            dedup_key: "token-failure-e2e".into(),
        }])
        .await
        .unwrap();

    let report = stack.drain(20).await.unwrap();
    let counters = stack.sim.control().counters();
    assert_eq!(counters.faults_injected, 1, "the token fault fired");
    // The first delivery failed and was left on the queue; the second was deleted.
    assert!(report.left_for_redelivery >= 1, "{report:?}");
    assert_eq!(report.deleted, 1, "{report:?}");
    assert_eq!(stack.queue.dead_letters().await.unwrap(), 0);

    // Nothing lost, nothing doubled: the phone was added once and MFA is on.
    assert_eq!(stack.mobile(NEW_HIRE).as_deref(), Some("+31 633333333"));
    assert_ne!(stack.mfa_state(NEW_HIRE), "disabled");
    assert_eq!(counters.calls_with_status(PHONE_POST, 201), 1);

    // The audit trail says what happened: the refusal was systemic (not this user's fault,
    // so not a permanent failure), then the redelivery finished the enrollment.
    let outcomes: Vec<AuditOutcome> = stack
        .audit
        .records()
        .into_iter()
        .filter(|r| r.user_id == NEW_HIRE)
        .map(|r| r.outcome)
        .collect();
    assert_eq!(
        outcomes.first(),
        Some(&AuditOutcome::Failed(Disposition::Systemic)),
        "{outcomes:?}"
    );
    assert!(
        !outcomes.contains(&AuditOutcome::Failed(Disposition::Permanent)),
        "{outcomes:?}"
    );
    assert_eq!(outcomes.last(), Some(&AuditOutcome::Done), "{outcomes:?}");
    stack.shutdown().await;
}
