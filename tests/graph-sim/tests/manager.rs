//! `GET /users/{id}/manager` (PASSKEY-ERA.md §5).

mod common;

use common::*;
use serde_json::{Value, json};

const NO_MANAGER: &str = "Resource 'manager' does not exist or one of its queried reference-property objects are not present.";

fn manager(user: &str) -> String {
    format!("/v1.0/users/{user}/manager")
}

#[tokio::test]
async fn a_user_manager_is_returned_with_the_selected_properties() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (status, m) = graph
        .get(&format!(
            "{}?$select=id,mail,userPrincipalName",
            manager(ADELE)
        ))
        .await;
    assert_eq!(status, 200, "{m}");
    assert_eq!(m["@odata.type"], "#microsoft.graph.user");
    assert_eq!(m["id"], MEGAN);
    assert_eq!(m["mail"], "megan.bowen@contoso.com");
    assert_eq!(m["userPrincipalName"], "megan.bowen@contoso.com");
    assert!(m.get("displayName").is_none(), "not selected");
    assert!(
        m["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("directoryObjects/$entity")
    );
    // By UPN, without $select: the default user properties.
    let (status, m) = graph.get(&manager("new.hire@contoso.com")).await;
    assert_eq!(status, 200);
    assert_eq!(m["id"], IT_ADMIN);
    assert!(m.get("displayName").is_some());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_manager_may_be_an_org_contact_without_upn() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (status, m) = graph
        .get(&format!(
            "{}?$select=id,mail,userPrincipalName",
            manager(ALEX)
        ))
        .await;
    assert_eq!(status, 200, "{m}");
    assert_eq!(m["@odata.type"], "#microsoft.graph.orgContact");
    assert_eq!(m["mail"], "rob.young@fabrikam.com");
    assert!(m.get("userPrincipalName").is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn no_manager_is_404_with_the_observed_message() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (status, err) = graph.get(&manager(DIEGO)).await;
    assert_eq!(status, 404);
    assert_eq!(error_code(&err), "Request_ResourceNotFound");
    assert_eq!(err["error"]["message"], NO_MANAGER);
    let (status, err) = graph.get(&manager("nobody@contoso.com")).await;
    assert_eq!(status, 404);
    assert_ne!(err["error"]["message"], NO_MANAGER);
    let (status, _) = graph
        .get(&format!("{}?$expand=directReports", manager(ADELE)))
        .await;
    assert_eq!(status, 400, "$expand is not simulated");
    // A deleted manager is no manager.
    sim.control().delete_user(MEGAN).unwrap();
    let (status, err) = graph.get(&manager(ADELE)).await;
    assert_eq!(status, 404);
    assert_eq!(err["error"]["message"], NO_MANAGER);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_admin_api_sets_and_removes_a_manager_and_user_read_all_reads_it() {
    let sim = start().await;
    let reader = Graph::for_app(&sim, READER, READER_SECRET).await;
    assert_eq!(reader.get(&manager(DIEGO)).await.0, 404);
    sim.control()
        .set_manager(DIEGO, Some("adele.vance@contoso.com"))
        .unwrap();
    let (status, m) = reader.get(&manager(DIEGO)).await;
    assert_eq!(status, 200);
    assert_eq!(m["id"], ADELE);
    assert!(sim.control().set_manager(DIEGO, Some("nobody")).is_err());
    let http = client(&sim);
    let url = format!("{}/_sim/users/{DIEGO}/manager", sim.base_url());
    let r = http
        .put(&url)
        .json(&json!({"manager": ALEX}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(reader.get(&manager(DIEGO)).await.1["id"], ALEX);
    let r = http.delete(&url).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let (status, err): (u16, Value) = reader.get(&manager(DIEGO)).await;
    assert_eq!(status, 404);
    assert_eq!(err["error"]["message"], NO_MANAGER);
    sim.shutdown().await;
}
