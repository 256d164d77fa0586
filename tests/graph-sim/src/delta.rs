//! `GET /users/delta`: delta links, `$deltatoken=latest`, expiry after 7 days. Owned by SIM-B
//! (issue 3 item 7); this file is the slot the router merges. It reads the change log in
//! `state::Tenant::changes` (and `deleted_users` for `@removed`).

use axum::Router;
use serde::Serialize;

use crate::AppState;

/// Delta tokens handed out (part of the state dump).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeltaStore {}

/// Graph routes, nested under both `/v1.0` and `/beta`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}

/// Test-control routes, nested under `/_sim`.
pub(crate) fn admin_routes() -> Router<AppState> {
    Router::new()
}
