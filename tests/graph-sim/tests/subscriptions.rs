//! `/subscriptions` over HTTP: the validation handshake against a real loopback webhook, the
//! rules Graph applies to `/users` subscriptions, renew / delete / reauthorize.

mod common;
mod webhook;

use std::time::Duration;

use common::*;
use graph_sim::{AppSeed, NotificationOptions, Seed, SimOptions};
use serde_json::{Value, json};
use webhook::{Validation, Webhook};

fn in_minutes(sim: &graph_sim::Sim, minutes: i64) -> String {
    let at = sim.control().now() + time::Duration::minutes(minutes);
    let at = at.replace_nanosecond(0).unwrap();
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn users_subscription(sim: &graph_sim::Sim, hook: &Webhook) -> Value {
    json!({
        "changeType": "updated,deleted",
        "notificationUrl": hook.url("/notify"),
        "lifecycleNotificationUrl": hook.url("/lifecycle"),
        "resource": "/users",
        "expirationDateTime": in_minutes(sim, 60 * 24),
        "clientState": "s3cret-client-state",
    })
}

#[tokio::test]
async fn creating_a_users_subscription_validates_both_urls_and_returns_201() {
    let sim = start().await;
    let hook = Webhook::start().await;
    let graph = Graph::new(&sim).await;

    let (status, body) = graph
        .post("/v1.0/subscriptions", users_subscription(&sim, &hook))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["resource"], "/users");
    assert_eq!(body["changeType"], "updated,deleted");
    assert_eq!(body["clientState"], "s3cret-client-state");
    assert_eq!(body["applicationId"], APP);
    assert_eq!(body["latestSupportedTlsVersion"], "v1_2");
    assert!(
        body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("/v1.0/$metadata#subscriptions/$entity")
    );
    let expiration = body["expirationDateTime"].as_str().unwrap();
    assert!(expiration.ends_with('Z') && expiration.len() == "2016-11-22T18:23:45.9356913Z".len());

    let validations = hook.validations();
    assert_eq!(validations.len(), 2);
    assert_eq!(validations[0].path, "/notify");
    assert_eq!(validations[1].path, "/lifecycle");
    for v in &validations {
        assert_eq!(v.content_type, "text/plain; charset=utf-8");
        // The token is a sentence, encoded the .NET way: the webhook must URL-decode it.
        let raw = v.raw_query.as_deref().unwrap();
        assert!(
            raw.starts_with("validationToken=Validation%3a+Testing+client"),
            "{raw}"
        );
        assert!(
            v.validation_token
                .as_deref()
                .unwrap()
                .starts_with("Validation: Testing client")
        );
    }
    sim.shutdown().await;
    hook.stop().await;
}

#[tokio::test]
async fn the_handshake_keeps_the_notification_urls_own_query_string() {
    let sim = start().await;
    let hook = Webhook::start().await;
    let graph = Graph::new(&sim).await;
    let mut body = users_subscription(&sim, &hook);
    body["notificationUrl"] = json!(hook.url("/notify?tenant=contoso"));
    body.as_object_mut()
        .unwrap()
        .remove("lifecycleNotificationUrl");
    let (status, _) = graph.post("/v1.0/subscriptions", body).await;
    assert_eq!(status, 201);
    let v = &hook.validations()[0];
    assert!(
        v.raw_query
            .as_deref()
            .unwrap()
            .starts_with("tenant=contoso&validationToken=")
    );
    sim.shutdown().await;
    hook.stop().await;
}

