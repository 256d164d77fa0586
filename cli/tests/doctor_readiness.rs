//! doctor's readiness rows against the simulated Contoso tenant, before and after the SMS/voice
//! retirement on the simulator's clock, and with a telecom provider put in production.

use std::time::Duration;

use autoenroll_cli::doctor::Status;
use autoenroll_cli::readiness;
use autoenroll_cli::tenant::start_simulated;
use autoenroll_graph::ApiVersion;
use autoenroll_graph::model::methods_policy::{
    MethodConfiguration, MethodConfigurationId, TelecomProviderSettings,
};
use graph_sim::{Seed, SimOptions};

fn status_of(rows: &[autoenroll_cli::doctor::Check], name: &str) -> Status {
    rows.iter()
        .find(|c| c.check == name)
        .unwrap_or_else(|| panic!("no {name} row: {rows:?}"))
        .status
}

#[tokio::test]
async fn sms_readiness_follows_the_simulated_clock_and_the_provider() {
    let connected = start_simulated(Seed::contoso(), "contoso", 4, SimOptions::default())
        .await
        .unwrap();
    let sim = connected.simulator().unwrap();
    let graph = &connected.graph;

    let now = sim.control().now().date();
    assert!(
        now < autoenroll_core::coverage::RETIREMENT,
        "the simulator starts before the retirement"
    );
    let rows = readiness::checks(graph, now).await;
    assert_eq!(
        status_of(&rows, "SMS method policy"),
        Status::Warn,
        "{rows:?}"
    );

    // After the retirement, on the simulator's clock: no provider → PROBLEM.
    let days = (autoenroll_core::coverage::RETIREMENT - now).whole_days() as u64 + 1;
    let after = sim
        .control()
        .advance_clock(Duration::from_secs(days * 86_400))
        .date();
    let rows = readiness::checks(graph, after).await;
    assert_eq!(
        status_of(&rows, "SMS method policy"),
        Status::Fail,
        "{rows:?}"
    );

    // A provider in production (set through Graph, beta PATCH) → ok even after the date.
    let mut patch = MethodConfiguration::patch_for(MethodConfigurationId::Sms);
    patch.telecom_provider_settings = Some(Some(TelecomProviderSettings {
        url: "https://router.contoso.example/api/route".into(),
        app_id: "8c1f4e2a-6b3d-4f7a-9e21-0d5c7b3a4e66".into(),
        is_evaluation_mode_enabled: false,
        migration_percentage: 100,
    }));
    graph
        .methods_policy()
        .configuration(MethodConfigurationId::Sms)
        .update(ApiVersion::Beta, &patch)
        .await
        .expect("PATCH the SMS configuration");
    let rows = readiness::checks(graph, after).await;
    assert_eq!(
        status_of(&rows, "SMS method policy"),
        Status::Ok,
        "{rows:?}"
    );
    let policy = readiness::read_policy(graph).await.unwrap();
    assert_eq!(
        readiness::telephony_view(&policy).provider
            == autoenroll_core::coverage::Provider::Production,
        status_of(&rows, "Voice method policy") != Status::Fail,
        "the report's view is production only when every enabled channel is"
    );
    connected.close().await;
}

#[tokio::test]
async fn without_the_policy_permission_doctor_says_what_to_grant() {
    let mut seed = Seed::contoso();
    for app in &mut seed.apps {
        app.roles.retain(|r| !r.starts_with("Policy."));
    }
    let connected = start_simulated(seed, "contoso", 4, SimOptions::default())
        .await
        .unwrap();
    let rows = readiness::checks(&connected.graph, time::macros::date!(2026 - 12 - 06)).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, Status::Warn);
    assert!(
        rows[0].detail.contains("Policy.Read.AuthenticationMethod"),
        "{rows:?}"
    );
    connected.close().await;
}

/// Contoso with the read-only Policy.Read.All doctor recommends for the CA check (Contoso's
/// app does not hold it).
fn contoso_reading_policies() -> Seed {
    let mut seed = Seed::contoso();
    for app in &mut seed.apps {
        if !app.roles.iter().any(|r| r == "Policy.Read.All") {
            app.roles.push("Policy.Read.All".into());
        }
    }
    seed
}

