//! Client-side pacing keeps a write burst under Graph's write quota. The simulator's quota is
//! scaled down (300 writes per 3 s instead of 3,000 per 150 s) so the test runs in seconds;
//! the pacer gets the same numbers, as a deployment would get the real ones.

mod common;

use std::time::Duration;

use autoenroll_graph::model::PhoneType;
use autoenroll_graph::{GraphClient, PacingConfig, RetryConfig, UserQuery};
use common::*;
use futures::{StreamExt, TryStreamExt};
use graph_sim::{Seed, Sim, SimOptions, ThrottleOptions};

async fn sim_with_write_quota(users: usize, write_limit: u32, window: Duration) -> Sim {
    start_with(SimOptions {
        seed: Seed::contoso(),
        synthetic_users: users,
        throttle: ThrottleOptions {
            write_limit,
            write_window_ms: window.as_millis() as u64,
            ..ThrottleOptions::default()
        },
        ..Default::default()
    })
    .await
}

async fn synthetic_user_ids(graph: &GraphClient, n: usize) -> Vec<String> {
    let pages: Vec<_> = graph
        .users()
        .list_pages(&UserQuery::select(&["id", "userPrincipalName"]).with_top(999))
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<String> = pages
        .into_iter()
        .flat_map(|p| p.value)
        .filter(|u| {
            u.user_principal_name
                .as_deref()
                .is_some_and(|upn| upn.starts_with("synthetic"))
        })
        .map(|u| u.id)
        .collect();
    assert_eq!(ids.len(), n);
    ids
}

/// Adds a mobile phone to every user, 32 at a time; returns how many calls failed.
async fn burst(graph: &GraphClient, ids: &[String]) -> usize {
    futures::stream::iter(ids.iter().enumerate())
        .map(|(i, id)| async move {
            graph
                .phone_methods(id)
                .add(&format!("+31 6{:08}", 10_000_000 + i), PhoneType::Mobile)
                .await
        })
        .buffer_unordered(32)
        .filter(|r| std::future::ready(r.is_err()))
        .count()
        .await
}

/// No retries: a single 429 would surface as a failed call.
fn no_retries() -> RetryConfig {
    RetryConfig {
        max_attempts: 1,
        ..RetryConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paced_burst_of_2000_writes_draws_no_429() {
    let window = Duration::from_secs(3);
    let sim = sim_with_write_quota(2_000, 300, window).await;
    let config = secret_config(&sim, APP, APP_SECRET)
        .with_retry(no_retries())
        .with_max_concurrency(32)
        .with_pacing(PacingConfig {
            writes_per_window: 300,
            write_window: window,
            ..PacingConfig::default()
        });
    let graph = GraphClient::new(config).unwrap();
    let ids = synthetic_user_ids(&graph, 2_000).await;

    let failed = burst(&graph, &ids).await;

    let counters = sim.control().counters();
    assert_eq!(counters.throttled, 0, "429s served");
    assert_eq!(failed, 0);
    assert_eq!(counters.writes, 2_000);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpaced_burst_against_the_same_quota_is_throttled() {
    // The control experiment: without the pacer the quota is exceeded, so the test above
    // measures the pacer and not a lenient simulator.
    let sim = sim_with_write_quota(200, 50, Duration::from_secs(10)).await;
    let config = secret_config(&sim, APP, APP_SECRET)
        .with_retry(no_retries())
        .with_max_concurrency(32);
    let graph = GraphClient::new(config).unwrap();
    let ids = synthetic_user_ids(&graph, 200).await;

    let failed = burst(&graph, &ids).await;

    let counters = sim.control().counters();
    assert!(counters.throttled_by_quota > 0);
    assert_eq!(failed as u64, counters.throttled_by_quota);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_sharing_the_quota_each_take_their_share() {
    // Two "Lambda instances" (two clients with separate pacers, as in separate processes),
    // each configured with quota ÷ 2, write at once against one app's quota.
    let window = Duration::from_secs(3);
    let sim = sim_with_write_quota(600, 200, window).await;
    let make = || {
        let pacer = std::sync::Arc::new(autoenroll_graph::Pacer::new(PacingConfig {
            writes_per_window: 200,
            write_window: window,
            instance_share_divisor: 2,
            ..PacingConfig::default()
        }));
        GraphClient::new(
            secret_config(&sim, APP, APP_SECRET)
                .with_retry(no_retries())
                .with_max_concurrency(32)
                .with_pacer(pacer),
        )
        .unwrap()
    };
    let (a, b) = (make(), make());
    let ids = synthetic_user_ids(&a, 600).await;
    let (left, right) = ids.split_at(300);
    let (fa, fb) = tokio::join!(burst(&a, left), burst(&b, right));
    let counters = sim.control().counters();
    assert_eq!(counters.throttled, 0);
    assert_eq!(fa + fb, 0);
    assert_eq!(counters.writes, 600);
    sim.shutdown().await;
}
