//! Item 4: groups, memberOf, checkMemberGroups, directory roles.

mod common;

use common::*;
use serde_json::{Value, json};

fn member_ref(id: &str) -> Value {
    json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}")})
}

#[tokio::test]
async fn adding_a_member_twice_is_400_already_exist() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let path = format!("/v1.0/groups/{CA_GROUP}/members/$ref");
    let (status, body) = graph.post(&path, member_ref(ADELE)).await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = graph.post(&path, member_ref(ADELE)).await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), "Request_BadRequest");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("One or more added object references already exist")
    );
    let members = sim.control().dump()["groups"][CA_GROUP]["members"].clone();
    assert_eq!(
        members
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| *m == ADELE)
            .count(),
        1
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn adding_an_unknown_object_or_to_an_unknown_group_is_404() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (status, body) = graph
        .post(
            &format!("/v1.0/groups/{CA_GROUP}/members/$ref"),
            member_ref("00000000-0000-0000-0000-0000000000aa"),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (404, "Request_ResourceNotFound")
    );
    let (status, _) = graph
        .post(
            "/v1.0/groups/00000000-0000-0000-0000-0000000000bb/members/$ref",
            member_ref(ADELE),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = graph
        .post(
            &format!("/v1.0/groups/{CA_GROUP}/members/$ref"),
            json!({"id": ADELE}),
        )
        .await;
    assert_eq!(status, 400, "@odata.id is required");
    sim.shutdown().await;
}

#[tokio::test]
async fn members_can_be_listed_and_removed() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (status, body) = graph.get(&format!("/v1.0/groups/{CA_GROUP}/members")).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&IT_ADMIN));
    let (status, _) = graph
        .delete(&format!("/v1.0/groups/{CA_GROUP}/members/{IT_ADMIN}/$ref"))
        .await;
    assert_eq!(status, 204);
    let (status, _) = graph
        .delete(&format!("/v1.0/groups/{CA_GROUP}/members/{IT_ADMIN}/$ref"))
        .await;
    assert_eq!(status, 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn member_of_lists_groups_and_roles_and_check_member_groups_filters_ids() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (status, body) = graph.get(&format!("/v1.0/users/{IT_ADMIN}/memberOf")).await;
    assert_eq!(status, 200);
    let types: Vec<&str> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["@odata.type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"#microsoft.graph.group"));
    assert!(types.contains(&"#microsoft.graph.directoryRole"));
    let other = "c0a80101-5e1f-4c3a-8d2b-000000000002";
    let (status, body) = graph
        .post(
            &format!("/v1.0/users/{IT_ADMIN}/checkMemberGroups"),
            json!({"groupIds": [CA_GROUP, other]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["value"], json!([CA_GROUP]));
    let too_many: Vec<String> = (0..21).map(|i| format!("g{i}")).collect();
    let (status, _) = graph
        .post(
            &format!("/v1.0/users/{IT_ADMIN}/checkMemberGroups"),
            json!({"groupIds": too_many}),
        )
        .await;
    assert_eq!(status, 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn global_administrators_are_found_through_directory_roles() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (status, roles) = graph.get("/v1.0/directoryRoles").await;
    assert_eq!(status, 200);
    let ga = roles["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["roleTemplateId"] == GLOBAL_ADMIN_TEMPLATE)
        .unwrap();
    let (status, members) = graph
        .get(&format!(
            "/v1.0/directoryRoles/{}/members",
            ga["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = members["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![BREAKGLASS, IT_ADMIN]);
    let (status, by_template) = graph
        .get(&format!(
            "/v1.0/directoryRoles/roleTemplateId={GLOBAL_ADMIN_TEMPLATE}/members"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(by_template["value"], members["value"]);
    // The phone-only app may not read roles.
    let phone_only = Graph::for_app(&sim, PHONE_ONLY, PHONE_ONLY_SECRET).await;
    let (status, _) = phone_only.get("/v1.0/directoryRoles").await;
    assert_eq!(status, 403);
    sim.shutdown().await;
}
