//! Change-notification delivery to subscribers (issue 3 item 6). Owned by SIM-B; this file is
//! the slot the router merges. It listens to `state::TenantHandle::subscribe_changes`.

use axum::Router;

use crate::AppState;

/// How notifications are delivered (delay, duplicates, drops, reordering).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NotificationOptions {}

/// Starts background delivery; it must stop on `AppState::shutdown_signal`.
pub(crate) fn start(_state: &AppState) {}

/// Graph routes, nested under both `/v1.0` and `/beta`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}

/// Test-control routes, nested under `/_sim`.
pub(crate) fn admin_routes() -> Router<AppState> {
    Router::new()
}
