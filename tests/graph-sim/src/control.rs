//! Test controls: the `/_sim/` admin API (no token) and its Rust twin [`Control`].
//!
//! Routes are named by *route key*: `"{METHOD} {template}"` with the Graph version stripped,
//! e.g. `"POST /users/{user}/authentication/phoneMethods"`. A rule's `route` matches a key when
//! it is `*`, equal to the key, equal to the template alone (any method), or a prefix ending
//! in `*` (`"GET /users*"`).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::AppState;
use crate::state::ChangeEvent;

/// Delay added to matching calls: fixed (`min_ms == max_ms`) or uniform in `[min_ms, max_ms]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LatencyRule {
    pub route: String,
    pub min_ms: u64,
    #[serde(default)]
    pub max_ms: Option<u64>,
}

/// What an injected fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum FaultKind {
    /// 429 `TooManyRequests` with `Retry-After`.
    Throttle,
    /// A 5xx (500, 502, 503, 504) with Graph's error body; 503 carries `Retry-After`.
    Status { status: u16 },
    /// No answer for `hold_ms` (the client times out), then 504. With `apply_first` the
    /// request is carried out before the silence: the write happened but the caller never
    /// hears so.
    Timeout {
        hold_ms: u64,
        #[serde(default)]
        apply_first: bool,
    },
    /// Token endpoint only ([`TOKEN_ROUTE`]): Entra refuses the request with this OAuth error in
    /// its error body (`error`, `error_description` with the AADSTS code, `error_codes`, …).
    /// `status` defaults to 401 for `invalid_client`, 400 for `unauthorized_client`.
    TokenError {
        error: TokenErrorCode,
        #[serde(default)]
        status: Option<u16>,
    },
}

/// The route key of the Entra token endpoint, for [`FaultRule`]s. Only rules naming it exactly
/// (or its template `/{tenant}/oauth2/v2.0/token`) reach the token endpoint: `*` and other
/// wildcards stay Graph-only, so chaos rules written for Graph do not also fail token requests.
/// On the token route `throttle`, `status` and `timeout` answer in Entra's error shape.
pub const TOKEN_ROUTE: &str = "POST /{tenant}/oauth2/v2.0/token";
const TOKEN_TEMPLATE: &str = "/{tenant}/oauth2/v2.0/token";

/// The OAuth errors a token fault can answer with: a secret that expired (`invalid_client`,
/// AADSTS7000222) and an app that was disabled (`unauthorized_client`, AADSTS7000112).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenErrorCode {
    InvalidClient,
    UnauthorizedClient,
}

/// Injects `kind` into matching calls with probability `rate` (0–1), at most `count` times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultRule {
    pub route: String,
    #[serde(flatten)]
    pub kind: FaultKind,
    #[serde(default = "one")]
    pub rate: f64,
    #[serde(default)]
    pub count: Option<u32>,
    /// Seconds for `Retry-After` on 429/503 (default 1).
    #[serde(default)]
    pub retry_after_secs: Option<u32>,
    /// Armed only once a call on this route (a pattern, as `route`) has been answered: puts a
    /// fault between two steps of one piece of work, e.g. the token endpoint failing after a
    /// user's phone was added and before MFA is switched on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_route: Option<String>,
}

fn one() -> f64 {
    1.0
}

impl FaultRule {
    pub fn new(route: impl Into<String>, kind: FaultKind) -> Self {
        Self {
            route: route.into(),
            kind,
            rate: 1.0,
            count: None,
            retry_after_secs: None,
            after_route: None,
        }
    }
    pub fn rate(mut self, rate: f64) -> Self {
        self.rate = rate;
        self
    }
    pub fn times(mut self, count: u32) -> Self {
        self.count = Some(count);
        self
    }
    /// See [`FaultRule::after_route`].
    pub fn after(mut self, route: impl Into<String>) -> Self {
        self.after_route = Some(route.into());
        self
    }
}

impl FaultRule {
    /// Whether the rule is for the token endpoint rather than Graph.
    pub fn is_token_rule(&self) -> bool {
        self.route == TOKEN_ROUTE || self.route == TOKEN_TEMPLATE
    }
}