/// Contoso's registration policy with the strength `strength_id` (Contoso ships …0002).
fn contoso_with_registration_strength(strength_id: &str) -> Seed {
    let mut seed = contoso_reading_policies();
    let registration = seed
        .conditional_access_policies
        .iter_mut()
        .find(|p| {
            p.get("displayName").and_then(|v| v.as_str())
                == Some("Securing security info registration")
        })
        .expect("contoso has a registration policy");
    registration["grantControls"]["authenticationStrength"] =
        serde_json::json!({"id": strength_id});
    seed
}

async fn doctor_rows(seed: Seed) -> Vec<autoenroll_cli::doctor::Check> {
    let connected = start_simulated(seed, "contoso", 4, SimOptions::default())
        .await
        .unwrap();
    let rows = readiness::checks_for(
        &connected.graph,
        &autoenroll_core::policy::Policy::default(),
        time::macros::date!(2026 - 12 - 06),
    )
    .await;
    connected.close().await;
    rows
}

#[tokio::test]
async fn contoso_registration_policy_accepts_a_tap_and_its_methods_are_on() {
    let rows = doctor_rows(contoso_reading_policies()).await;
    assert_eq!(
        status_of(&rows, "security info registration (CA)"),
        Status::Ok,
        "{rows:?}"
    );
    assert_eq!(
        status_of(&rows, "passkey (FIDO2) policy"),
        Status::Ok,
        "{rows:?}"
    );
    // Contoso's TAP policy allows multi-use passes (isUsableOnce false).
    assert_eq!(
        status_of(&rows, "Temporary Access Pass policy"),
        Status::Warn,
        "{rows:?}"
    );
}

#[tokio::test]
async fn phishing_resistant_strength_on_registration_is_a_problem() {
    let seed = contoso_with_registration_strength(
        autoenroll_graph::model::built_in_strengths::PHISHING_RESISTANT,
    );
    let rows = doctor_rows(seed).await;
    let row = rows
        .iter()
        .find(|c| c.check == "security info registration (CA)")
        .expect("CA row");
    assert_eq!(row.status, Status::Fail, "{rows:?}");
    assert!(row.detail.contains("locked out"), "{row:?}");
}

#[tokio::test]
async fn without_policy_read_all_the_ca_row_says_what_to_grant() {
    let mut seed = Seed::contoso();
    for app in &mut seed.apps {
        app.roles.retain(|r| r != "Policy.Read.All");
    }
    let rows = doctor_rows(seed).await;
    let row = rows
        .iter()
        .find(|c| c.check == "security info registration (CA)")
        .expect("CA row");
    assert_eq!(row.status, Status::Warn, "{rows:?}");
    assert!(row.detail.contains("Policy.Read.All"), "{row:?}");
}

#[tokio::test]
async fn secure_score_mfa_controls_with_and_without_the_permission() {
    let mut seed = contoso_reading_policies();
    seed.secure_scores = vec![
        serde_json::json!({"id": "contoso_2026-12-05", "createdDateTime": "2026-12-05T00:00:00Z",
            "currentScore": 120.0, "maxScore": 300.0, "controlScores": [
                {"controlName": "AdminMFAV2", "score": 5.0, "scoreInPercentage": 50.0},
                {"controlName": "MFARegistrationV2", "score": 9.0, "scoreInPercentage": 100.0}]})
        .as_object()
        .cloned()
        .unwrap(),
    ];
    let without = doctor_rows(seed.clone()).await;
    let row = without
        .iter()
        .find(|c| c.check == "Secure Score MFA controls")
        .expect("score row");
    assert_eq!(row.status, Status::Ok, "{row:?}");
    assert!(row.detail.starts_with("skipped"), "{row:?}");
    assert!(row.detail.contains("SecurityEvents.Read.All"), "{row:?}");

    for app in &mut seed.apps {
        app.roles.push("SecurityEvents.Read.All".into());
    }
    let with = doctor_rows(seed).await;
    let row = with
        .iter()
        .find(|c| c.check == "Secure Score MFA controls")
        .expect("score row");
    assert_eq!(row.status, Status::Warn, "{row:?}");
    assert!(row.detail.starts_with("120.0 / 300.0"), "{row:?}");
    assert!(
        row.detail.contains("AdminMFAV2 5.0 earned, +5.0"),
        "{row:?}"
    );
}