async fn creation_fails_with(validation: Validation, expected_message: &str) {
    let sim = start_with(SimOptions {
        seed: Seed::contoso(),
        notifications: NotificationOptions {
            validation_timeout_ms: 300,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let hook = Webhook::start().await;
    hook.set(|b| b.validation = validation.clone());
    let graph = Graph::new(&sim).await;
    let (status, body) = graph
        .post("/v1.0/subscriptions", users_subscription(&sim, &hook))
        .await;
    assert_eq!(status, 400, "{validation:?}: {body}");
    assert_eq!(error_code(&body), "InvalidRequest");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(expected_message),
        "{validation:?}: {message}"
    );
    let (_, list) = graph.get("/v1.0/subscriptions").await;
    assert_eq!(list["value"].as_array().unwrap().len(), 0);
    sim.shutdown().await;
    hook.stop().await;
}

#[tokio::test]
async fn a_webhook_that_echoes_something_else_fails_creation() {
    creation_fails_with(Validation::WrongBody, "must exactly match validationToken").await;
}

#[tokio::test]
async fn a_webhook_that_echoes_the_still_encoded_token_fails_creation() {
    creation_fails_with(
        Validation::EchoEncoded,
        "must exactly match validationToken",
    )
    .await;
}

#[tokio::test]
async fn a_webhook_that_answers_json_fails_creation() {
    creation_fails_with(Validation::WrongContentType, "text/plain").await;
}

#[tokio::test]
async fn a_webhook_that_answers_202_fails_creation() {
    creation_fails_with(Validation::Status(202), "must respond with 200 OK").await;
}

#[tokio::test]
async fn a_webhook_slower_than_the_validation_timeout_fails_creation() {
    creation_fails_with(Validation::Slow(Duration::from_millis(1_500)), "timed out").await;
}

#[tokio::test]
async fn a_redirect_during_the_handshake_is_not_followed() {
    creation_fails_with(Validation::Redirect, "must respond with 200 OK").await;
}

#[tokio::test]
async fn an_unreachable_webhook_fails_creation() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    // A port nothing listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let body = json!({
        "changeType": "updated",
        "notificationUrl": format!("http://127.0.0.1:{port}/notify"),
        "resource": "users",
        "expirationDateTime": in_minutes(&sim, 60),
    });
    let (status, body) = graph.post("/v1.0/subscriptions", body).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Subscription validation request failed.")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_failing_lifecycle_url_fails_creation_too() {
    let sim = start().await;
    let hook = Webhook::start().await;
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let graph = Graph::new(&sim).await;
    let mut body = users_subscription(&sim, &hook);
    body["lifecycleNotificationUrl"] = json!(format!("http://127.0.0.1:{dead}/lifecycle"));
    let (status, body) = graph.post("/v1.0/subscriptions", body).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("lifecycleNotificationUrl")
    );
    assert_eq!(sim.control().subscriptions().len(), 0);
    sim.shutdown().await;
    hook.stop().await;
}

#[tokio::test]
async fn an_https_loopback_webhook_with_a_self_signed_certificate_is_accepted() {
    let sim = start().await;
    let hook = Webhook::start_tls().await;
    let graph = Graph::new(&sim).await;
    let (status, body) = graph
        .post("/v1.0/subscriptions", users_subscription(&sim, &hook))
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(
        body["notificationUrl"]
            .as_str()
            .unwrap()
            .starts_with("https://127.0.0.1:")
    );
    assert_eq!(hook.validations().len(), 2);
    sim.shutdown().await;
    hook.stop().await;
}

#[tokio::test]
async fn plain_http_to_a_non_loopback_host_is_refused_without_a_request() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let body = json!({
        "changeType": "updated",
        "notificationUrl": "http://webhook.example.com/notify",
        "resource": "/users",
        "expirationDateTime": in_minutes(&sim, 60),
    });
    let (status, body) = graph.post("/v1.0/subscriptions", body).await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().contains("HTTPS"));
    assert_eq!(sim.control().notification_counters().validations, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn created_is_not_a_valid_change_type_for_users() {
    let sim = start().await;
    let hook = Webhook::start().await;
    let graph = Graph::new(&sim).await;
    let mut body = users_subscription(&sim, &hook);
    body["changeType"] = json!("created,updated");
    let (status, body) = graph.post("/v1.0/subscriptions", body).await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), "InvalidRequest");
    assert_eq!(
        body["error"]["message"],
        "Invalid 'changeType' attribute: 'created'."
    );
    assert!(
        hook.requests().is_empty(),
        "no handshake for an invalid request"
    );
    sim.shutdown().await;
    hook.stop().await;
}

#[tokio::test]
async fn expiration_is_limited_to_41760_minutes_and_must_be_in_the_future() {
    let sim = start().await;
    let hook = Webhook::start().await;
    let graph = Graph::new(&sim).await;
    for (minutes, expected) in [(41_761, 400), (-5, 400), (41_750, 201)] {
        let mut body = users_subscription(&sim, &hook);
        body["expirationDateTime"] = json!(in_minutes(&sim, minutes));
        let (status, body) = graph.post("/v1.0/subscriptions", body).await;
        assert_eq!(status, expected, "{minutes} minutes: {body}");
        if expected == 400 {
            assert_eq!(error_code(&body), "InvalidRequest");
        }
    }
    sim.shutdown().await;
    hook.stop().await;
}

