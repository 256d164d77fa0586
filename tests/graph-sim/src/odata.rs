//! OData plumbing shared by the handlers: request bodies, query options, collections.

use std::collections::HashMap;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::error::GraphError;
use crate::pipeline::RequestInfo;

/// A JSON body; a bad one is Graph's 400 rather than axum's plain-text rejection.
pub struct GraphJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for GraphJson<T> {
    type Rejection = GraphError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => {
                let status = rejection.status();
                let message = if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
                    "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.".to_string()
                } else {
                    format!(
                        "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format. ({})",
                        rejection.body_text()
                    )
                };
                Err(GraphError::new(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    message,
                ))
            }
        }
    }
}

/// Query options, with the `$` made optional as v1.0 allows (`select` = `$select`).
#[derive(Debug, Clone, Default)]
pub struct ODataQuery {
    pub options: HashMap<String, String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ODataQuery {
    type Rejection = GraphError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.query().unwrap_or_default();
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
            .map_err(|_| GraphError::bad_request("Invalid query string."))?;
        let options = pairs
            .into_iter()
            .map(|(k, v)| (k.trim_start_matches('$').to_ascii_lowercase(), v))
            .collect();
        Ok(Self { options })
    }
}

impl ODataQuery {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.options.get(name).map(String::as_str)
    }

    /// `$select`, split and trimmed; `None` when absent.
    pub fn select(&self) -> Option<Vec<String>> {
        self.get("select").map(|s| {
            s.split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect()
        })
    }

    /// `$top` (1–999 for directory objects).
    pub fn top(&self, default: usize) -> Result<usize, GraphError> {
        match self.get("top") {
            None => Ok(default),
            Some(t) => match t.parse::<usize>() {
                Ok(n) if (1..=999).contains(&n) => Ok(n),
                _ => Err(GraphError::bad_request(format!(
                    "Invalid page size specified: '{t}'. Must be between 1 and 999 inclusive."
                ))),
            },
        }
    }

    /// Rejects query options the simulator does not implement, instead of ignoring them
    /// and answering something Graph would not.
    pub fn reject_unsupported(&self, supported: &[&str]) -> Result<(), GraphError> {
        for k in self.options.keys() {
            let odata = [
                "filter", "orderby", "search", "expand", "count", "skip", "format",
            ];
            if odata.contains(&k.as_str()) && !supported.contains(&k.as_str()) {
                return Err(GraphError::new(
                    StatusCode::BAD_REQUEST,
                    "Request_UnsupportedQuery",
                    format!("The simulator does not support the query option '${k}' here."),
                ));
            }
        }
        Ok(())
    }
}

/// Keeps only `select`ed properties (plus `@odata.type` if present). Unknown names → 400 as
/// Graph answers.
pub fn project(
    object: &Map<String, Value>,
    select: &[String],
    known: &[&str],
    type_name: &str,
) -> Result<Map<String, Value>, GraphError> {
    let mut out = Map::new();
    for name in select {
        if !known.iter().any(|k| k.eq_ignore_ascii_case(name)) {
            return Err(GraphError::bad_request(format!(
                "Could not find a property named '{name}' on type '{type_name}'."
            )));
        }
        let canonical = known
            .iter()
            .find(|k| k.eq_ignore_ascii_case(name))
            .copied()
            .unwrap_or(name.as_str());
        out.insert(
            canonical.to_string(),
            object.get(canonical).cloned().unwrap_or(Value::Null),
        );
    }
    if let Some(t) = object.get("@odata.type") {
        out.insert("@odata.type".into(), t.clone());
    }
    Ok(out)
}

/// `{base}/{version}/$metadata#{fragment}`.
pub fn context(base_url: &str, info: &RequestInfo, fragment: &str) -> String {
    format!("{base_url}/{}/$metadata#{fragment}", info.version)
}

/// A collection page.
pub fn collection(context: String, items: Vec<Value>, next_link: Option<String>) -> Value {
    let mut v = json!({"@odata.context": context, "value": items});
    if let (Some(link), Value::Object(map)) = (next_link, &mut v) {
        map.insert("@odata.nextLink".into(), Value::String(link));
    }
    v
}
