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

// --- phone methods -----------------------------------------------------------------------

async fn list_phones(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    Path(user): Path<String>,
) -> GraphResult<Response> {
    let items = read_user(&state, &user, |u| {
        Ok(u.authentication
            .phones
            .values()
            .map(|p| Value::Object(phone_json(p)))
            .collect())
    })?;
    Ok(collection(&state, &info, &user, "phoneMethods", items))
}

fn phone_type_of_id(method: &str) -> GraphResult<PhoneType> {
    PhoneType::from_method_id(method).ok_or_else(|| GraphError::not_found(method))
}

async fn get_phone(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    Path((user, method)): Path<(String, String)>,
) -> GraphResult<Response> {
    let phone_type = phone_type_of_id(&method)?;
    let phone = read_user(&state, &user, |u| {
        u.authentication
            .phones
            .get(&phone_type)
            .cloned()
            .ok_or_else(|| GraphError::not_found(&method))
    })?;
    let fragment = format!("users('{user}')/authentication/phoneMethods/$entity");
    Ok(axum::Json(with_context(phone_json(&phone), &state, &info, &fragment)).into_response())
}

fn parse_phone_type(v: Option<&Value>) -> GraphResult<PhoneType> {
    let s = v
        .and_then(Value::as_str)
        .ok_or_else(|| GraphError::invalid_request("phoneType is required."))?;
    PhoneType::parse(s).ok_or_else(|| {
        GraphError::invalid_request(format!(
            "Invalid value '{s}' for phoneType; expected mobile, alternateMobile or office."
        ))
    })
}

fn parse_phone_number(v: Option<&Value>) -> GraphResult<String> {
    let n = v
        .and_then(Value::as_str)
        .ok_or_else(|| GraphError::invalid_request("phoneNumber is required."))?;
    if !valid_phone_number(n) {
        // The docs give the format but not the error; the wording names the format so a
        // caller can tell a formatting bug from anything else.
        return Err(GraphError::invalid_request(
            "Invalid phone number. The phone number must be in the format +{country code} {number}x{extension}.",
        ));
    }
    Ok(n.to_string())
}

/// The rules shared by the API and self-registration.
fn insert_phone(
    auth: &mut AuthState,
    phone_type: PhoneType,
    number: String,
) -> GraphResult<PhoneRecord> {
    if auth.phones.contains_key(&phone_type) {
        return Err(already_exists(format!(
            "A phone method of type '{}' already exists for this user.",
            phone_type.as_str()
        )));
    }
    if phone_type == PhoneType::AlternateMobile && !auth.phones.contains_key(&PhoneType::Mobile) {
        return Err(GraphError::invalid_request(
            "A user must have a mobile phone before an alternateMobile phone can be added.",
        ));
    }
    let record = PhoneRecord {
        phone_number: number,
        phone_type,
        sms_sign_in_state: sms_state(phone_type).into(),
    };
    auth.phones.insert(phone_type, record.clone());
    Ok(record)
}

async fn add_phone(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    Path(user): Path<String>,
    GraphJson(body): GraphJson<Value>,
) -> GraphResult<Response> {
    let body = object(&body)?;
    only_keys(
        body,
        &["phoneNumber", "phoneType"],
        &["smsSignInState", "id"],
    )?;
    let phone_type = parse_phone_type(body.get("phoneType"))?;
    let number = parse_phone_number(body.get("phoneNumber"))?;
    let record = change_auth(&state, &user, |auth, _| {
        insert_phone(auth, phone_type, number)
    })?;
    let fragment = format!("users('{user}')/authentication/phoneMethods/$entity");
    Ok(created(phone_json(&record), &state, &info, &fragment))
}

