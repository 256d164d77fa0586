//! What every Graph call goes through, in Graph's order: request id, injected latency and
//! faults, authentication (401), authorisation (403), throttling (429), the handler, then the
//! error envelope, response headers and counters. `$batch` items go through it again, one by one.

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::auth::Caller;
use crate::control::{FaultKind, FaultRule};
use crate::error::{GraphError, apply_headers};
use crate::throttle::Admission;

/// Header a `$batch` dispatch puts on its items (internal; stripped from nothing, harmless).
pub const BATCH_ITEM_HEADER: &str = "x-graph-sim-batch-item";

/// Per-request facts handlers may need.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    pub request_id: String,
    /// `v1.0` or `beta`.
    pub version: String,
}

pub fn is_write(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PATCH | Method::PUT | Method::DELETE
    )
}

/// Splits `/v1.0/users/{user}` into (`v1.0`, `/users/{user}`).
fn split_version(matched: &str) -> (String, String) {
    let trimmed = matched.trim_start_matches('/');
    match trimmed.split_once('/') {
        Some((v, rest)) => (v.to_string(), format!("/{rest}")),
        None => (trimmed.to_string(), "/".to_string()),
    }
}

/// Resource units a call costs (https://learn.microsoft.com/graph/throttling-limits, identity
/// and access: GET users 2, other GETs 1, `$select` −1, `$expand` +1, `$top` < 20 −1, min 1;
/// writes 1).
fn resource_units(method: &Method, template: &str, query: &str) -> u32 {
    if *method != Method::GET {
        return 1;
    }
    let base: i32 = if template == "/users"
        || template == "/users/{user}"
        || template.starts_with("/users/delta")
    {
        2
    } else {
        1
    };
    let mut cost = base;
    let has = |name: &str| {
        query.split('&').any(|kv| {
            let k = kv.split('=').next().unwrap_or_default();
            k.eq_ignore_ascii_case(&format!("${name}"))
                || k.eq_ignore_ascii_case(&format!("%24{name}"))
        })
    };
    if has("select") {
        cost -= 1;
    }
    if has("expand") {
        cost += 1;
    }
    let top = query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.eq_ignore_ascii_case("$top") || k.eq_ignore_ascii_case("%24top"))
            .then(|| v.parse::<u32>().ok())
            .flatten()
    });
    if top.is_some_and(|t| t < 20) {
        cost -= 1;
    }
    cost.max(1) as u32
}

fn fault_error(rule: &FaultRule, status: u16) -> GraphError {
    let retry = rule.retry_after_secs.unwrap_or(1).to_string();
    match status {
        429 => GraphError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Too many requests. Please retry after the time in the Retry-After header.",
        )
        .with_header("retry-after", retry),
        503 => GraphError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "serviceNotAvailable",
            "The service is temporarily unavailable. Please try again later.",
        )
        .with_header("retry-after", retry),
        504 => GraphError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "GatewayTimeout",
            "The gateway did not receive a response in time.",
        ),
        502 => GraphError::new(StatusCode::BAD_GATEWAY, "BadGateway", "Bad gateway."),
        s => GraphError::new(
            StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "generalException",
            "General exception while processing.",
        ),
    }
}

pub(crate) async fn graph_pipeline(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let client_request_id = req
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| request_id.clone());
    let method = req.method().clone();
    let matched = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let (version, template) = match &matched {
        Some(m) => split_version(m),
        None => {
            let (v, _) = split_version(req.uri().path());
            (v, "(unknown)".to_string())
        }
    };
    let key = format!("{method} {template}");
    let query = req.uri().query().unwrap_or_default().to_string();
    req.extensions_mut().insert(RequestInfo {
        request_id: request_id.clone(),
        version: version.clone(),
    });

    let outcome = run(
        &state,
        req,
        next,
        &method,
        &template,
        &key,
        &query,
        matched.is_some(),
    )
    .await;
    let (mut response, resource_units, limit_percentage) = outcome;

    // Errors: the envelope is written here, where the request id and time are known.
    let error = response
        .extensions()
        .get::<GraphError>()
        .cloned()
        .or_else(|| {
            (response.status() == StatusCode::METHOD_NOT_ALLOWED)
                .then(GraphError::method_not_allowed)
        });
    if let Some(error) = error {
        let date = crate::clock::format_rfc3339(state.now());
        response = error.to_response(&request_id, &client_request_id, &date);
    }
    let headers = response.headers_mut();
    let mut extra = vec![
        ("request-id", request_id.clone()),
        ("client-request-id", client_request_id),
        (
            "x-ms-ags-diagnostic",
            r#"{"ServerInfo":{"DataCenter":"Simulated","Slice":"E","Ring":"0","ScaleUnit":"000","RoleInstance":"graph-sim"}}"#.to_string(),
        ),
    ];
    if let Some(ru) = resource_units {
        extra.push(("x-ms-resource-unit", ru.to_string()));
    }
    if let Some(p) = limit_percentage {
        extra.push(("x-ms-throttle-limit-percentage", format!("{p:.1}")));
    }
    apply_headers(headers, &extra);
    if !headers.contains_key("cache-control") {
        headers.insert("cache-control", HeaderValue::from_static("no-cache"));
    }
    state.control.record(
        &key,
        response.status().as_u16(),
        is_write(&method) && template != "/$batch",
    );
    response
}

