//! The Entra token endpoint (`POST /{tenant}/oauth2/v2.0/token`, client credentials) and the
//! access tokens Graph accepts.
//!
//! Tokens are JWT-shaped (`header.payload.signature`, base64url) with the claims an app-only
//! Graph token carries (`aud`, `iss`, `tid`, `appid`, `roles`, `exp`, …) so clients can read
//! their roles the way `doctor` does. They are signed with HMAC-SHA256 under a key private to
//! this simulator instance, not RS256 — nobody but the simulator verifies them.
//!
//! Token lifetimes are checked against real time, not the simulated clock: the client caches a
//! token by its own clock, and a test that jumps the simulated clock forward should not make
//! every cached token invalid (docs silent; Graph has no simulated clock).

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::AppState;
use crate::error::GraphError;
use crate::seed::AppSeed;
use crate::sts::{StsError, sts_error};

/// Seconds an access token lives (Entra's app-only tokens: 60–90 min; 3599 is what it reports).
pub const TOKEN_LIFETIME_SECS: i64 = 3599;
/// The Graph resource app id; scopes may name it instead of the URL.
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
const GRAPH_AUDIENCE: &str = "https://graph.microsoft.com";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Who is calling Graph, from a validated token. Handlers read it from request extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub app_id: String,
    pub tenant_id: String,
    pub roles: Vec<String>,
}

impl Caller {
    pub fn has_any(&self, roles: &[&str]) -> bool {
        self.roles.iter().any(|r| roles.contains(&r.as_str()))
    }

    /// 403 `Authorization_RequestDenied` unless one of `roles` was granted.
    pub fn require_any(&self, roles: &[&str]) -> Result<(), GraphError> {
        if self.has_any(roles) {
            Ok(())
        } else {
            Err(GraphError::forbidden())
        }
    }
}

/// Issues and verifies this simulator's tokens.
pub struct TokenIssuer {
    key: [u8; 32],
    /// Seconds a token lives ([`TOKEN_LIFETIME_SECS`] unless the options say otherwise).
    lifetime_secs: i64,
}

impl TokenIssuer {
    pub fn new(lifetime: Option<std::time::Duration>) -> Self {
        let mut key = [0u8; 32];
        rand::fill(&mut key);
        let lifetime_secs = lifetime
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX).max(1))
            .unwrap_or(TOKEN_LIFETIME_SECS);
        Self { key, lifetime_secs }
    }

    pub fn lifetime_secs(&self) -> i64 {
        self.lifetime_secs
    }

    fn sign(&self, data: &[u8]) -> Vec<u8> {
        hmac_sha256(&self.key, data)
    }

    pub fn issue(&self, tenant_id: &str, app: &AppSeed, base_url: &str) -> String {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let header = json!({"typ": "JWT", "alg": "HS256", "kid": "graph-sim"});
        let payload = json!({
            "aud": GRAPH_AUDIENCE,
            "iss": format!("https://sts.windows.net/{tenant_id}/"),
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime_secs,
            "app_displayname": app.display_name,
            "appid": app.client_id,
            "appidacr": "1",
            "idp": format!("https://sts.windows.net/{tenant_id}/"),
            "idtyp": "app",
            "oid": crate::seed::derived_id("servicePrincipal", &app.client_id),
            "roles": app.roles,
            "sub": crate::seed::derived_id("servicePrincipal", &app.client_id),
            "tid": tenant_id,
            "ver": "1.0",
            "xms_sim": base_url,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        let signature = URL_SAFE_NO_PAD.encode(self.sign(signing_input.as_bytes()));
        format!("{signing_input}.{signature}")
    }

    /// Validates a bearer token the way Graph's front door does and returns the caller.
    pub fn verify(&self, token: &str, tenant_id: &str) -> Result<Caller, GraphError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(GraphError::unauthenticated(
                "IDX14100: JWT is not well formed, there are no dots (.).",
            ));
        };
        let signature = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| GraphError::unauthenticated("Access token validation failure."))?;
        let expected = self.sign(format!("{h}.{p}").as_bytes());
        if !constant_time_eq(&signature, &expected) {
            return Err(GraphError::unauthenticated(
                "Access token validation failure. Invalid signature.",
            ));
        }
        let claims: Value = URL_SAFE_NO_PAD
            .decode(p)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| GraphError::unauthenticated("Access token validation failure."))?;
        if claims["aud"] != GRAPH_AUDIENCE {
            return Err(GraphError::unauthenticated(
                "Access token validation failure. Invalid audience.",
            ));
        }
        let exp = claims["exp"].as_i64().unwrap_or(0);
        if exp <= OffsetDateTime::now_utc().unix_timestamp() {
            return Err(GraphError::unauthenticated(
                "Lifetime validation failed, the token is expired.",
            ));
        }
        if claims["tid"] != tenant_id {
            return Err(GraphError::unauthenticated(
                "Access token validation failure. Invalid tenant.",
            ));
        }
        let roles = claims["roles"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Caller {
            app_id: claims["appid"].as_str().unwrap_or_default().to_string(),
            tenant_id: tenant_id.to_string(),
            roles,
        })
    }
}

