//! Phone methods (v1.0): list, get, add, update, delete, SMS sign-in.

use super::*;

pub(super) async fn list_phones(
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

pub(super) fn phone_type_of_id(method: &str) -> GraphResult<PhoneType> {
    PhoneType::from_method_id(method).ok_or_else(|| GraphError::not_found(method))
}

pub(super) async fn get_phone(
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

pub(super) fn parse_phone_type(v: Option<&Value>) -> GraphResult<PhoneType> {
    let s = v
        .and_then(Value::as_str)
        .ok_or_else(|| GraphError::invalid_request("phoneType is required."))?;
    PhoneType::parse(s).ok_or_else(|| {
        GraphError::invalid_request(format!(
            "Invalid value '{s}' for phoneType; expected mobile, alternateMobile or office."
        ))
    })
}

pub(super) fn parse_phone_number(v: Option<&Value>) -> GraphResult<String> {
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
pub(super) fn insert_phone(
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

pub(super) async fn add_phone(
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

pub(super) async fn update_phone(
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

pub(super) async fn delete_phone(
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

pub(super) fn set_sms_sign_in(
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

pub(super) async fn enable_sms_sign_in(
    State(state): State<AppState>,
    Path((user, method)): Path<(String, String)>,
) -> GraphResult<StatusCode> {
    set_sms_sign_in(&state, &user, &method, true)
}

pub(super) async fn disable_sms_sign_in(
    State(state): State<AppState>,
    Path((user, method)): Path<(String, String)>,
) -> GraphResult<StatusCode> {
    set_sms_sign_in(&state, &user, &method, false)
}
