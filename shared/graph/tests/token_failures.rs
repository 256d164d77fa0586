//! Token-endpoint failures injected in the simulator surface as typed errors
//! ([`autoenroll_graph::TokenFailure`]): refused credentials, outages, timeouts.

mod common;

use std::time::Duration;

use autoenroll_graph::model::USER_SELECT;
use autoenroll_graph::{GraphClient, GraphErrorKind, OAuthError, TokenFailure};
use common::*;
use graph_sim::{FaultKind, FaultRule, TOKEN_ROUTE, TokenErrorCode};

#[tokio::test]
async fn a_refused_client_is_a_typed_refusal_with_the_aadsts_code() {
    let sim = start().await;
    sim.control().add_fault(FaultRule::new(
        TOKEN_ROUTE,
        FaultKind::TokenError {
            error: TokenErrorCode::InvalidClient,
            status: Some(400),
        },
    ));
    let graph = graph(&sim);
    let err = graph.users().get(ADELE, USER_SELECT).await.unwrap_err();
    assert_eq!(err.kind, GraphErrorKind::Authentication);
    assert_eq!(
        err.token_failure(),
        Some(&TokenFailure::Refused {
            status: 400,
            error: OAuthError::InvalidClient,
            aadsts: vec![7000222],
        })
    );
    assert!(!err.is_retryable());
    assert_eq!(
        sim.control().counters().calls("*"),
        0,
        "no Graph call without a token"
    );

    sim.control().clear_faults();
    sim.control().add_fault(FaultRule::new(
        TOKEN_ROUTE,
        FaultKind::TokenError {
            error: TokenErrorCode::UnauthorizedClient,
            status: None,
        },
    ));
    let err = GraphClient::new(secret_config(&sim, APP, APP_SECRET))
        .unwrap()
        .access_token()
        .await
        .unwrap_err();
    assert!(matches!(
        err.token_failure(),
        Some(TokenFailure::Refused { error: OAuthError::UnauthorizedClient, aadsts, .. }) if aadsts == &[7000112]
    ));
    sim.shutdown().await;
}

#[tokio::test]
async fn an_outage_is_unavailable_and_a_blip_is_ridden_out() {
    let sim = start().await;
    sim.control().add_fault(FaultRule::new(
        TOKEN_ROUTE,
        FaultKind::Status { status: 503 },
    ));
    let err = graph(&sim).access_token().await.unwrap_err();
    assert_eq!(
        err.token_failure(),
        Some(&TokenFailure::Unavailable { status: 503 })
    );
    assert!(
        sim.control().counters().faults_injected >= 2,
        "azure_identity retried"
    );

    // One 500 is retried by the credential and the call succeeds.
    sim.control().clear_faults();
    sim.control()
        .add_fault(FaultRule::new(TOKEN_ROUTE, FaultKind::Status { status: 500 }).times(1));
    let user = graph(&sim).users().get(ADELE, USER_SELECT).await.unwrap();
    assert_eq!(user.id, ADELE);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_silent_token_endpoint_is_a_typed_timeout() {
    let sim = start().await;
    sim.control().add_fault(FaultRule::new(
        TOKEN_ROUTE,
        FaultKind::Timeout {
            hold_ms: 3_000,
            apply_first: false,
        },
    ));
    let config =
        secret_config(&sim, APP, APP_SECRET).with_request_timeout(Duration::from_millis(200));
    let err = GraphClient::new(config)
        .unwrap()
        .access_token()
        .await
        .unwrap_err();
    assert_eq!(err.token_failure(), Some(&TokenFailure::Timeout), "{err:?}");
    assert_eq!(sim.control().counters().tokens_issued, 0);
    sim.shutdown().await;
}
