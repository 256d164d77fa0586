//! Item 2: users over v1.0 and beta.

mod common;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn a_user_is_found_by_id_or_upn_on_both_versions() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (status, by_id) = graph.get(&format!("/v1.0/users/{ADELE}")).await;
    assert_eq!(status, 200);
    let (status, by_upn) = graph.get("/v1.0/users/Adele.Vance@contoso.com").await;
    assert_eq!(status, 200);
    assert_eq!(by_id["id"], by_upn["id"]);
    // v1.0's default set leaves out accountEnabled; beta returns it.
    assert!(by_id.get("accountEnabled").is_none());
    let (status, beta) = graph.get(&format!("/beta/users/{ADELE}")).await;
    assert_eq!(status, 200);
    assert_eq!(beta["accountEnabled"], true);
    assert_eq!(beta["onPremisesSyncEnabled"], true);
    sim.shutdown().await;
}

#[tokio::test]
async fn select_returns_exactly_the_selected_properties() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (status, body) = graph
        .get(&format!("/v1.0/users/{ADELE}?$select=id,mobilePhone,accountEnabled,onPremisesSyncEnabled,userType"))
        .await;
    assert_eq!(status, 200);
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|k| !k.starts_with('@'))
        .collect();
    assert_eq!(keys.len(), 5, "{body}");
    assert_eq!(body["mobilePhone"], "06-12345678");
    assert_eq!(body["userType"], "Member");
    let (status, body) = graph
        .get(&format!("/v1.0/users/{ADELE}?$select=id,shoeSize"))
        .await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), "Request_BadRequest");
    sim.shutdown().await;
}

#[tokio::test]
async fn an_unknown_user_is_404_request_resource_not_found() {
    let sim = start().await;
    let graph = Graph::hr(&sim).await;
    let (status, body) = graph
        .get("/v1.0/users/00000000-0000-0000-0000-00000000dead")
        .await;
    assert_eq!(status, 404);
    assert_eq!(error_code(&body), "Request_ResourceNotFound");
    let (status, _) = graph
        .patch("/v1.0/users/nobody@contoso.com", json!({"jobTitle": "x"}))
        .await;
    assert_eq!(status, 404);
    // The enrollment app may read users but not change them.
    let (status, body) = Graph::new(&sim)
        .await
        .patch(&format!("/v1.0/users/{ALEX}"), json!({"jobTitle": "x"}))
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (403, "Authorization_RequestDenied")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn paging_with_top_follows_next_links_through_every_user_once() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let mut url = "/v1.0/users?$top=7&$select=id,userPrincipalName".to_string();
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let (status, body) = graph.get(&url).await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        for u in body["value"].as_array().unwrap() {
            assert!(u.get("displayName").is_none(), "select kept on next pages");
            seen.push(u["id"].as_str().unwrap().to_string());
        }
        match body["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&sim.base_url()));
                url = next.to_string();
            }
            None => break,
        }
    }
    let total = graph_sim::Seed::contoso().users.len();
    assert_eq!(seen.len(), total);
    assert_eq!(pages, total.div_ceil(7));
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), total);
    sim.shutdown().await;
}

#[tokio::test]
async fn post_users_creates_a_user_and_requires_the_documented_properties() {
    let sim = start().await;
    let graph = Graph::hr(&sim).await;
    let (status, body) = graph
        .post("/v1.0/users", json!({"displayName": "No UPN", "accountEnabled": true, "mailNickname": "x", "passwordProfile": {"password": "x"}}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), "Request_BadRequest");
    let new_user = json!({
        "accountEnabled": true,
        "displayName": "Fresh Start",
        "mailNickname": "fresh.start",
        "userPrincipalName": "fresh.start@contoso.com",
        "mobilePhone": "+31 6 44444444",
        "passwordProfile": {"forceChangePasswordNextSignIn": true, "password": "xWwvJ]6NMw+bWH-d"}
    });
    let (status, created) = graph.post("/v1.0/users", new_user.clone()).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    assert!(created.get("passwordProfile").is_none());
    let (status, got) = graph
        .get(&format!(
            "/v1.0/users/{id}?$select=mobilePhone,createdDateTime"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(got["mobilePhone"], "+31 6 44444444");
    assert!(got["createdDateTime"].is_string());
    let (status, body) = graph.post("/v1.0/users", new_user).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already exists")
    );
    let changes = sim.control().changes_since(0);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].kind, graph_sim::ChangeKind::Created);
    assert_eq!(changes[0].user_id, id);
    sim.shutdown().await;
}