fn hmac_sha256(key: &[u8; 32], data: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(data);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().to_vec()
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The form of a client-credentials token request.
#[derive(Debug, Deserialize)]
pub struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
    scope: Option<String>,
}

/// `POST /{tenant}/oauth2/v2.0/token`.
/// Injected token faults (`crate::sts`) come first, as an outage or a revoked app would.
pub(crate) async fn token(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    form: Result<Form<TokenRequest>, axum::extract::rejection::FormRejection>,
) -> Response {
    let client_id = form.as_ref().ok().and_then(|f| f.client_id.clone());
    crate::sts::with_token_faults(&state, client_id, || issue_token(&state, &tenant, form)).await
}

fn issue_token(
    state: &AppState,
    tenant: &str,
    form: Result<Form<TokenRequest>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return sts_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        )
        .into_response();
    };
    let (tenant_id, domain) = state
        .tenant
        .with(|t| (t.id.clone(), t.default_domain.clone()));
    if !tenant.eq_ignore_ascii_case(&tenant_id) && !tenant.eq_ignore_ascii_case(&domain) {
        return sts_error(
            StatusCode::BAD_REQUEST,
            "invalid_tenant",
            90002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        )
        .into_response();
    }
    if form.grant_type.as_deref() != Some("client_credentials") {
        return sts_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type. The simulator supports 'client_credentials' only.",
        )
        .into_response();
    }
    let scope = form.scope.as_deref().unwrap_or_default();
    if !scope_is_graph_default(scope, &state.base_url) {
        return sts_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            &format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        )
        .into_response();
    }
    let app = match authenticate_client(state, &tenant_id, &form) {
        Ok(app) => app,
        Err(error) => return error.into_response(),
    };
    let token = state.tokens.issue(&tenant_id, &app, &state.base_url);
    state.control.counters.lock().tokens_issued += 1;
    tracing::debug!(app = %app.client_id, "token issued");
    axum::Json(json!({
        "token_type": "Bearer",
        "expires_in": state.tokens.lifetime_secs(),
        "ext_expires_in": state.tokens.lifetime_secs(),
        "access_token": token,
    }))
    .into_response()
}

fn scope_is_graph_default(scope: &str, base_url: &str) -> bool {
    let Some(resource) = scope.strip_suffix("/.default") else {
        return false;
    };
    let resource = resource.trim_end_matches('/');
    // SDKs given only a base URL build the scope from its host without the port
    // (`https://127.0.0.1/.default`, e.g. msgraph-sdk with a custom base URL).
    let host_only = url::Url::parse(base_url)
        .ok()
        .and_then(|u| u.host_str().map(|h| format!("{}://{h}", u.scheme())));
    resource == GRAPH_AUDIENCE
        || resource == GRAPH_APP_ID
        || resource == base_url
        || host_only.as_deref() == Some(resource)
}

fn authenticate_client(
    state: &AppState,
    tenant_id: &str,
    form: &TokenRequest,
) -> Result<AppSeed, StsError> {
    if let Some(assertion) = form.client_assertion.as_deref() {
        if form.client_assertion_type.as_deref() != Some(JWT_BEARER) {
            return Err(sts_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                50027,
                "Invalid client_assertion_type; expected urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
            ));
        }
        return authenticate_assertion(state, tenant_id, form.client_id.as_deref(), assertion);
    }
    let Some(client_id) = form.client_id.as_deref() else {
        return Err(sts_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        ));
    };
    let app = find_app(state, tenant_id, client_id)?;
    let Some(secret) = form.client_secret.as_deref() else {
        return Err(sts_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    };
    if app
        .secrets
        .iter()
        .any(|s| constant_time_eq(s.as_bytes(), secret.as_bytes()))
    {
        Ok(app)
    } else {
        Err(sts_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            &format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        ))
    }
}

