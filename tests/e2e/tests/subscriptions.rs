//! The subscriptions function against the simulator, with the real webhook behind its local
//! HTTP front answering Graph's validation handshake and queueing lifecycle events on the
//! lifecycle queue, which the subscriptions function consumes (the path of issue 16: the
//! webhook holds no Graph credential). Idempotence is checked on the simulator's call
//! counters; the record on DynamoDB (moto) at the end.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use autoenroll_aws::memory::{MemoryFifoQueue, MemoryPoller, StaticSecrets};
use autoenroll_aws::metrics::{CapturedMetrics, EmfMetrics};
use autoenroll_aws::poller::{self, DrainReport};
use autoenroll_aws::runtime::GraphSettings;
use autoenroll_core::lifecycle::{LifecycleQueue, SubscriptionLifecycle};
use autoenroll_core::memory::InMemorySubscriptionStore;
use autoenroll_core::notification::LifecycleEvent;
use autoenroll_core::ports::{
    SecretSource, SecretValue, StoreError, SubscriptionRecord, SubscriptionStore,
};
use autoenroll_graph::model::Subscription;
use autoenroll_graph::{GraphClient, Secret};
use autoenroll_subscriptions::lifecycle::{Answer, Invocation, LifecycleOutcome};
use autoenroll_subscriptions::{
    CHANGE_TYPE, RENEW_BEFORE, Report, SubscriptionsConfig, SubscriptionsFunction, ensure,
    requested_expiry,
};
use autoenroll_webhook::{LocalWebhook, Webhook, WebhookConfig};
use graph_sim::{FaultKind, FaultRule, Seed, Sim, SimOptions};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const TENANT: &str = "8f2c6a51-3b7e-4d0a-9c1e-5a4b2d9e7f10";
const APP: &str = "5d3e8b0f-6a2c-4f1e-8b7d-2c9a4e6f1b30";
const APP_SECRET: &str = "sim-secret-autoenroll-Q8w~xV3pL9";
const CLIENT_SECRET_ARN: &str = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:client";
const CLIENT_STATE_ARN: &str = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:cs";
const CLIENT_STATE: &str = "cs-4b2d8e6f0a5c3b9d7e1f4a2c7f3e9a1c-first";
const NEW_CLIENT_STATE: &str = "cs-9d7e1f4a2c7f3e9a1c4b2d8e6f0a5c3b-second";
const ADELE: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b01";
const ALEX: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b02";

const CREATE: &str = "POST /subscriptions";
const RENEW: &str = "PATCH /subscriptions/{id}";
const DELETE: &str = "DELETE /subscriptions/{id}";
const REAUTHORIZE: &str = "POST /subscriptions/{id}/reauthorize";

/// One secret source shared by the test and the webhook, so a rotation reaches both.
struct Shared(Arc<StaticSecrets>);

#[async_trait]
impl SecretSource for Shared {
    async fn get_secret(&self, name: &str) -> Result<SecretValue, StoreError> {
        self.0.get_secret(name).await
    }
}

/// The webhook (in-memory enroll and lifecycle queues) on a loopback port.
struct Front {
    local: LocalWebhook,
    queue: MemoryFifoQueue,
    lifecycle: MemoryFifoQueue,
}

async fn front(secrets: Arc<StaticSecrets>) -> Front {
    let queue = MemoryFifoQueue::builder("subs-test.fifo").build();
    // As the template: a dead-letter queue after 5 receives.
    let lifecycle = MemoryFifoQueue::builder("subs-lifecycle.fifo")
        .dead_letter_queue(
            MemoryFifoQueue::builder("subs-lifecycle-dlq.fifo").build(),
            5,
        )
        .build();
    let webhook = Webhook::new(
        WebhookConfig {
            tenant_id: TENANT.into(),
            client_state_secret: CLIENT_STATE_ARN.into(),
        },
        queue.clone(),
        Shared(secrets),
        lifecycle.clone(),
    )
    .with_metrics(EmfMetrics::capture().0);
    let local =
        autoenroll_webhook::serve_local(SocketAddr::from(([127, 0, 0, 1], 0)), Arc::new(webhook))
            .await
            .expect("front starts");
    Front {
        local,
        queue,
        lifecycle,
    }
}

