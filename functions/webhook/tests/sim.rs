//! The webhook behind its local HTTP front, with the simulator as Graph: the test creates the
//! subscription (Graph's real validation handshake against the front), directory changes
//! become notifications Graph POSTs to the front, and they land in the in-memory FIFO queue;
//! `reauthorizationRequired` lands on the lifecycle queue, with no Graph call from the webhook.
//! (The subscriptions function answering it is tests/e2e/tests/subscriptions.rs.)

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use autoenroll_aws::memory::{MemoryFifoQueue, StaticSecrets};
use autoenroll_aws::metrics::EmfMetrics;
use autoenroll_aws::runtime::GraphSettings;
use autoenroll_core::notification::LifecycleEvent;
use autoenroll_core::ports::Trigger;
use autoenroll_graph::model::Subscription;
use autoenroll_graph::{GraphClient, Secret};
use autoenroll_webhook::{LocalWebhook, Webhook, WebhookConfig, serve_local};
use common::{CLIENT_STATE, CLIENT_STATE_SECRET, TENANT};
use graph_sim::{NotificationOptions, Seed, Sim, SimOptions};
use serde_json::json;

const APP: &str = "5d3e8b0f-6a2c-4f1e-8b7d-2c9a4e6f1b30";
const APP_SECRET: &str = "sim-secret-autoenroll-Q8w~xV3pL9";
const CLIENT_SECRET_ARN: &str = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:client";
const ADELE: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b01";
const ALEX: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b02";

struct Stack {
    sim: Sim,
    graph: GraphClient,
    queue: MemoryFifoQueue,
    lifecycle: MemoryFifoQueue,
    front: LocalWebhook,
}

impl Stack {
    async fn start(notifications: NotificationOptions) -> Self {
        let sim = Sim::start(SimOptions {
            seed: Seed::contoso(),
            notifications,
            ..Default::default()
        })
        .await
        .expect("simulator starts");
        // The Graph client as the Lambda builds it: runtime settings, secret from the source.
        let secrets = StaticSecrets::new()
            .with(CLIENT_SECRET_ARN, APP_SECRET)
            .with(CLIENT_STATE_SECRET, CLIENT_STATE);
        let settings = GraphSettings {
            tenant_id: TENANT.into(),
            client_id: APP.into(),
            client_secret_arn: Some(CLIENT_SECRET_ARN.into()),
            graph_base_url: Some(sim.base_url()),
            authority_host: Some(sim.authority_host()),
            extra_ca_pem: Some(sim.ca_cert_pem()),
            quota_share: None,
        };
        let aws = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let graph = settings.build(&secrets, &aws).await.expect("graph client");
        let queue = MemoryFifoQueue::builder("enroll-sim.fifo").build();
        let lifecycle = MemoryFifoQueue::builder("lifecycle-sim.fifo").build();
        let webhook = Webhook::new(
            WebhookConfig {
                tenant_id: TENANT.into(),
                client_state_secret: CLIENT_STATE_SECRET.into(),
            },
            queue.clone(),
            StaticSecrets::new().with(CLIENT_STATE_SECRET, CLIENT_STATE),
            lifecycle.clone(),
        )
        .with_metrics(EmfMetrics::capture().0);
        let front = serve_local(SocketAddr::from(([127, 0, 0, 1], 0)), Arc::new(webhook))
            .await
            .expect("front starts");
        Self {
            sim,
            graph,
            queue,
            lifecycle,
            front,
        }
    }

    /// A `/users` subscription on the front, as the subscriptions function makes it (the
    /// maximum lifetime less an hour). Returns its id and expiry.
    async fn subscribe(&self) -> (String, time::OffsetDateTime) {
        let expiry = self.sim.control().now() + time::Duration::minutes(41_760 - 60);
        let created = self
            .graph
            .subscriptions()
            .create(&Subscription {
                resource: Some("/users".into()),
                change_type: Some("updated,deleted".into()),
                notification_url: Some(self.front.url.clone()),
                lifecycle_notification_url: Some(self.front.url.clone()),
                expiration_date_time: Some(
                    expiry
                        .format(&time::format_description::well_known::Rfc3339)
                        .expect("RFC 3339"),
                ),
                client_state: Some(Secret::new(CLIENT_STATE)),
                ..Subscription::default()
            })
            .await
            .expect("subscription created");
        (created.id.expect("an id"), expiry)
    }

