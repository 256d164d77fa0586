//! The handler called directly with Lambda Function URL events (HTTP API v2 payloads), over an
//! in-memory FIFO queue: what Lambda runs, minus the network.

mod common;

use autoenroll_aws::memory::StaticSecrets;
use autoenroll_core::notification::LifecycleEvent;
use autoenroll_core::ports::Trigger;
use common::*;
use lambda_http::http::Method;
use serde_json::json;

const JSON: Option<&str> = Some("application/json; charset=utf-8");

#[tokio::test]
async fn validation_token_is_echoed_decoded_as_plain_text_on_any_path() {
    let h = Harness::new();
    for path in ["/", "/lifecycle", "/any/deeper/path"] {
        let request = function_url_event(
            "POST",
            path,
            "validationToken=Validation%3a+Testing+client+application+reachability+for+subscription+Request-Id%3a+1f0e",
            Some("text/plain; charset=utf-8"),
            b"",
        );
        let (status, content_type, nosniff, body) = parts(h.webhook.handle(request).await);
        assert_eq!(status, 200, "{path}");
        assert_eq!(content_type, "text/plain; charset=utf-8");
        assert!(nosniff);
        assert_eq!(
            body,
            "Validation: Testing client application reachability for subscription Request-Id: 1f0e"
        );
    }
    assert!(h.queue.is_empty());
}

#[tokio::test]
async fn authenticated_changes_are_enqueued_per_user_and_answered_202() {
    let h = Harness::new();
    let body = collection(vec![
        change(USER_A, CLIENT_STATE),
        change(USER_B, CLIENT_STATE),
    ]);
    let request = function_url_event("POST", "/", "", JSON, &body);
    let (status, _, _, body) = parts(h.webhook.handle(request).await);
    assert_eq!(status, 202, "{body}");

    let requests = h.queue.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].user_id, USER_A);
    assert_eq!(requests[1].user_id, USER_B);
    for request in &requests {
        assert_eq!(request.tenant_id, TENANT);
        assert_eq!(
            request.trigger,
            Trigger::Notification {
                subscription_id: SUBSCRIPTION.into(),
                change_type: "updated".into()
            }
        );
        assert!(request.dedup_key.contains(SUBSCRIPTION));
    }
    assert_eq!(h.rejected_total(), 0.0);
}

#[tokio::test]
async fn the_same_notification_delivered_twice_is_queued_once() {
    let h = Harness::new();
    let body = collection(vec![change(USER_A, CLIENT_STATE)]);
    for _ in 0..2 {
        let reply = h
            .webhook
            .handle_bytes(&Method::POST, None, JSON, &body)
            .await;
        assert_eq!(reply.status, 202);
    }
    assert_eq!(h.queue.len(), 1);
}

#[tokio::test]
async fn two_distinct_changes_of_one_user_are_both_queued() {
    let h = Harness::new();
    let first = change(USER_A, CLIENT_STATE);
    let mut second = change(USER_A, CLIENT_STATE);
    second["resourceData"]["sequenceNumber"] = serde_json::json!(638000000000000999_u64);
    let body = collection(vec![first, second]);
    let reply = h
        .webhook
        .handle_bytes(&Method::POST, None, JSON, &body)
        .await;
    assert_eq!(reply.status, 202);
    assert_eq!(h.queue.len(), 2);
}

#[tokio::test]
async fn forged_items_are_dropped_while_authentic_neighbours_go_through() {
    let h = Harness::new();
    let body = collection(vec![
        change(USER_A, "guessed-client-state"),
        change(USER_B, CLIENT_STATE),
    ]);
    let reply = h
        .webhook
        .handle_bytes(&Method::POST, None, JSON, &body)
        .await;
    assert_eq!(reply.status, 202);
    let users: Vec<_> = h.queue.requests().into_iter().map(|r| r.user_id).collect();
    assert_eq!(users, vec![USER_B.to_owned()]);
    assert_eq!(h.rejected("ClientStateMismatch"), 1.0);
}

#[tokio::test]
async fn nothing_authenticated_is_401_and_nothing_is_queued() {
    let h = Harness::new();
    let body = collection(vec![change(USER_A, "nope"), change(USER_B, "nope")]);
    let request = function_url_event("POST", "/", "", JSON, &body);
    let (status, _, nosniff, _) = parts(h.webhook.handle(request).await);
    assert_eq!(status, 401);
    assert!(nosniff);
    assert!(h.queue.is_empty());
    assert_eq!(h.rejected("ClientStateMismatch"), 2.0);
}

#[tokio::test]
async fn previous_client_state_is_accepted_during_a_rotation_and_not_after() {
    let h = Harness::rotating();
    let body = collection(vec![
        change(USER_A, OLD_CLIENT_STATE),
        change(USER_B, CLIENT_STATE),
    ]);
    let reply = h
        .webhook
        .handle_bytes(&Method::POST, None, JSON, &body)
        .await;
    assert_eq!(reply.status, 202);
    assert_eq!(h.queue.len(), 2);

    // Rotation window over: only the new value remains.
    let after = Harness::with_secrets(StaticSecrets::new().with(CLIENT_STATE_SECRET, CLIENT_STATE));
    let body = collection(vec![change(USER_A, OLD_CLIENT_STATE)]);
    let reply = after
        .webhook
        .handle_bytes(&Method::POST, None, JSON, &body)
        .await;
    assert_eq!(reply.status, 401);
    assert!(after.queue.is_empty());
}

