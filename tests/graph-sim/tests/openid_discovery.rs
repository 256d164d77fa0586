//! MSAL compatibility: Entra's OpenID discovery document for the tenant id and the default
//! domain, and the scope SDKs build from a base URL's host (`https://127.0.0.1/.default`).

mod common;

use common::*;
use serde_json::Value;

async fn get(sim: &graph_sim::Sim, path: &str) -> (u16, Value) {
    let r = client(sim)
        .get(format!("{}{path}", sim.base_url()))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn discovery_document_points_at_the_simulator_for_id_and_domain() {
    let sim = start().await;
    let base = sim.base_url();
    for tenant in [TENANT, "contoso.onmicrosoft.com", "CONTOSO.onmicrosoft.com"] {
        let (status, doc) = get(
            &sim,
            &format!("/{tenant}/v2.0/.well-known/openid-configuration"),
        )
        .await;
        assert_eq!(status, 200, "{tenant}: {doc}");
        assert_eq!(doc["issuer"], format!("{base}/{TENANT}/v2.0"));
        assert_eq!(
            doc["token_endpoint"],
            format!("{base}/{TENANT}/oauth2/v2.0/token")
        );
        assert_eq!(
            doc["authorization_endpoint"],
            format!("{base}/{TENANT}/oauth2/v2.0/authorize")
        );
        let jwks = doc["jwks_uri"].as_str().unwrap();
        assert!(jwks.starts_with(&base));
        let r = client(&sim).get(jwks).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let keys: Value = r.json().await.unwrap();
        assert!(keys["keys"].is_array());
    }
    let (status, body) = get(
        &sim,
        "/fabrikam.onmicrosoft.com/v2.0/.well-known/openid-configuration",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_tenant");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_token_endpoint_from_discovery_accepts_the_host_only_scope() {
    let sim = start().await;
    let (_, doc) = get(
        &sim,
        "/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration",
    )
    .await;
    let token_endpoint = doc["token_endpoint"].as_str().unwrap();
    let ask = |scope: String| {
        let http = client(&sim);
        let url = token_endpoint.to_string();
        async move {
            http.post(url)
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", APP),
                    ("client_secret", APP_SECRET),
                    ("scope", scope.as_str()),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let host_only = format!("https://{}/.default", sim.addr().ip());
    assert_eq!(ask(host_only).await, 200);
    assert_eq!(ask(format!("{}/.default", sim.base_url())).await, 200);
    assert_eq!(
        ask("https://graph.microsoft.com/.default".into()).await,
        200
    );
    assert_eq!(ask("https://127.0.0.2/.default".into()).await, 400);
    assert_eq!(ask("https://evil.example/.default".into()).await, 400);
    sim.shutdown().await;
}