    async fn stop(self) {
        self.front.shutdown().await;
        self.sim.shutdown().await;
    }
}

/// Polls until `done` holds; fails after a generous deadline (no timing is asserted).
async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..600 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn directory_changes_reach_the_queue_through_the_real_handshake_and_delivery() {
    let stack = Stack::start(NotificationOptions::default()).await;
    let (subscription, _) = stack.subscribe().await;
    let control = stack.sim.control();
    assert_eq!(
        control.notification_counters().validations,
        2,
        "both URLs validated"
    );

    control
        .update_user(ADELE, json!({ "mobilePhone": "+31 6 12345678" }))
        .expect("change");
    let new_user = control
        .create_user(json!({
            "userPrincipalName": "fresh.starter@contoso.com",
            "displayName": "Fresh Starter",
            "mobilePhone": "06-87654321"
        }))
        .expect("create");
    wait_for("two requests on the queue", || stack.queue.len() >= 2).await;
    wait_for("delivery acknowledged", || {
        control.notification_counters().delivered >= 2
    })
    .await;

    let requests = stack.queue.requests();
    let mut users: Vec<_> = requests.iter().map(|r| r.user_id.clone()).collect();
    users.sort();
    let mut expected = vec![ADELE.to_owned(), new_user.to_ascii_lowercase()];
    expected.sort();
    assert_eq!(users, expected);
    for request in &requests {
        assert_eq!(request.tenant_id, TENANT);
        assert_eq!(
            request.trigger,
            Trigger::Notification {
                subscription_id: subscription.clone(),
                change_type: "updated".into()
            }
        );
    }
    assert_eq!(control.notification_counters().failed_posts, 0);
    stack.stop().await;
}

#[tokio::test]
async fn graph_duplicates_collapse_in_the_fifo_queue() {
    let stack = Stack::start(NotificationOptions {
        duplicate_rate: 1.0,
        ..NotificationOptions::default()
    })
    .await;
    stack.subscribe().await;
    let control = stack.sim.control();
    control
        .update_user(ADELE, json!({ "jobTitle": "Lead" }))
        .expect("change");
    control
        .update_user(ALEX, json!({ "jobTitle": "Buyer" }))
        .expect("change");
    wait_for("four deliveries (two duplicated)", || {
        control.notification_counters().delivered >= 4
    })
    .await;
    assert!(control.notification_counters().duplicated >= 2);
    assert_eq!(stack.queue.len(), 2, "one message per change");
    stack.stop().await;
}

#[tokio::test]
async fn reauthorization_required_lands_on_the_lifecycle_queue_without_a_graph_call() {
    let stack = Stack::start(NotificationOptions::default()).await;
    let (subscription, expiry) = stack.subscribe().await;
    let control = stack.sim.control();
    let reauthorize = "POST /subscriptions/{id}/reauthorize";

    // Into the last 3 hours of the subscription's life: Graph starts asking.
    let left = expiry - control.now();
    control.advance_clock((left - time::Duration::hours(2)).unsigned_abs());
    wait_for("the lifecycle event acknowledged", || {
        control.notification_counters().lifecycle_delivered >= 1
    })
    .await;
    let queued = stack.lifecycle.lifecycle_messages();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].subscription_id, subscription);
    assert_eq!(queued[0].event, LifecycleEvent::ReauthorizationRequired);
    assert_eq!(
        control.counters().calls(reauthorize),
        0,
        "the webhook calls no Graph"
    );
    assert!(
        stack.queue.is_empty(),
        "a lifecycle event is not an enroll request"
    );
    assert_eq!(control.notification_counters().failed_posts, 0);
    stack.stop().await;
}