#[tokio::test]
async fn patch_changes_cloud_users_but_not_on_premises_mastered_attributes_of_synced_users() {
    let sim = start().await;
    let graph = Graph::hr(&sim).await;
    // Alex is cloud-only.
    let (status, _) = graph
        .patch(&format!("/v1.0/users/{ALEX}"), json!({"mobilePhone": "+1 206 555 0111", "businessPhones": ["+1 425 555 0000"], "accountEnabled": false, "userType": "Member"}))
        .await;
    assert_eq!(status, 204);
    let alex = sim.control().user(ALEX).unwrap();
    assert_eq!(alex["properties"]["mobilePhone"], "+1 206 555 0111");
    assert_eq!(alex["properties"]["accountEnabled"], false);
    // Adele is synced from AD: Graph refuses to change her number.
    let (status, body) = graph
        .patch(
            &format!("/v1.0/users/{ADELE}"),
            json!({"mobilePhone": "+31 6 99999999"}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("on-premises mastered")
    );
    // Read-only and unknown properties are refused, wrong types too.
    for bad in [
        json!({"id": "x"}),
        json!({"shoeSize": 44}),
        json!({"accountEnabled": "yes"}),
    ] {
        let (status, _) = graph.patch(&format!("/v1.0/users/{ALEX}"), bad).await;
        assert_eq!(status, 400);
    }
    let kinds: Vec<_> = sim
        .control()
        .changes_since(0)
        .iter()
        .map(|c| c.kind)
        .collect();
    assert_eq!(kinds, vec![graph_sim::ChangeKind::Updated]);
    sim.shutdown().await;
}

#[tokio::test]
async fn ad_sync_changes_through_the_admin_api_reach_graph_and_the_change_log() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let http = client(&sim);
    let admin = |p: &str| format!("{}/_sim{p}", sim.base_url());
    let r = http
        .patch(admin(&format!("/users/{ADELE}")))
        .json(&json!({"mobilePhone": "06-87654321"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = http
        .post(admin("/users"))
        .json(&json!({"userPrincipalName": "synced.hire@contoso.com", "displayName": "Synced Hire", "mobilePhone": "06-11112222", "onPremisesSyncEnabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let new_id = created["id"].as_str().unwrap().to_string();
    let r = http
        .delete(admin(&format!("/users/{ALEX}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);

    let (_, adele) = graph
        .get(&format!("/v1.0/users/{ADELE}?$select=mobilePhone"))
        .await;
    assert_eq!(adele["mobilePhone"], "06-87654321");
    let (status, hire) = graph.get("/beta/users/synced.hire@contoso.com").await;
    assert_eq!(status, 200);
    assert_eq!(hire["onPremisesSyncEnabled"], true);
    let (status, _) = graph.get(&format!("/v1.0/users/{ALEX}")).await;
    assert_eq!(status, 404);

    let changes: Vec<Value> = http
        .get(admin("/changes"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let summary: Vec<(String, String)> = changes
        .iter()
        .map(|c| {
            (
                c["userId"].as_str().unwrap().to_string(),
                c["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (ADELE.to_string(), "updated".to_string()),
            (new_id, "created".to_string()),
            (ALEX.to_string(), "deleted".to_string()),
        ]
    );
    assert!(sim.control().dump()["deletedUsers"][ALEX].is_object());
    sim.shutdown().await;
}

#[tokio::test]
async fn graph_delete_soft_deletes_and_removes_group_memberships() {
    let sim = start().await;
    let graph = Graph::hr(&sim).await;
    let mut rx = sim.control().subscribe_changes();
    let (status, _) = graph.delete(&format!("/v1.0/users/{IT_ADMIN}")).await;
    assert_eq!(status, 204);
    let event = rx.recv().await.unwrap();
    assert_eq!(
        (event.user_id.as_str(), event.kind),
        (IT_ADMIN, graph_sim::ChangeKind::Deleted)
    );
    let dump = sim.control().dump();
    let members = dump["groups"][CA_GROUP]["members"].as_array().unwrap();
    assert!(!members.iter().any(|m| m == IT_ADMIN));
    sim.shutdown().await;
}
