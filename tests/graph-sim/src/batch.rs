//! `POST /$batch` (v1.0 and beta): up to 20 requests, `dependsOn`, 424 for dependents of a
//! failure, each item through the whole pipeline (authentication, permissions, throttling,
//! faults) on its own — so a 200 batch can hold 429 items.
//! Source: https://learn.microsoft.com/graph/json-batching
//!
//! Docs-silent choices: items run one at a time in dependency order; `dependsOn` naming an
//! unknown id or forming a cycle fails the whole batch with 400; an item with a body but no
//! Content-Type fails on its own with 400; responses come back in reverse request order (Graph
//! promises no order, and a client that matches by position should fail here, not in
//! production).

use std::collections::{HashMap, HashSet};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Map, Value, json};
use tower::ServiceExt;

use crate::AppState;
use crate::error::{GraphError, GraphResult};
use crate::odata::GraphJson;
use crate::pipeline::{BATCH_ITEM_HEADER, RequestInfo};

/// https://learn.microsoft.com/graph/json-batching#batch-size-limitations
pub const MAX_BATCH_REQUESTS: usize = 20;
const MAX_ITEM_BODY: usize = 4 * 1024 * 1024;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/$batch", post(batch))
}

struct Item {
    id: String,
    method: Method,
    url: String,
    headers: Map<String, Value>,
    body: Option<Value>,
    depends_on: Vec<String>,
}

fn bad(message: impl Into<String>) -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, "BadRequest", message)
}

fn parse(body: &Value) -> GraphResult<Vec<Item>> {
    let requests = body
        .get("requests")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("Invalid batch payload format: 'requests' must be an array."))?;
    if requests.is_empty() {
        return Err(bad("Invalid batch payload format: 'requests' is empty."));
    }
    if requests.len() > MAX_BATCH_REQUESTS {
        return Err(bad(format!(
            "Too many requests in the batch: {} (at most {MAX_BATCH_REQUESTS}).",
            requests.len()
        )));
    }
    let mut items = Vec::with_capacity(requests.len());
    let mut ids = HashSet::new();
    for r in requests {
        let id = match r.get("id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(bad(
                    "Invalid batch payload format: every request needs an 'id'.",
                ));
            }
        };
        if !ids.insert(id.clone()) {
            return Err(bad(format!("Duplicate request id '{id}' in the batch.")));
        }
        let method = r
            .get("method")
            .and_then(Value::as_str)
            .and_then(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
            .ok_or_else(|| bad(format!("Request '{id}' has no valid 'method'.")))?;
        let url = r
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("Request '{id}' has no 'url'.")))?
            .to_string();
        let headers = r
            .get("headers")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let depends_on = match r.get("dependsOn") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|d| d.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad(format!("Request '{id}': 'dependsOn' must list ids.")))?,
            Some(_) => {
                return Err(bad(format!(
                    "Request '{id}': 'dependsOn' must be an array."
                )));
            }
        };
        items.push(Item {
            id,
            method,
            url,
            headers,
            body: r.get("body").cloned().filter(|b| !b.is_null()),
            depends_on,
        });
    }
    for item in &items {
        if let Some(d) = item.depends_on.iter().find(|d| !ids.contains(*d)) {
            return Err(bad(format!(
                "Request '{}' depends on an unknown request '{d}'.",
                item.id
            )));
        }
    }
    Ok(items)
}

/// Request indexes in an order that runs every dependency first; `None` on a cycle.
fn execution_order(items: &[Item]) -> Option<Vec<usize>> {
    let index: HashMap<&str, usize> = items
        .iter()
        .enumerate()
        .map(|(i, it)| (it.id.as_str(), i))
        .collect();
    let mut order = Vec::with_capacity(items.len());
    let mut state = vec![0u8; items.len()]; // 0 new, 1 visiting, 2 done
    fn visit(
        i: usize,
        items: &[Item],
        index: &HashMap<&str, usize>,
        state: &mut [u8],
        order: &mut Vec<usize>,
    ) -> bool {
        match state[i] {
            2 => return true,
            1 => return false,
            _ => {}
        }
        state[i] = 1;
        for d in &items[i].depends_on {
            let Some(&j) = index.get(d.as_str()) else {
                return false;
            };
            if !visit(j, items, index, state, order) {
                return false;
            }
        }
        state[i] = 2;
        order.push(i);
        true
    }
    for i in 0..items.len() {
        if !visit(i, items, &index, &mut state, &mut order) {
            return None;
        }
    }
    Some(order)
}

fn item_error(id: &str, error: GraphError, request_id: &str, date: &str) -> Value {
    let mut headers = Map::new();
    headers.insert("Content-Type".into(), json!("application/json"));
    for (k, v) in &error.headers {
        headers.insert((*k).to_string(), json!(v));
    }
    json!({
        "id": id,
        "status": error.status.as_u16(),
        "headers": headers,
        "body": error.body(request_id, request_id, date),
    })
}

