//! `/subscriptions`: create (with the validation handshake), list, get, renew, delete,
//! reauthorize. Owned by SIM-B (issue 3 item 5); this file is the slot the router merges.

use axum::Router;
use serde::Serialize;

use crate::AppState;

/// Subscriptions held by the tenant (part of the state dump).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionStore {}

/// Graph routes, nested under both `/v1.0` and `/beta`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}

/// Test-control routes, nested under `/_sim`.
pub(crate) fn admin_routes() -> Router<AppState> {
    Router::new()
}
