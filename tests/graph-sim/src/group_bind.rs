//! `PATCH /groups/{id}` with `members@odata.bind`: up to 20 members in one request, all or
//! nothing.
//!
//! Source: PASSKEY-ERA.md §10 (MGDC v1.0/api/group-post-members.md @00604611, learn
//! group-post-members): at most 20 per request; "If an error condition exists in the request
//! body, no members are added"; an existing member is 400 `Request_BadRequest` "One or more added
//! object references already exist for the following modified properties: 'members'." (observed
//! wording); an unknown object is 404 `Request_ResourceNotFound`.
//!
//! Where the docs are silent (README): the simulator updates no other group property through
//! PATCH (anything but `members@odata.bind` is 400, never ignored); an empty list, a list over 20,
//! a reference to the same object twice, or a reference that is not `…/directoryObjects/{id}` or
//! `…/users/{id}` is 400; unknown objects are reported before existing members; the request is
//! charged as one write (1 RU + 1 write, like any PATCH; whether 20 binds count as one write is
//! unconfirmed — the issue asked for one).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;

use crate::AppState;
use crate::error::{GraphError, GraphResult};
use crate::odata::GraphJson;

/// Documented maximum of references per request.
pub const MAX_BINDS: usize = 20;
const BIND: &str = "members@odata.bind";

/// The object id at the end of a bind URL.
fn bound_id(url: &str) -> GraphResult<String> {
    let mut parts = url.trim_end_matches('/').rsplit('/');
    let id = parts.next().unwrap_or_default();
    let collection = parts.next().unwrap_or_default();
    if id.is_empty() || !matches!(collection, "directoryObjects" | "users") {
        return Err(GraphError::bad_request(format!(
            "Invalid object identifier '{url}'."
        )));
    }
    Ok(id.to_string())
}

pub(crate) async fn patch_group(
    State(state): State<AppState>,
    Path(group): Path<String>,
    GraphJson(body): GraphJson<Value>,
) -> GraphResult<StatusCode> {
    let Value::Object(body) = body else {
        return Err(GraphError::bad_request(
            "The request body must be a JSON object.",
        ));
    };
    if let Some(other) = body.keys().find(|k| *k != BIND) {
        return Err(GraphError::bad_request(format!(
            "The simulator updates only '{BIND}' through PATCH /groups/{{id}}; '{other}' is not supported."
        )));
    }
    let refs = body
        .get(BIND)
        .and_then(Value::as_array)
        .ok_or_else(|| GraphError::bad_request(format!("'{BIND}' must be an array of URLs.")))?;
    if refs.is_empty() {
        return Err(GraphError::bad_request(format!(
            "'{BIND}' must name at least one object."
        )));
    }
    if refs.len() > MAX_BINDS {
        return Err(GraphError::bad_request(format!(
            "Too many references in '{BIND}': {} given, at most {MAX_BINDS} may be added in one request.",
            refs.len()
        )));
    }
    let mut ids = Vec::with_capacity(refs.len());
    for r in refs {
        let url = r.as_str().ok_or_else(|| {
            GraphError::bad_request(format!("'{BIND}' must be an array of URLs."))
        })?;
        let id = bound_id(url)?;
        if ids.contains(&id) {
            return Err(GraphError::bad_request(format!(
                "The object reference '{id}' appears more than once in '{BIND}'."
            )));
        }
        ids.push(id);
    }
    state.tenant.with(|t| {
        if !t.groups.contains_key(&group) {
            return Err(GraphError::not_found(&group));
        }
        if let Some(unknown) = ids.iter().find(|id| !t.users.contains_key(*id)) {
            return Err(GraphError::not_found(unknown));
        }
        if ids.iter().any(|id| t.is_member(&group, id)) {
            return Err(GraphError::bad_request(
                "One or more added object references already exist for the following modified properties: 'members'.",
            ));
        }
        if let Some(g) = t.groups.get_mut(&group) {
            g.members.extend(ids.iter().cloned());
        }
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}
