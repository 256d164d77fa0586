//! Item 10: the `/_sim/` admin API and its Rust twin; the binary.

mod common;

use common::*;
use graph_sim::{FaultKind, FaultRule, LatencyRule, Seed, SimOptions};
use serde_json::{Value, json};

fn admin(sim: &graph_sim::Sim, path: &str) -> String {
    format!("{}/_sim{path}", sim.base_url())
}

#[tokio::test]
async fn injected_503s_are_served_count_times_with_retry_after_then_the_call_succeeds() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let r = client(&sim)
        .post(admin(&sim, "/faults"))
        .json(&json!({"route": "POST /users/{user}/authentication/phoneMethods", "kind": "status", "status": 503, "count": 2, "retryAfterSecs": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let path = format!("/v1.0/users/{ALEX}/authentication/phoneMethods");
    let body = json!({"phoneNumber": "+1 2065550100", "phoneType": "mobile"});
    for _ in 0..2 {
        let (status, err, headers) = graph
            .send(reqwest::Method::POST, &path, Some(body.clone()))
            .await;
        assert_eq!(status, 503);
        assert_eq!(headers["retry-after"], "7");
        assert_eq!(error_code(&err), "serviceNotAvailable");
    }
    // Another route is not affected.
    assert_eq!(graph.get(&format!("/v1.0/users/{ALEX}")).await.0, 200);
    let (status, _) = graph.post(&path, body).await;
    assert_eq!(status, 201);
    let counters: Value = client(&sim)
        .get(admin(&sim, "/counters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let route = &counters["routes"]["POST /users/{user}/authentication/phoneMethods"];
    assert_eq!(route["total"], 3);
    assert_eq!(route["byStatus"]["503"], 2);
    assert_eq!(route["byStatus"]["201"], 1);
    assert_eq!(counters["faultsInjected"], 2);
    assert_eq!(counters["writes"], 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_fault_rate_applies_to_about_that_share_of_calls_reproducibly() {
    let run = || async {
        let sim = start_with(SimOptions {
            seed: Seed::contoso(),
            rng_seed: Some(7),
            ..Default::default()
        })
        .await;
        let graph = Graph::new(&sim).await;
        sim.control()
            .add_fault(FaultRule::new("GET /users*", FaultKind::Status { status: 500 }).rate(0.3));
        let mut failures = 0;
        for _ in 0..100 {
            if graph.get(&format!("/v1.0/users/{ALEX}?$select=id")).await.0 == 500 {
                failures += 1;
            }
        }
        let counted = sim
            .control()
            .counters()
            .calls_with_status("GET /users/{user}", 500);
        sim.shutdown().await;
        (failures, counted)
    };
    let (first, counted) = run().await;
    assert_eq!(first, counted);
    assert!(
        (10..=50).contains(&first),
        "{first} of 100 failed at rate 0.3"
    );
    let (second, _) = run().await;
    assert_eq!(first, second, "the same rng seed gives the same faults");
}

#[tokio::test]
async fn an_injected_429_looks_like_graph_throttling() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    sim.control()
        .add_fault(FaultRule::new("*", FaultKind::Throttle).times(1));
    let (status, body, headers) = graph.send(reqwest::Method::GET, "/v1.0/users", None).await;
    assert_eq!(status, 429);
    assert_eq!(error_code(&body), "TooManyRequests");
    assert!(headers.contains_key("retry-after"));
    assert_eq!(graph.get("/v1.0/users").await.0, 200);
    assert_eq!(sim.control().counters().throttled, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_timeout_fault_leaves_the_client_without_an_answer() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let patient_for = |ms| {
        let ca = reqwest::Certificate::from_pem(sim.ca_cert_pem().as_bytes()).unwrap();
        reqwest::Client::builder()
            .tls_certs_only([ca])
            .timeout(std::time::Duration::from_millis(ms))
            .build()
            .unwrap()
    };
    sim.control().add_fault(
        FaultRule::new(
            "POST /users/{user}/authentication/phoneMethods",
            FaultKind::Timeout {
                hold_ms: 60_000,
                apply_first: true,
            },
        )
        .times(1),
    );
    let err = patient_for(1_000)
        .post(format!(
            "{}/v1.0/users/{ALEX}/authentication/phoneMethods",
            sim.base_url()
        ))
        .bearer_auth(&graph.token)
        .json(&json!({"phoneNumber": "+1 2065550100", "phoneType": "mobile"}))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    // apply_first: the write happened even though the caller never heard so.
    let mut applied = false;
    for _ in 0..100 {
        if sim.control().user(ALEX).unwrap()["authentication"]["phones"]["mobile"].is_object() {
            applied = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(applied);
    // The retry meets Graph's "already exists".
    let (status, _) = graph
        .post(
            &format!("/v1.0/users/{ALEX}/authentication/phoneMethods"),
            json!({"phoneNumber": "+1 2065550100", "phoneType": "mobile"}),
        )
        .await;
    assert_eq!(status, 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn latency_rules_slow_only_their_route_until_cleared() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let ca = reqwest::Certificate::from_pem(sim.ca_cert_pem().as_bytes()).unwrap();
    let impatient = reqwest::Client::builder()
        .tls_certs_only([ca])
        .timeout(std::time::Duration::from_millis(1_000))
        .build()
        .unwrap();
    let r = client(&sim)
        .put(admin(&sim, "/latency"))
        .json(&json!([{"route": "GET /users/{user}", "minMs": 30000}]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let get_user = || {
        impatient
            .get(format!("{}/v1.0/users/{ALEX}", sim.base_url()))
            .bearer_auth(&graph.token)
            .send()
    };
    assert!(get_user().await.unwrap_err().is_timeout());
    let list = impatient
        .get(format!("{}/v1.0/users?$top=1", sim.base_url()))
        .bearer_auth(&graph.token)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200);
    sim.control().set_latency(vec![LatencyRule {
        route: "GET /users/{user}".into(),
        min_ms: 0,
        max_ms: Some(5),
    }]);
    assert_eq!(get_user().await.unwrap().status(), 200);
    let r = client(&sim)
        .delete(admin(&sim, "/latency"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_clock_jumps_forward_only() {
    let sim = start().await;
    let before = sim.control().now();
    let r = client(&sim)
        .post(admin(&sim, "/clock/advance"))
        .json(&json!({"hours": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let clock: Value = client(&sim)
        .get(admin(&sim, "/clock"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(clock["offsetSeconds"], 5 * 3600);
    assert!(sim.control().now() - before >= time::Duration::hours(5));
    let r = client(&sim)
        .post(admin(&sim, "/clock/advance"))
        .json(&json!({"hours": -1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_state_dump_shows_the_tenant_as_tests_need_it() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    graph
        .post(
            &format!("/v1.0/users/{ALEX}/authentication/phoneMethods"),
            json!({"phoneNumber": "+1 2065550100", "phoneType": "mobile"}),
        )
        .await;
    graph
        .patch(
            &format!("/beta/users/{ALEX}/authentication/requirements"),
            json!({"perUserMfaState": "enabled"}),
        )
        .await;
    let dump: Value = client(&sim)
        .get(admin(&sim, "/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dump["id"], TENANT);
    let alex = &dump["users"][ALEX];
    assert_eq!(
        alex["properties"]["userPrincipalName"],
        "alex.wilber@contoso.com"
    );
    assert_eq!(
        alex["authentication"]["phones"]["mobile"]["phoneNumber"],
        "+1 2065550100"
    );
    assert_eq!(alex["authentication"]["perUserMfaState"], "enforced");
    assert!(dump["groups"][CA_GROUP]["members"].is_array());
    assert!(dump["directoryRoles"].is_object());
    assert!(dump["changes"].as_array().unwrap().len() >= 2);
    assert!(dump["now"].is_string());
    // No secret or pass is in the dump.
    assert!(!dump.to_string().contains(APP_SECRET));
    sim.shutdown().await;
}

#[tokio::test]
async fn admin_errors_are_clear_and_change_nothing() {
    let sim = start().await;
    let http = client(&sim);
    let r = http
        .patch(admin(&sim, "/users/nobody@contoso.com"))
        .json(&json!({"mobilePhone": "1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = http
        .patch(admin(&sim, &format!("/users/{ALEX}")))
        .json(&json!({"shoeSize": 44}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = http
        .post(admin(&sim, "/users"))
        .json(&json!({"displayName": "no upn"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = http
        .put(admin(&sim, "/faults"))
        .json(&json!([{"route": "*", "kind": "status", "status": 200}]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = http
        .post(admin(&sim, &format!("/users/{ALEX}/methods")))
        .json(&json!({"phoneType": "mobile", "phoneNumber": "0612"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(sim.control().changes_since(0).is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_and_methods_get_graph_errors() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (status, body) = graph.get("/v1.0/teapots").await;
    assert_eq!((status, error_code(&body)), (400, "BadRequest"));
    let (status, body, _) = graph
        .send(
            reqwest::Method::PUT,
            &format!("/v1.0/users/{ALEX}"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 405);
    assert!(body["error"]["innerError"]["request-id"].is_string());
    sim.shutdown().await;
}

#[tokio::test]
async fn the_binary_serves_the_seed_and_writes_its_ca() {
    use tokio::io::AsyncBufReadExt;
    let dir = std::env::temp_dir().join(format!("graph-sim-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_path = dir.join("ca.pem");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_graph-sim"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--seed",
            concat!(env!("CARGO_MANIFEST_DIR"), "/seeds/contoso.json"),
            "--ca-out",
        ])
        .arg(&ca_path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut base = None;
    while let Some(line) = lines.next_line().await.unwrap() {
        if let Some(url) = line.trim().strip_prefix("base url:") {
            base = Some(url.trim().to_string());
            break;
        }
    }
    let base = base.unwrap();
    assert!(base.starts_with("https://127.0.0.1:"));
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&ca_path).unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    let dump: Value = http
        .get(format!("{base}/_sim/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dump["id"], TENANT);
    child.kill().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
