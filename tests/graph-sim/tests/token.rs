//! Item 1: the token endpoint, and Graph's 401 / 403.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use serde_json::{Value, json};

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn fake_jwt(header: Value, claims: Value) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(b"not-a-real-signature")
    )
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

async fn request_token(sim: &graph_sim::Sim, form: &[(&str, &str)]) -> (u16, Value) {
    let r = client(sim)
        .post(token_url(sim))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn client_secret_yields_a_jwt_shaped_token_with_the_granted_roles() {
    let sim = start().await;
    let (status, body) = request_token(
        &sim,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", APP),
            ("client_secret", APP_SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_i64().unwrap() > 3000);
    assert!(body["ext_expires_in"].is_i64());
    let claims = claims_of(body["access_token"].as_str().unwrap());
    assert_eq!(claims["appid"], APP);
    assert_eq!(claims["tid"], TENANT);
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    let roles: Vec<&str> = claims["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(roles.contains(&"UserAuthMethod-Phone.ReadWrite.All"));
    assert!(claims["exp"].as_i64().unwrap() > now());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_wrong_secret_is_invalid_client_aadsts7000215() {
    let sim = start().await;
    let (status, body) = request_token(
        &sim,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", APP),
            ("client_secret", "wrong"),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["error_codes"], json!([7000215]));
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS7000215:")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn an_unknown_app_or_tenant_or_scope_is_refused() {
    let sim = start().await;
    let form = |client: &'static str, scope: &'static str| {
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", client),
            ("client_secret", APP_SECRET),
            ("scope", scope),
        ]
    };
    let (status, body) = request_token(
        &sim,
        &form(
            "11111111-1111-1111-1111-111111111111",
            "https://graph.microsoft.com/.default",
        ),
    )
    .await;
    assert_eq!(
        (status, body["error_codes"][0].as_i64()),
        (400, Some(700016))
    );
    let (status, body) = request_token(
        &sim,
        &form(APP, "https://graph.microsoft.com/User.Read.All"),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    let r = client(&sim)
        .post(format!(
            "{}00000000-dead-beef-0000-000000000000/oauth2/v2.0/token",
            sim.authority_host()
        ))
        .form(&form(APP, "https://graph.microsoft.com/.default"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error_codes"][0], 90002);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_certificate_client_assertion_is_accepted_for_an_app_with_that_certificate() {
    let sim = start().await;
    let thumbprint = hex::decode("3f2a9c1d7e5b4a6f8c0d2e4f6a8b0c1d2e3f4a5b").unwrap();
    let assertion = fake_jwt(
        json!({"alg": "RS256", "typ": "JWT", "x5t": URL_SAFE_NO_PAD.encode(&thumbprint)}),
        json!({
            "aud": token_url(&sim), "iss": APP, "sub": APP, "jti": "1",
            "nbf": now() - 10, "exp": now() + 600
        }),
    );
    let (status, body) = request_token(
        &sim,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", APP),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &assertion),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        claims_of(body["access_token"].as_str().unwrap())["appid"],
        APP
    );

    // The same assertion, expired, is refused.
    let expired = fake_jwt(
        json!({"alg": "RS256", "typ": "JWT"}),
        json!({"aud": token_url(&sim), "iss": APP, "sub": APP, "jti": "2", "exp": now() - 3600}),
    );
    let (status, body) = request_token(
        &sim,
        &[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &expired),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error_codes"][0].as_i64()),
        (401, Some(700024))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_federated_assertion_must_match_a_federated_credential() {
    let sim = start().await;
    let assertion = |sub: &str| {
        fake_jwt(
            json!({"alg": "RS256", "typ": "JWT", "kid": "aws"}),
            json!({"aud": "api://AzureADTokenExchange", "iss": "https://sts.amazonaws.com", "sub": sub, "exp": now() + 300}),
        )
    };
    let good = assertion("arn:aws:iam::123456789012:role/autoenroll-enroll");
    let form = |a: &str| {
        vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", APP.to_string()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string(),
            ),
            ("client_assertion", a.to_string()),
            ("scope", "https://graph.microsoft.com/.default".to_string()),
        ]
    };
    let r = client(&sim)
        .post(token_url(&sim))
        .form(&form(&good))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let bad = assertion("arn:aws:iam::123456789012:role/someone-else");
    let r = client(&sim)
        .post(token_url(&sim))
        .form(&form(&bad))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error_codes"][0], 70021);
    // An HS256 (unsigned-by-certificate) assertion is not a valid client assertion.
    let hs = fake_jwt(
        json!({"alg": "HS256"}),
        json!({"iss": "https://sts.amazonaws.com", "sub": "x", "exp": now() + 60}),
    );
    let r = client(&sim)
        .post(token_url(&sim))
        .form(&form(&hs))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    sim.shutdown().await;
}

#[tokio::test]
async fn graph_without_a_token_is_401_invalid_authentication_token() {
    let sim = start().await;
    let r = client(&sim)
        .get(format!("{}/v1.0/users/{ADELE}", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    let request_id = r.headers()["request-id"].to_str().unwrap().to_string();
    let body: Value = r.json().await.unwrap();
    assert_eq!(error_code(&body), "InvalidAuthenticationToken");
    assert_eq!(body["error"]["innerError"]["request-id"], request_id);
    assert!(body["error"]["innerError"]["date"].is_string());

    // A forged token (signature does not verify) is refused too.
    let forged = fake_jwt(
        json!({"alg": "HS256"}),
        json!({"aud": "https://graph.microsoft.com", "tid": TENANT, "roles": ["Directory.ReadWrite.All"], "exp": now() + 600}),
    );
    let r = client(&sim)
        .get(format!("{}/v1.0/users/{ADELE}", sim.base_url()))
        .bearer_auth(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_token_without_the_needed_role_is_403_authorization_request_denied() {
    let sim = start().await;
    let reader = Graph::for_app(&sim, READER, READER_SECRET).await;
    let (status, _) = reader.get(&format!("/v1.0/users/{ADELE}")).await;
    assert_eq!(status, 200);
    let (status, body) = reader
        .post(
            &format!("/v1.0/users/{ADELE}/authentication/phoneMethods"),
            json!({"phoneNumber": "+31 612345678", "phoneType": "mobile"}),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(error_code(&body), "Authorization_RequestDenied");
    // Nothing was written.
    assert!(
        sim.control().user(ADELE).unwrap()["authentication"]["phones"]
            .as_object()
            .unwrap()
            .is_empty()
    );

    let phone_only = Graph::for_app(&sim, PHONE_ONLY, PHONE_ONLY_SECRET).await;
    let (status, _) = phone_only
        .patch(
            &format!("/beta/users/{ADELE}/authentication/requirements"),
            json!({"perUserMfaState": "enabled"}),
        )
        .await;
    assert_eq!(status, 403);
    sim.shutdown().await;
}

#[tokio::test]
async fn azure_identity_client_secret_credential_gets_a_token_from_the_simulator() {
    use azure_core::credentials::{Secret, TokenCredential};
    use azure_core::http::{ClientOptions, Transport};
    use std::sync::Arc;

    let sim = start().await;
    let mut cloud = azure_core::cloud::CustomConfiguration::default();
    cloud.authority_host = sim.authority_host();
    let options = azure_identity::ClientSecretCredentialOptions {
        client_options: ClientOptions {
            transport: Some(Transport::new(Arc::new(client(&sim)))),
            cloud: Some(Arc::new(cloud.into())),
            ..Default::default()
        },
    };
    let credential = azure_identity::ClientSecretCredential::new(
        TENANT,
        APP.to_string(),
        Secret::new(APP_SECRET.to_string()),
        Some(options),
    )
    .unwrap();
    let token = credential
        .get_token(&["https://graph.microsoft.com/.default"], None)
        .await
        .unwrap();
    assert_eq!(claims_of(token.token.secret())["appid"], APP);
    assert!(token.expires_on > time::OffsetDateTime::now_utc() + time::Duration::minutes(50));
    sim.shutdown().await;
}
