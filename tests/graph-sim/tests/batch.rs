//! Item 8: JSON batching.

mod common;

use common::*;
use graph_sim::{FaultKind, FaultRule};
use serde_json::{Value, json};

fn by_id<'a>(body: &'a Value, id: &str) -> &'a Value {
    body["responses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap()
}

#[tokio::test]
async fn a_batch_runs_each_request_and_reports_each_status() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (status, body) = graph
        .post(
            "/v1.0/$batch",
            json!({"requests": [
                {"id": "1", "method": "GET", "url": format!("/users/{ALEX}?$select=id,mobilePhone")},
                {"id": "2", "method": "POST", "url": format!("/users/{ALEX}/authentication/phoneMethods"),
                 "headers": {"Content-Type": "application/json"},
                 "body": {"phoneNumber": "+1 2065550100", "phoneType": "mobile"}},
                {"id": "3", "method": "GET", "url": "/users/ghost@contoso.com"}
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(by_id(&body, "1")["status"], 200);
    assert_eq!(
        by_id(&body, "1")["body"]["mobilePhone"],
        "+1 (206) 555-0100"
    );
    assert_eq!(by_id(&body, "2")["status"], 201);
    assert_eq!(by_id(&body, "3")["status"], 404);
    assert_eq!(
        by_id(&body, "3")["body"]["error"]["code"],
        "Request_ResourceNotFound"
    );
    let alex = sim.control().user(ALEX).unwrap();
    assert_eq!(
        alex["authentication"]["phones"]["mobile"]["phoneNumber"],
        "+1 2065550100"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn more_than_twenty_requests_is_400() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let requests: Vec<Value> = (0..21)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": format!("/users/{ALEX}")}))
        .collect();
    let (status, body) = graph
        .post("/v1.0/$batch", json!({"requests": requests}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), "BadRequest");
    assert_eq!(sim.control().counters().calls("GET /users/{user}"), 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn dependents_of_a_failed_request_get_424_and_do_not_run() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (status, body) = graph
        .post(
            "/beta/$batch",
            json!({"requests": [
                {"id": "phone", "method": "POST", "url": format!("/users/{ALEX}/authentication/phoneMethods"),
                 "headers": {"Content-Type": "application/json"},
                 "body": {"phoneNumber": "not a number", "phoneType": "mobile"}},
                {"id": "default", "dependsOn": ["phone"], "method": "PATCH", "url": format!("/users/{ALEX}/authentication/signInPreferences"),
                 "headers": {"Content-Type": "application/json"},
                 "body": {"userPreferredMethodForSecondaryAuthentication": "sms"}},
                {"id": "mfa", "dependsOn": ["default"], "method": "PATCH", "url": format!("/users/{ALEX}/authentication/requirements"),
                 "headers": {"Content-Type": "application/json"},
                 "body": {"perUserMfaState": "enabled"}}
            ]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(by_id(&body, "phone")["status"], 400);
    assert_eq!(by_id(&body, "default")["status"], 424);
    assert_eq!(by_id(&body, "mfa")["status"], 424);
    let alex = sim.control().user(ALEX).unwrap();
    assert_eq!(alex["authentication"]["perUserMfaState"], "disabled");
    sim.shutdown().await;
}

#[tokio::test]
async fn depends_on_orders_execution_even_when_listed_backwards() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (status, body) = graph
        .post(
            "/beta/$batch",
            json!({"requests": [
                {"id": "b", "dependsOn": ["a"], "method": "PATCH", "url": format!("/users/{ALEX}/authentication/signInPreferences"),
                 "headers": {"Content-Type": "application/json"},
                 "body": {"userPreferredMethodForSecondaryAuthentication": "sms"}},
                {"id": "a", "method": "POST", "url": format!("/users/{ALEX}/authentication/phoneMethods"),
                 "headers": {"Content-Type": "application/json"},
                 "body": {"phoneNumber": "+1 2065550100", "phoneType": "mobile"}}
            ]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(by_id(&body, "a")["status"], 201);
    assert_eq!(by_id(&body, "b")["status"], 204);
    let (status, _) = graph
        .post("/v1.0/$batch", json!({"requests": [{"id": "x", "dependsOn": ["nope"], "method": "GET", "url": "/users"}]}))
        .await;
    assert_eq!(status, 400);
    let (status, _) = graph
        .post(
            "/v1.0/$batch",
            json!({"requests": [
            {"id": "x", "dependsOn": ["y"], "method": "GET", "url": "/users"},
            {"id": "y", "dependsOn": ["x"], "method": "GET", "url": "/users"}]}),
        )
        .await;
    assert_eq!(status, 400, "cycle");
    sim.shutdown().await;
}

#[tokio::test]
async fn each_item_is_throttled_on_its_own_inside_a_200_batch() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    sim.control()
        .add_fault(FaultRule::new("GET /users/{user}", FaultKind::Throttle).times(1));
    let (status, body) = graph
        .post(
            "/v1.0/$batch",
            json!({"requests": [
                {"id": "1", "method": "GET", "url": format!("/users/{ALEX}")},
                {"id": "2", "method": "GET", "url": format!("/users/{ADELE}")}
            ]}),
        )
        .await;
    assert_eq!(status, 200);
    let statuses: Vec<u64> = ["1", "2"]
        .iter()
        .map(|i| by_id(&body, i)["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 1);
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1);
    let throttled = body["responses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["status"] == 429)
        .unwrap();
    assert!(throttled["headers"]["Retry-After"].is_string());

    // The write quota applies per item as well.
    sim.control().set_throttle(graph_sim::ThrottleOptions {
        write_limit: 1,
        write_window_ms: 3_600_000,
        ..Default::default()
    });
    let (_, body) = graph
        .post(
            "/v1.0/$batch",
            json!({"requests": [
                {"id": "a", "method": "POST", "url": format!("/users/{ALEX}/authentication/phoneMethods"),
                 "headers": {"Content-Type": "application/json"}, "body": {"phoneNumber": "+1 2065550100", "phoneType": "mobile"}},
                {"id": "b", "method": "POST", "url": format!("/users/{ADELE}/authentication/phoneMethods"),
                 "headers": {"Content-Type": "application/json"}, "body": {"phoneNumber": "+31 612345678", "phoneType": "mobile"}}
            ]}),
        )
        .await;
    assert_eq!(by_id(&body, "a")["status"], 201);
    assert_eq!(by_id(&body, "b")["status"], 429);
    assert_eq!(
        by_id(&body, "b")["headers"]["x-ms-throttle-information"],
        "WriteLimitExceeded"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn batch_items_need_a_token_like_any_request() {
    let sim = start().await;
    let r = client(&sim)
        .post(format!("{}/v1.0/$batch", sim.base_url()))
        .json(&json!({"requests": [{"id": "1", "method": "GET", "url": "/users"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_item_with_a_body_but_no_content_type_fails_alone() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (status, body) = graph
        .post(
            "/v1.0/$batch",
            json!({"requests": [
                {"id": "1", "method": "POST", "url": format!("/users/{ALEX}/authentication/phoneMethods"),
                 "body": {"phoneNumber": "+1 2065550100", "phoneType": "mobile"}},
                {"id": "2", "method": "GET", "url": format!("/users/{ALEX}")}
            ]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(by_id(&body, "1")["status"], 400);
    assert_eq!(by_id(&body, "2")["status"], 200);
    sim.shutdown().await;
}
