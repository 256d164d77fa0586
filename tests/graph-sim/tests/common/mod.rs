//! Helpers shared by the HTTP tests: a Contoso simulator, a client that trusts its CA, tokens.
#![allow(dead_code)]

use graph_sim::{Seed, Sim, SimOptions};
use serde_json::Value;

pub const APP: &str = "5d3e8b0f-6a2c-4f1e-8b7d-2c9a4e6f1b30";
pub const APP_SECRET: &str = "sim-secret-autoenroll-Q8w~xV3pL9";
pub const READER: &str = "a1b2c3d4-0000-4000-8000-00000000read";
pub const READER_SECRET: &str = "sim-secret-reader-7Yh~2Lm";
pub const PHONE_ONLY: &str = "0e5c2d7a-9f41-4b8e-a3c6-7d1f0b2e4a99";
pub const PHONE_ONLY_SECRET: &str = "sim-secret-phone-only-4Tz~Kq1";
pub const HR: &str = "7c4b1e2d-8a3f-4d5e-9b6c-0a1b2c3d4e5f";
pub const HR_SECRET: &str = "sim-secret-hr-provisioning-Zp4~r8";
pub const TENANT: &str = "8f2c6a51-3b7e-4d0a-9c1e-5a4b2d9e7f10";
pub const ADELE: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b01";
pub const ALEX: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b02";
pub const MEGAN: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b03";
pub const JOHANNA: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b07";
pub const DIEGO: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b08";
pub const PATTI: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b15";
pub const BREAKGLASS: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b19";
pub const IT_ADMIN: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b20";
pub const NEW_HIRE: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b21";
pub const CA_GROUP: &str = "c0a80101-5e1f-4c3a-8d2b-000000000001";
pub const GLOBAL_ADMIN_TEMPLATE: &str = "62e90394-69f5-4237-9190-012177145e10";

pub async fn start() -> Sim {
    start_with(SimOptions {
        seed: Seed::contoso(),
        ..Default::default()
    })
    .await
}

pub async fn start_with(options: SimOptions) -> Sim {
    Sim::start(options).await.unwrap()
}

pub fn client(sim: &Sim) -> reqwest::Client {
    let mut builder = reqwest::Client::builder();
    if !sim.ca_cert_pem().is_empty() {
        let ca = reqwest::Certificate::from_pem(sim.ca_cert_pem().as_bytes()).unwrap();
        builder = builder.tls_certs_only([ca]);
    }
    builder.build().unwrap()
}

pub fn token_url(sim: &Sim) -> String {
    format!(
        "{}{}/oauth2/v2.0/token",
        sim.authority_host(),
        sim.tenant_id()
    )
}

pub async fn token_for(sim: &Sim, client_id: &str, secret: &str) -> String {
    let response = client(sim)
        .post(token_url(sim))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

/// A Graph client for the full-permission app.
pub struct Graph {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl Graph {
    pub async fn new(sim: &Sim) -> Self {
        Self::for_app(sim, APP, APP_SECRET).await
    }

    /// The HR provisioning app (User.ReadWrite.All): creates and changes users.
    pub async fn hr(sim: &Sim) -> Self {
        Self::for_app(sim, HR, HR_SECRET).await
    }

    pub async fn for_app(sim: &Sim, client_id: &str, secret: &str) -> Self {
        Self {
            http: client(sim),
            base: sim.base_url(),
            token: token_for(sim, client_id, secret).await,
        }
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let response = req.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value, headers)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let (s, v, _) = self.send(reqwest::Method::GET, path, None).await;
        (s, v)
    }
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let (s, v, _) = self.send(reqwest::Method::POST, path, Some(body)).await;
        (s, v)
    }
    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        let (s, v, _) = self.send(reqwest::Method::PATCH, path, Some(body)).await;
        (s, v)
    }
    pub async fn delete(&self, path: &str) -> (u16, Value) {
        let (s, v, _) = self.send(reqwest::Method::DELETE, path, None).await;
        (s, v)
    }
}

pub fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}
