//! The `/users` request handlers: list, get, create, update, delete.

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::AppState;
use crate::error::{GraphError, GraphResult};
use crate::odata::{self, GraphJson, ODataQuery};
use crate::pipeline::RequestInfo;
use crate::state::{AuthState, UserRecord};

use super::*;

pub(super) async fn list(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    query: ODataQuery,
) -> GraphResult<Response> {
    query.reject_unsupported(&[])?;
    let top = query.top(100)?;
    let select = query.select();
    let after = match query.get("skiptoken") {
        None => None,
        Some(t) => Some(
            URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| GraphError::bad_request("Invalid $skiptoken."))?,
        ),
    };
    let (page, more) = state.tenant.with(|t| {
        let mut iter: Box<dyn Iterator<Item = &UserRecord>> = match &after {
            Some(a) => Box::new(
                t.users
                    .range::<String, _>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded))
                    .map(|(_, u)| u),
            ),
            None => Box::new(t.users.values()),
        };
        let page: Vec<UserRecord> = iter.by_ref().take(top).cloned().collect();
        let more = iter.next().is_some();
        (page, more)
    });
    let items = page
        .iter()
        .map(|u| render(u, select.as_deref(), &info.version).map(Value::Object))
        .collect::<GraphResult<Vec<_>>>()?;
    let next = match (more, page.last()) {
        (true, Some(last)) => {
            let mut params = vec![
                ("$top".to_string(), top.to_string()),
                ("$skiptoken".to_string(), URL_SAFE_NO_PAD.encode(last.id())),
            ];
            if let Some(s) = query.get("select") {
                params.insert(0, ("$select".into(), s.to_string()));
            }
            let qs = serde_urlencoded::to_string(&params).unwrap_or_default();
            Some(format!("{}/{}/users?{qs}", state.base_url, info.version))
        }
        _ => None,
    };
    let fragment = match &select {
        Some(s) => format!("users({})", s.join(",")),
        None => "users".into(),
    };
    Ok(axum::Json(odata::collection(
        odata::context(&state.base_url, &info, &fragment),
        items,
        next,
    ))
    .into_response())
}

pub(super) fn not_found_user(user: &str) -> GraphError {
    GraphError::not_found(user)
}

pub(super) async fn get_one(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    Path(user): Path<String>,
    query: ODataQuery,
) -> GraphResult<Response> {
    query.reject_unsupported(&[])?;
    let record = state
        .tenant
        .with(|t| t.user(&user).cloned())
        .ok_or_else(|| not_found_user(&user))?;
    let select = query.select();
    let mut body = render(&record, select.as_deref(), &info.version)?;
    body.insert(
        "@odata.context".into(),
        Value::String(odata::context(&state.base_url, &info, "users/$entity")),
    );
    Ok(axum::Json(Value::Object(body)).into_response())
}

/// `POST /users`: required accountEnabled, displayName, mailNickname, passwordProfile,
/// userPrincipalName (user-post-users, "Request body").
pub(super) async fn create(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    GraphJson(body): GraphJson<Value>,
) -> GraphResult<Response> {
    let Value::Object(props) = body else {
        return Err(GraphError::bad_request(
            "The request body must be a JSON object.",
        ));
    };
    for required in [
        "accountEnabled",
        "displayName",
        "mailNickname",
        "passwordProfile",
        "userPrincipalName",
    ] {
        if props.get(required).is_none_or(Value::is_null) {
            return Err(GraphError::bad_request(format!(
                "Invalid value specified for property '{required}' of resource 'User'."
            )));
        }
    }
    if let Some(ro) = props
        .keys()
        .find(|k| READ_ONLY.iter().any(|r| r.eq_ignore_ascii_case(k)))
    {
        return Err(GraphError::bad_request(format!(
            "Property '{ro}' is read-only and cannot be set."
        )));
    }
    let now = state.now();
    let mut props = complete(props, now).map_err(GraphError::bad_request)?;
    // A new object id, not the derived one: Graph assigns a fresh GUID.
    props.insert("id".into(), Value::String(uuid::Uuid::new_v4().to_string()));
    let record = UserRecord {
        properties: props,
        authentication: AuthState::default(),
    };
    let event = state
        .tenant
        .with(|t| t.create_user(record.clone(), now))
        .map_err(GraphError::bad_request)?;
    state.tenant.publish([event]);
    let mut body = render(&record, None, &info.version)?;
    body.insert(
        "@odata.context".into(),
        Value::String(odata::context(&state.base_url, &info, "users/$entity")),
    );
    Ok((StatusCode::CREATED, axum::Json(Value::Object(body))).into_response())
}

pub(super) async fn update(
    State(state): State<AppState>,
    Path(user): Path<String>,
    GraphJson(body): GraphJson<Value>,
) -> GraphResult<StatusCode> {
    let Value::Object(props) = body else {
        return Err(GraphError::bad_request(
            "The request body must be a JSON object.",
        ));
    };
    let mut changes = Map::new();
    for (k, v) in props {
        let name = canonical(&k).ok_or_else(|| {
            GraphError::bad_request(format!(
                "Property '{k}' does not exist as a declared property or extension property."
            ))
        })?;
        if READ_ONLY.contains(&name) {
            return Err(GraphError::bad_request(format!(
                "Property '{name}' is read-only and cannot be set."
            )));
        }
        changes.insert(name.to_string(), v);
    }
    check_types(&changes).map_err(GraphError::bad_request)?;
    let now = state.now();
    let event = state.tenant.with(|t| {
        let id = t.resolve_user_id(&user).ok_or_else(|| not_found_user(&user))?;
        let record = t.users.get_mut(&id).ok_or_else(|| not_found_user(&user))?;
        let synced = record.properties.get("onPremisesSyncEnabled") == Some(&Value::Bool(true));
        if synced && changes.keys().any(|k| ON_PREMISES_MASTERED.contains(&k.as_str())) {
            return Err(GraphError::bad_request(
                "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.",
            ));
        }
        let old_upn = record.upn().to_string();
        if let Some(new_upn) = changes.get("userPrincipalName").and_then(Value::as_str)
            && !new_upn.eq_ignore_ascii_case(&old_upn)
            && t.upn_index.contains_key(&new_upn.to_ascii_lowercase())
        {
            return Err(GraphError::bad_request(
                "Another object with the same value for property userPrincipalName already exists.",
            ));
        }
        let record = t.users.get_mut(&id).ok_or_else(|| not_found_user(&user))?;
        for (k, v) in changes {
            record.properties.insert(k, v);
        }
        t.reindex_upn(&id, &old_upn);
        Ok(t.log(id, crate::state::ChangeKind::Updated, now))
    })?;
    state.tenant.publish([event]);
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn delete(
    State(state): State<AppState>,
    Path(user): Path<String>,
) -> GraphResult<StatusCode> {
    let now = state.now();
    let event = state
        .tenant
        .with(|t| {
            let id = t.resolve_user_id(&user)?;
            t.delete_user(&id, now)
        })
        .ok_or_else(|| not_found_user(&user))?;
    state.tenant.publish([event]);
    Ok(StatusCode::NO_CONTENT)
}
