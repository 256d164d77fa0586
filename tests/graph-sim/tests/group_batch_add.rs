//! `PATCH /groups/{id}` with `members@odata.bind` (PASSKEY-ERA.md §10): up to 20, all or nothing.

mod common;

use common::*;
use serde_json::{Value, json};

const PILOT: &str = "c0a80101-5e1f-4c3a-8d2b-000000000003";

fn bind(ids: &[&str]) -> Value {
    let urls: Vec<String> = ids
        .iter()
        .map(|id| format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}"))
        .collect();
    json!({ "members@odata.bind": urls })
}

fn members(sim: &graph_sim::Sim, group: &str) -> Vec<String> {
    sim.control().dump()["groups"][group]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn several_members_are_added_in_one_write() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let before = members(&sim, CA_GROUP);
    let new: Vec<&str> = [ADELE, ALEX, MEGAN, LEE_ID]
        .into_iter()
        .filter(|id| !before.iter().any(|b| b == id))
        .collect();
    assert!(new.len() >= 2, "{before:?}");
    sim.control().reset_counters();
    let (status, body) = graph
        .patch(&format!("/v1.0/groups/{CA_GROUP}"), bind(&new))
        .await;
    assert_eq!(status, 204, "{body}");
    let now = members(&sim, CA_GROUP);
    for id in &new {
        assert!(now.contains(&id.to_string()));
    }
    let counters = sim.control().counters();
    assert_eq!(counters.writes, 1);
    assert_eq!(counters.calls("PATCH /groups/{group}"), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn one_existing_member_fails_the_whole_request() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let before = members(&sim, PILOT);
    assert!(before.contains(&ADELE.to_string()));
    let (status, body) = graph
        .patch(
            &format!("/v1.0/groups/{PILOT}"),
            bind(&[MEGAN, ADELE, LEE_ID]),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_code(&body), "Request_BadRequest");
    assert_eq!(
        body["error"]["message"],
        "One or more added object references already exist for the following modified properties: 'members'."
    );
    assert_eq!(members(&sim, PILOT), before, "nothing added");
    sim.shutdown().await;
}

const LEE_ID: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b04";

#[tokio::test]
async fn one_unknown_object_is_404_and_nothing_is_added() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let before = members(&sim, CA_GROUP);
    let ghost = "00000000-0000-0000-0000-00000000beef";
    let (status, body) = graph
        .patch(&format!("/v1.0/groups/{CA_GROUP}"), bind(&[ALEX, ghost]))
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(error_code(&body), "Request_ResourceNotFound");
    assert_eq!(
        body["error"]["message"],
        format!(
            "Resource '{ghost}' does not exist or one of its queried reference-property objects are not present."
        )
    );
    assert_eq!(members(&sim, CA_GROUP), before);
    let (status, _) = graph
        .patch(
            "/v1.0/groups/00000000-0000-0000-0000-00000000f00d",
            bind(&[ALEX]),
        )
        .await;
    assert_eq!(status, 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn more_than_twenty_empty_duplicate_or_other_properties_are_400() {
    let sim = start_with(graph_sim::SimOptions {
        seed: graph_sim::Seed::contoso(),
        synthetic_users: 25,
        ..Default::default()
    })
    .await;
    let graph = Graph::new(&sim).await;
    let dump = sim.control().dump();
    let all: Vec<&str> = dump["users"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert!(all.len() > 20);
    let before = members(&sim, CA_GROUP);
    let path = format!("/v1.0/groups/{CA_GROUP}");
    for body in [
        bind(&all[..21]),
        bind(&[]),
        bind(&[ALEX, ALEX]),
        json!({"displayName": "renamed"}),
        json!({"members@odata.bind": ["https://graph.microsoft.com/v1.0/groups/x"]}),
    ] {
        let (status, answer) = graph.patch(&path, body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
    }
    assert_eq!(members(&sim, CA_GROUP), before);
    // Exactly 20 is fine.
    let fresh: Vec<&str> = all
        .iter()
        .copied()
        .filter(|id| !before.iter().any(|b| b == id))
        .take(20)
        .collect();
    assert_eq!(fresh.len(), 20);
    let (status, answer) = graph.patch(&path, bind(&fresh)).await;
    assert_eq!(status, 204, "{answer}");
    sim.shutdown().await;
}

#[tokio::test]
async fn needs_a_member_write_permission() {
    let sim = start().await;
    let graph = Graph::for_app(&sim, READER, READER_SECRET).await;
    let (status, body) = graph
        .patch(&format!("/v1.0/groups/{CA_GROUP}"), bind(&[ALEX]))
        .await;
    assert_eq!(status, 403);
    assert_eq!(error_code(&body), "Authorization_RequestDenied");
    sim.shutdown().await;
}
