//! Authentication methods: the method list, phone and email methods (v1.0; Temporary Access
//! Pass methods are in tap.rs), and the beta sign-in preferences and per-user MFA requirements.
//!
//! Sources (learn.microsoft.com/graph/api/…): authentication-list-methods,
//! authentication-post-phonemethods, phoneauthenticationmethod-update / -delete,
//! authentication-post-emailmethods,
//! authentication-get / authentication-update (beta), and
//! https://learn.microsoft.com/entra/identity/authentication/howto-mfa-userstates.

use axum::Router;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::AppState;
use crate::clock::format_rfc3339;
use crate::error::{GraphError, GraphResult};
use crate::odata::{self, GraphJson};
use crate::pipeline::RequestInfo;
use crate::state::{
    AuthState, ChangeKind, PerUserMfaState, PhoneRecord, PhoneType, UserRecord, method_ids,
};

mod beta;
mod email;
mod phone;

use beta::*;
use email::*;
use phone::*;

const BASE: &str = "/users/{user}/authentication";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(&format!("{BASE}/methods"), get(list_methods))
        .route(&format!("{BASE}/methods/{{method}}"), get(get_method))
        .route(
            &format!("{BASE}/phoneMethods"),
            get(list_phones).post(add_phone),
        )
        .route(
            &format!("{BASE}/phoneMethods/{{method}}"),
            get(get_phone).patch(update_phone).delete(delete_phone),
        )
        .route(
            &format!("{BASE}/phoneMethods/{{method}}/enableSmsSignIn"),
            post(enable_sms_sign_in),
        )
        .route(
            &format!("{BASE}/phoneMethods/{{method}}/disableSmsSignIn"),
            post(disable_sms_sign_in),
        )
        .route(
            &format!("{BASE}/emailMethods"),
            get(list_email).post(add_email),
        )
        .route(
            &format!("{BASE}/emailMethods/{{method}}"),
            get(get_email).patch(update_email).delete(delete_email),
        )
}

/// Only in beta: sign-in preferences and per-user MFA.
pub(crate) fn beta_routes() -> Router<AppState> {
    Router::new()
        .route(
            &format!("{BASE}/signInPreferences"),
            get(get_preferences).patch(update_preferences),
        )
        .route(
            &format!("{BASE}/requirements"),
            get(get_requirements).patch(update_requirements),
        )
}

