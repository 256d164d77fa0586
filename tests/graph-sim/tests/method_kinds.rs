//! Every method type in `GET …/authentication/methods` with its real `@odata.type`
//! (PASSKEY-ERA.md §4).

mod common;

use common::*;
use graph_sim::{Seed, SimOptions};
use serde_json::{Value, json};

async fn types_of(graph: &Graph, user: &str) -> Vec<Value> {
    let (status, body) = graph
        .get(&format!("/v1.0/users/{user}/authentication/methods"))
        .await;
    assert_eq!(status, 200, "{body}");
    body["value"].as_array().unwrap().clone()
}

fn find<'a>(methods: &'a [Value], odata: &str) -> &'a Value {
    methods
        .iter()
        .find(|m| m["@odata.type"] == format!("#microsoft.graph.{odata}"))
        .unwrap_or_else(|| panic!("{odata} missing from {methods:?}"))
}

#[tokio::test]
async fn every_seeded_kind_is_listed_with_its_properties() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let admin = types_of(&graph, IT_ADMIN).await;
    find(&admin, "passwordAuthenticationMethod");
    find(&admin, "phoneAuthenticationMethod");
    let auth = find(&admin, "microsoftAuthenticatorAuthenticationMethod");
    assert_eq!(auth["deviceTag"], "SoftwareTokenActivated");
    let passkey = find(&admin, "fido2AuthenticationMethod");
    assert_eq!(passkey["aaGuid"], "90a3ccdf-635c-4729-a248-9b709135078f");
    assert_eq!(passkey["attestationLevel"], "attested");
    assert!(passkey["attestationCertificates"].is_array());
    let whfb = find(&admin, "windowsHelloForBusinessAuthenticationMethod");
    assert_eq!(whfb["displayName"], "CONTOSO-LT-0042");
    assert_eq!(whfb["keyStrength"], "normal");
    let mac = find(&admin, "platformCredentialAuthenticationMethod");
    assert_eq!(mac["platform"], "macOS");
    let key = find(
        &types_of(&graph, BREAKGLASS).await,
        "fido2AuthenticationMethod",
    )
    .clone();
    assert_eq!(key["displayName"], "Break-glass YubiKey");
    assert_eq!(key["aaGuid"], "2fc0579f-8113-47ea-b116-555a8db9202a");
    // The id derived for a bare kind is unchanged by the richer seed format.
    assert_eq!(
        key["id"],
        graph_sim::derived_id("fido2", "breakglass01@contoso.onmicrosoft.com")
    );
    let (status, one) = graph
        .get(&format!(
            "/v1.0/users/{IT_ADMIN}/authentication/methods/{}",
            mac["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(one, *mac);
    find(
        &types_of(&graph, JOHANNA).await,
        "emailAuthenticationMethod",
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn self_registered_kinds_include_oath_and_platform_credentials() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let control = sim.control();
    control
        .register_method(ADELE, json!({"kind": "softwareOath"}))
        .unwrap();
    control
        .register_method(
            ADELE,
            json!({"kind": "fido2", "passkey": "synced", "displayName": "Google Password Manager",
                   "aaGuid": "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4"}),
        )
        .unwrap();
    let methods = types_of(&graph, ADELE).await;
    assert_eq!(
        find(&methods, "softwareOathAuthenticationMethod")["secretKey"],
        Value::Null
    );
    let synced = find(&methods, "fido2AuthenticationMethod");
    assert_eq!(synced["displayName"], "Google Password Manager");
    assert_eq!(synced["attestationLevel"], "notAttested");
    assert!(
        control
            .register_method(ADELE, json!({"kind": "carrierPigeon"}))
            .is_err()
    );
    assert!(
        control
            .register_method(ADELE, json!({"kind": "softwareOath", "passkey": "synced"}))
            .is_err()
    );
    assert!(
        control
            .register_method(ADELE, json!({"kind": "fido2", "colour": "red"}))
            .is_err()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_seed_with_an_unknown_kind_or_property_is_refused() {
    for other in [
        json!(["carrierPigeon"]),
        json!([{"kind": "fido2", "colour": "red"}]),
        json!([{"passkey": "synced"}]),
    ] {
        let mut seed = Seed::contoso();
        seed.users[0].authentication.other_methods = serde_json::from_value(other.clone()).unwrap();
        let started = graph_sim::Sim::start(SimOptions {
            seed,
            ..Default::default()
        })
        .await;
        assert!(started.is_err(), "{other}");
    }
}