pub(crate) fn route_matches(pattern: &str, key: &str) -> bool {
    if pattern == "*" || pattern == key {
        return true;
    }
    if let Some(prefix) = pattern.strip_suffix('*') {
        return key.starts_with(prefix)
            || key
                .split_once(' ')
                .is_some_and(|(_, t)| t.starts_with(prefix));
    }
    key.split_once(' ').is_some_and(|(_, t)| t == pattern)
}

/// Calls by route key and status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteCounters {
    pub total: u64,
    pub by_status: BTreeMap<u16, u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    /// Graph calls (including `$batch` items) by route key.
    pub routes: BTreeMap<String, RouteCounters>,
    /// Successful writes (POST/PATCH/PUT/DELETE answered 2xx).
    pub writes: u64,
    /// Every 429 served, throttled or injected.
    pub throttled: u64,
    /// 429s from the throttling model alone.
    pub throttled_by_quota: u64,
    pub faults_injected: u64,
    pub tokens_issued: u64,
}

impl Counters {
    /// Calls to routes matching `pattern` (see module docs), any status.
    pub fn calls(&self, pattern: &str) -> u64 {
        self.routes
            .iter()
            .filter(|(k, _)| route_matches(pattern, k))
            .map(|(_, c)| c.total)
            .sum()
    }

    /// Calls to routes matching `pattern` answered with `status`.
    pub fn calls_with_status(&self, pattern: &str, status: u16) -> u64 {
        self.routes
            .iter()
            .filter(|(k, _)| route_matches(pattern, k))
            .map(|(_, c)| c.by_status.get(&status).copied().unwrap_or(0))
            .sum()
    }
}

/// Mutable test-control state.
pub(crate) struct ControlState {
    pub latency: Mutex<Vec<LatencyRule>>,
    pub faults: Mutex<Vec<FaultRule>>,
    pub counters: Mutex<Counters>,
    pub rng: Mutex<StdRng>,
}

impl ControlState {
    pub fn new(seed: Option<u64>) -> Self {
        let rng = match seed {
            Some(s) => StdRng::seed_from_u64(s),
            None => StdRng::seed_from_u64(rand::random()),
        };
        Self {
            latency: Mutex::new(Vec::new()),
            faults: Mutex::new(Vec::new()),
            counters: Mutex::new(Counters::default()),
            rng: Mutex::new(rng),
        }
    }

    pub fn latency_for(&self, key: &str) -> Option<std::time::Duration> {
        let rule = self
            .latency
            .lock()
            .iter()
            .find(|r| route_matches(&r.route, key))
            .cloned()?;
        let max = rule.max_ms.unwrap_or(rule.min_ms).max(rule.min_ms);
        let ms = if max == rule.min_ms {
            max
        } else {
            self.rng.lock().random_range(rule.min_ms..=max)
        };
        Some(std::time::Duration::from_millis(ms))
    }

    /// Rolls every matching rule in order; the first that fires is used (and counted down).
    pub fn fault_for(&self, key: &str) -> Option<FaultRule> {
        self.fault_where(|rule| {
            !rule.is_token_rule()
                && !matches!(rule.kind, FaultKind::TokenError { .. })
                && route_matches(&rule.route, key)
        })
    }

    /// The token endpoint's fault, if one fires (rules naming [`TOKEN_ROUTE`] only).
    pub fn token_fault(&self) -> Option<FaultRule> {
        self.fault_where(FaultRule::is_token_rule)
    }

    fn fault_where(&self, applies: impl Fn(&FaultRule) -> bool) -> Option<FaultRule> {
        let armed = |rule: &FaultRule| match &rule.after_route {
            None => true,
            Some(route) => self.counters.lock().calls(route) > 0,
        };
        let mut faults = self.faults.lock();
        let mut rng = self.rng.lock();
        let mut fired = None;
        for (i, rule) in faults.iter_mut().enumerate() {
            if !applies(rule) || rule.count == Some(0) || !armed(rule) {
                continue;
            }
            if rule.rate >= 1.0 || rng.random_bool(rule.rate.clamp(0.0, 1.0)) {
                if let Some(n) = rule.count.as_mut() {
                    *n -= 1;
                }
                fired = Some((i, rule.clone()));
                break;
            }
        }
        if let Some((i, _)) = &fired
            && faults[*i].count == Some(0)
        {
            faults.remove(*i);
        }
        fired.map(|(_, r)| r)
    }

