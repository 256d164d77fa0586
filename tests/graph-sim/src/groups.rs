//! Groups (members, `$ref`), `memberOf`, `checkMemberGroups`, and activated directory roles.
//!
//! Sources (learn.microsoft.com/graph/api/…): group-list, group-get, group-list-members,
//! group-post-members, group-delete-members, user-list-memberof, directoryobject-checkmembergroups,
//! directoryrole-list, directoryrole-list-members.
//!
//! Membership changes are not logged as user changes: Microsoft does not document a `/users`
//! change notification for them, so the simulator sends none (the stricter choice).

use axum::Router;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::error::{GraphError, GraphResult};
use crate::odata::{self, GraphJson, ODataQuery};
use crate::pipeline::RequestInfo;
use crate::state::{DirectoryRole, Group, Tenant};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/groups", get(list_groups))
        .route(
            "/groups/{group}",
            get(get_group).patch(crate::group_bind::patch_group),
        )
        .route("/groups/{group}/members", get(list_members))
        .route("/groups/{group}/members/$ref", post(add_member))
        .route(
            "/groups/{group}/members/{member}/$ref",
            delete(remove_member),
        )
        .route("/users/{user}/memberOf", get(member_of))
        .route(
            "/users/{user}/transitiveMemberOf",
            get(transitive_member_of),
        )
        .route("/users/{user}/checkMemberGroups", post(check_member_groups))
        .route("/directoryRoles", get(list_roles))
        .route("/directoryRoles/{role}", get(get_role))
        .route("/directoryRoles/{role}/members", get(role_members))
}

const GROUP_PROPERTIES: &[&str] = &[
    "id",
    "displayName",
    "description",
    "securityEnabled",
    "mailEnabled",
    "groupTypes",
    "isAssignableToRole",
    "mailNickname",
];

fn group_json(g: &Group) -> Map<String, Value> {
    let v = json!({
        "id": g.id,
        "displayName": g.display_name,
        "description": g.description,
        "securityEnabled": g.security_enabled,
        "mailEnabled": false,
        "groupTypes": [],
        "isAssignableToRole": g.is_assignable_to_role,
        "mailNickname": g.display_name.to_ascii_lowercase().replace(' ', "-"),
    });
    v.as_object().cloned().unwrap_or_default()
}

fn role_json(r: &DirectoryRole) -> Map<String, Value> {
    let v = json!({
        "id": r.id,
        "displayName": r.display_name,
        "description": r.description,
        "roleTemplateId": r.role_template_id,
    });
    v.as_object().cloned().unwrap_or_default()
}

/// A member as `members` / role `members` list it: a `directoryObject` typed as a user.
fn member_json(t: &Tenant, id: &str) -> Option<Value> {
    let u = t.users.get(id)?;
    let p = &u.properties;
    Some(json!({
        "@odata.type": "#microsoft.graph.user",
        "id": id,
        "displayName": p.get("displayName").cloned().unwrap_or(Value::Null),
        "userPrincipalName": p.get("userPrincipalName").cloned().unwrap_or(Value::Null),
        "mail": p.get("mail").cloned().unwrap_or(Value::Null),
        "userType": p.get("userType").cloned().unwrap_or(Value::Null),
        "accountEnabled": p.get("accountEnabled").cloned().unwrap_or(Value::Null),
    }))
}

fn members_json(t: &Tenant, ids: &[String]) -> Vec<Value> {
    ids.iter().filter_map(|m| member_json(t, m)).collect()
}

fn select_all(
    items: Vec<Map<String, Value>>,
    query: &ODataQuery,
    known: &[&str],
    type_name: &str,
) -> GraphResult<Vec<Value>> {
    match query.select() {
        Some(select) if !select.is_empty() => items
            .iter()
            .map(|i| odata::project(i, &select, known, type_name).map(Value::Object))
            .collect(),
        _ => Ok(items.into_iter().map(Value::Object).collect()),
    }
}