#[tokio::test]
async fn queue_outage_answers_503_so_graph_retries_and_then_succeeds() {
    let h = Harness::new();
    let body = collection(vec![change(USER_A, CLIENT_STATE)]);
    h.queue.set_unavailable(true);
    let request = function_url_event("POST", "/", "", JSON, &body);
    let (status, _, _, _) = parts(h.webhook.handle(request).await);
    assert_eq!(status, 503);
    assert!(h.queue.is_empty());

    h.queue.set_unavailable(false);
    let request = function_url_event("POST", "/", "", JSON, &body);
    let (status, _, _, _) = parts(h.webhook.handle(request).await);
    assert_eq!(status, 202);
    assert_eq!(h.queue.len(), 1);
}

#[tokio::test]
async fn unreadable_client_state_secret_answers_503_and_queues_nothing() {
    let h = Harness::with_secrets(StaticSecrets::new());
    let body = collection(vec![change(USER_A, CLIENT_STATE)]);
    let reply = h
        .webhook
        .handle_bytes(&Method::POST, None, JSON, &body)
        .await;
    assert_eq!(reply.status, 503);
    assert!(h.queue.is_empty());
}

#[tokio::test]
async fn reauthorization_required_is_queued_once_for_the_subscriptions_function() {
    let h = Harness::new();
    let body = collection(vec![
        lifecycle("reauthorizationRequired", CLIENT_STATE),
        lifecycle("reauthorizationRequired", CLIENT_STATE),
    ]);
    let reply = h
        .webhook
        .handle_bytes(&Method::POST, None, JSON, &body)
        .await;
    assert_eq!(reply.status, 202);
    assert_eq!(reply.lifecycle, 1);
    let queued = h.lifecycle.lifecycle_messages();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].subscription_id, SUBSCRIPTION);
    assert_eq!(queued[0].tenant_id, TENANT);
    assert_eq!(queued[0].event, LifecycleEvent::ReauthorizationRequired);
    assert!(
        h.queue.is_empty(),
        "a lifecycle event is not an enroll request"
    );
    // Ids only: the clientState never travels on.
    assert!(
        h.lifecycle
            .bodies()
            .iter()
            .all(|b| !b.contains(CLIENT_STATE))
    );
}

#[tokio::test]
async fn lifecycle_queue_failure_answers_503_so_graph_asks_again() {
    let h = Harness::new();
    h.lifecycle.set_unavailable(true);
    let body = collection(vec![lifecycle("reauthorizationRequired", CLIENT_STATE)]);
    let reply = h
        .webhook
        .handle_bytes(&Method::POST, None, JSON, &body)
        .await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.lifecycle, 0);
}

#[tokio::test]
async fn forged_lifecycle_event_queues_nothing() {
    let h = Harness::new();
    let forged_tenant = {
        let mut item = lifecycle("reauthorizationRequired", CLIENT_STATE);
        item["tenantId"] = json!(OTHER_TENANT);
        item
    };
    for item in [
        lifecycle("reauthorizationRequired", "forged"),
        lifecycle("subscriptionRemoved", OLD_CLIENT_STATE),
        forged_tenant,
    ] {
        let reply = h
            .webhook
            .handle_bytes(&Method::POST, None, JSON, &collection(vec![item]))
            .await;
        assert_eq!(reply.status, 401);
    }
    assert!(h.lifecycle.is_empty());
    assert_eq!(h.rejected("ClientStateMismatch"), 2.0);
    assert_eq!(h.rejected("WrongTenant"), 1.0);
}

#[tokio::test]
async fn every_documented_lifecycle_event_is_queued() {
    let h = Harness::new();
    let body = collection(vec![
        lifecycle("missed", CLIENT_STATE),
        lifecycle("subscriptionRemoved", CLIENT_STATE),
        lifecycle("reauthorizationRequired", CLIENT_STATE),
        change(USER_A, CLIENT_STATE),
    ]);
    let reply = h
        .webhook
        .handle_bytes(&Method::POST, None, JSON, &body)
        .await;
    assert_eq!(reply.status, 202);
    assert_eq!((reply.enqueued, reply.lifecycle), (1, 3));
    let events: Vec<_> = h
        .lifecycle
        .lifecycle_messages()
        .into_iter()
        .map(|m| m.event)
        .collect();
    assert_eq!(
        events,
        vec![
            LifecycleEvent::Missed,
            LifecycleEvent::SubscriptionRemoved,
            LifecycleEvent::ReauthorizationRequired
        ]
    );
    assert_eq!(h.rejected_total(), 0.0);
    assert_eq!(h.queue.requests().len(), 1);
}

#[tokio::test]
async fn base64_encoded_function_url_body_is_decoded_before_parsing() {
    let h = Harness::new();
    // Not UTF-8 → Lambda sends it base64-encoded; the handler must see the raw bytes (and
    // refuse them as malformed), not the base64 text.
    let mut body = collection(vec![change(USER_A, CLIENT_STATE)]);
    body.push(0xff);
    let request = function_url_event("POST", "/", "", JSON, &body);
    let (status, _, _, _) = parts(h.webhook.handle(request).await);
    assert_eq!(status, 400);
    assert_eq!(h.rejected("Malformed"), 1.0);
    assert!(h.queue.is_empty());
}
