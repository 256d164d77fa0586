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

mod admin;

pub(crate) use admin::admin_routes;

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