#[tokio::test]
async fn client_state_is_limited_to_128_characters() {
    let sim = start().await;
    let hook = Webhook::start().await;
    let graph = Graph::new(&sim).await;
    for (len, expected) in [(129, 400), (128, 201)] {
        let mut body = users_subscription(&sim, &hook);
        body["clientState"] = json!("é".repeat(len));
        let (status, body) = graph.post("/v1.0/subscriptions", body).await;
        assert_eq!(status, expected, "{len} characters: {body}");
    }
    sim.shutdown().await;
    hook.stop().await;
}

#[tokio::test]
async fn unsupported_resources_and_unknown_users_are_refused() {
    let sim = start().await;
    let hook = Webhook::start().await;
    let graph = Graph::new(&sim).await;
    let mut body = users_subscription(&sim, &hook);
    body["resource"] = json!("/users/adele.vance@contoso.com/messages");
    assert_eq!(graph.post("/v1.0/subscriptions", body.clone()).await.0, 400);
    body["resource"] = json!("/users/00000000-0000-0000-0000-000000000000");
    assert_eq!(graph.post("/v1.0/subscriptions", body.clone()).await.0, 404);
    body["resource"] = json!("/users/adele.vance@contoso.com");
    let (status, created) = graph.post("/v1.0/subscriptions", body).await;
    assert_eq!(status, 201, "{created}");
    sim.shutdown().await;
    hook.stop().await;
}

#[tokio::test]
async fn an_app_without_a_user_read_permission_gets_403() {
    let mut seed = Seed::contoso();
    seed.apps.push(AppSeed {
        client_id: "7b0c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d".into(),
        display_name: Some("phone writer only".into()),
        secrets: vec!["sim-secret-no-users".into()],
        roles: vec!["UserAuthMethod-Phone.ReadWrite.All".into()],
        certificate_thumbprints: vec![],
        federated_credentials: vec![],
    });
    let sim = start_with(SimOptions {
        seed,
        ..Default::default()
    })
    .await;
    let hook = Webhook::start().await;
    let graph = Graph::for_app(
        &sim,
        "7b0c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d",
        "sim-secret-no-users",
    )
    .await;
    let (status, body) = graph
        .post("/v1.0/subscriptions", users_subscription(&sim, &hook))
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(error_code(&body), "Authorization_RequestDenied");
    assert!(hook.requests().is_empty());
    sim.shutdown().await;
    hook.stop().await;
}

#[tokio::test]
async fn the_101st_users_subscription_of_an_app_is_refused_with_403() {
    let sim = start().await;
    let hook = Webhook::start().await;
    let graph = Graph::new(&sim).await;
    let mut body = users_subscription(&sim, &hook);
    body.as_object_mut()
        .unwrap()
        .remove("lifecycleNotificationUrl");
    for n in 0..100 {
        let (status, created) = graph.post("/v1.0/subscriptions", body.clone()).await;
        assert_eq!(status, 201, "subscription {n}: {created}");
    }
    let (status, refused) = graph.post("/v1.0/subscriptions", body.clone()).await;
    assert_eq!(status, 403, "{refused}");
    // Per app: another app of the same tenant still can.
    let reader = Graph::for_app(&sim, READER, READER_SECRET).await;
    assert_eq!(
        reader.post("/v1.0/subscriptions", body.clone()).await.0,
        201
    );
    // Deleting one frees a place.
    let (_, list) = graph.get("/v1.0/subscriptions").await;
    let list = list["value"].as_array().unwrap();
    assert_eq!(list.len(), 100);
    let id = list[0]["id"].as_str().unwrap();
    assert_eq!(
        graph.delete(&format!("/v1.0/subscriptions/{id}")).await.0,
        204
    );
    assert_eq!(graph.post("/v1.0/subscriptions", body).await.0, 201);
    sim.shutdown().await;
    hook.stop().await;
}