fn find_app(state: &AppState, tenant_id: &str, client_id: &str) -> Result<AppSeed, StsError> {
    state.tenant.with(|t| t.app(client_id).cloned()).ok_or_else(|| {
        sts_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!("Application with identifier '{client_id}' was not found in the directory '{tenant_id}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant."),
        )
    })
}

/// A client assertion is either a certificate assertion (`iss` = `sub` = client id, signed with
/// a certificate uploaded to the app) or a federated token (`iss`/`sub` matching one of the
/// app's federated identity credentials). Signatures cannot be checked — the simulator does not
/// hold the certificates or the external issuer's keys — so a well-formed RS256/PS256 JWT with
/// the right claims is accepted (see README).
/// Source: https://learn.microsoft.com/entra/identity-platform/certificate-credentials,
/// https://learn.microsoft.com/entra/workload-id/workload-identity-federation
fn authenticate_assertion(
    state: &AppState,
    tenant_id: &str,
    client_id: Option<&str>,
    assertion: &str,
) -> Result<AppSeed, StsError> {
    let invalid =
        |code: u32, msg: &str| sts_error(StatusCode::UNAUTHORIZED, "invalid_client", code, msg);
    let mut parts = assertion.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid(50027, "JWT token is invalid or malformed."));
    };
    let decode = |part: &str| -> Option<Value> {
        URL_SAFE_NO_PAD
            .decode(part.trim_end_matches('='))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
    };
    let (Some(header), Some(claims)) = (decode(h), decode(p)) else {
        return Err(invalid(50027, "JWT token is invalid or malformed."));
    };
    if s.is_empty() || !matches!(header["alg"].as_str(), Some("RS256" | "PS256")) {
        return Err(invalid(
            5002738,
            "Invalid JWT token. The token is not signed with a supported algorithm (RS256 or PS256).",
        ));
    }
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let Some(exp) = claims["exp"].as_i64() else {
        return Err(invalid(
            50027,
            "Invalid JWT token. The 'exp' claim is missing.",
        ));
    };
    // Five minutes of clock skew, as Entra allows.
    if exp + 300 < now || claims["nbf"].as_i64().is_some_and(|nbf| nbf - 300 > now) {
        return Err(invalid(
            700024,
            "Client assertion is not within its valid time range.",
        ));
    }
    let (Some(iss), Some(sub)) = (claims["iss"].as_str(), claims["sub"].as_str()) else {
        return Err(invalid(
            50027,
            "Invalid JWT token. 'iss' and 'sub' are required.",
        ));
    };
    let audiences: Vec<&str> = match &claims["aud"] {
        Value::String(a) => vec![a.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };

    if iss == sub && client_id.is_none_or(|c| c.eq_ignore_ascii_case(iss)) {
        // Certificate credential.
        let app = find_app(state, tenant_id, iss)?;
        if app.certificate_thumbprints.is_empty() {
            return Err(invalid(
                700027,
                "Client assertion failed signature validation: the application has no certificate credential.",
            ));
        }
        let thumbprint = header["x5t"]
            .as_str()
            .and_then(|x| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(x.trim_end_matches('='))
                    .ok()
            })
            .map(hex::encode);
        if let Some(tp) = thumbprint
            && !app
                .certificate_thumbprints
                .iter()
                .any(|t| t.eq_ignore_ascii_case(&tp))
        {
            return Err(invalid(
                700027,
                "Client assertion contains an invalid signature: the key was not found.",
            ));
        }
        if claims["jti"].as_str().is_none() {
            return Err(invalid(
                50027,
                "Invalid JWT token. The 'jti' claim is required.",
            ));
        }
        let valid_aud = audiences.iter().any(|a| {
            let a = a.trim_end_matches('/');
            a.ends_with(&format!("/{tenant_id}/oauth2/v2.0/token"))
                || a.ends_with(&format!("/{tenant_id}/v2.0"))
        });
        if !valid_aud {
            return Err(invalid(
                700212,
                "No matching federated identity record found for presented assertion audience.",
            ));
        }
        return Ok(app);
    }

    // Federated credential: the client id comes from the form.
    let Some(client_id) = client_id else {
        return Err(sts_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        ));
    };
    let app = find_app(state, tenant_id, client_id)?;
    let matched = app.federated_credentials.iter().any(|f| {
        f.issuer == iss
            && f.subject == sub
            && f.audiences.iter().any(|a| audiences.contains(&a.as_str()))
    });
    if matched {
        Ok(app)
    } else {
        Err(sts_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            70021,
            "No matching federated identity record found for presented assertion.",
        ))
    }
}
