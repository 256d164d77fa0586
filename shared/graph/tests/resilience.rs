//! Throttling, transient failures, writes that landed although the answer was lost, and
//! missing permissions — each proven by the simulator's counters and state.

mod common;

use std::time::{Duration, Instant};

use autoenroll_graph::model::{PhoneType, TemporaryAccessPassRequest, USER_SELECT};
use autoenroll_graph::{BudgetClass, GraphClient, GraphErrorKind, RetryConfig};
use common::*;
use graph_sim::{FaultKind, FaultRule, LatencyRule};

const GET_USER: &str = "GET /users/{user}";
const POST_PHONE: &str = "POST /users/{user}/authentication/phoneMethods";
const GET_PHONES: &str = "GET /users/{user}/authentication/phoneMethods";
const POST_TAP: &str = "POST /users/{user}/authentication/temporaryAccessPassMethods";

fn throttle(route: &str, retry_after_secs: u32) -> FaultRule {
    FaultRule {
        retry_after_secs: Some(retry_after_secs),
        ..FaultRule::new(route, FaultKind::Throttle).times(1)
    }
}

#[tokio::test]
async fn throttled_call_waits_exactly_retry_after_then_succeeds() {
    let sim = start().await;
    let graph = graph(&sim);
    graph.access_token().await.unwrap();
    sim.control().add_fault(throttle(GET_USER, 2));
    let logs = LogCapture::default();
    let _guard = logs.install("autoenroll_graph=debug");

    let started = Instant::now();
    let user = graph.users().get(ADELE, USER_SELECT).await.unwrap();
    let elapsed = started.elapsed();

    assert_eq!(user.id, ADELE);
    let counters = sim.control().counters();
    assert_eq!(counters.calls_with_status(GET_USER, 429), 1);
    assert_eq!(counters.calls_with_status(GET_USER, 200), 1);
    assert_eq!(
        counters.calls(GET_USER),
        2,
        "one throttled call, one retry, nothing else"
    );
    // The retry waited the Retry-After, not the (50 ms) backoff.
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
    let retry = logs
        .lines()
        .into_iter()
        .find(|l| l["fields"]["message"] == "Graph call failed; retrying")
        .expect("a retry was logged");
    assert_eq!(retry["fields"]["delay_ms"], 2000);
    assert_eq!(retry["fields"]["status"], 429);
    // Graph's feedback narrowed the read budget for everyone in the process.
    assert!(graph.pacer().snapshot(BudgetClass::Read).factor < 1.0);
    sim.shutdown().await;
}

