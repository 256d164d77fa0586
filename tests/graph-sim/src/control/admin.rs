//! The admin HTTP API (`/_sim/…`): clock, latency and fault rules, counters, throttling, the
//! tenant's state and change log, and users and methods as an administrator sets them.

use super::*;

/// `/_sim/…` routes.
pub(crate) fn admin_routes() -> Router<AppState> {
    Router::new()
        .route("/clock", get(get_clock))
        .route("/clock/advance", post(advance_clock))
        .route(
            "/latency",
            get(get_latency).put(put_latency).delete(delete_latency),
        )
        .route(
            "/faults",
            get(get_faults)
                .put(put_faults)
                .post(post_fault)
                .delete(delete_faults),
        )
        .route("/counters", get(get_counters).delete(delete_counters))
        .route("/throttle", axum::routing::put(put_throttle))
        .route("/state", get(get_state))
        .route("/changes", get(get_changes))
        .route("/users", post(create_user))
        .route(
            "/users/{user}",
            get(get_user).patch(update_user).delete(delete_user),
        )
        .route("/users/{user}/methods", post(register_method))
}

fn admin_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

fn json_body(
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Result<Value, String> {
    body.map(|Json(v)| v).map_err(|e| e.body_text())
}

async fn get_clock(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "now": crate::clock::format_rfc3339(state.now()),
        "offsetSeconds": state.clock.offset().whole_seconds(),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Advance {
    #[serde(default)]
    seconds: u64,
    #[serde(default)]
    minutes: u64,
    #[serde(default)]
    hours: u64,
    #[serde(default)]
    days: u64,
}

async fn advance_clock(
    State(state): State<AppState>,
    body: Result<Json<Advance>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(a)) = body else {
        return admin_error(
            StatusCode::BAD_REQUEST,
            "expected {\"seconds\"|\"minutes\"|\"hours\"|\"days\": N}",
        );
    };
    let secs = a.seconds + a.minutes * 60 + a.hours * 3600 + a.days * 86_400;
    let now = Control::new(state).advance_clock(std::time::Duration::from_secs(secs));
    Json(json!({"now": crate::clock::format_rfc3339(now)})).into_response()
}

async fn get_latency(State(state): State<AppState>) -> Json<Vec<LatencyRule>> {
    Json(state.control.latency.lock().clone())
}

async fn put_latency(
    State(state): State<AppState>,
    body: Result<Json<Vec<LatencyRule>>, axum::extract::rejection::JsonRejection>,
) -> Response {
    match body {
        Ok(Json(rules)) => {
            *state.control.latency.lock() = rules;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => admin_error(StatusCode::BAD_REQUEST, e.body_text()),
    }
}

async fn delete_latency(State(state): State<AppState>) -> StatusCode {
    state.control.latency.lock().clear();
    StatusCode::NO_CONTENT
}

async fn get_faults(State(state): State<AppState>) -> Json<Vec<FaultRule>> {
    Json(state.control.faults.lock().clone())
}

fn valid_fault(rule: &FaultRule) -> Result<(), String> {
    if !(0.0..=1.0).contains(&rule.rate) {
        return Err("rate must be between 0 and 1".into());
    }
    if let FaultKind::Status { status } = rule.kind
        && !(400..=599).contains(&status)
    {
        return Err("status must be 4xx or 5xx".into());
    }
    if let FaultKind::TokenError { status, .. } = rule.kind {
        if !rule.is_token_rule() {
            return Err(format!(
                "tokenError applies to the token route only ({TOKEN_ROUTE})"
            ));
        }
        if status.is_some_and(|s| !(400..=499).contains(&s)) {
            return Err("a tokenError status must be 4xx".into());
        }
    }
    Ok(())
}

async fn put_faults(
    State(state): State<AppState>,
    body: Result<Json<Vec<FaultRule>>, axum::extract::rejection::JsonRejection>,
) -> Response {
    match body {
        Ok(Json(rules)) => {
            if let Some(e) = rules.iter().find_map(|r| valid_fault(r).err()) {
                return admin_error(StatusCode::BAD_REQUEST, e);
            }
            *state.control.faults.lock() = rules;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => admin_error(StatusCode::BAD_REQUEST, e.body_text()),
    }
}

async fn post_fault(
    State(state): State<AppState>,
    body: Result<Json<FaultRule>, axum::extract::rejection::JsonRejection>,
) -> Response {
    match body {
        Ok(Json(rule)) => {
            if let Err(e) = valid_fault(&rule) {
                return admin_error(StatusCode::BAD_REQUEST, e);
            }
            state.control.faults.lock().push(rule);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => admin_error(StatusCode::BAD_REQUEST, e.body_text()),
    }
}

async fn delete_faults(State(state): State<AppState>) -> StatusCode {
    state.control.faults.lock().clear();
    StatusCode::NO_CONTENT
}

async fn get_counters(State(state): State<AppState>) -> Json<Counters> {
    Json(state.control.counters.lock().clone())
}

async fn delete_counters(State(state): State<AppState>) -> StatusCode {
    *state.control.counters.lock() = Counters::default();
    StatusCode::NO_CONTENT
}

async fn put_throttle(
    State(state): State<AppState>,
    body: Result<Json<crate::ThrottleOptions>, axum::extract::rejection::JsonRejection>,
) -> Response {
    match body {
        Ok(Json(options)) => {
            state.throttle.reconfigure(options);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => admin_error(StatusCode::BAD_REQUEST, e.body_text()),
    }
}

async fn get_state(State(state): State<AppState>) -> Json<Value> {
    Json(dump(&state))
}

#[derive(Deserialize)]
struct Since {
    #[serde(default)]
    since: u64,
}

async fn get_changes(
    State(state): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<Since>,
) -> Json<Vec<ChangeEvent>> {
    Json(state.tenant.with(|t| t.changes_since(q.since)))
}

async fn create_user(
    State(state): State<AppState>,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let body = match json_body(body) {
        Ok(b) => b,
        Err(e) => return admin_error(StatusCode::BAD_REQUEST, e),
    };
    match crate::users::admin_create(&state, body) {
        Ok(id) => {
            let user = state
                .tenant
                .with(|t| t.user(&id).map(|u| Value::Object(u.properties.clone())));
            (StatusCode::CREATED, Json(user.unwrap_or(Value::Null))).into_response()
        }
        Err(e) => admin_error(StatusCode::BAD_REQUEST, e),
    }
}

async fn get_user(State(state): State<AppState>, Path(user): Path<String>) -> Response {
    match Control::new(state).user(&user) {
        Some(v) => Json(v).into_response(),
        None => admin_error(StatusCode::NOT_FOUND, format!("no user {user}")),
    }
}

async fn update_user(
    State(state): State<AppState>,
    Path(user): Path<String>,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let body = match json_body(body) {
        Ok(b) => b,
        Err(e) => return admin_error(StatusCode::BAD_REQUEST, e),
    };
    match crate::users::admin_update(&state, &user, body) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) if e.starts_with("no user") => admin_error(StatusCode::NOT_FOUND, e),
        Err(e) => admin_error(StatusCode::BAD_REQUEST, e),
    }
}

async fn delete_user(State(state): State<AppState>, Path(user): Path<String>) -> Response {
    match crate::users::admin_delete(&state, &user) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => admin_error(StatusCode::NOT_FOUND, e),
    }
}

async fn register_method(
    State(state): State<AppState>,
    Path(user): Path<String>,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let body = match json_body(body) {
        Ok(b) => b,
        Err(e) => return admin_error(StatusCode::BAD_REQUEST, e),
    };
    match crate::methods::admin_register(&state, &user, body) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) if e.starts_with("no user") => admin_error(StatusCode::NOT_FOUND, e),
        Err(e) => admin_error(StatusCode::BAD_REQUEST, e),
    }
}
