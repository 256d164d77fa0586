//! Temporary Access Pass methods against the TAP policy and the simulated clock
//! (PASSKEY-ERA.md §3).

mod common;

use std::time::Duration;

use common::*;
use graph_sim::{Seed, SimOptions};
use serde_json::{Value, json};

const GUEST: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b17";
const BREAKGLASS_GROUP: &str = "c0a80101-5e1f-4c3a-8d2b-000000000002";
const TAP_CONFIG: &str = "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass";
const POLICY_REFUSED: &str = "Converged UserCredentialPolicy does not allow creating or updating this authentication method. AuthMethodType [TemporaryAccessPass].";

fn taps(user: &str) -> String {
    format!("/v1.0/users/{user}/authentication/temporaryAccessPassMethods")
}

#[tokio::test]
async fn a_pass_takes_the_policy_defaults_and_is_shown_only_on_creation() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (status, created) = graph.post(&taps(ADELE), json!({})).await;
    assert_eq!(status, 201, "{created}");
    assert!(
        created["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("temporaryAccessPassMethods/$entity")
    );
    assert_eq!(created["lifetimeInMinutes"], 60);
    assert_eq!(created["isUsableOnce"], false);
    assert_eq!(created["isUsable"], true);
    assert_eq!(created["methodUsabilityReason"], "EnabledByPolicy");
    assert_eq!(created["temporaryAccessPass"].as_str().unwrap().len(), 8);
    let (status, list) = graph.get(&taps(ADELE)).await;
    assert_eq!(status, 200);
    assert_eq!(list["value"].as_array().unwrap().len(), 1);
    assert_eq!(list["value"][0]["temporaryAccessPass"], Value::Null);
    let (_, all) = graph
        .get(&format!("/v1.0/users/{ADELE}/authentication/methods"))
        .await;
    let tap = all["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["@odata.type"] == "#microsoft.graph.temporaryAccessPassAuthenticationMethod")
        .expect("listed among the methods");
    assert_eq!(tap["temporaryAccessPass"], Value::Null);
    // The pass is never in the state dump either.
    let dump = sim.control().dump().to_string();
    assert!(!dump.contains(created["temporaryAccessPass"].as_str().unwrap()));
    sim.shutdown().await;
}

#[tokio::test]
async fn the_policy_length_and_one_time_setting_apply() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (status, _) = graph
        .patch(
            TAP_CONFIG,
            json!({"defaultLength": 16, "isUsableOnce": true}),
        )
        .await;
    assert_eq!(status, 204);
    let (status, created) = graph.post(&taps(ALEX), json!({})).await;
    assert_eq!(status, 201);
    assert_eq!(created["temporaryAccessPass"].as_str().unwrap().len(), 16);
    assert_eq!(created["isUsableOnce"], true);
    let (status, err) = graph
        .post(&taps(ALEX), json!({"isUsableOnce": false}))
        .await;
    assert_eq!(status, 400, "a one-time policy refuses multi-use passes");
    assert_eq!(error_code(&err), "badRequest");
    sim.shutdown().await;
}

