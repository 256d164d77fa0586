//! `/subscriptions`: create with the validation handshake, list, get, renew
//! (PATCH), delete, reauthorize — for `/users` and `/users/{id}`.
//!
//! Sources (microsoft-graph-docs-contrib, api-reference/v1.0): subscription-post-subscriptions,
//! subscription-get, subscription-list, subscription-update (200 + object), subscription-delete
//! (204), subscription-reauthorize (204); resources/subscription.md (changeType for users:
//! `updated`,`deleted` only; clientState ≤ 128 characters; lifecycleNotificationUrl only at
//! creation); concepts/includes/change-notifications-subscription-lifetime.md (users: 41,760
//! minutes); the quota of 100 `/users` subscriptions per app+tenant
//! (../shared/graph-spec/BEHAVIOUR.md); `created` → 400 InvalidRequest "Invalid 'changeType'
//! attribute: 'created'." (microsoft-graph-docs issue #4819).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::AppState;
use crate::notify::{self, Delivery};

mod handlers;
mod validate;

use handlers::{create, get_one, list, reauthorize, remove, update};

/// Users, groups and other directory resources: 41,760 minutes (under 29 days).
pub const MAX_EXPIRATION_MINUTES: i64 = 41_760;
/// `/users` subscriptions per app and tenant (BEHAVIOUR.md "Quotas for users").
pub const MAX_PER_APP_AND_TENANT: usize = 100;
/// `/users` subscriptions per tenant, all apps together.
pub const MAX_PER_TENANT: usize = 1_000;
/// resources/subscription.md: "The maximum length is 128 characters."
pub const MAX_CLIENT_STATE_CHARS: usize = 128;
const TLS_VERSIONS: &[&str] = &["v1_0", "v1_1", "v1_2", "v1_3"];

/// What a subscription watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    AllUsers,
    User(String),
}

/// The state of the reauthorization challenge (see notify.rs for the schedule).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reauthorization {
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_challenge: Option<OffsetDateTime>,
    /// Set by the first unanswered challenge; cleared by reauthorize or renewal.
    #[serde(with = "time::serde::rfc3339::option")]
    pub outstanding_since: Option<OffsetDateTime>,
    pub challenges_sent: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionRecord {
    pub id: String,
    /// As the client sent it (Graph echoes it).
    pub resource: String,
    #[serde(skip)]
    pub target: Target,
    /// As the client sent it.
    pub change_type: String,
    #[serde(skip)]
    pub change_types: Vec<String>,
    pub notification_url: String,
    pub lifecycle_notification_url: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub expiration: OffsetDateTime,
    /// A shared secret: kept out of the state dump and of logs.
    #[serde(skip)]
    pub client_state: Option<String>,
    pub application_id: String,
    pub creator_id: String,
    pub latest_supported_tls_version: String,
    pub notification_url_app_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// Changes logged up to this sequence number happened before the subscription existed.
    pub created_after_seq: u64,
    pub reauthorization: Reauthorization,
}

impl SubscriptionRecord {
    /// Delivery pauses when a reauthorization challenge has gone unanswered too long.
    pub fn delivery_paused(&self, at: OffsetDateTime) -> bool {
        self.reauthorization
            .outstanding_since
            .is_some_and(|since| at - since >= notify::REAUTH_GRACE)
    }

    /// The subscription as Graph returns it.
    fn to_graph(&self) -> Map<String, Value> {
        let v = json!({
            "id": self.id,
            "resource": self.resource,
            "applicationId": self.application_id,
            "changeType": self.change_type,
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "notificationQueryOptions": null,
            "lifecycleNotificationUrl": self.lifecycle_notification_url,
            "expirationDateTime": format_graph_datetime(self.expiration),
            "creatorId": self.creator_id,
            "includeResourceData": null,
            "latestSupportedTlsVersion": self.latest_supported_tls_version,
            "encryptionCertificate": null,
            "encryptionCertificateId": null,
            "notificationUrlAppId": self.notification_url_app_id,
        });
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }
}

/// Subscriptions held by the tenant, and the delivery pipeline's state (part of the dump;
/// clientState and queued payloads are left out).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionStore {
    pub items: BTreeMap<String, SubscriptionRecord>,
    pub delivery: Delivery,
}

