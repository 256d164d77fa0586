//! The authentication methods policy and its method configurations (PASSKEY-ERA.md §1–§2).

mod common;

use common::*;
use graph_sim::{Seed, SimOptions};
use serde_json::{Value, json};

const POLICY: &str = "/policies/authenticationMethodsPolicy";

fn config(version: &str, id: &str) -> String {
    format!("/{version}{POLICY}/authenticationMethodConfigurations/{id}")
}

fn provider() -> Value {
    json!({"url": "https://contoso-telco-router.azurewebsites.net/api/route",
           "appId": "8c1f4e2a-6b3d-4f7a-9e21-0d5c7b3a4e66",
           "isEvaluationModeEnabled": false, "migrationPercentage": 100})
}

#[tokio::test]
async fn the_policy_is_served_on_both_versions_with_opt_out_only_on_beta() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (status, v1) = graph.get(&format!("/v1.0{POLICY}")).await;
    assert_eq!(status, 200, "{v1}");
    assert_eq!(v1["id"], "authenticationMethodsPolicy");
    assert_eq!(v1["policyMigrationState"], "migrationComplete");
    assert!(v1.get("optOutSettings").is_none());
    let campaign = &v1["registrationEnforcement"]["authenticationMethodsRegistrationCampaign"];
    assert_eq!(campaign["state"], "default");
    assert_eq!(
        campaign["includeTargets"][0]["targetedAuthenticationMethod"],
        "Fido2"
    );
    assert_eq!(v1["systemCredentialPreferences"]["state"], "default");
    let ids: Vec<&str> = v1["authenticationMethodConfigurations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "Fido2",
            "MicrosoftAuthenticator",
            "Sms",
            "TemporaryAccessPass",
            "Voice"
        ]
    );
    let sms_v1 = &v1["authenticationMethodConfigurations"][2];
    assert_eq!(
        sms_v1["@odata.type"],
        "#microsoft.graph.smsAuthenticationMethodConfiguration"
    );
    assert!(sms_v1.get("telecomProviderSettings").is_none(), "beta only");
    let (status, beta) = graph.get(&format!("/beta{POLICY}")).await;
    assert_eq!(status, 200);
    // Never set: null (its unset value is unconfirmed; clients read null as false).
    assert_eq!(
        beta["optOutSettings"]["passkeyDynamicMigration"],
        Value::Null
    );
    assert_eq!(
        beta["authenticationMethodConfigurations"][2]["telecomProviderSettings"],
        Value::Null
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn without_a_seeded_policy_the_tenant_has_microsofts_default() {
    let mut seed = Seed::contoso();
    seed.authentication_methods_policy = None;
    let sim = start_with(SimOptions {
        seed,
        ..Default::default()
    })
    .await;
    let graph = Graph::new(&sim).await;
    let (_, v1) = graph.get(&format!("/v1.0{POLICY}")).await;
    assert_eq!(v1["policyMigrationState"], "preMigration");
    let (_, sms) = graph.get(&config("v1.0", "Sms")).await;
    assert_eq!(sms["state"], "disabled");
    let (_, tap) = graph.get(&config("v1.0", "TemporaryAccessPass")).await;
    assert_eq!(tap["state"], "disabled");
    assert_eq!(tap["defaultLifetimeInMinutes"], 60);
    assert_eq!(tap["minimumLifetimeInMinutes"], 60);
    assert_eq!(tap["maximumLifetimeInMinutes"], 480);
    assert_eq!(tap["defaultLength"], 8);
    let (_, fido) = graph.get(&config("v1.0", "Fido2")).await;
    assert_eq!(fido["state"], "enabled");
    sim.shutdown().await;
}

#[tokio::test]
async fn configurations_are_found_whatever_the_case_of_the_segment() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    for segment in ["sms", "Sms", "SMS"] {
        let (status, body) = graph.get(&config("v1.0", segment)).await;
        assert_eq!(status, 200, "{segment}: {body}");
        assert_eq!(body["id"], "Sms");
        assert_eq!(body["includeTargets"][0]["id"], "all_users");
        assert_eq!(body["includeTargets"][0]["isUsableForSignIn"], false);
        assert_eq!(body["excludeTargets"][0]["targetType"], "group");
    }
    let (status, body) = graph.get(&config("v1.0", "temporaryaccesspass")).await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], "TemporaryAccessPass");
    let (status, _) = graph.get(&config("v1.0", "carrierPigeon")).await;
    assert_eq!(status, 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_telecom_provider_is_set_on_beta_and_refused_on_v1() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let body = json!({
        "@odata.type": "#microsoft.graph.smsAuthenticationMethodConfiguration",
        "telecomProviderSettings": provider(),
    });
    let (status, err) = graph.patch(&config("v1.0", "Sms"), body.clone()).await;
    assert_eq!(status, 400, "not in the v1.0 schema: {err}");
    let (status, _) = graph.patch(&config("beta", "sms"), body).await;
    assert_eq!(status, 204);
    let (_, sms) = graph.get(&config("beta", "Sms")).await;
    assert_eq!(sms["telecomProviderSettings"], provider());
    let (_, v1) = graph.get(&config("v1.0", "Sms")).await;
    assert!(v1.get("telecomProviderSettings").is_none());
    // Clearing it.
    let (status, _) = graph
        .patch(
            &config("beta", "Voice"),
            json!({"telecomProviderSettings": provider()}),
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = graph
        .patch(
            &config("beta", "Voice"),
            json!({"telecomProviderSettings": null}),
        )
        .await;
    assert_eq!(status, 204);
    let (_, voice) = graph.get(&config("beta", "Voice")).await;
    assert_eq!(voice["telecomProviderSettings"], Value::Null);
    sim.shutdown().await;
}

#[tokio::test]
async fn invalid_patches_are_400_and_change_nothing() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (_, before) = graph.get(&config("beta", "TemporaryAccessPass")).await;
    let bad = [
        json!({"state": "on"}),
        json!({"defaultLength": 7}),
        json!({"minimumLifetimeInMinutes": 5}),
        json!({"defaultLifetimeInMinutes": 600}),
        json!({"state": "disabled", "maximumLifetimeInMinutes": 50_000}),
        json!({"isUsableOnce": "yes"}),
        json!({"favouriteColour": "blue"}),
        json!({"@odata.type": "#microsoft.graph.smsAuthenticationMethodConfiguration"}),
        json!({"includeTargets": [{"id": "00000000-0000-0000-0000-00000000dead", "targetType": "group"}]}),
        json!({"excludeTargets": [{"id": "all_users", "targetType": "group"}]}),
        json!({"includeTargets": [{"id": "all_users"}]}),
    ];
    for body in bad {
        let (status, err) = graph
            .patch(&config("beta", "TemporaryAccessPass"), body.clone())
            .await;
        assert_eq!(status, 400, "{body} → {err}");
        assert!(!error_code(&err).is_empty());
    }
    let (_, after) = graph.get(&config("beta", "TemporaryAccessPass")).await;
    assert_eq!(before, after);
    let bad_provider = [
        json!({"url": "http://plain.example", "appId": "8c1f4e2a-6b3d-4f7a-9e21-0d5c7b3a4e66", "isEvaluationModeEnabled": false, "migrationPercentage": 100}),
        json!({"url": "https://x.example", "appId": "not-a-guid", "isEvaluationModeEnabled": false, "migrationPercentage": 100}),
        json!({"url": "https://x.example", "appId": "8c1f4e2a-6b3d-4f7a-9e21-0d5c7b3a4e66", "isEvaluationModeEnabled": false, "migrationPercentage": 101}),
    ];
    for p in bad_provider {
        let (status, _) = graph
            .patch(
                &config("beta", "Sms"),
                json!({"telecomProviderSettings": p}),
            )
            .await;
        assert_eq!(status, 400, "{p}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_valid_patch_is_204_and_changes_state_targets_and_limits() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (status, _) = graph
        .patch(
            &config("v1.0", "TemporaryAccessPass"),
            json!({"state": "disabled", "isUsableOnce": true, "defaultLength": 12,
                   "includeTargets": [{"id": CA_GROUP, "targetType": "group"}]}),
        )
        .await;
    assert_eq!(status, 204);
    let (_, tap) = graph.get(&config("v1.0", "TemporaryAccessPass")).await;
    assert_eq!(tap["state"], "disabled");
    assert_eq!(tap["isUsableOnce"], true);
    assert_eq!(tap["defaultLength"], 12);
    assert_eq!(tap["includeTargets"][0]["id"], CA_GROUP);
    assert_eq!(tap["includeTargets"][0]["isRegistrationRequired"], false);
    let (_, policy) = graph.get(&format!("/v1.0{POLICY}")).await;
    assert_eq!(
        policy["authenticationMethodConfigurations"][3]["state"],
        "disabled"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_opt_out_is_patched_on_beta_only_and_answered_with_the_policy() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let body = json!({"optOutSettings": {"passkeyDynamicMigration": true}});
    let (status, _) = graph.patch(&format!("/v1.0{POLICY}"), body.clone()).await;
    assert_eq!(status, 400);
    let (status, policy) = graph.patch(&format!("/beta{POLICY}"), body).await;
    assert_eq!(status, 200, "{policy}");
    assert_eq!(policy["optOutSettings"]["passkeyDynamicMigration"], true);
    let (status, policy) = graph
        .patch(
            &format!("/v1.0{POLICY}"),
            json!({"registrationEnforcement": {"authenticationMethodsRegistrationCampaign": {
                "state": "enabled", "snoozeDurationInDays": 0, "includeTargets": [], "excludeTargets": []}}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        policy["registrationEnforcement"]["authenticationMethodsRegistrationCampaign"]["state"],
        "enabled"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn reading_needs_a_policy_permission_and_writing_the_readwrite_one() {
    let sim = start().await;
    let reader = Graph::for_app(&sim, READER, READER_SECRET).await;
    let (status, err) = reader.get(&format!("/v1.0{POLICY}")).await;
    assert_eq!(status, 403);
    assert_eq!(error_code(&err), "Authorization_RequestDenied");
    let (status, _) = reader.get(&config("v1.0", "Sms")).await;
    assert_eq!(status, 403);
    let (status, _) = reader
        .patch(&config("v1.0", "Sms"), json!({"state": "disabled"}))
        .await;
    assert_eq!(status, 403);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_seed_with_an_unknown_configuration_or_group_is_refused() {
    for policy in [
        json!({"authenticationMethodConfigurations": [{"id": "Carrier", "state": "enabled"}]}),
        json!({"authenticationMethodConfigurations": [{"id": "Sms", "includeTargets": [{"id": "nope", "targetType": "group"}]}]}),
        json!({"policyMigrationState": "premigration"}),
    ] {
        let mut seed = Seed::contoso();
        seed.authentication_methods_policy = Some(serde_json::from_value(policy).unwrap());
        let started = graph_sim::Sim::start(SimOptions {
            seed,
            ..Default::default()
        })
        .await;
        assert!(started.is_err());
    }
}