fn client_state(value: &str) -> Arc<StaticSecrets> {
    Arc::new(StaticSecrets::new().with(CLIENT_STATE_ARN, value))
}

struct Setup {
    sim: Sim,
    graph: GraphClient,
    secrets: Arc<StaticSecrets>,
    store: InMemorySubscriptionStore,
    front: Front,
    /// What the webhook accepts.
    webhook_secrets: Arc<StaticSecrets>,
}

impl Setup {
    async fn start() -> Self {
        let sim = Sim::start(SimOptions {
            seed: Seed::contoso(),
            ..Default::default()
        })
        .await
        .expect("simulator starts");
        let secrets = Arc::new(
            StaticSecrets::new()
                .with(CLIENT_SECRET_ARN, APP_SECRET)
                .with(CLIENT_STATE_ARN, CLIENT_STATE),
        );
        let graph = GraphSettings {
            tenant_id: TENANT.into(),
            client_id: APP.into(),
            client_secret_arn: Some(CLIENT_SECRET_ARN.into()),
            graph_base_url: Some(sim.base_url()),
            authority_host: Some(sim.authority_host()),
            extra_ca_pem: Some(sim.ca_cert_pem()),
            quota_share: None,
        }
        .build(
            &*secrets,
            &aws_config::SdkConfig::builder()
                .behavior_version(aws_config::BehaviorVersion::latest())
                .build(),
        )
        .await
        .expect("graph client");
        let webhook_secrets = client_state(CLIENT_STATE);
        let front = front(webhook_secrets.clone()).await;
        Self {
            sim,
            graph,
            secrets,
            store: InMemorySubscriptionStore::new(),
            front,
            webhook_secrets,
        }
    }

    fn config(&self) -> SubscriptionsConfig {
        SubscriptionsConfig {
            notification_url: self.front.local.url.clone(),
            client_state_secret: CLIENT_STATE_ARN.into(),
        }
    }

    async fn run(&self) -> Report {
        self.run_with(&self.store).await
    }

    /// The function as Lambda runs it, on the simulator's clock, sharing the test's store.
    fn function(
        &self,
    ) -> (
        SubscriptionsFunction<InMemorySubscriptionStore, Shared>,
        CapturedMetrics,
    ) {
        let control = self.sim.control();
        let (metrics, captured) = EmfMetrics::capture();
        let function = SubscriptionsFunction::new(
            self.graph.clone(),
            self.store.clone(),
            Shared(self.secrets.clone()),
            self.config(),
        )
        .with_clock(move || control.now())
        .with_metrics(metrics);
        (function, captured)
    }

    /// The lifecycle queue's event source: batches to the function until the queue is empty.
    async fn drain_lifecycle(
        &self,
        function: &SubscriptionsFunction<InMemorySubscriptionStore, Shared>,
    ) -> DrainReport {
        let source = MemoryPoller::new(self.front.lifecycle.clone())
            .batch_size(10)
            .retry_delay(Duration::ZERO);
        poller::drain(&source, 20, |event| async move {
            Ok::<_, std::convert::Infallible>(function.handle_lifecycle_batch(event).await)
        })
        .await
        .expect("drained")
    }

    async fn run_with(&self, store: &dyn SubscriptionStore) -> Report {
        ensure(
            &self.graph,
            store,
            &*self.secrets,
            &self.config(),
            self.sim.control().now(),
        )
        .await
        .expect("ensure succeeds")
    }

    fn calls(&self, route: &str) -> u64 {
        self.sim.control().counters().calls(route)
    }

    /// Live subscriptions as Graph lists them (no clientState).
    fn live(&self) -> Vec<Value> {
        self.sim.control().subscriptions()
    }

