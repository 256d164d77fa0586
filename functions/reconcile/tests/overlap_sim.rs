//! Runs of the sweep never overlap (the reconcile lease), and a run that is overtaken anyway
//! never sends the stored delta link backwards (conditional link writes). Graph simulator,
//! in-memory queue, link and lease stores (their DynamoDB adapters are tested on moto in
//! autoenroll-aws).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use autoenroll_aws::memory::MemoryFifoQueue;
use autoenroll_core::memory::{InMemoryDeltaLinkStore, InMemoryLeaseStore};
use autoenroll_core::policy::Policy;
use autoenroll_core::ports::{DeltaLinkStore, LeaseGrant, LeaseStore, StoreError};
use autoenroll_graph::{Credential, GraphClient, GraphConfig, PacingConfig, Secret};
use autoenroll_reconcile::lease::LEASE_NAME;
use autoenroll_reconcile::{ReconcileFunction, Reconciler, RunLease};
use graph_sim::{Seed, Sim, SimOptions};

const APP: &str = "5d3e8b0f-6a2c-4f1e-8b7d-2c9a4e6f1b30";
const APP_SECRET: &str = "sim-secret-autoenroll-Q8w~xV3pL9";
const TENANT: &str = "8f2c6a51-3b7e-4d0a-9c1e-5a4b2d9e7f10";

async fn sim() -> Sim {
    Sim::start(SimOptions {
        seed: Seed::contoso(),
        synthetic_users: 150,
        rng_seed: Some(5),
        ..Default::default()
    })
    .await
    .unwrap()
}

fn reconciler<L: DeltaLinkStore>(
    sim: &Sim,
    links: L,
    queue: MemoryFifoQueue,
) -> Reconciler<L, MemoryFifoQueue> {
    let config = GraphConfig::new(
        sim.tenant_id(),
        APP,
        Credential::ClientSecret(Secret::new(APP_SECRET)),
    )
    .with_graph_base_url(sim.base_url())
    .with_authority_host(sim.authority_host())
    .with_extra_root_ca_pem(sim.ca_cert_pem())
    .with_pacing(PacingConfig {
        enabled: false,
        ..PacingConfig::default()
    });
    let graph = GraphClient::new(config).unwrap();
    Reconciler::new(graph, Arc::new(Policy::default()), TENANT, links, queue)
}

fn queue() -> MemoryFifoQueue {
    MemoryFifoQueue::builder("enroll-test.fifo").build()
}

fn deadline() -> SystemTime {
    SystemTime::now() + Duration::from_secs(120)
}

fn epoch_ms(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test]
async fn a_run_that_finds_the_lease_held_exits_at_once_and_the_next_one_sweeps() {
    let sim = sim().await;
    let (links, queue, leases) = (
        InMemoryDeltaLinkStore::new(),
        queue(),
        InMemoryLeaseStore::new(),
    );
    let function = ReconcileFunction::new(reconciler(&sim, links.clone(), queue.clone()))
        .with_lease(RunLease::new(Arc::new(leases.clone())));

    // Another run is under way.
    let now = epoch_ms(SystemTime::now());
    let granted = leases
        .acquire(LEASE_NAME, "earlier-run", now, now + 300_000)
        .await
        .unwrap();
    assert_eq!(granted, LeaseGrant::Granted);
    let report = function.handle(deadline()).await.unwrap();
    assert!(report.lease_held_elsewhere, "{report:?}");
    assert_eq!((report.pages, report.enqueued), (0, 0));
    assert!(queue.is_empty());
    assert_eq!(links.get_delta_link().await.unwrap(), None);

    // It ended: the next run sweeps, and releases the lease when done.
    leases.release(LEASE_NAME, "earlier-run").await.unwrap();
    let report = function.handle(deadline()).await.unwrap();
    assert!(
        !report.lease_held_elsewhere && report.pages > 0,
        "{report:?}"
    );
    assert!(report.round_finished, "{report:?}");
    assert_eq!(leases.holder(LEASE_NAME), None);
    sim.shutdown().await;
}

#[tokio::test]
async fn of_two_runs_started_together_one_sweeps_and_the_other_exits() {
    let sim = sim().await;
    let (links, queue, leases) = (
        InMemoryDeltaLinkStore::new(),
        queue(),
        InMemoryLeaseStore::new(),
    );
    let lease = RunLease::new(Arc::new(leases.clone()));
    let first = ReconcileFunction::new(reconciler(&sim, links.clone(), queue.clone()))
        .with_lease(lease.clone());
    let second =
        ReconcileFunction::new(reconciler(&sim, links.clone(), queue.clone())).with_lease(lease);
    let (a, b) = tokio::join!(first.handle(deadline()), second.handle(deadline()));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(
        a.lease_held_elsewhere != b.lease_held_elsewhere,
        "exactly one run sweeps: {a:?} / {b:?}"
    );
    let swept = if a.lease_held_elsewhere { b } else { a };
    assert!(swept.round_finished, "{swept:?}");
    sim.shutdown().await;
}

/// A link store in which another run stores a newer link just before this run's first write.
#[derive(Default)]
struct OvertakenOnce {
    inner: InMemoryDeltaLinkStore,
    overtaken: AtomicBool,
}

const NEWER: &str = "https://graph.microsoft.com/v1.0/users/delta?$deltatoken=newer";

#[async_trait]
impl DeltaLinkStore for OvertakenOnce {
    async fn get_delta_link(&self) -> Result<Option<String>, StoreError> {
        self.inner.get_delta_link().await
    }
    async fn put_delta_link(&self, expected: Option<&str>, link: &str) -> Result<(), StoreError> {
        if !self.overtaken.swap(true, Ordering::SeqCst) {
            let current = self.inner.get_delta_link().await?;
            self.inner.put_delta_link(current.as_deref(), NEWER).await?;
        }
        self.inner.put_delta_link(expected, link).await
    }
    async fn clear_delta_link(&self, expected: &str) -> Result<(), StoreError> {
        self.inner.clear_delta_link(expected).await
    }
}

#[tokio::test]
async fn a_stale_run_stops_and_never_overwrites_the_newer_link() {
    let sim = sim().await;
    let r = reconciler(&sim, OvertakenOnce::default(), queue());
    let report = r
        .sweep(
            tokio::time::Instant::now() + Duration::from_secs(120),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert!(report.superseded, "{report:?}");
    assert_eq!(
        report.pages, 1,
        "the run stops at its first lost write: {report:?}"
    );
    assert!(!report.round_finished);
    assert_eq!(
        r.links().get_delta_link().await.unwrap().as_deref(),
        Some(NEWER),
        "the newer run's link stays"
    );
    sim.shutdown().await;
}