/// Response headers a batch item carries over.
const ITEM_HEADERS: &[&str] = &[
    "content-type",
    "location",
    "retry-after",
    "x-ms-throttle-scope",
    "x-ms-throttle-information",
    "x-ms-throttle-limit-percentage",
    "x-ms-resource-unit",
];

async fn run_item(
    state: &AppState,
    info: &RequestInfo,
    outer: &HeaderMap,
    item: &Item,
) -> Result<Value, GraphError> {
    if !item.url.starts_with('/') || item.url.starts_with("//") {
        return Err(bad(format!(
            "Request '{}': 'url' must be relative to the version, e.g. /users/{{id}}.",
            item.id
        )));
    }
    if item.url.trim_start_matches('/').starts_with("$batch") {
        return Err(bad("A batch cannot contain a batch."));
    }
    let uri = format!("/{}{}", info.version, item.url);
    let mut builder = axum::http::Request::builder()
        .method(item.method.clone())
        .uri(&uri);
    let has_content_type = item
        .headers
        .keys()
        .any(|k| k.eq_ignore_ascii_case("content-type"));
    if item.body.is_some() && !has_content_type {
        return Err(bad(format!(
            "Request '{}' has a body but no Content-Type header.",
            item.id
        )));
    }
    for (k, v) in &item.headers {
        if let (Ok(name), Some(Ok(value))) = (
            HeaderName::from_bytes(k.as_bytes()),
            v.as_str().map(HeaderValue::from_str),
        ) {
            builder = builder.header(name, value);
        }
    }
    if let Some(auth) = outer.get("authorization") {
        builder = builder.header("authorization", auth.clone());
    }
    builder = builder.header(BATCH_ITEM_HEADER, "1");
    let body = match &item.body {
        None => Body::empty(),
        Some(Value::String(s)) if !is_json(&item.headers) => Body::from(s.clone()),
        Some(v) => Body::from(v.to_string()),
    };
    let request = builder.body(body).map_err(|_| {
        bad(format!(
            "Request '{}' is not a valid HTTP request.",
            item.id
        ))
    })?;
    let router = state.router.lock().clone().ok_or_else(|| {
        GraphError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "serviceNotAvailable",
            "Shutting down.",
        )
    })?;
    let request = crate::rewrite_odata_key_segments(request);
    let response = match router.oneshot(request).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let status = response.status().as_u16();
    let mut headers = Map::new();
    for name in ITEM_HEADERS {
        if let Some(v) = response.headers().get(*name).and_then(|v| v.to_str().ok()) {
            headers.insert(canonical_header(name), json!(v));
        }
    }
    let bytes = to_bytes(response.into_body(), MAX_ITEM_BODY)
        .await
        .unwrap_or_default();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    let mut out = json!({"id": item.id, "status": status, "headers": headers});
    if !body.is_null()
        && let Value::Object(m) = &mut out
    {
        m.insert("body".into(), body);
    }
    Ok(out)
}

fn is_json(headers: &Map<String, Value>) -> bool {
    headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("content-type") && v.as_str().is_some_and(|v| v.contains("json"))
    })
}

fn canonical_header(name: &str) -> String {
    match name {
        "content-type" => "Content-Type".into(),
        "location" => "Location".into(),
        "retry-after" => "Retry-After".into(),
        other => other.into(),
    }
}

async fn batch(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    headers: HeaderMap,
    GraphJson(body): GraphJson<Value>,
) -> GraphResult<Response> {
    let items = parse(&body)?;
    let order = execution_order(&items)
        .ok_or_else(|| bad("The dependsOn references in the batch form a cycle."))?;
    let date = crate::clock::format_rfc3339(state.now());
    let mut results: HashMap<usize, Value> = HashMap::new();
    for i in order {
        let item = &items[i];
        let failed_dependency = item.depends_on.iter().find(|d| {
            items
                .iter()
                .position(|it| &it.id == *d)
                .and_then(|j| results.get(&j))
                .and_then(|r| r["status"].as_u64())
                .is_none_or(|s| !(200..300).contains(&s))
        });
        let result = if let Some(d) = failed_dependency {
            item_error(
                &item.id,
                GraphError::new(
                    StatusCode::FAILED_DEPENDENCY,
                    "FailedDependency",
                    format!("The request depends on request '{d}', which failed."),
                ),
                &info.request_id,
                &date,
            )
        } else {
            match run_item(&state, &info, &headers, item).await {
                Ok(v) => v,
                Err(e) => item_error(&item.id, e, &info.request_id, &date),
            }
        };
        results.insert(i, result);
    }
    let responses: Vec<Value> = (0..items.len())
        .rev()
        .filter_map(|i| results.remove(&i))
        .collect();
    Ok(axum::Json(json!({"responses": responses})).into_response())
}
