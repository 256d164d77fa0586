//! `GET /users/delta` over HTTP: paging to a delta link, change rounds with `@removed`,
//! `$deltatoken=latest`, `$select`, `$filter` by id, and expiry after 7 simulated days.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use graph_sim::Sim;
use serde_json::{Value, json};

/// Follows `@odata.nextLink` to the `@odata.deltaLink`; returns the items and the delta link.
async fn round(graph: &Graph, first: &str) -> (Vec<Value>, String, usize) {
    let mut items = Vec::new();
    let mut url = first.to_string();
    let mut pages = 0;
    loop {
        let (status, page) = graph.get(&url).await;
        assert_eq!(status, 200, "{url}: {page}");
        pages += 1;
        items.extend(page["value"].as_array().unwrap().iter().cloned());
        if let Some(next) = page["@odata.nextLink"].as_str() {
            assert!(page.get("@odata.deltaLink").is_none());
            url = next.to_string();
            continue;
        }
        let delta = page["@odata.deltaLink"]
            .as_str()
            .expect("a deltaLink on the last page");
        return (items, delta.to_string(), pages);
    }
}

fn ids(items: &[Value]) -> BTreeSet<String> {
    items
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect()
}

fn user_count(sim: &Sim) -> usize {
    sim.control().dump()["users"].as_object().unwrap().len()
}

#[tokio::test]
async fn the_first_round_pages_through_every_user_to_a_delta_link() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (items, delta, pages) = round(
        &graph,
        "/v1.0/users/delta?$select=displayName,mobilePhone&$top=5",
    )
    .await;
    assert_eq!(items.len(), user_count(&sim));
    assert_eq!(ids(&items).len(), items.len(), "each user once");
    assert!(pages > 1, "$top=5 pages");
    for u in &items {
        let keys: BTreeSet<&str> = u.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            BTreeSet::from(["id", "displayName", "mobilePhone"]),
            "{u}"
        );
    }
    assert!(delta.starts_with(&format!("{}/v1.0/users/delta", sim.base_url())));
    assert!(delta.contains("$deltatoken="));
    // Nothing changed: the next round is empty.
    let (again, _, _) = round(&graph, &delta).await;
    assert!(again.is_empty(), "{again:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_delta_link_returns_created_updated_and_removed_users_only() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (_, delta, _) = round(&graph, "/v1.0/users/delta?$select=displayName,jobTitle").await;

    let created = sim
        .control()
        .create_user(
            json!({"userPrincipalName": "delta.new@contoso.com", "displayName": "Delta New"}),
        )
        .unwrap();
    sim.control()
        .update_user(ALEX, json!({"jobTitle": "Buyer"}))
        .unwrap();
    sim.control()
        .update_user(ALEX, json!({"jobTitle": "Senior buyer"}))
        .unwrap();
    sim.control().delete_user(MEGAN).unwrap();

    let (items, next, _) = round(&graph, &delta).await;
    assert_eq!(
        ids(&items),
        BTreeSet::from([created.clone(), ALEX.to_string(), MEGAN.to_string()])
    );
    let by_id = |id: &str| items.iter().find(|u| u["id"] == id).unwrap().clone();
    assert_eq!(by_id(&created)["displayName"], "Delta New");
    assert_eq!(
        by_id(ALEX)["jobTitle"],
        "Senior buyer",
        "the current state, once"
    );
    // Soft-deleted: restorable, so reason `changed`, and no other properties.
    assert_eq!(
        by_id(MEGAN),
        json!({"id": MEGAN, "@removed": {"reason": "changed"}})
    );
    // The new link starts after these changes.
    let (after, _, _) = round(&graph, &next).await;
    assert!(after.is_empty(), "{after:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn deltatoken_latest_skips_the_existing_users() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (status, page) = graph.get("/v1.0/users/delta?$deltatoken=latest").await;
    assert_eq!(status, 200);
    assert_eq!(page["value"].as_array().unwrap().len(), 0);
    let delta = page["@odata.deltaLink"].as_str().unwrap().to_string();
    sim.control()
        .update_user(ADELE, json!({"jobTitle": "Lead"}))
        .unwrap();
    let (items, _, _) = round(&graph, &delta).await;
    assert_eq!(ids(&items), BTreeSet::from([ADELE.to_string()]));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_delta_link_older_than_seven_days_is_sync_state_not_found() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (_, delta, _) = round(&graph, "/v1.0/users/delta?$deltatoken=latest").await;
    // Six days: still good (and following it gives a fresh link).
    sim.control()
        .advance_clock(Duration::from_secs(6 * 24 * 3600));
    let (_, fresh, _) = round(&graph, &delta).await;
    // Past seven days since it was issued: gone.
    sim.control()
        .advance_clock(Duration::from_secs(24 * 3600 + 60));
    let (status, body) = graph.get(&delta).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_code(&body), "syncStateNotFound");
    // The link issued a day later is still inside its 7 days.
    assert_eq!(graph.get(&fresh).await.0, 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_unknown_delta_token_is_sync_state_not_found() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (status, body) = graph.get("/v1.0/users/delta?$deltatoken=not-a-token").await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), "syncStateNotFound");
    sim.shutdown().await;
}

#[tokio::test]
async fn beta_delta_works_and_links_stay_on_beta() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (items, delta, _) = round(&graph, "/beta/users/delta?$top=10").await;
    assert_eq!(items.len(), user_count(&sim));
    assert!(delta.starts_with(&format!("{}/beta/users/delta", sim.base_url())));
    // Without $select, beta returns every property (here: onPremisesSyncEnabled too).
    assert!(
        items
            .iter()
            .all(|u| u.get("onPremisesSyncEnabled").is_some())
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn filter_by_id_limits_the_round_to_those_users() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let url =
        format!("/v1.0/users/delta?$filter=id eq '{ADELE}' or id eq '{ALEX}'&$select=displayName");
    let (items, delta, _) = round(&graph, &url).await;
    assert_eq!(
        ids(&items),
        BTreeSet::from([ADELE.to_string(), ALEX.to_string()])
    );
    sim.control()
        .update_user(MEGAN, json!({"jobTitle": "Designer"}))
        .unwrap();
    sim.control()
        .update_user(ALEX, json!({"jobTitle": "Buyer"}))
        .unwrap();
    let (changed, _, _) = round(&graph, &delta).await;
    assert_eq!(ids(&changed), BTreeSet::from([ALEX.to_string()]));
    let (status, _) = graph
        .get("/v1.0/users/delta?$filter=displayName eq 'x'")
        .await;
    assert_eq!(status, 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_unknown_select_property_is_400() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (status, body) = graph
        .get("/v1.0/users/delta?$select=displayName,shoeSize")
        .await;
    assert_eq!(status, 400, "{body}");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_method_registration_is_not_a_user_change() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (_, delta, _) = round(&graph, "/v1.0/users/delta?$deltatoken=latest").await;
    sim.control()
        .register_method(ADELE, json!({"kind": "microsoftAuthenticator"}))
        .unwrap();
    assert!(
        sim.control().changes_since(0).len() == 1,
        "the registration is logged"
    );
    let (items, _, _) = round(&graph, &delta).await;
    assert!(items.is_empty(), "{items:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn delta_needs_a_user_read_permission() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (status, _) = graph.get("/v1.0/users/microsoft.graph.delta()").await;
    assert_eq!(status, 200);
    let no_token = client(&sim)
        .get(format!("{}/v1.0/users/delta", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 401);
    sim.shutdown().await;
}
