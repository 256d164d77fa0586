//! The delta sweep against the Graph simulator, with the in-memory FIFO queue and link store
//! (and the DynamoDB link store on moto in `sweep_moto.rs`).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use autoenroll_aws::memory::MemoryFifoQueue;
use autoenroll_core::memory::InMemoryDeltaLinkStore;
use autoenroll_core::policy::Policy;
use autoenroll_core::ports::{DeltaLinkStore, StoreError, Trigger};
use autoenroll_graph::{Credential, GraphClient, GraphConfig, PacingConfig, RetryConfig, Secret};
use autoenroll_reconcile::{ReconcileFunction, Reconciler, SweepError, SweepReport};
use graph_sim::{Seed, Sim, SimOptions};
use serde_json::json;
use tokio::time::Instant;

const APP: &str = "5d3e8b0f-6a2c-4f1e-8b7d-2c9a4e6f1b30";
const APP_SECRET: &str = "sim-secret-autoenroll-Q8w~xV3pL9";
const TENANT: &str = "8f2c6a51-3b7e-4d0a-9c1e-5a4b2d9e7f10";
const ADELE: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b01";
const LEE: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b04";
const BREAKGLASS: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b19";
const CONTOSO_USERS: usize = 21;
const GRACE: Duration = Duration::from_secs(30);

async fn sim(synthetic_users: usize) -> Sim {
    Sim::start(SimOptions {
        seed: Seed::contoso(),
        synthetic_users,
        rng_seed: Some(5),
        ..Default::default()
    })
    .await
    .unwrap()
}

fn graph(sim: &Sim) -> GraphClient {
    let config = GraphConfig::new(
        sim.tenant_id(),
        APP,
        Credential::ClientSecret(Secret::new(APP_SECRET)),
    )
    .with_graph_base_url(sim.base_url())
    .with_authority_host(sim.authority_host())
    .with_extra_root_ca_pem(sim.ca_cert_pem())
    .with_retry(RetryConfig {
        max_attempts: 2,
        min_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_total_wait: Duration::from_secs(2),
    })
    .with_pacing(PacingConfig {
        enabled: false,
        ..PacingConfig::default()
    });
    GraphClient::new(config).unwrap()
}

fn policy() -> Policy {
    Policy {
        default_region: Some("NL".parse().unwrap()),
        excluded_upns: ["breakglass01@contoso.onmicrosoft.com".to_owned()].into(),
        ..Policy::default()
    }
}

fn queue() -> MemoryFifoQueue {
    MemoryFifoQueue::builder("enroll-test.fifo").build()
}

fn reconciler<L: DeltaLinkStore>(
    sim: &Sim,
    links: L,
    queue: MemoryFifoQueue,
) -> Reconciler<L, MemoryFifoQueue> {
    Reconciler::new(graph(sim), Arc::new(policy()), TENANT, links, queue)
}

/// Plenty of time: one run finishes the round.
fn later() -> Instant {
    Instant::now() + Duration::from_secs(120)
}

fn queued_users(queue: &MemoryFifoQueue) -> Vec<String> {
    queue.requests().into_iter().map(|r| r.user_id).collect()
}

