//! Change-notification delivery over HTTP to a loopback webhook: the payload, batching,
//! duplicates, drops, reordering, retries and the 4-hour limit, the 3-second rule,
//! redirects, and `reauthorizationRequired` lifecycle events. Delays are simulated time
//! (the tests move the clock); waits are liveness bounds, never timing assertions.

mod common;
mod webhook;

use std::time::Duration;

use common::*;
use graph_sim::{NotificationCounters, NotificationOptions, Seed, Sim, SimOptions};
use serde_json::{Value, json};
use webhook::Webhook;

const CLIENT_STATE: &str = "s3cret-client-state";

fn in_minutes(sim: &Sim, minutes: i64) -> String {
    let at = sim.control().now() + time::Duration::minutes(minutes);
    at.replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

async fn sim_with(options: NotificationOptions) -> Sim {
    start_with(SimOptions {
        seed: Seed::contoso(),
        notifications: options,
        rng_seed: Some(7),
        ..Default::default()
    })
    .await
}

async fn subscribe(graph: &Graph, sim: &Sim, hook: &Webhook, body: Value) -> String {
    let mut full = json!({
        "changeType": "updated,deleted",
        "notificationUrl": hook.url("/notify"),
        "resource": "/users",
        "expirationDateTime": in_minutes(sim, 2 * 24 * 60),
        "clientState": CLIENT_STATE,
    });
    for (k, v) in body.as_object().unwrap() {
        full[k] = v.clone();
    }
    let (status, created) = graph.post("/v1.0/subscriptions", full).await;
    assert_eq!(status, 201, "{created}");
    created["id"].as_str().unwrap().to_string()
}

/// Waits until the counters satisfy `done` (a liveness bound of 60 s).
async fn wait_counters(
    sim: &Sim,
    what: &str,
    done: impl Fn(&NotificationCounters) -> bool,
) -> NotificationCounters {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let c = sim.control().notification_counters();
        if done(&c) {
            return c;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("counters never reached: {what}; last {c:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn new_user(sim: &Sim, name: &str) -> String {
    sim.control()
        .create_user(json!({
            "userPrincipalName": format!("{name}@contoso.com"),
            "displayName": name,
            "mobilePhone": "06-87654321",
        }))
        .unwrap()
}

#[tokio::test]
async fn a_new_user_is_notified_as_updated_with_the_documented_payload() {
    let sim = start().await;
    let hook = Webhook::start().await;
    let graph = Graph::new(&sim).await;
    let sub = subscribe(&graph, &sim, &hook, json!({})).await;

    let id = new_user(&sim, "fresh.starter");
    hook.wait_until("one notification", |h| {
        !h.accepted_items("/notify").is_empty()
    })
    .await;
    let post = &hook.posts("/notify")[0];
    assert!(post.content_type.starts_with("application/json"));
    let items = post.items();
    assert_eq!(items.len(), 1);
    let n = &items[0];
    // A creation arrives as `updated` (resources/subscription.md).
    assert_eq!(n["changeType"], "updated");
    assert_eq!(n["clientState"], CLIENT_STATE);
    assert_eq!(n["subscriptionId"], sub.as_str());
    assert_eq!(n["tenantId"], TENANT);
    assert_eq!(n["resource"], format!("Users/{id}"));
    let data = &n["resourceData"];
    assert_eq!(data["@odata.type"], "#Microsoft.Graph.User");
    assert_eq!(data["@odata.id"], format!("Users/{id}"));
    assert_eq!(data["id"], id.as_str());
    assert_eq!(data["organizationId"], TENANT);
    assert!(data["sequenceNumber"].is_i64());
    let expiry = n["subscriptionExpirationDateTime"].as_str().unwrap();
    assert!(expiry.ends_with("+00:00"), "{expiry}");
    time::OffsetDateTime::parse(expiry, &time::format_description::well_known::Rfc3339).unwrap();
    time::OffsetDateTime::parse(
        data["eventTime"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    // Basic notifications: no user data.
    assert!(data.get("mobilePhone").is_none() && data.get("displayName").is_none());
    wait_counters(&sim, "delivered", |c| c.delivered == 1).await;
    sim.shutdown().await;
    hook.stop().await;
}

#[tokio::test]
async fn an_update_and_a_soft_delete_are_both_notified_as_updated() {
    let sim = start().await;
    let hook = Webhook::start().await;
    let graph = Graph::new(&sim).await;
    subscribe(&graph, &sim, &hook, json!({})).await;
    // Graph's DELETE /users/{id} is a soft delete (the user goes to deletedItems).
    let id = new_user(&sim, "to.be.deleted");
    sim.control()
        .update_user(ALEX, json!({"jobTitle": "Buyer"}))
        .unwrap();
    sim.control().delete_user(&id).unwrap();
    hook.wait_until("three notifications", |h| {
        h.accepted_items("/notify").len() >= 3
    })
    .await;
    let items = hook.accepted_items("/notify");
    assert_eq!(items.len(), 3);
    assert!(items.iter().all(|n| n["changeType"] == "updated"));
    let about: Vec<&str> = items
        .iter()
        .map(|n| n["resourceData"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(about.iter().filter(|u| **u == id).count(), 2);
    assert!(about.contains(&ALEX));
    sim.shutdown().await;
    hook.stop().await;
}

#[tokio::test]
async fn notifications_for_subscriptions_sharing_a_url_share_a_post_and_respect_change_type_and_resource()
 {
    let sim = sim_with(NotificationOptions {
        delay_ms: 60_000,
        ..Default::default()
    })
    .await;
    let hook = Webhook::start().await;
    let graph = Graph::new(&sim).await;
    let all = subscribe(&graph, &sim, &hook, json!({"changeType": "updated"})).await;
    let deleted_only = subscribe(&graph, &sim, &hook, json!({"changeType": "deleted"})).await;
    let only_alex = subscribe(
        &graph,
        &sim,
        &hook,
        json!({"resource": format!("/users/{ALEX}")}),
    )
    .await;

    sim.control()
        .update_user(ADELE, json!({"jobTitle": "Lead"}))
        .unwrap();
    sim.control()
        .update_user(ALEX, json!({"jobTitle": "Buyer"}))
        .unwrap();
    sim.control().delete_user(MEGAN).unwrap();
    wait_counters(&sim, "three changes queued", |c| c.pending == 4).await;
    sim.control().advance_clock(Duration::from_secs(120));
    hook.wait_until("the batch", |h| !h.posts("/notify").is_empty())
        .await;

    let posts = hook.posts("/notify");
    assert_eq!(posts.len(), 1, "queued notifications go out in one POST");
    let items = posts[0].items();
    let mut seen: Vec<(String, String)> = items
        .iter()
        .map(|n| {
            (
                n["subscriptionId"].as_str().unwrap().to_string(),
                n["resourceData"]["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort();
    let mut expected = vec![
        (all.clone(), ADELE.to_string()),
        (all.clone(), ALEX.to_string()),
        (all, MEGAN.to_string()),
        (only_alex, ALEX.to_string()),
    ];
    expected.sort();
    assert_eq!(seen, expected);
    // A soft delete is `updated`: a `deleted`-only subscription hears nothing.
    assert!(
        !items
            .iter()
            .any(|n| n["subscriptionId"] == deleted_only.as_str())
    );
    sim.shutdown().await;
    hook.stop().await;
}

#[tokio::test]
async fn nothing_is_sent_before_the_configured_delay_has_passed_on_the_simulated_clock() {
    let sim = sim_with(NotificationOptions {
        delay_ms: 30 * 60_000,
        ..Default::default()
    })
    .await;
    let hook = Webhook::start().await;
    let graph = Graph::new(&sim).await;
    subscribe(&graph, &sim, &hook, json!({})).await;
    sim.control()
        .update_user(ADELE, json!({"jobTitle": "Lead"}))
        .unwrap();
    wait_counters(&sim, "queued", |c| c.pending == 1).await;
    sim.control().advance_clock(Duration::from_secs(29 * 60));
    // Two more worker passes: the second started after the clock moved.
    let passes = sim.control().notification_counters().worker_passes;
    let c = wait_counters(&sim, "two passes", |c| c.worker_passes >= passes + 2).await;
    assert_eq!(
        (c.pending, c.in_flight, c.posts),
        (1, 0, 0),
        "sent before the delay: {c:?}"
    );
    assert!(hook.posts("/notify").is_empty());
    sim.control().advance_clock(Duration::from_secs(2 * 60));
    hook.wait_until("the delayed notification", |h| {
        h.accepted_items("/notify").len() == 1
    })
    .await;
    sim.shutdown().await;
    hook.stop().await;
}

#[tokio::test]
async fn with_duplicate_rate_one_every_notification_arrives_twice() {
    let sim = sim_with(NotificationOptions {
        duplicate_rate: 1.0,
        ..Default::default()
    })
    .await;
    let hook = Webhook::start().await;
    let graph = Graph::new(&sim).await;
    subscribe(&graph, &sim, &hook, json!({})).await;
    sim.control()
        .update_user(ADELE, json!({"jobTitle": "Lead"}))
        .unwrap();
    sim.control()
        .update_user(ALEX, json!({"jobTitle": "Buyer"}))
        .unwrap();
    hook.wait_until("four items", |h| h.accepted_items("/notify").len() == 4)
        .await;
    let items = hook.accepted_items("/notify");
    for user in [ADELE, ALEX] {
        let copies: Vec<&Value> = items
            .iter()
            .filter(|n| n["resourceData"]["id"] == user)
            .collect();
        assert_eq!(copies.len(), 2);
        assert_eq!(copies[0], copies[1], "a duplicate is the same notification");
    }
    assert_eq!(sim.control().notification_counters().duplicated, 2);
    sim.shutdown().await;
    hook.stop().await;
}

#[tokio::test]
async fn with_drop_rate_one_nothing_arrives_and_the_drops_are_counted() {
    let sim = sim_with(NotificationOptions {
        drop_rate: 1.0,
        ..Default::default()
    })
    .await;
    let hook = Webhook::start().await;
    let graph = Graph::new(&sim).await;
    subscribe(&graph, &sim, &hook, json!({})).await;
    sim.control()
        .update_user(ADELE, json!({"jobTitle": "Lead"}))
        .unwrap();
    sim.control()
        .update_user(ALEX, json!({"jobTitle": "Buyer"}))
        .unwrap();
    wait_counters(&sim, "two drops", |c| c.dropped == 2).await;
    // Drops off again: the next change arrives, the dropped ones never do.
    sim.control()
        .set_notification_options(NotificationOptions::default())
        .unwrap();
    sim.control()
        .update_user(MEGAN, json!({"jobTitle": "Designer"}))
        .unwrap();
    hook.wait_until("the third change", |h| {
        !h.accepted_items("/notify").is_empty()
    })
    .await;
    let items = hook.accepted_items("/notify");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["resourceData"]["id"], MEGAN);
    sim.shutdown().await;
    hook.stop().await;
}

#[tokio::test]
async fn with_reorder_the_items_of_a_post_are_shuffled() {
    let sim = sim_with(NotificationOptions {
        delay_ms: 60_000,
        reorder: true,
        ..Default::default()
    })
    .await;
    let hook = Webhook::start().await;
    let graph = Graph::new(&sim).await;
    subscribe(&graph, &sim, &hook, json!({})).await;
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(new_user(&sim, &format!("batch.{n}")));
    }
    wait_counters(&sim, "twenty queued", |c| c.pending == 20).await;
    sim.control().advance_clock(Duration::from_secs(120));
    hook.wait_until("the batch", |h| h.accepted_items("/notify").len() == 20)
        .await;
    let got: Vec<String> = hook
        .accepted_items("/notify")
        .iter()
        .map(|n| n["resourceData"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_ne!(got, ids, "20 items in change order: not reordered");
    let mut sorted_got = got.clone();
    sorted_got.sort();
    ids.sort();
    assert_eq!(sorted_got, ids, "reordered, not lost");
    sim.shutdown().await;
    hook.stop().await;
}

#[tokio::test]
async fn without_reorder_a_batch_keeps_the_change_order() {
    let sim = sim_with(NotificationOptions {
        delay_ms: 60_000,
        ..Default::default()
    })
    .await;
    let hook = Webhook::start().await;
    let graph = Graph::new(&sim).await;
    subscribe(&graph, &sim, &hook, json!({})).await;
    let ids: Vec<String> = (0..10)
        .map(|n| new_user(&sim, &format!("ordered.{n}")))
        .collect();
    wait_counters(&sim, "ten queued", |c| c.pending == 10).await;
    sim.control().advance_clock(Duration::from_secs(120));
    hook.wait_until("the batch", |h| h.accepted_items("/notify").len() == 10)
        .await;
    let got: Vec<String> = hook
        .accepted_items("/notify")
        .iter()
        .map(|n| n["resourceData"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, ids);
    sim.shutdown().await;
    hook.stop().await;
}

#[tokio::test]
async fn a_5xx_answer_is_retried_with_backoff_on_the_simulated_clock() {
    let sim = start().await;
    let hook = Webhook::start().await;
    hook.set(|b| b.fail_next = 1);
    let graph = Graph::new(&sim).await;
    subscribe(&graph, &sim, &hook, json!({})).await;
    sim.control()
        .update_user(ADELE, json!({"jobTitle": "Lead"}))
        .unwrap();
    let c = wait_counters(&sim, "one failed POST", |c| c.failed_posts == 1).await;
    assert_eq!((c.retried, c.delivered, c.pending), (1, 0, 1));
    // The retry waits for the backoff (1 simulated minute).
    sim.control().advance_clock(Duration::from_secs(61));
    hook.wait_until("the retry", |h| h.accepted_items("/notify").len() == 1)
        .await;
    let posts = hook.posts("/notify");
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0].answered, 500);
    assert_eq!(
        posts[0].items(),
        posts[1].items(),
        "the same notification is resent"
    );
    let c = wait_counters(&sim, "delivered", |c| c.delivered == 1).await;
    assert_eq!(c.pending, 0);
    sim.shutdown().await;
    hook.stop().await;
}

#[tokio::test]
async fn an_answer_slower_than_the_response_timeout_counts_as_failed_and_is_retried() {
    // The 3-second rule, scaled down so the test does not wait 3 s: the limit is a knob.
    let sim = sim_with(NotificationOptions {
        response_timeout_ms: 200,
        ..Default::default()
    })
    .await;
    let hook = Webhook::start().await;
    hook.set(|b| b.delay = Duration::from_millis(800));
    let graph = Graph::new(&sim).await;
    subscribe(&graph, &sim, &hook, json!({})).await;
    sim.control()
        .update_user(ADELE, json!({"jobTitle": "Lead"}))
        .unwrap();
    let c = wait_counters(&sim, "one failed POST", |c| c.failed_posts == 1).await;
    assert_eq!(c.delivered, 0);
    hook.set(|b| b.delay = Duration::ZERO);
    sim.control().advance_clock(Duration::from_secs(61));
    wait_counters(&sim, "delivered after the retry", |c| c.delivered == 1).await;
    sim.shutdown().await;
    hook.stop().await;
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_counts_as_a_failure() {
    let sim = start().await;
    let hook = Webhook::start().await;
    let graph = Graph::new(&sim).await;
    subscribe(&graph, &sim, &hook, json!({})).await;
    hook.set(|b| b.redirect = true);
    sim.control()
        .update_user(ADELE, json!({"jobTitle": "Lead"}))
        .unwrap();
    wait_counters(&sim, "one failed POST", |c| c.failed_posts == 1).await;
    assert_eq!(hook.posts("/notify").len(), 1);
    assert!(hook.posts("/notify/elsewhere").is_empty());
    sim.shutdown().await;
    hook.stop().await;
}

#[tokio::test]
async fn notifications_are_discarded_after_four_hours_of_failures() {
    let sim = start().await;
    let hook = Webhook::start().await;
    hook.set(|b| b.status = 503);
    let graph = Graph::new(&sim).await;
    subscribe(&graph, &sim, &hook, json!({})).await;
    let started = sim.control().now();
    sim.control()
        .update_user(ADELE, json!({"jobTitle": "Lead"}))
        .unwrap();
    let mut attempts = 1;
    wait_counters(&sim, "first failure", |c| c.failed_posts == 1).await;
    loop {
        let c = sim.control().notification_counters();
        if c.discarded == 1 {
            break;
        }
        assert!(
            sim.control().now() - started < time::Duration::hours(6),
            "never discarded: {c:?}"
        );
        sim.control().advance_clock(Duration::from_secs(61 * 60));
        attempts += 1;
        wait_counters(&sim, "next failure", |c| c.failed_posts >= attempts).await;
    }
    let c = sim.control().notification_counters();
    assert_eq!((c.delivered, c.pending), (0, 0));
    assert!(c.retried >= 4, "{c:?}");
    assert!(sim.control().now() - started >= time::Duration::hours(4));
    sim.shutdown().await;
    hook.stop().await;
}

#[tokio::test]
async fn reauthorization_required_is_sent_to_the_lifecycle_url_near_expiry() {
    let sim = start().await;
    let hook = Webhook::start().await;
    let graph = Graph::new(&sim).await;
    let sub = subscribe(
        &graph,
        &sim,
        &hook,
        json!({
            "lifecycleNotificationUrl": hook.url("/lifecycle"),
            "expirationDateTime": in_minutes(&sim, 5 * 60),
        }),
    )
    .await;
    // 5 h left: no challenge yet. At < 3 h left: a challenge.
    sim.control().advance_clock(Duration::from_secs(60 * 60));
    sim.control()
        .update_user(ADELE, json!({"jobTitle": "Lead"}))
        .unwrap();
    hook.wait_until("a change notification", |h| {
        !h.accepted_items("/notify").is_empty()
    })
    .await;
    assert_eq!(challenges_sent(&sim, &sub), 0);

    sim.control().advance_clock(Duration::from_secs(61 * 60));
    hook.wait_until("a challenge", |h| {
        !h.accepted_items("/lifecycle").is_empty()
    })
    .await;
    let items = hook.accepted_items("/lifecycle");
    assert_eq!(items.len(), 1);
    let n = &items[0];
    assert_eq!(n["lifecycleEvent"], "reauthorizationRequired");
    assert_eq!(n["subscriptionId"], sub.as_str());
    assert_eq!(n["clientState"], CLIENT_STATE);
    assert_eq!(n["tenantId"], TENANT);
    assert!(n.get("resource").is_none());

    // Reauthorize; challenges continue every 15 minutes while expiry is near …
    let path = format!("/v1.0/subscriptions/{sub}");
    assert_eq!(
        graph
            .post(&format!("{path}/reauthorize"), json!({}))
            .await
            .0,
        204
    );
    sim.control().advance_clock(Duration::from_secs(16 * 60));
    hook.wait_until("a second challenge", |h| {
        h.accepted_items("/lifecycle").len() == 2
    })
    .await;
    // … and stop once the subscription is renewed far enough.
    let (status, _) = graph
        .patch(
            &path,
            json!({"expirationDateTime": in_minutes(&sim, 3 * 24 * 60)}),
        )
        .await;
    assert_eq!(status, 200);
    sim.control().advance_clock(Duration::from_secs(16 * 60));
    sim.control()
        .update_user(ALEX, json!({"jobTitle": "Buyer"}))
        .unwrap();
    hook.wait_until("the second change", |h| {
        h.accepted_items("/notify").len() == 2
    })
    .await;
    assert_eq!(challenges_sent(&sim, &sub), 2);
    wait_counters(&sim, "two challenges acknowledged", |c| {
        c.lifecycle_delivered == 2
    })
    .await;
    sim.shutdown().await;
    hook.stop().await;
}

fn challenges_sent(sim: &Sim, sub: &str) -> u64 {
    sim.control().dump()["subscriptions"]["items"][sub]["reauthorization"]["challengesSent"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn an_ignored_challenge_pauses_delivery_and_changes_meanwhile_are_lost() {
    let sim = start().await;
    let hook = Webhook::start().await;
    let graph = Graph::new(&sim).await;
    let sub = subscribe(
        &graph,
        &sim,
        &hook,
        json!({
            "lifecycleNotificationUrl": hook.url("/lifecycle"),
            "expirationDateTime": in_minutes(&sim, 150),
        }),
    )
    .await;
    hook.wait_until("a challenge", |h| {
        !h.accepted_items("/lifecycle").is_empty()
    })
    .await;
    // Ignored for an hour: paused.
    sim.control().advance_clock(Duration::from_secs(61 * 60));
    sim.control()
        .update_user(ADELE, json!({"jobTitle": "Lead"}))
        .unwrap();
    wait_counters(&sim, "a lost change", |c| c.lost_while_paused == 1).await;
    // Reauthorized: the flow resumes (the lost change stays lost).
    let path = format!("/v1.0/subscriptions/{sub}/reauthorize");
    assert_eq!(graph.post(&path, json!({})).await.0, 204);
    sim.control()
        .update_user(ALEX, json!({"jobTitle": "Buyer"}))
        .unwrap();
    hook.wait_until("the next change", |h| {
        !h.accepted_items("/notify").is_empty()
    })
    .await;
    let items = hook.accepted_items("/notify");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["resourceData"]["id"], ALEX);
    sim.shutdown().await;
    hook.stop().await;
}

#[tokio::test]
async fn a_deleted_subscription_gets_no_more_notifications() {
    let sim = sim_with(NotificationOptions {
        delay_ms: 60_000,
        ..Default::default()
    })
    .await;
    let hook = Webhook::start().await;
    let graph = Graph::new(&sim).await;
    let sub = subscribe(&graph, &sim, &hook, json!({})).await;
    sim.control()
        .update_user(ADELE, json!({"jobTitle": "Lead"}))
        .unwrap();
    wait_counters(&sim, "queued", |c| c.pending == 1).await;
    assert_eq!(
        graph.delete(&format!("/v1.0/subscriptions/{sub}")).await.0,
        204
    );
    sim.control().advance_clock(Duration::from_secs(120));
    let c = wait_counters(&sim, "orphaned", |c| c.orphaned == 1).await;
    assert_eq!((c.pending, c.posts), (0, 0));
    assert!(hook.posts("/notify").is_empty());
    sim.shutdown().await;
    hook.stop().await;
}

#[tokio::test]
async fn the_admin_api_sets_delivery_options_and_reads_counters() {
    let sim = start().await;
    let hook = Webhook::start().await;
    let http = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(sim.ca_cert_pem().as_bytes()).unwrap()])
        .build()
        .unwrap();
    let admin = format!("{}/_sim/notifications", sim.base_url());
    let response = http
        .put(format!("{admin}/options"))
        .json(&json!({"duplicateRate": 1.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let bad = http
        .put(format!("{admin}/options"))
        .json(&json!({"dropRate": 2.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(sim.control().notification_options().duplicate_rate, 1.0);

    let graph = Graph::new(&sim).await;
    subscribe(&graph, &sim, &hook, json!({})).await;
    sim.control()
        .update_user(ADELE, json!({"jobTitle": "Lead"}))
        .unwrap();
    hook.wait_until("two copies", |h| h.accepted_items("/notify").len() == 2)
        .await;
    wait_counters(&sim, "delivered", |c| c.delivered == 2).await;
    let state: Value = http.get(&admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(state["counters"]["delivered"], 2);
    assert_eq!(state["counters"]["duplicated"], 1);
    assert_eq!(state["counters"]["validations"], 1);
    assert_eq!(state["options"]["responseTimeoutMs"], 3000);
    let reset = http
        .delete(format!("{admin}/counters"))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 204);
    assert_eq!(sim.control().notification_counters().delivered, 0);
    sim.shutdown().await;
    hook.stop().await;
}
