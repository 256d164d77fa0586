//! Beta only: sign-in preferences and per-user MFA requirements.

use super::*;

pub(super) const PREFERENCES: &[&str] = &[
    "push",
    "oath",
    "voiceMobile",
    "voiceAlternateMobile",
    "voiceOffice",
    "sms",
];

/// The strongest registered method, the way system-preferred MFA ranks them.
pub(super) fn system_preferred(auth: &AuthState) -> &'static str {
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

pub(super) fn preference_is_registered(auth: &AuthState, preference: &str) -> bool {
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

pub(super) async fn get_preferences(
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

pub(super) async fn update_preferences(
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

pub(super) async fn get_requirements(
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

pub(super) async fn update_requirements(
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
