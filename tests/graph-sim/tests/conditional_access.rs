//! `GET /identity/conditionalAccess/policies` and `/policies/authenticationStrengthPolicies`
//! (PASSKEY-ERA.md §7): seeded policies, the built-in strengths, permissions, seed checks.

mod common;

use common::*;
use graph_sim::{REGISTER_SECURITY_INFO, Seed};
use serde_json::json;

const READINESS: &str = "3b9d6f2e-1c4a-4e7b-8d05-6a2f9c1e7b44";
const READINESS_SECRET: &str = "sim-secret-readiness-Vb6~q2N";
const MFA: &str = "00000000-0000-0000-0000-000000000002";
const PASSWORDLESS: &str = "00000000-0000-0000-0000-000000000003";
const PHISHING_RESISTANT: &str = "00000000-0000-0000-0000-000000000004";

fn allows_tap(strength: &serde_json::Value) -> bool {
    strength["allowedCombinations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c.as_str().unwrap().starts_with("temporaryAccessPass"))
}

#[tokio::test]
async fn the_security_info_registration_policy_is_listed_with_its_strength_expanded() {
    let sim = start().await;
    let graph = Graph::for_app(&sim, READINESS, READINESS_SECRET).await;
    let (status, body) = graph.get("/v1.0/identity/conditionalAccess/policies").await;
    assert_eq!(status, 200, "{body}");
    let policies = body["value"].as_array().unwrap();
    assert_eq!(policies.len(), 2);
    let registration = policies
        .iter()
        .find(|p| {
            p["conditions"]["applications"]["includeUserActions"]
                .as_array()
                .unwrap()
                .contains(&json!(REGISTER_SECURITY_INFO))
        })
        .expect("a policy on security info registration");
    assert_eq!(registration["state"], "enabled");
    assert_eq!(registration["grantControls"]["builtInControls"], json!([]));
    let strength = &registration["grantControls"]["authenticationStrength"];
    assert_eq!(strength["id"], MFA);
    assert_eq!(strength["displayName"], "Multifactor authentication");
    assert!(allows_tap(strength));
    let mfa = policies
        .iter()
        .find(|p| p["grantControls"]["builtInControls"] == json!(["mfa"]))
        .unwrap();
    assert_eq!(
        mfa["conditions"]["users"]["includeGroups"],
        json!([CA_GROUP])
    );
    // Defaults are filled in as Graph returns them.
    assert_eq!(mfa["conditions"]["clientAppTypes"], json!(["all"]));

    let id = registration["id"].as_str().unwrap();
    let (status, one) = graph
        .get(&format!(
            "/v1.0/identity/conditionalAccess/policies/{id}?$select=id,state"
        ))
        .await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["state"], "enabled");
    assert!(one.get("conditions").is_none());
    let (status, _) = graph
        .get("/v1.0/identity/conditionalAccess/policies/00000000-0000-0000-0000-00000000dead")
        .await;
    assert_eq!(status, 404);
    let (status, _) = graph
        .get("/v1.0/identity/conditionalAccess/policies?$filter=state eq 'enabled'")
        .await;
    assert_eq!(status, 400, "unsupported options are refused, not ignored");
    sim.shutdown().await;
}

#[tokio::test]
async fn built_in_strengths_and_only_mfa_allows_a_tap() {
    let sim = start().await;
    let graph = Graph::for_app(&sim, READINESS, READINESS_SECRET).await;
    let (status, body) = graph
        .get("/v1.0/policies/authenticationStrengthPolicies")
        .await;
    assert_eq!(status, 200, "{body}");
    let ids: Vec<&str> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [MFA, PASSWORDLESS, PHISHING_RESISTANT]);
    for (id, tap) in [
        (MFA, true),
        (PASSWORDLESS, false),
        (PHISHING_RESISTANT, false),
    ] {
        let (status, s) = graph
            .get(&format!(
                "/v1.0/policies/authenticationStrengthPolicies/{id}"
            ))
            .await;
        assert_eq!(status, 200);
        assert_eq!(s["policyType"], "builtIn");
        assert_eq!(allows_tap(&s), tap, "{id}");
    }
    let (status, _) = graph
        .get("/v1.0/policies/authenticationStrengthPolicies/nope")
        .await;
    assert_eq!(status, 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn both_need_policy_read_all() {
    let sim = start().await;
    let graph = Graph::for_app(&sim, READER, READER_SECRET).await;
    for path in [
        "/v1.0/identity/conditionalAccess/policies",
        "/v1.0/policies/authenticationStrengthPolicies",
    ] {
        let (status, body) = graph.get(path).await;
        assert_eq!(status, 403, "{path}");
        assert_eq!(error_code(&body), "Authorization_RequestDenied");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn custom_strengths_are_seedable_and_referenced_by_policies() {
    let mut seed = Seed::contoso();
    seed.authentication_strength_policies = vec![graph_sim::AuthenticationStrengthSeed {
        id: Some("9f0e1d2c-0000-4000-8000-00000000c0de".into()),
        display_name: "Passkeys only".into(),
        description: None,
        allowed_combinations: vec!["fido2".into()],
    }];
    seed.conditional_access_policies = vec![
        json!({"displayName": "Register with a passkey", "state": "enabledForReportingButNotEnforced",
               "conditions": {"applications": {"includeUserActions": [REGISTER_SECURITY_INFO]}},
               "grantControls": {"operator": "OR",
                                 "authenticationStrength": {"id": "9f0e1d2c-0000-4000-8000-00000000c0de"}}})
        .as_object()
        .cloned()
        .unwrap(),
    ];
    let sim = start_with(graph_sim::SimOptions {
        seed,
        ..Default::default()
    })
    .await;
    let graph = Graph::for_app(&sim, READINESS, READINESS_SECRET).await;
    let (_, body) = graph.get("/v1.0/identity/conditionalAccess/policies").await;
    let policy = &body["value"][0];
    assert_eq!(policy["state"], "enabledForReportingButNotEnforced");
    let strength = &policy["grantControls"]["authenticationStrength"];
    assert_eq!(strength["policyType"], "custom");
    assert!(!allows_tap(strength));
    sim.shutdown().await;
}

#[tokio::test]
async fn seeds_that_graph_would_not_hold_are_refused() {
    let policy = |grant: serde_json::Value| {
        let mut seed = Seed::contoso();
        seed.conditional_access_policies = vec![
            json!({"displayName": "p", "grantControls": grant})
                .as_object()
                .cloned()
                .unwrap(),
        ];
        seed
    };
    for seed in [
        policy(json!({"builtInControls": ["mfa"], "authenticationStrength": {"id": MFA}})),
        policy(json!({"authenticationStrength": {"id": "unknown"}})),
        {
            let mut s = policy(json!({"builtInControls": ["mfa"]}));
            s.tenant.licence = graph_sim::Licence::Free;
            s
        },
    ] {
        let result = graph_sim::Sim::start(graph_sim::SimOptions {
            seed,
            ..Default::default()
        })
        .await;
        match result {
            Err(graph_sim::SimError::InvalidSeed(_)) => {}
            Err(e) => panic!("unexpected error {e}"),
            Ok(sim) => {
                sim.shutdown().await;
                panic!("seed accepted");
            }
        }
    }
}
