//! Email methods (v1.0).

use super::*;

pub(super) fn parse_email(v: Option<&Value>) -> GraphResult<String> {
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

pub(super) async fn list_email(
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

pub(super) async fn add_email(
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

pub(super) fn check_email_id(method: &str) -> GraphResult<()> {
    if method == method_ids::EMAIL {
        Ok(())
    } else {
        Err(GraphError::not_found(method))
    }
}

pub(super) async fn get_email(
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

pub(super) async fn update_email(
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

pub(super) async fn delete_email(
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
