//! Token acquisition through azure_identity against the simulator's Entra endpoint.

mod common;

use autoenroll_graph::{GraphClient, GraphErrorKind, model::USER_SELECT};
use common::*;

#[tokio::test]
async fn client_secret_gets_a_token_carrying_the_granted_roles() {
    let sim = start().await;
    let graph = graph(&sim);
    let roles = graph.granted_roles().await.unwrap();
    assert!(
        roles.contains(&"UserAuthMethod-Phone.ReadWrite.All".to_string()),
        "{roles:?}"
    );
    let user = graph.users().get(ADELE, USER_SELECT).await.unwrap();
    assert_eq!(user.id, ADELE);
    sim.shutdown().await;
}

/// Needs the simulator's `tokens_issued` counter to count token grants.
#[tokio::test]
async fn token_is_cached_across_calls_and_clones() {
    let sim = start().await;
    let graph = graph(&sim);
    graph.users().get(ADELE, USER_SELECT).await.unwrap();
    graph.clone().users().get(ALEX, USER_SELECT).await.unwrap();
    graph.granted_roles().await.unwrap();
    assert_eq!(sim.control().counters().tokens_issued, 1);
    sim.shutdown().await;
}

/// The start-up warm-up and a call racing it make one token request between them.
#[tokio::test]
async fn warm_up_fetches_the_token_once_and_calls_reuse_it() {
    let sim = start().await;
    let graph = graph(&sim);
    let warming = graph.warm_up();
    // Started before the warm-up has its answer: waits for it rather than asking again.
    graph.users().get(ADELE, USER_SELECT).await.unwrap();
    warming.await.unwrap();
    assert_eq!(sim.control().counters().tokens_issued, 1);
    graph.users().get(ALEX, USER_SELECT).await.unwrap();
    assert_eq!(sim.control().counters().tokens_issued, 1);
    sim.shutdown().await;
}

/// A warm-up that fails (wrong secret) is logged, not fatal; the first call reports it.
#[tokio::test]
async fn failed_warm_up_leaves_the_error_to_the_first_call() {
    let sim = start().await;
    let graph = GraphClient::new(secret_config(&sim, APP, "not-the-secret")).unwrap();
    graph.warm_up().await.unwrap();
    let err = graph.users().get(ADELE, USER_SELECT).await.unwrap_err();
    assert_eq!(err.kind, GraphErrorKind::Authentication, "{err:?}");
    assert_eq!(sim.control().counters().tokens_issued, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn federated_client_assertion_gets_a_token_without_any_secret() {
    let sim = start().await;
    let graph = GraphClient::new(config(&sim, APP, federated_assertion(ENROLL_ROLE))).unwrap();
    let user = graph.users().get(ADELE, USER_SELECT).await.unwrap();
    assert_eq!(
        user.user_principal_name.as_deref(),
        Some("adele.vance@contoso.com")
    );
    let roles = graph.granted_roles().await.unwrap();
    assert!(roles.contains(&"User.Read.All".to_string()), "{roles:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn assertion_for_an_unknown_role_is_refused_as_an_authentication_error() {
    let sim = start().await;
    let graph = GraphClient::new(config(
        &sim,
        APP,
        federated_assertion("arn:aws:iam::999999999999:role/intruder"),
    ))
    .unwrap();
    let err = graph.users().get(ADELE, USER_SELECT).await.unwrap_err();
    assert_eq!(err.kind, GraphErrorKind::Authentication);
    assert!(err.is_unauthorized());
    assert!(!err.is_retryable());
    assert_eq!(sim.control().counters().tokens_issued, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn wrong_client_secret_is_a_typed_401_and_never_echoed() {
    let sim = start().await;
    let graph = GraphClient::new(secret_config(&sim, APP, "not-the-secret-xyz")).unwrap();
    let err = graph.users().get(ADELE, USER_SELECT).await.unwrap_err();
    assert_eq!(err.kind, GraphErrorKind::Authentication);
    assert_eq!(err.status, Some(401));
    assert_eq!(err.code.as_deref(), Some("invalid_client"));
    assert!(!err.to_string().contains("not-the-secret-xyz"));
    // Nothing reached Graph without a token.
    assert_eq!(sim.control().counters().calls("GET /users/{user}"), 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn without_the_simulators_ca_the_tls_handshake_fails() {
    let sim = start().await;
    let mut config = secret_config(&sim, APP, APP_SECRET);
    config.extra_root_ca_pem = None;
    let graph = GraphClient::new(config).unwrap();
    let err = graph.access_token().await.unwrap_err();
    assert!(
        matches!(
            err.kind,
            GraphErrorKind::Connect | GraphErrorKind::Authentication
        ),
        "{err:?}"
    );
    assert_eq!(sim.control().counters().tokens_issued, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn http_authority_is_refused_before_any_request() {
    let sim = start().await;
    let config = secret_config(&sim, APP, APP_SECRET).with_authority_host("http://127.0.0.1:9/");
    let err = GraphClient::new(config).unwrap_err();
    assert_eq!(err.kind, GraphErrorKind::Config);
    sim.shutdown().await;
}

#[tokio::test]
async fn garbage_ca_pem_is_a_config_error() {
    let sim = start().await;
    let config = secret_config(&sim, APP, APP_SECRET).with_extra_root_ca_pem("not a pem");
    let err = GraphClient::new(config).unwrap_err();
    assert_eq!(err.kind, GraphErrorKind::Config);
    sim.shutdown().await;
}