impl SubscriptionStore {
    /// Graph deletes a subscription that was not renewed in time
    /// (change-notifications-delivery-webhooks.md, "Renew a subscription").
    pub fn remove_expired(&mut self, now: OffsetDateTime) {
        self.items.retain(|_, s| s.expiration > now);
    }

    fn owned(&self, app_id: &str, id: &str, now: OffsetDateTime) -> Option<&SubscriptionRecord> {
        self.items
            .get(id)
            .filter(|s| s.application_id.eq_ignore_ascii_case(app_id) && s.expiration > now)
    }

    fn owned_mut(
        &mut self,
        app_id: &str,
        id: &str,
        now: OffsetDateTime,
    ) -> Option<&mut SubscriptionRecord> {
        self.items
            .get_mut(id)
            .filter(|s| s.application_id.eq_ignore_ascii_case(app_id) && s.expiration > now)
    }

    fn count_active(&self, app_id: Option<&str>, now: OffsetDateTime) -> usize {
        self.items
            .values()
            .filter(|s| s.expiration > now)
            .filter(|s| app_id.is_none_or(|a| s.application_id.eq_ignore_ascii_case(a)))
            .count()
    }
}

/// Graph's subscription timestamps: UTC, 7 fractional digits, `Z`
/// (e.g. `2016-11-22T18:23:45.9356913Z` in subscription-update.md).
pub fn format_graph_datetime(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.nanosecond() / 100
    )
}

impl crate::Control {
    /// Every live subscription as Graph shows it, but with clientState left out.
    pub fn subscriptions(&self) -> Vec<Value> {
        self.app_state().tenant.with(|t| {
            t.subscriptions
                .items
                .values()
                .map(|s| {
                    let mut v = s.to_graph();
                    v.remove("clientState");
                    Value::Object(v)
                })
                .collect()
        })
    }
}

/// Graph routes, nested under both `/v1.0` and `/beta`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/subscriptions", get(list).post(create))
        .route(
            "/subscriptions/{id}",
            get(get_one).patch(update).delete(remove),
        )
        .route("/subscriptions/{id}/reauthorize", post(reauthorize))
        .route(
            "/subscriptions/{id}/microsoft.graph.reauthorize",
            post(reauthorize),
        )
}

/// Test-control routes, nested under `/_sim`: `GET /subscriptions` lists every subscription
/// with its reauthorization state (no clientState).
pub(crate) fn admin_routes() -> Router<AppState> {
    Router::new().route("/subscriptions", get(admin_list))
}

async fn admin_list(State(state): State<AppState>) -> Json<Value> {
    let items = state
        .tenant
        .with(|t| serde_json::to_value(&t.subscriptions.items).unwrap_or(Value::Null));
    Json(items)
}

#[cfg(test)]
mod tests {
    use super::validate::{parse_change_type, parse_expiration};
    use super::*;

    #[test]
    fn created_is_not_a_change_type_for_users() {
        let e = parse_change_type("created,updated").unwrap_err();
        assert_eq!(e.code, "InvalidRequest");
        assert_eq!(e.message, "Invalid 'changeType' attribute: 'created'.");
        assert_eq!(
            parse_change_type("updated, deleted").unwrap(),
            ["updated", "deleted"]
        );
        assert!(parse_change_type("").is_err());
    }

    #[test]
    fn expiration_is_bounded_by_the_users_lifetime() {
        let now = time::macros::datetime!(2026-01-01 00:00 UTC);
        assert!(parse_expiration("2026-01-29T23:59:00Z", now).is_ok());
        assert!(parse_expiration("2026-01-30T00:01:00Z", now).is_err());
        assert!(parse_expiration("2025-12-31T23:00:00Z", now).is_err());
        assert!(parse_expiration("2026-01-02T00:00:00", now).is_err());
        assert!(parse_expiration("2026-01-02T00:00:00.0000000Z", now).is_ok());
    }

    #[test]
    fn datetimes_have_seven_fractional_digits() {
        let at = time::macros::datetime!(2016-11-22 18:23:45.9356913 UTC);
        assert_eq!(format_graph_datetime(at), "2016-11-22T18:23:45.9356913Z");
    }
}