async fn update_phone(
    State(state): State<AppState>,
    Path((user, method)): Path<(String, String)>,
    GraphJson(body): GraphJson<Value>,
) -> GraphResult<StatusCode> {
    let phone_type = phone_type_of_id(&method)?;
    let body = object(&body)?;
    only_keys(
        body,
        &["phoneNumber", "phoneType"],
        &["smsSignInState", "id"],
    )?;
    if body.contains_key("phoneType") && parse_phone_type(body.get("phoneType"))? != phone_type {
        return Err(GraphError::invalid_request(
            "The phoneType of a phone method cannot be changed; add a method of the new type and delete the old one.",
        ));
    }
    let number = match body.get("phoneNumber") {
        Some(v) => Some(parse_phone_number(Some(v))?),
        None => None,
    };
    change_auth(&state, &user, |auth, _| {
        let phone = auth
            .phones
            .get_mut(&phone_type)
            .ok_or_else(|| GraphError::not_found(&method))?;
        if let Some(n) = number {
            phone.phone_number = n;
        }
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_phone(
    State(state): State<AppState>,
    Path((user, method)): Path<(String, String)>,
) -> GraphResult<StatusCode> {
    let phone_type = phone_type_of_id(&method)?;
    change_auth(&state, &user, |auth, _| {
        if !auth.phones.contains_key(&phone_type) {
            return Err(GraphError::not_found(&method));
        }
        if phone_type == PhoneType::Mobile && auth.phones.contains_key(&PhoneType::AlternateMobile)
        {
            return Err(GraphError::invalid_request(
                "The mobile phone cannot be deleted while an alternateMobile phone exists.",
            ));
        }
        // "The user's default MFA method cannot be deleted": the docs give no status; 400.
        if auth
            .preferred_secondary_method
            .as_deref()
            .and_then(preference_phone)
            == Some(phone_type)
        {
            return Err(GraphError::invalid_request(
                "The default authentication method of the user cannot be deleted.",
            ));
        }
        auth.phones.remove(&phone_type);
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}

fn set_sms_sign_in(
    state: &AppState,
    user: &str,
    method: &str,
    enable: bool,
) -> GraphResult<StatusCode> {
    let phone_type = phone_type_of_id(method)?;
    change_auth(state, user, |auth, _| {
        let phone = auth
            .phones
            .get_mut(&phone_type)
            .ok_or_else(|| GraphError::not_found(method))?;
        if phone_type != PhoneType::Mobile {
            return Err(GraphError::invalid_request(
                "SMS sign-in can only be enabled on a mobile phone.",
            ));
        }
        phone.sms_sign_in_state = if enable { "ready" } else { "notEnabled" }.into();
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}

async fn enable_sms_sign_in(
    State(state): State<AppState>,
    Path((user, method)): Path<(String, String)>,
) -> GraphResult<StatusCode> {
    set_sms_sign_in(&state, &user, &method, true)
}

async fn disable_sms_sign_in(
    State(state): State<AppState>,
    Path((user, method)): Path<(String, String)>,
) -> GraphResult<StatusCode> {
    set_sms_sign_in(&state, &user, &method, false)
}

// --- email methods -----------------------------------------------------------------------

fn parse_email(v: Option<&Value>) -> GraphResult<String> {
    let e = v
        .and_then(Value::as_str)
        .ok_or_else(|| GraphError::invalid_request("emailAddress is required."))?;
    let valid = e
        .split_once('@')
        .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !e.contains(' '));
    if !valid {
        return Err(GraphError::invalid_request("Invalid email address."));
    }
    Ok(e.to_string())
}

async fn list_email(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    Path(user): Path<String>,
) -> GraphResult<Response> {
    let items = read_user(&state, &user, |u| {
        Ok(u.authentication
            .email
            .iter()
            .map(|e| Value::Object(email_json(e)))
            .collect())
    })?;
    Ok(collection(&state, &info, &user, "emailMethods", items))
}

async fn add_email(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    Path(user): Path<String>,
    GraphJson(body): GraphJson<Value>,
) -> GraphResult<Response> {
    let body = object(&body)?;
    only_keys(body, &["emailAddress"], &["id"])?;
    let email = parse_email(body.get("emailAddress"))?;
    change_auth(&state, &user, |auth, _| {
        if auth.email.is_some() {
            return Err(already_exists(
                "An email method already exists for this user.",
            ));
        }
        auth.email = Some(email.clone());
        Ok(())
    })?;
    let fragment = format!("users('{user}')/authentication/emailMethods/$entity");
    Ok(created(email_json(&email), &state, &info, &fragment))
}

fn check_email_id(method: &str) -> GraphResult<()> {
    if method == method_ids::EMAIL {
        Ok(())
    } else {
        Err(GraphError::not_found(method))
    }
}

async fn get_email(
    State(state): State<AppState>,
    Path((user, method)): Path<(String, String)>,
) -> GraphResult<Response> {
    check_email_id(&method)?;
    let email = read_user(&state, &user, |u| {
        u.authentication
            .email
            .clone()
            .ok_or_else(|| GraphError::not_found(&method))
    })?;
    Ok(axum::Json(Value::Object(email_json(&email))).into_response())
}

async fn update_email(
    State(state): State<AppState>,
    Path((user, method)): Path<(String, String)>,
    GraphJson(body): GraphJson<Value>,
) -> GraphResult<StatusCode> {
    check_email_id(&method)?;
    let body = object(&body)?;
    only_keys(body, &["emailAddress"], &["id"])?;
    let email = parse_email(body.get("emailAddress"))?;
    change_auth(&state, &user, |auth, _| match &mut auth.email {
        Some(e) => {
            *e = email;
            Ok(())
        }
        None => Err(GraphError::not_found(&method)),
    })?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_email(
    State(state): State<AppState>,
    Path((user, method)): Path<(String, String)>,
) -> GraphResult<StatusCode> {
    check_email_id(&method)?;
    change_auth(&state, &user, |auth, _| {
        auth.email
            .take()
            .map(|_| ())
            .ok_or_else(|| GraphError::not_found(&method))
    })?;
    Ok(StatusCode::NO_CONTENT)
}

// --- beta: sign-in preferences and per-user MFA ------------------------------------------

const PREFERENCES: &[&str] = &[
    "push",
    "oath",
    "voiceMobile",
    "voiceAlternateMobile",
    "voiceOffice",
    "sms",
];

/// The strongest registered method, the way system-preferred MFA ranks them.
fn system_preferred(auth: &AuthState) -> &'static str {
    if auth
        .other
        .iter()
        .any(|o| o.kind == "microsoftAuthenticator")
    {
        "push"
    } else if auth.other.iter().any(|o| o.kind == "softwareOath") {
        "oath"
    } else if auth.phones.contains_key(&PhoneType::Mobile) {
        "sms"
    } else if auth.phones.contains_key(&PhoneType::AlternateMobile) {
        "voiceAlternateMobile"
    } else if auth.phones.contains_key(&PhoneType::Office) {
        "voiceOffice"
    } else {
        "none"
    }
}

fn preference_is_registered(auth: &AuthState, preference: &str) -> bool {
    match preference {
        "push" => auth
            .other
            .iter()
            .any(|o| o.kind == "microsoftAuthenticator"),
        "oath" => auth
            .other
            .iter()
            .any(|o| o.kind == "softwareOath" || o.kind == "microsoftAuthenticator"),
        p => preference_phone(p).is_some_and(|t| auth.phones.contains_key(&t)),
    }
}

async fn get_preferences(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    Path(user): Path<String>,
) -> GraphResult<Response> {
    let body = read_user(&state, &user, |u| {
        let a = &u.authentication;
        Ok(json!({
            "isSystemPreferredAuthenticationMethodEnabled": a.system_preferred_enabled,
            "userPreferredMethodForSecondaryAuthentication": a.preferred_secondary_method,
            "systemPreferredAuthenticationMethod": system_preferred(a),
        }))
    })?;
    let body = body.as_object().cloned().unwrap_or_default();
    let fragment = format!("users('{user}')/authentication/signInPreferences");
    Ok(axum::Json(with_context(body, &state, &info, &fragment)).into_response())
}

async fn update_preferences(
    State(state): State<AppState>,
    Path(user): Path<String>,
    GraphJson(body): GraphJson<Value>,
) -> GraphResult<StatusCode> {
    let body = object(&body)?;
    only_keys(
        body,
        &[
            "userPreferredMethodForSecondaryAuthentication",
            "isSystemPreferredAuthenticationMethodEnabled",
        ],
        &["systemPreferredAuthenticationMethod"],
    )?;
    let preference = match body.get("userPreferredMethodForSecondaryAuthentication") {
        None => None,
        Some(v) => {
            let p = v.as_str().filter(|p| PREFERENCES.contains(p)).ok_or_else(|| {
                GraphError::invalid_request(format!(
                    "Invalid value for userPreferredMethodForSecondaryAuthentication; expected one of {}.",
                    PREFERENCES.join(", ")
                ))
            })?;
            Some(p.to_string())
        }
    };
    let system = match body.get("isSystemPreferredAuthenticationMethodEnabled") {
        None => None,
        Some(v) => Some(v.as_bool().ok_or_else(|| {
            GraphError::invalid_request(
                "isSystemPreferredAuthenticationMethodEnabled must be a boolean.",
            )
        })?),
    };
    change_auth(&state, &user, |auth, _| {
        if let Some(p) = &preference
            && !preference_is_registered(auth, p)
        {
            // Docs silent on a preference for a method the user lacks; the simulator refuses
            // it (stricter) so a client cannot "succeed" in setting an unusable default.
            return Err(GraphError::invalid_request(format!(
                "The user has no registered method for the preference '{p}'."
            )));
        }
        if let Some(p) = preference {
            auth.preferred_secondary_method = Some(p);
        }
        if let Some(s) = system {
            auth.system_preferred_enabled = s;
        }
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}

async fn get_requirements(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    Path(user): Path<String>,
) -> GraphResult<Response> {
    let mfa = read_user(&state, &user, |u| Ok(u.authentication.per_user_mfa_state))?;
    let body = json!({"perUserMfaState": mfa.as_str()});
    let fragment = format!("users('{user}')/authentication/requirements");
    Ok(axum::Json(with_context(
        body.as_object().cloned().unwrap_or_default(),
        &state,
        &info,
        &fragment,
    ))
    .into_response())
}

async fn update_requirements(
    State(state): State<AppState>,
    Path(user): Path<String>,
    GraphJson(body): GraphJson<Value>,
) -> GraphResult<StatusCode> {
    let body = object(&body)?;
    only_keys(body, &["perUserMfaState"], &[])?;
    let wanted = body
        .get("perUserMfaState")
        .and_then(Value::as_str)
        .and_then(PerUserMfaState::parse)
        .ok_or_else(|| {
            GraphError::invalid_request(
                "perUserMfaState must be one of disabled, enabled, enforced.",
            )
        })?;
    change_auth(&state, &user, |auth, _| {
        // "enabled" for a user who already has a strong method is "enforced" straight away
        // (howto-mfa-userstates: users who complete registration move to Enforced).
        auth.per_user_mfa_state = if wanted == PerUserMfaState::Enabled && auth.has_strong_method()
        {
            PerUserMfaState::Enforced
        } else {
            wanted
        };
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
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