    pub fn record(&self, key: &str, status: u16, is_write: bool) {
        let mut c = self.counters.lock();
        let route = c.routes.entry(key.to_string()).or_default();
        route.total += 1;
        *route.by_status.entry(status).or_default() += 1;
        if is_write && (200..300).contains(&status) {
            c.writes += 1;
        }
        if status == 429 {
            c.throttled += 1;
        }
    }
}

/// The Rust twin of `/_sim/`.
#[derive(Clone)]
pub struct Control {
    state: AppState,
}

impl Control {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }

    /// For the control methods other modules add (`impl Control` in notify.rs, …).
    pub(crate) fn app_state(&self) -> &AppState {
        &self.state
    }

    /// The simulated time.
    pub fn now(&self) -> time::OffsetDateTime {
        self.state.now()
    }

    /// Moves the simulated clock forward.
    pub fn advance_clock(&self, by: std::time::Duration) -> time::OffsetDateTime {
        let by = time::Duration::try_from(by).unwrap_or(time::Duration::MAX);
        self.state.clock.advance(by)
    }

    pub fn set_latency(&self, rules: Vec<LatencyRule>) {
        *self.state.control.latency.lock() = rules;
    }

    pub fn add_fault(&self, rule: FaultRule) {
        self.state.control.faults.lock().push(rule);
    }

    pub fn set_faults(&self, rules: Vec<FaultRule>) {
        *self.state.control.faults.lock() = rules;
    }

    pub fn clear_faults(&self) {
        self.state.control.faults.lock().clear();
    }

    pub fn counters(&self) -> Counters {
        self.state.control.counters.lock().clone()
    }

    pub fn reset_counters(&self) {
        *self.state.control.counters.lock() = Counters::default();
    }

    /// Changes the throttling limits while running.
    pub fn set_throttle(&self, options: crate::ThrottleOptions) {
        self.state.throttle.reconfigure(options);
    }

    /// The whole tenant as JSON (users with their methods and MFA state, groups, roles,
    /// subscriptions, the change log, clock).
    pub fn dump(&self) -> Value {
        dump(&self.state)
    }

    /// One user's full record (properties and authentication), by id or UPN.
    pub fn user(&self, id_or_upn: &str) -> Option<Value> {
        self.state
            .tenant
            .with(|t| t.user(id_or_upn).and_then(|u| serde_json::to_value(u).ok()))
    }

    /// Creates a user as AD sync or HR provisioning would (no token, no quota). Returns its id.
    pub fn create_user(&self, properties: Value) -> Result<String, String> {
        crate::users::admin_create(&self.state, properties)
    }

    /// Changes user properties as AD sync would (any property, including on-premises ones).
    pub fn update_user(&self, id_or_upn: &str, properties: Value) -> Result<(), String> {
        crate::users::admin_update(&self.state, id_or_upn, properties)
    }

    pub fn delete_user(&self, id_or_upn: &str) -> Result<(), String> {
        crate::users::admin_delete(&self.state, id_or_upn)
    }

    /// The user registers a method themselves (`phoneType`+`phoneNumber`, or
    /// `{"kind":"microsoftAuthenticator"}`), bypassing the app-only API.
    pub fn register_method(&self, id_or_upn: &str, method: Value) -> Result<(), String> {
        crate::methods::admin_register(&self.state, id_or_upn, method)
    }

    /// Changes logged after `seq` (0 = all).
    pub fn changes_since(&self, seq: u64) -> Vec<ChangeEvent> {
        self.state.tenant.with(|t| t.changes_since(seq))
    }

    /// A receiver of every change from now on.
    pub fn subscribe_changes(&self) -> tokio::sync::broadcast::Receiver<ChangeEvent> {
        self.state.tenant.subscribe_changes()
    }
}

pub(crate) fn dump(state: &AppState) -> Value {
    let now = crate::clock::format_rfc3339(state.now());
    let offset = state.clock.offset().whole_seconds();
    state.tenant.with(|t| {
        let mut v = serde_json::to_value(&*t).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut v {
            // Our model of Entra's SMS/voice delivery per user on the simulated date.
            let telephony = crate::telephony::all(t, state.now());
            map.insert(
                "telephony".into(),
                serde_json::to_value(telephony).unwrap_or(Value::Null),
            );
            map.insert("now".into(), Value::String(now));
            map.insert("clockOffsetSeconds".into(), json!(offset));
        }
        v
    })
}

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
