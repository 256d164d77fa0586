//! `GET /security/secureScores`: seeded scores newest first, `$top`, the permission, and
//! the seed check.

mod common;

use common::*;
use graph_sim::Seed;
use serde_json::{Value, json};

const READINESS: &str = "3b9d6f2e-1c4a-4e7b-8d05-6a2f9c1e7b44";
const READINESS_SECRET: &str = "sim-secret-readiness-Vb6~q2N";

fn score(day: &str, current: f64) -> serde_json::Map<String, Value> {
    json!({"id": format!("{}_{day}", "contoso"), "createdDateTime": format!("{day}T00:00:00Z"),
        "currentScore": current, "maxScore": 300.0,
        "controlScores": [
            {"controlCategory": "Identity", "controlName": "AdminMFAV2", "score": 5.0,
             "scoreInPercentage": 50.0, "description": "Require MFA for administrative roles"},
            {"controlCategory": "Identity", "controlName": "MFARegistrationV2", "score": 0.0,
             "scoreInPercentage": 0.0}]})
    .as_object()
    .cloned()
    .unwrap()
}

fn seed(grant: bool) -> Seed {
    let mut seed = Seed::contoso();
    seed.secure_scores = vec![score("2026-12-04", 101.5), score("2026-12-05", 120.0)];
    if grant {
        for app in &mut seed.apps {
            if app.client_id == READINESS {
                app.roles.push("SecurityEvents.Read.All".into());
            }
        }
    }
    seed
}

#[tokio::test]
async fn the_latest_score_comes_first_and_top_limits_the_page() {
    let sim = start_with(graph_sim::SimOptions {
        seed: seed(true),
        ..Default::default()
    })
    .await;
    let graph = Graph::for_app(&sim, READINESS, READINESS_SECRET).await;
    let (status, body) = graph.get("/v1.0/security/secureScores").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["value"].as_array().unwrap().len(), 2);
    let (status, body) = graph.get("/v1.0/security/secureScores?$top=1").await;
    assert_eq!(status, 200, "{body}");
    let value = body["value"].as_array().unwrap();
    assert_eq!(value.len(), 1);
    assert_eq!(value[0]["currentScore"], 120.0);
    assert_eq!(value[0]["controlScores"][0]["controlName"], "AdminMFAV2");
    let (status, _) = graph.get("/v1.0/security/secureScores?$filter=x").await;
    assert_eq!(status, 400, "unsupported options are refused, not ignored");
    sim.shutdown().await;
}

#[tokio::test]
async fn without_security_events_read_all_it_is_forbidden() {
    let sim = start_with(graph_sim::SimOptions {
        seed: seed(false),
        ..Default::default()
    })
    .await;
    let graph = Graph::for_app(&sim, READINESS, READINESS_SECRET).await;
    let (status, body) = graph.get("/v1.0/security/secureScores").await;
    assert_eq!(status, 403, "{body}");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_tenant_without_a_seeded_score_has_none_and_bad_seeds_are_refused() {
    let mut empty = seed(true);
    empty.secure_scores.clear();
    let sim = start_with(graph_sim::SimOptions {
        seed: empty,
        ..Default::default()
    })
    .await;
    let graph = Graph::for_app(&sim, READINESS, READINESS_SECRET).await;
    let (status, body) = graph.get("/v1.0/security/secureScores?$top=1").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["value"], json!([]));
    sim.shutdown().await;

    let mut bad = seed(true);
    bad.secure_scores[0].remove("maxScore");
    assert!(
        graph_sim::Sim::start(graph_sim::SimOptions {
            seed: bad,
            ..Default::default()
        })
        .await
        .is_err()
    );
}
