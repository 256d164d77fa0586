//! SMS/voice delivery by simulated date: retirement dates, telecom providers, policy targets,
//! legacy settings (PASSKEY-ERA.md §2, "Does SMS/voice still work as MFA for user U on date D?").

mod common;

use common::*;
use graph_sim::{DeliveryReason, Seed, SimOptions};
use serde_json::json;
use time::macros::datetime;

const GUEST: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b17";
const SMS: &str =
    "/beta/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/Sms";

fn provider(evaluation: bool, percentage: u32) -> serde_json::Value {
    json!({"telecomProviderSettings": {
        "url": "https://contoso-telco-router.azurewebsites.net/api/route",
        "appId": "8c1f4e2a-6b3d-4f7a-9e21-0d5c7b3a4e66",
        "isEvaluationModeEnabled": evaluation, "migrationPercentage": percentage}})
}

#[tokio::test]
async fn microsoft_delivers_until_the_users_retirement_date() {
    let sim = start().await;
    let control = sim.control();
    let adele = control.telephony(ADELE).unwrap();
    assert!(adele.sms.delivered && adele.voice.delivered);
    assert_eq!(adele.sms.reason, DeliveryReason::MicrosoftDelivery);
    control.advance_clock_to(datetime!(2027-01-31 23:59 UTC));
    assert!(control.telephony(ADELE).unwrap().sms.delivered);

    control.advance_clock_to(datetime!(2027-02-01 00:00 UTC));
    let adele = control.telephony(ADELE).unwrap();
    assert!(!adele.sms.delivered && !adele.voice.delivered);
    assert_eq!(adele.sms.reason, DeliveryReason::Retired);
    assert!(adele.sms.enabled_by_policy);
    // Global Administrators and external users keep it until 2027-07-01.
    for late in [IT_ADMIN, GUEST] {
        let t = control.telephony(late).unwrap();
        assert!(t.sms.delivered, "{late}");
        assert_eq!(
            serde_json::to_value(t).unwrap()["retirementDate"],
            "2027-07-01"
        );
    }
    control.advance_clock_to(datetime!(2027-07-01 00:00 UTC));
    assert!(!control.telephony(IT_ADMIN).unwrap().sms.delivered);
    assert!(!control.telephony(GUEST).unwrap().voice.delivered);
    sim.shutdown().await;
}

#[tokio::test]
async fn only_a_provider_in_production_at_100_percent_delivers_after_retirement() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let control = sim.control();
    control.advance_clock_to(datetime!(2027-03-01 00:00 UTC));
    for (evaluation, percentage) in [(true, 100), (false, 99), (false, 0)] {
        let (status, _) = graph.patch(SMS, provider(evaluation, percentage)).await;
        assert_eq!(status, 204);
        let t = control.telephony(ADELE).unwrap();
        assert!(!t.sms.delivered, "evaluation {evaluation}, {percentage} %");
    }
    let (status, _) = graph.patch(SMS, provider(false, 100)).await;
    assert_eq!(status, 204);
    let t = control.telephony(ADELE).unwrap();
    assert!(t.sms.delivered);
    assert_eq!(t.sms.reason, DeliveryReason::TelecomProvider);
    assert!(!t.voice.delivered, "the provider is per channel");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_disabled_or_excluding_configuration_delivers_nothing() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let control = sim.control();
    // The break-glass group is excluded from SMS in the Contoso seed; voice includes everyone.
    let bg = control.telephony(BREAKGLASS).unwrap();
    assert!(!bg.sms.enabled_by_policy && !bg.sms.delivered);
    assert_eq!(bg.sms.reason, DeliveryReason::NotEnabledByPolicy);
    assert!(bg.voice.delivered);
    let (status, _) = graph.patch(SMS, json!({"state": "disabled"})).await;
    assert_eq!(status, 204);
    assert!(!control.telephony(ADELE).unwrap().sms.delivered);
    // A target naming the user directly.
    let (status, _) = graph
        .patch(
            SMS,
            json!({"state": "enabled", "includeTargets": [{"id": ALEX, "targetType": "user"}], "excludeTargets": []}),
        )
        .await;
    assert_eq!(status, 204);
    assert!(control.telephony(ALEX).unwrap().sms.delivered);
    assert!(!control.telephony(ADELE).unwrap().sms.delivered);
    sim.shutdown().await;
}

#[tokio::test]
async fn before_migration_the_legacy_settings_still_enable_sms_and_voice() {
    let mut seed = Seed::contoso();
    seed.authentication_methods_policy = None;
    let sim = start_with(SimOptions {
        seed: seed.clone(),
        ..Default::default()
    })
    .await;
    // Microsoft's default: Sms off in the policy, but pre-migration with legacy SMS/calls on.
    let t = sim.control().telephony(ADELE).unwrap();
    assert!(t.sms.enabled_by_policy && t.sms.delivered);
    sim.shutdown().await;

    seed.authentication_methods_policy =
        Some(serde_json::from_value(json!({"policyMigrationState": "migrationComplete"})).unwrap());
    let sim = start_with(SimOptions {
        seed: seed.clone(),
        ..Default::default()
    })
    .await;
    assert!(
        !sim.control()
            .telephony(ADELE)
            .unwrap()
            .sms
            .enabled_by_policy
    );
    sim.shutdown().await;

    seed.authentication_methods_policy = Some(
        serde_json::from_value(json!({"legacyMfaSettings": {"sms": false, "voice": true}}))
            .unwrap(),
    );
    let sim = start_with(SimOptions {
        seed,
        ..Default::default()
    })
    .await;
    let t = sim.control().telephony(ADELE).unwrap();
    assert!(!t.sms.enabled_by_policy && t.voice.enabled_by_policy);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_state_dump_holds_every_users_telephony() {
    let sim = start().await;
    let client = client(&sim);
    let dump: serde_json::Value = client
        .get(format!("{}/_sim/state", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let adele = &dump["telephony"][ADELE];
    assert_eq!(adele["sms"]["delivered"], true);
    assert_eq!(adele["sms"]["reason"], "microsoftDelivery");
    assert_eq!(adele["retirementDate"], "2027-02-01");
    assert_eq!(
        dump["telephony"][BREAKGLASS]["sms"]["reason"],
        "notEnabledByPolicy"
    );
    assert_eq!(
        dump["telephony"].as_object().unwrap().len(),
        dump["users"].as_object().unwrap().len()
    );
    assert_eq!(sim.control().dump()["telephony"], dump["telephony"]);
    sim.shutdown().await;
}
