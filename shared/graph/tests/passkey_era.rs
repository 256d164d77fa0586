//! Typed calls of the passkey era against the simulator: the methods policy and its method
//! configurations, Temporary Access Pass list/get/delete, manager, method kinds.

mod common;

use autoenroll_graph::ApiVersion;
use autoenroll_graph::model::TemporaryAccessPassRequest;
use autoenroll_graph::model::methods_policy::{
    MethodConfiguration, MethodConfigurationId, MethodKind, MethodState, MethodTarget,
    PolicyMigrationState, TapUsability, TelecomProviderSettings,
};
use common::*;

fn provider() -> TelecomProviderSettings {
    TelecomProviderSettings {
        url: "https://contoso-telco-router.azurewebsites.net/api/route".into(),
        app_id: "8c1f4e2a-6b3d-4f7a-9e21-0d5c7b3a4e66".into(),
        is_evaluation_mode_enabled: false,
        migration_percentage: 100,
    }
}

#[tokio::test]
async fn the_policy_is_read_on_both_versions() {
    let sim = start().await;
    let graph = graph(&sim);
    let v1 = graph.methods_policy().get(ApiVersion::V1).await.unwrap();
    assert_eq!(
        v1.policy_migration_state,
        Some(PolicyMigrationState::MigrationComplete)
    );
    assert!(v1.opt_out_settings.is_none());
    let sms = v1.configuration(MethodConfigurationId::Sms).unwrap();
    assert!(sms.is_enabled());
    assert_eq!(
        sms.include_targets.as_ref().unwrap()[0].is_usable_for_sign_in,
        Some(false)
    );
    let tap = v1
        .configuration(MethodConfigurationId::TemporaryAccessPass)
        .unwrap();
    assert_eq!(tap.minimum_lifetime_in_minutes, Some(60));
    assert_eq!(tap.maximum_lifetime_in_minutes, Some(480));
    let campaign = v1
        .registration_enforcement
        .unwrap()
        .authentication_methods_registration_campaign
        .unwrap();
    assert_eq!(campaign.state.as_deref(), Some("default"));
    let beta = graph.methods_policy().get(ApiVersion::Beta).await.unwrap();
    assert!(beta.opt_out_settings.is_some());
    assert!(
        !beta.opted_out_of_passkey_migration(),
        "null reads as false"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_passkey_opt_out_is_set_on_beta() {
    let sim = start().await;
    let graph = graph(&sim);
    let policy = graph
        .methods_policy()
        .set_passkey_opt_out(true)
        .await
        .unwrap();
    assert!(policy.opted_out_of_passkey_migration());
    let again = graph.methods_policy().get(ApiVersion::Beta).await.unwrap();
    assert!(again.opted_out_of_passkey_migration());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_telecom_provider_is_configured_read_back_and_cleared() {
    let sim = start().await;
    let graph = graph(&sim);
    let sms = graph
        .methods_policy()
        .configuration(MethodConfigurationId::Sms);
    let mut patch = MethodConfiguration::patch_for(MethodConfigurationId::Sms);
    patch.telecom_provider_settings = Some(Some(provider()));
    let err = sms.update(ApiVersion::V1, &patch).await.unwrap_err();
    assert!(err.is_invalid_request(), "beta-only property: {err:?}");
    sms.update(ApiVersion::Beta, &patch).await.unwrap();
    let read = sms.get(ApiVersion::Beta).await.unwrap();
    assert_eq!(read.id, "Sms");
    assert_eq!(read.telecom_provider(), Some(&provider()));
    assert!(read.telecom_provider().unwrap().is_in_production());
    assert!(sim.control().telephony(ADELE).unwrap().sms.delivered);
    patch.telecom_provider_settings = Some(None);
    sms.update(ApiVersion::Beta, &patch).await.unwrap();
    let read = sms.get(ApiVersion::Beta).await.unwrap();
    assert_eq!(read.telecom_provider(), None);
    assert_eq!(
        read.telecom_provider_settings,
        Some(None),
        "present as null"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_method_configuration_state_targets_and_limits_are_updated() {
    let sim = start().await;
    let graph = graph(&sim);
    let tap = graph
        .methods_policy()
        .configuration(MethodConfigurationId::TemporaryAccessPass);
    let mut patch = MethodConfiguration::patch_for(MethodConfigurationId::TemporaryAccessPass);
    patch.state = Some(MethodState::Enabled);
    patch.is_usable_once = Some(true);
    patch.include_targets = Some(vec![MethodTarget::group(CA_GROUP)]);
    tap.update(ApiVersion::V1, &patch).await.unwrap();
    let read = tap.get(ApiVersion::V1).await.unwrap();
    assert_eq!(read.is_usable_once, Some(true));
    assert_eq!(read.include_targets.unwrap()[0].id, CA_GROUP);
    // Out of Graph's range: refused, nothing changed.
    let mut bad = MethodConfiguration::patch_for(MethodConfigurationId::TemporaryAccessPass);
    bad.default_length = Some(4);
    assert!(
        tap.update(ApiVersion::V1, &bad)
            .await
            .unwrap_err()
            .is_invalid_request()
    );
    assert_eq!(
        tap.get(ApiVersion::V1).await.unwrap().default_length,
        Some(8)
    );
    // The reader app lacks Policy.Read.AuthenticationMethod.
    let reader =
        autoenroll_graph::GraphClient::new(secret_config(&sim, READER, READER_SECRET)).unwrap();
    let err = reader
        .methods_policy()
        .get(ApiVersion::V1)
        .await
        .unwrap_err();
    assert!(err.is_forbidden());
    sim.shutdown().await;
}

#[tokio::test]
async fn temporary_access_passes_are_listed_read_and_deleted() {
    let sim = start().await;
    let graph = graph(&sim);
    let taps = graph.tap(ALEX);
    assert!(taps.list().await.unwrap().is_empty());
    let created = taps
        .create(&TemporaryAccessPassRequest {
            is_usable_once: Some(true),
            ..TemporaryAccessPassRequest::default()
        })
        .await
        .unwrap();
    let id = created.id.clone().unwrap();
    assert_eq!(created.usability(), TapUsability::EnabledByPolicy);
    let listed = taps.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(
        listed[0].temporary_access_pass.is_none(),
        "shown on creation only"
    );
    let got = taps.get(&id).await.unwrap().unwrap();
    assert_eq!(got.lifetime_in_minutes, Some(60));
    sim.control()
        .advance_clock(std::time::Duration::from_secs(2 * 3600));
    assert_eq!(
        taps.get(&id).await.unwrap().unwrap().usability(),
        TapUsability::Expired
    );
    taps.delete(&id).await.unwrap();
    assert!(taps.get(&id).await.unwrap().is_none());
    assert!(taps.delete(&id).await.unwrap_err().is_not_found());
    // A lifetime outside the policy: Graph's 400.
    let err = taps
        .create(&TemporaryAccessPassRequest {
            lifetime_in_minutes: Some(30),
            ..TemporaryAccessPassRequest::default()
        })
        .await
        .unwrap_err();
    assert!(err.is_invalid_request(), "{err:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_manager_is_a_user_a_contact_or_none() {
    let sim = start().await;
    let graph = graph(&sim);
    let select = ["id", "mail", "userPrincipalName"];
    let m = graph.manager(ADELE).get(&select).await.unwrap().unwrap();
    assert_eq!(m.id, MEGAN);
    assert_eq!(
        m.user_principal_name.as_deref(),
        Some("megan.bowen@contoso.com")
    );
    assert!(!m.is_org_contact());
    let c = graph.manager(ALEX).get(&select).await.unwrap().unwrap();
    assert!(c.is_org_contact());
    assert_eq!(c.mail.as_deref(), Some("rob.young@fabrikam.com"));
    assert_eq!(c.user_principal_name, None);
    assert_eq!(graph.manager(LEE).get(&select).await.unwrap(), None);
    sim.shutdown().await;
}

#[tokio::test]
async fn method_kinds_are_told_apart_and_passkeys_are_phishing_resistant() {
    let sim = start().await;
    let graph = graph(&sim);
    let methods = graph.auth_methods(IT_ADMIN).list().await.unwrap();
    let kinds: Vec<MethodKind> = methods.iter().map(|m| m.kind()).collect();
    for k in [
        MethodKind::Password,
        MethodKind::Phone,
        MethodKind::MicrosoftAuthenticator,
        MethodKind::Fido2,
        MethodKind::WindowsHelloForBusiness,
        MethodKind::PlatformCredential,
    ] {
        assert!(kinds.contains(&k), "{k:?} in {kinds:?}");
    }
    let passkey = methods
        .iter()
        .find(|m| m.kind() == MethodKind::Fido2)
        .unwrap();
    assert_eq!(
        passkey.aa_guid(),
        Some("90a3ccdf-635c-4729-a248-9b709135078f")
    );
    assert!(passkey.kind().is_phishing_resistant());
    assert!(!MethodKind::Phone.is_phishing_resistant());
    sim.shutdown().await;
}
