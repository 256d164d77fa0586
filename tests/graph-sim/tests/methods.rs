//! Item 3: authentication methods, sign-in preferences and per-user MFA.

mod common;

use common::*;
use graph_sim::method_ids::{ALTERNATE_MOBILE, EMAIL, MOBILE, OFFICE, PASSWORD};
use serde_json::{Value, json};

fn phones(path_user: &str) -> String {
    format!("/v1.0/users/{path_user}/authentication/phoneMethods")
}

#[tokio::test]
async fn the_method_list_always_holds_the_password() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (status, body) = graph
        .get(&format!("/v1.0/users/{ADELE}/authentication/methods"))
        .await;
    assert_eq!(status, 200);
    let methods = body["value"].as_array().unwrap();
    assert_eq!(methods.len(), 1);
    assert_eq!(
        methods[0]["@odata.type"],
        "#microsoft.graph.passwordAuthenticationMethod"
    );
    assert_eq!(methods[0]["id"], PASSWORD);
    let (_, body) = graph
        .get(&format!("/v1.0/users/{DIEGO}/authentication/methods"))
        .await;
    let types: Vec<&str> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["@odata.type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"#microsoft.graph.microsoftAuthenticatorAuthenticationMethod"));
    sim.shutdown().await;
}

#[tokio::test]
async fn adding_a_mobile_phone_returns_201_with_the_fixed_id() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (status, body) = graph
        .post(
            &phones(ADELE),
            json!({"phoneNumber": "+31 612345678", "phoneType": "mobile"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["id"], MOBILE);
    assert_eq!(body["phoneType"], "mobile");
    assert_eq!(body["phoneNumber"], "+31 612345678");
    assert_eq!(body["smsSignInState"], "ready");
    let (status, list) = graph.get(&phones(ADELE)).await;
    assert_eq!(status, 200);
    assert_eq!(list["value"].as_array().unwrap().len(), 1);
    let (status, one) = graph.get(&format!("{}/{MOBILE}", phones(ADELE))).await;
    assert_eq!(status, 200);
    assert_eq!(one["phoneNumber"], "+31 612345678");
    let (_, all) = graph
        .get(&format!("/v1.0/users/{ADELE}/authentication/methods"))
        .await;
    assert_eq!(all["value"].as_array().unwrap().len(), 2);
    assert_eq!(
        sim.control().changes_since(0).last().unwrap().kind,
        graph_sim::ChangeKind::AuthenticationChanged
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn numbers_not_in_graph_format_are_rejected_with_400() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    for bad in [
        "06-12345678",
        "+31612345678",
        "+31 6-12345678",
        "+1 (206) 555-0100",
        "n/a",
        "",
        "+31 ",
        "+031 612345678",
    ] {
        let (status, body) = graph
            .post(
                &phones(ADELE),
                json!({"phoneNumber": bad, "phoneType": "mobile"}),
            )
            .await;
        assert_eq!(status, 400, "{bad} was accepted");
        assert_eq!(error_code(&body), "invalidRequest");
    }
    let (status, _) = graph
        .post(
            &phones(ADELE),
            json!({"phoneNumber": "+1 2065550100x12", "phoneType": "office"}),
        )
        .await;
    assert_eq!(status, 201, "an extension is allowed");
    let (status, _) = graph
        .post(
            &phones(ADELE),
            json!({"phoneNumber": "+31 612345678", "phoneType": "pager"}),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = graph
        .post(&phones(ADELE), json!({"phoneNumber": "+31 612345678", "phoneType": "mobile", "smsSignInState": "ready"}))
        .await;
    assert_eq!(status, 400, "smsSignInState is read-only");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_second_phone_of_the_same_type_already_exists() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    // Johanna registered her own mobile.
    let (status, body) = graph
        .post(
            &phones(JOHANNA),
            json!({"phoneNumber": "+49 1701234567", "phoneType": "mobile"}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already exists")
    );
    let johanna = sim.control().user(JOHANNA).unwrap();
    assert_eq!(
        johanna["authentication"]["phones"]["mobile"]["phoneNumber"],
        "+49 1709876543"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn alternate_mobile_needs_a_mobile_and_pins_it() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (status, _) = graph
        .post(
            &phones(ALEX),
            json!({"phoneNumber": "+1 2065550101", "phoneType": "alternateMobile"}),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = graph
        .post(
            &phones(ALEX),
            json!({"phoneNumber": "+1 2065550100", "phoneType": "mobile"}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = graph
        .post(
            &phones(ALEX),
            json!({"phoneNumber": "+1 2065550101", "phoneType": "alternateMobile"}),
        )
        .await;
    assert_eq!((status, body["id"].as_str()), (201, Some(ALTERNATE_MOBILE)));
    let (status, _) = graph.delete(&format!("{}/{MOBILE}", phones(ALEX))).await;
    assert_eq!(status, 400, "mobile is pinned by alternateMobile");
    let (status, _) = graph
        .delete(&format!("{}/{ALTERNATE_MOBILE}", phones(ALEX)))
        .await;
    assert_eq!(status, 204);
    let (status, _) = graph.delete(&format!("{}/{MOBILE}", phones(ALEX))).await;
    assert_eq!(status, 204);
    let (status, _) = graph.delete(&format!("{}/{MOBILE}", phones(ALEX))).await;
    assert_eq!(status, 404);
    assert!(
        sim.control().user(ALEX).unwrap()["authentication"]["phones"]
            .as_object()
            .unwrap()
            .is_empty()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn patch_updates_the_number_but_never_the_type() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    graph
        .post(
            &phones(ALEX),
            json!({"phoneNumber": "+1 2065550100", "phoneType": "mobile"}),
        )
        .await;
    let (status, body) = graph
        .patch(
            &format!("{}/{MOBILE}", phones(ALEX)),
            json!({"phoneNumber": "+1 2065550199"}),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = graph
        .patch(
            &format!("{}/{MOBILE}", phones(ALEX)),
            json!({"phoneType": "office"}),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = graph
        .patch(
            &format!("{}/{MOBILE}", phones(ALEX)),
            json!({"phoneNumber": "2065550199"}),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = graph
        .patch(
            &format!("{}/{OFFICE}", phones(ALEX)),
            json!({"phoneNumber": "+1 2065550199"}),
        )
        .await;
    assert_eq!(status, 404);
    let alex = sim.control().user(ALEX).unwrap();
    assert_eq!(
        alex["authentication"]["phones"]["mobile"]["phoneNumber"],
        "+1 2065550199"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_default_method_cannot_be_deleted() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    // Megan: mobile + alternateMobile, preferred sms.
    let (status, _) = graph
        .delete(&format!("{}/{ALTERNATE_MOBILE}", phones(MEGAN)))
        .await;
    assert_eq!(status, 204);
    let (status, _) = graph.delete(&format!("{}/{MOBILE}", phones(MEGAN))).await;
    assert_eq!(status, 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn sign_in_preferences_are_beta_only_and_need_a_registered_method() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let path = format!("/beta/users/{ALEX}/authentication/signInPreferences");
    let (status, _) = graph
        .get(&format!(
            "/v1.0/users/{ALEX}/authentication/signInPreferences"
        ))
        .await;
    assert_eq!(status, 400, "not in v1.0");
    let (status, body) = graph.get(&path).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["userPreferredMethodForSecondaryAuthentication"],
        Value::Null
    );
    assert_eq!(body["systemPreferredAuthenticationMethod"], "none");
    let (status, _) = graph
        .patch(
            &path,
            json!({"userPreferredMethodForSecondaryAuthentication": "sms"}),
        )
        .await;
    assert_eq!(status, 400, "no mobile yet");
    graph
        .post(
            &phones(ALEX),
            json!({"phoneNumber": "+1 2065550100", "phoneType": "mobile"}),
        )
        .await;
    let (status, _) = graph
        .patch(
            &path,
            json!({"userPreferredMethodForSecondaryAuthentication": "sms"}),
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = graph
        .patch(
            &path,
            json!({"userPreferredMethodForSecondaryAuthentication": "carrierPigeon"}),
        )
        .await;
    assert_eq!(status, 400);
    let (_, body) = graph.get(&path).await;
    assert_eq!(body["userPreferredMethodForSecondaryAuthentication"], "sms");
    assert_eq!(body["systemPreferredAuthenticationMethod"], "sms");
    sim.shutdown().await;
}

#[tokio::test]
async fn enabling_per_user_mfa_for_a_user_with_a_strong_method_enforces_it() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let req = |u: &str| format!("/beta/users/{u}/authentication/requirements");
    let (status, body) = graph.get(&req(ALEX)).await;
    assert_eq!(
        (status, body["perUserMfaState"].as_str()),
        (200, Some("disabled"))
    );
    // No method: stays enabled (the user registers at next sign-in).
    let (status, _) = graph
        .patch(&req(ALEX), json!({"perUserMfaState": "enabled"}))
        .await;
    assert_eq!(status, 204);
    let (_, body) = graph.get(&req(ALEX)).await;
    assert_eq!(body["perUserMfaState"], "enabled");
    // Johanna has her own phone: enabled becomes enforced.
    let (status, _) = graph
        .patch(&req(JOHANNA), json!({"perUserMfaState": "enabled"}))
        .await;
    assert_eq!(status, 204);
    let (_, body) = graph.get(&req(JOHANNA)).await;
    assert_eq!(body["perUserMfaState"], "enforced");
    let (status, _) = graph
        .patch(&req(JOHANNA), json!({"perUserMfaState": "sometimes"}))
        .await;
    assert_eq!(status, 400);
    // Self-registration while enabled completes the move to enforced.
    sim.control()
        .register_method(ALEX, json!({"kind": "microsoftAuthenticator"}))
        .unwrap();
    let (_, body) = graph.get(&req(ALEX)).await;
    assert_eq!(body["perUserMfaState"], "enforced");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_temporary_access_pass_is_shown_once_and_a_second_one_replaces_it() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let path = format!("/v1.0/users/{ALEX}/authentication/temporaryAccessPassMethods");
    let (status, _) = graph.post(&path, json!({"lifetimeInMinutes": 5})).await;
    assert_eq!(status, 400, "below the 10-minute minimum");
    let (status, created) = graph
        .post(
            &path,
            json!({"lifetimeInMinutes": 60, "isUsableOnce": true}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let pass = created["temporaryAccessPass"].as_str().unwrap();
    assert_eq!(pass.len(), 8);
    assert_eq!(created["isUsable"], true);
    assert_eq!(created["methodUsabilityReason"], "EnabledByPolicy");
    let id = created["id"].as_str().unwrap();
    let (status, got) = graph.get(&format!("{path}/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(got["temporaryAccessPass"], Value::Null);
    // One per user: a second pass replaces the first (MGDC create page; TAPHOW "Replace").
    let (status, second) = graph.post(&path, json!({})).await;
    assert_eq!(status, 201, "{second}");
    let (_, list) = graph.get(&path).await;
    assert_eq!(list["value"].as_array().unwrap().len(), 1);
    assert_eq!(list["value"][0]["id"], second["id"]);
    let (status, _) = graph.get(&format!("{path}/{id}")).await;
    assert_eq!(status, 404, "the first pass is gone");
    let id = second["id"].as_str().unwrap();
    sim.control()
        .advance_clock(std::time::Duration::from_secs(61 * 60));
    let (_, got) = graph.get(&format!("{path}/{id}")).await;
    assert_eq!(got["methodUsabilityReason"], "Expired");
    let (status, _) = graph.delete(&format!("{path}/{id}")).await;
    assert_eq!(status, 204);
    let (_, list) = graph.get(&path).await;
    assert!(list["value"].as_array().unwrap().is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn email_methods_are_one_per_user() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let path = format!("/v1.0/users/{PATTI}/authentication/emailMethods");
    let (_, list) = graph.get(&path).await;
    assert_eq!(list["value"][0]["id"], EMAIL);
    let (status, _) = graph
        .post(&path, json!({"emailAddress": "other@example.net"}))
        .await;
    assert_eq!(status, 400);
    let (status, _) = graph
        .patch(
            &format!("{path}/{EMAIL}"),
            json!({"emailAddress": "new@example.net"}),
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = graph.delete(&format!("{path}/{EMAIL}")).await;
    assert_eq!(status, 204);
    let (status, body) = graph
        .post(&path, json!({"emailAddress": "again@example.net"}))
        .await;
    assert_eq!(
        (status, body["emailAddress"].as_str()),
        (201, Some("again@example.net"))
    );
    let (status, _) = graph
        .post(
            &format!("/v1.0/users/{ALEX}/authentication/emailMethods"),
            json!({"emailAddress": "not-an-address"}),
        )
        .await;
    assert_eq!(status, 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn phone_methods_of_an_unknown_user_are_404() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (status, body) = graph
        .post(
            &phones("ghost@contoso.com"),
            json!({"phoneNumber": "+31 612345678", "phoneType": "mobile"}),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(error_code(&body), "Request_ResourceNotFound");
    sim.shutdown().await;
}