    async fn extra_subscription(&self, url: &str, state: &str) -> String {
        self.graph
            .subscriptions()
            .create(&Subscription {
                resource: Some("/users".into()),
                change_type: Some(CHANGE_TYPE.into()),
                notification_url: Some(url.into()),
                lifecycle_notification_url: Some(url.into()),
                expiration_date_time: Some(requested_expiry(self.sim.control().now())),
                client_state: Some(Secret::new(state)),
                ..Subscription::default()
            })
            .await
            .expect("extra subscription created")
            .id
            .expect("an id")
    }

    async fn stop(self) {
        self.front.local.shutdown().await;
        self.sim.shutdown().await;
    }
}

fn ids(subscriptions: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = subscriptions
        .iter()
        .filter_map(|s| s["id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

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
async fn first_run_creates_one_subscription_and_a_second_run_changes_nothing() {
    let setup = Setup::start().await;
    let first = setup.run().await;
    assert!(first.created && first.recorded && !first.renewed);
    assert!(first.deleted.is_empty());

    let live = setup.live();
    assert_eq!(ids(&live), vec![first.subscription_id.clone()]);
    let subscription = &live[0];
    assert_eq!(subscription["resource"], "/users");
    assert_eq!(subscription["changeType"], "updated,deleted");
    assert_eq!(
        subscription["notificationUrl"],
        setup.front.local.url.as_str()
    );
    assert_eq!(
        subscription["lifecycleNotificationUrl"],
        setup.front.local.url.as_str()
    );
    let expires = OffsetDateTime::parse(
        subscription["expirationDateTime"]
            .as_str()
            .unwrap_or_default(),
        &Rfc3339,
    )
    .expect("expiry");
    let lifetime = expires - setup.sim.control().now();
    assert!(lifetime > time::Duration::days(28) && lifetime <= time::Duration::minutes(41_760));

    let record = setup
        .store
        .get_subscription()
        .await
        .expect("store")
        .expect("recorded");
    assert_eq!(record.subscription_id, first.subscription_id);
    assert_eq!(record.notification_url, setup.front.local.url);
    assert_eq!(record.client_state_version.as_deref(), Some("v1"));

    let writes_before = (setup.calls(CREATE), setup.calls(RENEW), setup.calls(DELETE));
    let second = setup.run().await;
    assert!(!second.changed_anything(), "{second:?}");
    assert_eq!(second.subscription_id, first.subscription_id);
    assert_eq!(
        (setup.calls(CREATE), setup.calls(RENEW), setup.calls(DELETE)),
        writes_before
    );
    assert_eq!(ids(&setup.live()), vec![first.subscription_id]);
    setup.stop().await;
}

#[tokio::test]
async fn the_lambda_handler_ensures_the_subscription_and_reports_ids_only() {
    let setup = Setup::start().await;
    let (function, _) = setup.function();
    // EventBridge Scheduler's payload is not used.
    let payload: Invocation = serde_json::from_value(json!({
        "version": "0", "detail-type": "Scheduled Event", "source": "aws.scheduler", "detail": {}
    }))
    .expect("an invocation");
    let event = lambda_runtime::LambdaEvent::new(payload, lambda_runtime::Context::default());
    let Answer::Schedule(report) = function.handle(event).await.expect("handled") else {
        panic!("a scheduled run answers with its report");
    };
    assert!(report.created);
    assert_eq!(ids(&setup.live()), vec![report.subscription_id.clone()]);
    let answer = serde_json::to_string(&report).expect("serialises");
    assert!(!answer.contains(CLIENT_STATE), "{answer}");
    setup.stop().await;
}

#[tokio::test]
async fn subscription_near_expiry_is_renewed_in_place() {
    let setup = Setup::start().await;
    let first = setup.run().await;
    let control = setup.sim.control();
    // Still more than RENEW_BEFORE left: nothing happens.
    control.advance_clock(Duration::from_secs(20 * 24 * 3600));
    assert!(!setup.run().await.changed_anything());
    assert_eq!(setup.calls(RENEW), 0);

    // Less than RENEW_BEFORE left: renewed, same id, new expiry recorded.
    let left = OffsetDateTime::parse(&first.expiration, &Rfc3339).expect("expiry") - control.now();
    control.advance_clock((left - RENEW_BEFORE + time::Duration::hours(1)).unsigned_abs());
    let renewed = setup.run().await;
    assert!(renewed.renewed && !renewed.created, "{renewed:?}");
    assert_eq!(renewed.subscription_id, first.subscription_id);
    assert_eq!(setup.calls(RENEW), 1);
    let new_expiry = OffsetDateTime::parse(&renewed.expiration, &Rfc3339).expect("expiry");
    assert!(new_expiry - control.now() > time::Duration::days(28));
    let record = setup.store.get_subscription().await.expect("store");
    assert_eq!(record.map(|r| r.expiration), Some(renewed.expiration));
    assert!(!setup.run().await.changed_anything());
    setup.stop().await;
}

#[tokio::test]
async fn missing_subscription_is_recreated() {
    let setup = Setup::start().await;
    let first = setup.run().await;
    setup
        .graph
        .subscriptions()
        .delete(&first.subscription_id)
        .await
        .expect("deleted behind our back");
    let again = setup.run().await;
    assert!(again.created);
    assert_ne!(again.subscription_id, first.subscription_id);
    assert_eq!(ids(&setup.live()), vec![again.subscription_id.clone()]);
    let record = setup.store.get_subscription().await.expect("store");
    assert_eq!(
        record.map(|r| r.subscription_id),
        Some(again.subscription_id)
    );
    setup.stop().await;
}

#[tokio::test]
async fn strays_of_ours_are_deleted_and_other_deployments_are_left_alone() {
    let setup = Setup::start().await;
    let first = setup.run().await;
    // Ours: same host and port, another path, or the right URL with an unknown clientState.
    let stray_path = setup
        .extra_subscription(&format!("{}old-path", setup.front.local.url), CLIENT_STATE)
        .await;
    let stray_state = setup
        .extra_subscription(&setup.front.local.url, "some-other-client-state")
        .await;
    // Another deployment of the same app (another webhook): not ours.
    let other = front(client_state("theirs")).await;
    let theirs = setup.extra_subscription(&other.local.url, "theirs").await;

    let report = setup.run().await;
    assert!(!report.created);
    assert_eq!(report.subscription_id, first.subscription_id);
    let mut deleted = report.deleted.clone();
    deleted.sort();
    let mut expected = vec![stray_path, stray_state];
    expected.sort();
    assert_eq!(deleted, expected);
    let mut live = vec![first.subscription_id.clone(), theirs];
    live.sort();
    assert_eq!(ids(&setup.live()), live);
    assert!(!setup.run().await.changed_anything());
    other.local.shutdown().await;
    setup.stop().await;
}

#[tokio::test]
async fn recorded_subscription_pointed_at_an_old_url_is_replaced() {
    let setup = Setup::start().await;
    // What an earlier deployment (an older Function URL) left behind and recorded.
    let old_front = front(client_state(CLIENT_STATE)).await;
    let old = setup
        .extra_subscription(&old_front.local.url, CLIENT_STATE)
        .await;
    setup
        .store
        .put_subscription(SubscriptionRecord {
            subscription_id: old.clone(),
            expiration: requested_expiry(setup.sim.control().now()),
            notification_url: old_front.local.url.clone(),
            client_state_version: Some("v1".into()),
        })
        .await
        .expect("record");

    let report = setup.run().await;
    assert!(report.created);
    assert_eq!(report.deleted, vec![old]);
    let live = setup.live();
    assert_eq!(ids(&live), vec![report.subscription_id.clone()]);
    assert_eq!(live[0]["notificationUrl"], setup.front.local.url.as_str());
    old_front.local.shutdown().await;
    setup.stop().await;
}

#[tokio::test]
async fn client_state_rotation_moves_the_subscription_without_losing_a_change() {
    // Issue 9 item 6.
    let setup = Setup::start().await;
    let first = setup.run().await;
    assert!(first.created);

    // Rotation: the secret gets a new current value; the old one stays as "previous" for a
    // while. Graph still signs with the old value: the webhook accepts it.
    setup.secrets.rotate(CLIENT_STATE_ARN, NEW_CLIENT_STATE);
    setup
        .webhook_secrets
        .rotate(CLIENT_STATE_ARN, NEW_CLIENT_STATE);
    let control = setup.sim.control();
    control
        .update_user(ADELE, json!({ "jobTitle": "Before the move" }))
        .expect("change");
    wait_for("the change signed with the previous clientState", || {
        setup.front.queue.len() == 1
    })
    .await;

    // The scheduled run moves the subscription: the new one first, then the old one deleted.
    let moved = setup.run().await;
    assert!(moved.created);
    assert_eq!(moved.deleted, vec![first.subscription_id.clone()]);
    assert_eq!(ids(&setup.live()), vec![moved.subscription_id.clone()]);
    let record = setup
        .store
        .get_subscription()
        .await
        .expect("store")
        .expect("record");
    assert_eq!(record.subscription_id, moved.subscription_id);
    assert_eq!(record.client_state_version.as_deref(), Some("v2"));
    assert!(!setup.run().await.changed_anything());

    // Rotation window over: the webhook only knows the new value, and still gets every change.
    setup
        .webhook_secrets
        .set(CLIENT_STATE_ARN, NEW_CLIENT_STATE);
    control
        .update_user(ALEX, json!({ "jobTitle": "After the move" }))
        .expect("change");
    wait_for("the change signed with the new clientState", || {
        setup.front.queue.len() == 2
    })
    .await;
    let users: Vec<_> = setup
        .front
        .queue
        .requests()
        .into_iter()
        .map(|r| r.user_id)
        .collect();
    assert_eq!(users, vec![ADELE.to_owned(), ALEX.to_owned()]);
    assert_eq!(control.notification_counters().failed_posts, 0);
    setup.stop().await;
}

#[tokio::test]
async fn subscription_record_is_kept_in_dynamodb() {
    let endpoint = match std::env::var("AUTOENROLL_TEST_MOTO_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => endpoint,
        _ => panic!(
            "AUTOENROLL_TEST_MOTO_ENDPOINT is not set: this test needs moto. Run it with \
             ./test.sh (it installs and starts moto), or start `moto_server -H 127.0.0.1 -p PORT` \
             and export AUTOENROLL_TEST_MOTO_ENDPOINT=http://127.0.0.1:PORT"
        ),
    };
    let aws = autoenroll_aws::config::for_moto(&endpoint).await;
    let client = autoenroll_aws::config::dynamodb_client(&aws);
    let table = format!("subs-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    autoenroll_aws::dynamo::ensure_table(&client, &table)
        .await
        .expect("table");
    let store = autoenroll_aws::dynamo::DynamoStore::new(client, &table);

    let setup = Setup::start().await;
    let first = setup.run_with(&store).await;
    assert!(first.created && first.recorded);
    let record = store
        .get_subscription()
        .await
        .expect("read")
        .expect("a record");
    assert_eq!(record.subscription_id, first.subscription_id);
    assert_eq!(record.expiration, first.expiration);
    assert_eq!(record.notification_url, setup.front.local.url);
    assert_eq!(record.client_state_version.as_deref(), Some("v1"));

    let second = setup.run_with(&store).await;
    assert!(!second.changed_anything(), "{second:?}");
    setup.stop().await;
}

fn rfc3339(raw: &str) -> OffsetDateTime {
    OffsetDateTime::parse(raw, &Rfc3339).expect("RFC 3339")
}

/// Issue 16: Graph's `reauthorizationRequired` challenges (from 3 h before expiry, every 15
/// simulated minutes) reach the subscriptions function through the webhook and the lifecycle
/// queue, and each is answered: delivery never pauses and no change is lost.
#[tokio::test]
async fn reauthorization_challenges_are_answered_via_the_lifecycle_queue_and_delivery_never_pauses()
{
    let setup = Setup::start().await;
    let first = setup.run().await;
    let (function, metrics) = setup.function();
    let control = setup.sim.control();
    let left = rfc3339(&first.expiration) - control.now();
    control.advance_clock(
        (left - time::Duration::hours(3) + time::Duration::minutes(1)).unsigned_abs(),
    );

    // Two hours of challenges: twice the time after which an unanswered one pauses delivery.
    let rounds = 8u64;
    let mut answered = 0;
    for round in 1..=rounds {
        if round > 1 {
            // Graph's next challenge is due (it repeats every 15 minutes until expiry).
            control.advance_clock(Duration::from_secs(15 * 60 + 1));
        }
        wait_for("a challenge on the lifecycle queue", || {
            !setup.front.lifecycle.is_empty()
        })
        .await;
        let queued = setup.front.lifecycle.lifecycle_messages();
        assert!(
            queued
                .iter()
                .all(|m| m.subscription_id == first.subscription_id
                    && m.event == LifecycleEvent::ReauthorizationRequired),
            "{queued:?}"
        );
        let drained = setup.drain_lifecycle(&function).await;
        assert_eq!(drained.left_for_redelivery, 0, "round {round}: {drained:?}");
        answered += drained.deleted;

        // A change made now still reaches the webhook.
        let before = control.notification_counters().delivered;
        control
            .update_user(ADELE, json!({ "jobTitle": format!("Round {round}") }))
            .expect("change");
        wait_for("the change delivered", || {
            control.notification_counters().delivered > before
        })
        .await;
    }

    let counters = control.notification_counters();
    assert_eq!(counters.lost_while_paused, 0, "{counters:?}");
    assert_eq!(counters.failed_posts, 0, "{counters:?}");
    assert!(counters.lifecycle_delivered >= rounds, "{counters:?}");
    assert!(answered as u64 >= rounds);
    // Every challenge queued was answered with a reauthorize, and nothing is outstanding.
    assert_eq!(
        control.counters().calls_with_status(REAUTHORIZE, 204),
        answered as u64
    );
    let dump = control.dump();
    let subscription = &dump["subscriptions"]["items"][first.subscription_id.as_str()];
    let challenges = &subscription["reauthorization"];
    assert_eq!(
        challenges["challengesSent"].as_u64(),
        Some(answered as u64),
        "every challenge Graph sent was answered: {challenges}"
    );
    assert!(
        challenges["outstandingSince"].is_null(),
        "an unanswered challenge: {challenges}"
    );
    assert_eq!(ids(&setup.live()), vec![first.subscription_id.clone()]);
    assert_eq!(
        metrics.total("SubscriptionLifecycle", None),
        answered as f64,
        "one metric per event handled"
    );
    setup.stop().await;
}

fn lifecycle_message(subscription_id: &str, event: LifecycleEvent) -> SubscriptionLifecycle {
    let now = OffsetDateTime::now_utc();
    SubscriptionLifecycle {
        tenant_id: TENANT.into(),
        subscription_id: subscription_id.into(),
        event,
        subscription_expiration: requested_expiry(now),
        observed_at: now.format(&Rfc3339).expect("RFC 3339"),
    }
}

#[tokio::test]
async fn subscription_removed_is_re_created_and_missed_is_left_to_the_sweep() {
    let setup = Setup::start().await;
    let first = setup.run().await;
    let (function, metrics) = setup.function();
    setup
        .graph
        .subscriptions()
        .delete(&first.subscription_id)
        .await
        .expect("Graph removed it");
    let creates = setup.calls(CREATE);

    let missed = function
        .on_lifecycle(&lifecycle_message(
            &first.subscription_id,
            LifecycleEvent::Missed,
        ))
        .await
        .expect("handled");
    assert_eq!(missed, LifecycleOutcome::LeftToSweep);
    assert_eq!(setup.calls(CREATE), creates, "missed makes no Graph write");

    setup
        .front
        .lifecycle
        .send_lifecycle(&[lifecycle_message(
            &first.subscription_id,
            LifecycleEvent::SubscriptionRemoved,
        )])
        .await
        .expect("queued");
    let drained = setup.drain_lifecycle(&function).await;
    assert_eq!((drained.deleted, drained.left_for_redelivery), (1, 0));
    let live = ids(&setup.live());
    assert_eq!(live.len(), 1);
    assert_ne!(live[0], first.subscription_id);
    let record = setup.store.get_subscription().await.expect("store");
    assert_eq!(record.map(|r| r.subscription_id), Some(live[0].clone()));
    let documents = metrics.documents();
    let events: Vec<_> = documents
        .iter()
        .filter_map(|d| d["Event"].as_str())
        .collect();
    assert_eq!(events, vec!["missed", "subscriptionRemoved"]);
    setup.stop().await;
}

#[tokio::test]
async fn refused_reauthorization_replaces_the_subscription_without_a_gap() {
    let setup = Setup::start().await;
    let first = setup.run().await;
    let (function, _) = setup.function();
    let control = setup.sim.control();
    control.add_fault(FaultRule::new(
        REAUTHORIZE,
        FaultKind::Status { status: 403 },
    ));
    let outcome = function
        .on_lifecycle(&lifecycle_message(
            &first.subscription_id,
            LifecycleEvent::ReauthorizationRequired,
        ))
        .await
        .expect("handled");
    control.clear_faults();
    let LifecycleOutcome::Ensured(report) = outcome else {
        panic!("replaced, got {outcome:?}");
    };
    assert!(report.created);
    assert_eq!(report.deleted, vec![first.subscription_id.clone()]);
    assert_eq!(ids(&setup.live()), vec![report.subscription_id.clone()]);

    // A stale challenge for the replaced one: gone (404), ours is current, nothing changes.
    let creates = setup.calls(CREATE);
    let stale = function
        .on_lifecycle(&lifecycle_message(
            &first.subscription_id,
            LifecycleEvent::ReauthorizationRequired,
        ))
        .await
        .expect("handled");
    assert!(
        matches!(&stale, LifecycleOutcome::Ensured(r) if !r.created),
        "{stale:?}"
    );
    assert_eq!(setup.calls(CREATE), creates);
    setup.stop().await;
}

#[tokio::test]
async fn a_failed_lifecycle_event_is_retried_then_dead_lettered_ahead_of_its_group() {
    let setup = Setup::start().await;
    let first = setup.run().await;
    let (function, _) = setup.function();
    let control = setup.sim.control();
    control.add_fault(FaultRule::new(
        REAUTHORIZE,
        FaultKind::Status { status: 500 },
    ));
    let reauthorize = lifecycle_message(
        &first.subscription_id,
        LifecycleEvent::ReauthorizationRequired,
    );
    let mut missed = lifecycle_message(&first.subscription_id, LifecycleEvent::Missed);
    missed.observed_at.push_str("-later");
    setup
        .front
        .lifecycle
        .send_lifecycle(&[reauthorize, missed])
        .await
        .expect("queued");
    let drained = setup.drain_lifecycle(&function).await;
    // FIFO: the `missed` behind it is handed out only once the failing message has left its
    // group — after 5 failed receives, to the dead-letter queue (and its alarm).
    assert_eq!(drained.left_for_redelivery, 5, "{drained:?}");
    assert_eq!(drained.deleted, 1, "{drained:?}");
    let dead = setup
        .front
        .lifecycle
        .dead_letter_queue()
        .expect("a dead-letter queue")
        .lifecycle_messages();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].event, LifecycleEvent::ReauthorizationRequired);
    assert!(setup.front.lifecycle.is_empty());
    control.clear_faults();
    setup.stop().await;
}