/// `+{country code} {number}[x{extension}]`; "numbers are rejected when creating or updating
/// if they do not match the required format". The docs do not say whether separators inside
/// the number are allowed; the simulator accepts digits only (the stricter reading, and the
/// form of every example).
pub(crate) fn valid_phone_number(n: &str) -> bool {
    let Some(rest) = n.strip_prefix('+') else {
        return false;
    };
    let Some((cc, number)) = rest.split_once(' ') else {
        return false;
    };
    let (number, ext) = match number.split_once('x') {
        Some((n, e)) => (n, Some(e)),
        None => (number, None),
    };
    let digits = |s: &str, min: usize, max: usize| {
        (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    digits(cc, 1, 3)
        && !cc.starts_with('0')
        && digits(number, 4, 15)
        && ext.is_none_or(|e| digits(e, 1, 10))
}

/// SMS sign-in applies to mobile phones only.
pub(crate) fn sms_state(t: PhoneType) -> &'static str {
    match t {
        PhoneType::Mobile => "ready",
        _ => "notSupported",
    }
}

/// The phone a preferred secondary method relies on.
fn preference_phone(preference: &str) -> Option<PhoneType> {
    match preference {
        "sms" | "voiceMobile" => Some(PhoneType::Mobile),
        "voiceAlternateMobile" => Some(PhoneType::AlternateMobile),
        "voiceOffice" => Some(PhoneType::Office),
        _ => None,
    }
}

fn phone_json(p: &PhoneRecord) -> Map<String, Value> {
    let v = json!({
        "id": p.phone_type.method_id(),
        "phoneNumber": p.phone_number,
        "phoneType": p.phone_type.as_str(),
        "smsSignInState": p.sms_sign_in_state,
    });
    v.as_object().cloned().unwrap_or_default()
}

fn email_json(address: &str) -> Map<String, Value> {
    let v = json!({"id": method_ids::EMAIL, "emailAddress": address});
    v.as_object().cloned().unwrap_or_default()
}

fn typed(mut m: Map<String, Value>, odata_type: &str) -> Value {
    m.insert(
        "@odata.type".into(),
        Value::String(format!("#microsoft.graph.{odata_type}")),
    );
    Value::Object(m)
}

/// Every method of a user, as `GET …/authentication/methods` lists them (`tap_allowed`: the
/// TAP policy targets the user).
fn all_methods(user: &UserRecord, now: OffsetDateTime, tap_allowed: bool) -> Vec<Value> {
    let auth = &user.authentication;
    let mut out = vec![json!({
        "@odata.type": "#microsoft.graph.passwordAuthenticationMethod",
        "id": method_ids::PASSWORD,
        "password": null,
        "createdDateTime": user.properties.get("createdDateTime").cloned().unwrap_or(Value::Null),
    })];
    for p in auth.phones.values() {
        out.push(typed(phone_json(p), "phoneAuthenticationMethod"));
    }
    if let Some(e) = &auth.email {
        out.push(typed(email_json(e), "emailAuthenticationMethod"));
    }
    if let Some(t) = &auth.tap {
        out.push(typed(
            crate::tap::tap_json(t, now, tap_allowed, false),
            "temporaryAccessPassAuthenticationMethod",
        ));
    }
    for o in &auth.other {
        out.push(crate::method_kinds::to_json(o));
    }
    out
}

pub(crate) fn read_user<R>(
    state: &AppState,
    user: &str,
    f: impl FnOnce(&UserRecord) -> GraphResult<R>,
) -> GraphResult<R> {
    state.tenant.with(|t| match t.user(user) {
        Some(u) => f(u),
        None => Err(GraphError::not_found(user)),
    })
}

/// Changes a user's authentication state; logs `AuthenticationChanged` when `f` succeeds.
pub(crate) fn change_auth<R>(
    state: &AppState,
    user: &str,
    f: impl FnOnce(&mut AuthState, OffsetDateTime) -> GraphResult<R>,
) -> GraphResult<R> {
    let now = state.now();
    let (result, event) = state.tenant.with(|t| {
        let id = t
            .resolve_user_id(user)
            .ok_or_else(|| GraphError::not_found(user))?;
        let record = t
            .users
            .get_mut(&id)
            .ok_or_else(|| GraphError::not_found(user))?;
        let result = f(&mut record.authentication, now)?;
        let event = t.log(id, ChangeKind::AuthenticationChanged, now);
        Ok::<_, GraphError>((result, event))
    })?;
    state.tenant.publish([event]);
    Ok(result)
}

fn with_context(
    mut body: Map<String, Value>,
    state: &AppState,
    info: &RequestInfo,
    fragment: &str,
) -> Value {
    body.insert(
        "@odata.context".into(),
        Value::String(odata::context(&state.base_url, info, fragment)),
    );
    Value::Object(body)
}

pub(crate) fn collection(
    state: &AppState,
    info: &RequestInfo,
    user: &str,
    what: &str,
    items: Vec<Value>,
) -> Response {
    axum::Json(odata::collection(
        odata::context(
            &state.base_url,
            info,
            &format!("users('{user}')/authentication/{what}"),
        ),
        items,
        None,
    ))
    .into_response()
}

/// Docs silent on status and code; community scripts match "already exists" (400).
fn already_exists(message: impl Into<String>) -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, "badRequest", message)
}

/// 201 with the new object and its `@odata.context`.
pub(crate) fn created(
    body: Map<String, Value>,
    state: &AppState,
    info: &RequestInfo,
    fragment: &str,
) -> Response {
    (
        StatusCode::CREATED,
        axum::Json(with_context(body, state, info, fragment)),
    )
        .into_response()
}