/// Offset paging for small collections (`$skiptoken` is the offset, opaque to clients).
fn page(
    state: &AppState,
    info: &RequestInfo,
    path: &str,
    fragment: &str,
    items: Vec<Value>,
    query: &ODataQuery,
) -> GraphResult<Response> {
    let top = query.top(100)?;
    let skip: usize = match query.get("skiptoken") {
        None => 0,
        Some(s) => s
            .strip_prefix("o")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| GraphError::bad_request("Invalid $skiptoken."))?,
    };
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(skip).take(top).collect();
    let next = (skip + top < total).then(|| {
        let mut params = vec![
            ("$top".to_string(), top.to_string()),
            ("$skiptoken".to_string(), format!("o{}", skip + top)),
        ];
        if let Some(s) = query.get("select") {
            params.insert(0, ("$select".into(), s.to_string()));
        }
        format!(
            "{}/{}{path}?{}",
            state.base_url,
            info.version,
            serde_urlencoded::to_string(&params).unwrap_or_default()
        )
    });
    Ok(axum::Json(odata::collection(
        odata::context(&state.base_url, info, fragment),
        page,
        next,
    ))
    .into_response())
}

async fn list_groups(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    query: ODataQuery,
) -> GraphResult<Response> {
    query.reject_unsupported(&[])?;
    let groups: Vec<_> = state
        .tenant
        .with(|t| t.groups.values().map(group_json).collect());
    let items = select_all(groups, &query, GROUP_PROPERTIES, "microsoft.graph.group")?;
    page(&state, &info, "/groups", "groups", items, &query)
}

async fn get_group(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    Path(group): Path<String>,
    query: ODataQuery,
) -> GraphResult<Response> {
    query.reject_unsupported(&[])?;
    let g = state
        .tenant
        .with(|t| t.groups.get(&group).map(group_json))
        .ok_or_else(|| GraphError::not_found(&group))?;
    let mut body = select_all(vec![g], &query, GROUP_PROPERTIES, "microsoft.graph.group")?
        .pop()
        .unwrap_or(Value::Null);
    if let Value::Object(m) = &mut body {
        m.insert(
            "@odata.context".into(),
            Value::String(odata::context(&state.base_url, &info, "groups/$entity")),
        );
    }
    Ok(axum::Json(body).into_response())
}

async fn list_members(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    Path(group): Path<String>,
    query: ODataQuery,
) -> GraphResult<Response> {
    query.reject_unsupported(&[])?;
    let members = state
        .tenant
        .with(|t| t.groups.get(&group).map(|g| members_json(t, &g.members)))
        .ok_or_else(|| GraphError::not_found(&group))?;
    page(
        &state,
        &info,
        &format!("/groups/{group}/members"),
        "directoryObjects",
        members,
        &query,
    )
}

