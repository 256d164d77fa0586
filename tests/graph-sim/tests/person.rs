//! The simulated person: signing in with a Temporary Access Pass and registering a method.

mod common;

use std::time::Duration;

use common::*;
use graph_sim::{PasskeyFlavour, Registration, SignInError};
use serde_json::{Value, json};

fn taps(user: &str) -> String {
    format!("/v1.0/users/{user}/authentication/temporaryAccessPassMethods")
}

async fn new_pass(graph: &Graph, user: &str, body: Value) -> (String, String) {
    let (status, created) = graph.post(&taps(user), body).await;
    assert_eq!(status, 201, "{created}");
    (
        created["temporaryAccessPass"].as_str().unwrap().to_string(),
        created["id"].as_str().unwrap().to_string(),
    )
}

fn passkey() -> Registration {
    Registration::Passkey {
        passkey: PasskeyFlavour::Authenticator,
    }
}

#[tokio::test]
async fn a_one_time_pass_registers_a_passkey_and_is_then_used_up() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (pass, tap_id) = new_pass(&graph, NEW_HIRE, json!({"isUsableOnce": true})).await;
    let control = sim.control();
    assert_eq!(
        control.sign_in_with_tap(NEW_HIRE, "not-the-pass", passkey()),
        Err(SignInError::WrongPass)
    );
    let method = control
        .sign_in_with_tap(NEW_HIRE, &pass, passkey())
        .unwrap();
    let (_, all) = graph
        .get(&format!("/v1.0/users/{NEW_HIRE}/authentication/methods"))
        .await;
    let fido = all["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == method.as_str())
        .expect("the passkey is listed");
    assert_eq!(
        fido["@odata.type"],
        "#microsoft.graph.fido2AuthenticationMethod"
    );
    assert_eq!(fido["aaGuid"], "90a3ccdf-635c-4729-a248-9b709135078f");
    let (_, tap) = graph.get(&format!("{}/{tap_id}", taps(NEW_HIRE))).await;
    assert_eq!(tap["methodUsabilityReason"], "OneTimeUsed");
    assert_eq!(tap["isUsable"], false);
    assert_eq!(
        control.sign_in_with_tap(NEW_HIRE, &pass, passkey()),
        Err(SignInError::AlreadyUsed)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_multi_use_pass_registers_an_authenticator_and_a_phone() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (pass, _) = new_pass(&graph, ALEX, json!({"isUsableOnce": false})).await;
    let control = sim.control();
    control
        .sign_in_with_tap(ALEX, &pass, Registration::MicrosoftAuthenticator)
        .unwrap();
    let phone = control
        .sign_in_with_tap(
            ALEX,
            &pass,
            Registration::Phone {
                phone_type: "mobile".into(),
                phone_number: "+1 2065550123".into(),
            },
        )
        .unwrap();
    assert_eq!(phone, graph_sim::method_ids::MOBILE);
    let (_, all) = graph
        .get(&format!("/v1.0/users/{ALEX}/authentication/methods"))
        .await;
    let types: Vec<&str> = all["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["@odata.type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"#microsoft.graph.microsoftAuthenticatorAuthenticationMethod"));
    assert!(types.contains(&"#microsoft.graph.phoneAuthenticationMethod"));
    let bad_phone = control.sign_in_with_tap(
        ALEX,
        &pass,
        Registration::Phone {
            phone_type: "mobile".into(),
            phone_number: "+1 2065550124".into(),
        },
    );
    assert!(
        matches!(bad_phone, Err(SignInError::Registration(_))),
        "one mobile per user"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn expired_not_yet_valid_and_missing_passes_do_not_sign_in() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let control = sim.control();
    assert_eq!(
        control.sign_in_with_tap(ADELE, "whatever", passkey()),
        Err(SignInError::NoPass)
    );
    assert!(matches!(
        control.sign_in_with_tap("nobody@contoso.com", "x", passkey()),
        Err(SignInError::NoSuchUser(_))
    ));
    let later = (control.now() + time::Duration::hours(1))
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (pass, _) = new_pass(&graph, ADELE, json!({"startDateTime": later})).await;
    assert_eq!(
        control.sign_in_with_tap(ADELE, &pass, passkey()),
        Err(SignInError::NotYetValid)
    );
    control.advance_clock(Duration::from_secs(3 * 3600));
    assert_eq!(
        control.sign_in_with_tap(ADELE, &pass, passkey()),
        Err(SignInError::Expired)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_policy_decides_whether_the_pass_and_the_passkey_are_allowed() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let control = sim.control();
    let (pass, _) = new_pass(&graph, ADELE, json!({})).await;
    let fido =
        "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/Fido2";
    let (status, _) = graph
        .patch(fido, json!({"isSelfServiceRegistrationAllowed": false}))
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        control.sign_in_with_tap(ADELE, &pass, passkey()),
        Err(SignInError::MethodNotAllowed("a passkey"))
    );
    let tap = "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass";
    let (status, _) = graph.patch(tap, json!({"state": "disabled"})).await;
    assert_eq!(status, 204);
    assert_eq!(
        control.sign_in_with_tap(ADELE, &pass, Registration::MicrosoftAuthenticator),
        Err(SignInError::DisabledByPolicy)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_admin_api_signs_in_and_reports_why_it_failed() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (pass, _) = new_pass(&graph, NEW_HIRE, json!({"isUsableOnce": true})).await;
    let http = client(&sim);
    let url = format!("{}/_sim/users/{NEW_HIRE}/tapSignIn", sim.base_url());
    let send = |body: Value| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let r = http.post(url).json(&body).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let (status, body) =
        send(json!({"temporaryAccessPass": "wrong", "register": {"kind": "fido2"}})).await;
    assert_eq!(status, 400);
    assert_eq!(body["reason"], "wrongPass");
    let (status, body) = send(
        json!({"temporaryAccessPass": pass, "register": {"kind": "fido2", "passkey": "synced"}}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["methodId"].as_str().unwrap();
    let user = sim.control().user(NEW_HIRE).unwrap();
    let other = user["authentication"]["other"].as_array().unwrap();
    let synced = other.iter().find(|m| m["id"] == id).unwrap();
    assert_eq!(synced["details"]["attestationLevel"], "notAttested");
    let (status, body) =
        send(json!({"temporaryAccessPass": pass, "register": {"kind": "microsoftAuthenticator"}}))
            .await;
    assert_eq!(status, 400);
    assert_eq!(body["reason"], "alreadyUsed");
    let (status, _) =
        send(json!({"temporaryAccessPass": pass, "register": {"kind": "carrierPigeon"}})).await;
    assert_eq!(status, 400);
    sim.shutdown().await;
}