#[tokio::test]
async fn get_list_renew_reauthorize_and_delete_a_subscription() {
    let sim = start().await;
    let hook = Webhook::start().await;
    let graph = Graph::new(&sim).await;
    let (_, created) = graph
        .post("/beta/subscriptions", users_subscription(&sim, &hook))
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    let path = format!("/v1.0/subscriptions/{id}");

    let (status, got) = graph.get(&path).await;
    assert_eq!(status, 200);
    assert_eq!(got["id"], id.as_str());
    // Another app does not see it.
    let reader = Graph::for_app(&sim, READER, READER_SECRET).await;
    assert_eq!(reader.get(&path).await.0, 404);
    let (_, theirs) = reader.get("/v1.0/subscriptions").await;
    assert_eq!(theirs["value"].as_array().unwrap().len(), 0);
    let (_, mine) = graph.get("/v1.0/subscriptions").await;
    assert_eq!(mine["value"].as_array().unwrap().len(), 1);

    // Renew: 200 with the new expiration; no new handshake.
    let validations = hook.validations().len();
    let new_expiration = in_minutes(&sim, 41_000);
    let (status, renewed) = graph
        .patch(&path, json!({"expirationDateTime": new_expiration}))
        .await;
    assert_eq!(status, 200, "{renewed}");
    let renewed_at = time::OffsetDateTime::parse(
        renewed["expirationDateTime"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let asked = time::OffsetDateTime::parse(
        &new_expiration,
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(renewed_at, asked);
    assert_eq!(hook.validations().len(), validations);
    assert_eq!(
        graph
            .patch(
                &path,
                json!({"expirationDateTime": in_minutes(&sim, 50_000)})
            )
            .await
            .0,
        400
    );
    // Only the expiration (and notification URL) may change.
    let (status, body) = graph.patch(&path, json!({"changeType": "updated"})).await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = graph
        .patch(
            &path,
            json!({"lifecycleNotificationUrl": hook.url("/other")}),
        )
        .await;
    assert_eq!(status, 400);

    // Reauthorize: 204, both spellings.
    assert_eq!(
        graph
            .post(&format!("{path}/reauthorize"), json!({}))
            .await
            .0,
        204
    );
    assert_eq!(
        graph
            .post(&format!("{path}/microsoft.graph.reauthorize"), json!({}))
            .await
            .0,
        204
    );

    assert_eq!(graph.delete(&path).await.0, 204);
    let (status, body) = graph.get(&path).await;
    assert_eq!(status, 404);
    assert_eq!(error_code(&body), "ResourceNotFound");
    assert_eq!(graph.delete(&path).await.0, 404);
    assert_eq!(
        graph
            .post(&format!("{path}/reauthorize"), json!({}))
            .await
            .0,
        404
    );
    sim.shutdown().await;
    hook.stop().await;
}

#[tokio::test]
async fn renewing_to_a_new_notification_url_validates_it() {
    let sim = start().await;
    let hook = Webhook::start().await;
    let graph = Graph::new(&sim).await;
    let (_, created) = graph
        .post("/v1.0/subscriptions", users_subscription(&sim, &hook))
        .await;
    let path = format!("/v1.0/subscriptions/{}", created["id"].as_str().unwrap());
    hook.set(|b| b.validation = Validation::WrongBody);
    let (status, _) = graph
        .patch(&path, json!({"notificationUrl": hook.url("/moved")}))
        .await;
    assert_eq!(status, 400);
    hook.set(|b| b.validation = Validation::Echo);
    let (status, body) = graph
        .patch(&path, json!({"notificationUrl": hook.url("/moved")}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["notificationUrl"], hook.url("/moved"));
    sim.shutdown().await;
    hook.stop().await;
}

#[tokio::test]
async fn a_subscription_that_is_not_renewed_disappears_at_expiry() {
    let sim = start().await;
    let hook = Webhook::start().await;
    let graph = Graph::new(&sim).await;
    let mut body = users_subscription(&sim, &hook);
    body["expirationDateTime"] = json!(in_minutes(&sim, 90));
    let (_, created) = graph.post("/v1.0/subscriptions", body).await;
    let path = format!("/v1.0/subscriptions/{}", created["id"].as_str().unwrap());
    assert_eq!(graph.get(&path).await.0, 200);
    sim.control().advance_clock(Duration::from_secs(91 * 60));
    assert_eq!(graph.get(&path).await.0, 404);
    let (_, list) = graph.get("/v1.0/subscriptions").await;
    assert!(list["value"].as_array().unwrap().is_empty());
    assert_eq!(
        graph
            .patch(&path, json!({"expirationDateTime": in_minutes(&sim, 60)}))
            .await
            .0,
        404
    );
    sim.shutdown().await;
    hook.stop().await;
}

#[tokio::test]
async fn the_state_dump_never_contains_the_client_state() {
    let sim = start().await;
    let hook = Webhook::start().await;
    let graph = Graph::new(&sim).await;
    graph
        .post("/v1.0/subscriptions", users_subscription(&sim, &hook))
        .await;
    let dump = sim.control().dump().to_string();
    assert!(
        dump.contains(&hook.url("/notify")),
        "the subscription is in the dump"
    );
    assert!(!dump.contains("s3cret-client-state"));
    assert!(
        !sim.control().subscriptions()[0]
            .as_object()
            .unwrap()
            .contains_key("clientState")
    );
    sim.shutdown().await;
    hook.stop().await;
}