fn all_user_ids(sim: &Sim) -> BTreeSet<String> {
    sim.control().dump()["users"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[tokio::test]
async fn first_run_walks_every_user_except_excluded_ones_and_stores_the_delta_link() {
    let sim = sim(0).await;
    let links = InMemoryDeltaLinkStore::new();
    let queue = queue();
    let r = reconciler(&sim, links.clone(), queue.clone());
    let report = r.sweep(later(), GRACE).await.unwrap();
    assert!(report.full_walk && report.round_finished, "{report:?}");
    assert_eq!(report.users, CONTOSO_USERS);
    assert_eq!(report.excluded, 1);
    assert_eq!(report.enqueued, CONTOSO_USERS - 1);

    let mut expected = all_user_ids(&sim);
    expected.remove(BREAKGLASS);
    let queued: BTreeSet<String> = queued_users(&queue).into_iter().collect();
    assert_eq!(queued, expected);
    for request in queue.requests() {
        assert_eq!(request.tenant_id, TENANT);
        assert_eq!(request.trigger, Trigger::Reconcile);
        assert!(
            request
                .dedup_key
                .starts_with(&format!("reconcile:{}:", request.user_id))
        );
    }
    let link = links.get_delta_link().await.unwrap().unwrap();
    assert!(link.starts_with(&sim.base_url()), "{link}");
    assert!(link.contains("deltatoken"), "{link}");
    sim.shutdown().await;
}

#[tokio::test]
async fn later_runs_queue_only_changed_and_removed_users() {
    let sim = sim(0).await;
    let queue = queue();
    let r = reconciler(&sim, InMemoryDeltaLinkStore::new(), queue.clone());
    r.sweep(later(), GRACE).await.unwrap();
    let after_first = queue.len();

    // Nothing changed: nothing queued.
    let quiet = r.sweep(later(), GRACE).await.unwrap();
    assert!(!quiet.full_walk && quiet.round_finished, "{quiet:?}");
    assert_eq!((quiet.users, quiet.enqueued), (0, 0));
    assert_eq!(queue.len(), after_first);

    // AD sync changes a mobile number; a user is deleted.
    sim.control()
        .update_user(ADELE, json!({"mobilePhone": "06-87654321"}))
        .unwrap();
    sim.control().delete_user(LEE).unwrap();
    let changed = r.sweep(later(), GRACE).await.unwrap();
    assert_eq!(changed.enqueued, 2, "{changed:?}");
    assert_eq!(changed.removed, 1);
    let requests = queue.requests();
    let new: Vec<&str> = requests[after_first..]
        .iter()
        .map(|r| r.user_id.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(new, vec![ADELE, LEE]);

    let again = r.sweep(later(), GRACE).await.unwrap();
    assert_eq!(again.enqueued, 0, "{again:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn expired_delta_link_starts_a_full_walk_again() {
    let sim = sim(0).await;
    let links = InMemoryDeltaLinkStore::new();
    let r = reconciler(&sim, links.clone(), queue());
    r.sweep(later(), GRACE).await.unwrap();
    let old_link = links.get_delta_link().await.unwrap().unwrap();

    sim.control()
        .advance_clock(Duration::from_secs(8 * 24 * 60 * 60));
    let report = r.sweep(later(), GRACE).await.unwrap();
    assert!(
        report.restarted && report.full_walk && report.round_finished,
        "{report:?}"
    );
    assert_eq!(report.enqueued, CONTOSO_USERS - 1);
    let new_link = links.get_delta_link().await.unwrap().unwrap();
    assert_ne!(new_link, old_link);
    sim.shutdown().await;
}

#[tokio::test]
async fn time_budget_spreads_a_large_walk_over_runs_without_losing_a_user() {
    let sim = sim(250).await;
    let links = InMemoryDeltaLinkStore::new();
    let queue = queue();
    let r = reconciler(&sim, links.clone(), queue.clone());
    let mut runs = Vec::new();
    loop {
        // The deadline has passed already: each run handles exactly one page.
        let report = r.sweep(Instant::now(), GRACE).await.unwrap();
        let finished = report.round_finished;
        runs.push(report);
        if finished || runs.len() > 10 {
            break;
        }
    }
    let pages: Vec<usize> = runs.iter().map(|r| r.pages).collect();
    assert_eq!(pages, vec![1, 1, 1], "{runs:?}");
    assert!(runs[0].full_walk && runs[0].stopped_for_time);
    assert!(!runs[1].full_walk && runs[1].stopped_for_time);
    assert!(runs[2].round_finished && !runs[2].stopped_for_time);

    let mut expected = all_user_ids(&sim);
    expected.remove(BREAKGLASS);
    let queued = queued_users(&queue);
    assert_eq!(queued.len(), expected.len(), "each user once");
    assert_eq!(queued.into_iter().collect::<BTreeSet<_>>(), expected);
    sim.shutdown().await;
}

/// A link store whose first `put` fails, as if the function died right after sending a page.
#[derive(Clone, Default)]
struct FirstPutFails {
    inner: InMemoryDeltaLinkStore,
    puts: Arc<AtomicUsize>,
}

#[async_trait]
impl DeltaLinkStore for FirstPutFails {
    async fn get_delta_link(&self) -> Result<Option<String>, StoreError> {
        self.inner.get_delta_link().await
    }
    async fn put_delta_link(&self, expected: Option<&str>, link: &str) -> Result<(), StoreError> {
        if self.puts.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err(StoreError::Unavailable("simulated outage".into()));
        }
        self.inner.put_delta_link(expected, link).await
    }
    async fn clear_delta_link(&self, expected: &str) -> Result<(), StoreError> {
        self.inner.clear_delta_link(expected).await
    }
}

#[tokio::test]
async fn page_sent_but_link_not_stored_is_read_again_and_collapses_in_the_queue() {
    let sim = sim(150).await;
    let links = FirstPutFails::default();
    let queue = queue();
    let r = reconciler(&sim, links.clone(), queue.clone());
    let failure = r.sweep(later(), GRACE).await.unwrap_err();
    assert!(matches!(failure.error, SweepError::Store(_)));
    assert!(failure.error.is_transient());
    assert_eq!(failure.partial.pages, 1);
    assert_eq!(failure.partial.users, 100);
    assert_eq!(queue.len(), failure.partial.enqueued);

    // The next run reads the same first page again: same users, same state, same keys.
    let report = r.sweep(later(), GRACE).await.unwrap();
    assert!(report.full_walk && report.round_finished, "{report:?}");
    assert_eq!(report.users, CONTOSO_USERS + 150);
    assert_eq!(queue.len(), CONTOSO_USERS + 150 - 1, "no user queued twice");
    sim.shutdown().await;
}

#[tokio::test]
async fn queue_outage_keeps_the_link_so_the_next_run_sends_everything() {
    let sim = sim(0).await;
    let links = InMemoryDeltaLinkStore::new();
    let queue = queue();
    let function = ReconcileFunction::new(reconciler(&sim, links.clone(), queue.clone()));
    queue.set_unavailable(true);
    let deadline = SystemTime::now() + Duration::from_secs(300);
    // Transient: the invocation succeeds (no alarm), and nothing is marked as done.
    let report = function.handle(deadline).await.unwrap();
    assert_eq!(report.enqueued, 0);
    assert_eq!(links.get_delta_link().await.unwrap(), None);
    assert!(queue.is_empty());

    queue.set_unavailable(false);
    let report: SweepReport = function.handle(deadline).await.unwrap();
    assert!(report.full_walk && report.round_finished);
    assert_eq!(queue.len(), CONTOSO_USERS - 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn wrong_client_secret_fails_the_invocation() {
    let sim = sim(0).await;
    // A credential problem only an operator can fix: the invocation fails (alarm), no link.
    let config = GraphConfig::new(
        sim.tenant_id(),
        APP,
        Credential::ClientSecret(Secret::new("not-the-secret")),
    )
    .with_graph_base_url(sim.base_url())
    .with_authority_host(sim.authority_host())
    .with_extra_root_ca_pem(sim.ca_cert_pem());
    let links = InMemoryDeltaLinkStore::new();
    let function = ReconcileFunction::new(Reconciler::new(
        GraphClient::new(config).unwrap(),
        Arc::new(policy()),
        TENANT,
        links.clone(),
        queue(),
    ));
    let failure = function
        .handle(SystemTime::now() + Duration::from_secs(300))
        .await
        .unwrap_err();
    assert!(!failure.error.is_transient(), "{failure}");
    assert_eq!(links.get_delta_link().await.unwrap(), None);
    sim.shutdown().await;
}