#[allow(clippy::too_many_arguments)]
async fn run(
    state: &AppState,
    mut req: Request,
    next: Next,
    method: &Method,
    template: &str,
    key: &str,
    query: &str,
    matched: bool,
) -> (Response, Option<u32>, Option<f64>) {
    if !matched {
        return (next.run(req).await, None, None);
    }
    if let Some(delay) = state.control.latency_for(key) {
        tokio::time::sleep(delay).await;
    }
    let fault = state.control.fault_for(key);
    if let Some(rule) = &fault {
        state.control.counters.lock().faults_injected += 1;
        match rule.kind {
            FaultKind::Throttle => return (fault_error(rule, 429).into_response(), None, None),
            FaultKind::Status { status } => {
                return (fault_error(rule, status).into_response(), None, None);
            }
            FaultKind::Timeout {
                hold_ms,
                apply_first: false,
            } => {
                tokio::time::sleep(std::time::Duration::from_millis(hold_ms)).await;
                return (fault_error(rule, 504).into_response(), None, None);
            }
            FaultKind::Timeout {
                apply_first: true, ..
            } => {}
            // Never selected for Graph routes (`ControlState::fault_for` skips token rules).
            FaultKind::TokenError { .. } => {}
        }
    }

    let tenant_id = state.tenant_id();
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return (
            GraphError::unauthenticated("Access token is empty.").into_response(),
            None,
            None,
        );
    };
    let caller: Caller = match state.tokens.verify(token, &tenant_id) {
        Ok(c) => c,
        Err(e) => return (e.into_response(), None, None),
    };
    if let Some(roles) = crate::permissions::required(method, template)
        && !caller.has_any(roles)
    {
        return (GraphError::forbidden().into_response(), None, None);
    }

    let mut units = None;
    let mut percentage = None;
    if template != "/$batch" {
        let cost = resource_units(method, template, query);
        match state
            .throttle
            .admit(&caller.app_id, &tenant_id, cost, is_write(method))
        {
            Admission::Admitted { limit_percentage } => {
                units = Some(cost);
                percentage = limit_percentage;
            }
            Admission::Throttled {
                retry_after_secs,
                scope,
                information,
            } => {
                state.control.counters.lock().throttled_by_quota += 1;
                tracing::debug!(app = %caller.app_id, %information, "throttled");
                let e = GraphError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TooManyRequests",
                    "Too many requests. Please retry after the time in the Retry-After header.",
                )
                .with_header("retry-after", retry_after_secs.to_string())
                .with_header("x-ms-throttle-scope", scope)
                .with_header("x-ms-throttle-information", information);
                return (e.into_response(), None, None);
            }
        }
    }
    req.extensions_mut().insert(caller);
    let response = next.run(req).await;
    if let Some(
        rule @ FaultRule {
            kind: FaultKind::Timeout { hold_ms, .. },
            ..
        },
    ) = &fault
    {
        tokio::time::sleep(std::time::Duration::from_millis(*hold_ms)).await;
        return (fault_error(rule, 504).into_response(), units, percentage);
    }
    (response, units, percentage)
}

/// Fallback for paths Graph does not have.
pub(crate) async fn unknown_resource(req: Request<Body>) -> Response {
    let path = req.uri().path();
    let segment = path
        .trim_start_matches('/')
        .split('/')
        .nth(1)
        .unwrap_or(path)
        .to_string();
    let version = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    if version != "v1.0" && version != "beta" {
        return GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("Invalid version: {version}"),
        )
        .into_response();
    }
    GraphError::unknown_segment(&segment).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_units_follow_the_documented_costs() {
        assert_eq!(resource_units(&Method::GET, "/users/{user}", ""), 2);
        assert_eq!(
            resource_units(&Method::GET, "/users/{user}", "$select=id"),
            1
        );
        assert_eq!(
            resource_units(&Method::GET, "/users", "%24select=id&%24top=5"),
            1
        );
        assert_eq!(
            resource_units(&Method::GET, "/groups/{group}", "$expand=members"),
            2
        );
        assert_eq!(
            resource_units(
                &Method::GET,
                "/users/{user}/authentication/phoneMethods",
                ""
            ),
            1
        );
        assert_eq!(resource_units(&Method::PATCH, "/users/{user}", ""), 1);
    }
}