pub(crate) fn object(body: &Value) -> GraphResult<&Map<String, Value>> {
    body.as_object()
        .ok_or_else(|| GraphError::invalid_request("The request body must be a JSON object."))
}

pub(crate) fn only_keys(
    body: &Map<String, Value>,
    allowed: &[&str],
    read_only: &[&str],
) -> GraphResult<()> {
    for k in body.keys() {
        if read_only.contains(&k.as_str()) {
            return Err(GraphError::invalid_request(format!(
                "Property '{k}' is read-only and cannot be set."
            )));
        }
        if !allowed.contains(&k.as_str()) && !k.starts_with("@odata.") {
            return Err(GraphError::invalid_request(format!(
                "Property '{k}' does not exist as a declared property or extension property."
            )));
        }
    }
    Ok(())
}

// --- the method list ---------------------------------------------------------------------

fn methods_of(state: &AppState, user: &str) -> GraphResult<Vec<Value>> {
    let now = state.now();
    state.tenant.with(|t| match t.user(user) {
        Some(u) => Ok(all_methods(u, now, crate::tap::policy_allows(t, u.id()))),
        None => Err(GraphError::not_found(user)),
    })
}

async fn list_methods(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    Path(user): Path<String>,
) -> GraphResult<Response> {
    let items = methods_of(&state, &user)?;
    Ok(collection(&state, &info, &user, "methods", items))
}

async fn get_method(
    State(state): State<AppState>,
    Path((user, method)): Path<(String, String)>,
) -> GraphResult<Response> {
    let items = methods_of(&state, &user)?;
    items
        .into_iter()
        .find(|m| m["id"] == method.as_str())
        .map(|m| axum::Json(m).into_response())
        .ok_or_else(|| GraphError::not_found(&method))
}

// --- self-registration (admin API) -------------------------------------------------------

/// The user registers a method themselves: `{"phoneType","phoneNumber"}` or `{"kind": …}`.
/// A user in the `enabled` state who completes registration becomes `enforced`.
pub(crate) fn admin_register(state: &AppState, user: &str, method: Value) -> Result<(), String> {
    let exists = state.tenant.with(|t| t.resolve_user_id(user).is_some());
    if !exists {
        return Err(format!("no user {user}"));
    }
    let result = if method.get("kind").is_some() {
        let entry = crate::method_kinds::OtherMethodSeed::Detailed(
            method.as_object().cloned().unwrap_or_default(),
        );
        let created = format_rfc3339(state.now());
        let new =
            crate::method_kinds::from_seed(&entry, |_| uuid::Uuid::new_v4().to_string(), &created)?;
        change_auth(state, user, |auth, _| {
            auth.other.push(new);
            promote(auth);
            Ok(())
        })
    } else {
        let phone_type = parse_phone_type(method.get("phoneType")).map_err(|e| e.message)?;
        let number = parse_phone_number(method.get("phoneNumber")).map_err(|e| e.message)?;
        change_auth(state, user, |auth, _| {
            insert_phone(auth, phone_type, number)?;
            promote(auth);
            Ok(())
        })
    };
    result.map_err(|e| e.message)
}

/// The user adds a phone in My Sign-Ins (`{"phoneType","phoneNumber"}`); same rules as the API.
pub(crate) fn self_register_phone(auth: &mut AuthState, body: &Value) -> Result<PhoneType, String> {
    let phone_type = parse_phone_type(body.get("phoneType")).map_err(|e| e.message)?;
    let number = parse_phone_number(body.get("phoneNumber")).map_err(|e| e.message)?;
    insert_phone(auth, phone_type, number).map_err(|e| e.message)?;
    Ok(phone_type)
}

pub(crate) fn promote(auth: &mut AuthState) {
    if auth.per_user_mfa_state == PerUserMfaState::Enabled {
        auth.per_user_mfa_state = PerUserMfaState::Enforced;
    }
}
