//! Item 9: throttling by resource units and the write quota.

mod common;

use common::*;
use graph_sim::{Seed, SimOptions, TenantSize, ThrottleOptions};
use serde_json::json;

#[tokio::test]
async fn writes_beyond_the_quota_get_429_with_retry_after_and_scope() {
    let sim = start_with(SimOptions {
        seed: Seed::contoso(),
        throttle: ThrottleOptions {
            write_limit: 3,
            write_window_ms: 3_600_000,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let graph = Graph::hr(&sim).await;
    let mut statuses = Vec::new();
    let mut last_headers = None;
    for n in 0..4 {
        let (status, _, headers) = graph
            .send(
                reqwest::Method::PATCH,
                &format!("/v1.0/users/{ALEX}"),
                Some(json!({"jobTitle": format!("t{n}")})),
            )
            .await;
        statuses.push(status);
        last_headers = Some(headers);
    }
    assert_eq!(statuses, vec![204, 204, 204, 429]);
    let h = last_headers.unwrap();
    let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1);
    assert_eq!(
        h["x-ms-throttle-scope"].to_str().unwrap(),
        format!("Tenant_Application/Write/{HR}/{TENANT}")
    );
    assert_eq!(h["x-ms-throttle-information"], "WriteLimitExceeded");
    // Reads still pass while writes are throttled.
    let (status, _) = graph.get(&format!("/v1.0/users/{ALEX}")).await;
    assert_eq!(status, 200);
    // Another app has its own quota.
    let reader = Graph::for_app(&sim, READER, READER_SECRET).await;
    let (status, _) = reader.get(&format!("/v1.0/users/{ALEX}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        sim.control().user(ALEX).unwrap()["properties"]["jobTitle"],
        "t2"
    );
    let counters = sim.control().counters();
    assert_eq!(counters.throttled_by_quota, 1);
    assert_eq!(counters.calls_with_status("PATCH /users/{user}", 429), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn reads_cost_resource_units_and_near_the_limit_report_the_percentage() {
    // 10 RU per window: GET user costs 2, with $select 1.
    let sim = start_with(SimOptions {
        seed: Seed::contoso(),
        throttle: ThrottleOptions {
            resource_units: Some(10),
            resource_unit_window_ms: 3_600_000,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let graph = Graph::new(&sim).await;
    let (_, _, h) = graph
        .send(reqwest::Method::GET, &format!("/v1.0/users/{ALEX}"), None)
        .await;
    assert_eq!(h["x-ms-resource-unit"], "2");
    assert!(!h.contains_key("x-ms-throttle-limit-percentage"));
    let (_, _, h) = graph
        .send(
            reqwest::Method::GET,
            &format!("/v1.0/users/{ALEX}?$select=id"),
            None,
        )
        .await;
    assert_eq!(h["x-ms-resource-unit"], "1");
    for _ in 0..3 {
        graph
            .send(reqwest::Method::GET, &format!("/v1.0/users/{ALEX}"), None)
            .await;
    }
    // 9 of 10 used.
    let (status, _, h) = graph
        .send(
            reqwest::Method::GET,
            &format!("/v1.0/users/{ALEX}?$select=id"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(h.contains_key("x-ms-throttle-limit-percentage"), "{h:?}");
    let (status, body, h) = graph
        .send(reqwest::Method::GET, &format!("/v1.0/users/{ALEX}"), None)
        .await;
    assert_eq!(status, 429);
    assert_eq!(error_code(&body), "TooManyRequests");
    assert_eq!(h["x-ms-throttle-information"], "ResourceUnitLimitExceeded");
    assert!(
        h["x-ms-throttle-scope"]
            .to_str()
            .unwrap()
            .starts_with("Tenant_Application/")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_bucket_refills_over_its_window() {
    // A 1-write quota refilled every 200 ms: after a 429, waiting Retry-After lets the write in.
    let sim = start_with(SimOptions {
        seed: Seed::contoso(),
        throttle: ThrottleOptions {
            write_limit: 1,
            write_window_ms: 200,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let graph = Graph::hr(&sim).await;
    let path = format!("/v1.0/users/{ALEX}");
    let patch = || {
        graph.send(
            reqwest::Method::PATCH,
            &path,
            Some(json!({"jobTitle": "x"})),
        )
    };
    assert_eq!(patch().await.0, 204);
    let (status, _, h) = patch().await;
    assert_eq!(status, 429);
    let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(retry)).await;
    assert_eq!(patch().await.0, 204);
    sim.shutdown().await;
}

#[test]
fn tenant_size_follows_the_seeded_user_count() {
    assert_eq!(
        TenantSize::for_users(Seed::contoso().users.len()),
        TenantSize::Small
    );
    assert_eq!(TenantSize::Small.resource_units(), 3_500);
    assert_eq!(TenantSize::Medium.resource_units(), 5_000);
    assert_eq!(TenantSize::Large.resource_units(), 8_000);
}