#[tokio::test]
async fn lifetimes_outside_the_policy_are_refused() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    // Contoso: 60–480 minutes; Graph's own bounds are 10–43,200.
    for (lifetime, code) in [
        (5, "invalidRequest"),
        (30, "badRequest"),
        (481, "badRequest"),
        (50_000, "invalidRequest"),
    ] {
        let (status, err) = graph
            .post(&taps(ALEX), json!({"lifetimeInMinutes": lifetime}))
            .await;
        assert_eq!(status, 400, "{lifetime}");
        assert_eq!(error_code(&err), code, "{lifetime}: {err}");
    }
    let (status, _) = graph
        .post(&taps(ALEX), json!({"lifetimeInMinutes": 480}))
        .await;
    assert_eq!(status, 201);
    assert!(graph.get(&taps(ALEX)).await.1["value"][0]["isUsable"] == true);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_disabled_policy_or_an_untargeted_user_is_refused_with_the_observed_message() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (status, _) = graph
        .patch(
            TAP_CONFIG,
            json!({"excludeTargets": [{"id": BREAKGLASS_GROUP, "targetType": "group"}]}),
        )
        .await;
    assert_eq!(status, 204);
    let (status, err) = graph.post(&taps(BREAKGLASS), json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(err["error"]["message"], POLICY_REFUSED);
    let (status, _) = graph.patch(TAP_CONFIG, json!({"state": "disabled"})).await;
    assert_eq!(status, 204);
    let (status, err) = graph.post(&taps(ADELE), json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(err["error"]["message"], POLICY_REFUSED);
    sim.shutdown().await;
}

#[tokio::test]
async fn untargeted_users_can_be_given_a_pass_they_cannot_use_when_the_seed_allows_it() {
    let mut seed = Seed::contoso();
    let mut policy = serde_json::to_value(seed.authentication_methods_policy.take()).unwrap();
    policy["allowTapForUntargetedUsers"] = json!(true);
    policy["authenticationMethodConfigurations"][2]["excludeTargets"] =
        json!([{"id": BREAKGLASS_GROUP, "targetType": "group"}]);
    seed.authentication_methods_policy = Some(serde_json::from_value(policy).unwrap());
    let sim = start_with(SimOptions {
        seed,
        ..Default::default()
    })
    .await;
    let graph = Graph::new(&sim).await;
    let (status, created) = graph.post(&taps(BREAKGLASS), json!({})).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["isUsable"], false);
    assert_eq!(created["methodUsabilityReason"], "DisabledByPolicy");
    sim.shutdown().await;
}

#[tokio::test]
async fn external_guests_cannot_get_a_pass() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (status, err) = graph.post(&taps(GUEST), json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(
        err["error"]["message"],
        "Temporary Access Pass cannot be added to an external guest user."
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_clock_makes_a_pass_valid_then_expired() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let start_at = sim.control().now() + time::Duration::hours(2);
    let start_text = start_at
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (status, created) = graph
        .post(
            &taps(ALEX),
            json!({"startDateTime": start_text, "lifetimeInMinutes": 60}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["methodUsabilityReason"], "NotYetValid");
    assert_eq!(created["isUsable"], false);
    let id = created["id"].as_str().unwrap().to_string();
    let reason = |v: &Value| v["methodUsabilityReason"].as_str().unwrap().to_string();
    sim.control()
        .advance_clock(Duration::from_secs(2 * 3600 + 60));
    let (_, got) = graph.get(&format!("{}/{id}", taps(ALEX))).await;
    assert_eq!(reason(&got), "EnabledByPolicy");
    assert_eq!(got["isUsable"], true);
    sim.control().advance_clock(Duration::from_secs(3600));
    let (_, got) = graph.get(&format!("{}/{id}", taps(ALEX))).await;
    assert_eq!(reason(&got), "Expired");
    assert_eq!(got["isUsable"], false);
    // A start well in the past is refused (docs silent; stricter).
    let (status, _) = graph
        .post(
            &taps(ADELE),
            json!({"startDateTime": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn delete_removes_the_pass_and_unknown_ids_are_404() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (_, created) = graph.post(&taps(ALEX), json!({})).await;
    let path = format!("{}/{}", taps(ALEX), created["id"].as_str().unwrap());
    assert_eq!(graph.delete(&path).await.0, 204);
    assert_eq!(graph.delete(&path).await.0, 404);
    assert_eq!(graph.get(&path).await.0, 404);
    assert_eq!(
        graph.get(&taps("nobody@contoso.com")).await.0,
        404,
        "unknown user"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn writing_a_pass_needs_a_tap_write_permission() {
    let sim = start().await;
    let phone_only = Graph::for_app(&sim, PHONE_ONLY, PHONE_ONLY_SECRET).await;
    let (status, err) = phone_only.post(&taps(ALEX), json!({})).await;
    assert_eq!(status, 403);
    assert_eq!(error_code(&err), "Authorization_RequestDenied");
    assert_eq!(phone_only.get(&taps(ALEX)).await.0, 403);
    sim.shutdown().await;
}