/// The object id at the end of an `@odata.id` (`…/directoryObjects/{id}` or `…/users/{id}`).
fn referenced_id(body: &Value) -> GraphResult<String> {
    let url = body
        .get("@odata.id")
        .and_then(Value::as_str)
        .ok_or_else(|| GraphError::bad_request("Invalid request: '@odata.id' is required."))?;
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

async fn add_member(
    State(state): State<AppState>,
    Path(group): Path<String>,
    GraphJson(body): GraphJson<Value>,
) -> GraphResult<StatusCode> {
    let member = referenced_id(&body)?;
    state.tenant.with(|t| {
        if !t.groups.contains_key(&group) {
            return Err(GraphError::not_found(&group));
        }
        if !t.users.contains_key(&member) {
            return Err(GraphError::not_found(&member));
        }
        if t.is_member(&group, &member) {
            return Err(GraphError::bad_request(
                "One or more added object references already exist for the following modified properties: 'members'.",
            ));
        }
        if let Some(g) = t.groups.get_mut(&group) {
            g.members.push(member.clone());
        }
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_member(
    State(state): State<AppState>,
    Path((group, member)): Path<(String, String)>,
) -> GraphResult<StatusCode> {
    state.tenant.with(|t| {
        let g = t
            .groups
            .get_mut(&group)
            .ok_or_else(|| GraphError::not_found(&group))?;
        let before = g.members.len();
        g.members.retain(|m| *m != member);
        if g.members.len() == before {
            return Err(GraphError::not_found(&member));
        }
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}

async fn member_of(
    state: State<AppState>,
    info: Extension<RequestInfo>,
    user: Path<String>,
    query: ODataQuery,
) -> GraphResult<Response> {
    memberships(state, info, user, query, "memberOf")
}

/// Group membership is flat in the simulator (no nested groups), so the transitive list is the
/// direct one. Docs: https://learn.microsoft.com/graph/api/user-list-transitivememberof
async fn transitive_member_of(
    state: State<AppState>,
    info: Extension<RequestInfo>,
    user: Path<String>,
    query: ODataQuery,
) -> GraphResult<Response> {
    memberships(state, info, user, query, "transitiveMemberOf")
}

fn memberships(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    Path(user): Path<String>,
    query: ODataQuery,
    relation: &str,
) -> GraphResult<Response> {
    query.reject_unsupported(&[])?;
    let items = state
        .tenant
        .with(|t| {
            let id = t.resolve_user_id(&user)?;
            let mut items: Vec<Value> = t
                .groups
                .values()
                .filter(|g| g.members.contains(&id))
                .map(|g| {
                    let mut m = group_json(g);
                    m.insert("@odata.type".into(), json!("#microsoft.graph.group"));
                    Value::Object(m)
                })
                .collect();
            items.extend(
                t.directory_roles
                    .values()
                    .filter(|r| r.members.contains(&id))
                    .map(|r| {
                        let mut m = role_json(r);
                        m.insert(
                            "@odata.type".into(),
                            json!("#microsoft.graph.directoryRole"),
                        );
                        Value::Object(m)
                    }),
            );
            Some(items)
        })
        .ok_or_else(|| GraphError::not_found(&user))?;
    page(
        &state,
        &info,
        &format!("/users/{user}/{relation}"),
        "directoryObjects",
        items,
        &query,
    )
}

/// Up to 20 group ids per call (directoryobject-checkmembergroups).
const CHECK_MEMBER_GROUPS_MAX: usize = 20;

async fn check_member_groups(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    Path(user): Path<String>,
    GraphJson(body): GraphJson<Value>,
) -> GraphResult<Response> {
    let ids: Vec<String> = body
        .get("groupIds")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_string)).collect())
        .ok_or_else(|| {
            GraphError::bad_request("Invalid request: 'groupIds' must be an array of strings.")
        })?;
    if ids.len() > CHECK_MEMBER_GROUPS_MAX {
        return Err(GraphError::bad_request(format!(
            "Too many group ids: at most {CHECK_MEMBER_GROUPS_MAX} may be checked per request."
        )));
    }
    let found: Vec<Value> = state
        .tenant
        .with(|t| {
            let id = t.resolve_user_id(&user)?;
            Some(
                ids.iter()
                    .filter(|g| t.is_member(g, &id))
                    .map(|g| Value::String(g.clone()))
                    .collect(),
            )
        })
        .ok_or_else(|| GraphError::not_found(&user))?;
    Ok(axum::Json(odata::collection(
        odata::context(&state.base_url, &info, "Collection(Edm.String)"),
        found,
        None,
    ))
    .into_response())
}

/// A role by object id or by `roleTemplateId={id}` (Graph's alternate key).
fn find_role<'a>(t: &'a Tenant, key: &str) -> Option<&'a DirectoryRole> {
    if let Some(template) = key.strip_prefix("roleTemplateId=") {
        let template = template.trim_matches('\'');
        return t
            .directory_roles
            .values()
            .find(|r| r.role_template_id.eq_ignore_ascii_case(template));
    }
    t.directory_roles.get(key)
}

async fn list_roles(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    query: ODataQuery,
) -> GraphResult<Response> {
    query.reject_unsupported(&[])?;
    let roles: Vec<Value> = state.tenant.with(|t| {
        t.directory_roles
            .values()
            .map(|r| Value::Object(role_json(r)))
            .collect()
    });
    page(
        &state,
        &info,
        "/directoryRoles",
        "directoryRoles",
        roles,
        &query,
    )
}

async fn get_role(
    State(state): State<AppState>,
    Path(role): Path<String>,
) -> GraphResult<Response> {
    let r = state
        .tenant
        .with(|t| find_role(t, &role).map(role_json))
        .ok_or_else(|| GraphError::not_found(&role))?;
    Ok(axum::Json(Value::Object(r)).into_response())
}

async fn role_members(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    Path(role): Path<String>,
    query: ODataQuery,
) -> GraphResult<Response> {
    query.reject_unsupported(&[])?;
    let members = state
        .tenant
        .with(|t| find_role(t, &role).map(|r| members_json(t, &r.members)))
        .ok_or_else(|| GraphError::not_found(&role))?;
    page(
        &state,
        &info,
        &format!("/directoryRoles/{role}/members"),
        "directoryObjects",
        members,
        &query,
    )
}
