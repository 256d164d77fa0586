//! `GET/PATCH /policies/authenticationMethodsPolicy` and
//! `GET/PATCH …/authenticationMethodConfigurations/{id}` (v1.0 and beta).
//!
//! Sources: PASSKEY-ERA.md §1–§2 (learn authenticationmethodspolicy-get / -update,
//! smsauthenticationmethodconfiguration-get / -update).

use axum::Router;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value};

use crate::AppState;
use crate::error::{GraphError, GraphResult};
use crate::odata::{self, GraphJson, ODataQuery};
use crate::pipeline::RequestInfo;
use crate::policy::{
    MethodId, OptOutSettings, RegistrationEnforcementSeed, SystemCredentialPreferences,
};

const POLICY: &str = "/policies/authenticationMethodsPolicy";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(POLICY, get(get_policy).patch(patch_policy))
        .route(
            &format!("{POLICY}/authenticationMethodConfigurations/{{config}}"),
            get(get_config).patch(patch_config),
        )
}

fn is_beta(info: &RequestInfo) -> bool {
    info.version == "beta"
}

fn with_context(mut v: Value, state: &AppState, info: &RequestInfo, fragment: &str) -> Value {
    if let Value::Object(m) = &mut v {
        m.insert(
            "@odata.context".into(),
            Value::String(odata::context(&state.base_url, info, fragment)),
        );
    }
    v
}

fn policy_body(state: &AppState, info: &RequestInfo) -> Value {
    let body = state
        .tenant
        .with(|t| t.methods_policy.to_json(is_beta(info)));
    with_context(body, state, info, "authenticationMethodsPolicy")
}

async fn get_policy(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    query: ODataQuery,
) -> GraphResult<Response> {
    // "This method doesn't support OData query parameters" (learn authenticationmethodspolicy-get).
    query.reject_unsupported(&[])?;
    Ok(axum::Json(policy_body(&state, &info)).into_response())
}

fn parse<T: serde::de::DeserializeOwned>(name: &str, v: &Value) -> GraphResult<T> {
    serde_json::from_value(v.clone())
        .map_err(|e| GraphError::bad_request(format!("Invalid value for property '{name}': {e}")))
}

/// `PATCH /policies/authenticationMethodsPolicy` → 200 with the policy (learn
/// authenticationmethodspolicy-update). Accepts `policyMigrationState`,
/// `registrationEnforcement`, `systemCredentialPreferences`, and on beta `optOutSettings`
/// (RET: the temporary opt-out is a beta property).
async fn patch_policy(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    GraphJson(body): GraphJson<Value>,
) -> GraphResult<Response> {
    let Value::Object(body) = body else {
        return Err(GraphError::bad_request(
            "The request body must be a JSON object.",
        ));
    };
    let now = state.now();
    state.tenant.with(|t| {
        let mut next = t.methods_policy.clone();
        for (key, value) in &body {
            match key.as_str() {
                "@odata.type" | "id" => {}
                "policyMigrationState" => {
                    let s = value.as_str().unwrap_or_default();
                    if !["preMigration", "migrationInProgress", "migrationComplete"].contains(&s) {
                        return Err(GraphError::bad_request(
                            "Invalid value for property 'policyMigrationState'.",
                        ));
                    }
                    next.policy_migration_state = s.to_string();
                }
                "registrationEnforcement" => {
                    let r: RegistrationEnforcementSeed = parse(key, value)?;
                    next.registration_campaign = r.authentication_methods_registration_campaign;
                }
                "systemCredentialPreferences" => {
                    let p: SystemCredentialPreferences = parse(key, value)?;
                    next.system_credential_preferences = p;
                }
                "optOutSettings" if is_beta(&info) => {
                    let o: OptOutSettings = parse(key, value)?;
                    next.passkey_dynamic_migration = o.passkey_dynamic_migration;
                }
                other => {
                    return Err(GraphError::bad_request(format!(
                        "Property '{other}' does not exist as a declared property or extension property."
                    )));
                }
            }
        }
        next.last_modified = now;
        t.methods_policy = next;
        Ok(())
    })?;
    Ok(axum::Json(policy_body(&state, &info)).into_response())
}

fn method_id(segment: &str) -> GraphResult<MethodId> {
    MethodId::parse(segment).ok_or_else(|| GraphError::not_found(segment))
}

async fn get_config(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    Path(config): Path<String>,
    query: ODataQuery,
) -> GraphResult<Response> {
    query.reject_unsupported(&[])?;
    let id = method_id(&config)?;
    let body = state
        .tenant
        .with(|t| t.methods_policy.config(id).to_json(is_beta(&info)));
    let fragment =
        "policies/authenticationMethodsPolicy/authenticationMethodConfigurations/$entity";
    Ok(axum::Json(with_context(body, &state, &info, fragment)).into_response())
}

/// `PATCH …/authenticationMethodConfigurations/{id}` → 204 (the resource page says the
/// response is "None"; 204 assumed). All-or-nothing: an invalid property changes nothing.
async fn patch_config(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    Path(config): Path<String>,
    GraphJson(body): GraphJson<Value>,
) -> GraphResult<StatusCode> {
    let id = method_id(&config)?;
    let body: Map<String, Value> = match body {
        Value::Object(m) => m,
        _ => {
            return Err(GraphError::bad_request(
                "The request body must be a JSON object.",
            ));
        }
    };
    let now = state.now();
    state.tenant.with(|t| {
        let next = t
            .methods_policy
            .config(id)
            .patched(&body, is_beta(&info), t)
            .map_err(GraphError::bad_request)?;
        *t.methods_policy.config_mut(id) = next;
        t.methods_policy.last_modified = now;
        Ok::<_, GraphError>(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}
