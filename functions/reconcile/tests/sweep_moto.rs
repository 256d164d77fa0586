//! The sweep keeping its place in DynamoDB (moto; ./test.sh starts it and exports
//! AUTOENROLL_TEST_MOTO_ENDPOINT — without it this test fails, it is not skipped).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use autoenroll_aws::dynamo::{DynamoStore, ensure_table};
use autoenroll_aws::memory::MemoryFifoQueue;
use autoenroll_core::policy::Policy;
use autoenroll_core::ports::DeltaLinkStore;
use autoenroll_graph::{Credential, GraphClient, GraphConfig, PacingConfig, Secret};
use autoenroll_reconcile::Reconciler;
use graph_sim::{Seed, Sim, SimOptions};
use serde_json::json;
use tokio::time::Instant;

const APP: &str = "5d3e8b0f-6a2c-4f1e-8b7d-2c9a4e6f1b30";
const APP_SECRET: &str = "sim-secret-autoenroll-Q8w~xV3pL9";
const TENANT: &str = "8f2c6a51-3b7e-4d0a-9c1e-5a4b2d9e7f10";
const ADELE: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b01";

fn moto_endpoint() -> String {
    match std::env::var("AUTOENROLL_TEST_MOTO_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => endpoint,
        _ => panic!(
            "AUTOENROLL_TEST_MOTO_ENDPOINT is not set: this test needs moto. Run it with \
             ./test.sh, or start `moto_server -H 127.0.0.1 -p PORT` and export \
             AUTOENROLL_TEST_MOTO_ENDPOINT=http://127.0.0.1:PORT"
        ),
    }
}

fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

#[tokio::test]
async fn delta_link_kept_in_dynamodb_carries_the_sweep_from_run_to_run() {
    let aws = autoenroll_aws::config::for_moto(&moto_endpoint()).await;
    let client = autoenroll_aws::config::dynamodb_client(&aws);
    let table = unique("reconcile");
    ensure_table(&client, &table).await.unwrap();
    let store = DynamoStore::new(client, table);

    let sim = Sim::start(SimOptions {
        seed: Seed::contoso(),
        ..Default::default()
    })
    .await
    .unwrap();
    let graph = GraphClient::new(
        GraphConfig::new(
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
        }),
    )
    .unwrap();
    let queue = MemoryFifoQueue::builder("enroll-moto.fifo").build();
    let later = || Instant::now() + Duration::from_secs(120);

    // A fresh table: the first run walks everyone and leaves its link in the table.
    let first = Reconciler::new(
        graph.clone(),
        Arc::new(Policy::default()),
        TENANT,
        store.clone(),
        queue.clone(),
    );
    let report = first.sweep(later(), Duration::from_secs(30)).await.unwrap();
    assert!(report.full_walk && report.round_finished);
    assert_eq!(report.enqueued, 21);
    let link = store.get_delta_link().await.unwrap().unwrap();
    assert!(link.starts_with(&sim.base_url()));

    // Another instance (a later invocation) reads the link from the table.
    sim.control()
        .update_user(ADELE, json!({"mobilePhone": "+31 687654321"}))
        .unwrap();
    let second = Reconciler::new(
        graph,
        Arc::new(Policy::default()),
        TENANT,
        store.clone(),
        queue.clone(),
    );
    let report = second
        .sweep(later(), Duration::from_secs(30))
        .await
        .unwrap();
    assert!(!report.full_walk, "{report:?}");
    assert_eq!(report.enqueued, 1);
    assert_eq!(queue.requests().last().unwrap().user_id, ADELE);
    assert_ne!(store.get_delta_link().await.unwrap().unwrap(), link);
    sim.shutdown().await;
}
