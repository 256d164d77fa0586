//! `GET /users/{id}/manager` and the organizational contacts a manager may be.
//!
//! Source: PASSKEY-ERA.md §5 (MGDC v1.0/api/user-list-manager.md): returns a directoryObject —
//! a user **or an orgContact** (no `userPrincipalName`); supports `$select`. With no manager
//! the docs are silent; observed, and returned here exactly: 404 `Request_ResourceNotFound`,
//! "Resource 'manager' does not exist or one of its queried reference-property objects are not
//! present."

use axum::Router;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, extract::rejection::JsonRejection};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::control::Control;
use crate::error::{GraphError, GraphResult, SimError};
use crate::odata::{self, ODataQuery};
use crate::pipeline::RequestInfo;
use crate::seed::{self, Seed};
use crate::state::Tenant;

/// orgContact properties the simulator knows (learn resources/orgcontact).
const CONTACT_PROPERTIES: &[&str] = &[
    "id",
    "displayName",
    "givenName",
    "surname",
    "mail",
    "mailNickname",
    "companyName",
    "jobTitle",
    "department",
    "proxyAddresses",
    "phones",
];

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/users/{user}/manager", get(get_manager))
}

pub(crate) fn admin_routes() -> Router<AppState> {
    Router::new().route(
        "/users/{user}/manager",
        axum::routing::put(put_manager).delete(delete_manager),
    )
}

/// Seeds org contacts and managers (after users).
pub(crate) fn seed_into(tenant: &mut Tenant, seed: &Seed) -> Result<(), SimError> {
    for c in &seed.org_contacts {
        let mut c = c.clone();
        for k in c.keys() {
            if !CONTACT_PROPERTIES.contains(&k.as_str()) {
                return Err(SimError::InvalidSeed(format!(
                    "orgContact: unknown property {k}"
                )));
            }
        }
        let name = ["mail", "displayName"]
            .iter()
            .find_map(|k| c.get(*k).and_then(Value::as_str))
            .ok_or_else(|| SimError::InvalidSeed("orgContact needs mail or displayName".into()))?
            .to_string();
        let id = match c.get("id").and_then(Value::as_str) {
            Some(id) => id.to_string(),
            None => seed::derived_id("orgContact", &name),
        };
        c.insert("id".into(), json!(id));
        tenant.org_contacts.insert(id, c);
    }
    for u in &seed.users {
        let Some(manager) = &u.manager else { continue };
        let upn = u
            .properties
            .get("userPrincipalName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let user = tenant.resolve_user_id(upn).unwrap_or_default();
        let manager = resolve_manager(tenant, manager).ok_or_else(|| {
            SimError::InvalidSeed(format!("user {upn}: unknown manager {manager}"))
        })?;
        tenant.managers.insert(user, manager);
    }
    Ok(())
}

fn resolve_manager(tenant: &Tenant, id: &str) -> Option<String> {
    tenant
        .resolve_user_id(id)
        .or_else(|| tenant.org_contacts.contains_key(id).then(|| id.to_string()))
}

async fn get_manager(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    Path(user): Path<String>,
    query: ODataQuery,
) -> GraphResult<Response> {
    // `$expand` is documented too; the simulator does not implement it (400, not ignored).
    query.reject_unsupported(&[])?;
    let select = query.select();
    let mut body = state.tenant.with(|t| {
        let id = t
            .resolve_user_id(&user)
            .ok_or_else(|| GraphError::not_found(&user))?;
        // A manager that was deleted is no manager any more.
        let manager = t
            .managers
            .get(&id)
            .ok_or_else(|| GraphError::not_found("manager"))?;
        if let Some(u) = t.users.get(manager) {
            let mut m = crate::users::render(u, select.as_deref(), &info.version)?;
            m.insert("@odata.type".into(), json!("#microsoft.graph.user"));
            Ok(m)
        } else if let Some(c) = t.org_contacts.get(manager) {
            Ok(contact(c, select.as_deref()))
        } else {
            Err(GraphError::not_found("manager"))
        }
    })?;
    body.insert(
        "@odata.context".into(),
        Value::String(odata::context(
            &state.base_url,
            &info,
            "directoryObjects/$entity",
        )),
    );
    Ok(Json(Value::Object(body)).into_response())
}

/// An org contact as a directoryObject: `$select` of a user-only property (e.g.
/// `userPrincipalName`) leaves it out rather than failing — the call returns either type.
fn contact(c: &Map<String, Value>, select: Option<&[String]>) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("@odata.type".into(), json!("#microsoft.graph.orgContact"));
    for k in CONTACT_PROPERTIES {
        let wanted = select.is_none_or(|s| s.iter().any(|x| x.eq_ignore_ascii_case(k)));
        if wanted {
            out.insert((*k).into(), c.get(*k).cloned().unwrap_or(Value::Null));
        }
    }
    out
}

impl Control {
    /// Sets (`Some`) or removes (`None`) a user's manager: a user (id or UPN) or an org contact.
    pub fn set_manager(&self, id_or_upn: &str, manager: Option<&str>) -> Result<(), String> {
        set_manager(self.app_state(), id_or_upn, manager)
    }
}

fn set_manager(state: &AppState, user: &str, manager: Option<&str>) -> Result<(), String> {
    state.tenant.with(|t| {
        let id = t.resolve_user_id(user).ok_or(format!("no user {user}"))?;
        match manager {
            Some(m) => {
                let m = resolve_manager(t, m).ok_or(format!("no user or contact {m}"))?;
                t.managers.insert(id, m);
            }
            None => {
                t.managers.remove(&id);
            }
        }
        Ok(())
    })
}

async fn put_manager(
    State(state): State<AppState>,
    Path(user): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    let manager = body
        .ok()
        .and_then(|Json(v)| v.get("manager").and_then(Value::as_str).map(String::from));
    let Some(manager) = manager else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "expected {\"manager\": \"id, UPN or contact id\"}"})),
        )
            .into_response();
    };
    match set_manager(&state, &user, Some(&manager)) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => (StatusCode::NOT_FOUND, Json(json!({"error": e}))).into_response(),
    }
}

async fn delete_manager(State(state): State<AppState>, Path(user): Path<String>) -> Response {
    match set_manager(&state, &user, None) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => (StatusCode::NOT_FOUND, Json(json!({"error": e}))).into_response(),
    }
}
