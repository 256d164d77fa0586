//! Entra's side of the token endpoint beyond issuing tokens: its error body, injected token
//! faults (outages, a revoked or disabled app), and the OpenID discovery document MSAL-based
//! SDKs fetch before asking for a token.
//!
//! Sources: error body and codes — https://learn.microsoft.com/entra/identity-platform/reference-error-codes
//! (AADSTS7000222 expired client secret, AADSTS7000112 disabled application, AADSTS90033
//! MsodsServiceUnavailable, AADSTS90024 RequestBudgetExceededError, AADSTS50000
//! TokenIssuanceError); discovery — https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc
//! (`{authority}/{tenant}/v2.0/.well-known/openid-configuration`).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use time::OffsetDateTime;

use crate::AppState;
use crate::control::{FaultKind, FaultRule, TokenErrorCode};

/// An Entra (AAD STS) error, the shape azure_identity reads (`error_codes`,
/// `error_description`). Source: https://learn.microsoft.com/entra/identity-platform/reference-error-codes
pub(crate) struct StsError {
    status: StatusCode,
    error: &'static str,
    code: u32,
    description: String,
}

pub(crate) fn sts_error(
    status: StatusCode,
    error: &'static str,
    code: u32,
    description: &str,
) -> StsError {
    StsError {
        status,
        error,
        code,
        description: description.to_string(),
    }
}

impl IntoResponse for StsError {
    fn into_response(self) -> Response {
        let Self {
            status,
            error,
            code,
            description,
        } = self;
        sts_response(status, error, code, &description)
    }
}

fn sts_response(status: StatusCode, error: &str, code: u32, description: &str) -> Response {
    let now = OffsetDateTime::now_utc();
    let trace_id = uuid::Uuid::new_v4().to_string();
    let correlation_id = uuid::Uuid::new_v4().to_string();
    let timestamp = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let description = format!(
        "AADSTS{code}: {description} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {timestamp}"
    );
    (
        status,
        axum::Json(json!({
            "error": error,
            "error_description": description,
            "error_codes": [code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        })),
    )
        .into_response()
}

/// Runs `issue` unless an injected token fault applies (rules whose route is
/// [`crate::control::TOKEN_ROUTE`]; wildcard Graph rules never reach the token endpoint).
pub(crate) async fn with_token_faults(
    state: &AppState,
    client_id: Option<String>,
    issue: impl FnOnce() -> Response,
) -> Response {
    let Some(rule) = state.control.token_fault() else {
        return issue();
    };
    state.control.counters.lock().faults_injected += 1;
    let client = client_id.unwrap_or_default();
    match rule.kind {
        FaultKind::TokenError { error, status } => {
            let status = status
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(match error {
                    TokenErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
                    TokenErrorCode::UnauthorizedClient => StatusCode::BAD_REQUEST,
                });
            let (name, code, text) = match error {
                TokenErrorCode::InvalidClient => (
                    "invalid_client",
                    7000222,
                    format!(
                        "The provided client secret keys for app '{client}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds."
                    ),
                ),
                TokenErrorCode::UnauthorizedClient => (
                    "unauthorized_client",
                    7000112,
                    format!("Application '{client}' is disabled."),
                ),
            };
            sts_error(status, name, code, &text).into_response()
        }
        FaultKind::Throttle => with_retry_after(
            &rule,
            sts_error(
                StatusCode::TOO_MANY_REQUESTS,
                "temporarily_unavailable",
                90024,
                "RequestBudgetExceededError: a transient error has occurred. Please try again.",
            )
            .into_response(),
        ),
        FaultKind::Status { status } => with_retry_after(&rule, server_error(status)),
        FaultKind::Timeout {
            hold_ms,
            apply_first,
        } => {
            // With `apply_first` the token is issued (and counted) but never delivered.
            if apply_first {
                drop(issue());
            }
            tokio::time::sleep(std::time::Duration::from_millis(hold_ms)).await;
            server_error(504)
        }
    }
}

/// A 5xx from the token service: `temporarily_unavailable` for 503/504 (the directory is
/// unavailable), `server_error` otherwise.
fn server_error(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if matches!(status.as_u16(), 503 | 504) {
        sts_error(
            status,
            "temporarily_unavailable",
            90033,
            "The Microsoft Online Directory Service (MSODS) isn't available.",
        )
        .into_response()
    } else {
        sts_error(
            status,
            "server_error",
            50000,
            "There was an error issuing a token or an issue with our sign-in service.",
        )
        .into_response()
    }
}

fn with_retry_after(rule: &FaultRule, mut response: Response) -> Response {
    if let Some(secs) = rule.retry_after_secs
        && let Ok(v) = secs.to_string().parse()
    {
        response.headers_mut().insert("retry-after", v);
    }
    response
}

/// Discovery and keys, next to the token endpoint.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(keys))
}

/// The tenant id for an id or the default domain, or Entra's `invalid_tenant` answer.
fn resolve_tenant(state: &AppState, tenant: &str) -> Result<String, StsError> {
    let (id, domain) = state
        .tenant
        .with(|t| (t.id.clone(), t.default_domain.clone()));
    if tenant.eq_ignore_ascii_case(&id) || tenant.eq_ignore_ascii_case(&domain) {
        Ok(id)
    } else {
        Err(sts_error(
            StatusCode::BAD_REQUEST,
            "invalid_tenant",
            90002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        ))
    }
}

/// Entra's v2.0 discovery document, every endpoint on the simulator. As Entra does, the document
/// names the tenant by id even when asked by domain; `issuer` is the simulator's own
/// `{base}/{tenant id}/v2.0` (MSAL checks the issuer against the authority host).
async fn openid_configuration(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> Response {
    let id = match resolve_tenant(&state, &tenant) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let base = &state.base_url;
    let host = base
        .split_once("://")
        .map_or(base.as_str(), |(_, rest)| rest);
    axum::Json(json!({
        "token_endpoint": format!("{base}/{id}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{id}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{base}/{id}/v2.0"),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{base}/oidc/userinfo"),
        "authorization_endpoint": format!("{base}/{id}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/{id}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/{id}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
            "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid",
            "ver", "at_hash", "c_hash", "email"],
        "kerberos_endpoint": format!("{base}/{id}/kerberos"),
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": host,
        "rbac_url": "https://pas.windows.net",
    }))
    .into_response()
}

/// The signing keys. The simulator signs access tokens with a symmetric key only it knows (see
/// auth.rs) and issues no id tokens, so the set is empty: nobody else can verify its tokens.
async fn keys(State(state): State<AppState>, Path(tenant): Path<String>) -> Response {
    match resolve_tenant(&state, &tenant) {
        Ok(_) => axum::Json(json!({"keys": []})).into_response(),
        Err(e) => e.into_response(),
    }
}
