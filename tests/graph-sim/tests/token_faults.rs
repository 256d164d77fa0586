//! Injected faults on the Entra token endpoint (`graph_sim::TOKEN_ROUTE`): OAuth refusals in
//! Entra's error shape, 5xx, throttling, silence — through the admin API and `Control`.

mod common;

use common::*;
use graph_sim::{FaultKind, FaultRule, TOKEN_ROUTE, TokenErrorCode};
use serde_json::{Value, json};

async fn ask_token(sim: &graph_sim::Sim) -> (u16, Value, reqwest::header::HeaderMap) {
    let response = client(sim)
        .post(token_url(sim))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", APP),
            ("client_secret", APP_SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        response.json().await.unwrap_or(Value::Null),
        headers,
    )
}

fn assert_entra_shape(body: &Value, error: &str, code: u64) {
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"], json!([code]));
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.starts_with(&format!("AADSTS{code}: ")),
        "{description}"
    );
    for field in ["timestamp", "trace_id", "correlation_id"] {
        assert!(body[field].is_string(), "{field} in {body}");
    }
}

#[tokio::test]
async fn oauth_refusals_use_entras_error_body() {
    let sim = start().await;
    sim.control().add_fault(
        FaultRule::new(
            TOKEN_ROUTE,
            FaultKind::TokenError {
                error: TokenErrorCode::InvalidClient,
                status: Some(400),
            },
        )
        .times(1),
    );
    let (status, body, _) = ask_token(&sim).await;
    assert_eq!(status, 400);
    assert_entra_shape(&body, "invalid_client", 7000222);
    assert!(!body.to_string().contains(APP_SECRET));

    // Through the admin API, with the default status.
    let admin = client(&sim);
    let r = admin
        .post(format!("{}/_sim/faults", sim.base_url()))
        .json(&json!({"route": TOKEN_ROUTE, "kind": "tokenError", "error": "unauthorized_client", "count": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (status, body, _) = ask_token(&sim).await;
    assert_eq!(status, 400);
    assert_entra_shape(&body, "unauthorized_client", 7000112);

    // Count exhausted: tokens flow again.
    let (status, body, _) = ask_token(&sim).await;
    assert_eq!(status, 200, "{body}");
    let counters = sim.control().counters();
    assert_eq!(counters.faults_injected, 2);
    assert_eq!(counters.tokens_issued, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn server_errors_and_throttling_on_the_token_endpoint() {
    let sim = start().await;
    let control = sim.control();
    control.add_fault(FaultRule::new(TOKEN_ROUTE, FaultKind::Status { status: 503 }).times(1));
    let (status, body, _) = ask_token(&sim).await;
    assert_eq!(status, 503);
    assert_entra_shape(&body, "temporarily_unavailable", 90033);
    control.add_fault(FaultRule::new(TOKEN_ROUTE, FaultKind::Status { status: 500 }).times(1));
    let (status, body, _) = ask_token(&sim).await;
    assert_eq!(status, 500);
    assert_entra_shape(&body, "server_error", 50000);
    let mut throttle = FaultRule::new(TOKEN_ROUTE, FaultKind::Throttle).times(1);
    throttle.retry_after_secs = Some(3);
    control.add_fault(throttle);
    let (status, body, headers) = ask_token(&sim).await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "3");
    assert_entra_shape(&body, "temporarily_unavailable", 90024);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_silent_token_endpoint_times_the_client_out() {
    let sim = start().await;
    sim.control().add_fault(
        FaultRule::new(
            TOKEN_ROUTE,
            FaultKind::Timeout {
                hold_ms: 2_000,
                apply_first: false,
            },
        )
        .times(1),
    );
    let err = client(&sim)
        .post(token_url(&sim))
        .timeout(std::time::Duration::from_millis(300))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(sim.control().counters().tokens_issued, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn wildcard_graph_faults_leave_the_token_endpoint_alone() {
    let sim = start().await;
    sim.control()
        .add_fault(FaultRule::new("*", FaultKind::Status { status: 503 }));
    let (status, body, _) = ask_token(&sim).await;
    assert_eq!(status, 200, "{body}");
    let graph = Graph::new(&sim).await;
    let (status, _) = graph.get(&format!("/v1.0/users/{ADELE}")).await;
    assert_eq!(status, 503);
    sim.shutdown().await;
}

#[tokio::test]
async fn token_errors_are_refused_on_graph_routes() {
    let sim = start().await;
    let r = client(&sim)
        .post(format!("{}/_sim/faults", sim.base_url()))
        .json(
            &json!({"route": "GET /users/{user}", "kind": "tokenError", "error": "invalid_client"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_token_fault_can_wait_for_a_graph_call_and_tokens_can_be_short_lived() {
    let sim = start_with(graph_sim::SimOptions {
        seed: graph_sim::Seed::contoso(),
        token_lifetime: Some(std::time::Duration::from_secs(60)),
        ..Default::default()
    })
    .await;
    sim.control().add_fault(
        FaultRule::new(
            TOKEN_ROUTE,
            FaultKind::TokenError {
                error: TokenErrorCode::UnauthorizedClient,
                status: None,
            },
        )
        .after("GET /users/{user}")
        .times(1),
    );
    // Not armed yet: no user has been read.
    let (status, body, _) = ask_token(&sim).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 60);
    let graph = Graph::new(&sim).await;
    let (status, _) = graph.get(&format!("/v1.0/users/{ADELE}")).await;
    assert_eq!(status, 200);
    // Armed by that read: the next token request fails, once.
    let (status, body, _) = ask_token(&sim).await;
    assert_eq!(status, 400);
    assert_entra_shape(&body, "unauthorized_client", 7000112);
    let (status, body, _) = ask_token(&sim).await;
    assert_eq!(status, 200, "{body}");
    sim.shutdown().await;
}