#[tokio::test]
async fn retry_after_beyond_the_wait_budget_gives_the_429_back_at_once() {
    let sim = start().await;
    let graph = graph(&sim);
    sim.control().add_fault(throttle(GET_USER, 600));
    let err = graph.users().get(ADELE, USER_SELECT).await.unwrap_err();
    assert!(err.is_throttled());
    assert_eq!(err.retry_after, Some(Duration::from_secs(600)));
    assert_eq!(sim.control().counters().calls(GET_USER), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn service_unavailable_is_retried_until_it_clears() {
    let sim = start().await;
    let graph = graph(&sim);
    sim.control().add_fault(FaultRule {
        retry_after_secs: Some(1),
        ..FaultRule::new(GET_USER, FaultKind::Status { status: 503 }).times(2)
    });
    sim.control().add_fault(
        FaultRule::new(
            "PATCH /users/{user}/authentication/requirements",
            FaultKind::Status { status: 504 },
        )
        .times(1),
    );
    graph.users().get(ADELE, USER_SELECT).await.unwrap();
    graph
        .mfa_requirements(NEW_HIRE)
        .set(autoenroll_graph::model::PerUserMfaState::Enabled)
        .await
        .unwrap();
    let counters = sim.control().counters();
    assert_eq!(counters.calls_with_status(GET_USER, 503), 2);
    assert_eq!(counters.calls_with_status(GET_USER, 200), 1);
    assert_eq!(
        counters.calls("PATCH /users/{user}/authentication/requirements"),
        2
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn persistent_503_stops_after_the_configured_attempts() {
    let sim = start().await;
    let graph = graph(&sim);
    sim.control().add_fault(FaultRule {
        retry_after_secs: Some(0),
        ..FaultRule::new(GET_USER, FaultKind::Status { status: 503 })
    });
    let err = graph.users().get(ADELE, USER_SELECT).await.unwrap_err();
    assert_eq!(err.status, Some(503));
    assert_eq!(
        sim.control().counters().calls(GET_USER),
        4,
        "max_attempts = 4"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn internal_server_error_is_not_retried() {
    let sim = start().await;
    let graph = graph(&sim);
    sim.control()
        .add_fault(FaultRule::new(GET_USER, FaultKind::Status { status: 500 }).times(1));
    let err = graph.users().get(ADELE, USER_SELECT).await.unwrap_err();
    assert_eq!(err.status, Some(500));
    assert_eq!(sim.control().counters().calls(GET_USER), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_post_that_may_have_landed_is_not_blindly_repeated_but_a_throttled_one_is() {
    let sim = start().await;
    let graph = graph(&sim);
    let tap = TemporaryAccessPassRequest {
        lifetime_in_minutes: Some(60),
        ..TemporaryAccessPassRequest::default()
    };
    sim.control()
        .add_fault(FaultRule::new(POST_TAP, FaultKind::Status { status: 503 }).times(1));
    let err = graph.tap(ADELE).create(&tap).await.unwrap_err();
    assert_eq!(err.status, Some(503));
    assert_eq!(sim.control().counters().calls(POST_TAP), 1);

    sim.control().add_fault(throttle(POST_TAP, 1));
    graph.tap(ADELE).create(&tap).await.unwrap();
    let counters = sim.control().counters();
    assert_eq!(counters.calls_with_status(POST_TAP, 429), 1);
    assert_eq!(counters.calls_with_status(POST_TAP, 201), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn phone_post_that_landed_before_a_504_is_found_on_retry_not_posted_twice() {
    let sim = start().await;
    let graph = graph(&sim);
    sim.control().add_fault(
        FaultRule::new(
            POST_PHONE,
            FaultKind::Timeout {
                hold_ms: 200,
                apply_first: true,
            },
        )
        .times(1),
    );
    let method = graph
        .phone_methods(LEE)
        .add("+1 9135550101", PhoneType::Mobile)
        .await
        .unwrap();
    assert_eq!(method.phone_number, "+1 9135550101");
    let counters = sim.control().counters();
    assert_eq!(
        counters.calls(POST_PHONE),
        1,
        "the retry re-read instead of posting again"
    );
    assert_eq!(counters.calls_with_status(POST_PHONE, 504), 1);
    assert_eq!(counters.calls(GET_PHONES), 1);
    assert_eq!(
        sim_user(&sim, LEE)["authentication"]["phones"]["mobile"]["phoneNumber"],
        "+1 9135550101"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn phone_post_whose_answer_never_came_is_found_after_the_client_timeout() {
    let sim = start().await;
    let config =
        secret_config(&sim, APP, APP_SECRET).with_request_timeout(Duration::from_millis(500));
    let graph = GraphClient::new(config).unwrap();
    graph.access_token().await.unwrap();
    sim.control().add_fault(
        FaultRule::new(
            POST_PHONE,
            FaultKind::Timeout {
                hold_ms: 3_000,
                apply_first: true,
            },
        )
        .times(1),
    );
    let method = graph
        .phone_methods(NEW_HIRE)
        .add("+31 633333333", PhoneType::Mobile)
        .await
        .unwrap();
    assert_eq!(method.phone_type, PhoneType::Mobile);
    let phones = sim_user(&sim, NEW_HIRE)["authentication"]["phones"].clone();
    assert_eq!(phones.as_object().map(|m| m.len()), Some(1), "{phones}");
    assert_eq!(sim.control().counters().calls(GET_PHONES), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn slow_answer_beyond_the_request_timeout_is_a_timeout_error() {
    let sim = start().await;
    let config = secret_config(&sim, APP, APP_SECRET)
        .with_request_timeout(Duration::from_millis(300))
        .with_retry(RetryConfig {
            max_attempts: 1,
            ..RetryConfig::default()
        });
    let graph = GraphClient::new(config).unwrap();
    graph.access_token().await.unwrap();
    sim.control().set_latency(vec![LatencyRule {
        route: GET_USER.into(),
        min_ms: 2_000,
        max_ms: None,
    }]);
    let err = graph.users().get(ADELE, USER_SELECT).await.unwrap_err();
    assert_eq!(err.kind, GraphErrorKind::Timeout);
    assert!(err.is_retryable());
    sim.shutdown().await;
}

#[tokio::test]
async fn missing_permission_is_a_typed_forbidden_error_and_not_retried() {
    let sim = start().await;
    let reader = GraphClient::new(secret_config(&sim, READER, READER_SECRET)).unwrap();
    let err = reader
        .phone_methods(LEE)
        .add("+1 9135550101", PhoneType::Mobile)
        .await
        .unwrap_err();
    assert!(err.is_forbidden());
    assert_eq!(err.code.as_deref(), Some("Authorization_RequestDenied"));
    assert!(!err.is_retryable());
    assert_eq!(sim.control().counters().calls(POST_PHONE), 1);
    assert!(
        sim_user(&sim, LEE)["authentication"]["phones"]
            .get("mobile")
            .is_none()
    );
    // Reading is within its permissions.
    reader.users().get(LEE, USER_SELECT).await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn logs_carry_route_status_and_request_id_but_never_token_or_number() {
    let sim = start().await;
    let graph = graph(&sim);
    let token = graph.access_token().await.unwrap();
    sim.control().add_fault(FaultRule {
        retry_after_secs: Some(0),
        ..FaultRule::new(POST_PHONE, FaultKind::Status { status: 503 }).times(1)
    });
    let logs = LogCapture::default();
    let guard = logs.install("trace");
    graph
        .phone_methods(NEW_HIRE)
        .add("+31 633333333", PhoneType::Mobile)
        .await
        .unwrap();
    let _ = graph
        .phone_methods(NEW_HIRE)
        .add("+31 644444444", PhoneType::Mobile)
        .await;
    drop(guard);
    let text = logs.text();
    assert!(!text.contains(token.expose()), "token in logs");
    assert!(
        !text.contains("633333333") && !text.contains("644444444"),
        "number in logs"
    );
    assert!(!text.contains(NEW_HIRE), "user id (in the URL) in logs");
    assert!(
        text.contains("/users/{id}/authentication/phoneMethods"),
        "route template logged"
    );
    assert!(text.contains("request_id"), "request id logged");
    sim.shutdown().await;
}
