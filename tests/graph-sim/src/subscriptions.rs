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

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Serialize;
use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{GraphError, GraphResult};
use crate::notify::{self, Delivery};
use crate::odata::GraphJson;
use crate::pipeline::RequestInfo;

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

fn invalid(message: impl Into<String>) -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, "InvalidRequest", message)
}

/// Docs silent on the 404 of an unknown subscription id; chosen `ResourceNotFound`.
fn not_found(id: &str) -> GraphError {
    GraphError::new(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        format!("The subscription '{id}' was not found."),
    )
}

fn require_resource_roles(caller: &Caller, resource: &str) -> GraphResult<()> {
    match crate::permissions::read_roles_for_resource(resource) {
        Some(roles) => caller.require_any(roles),
        None => Err(GraphError::forbidden()),
    }
}

/// `/users` or `/users/{id|upn}` (a leading `/` optional, case-insensitive). Anything else
/// (other resources, `$filter`, navigation below a user) is not simulated → 400.
fn parse_resource(state: &AppState, resource: &str) -> GraphResult<Target> {
    let trimmed = resource.trim().trim_start_matches('/');
    let mut parts = trimmed.splitn(2, '/');
    let head = parts.next().unwrap_or_default();
    if !head.eq_ignore_ascii_case("users") {
        return Err(invalid(format!(
            "Resource '{resource}' is not supported by the simulator (only /users and /users/{{id}})."
        )));
    }
    match parts.next() {
        None | Some("") => Ok(Target::AllUsers),
        Some(user) if !user.contains(['/', '?', '(']) => state
            .tenant
            .with(|t| t.resolve_user_id(user))
            .map(Target::User)
            .ok_or_else(|| GraphError::not_found(user)),
        Some(_) => Err(invalid(format!(
            "Resource '{resource}' is not supported by the simulator (only /users and /users/{{id}})."
        ))),
    }
}

/// `updated`, `deleted` or both, comma separated. Users support no other change type.
fn parse_change_type(raw: &str) -> GraphResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for part in raw.split(',') {
        let part = part.trim();
        match part {
            "updated" | "deleted" => {
                if !out.iter().any(|p| p == part) {
                    out.push(part.to_string());
                }
            }
            _ => {
                return Err(invalid(format!(
                    "Invalid 'changeType' attribute: '{part}'."
                )));
            }
        }
    }
    if out.is_empty() {
        return Err(invalid("Invalid 'changeType' attribute: ''."));
    }
    Ok(out)
}

/// RFC 3339 with an offset (the OpenAPI pattern requires `Z` or `±hh:mm`), in the future and
/// at most 41,760 minutes away.
fn parse_expiration(raw: &str, now: OffsetDateTime) -> GraphResult<OffsetDateTime> {
    let at = OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
        .map_err(|_| invalid(format!("Invalid 'expirationDateTime' value: '{raw}'.")))?;
    // Graph keeps 100-ns precision (7 fractional digits), like .NET's DateTime.
    let at = at
        .replace_nanosecond(at.nanosecond() / 100 * 100)
        .unwrap_or(at);
    if at <= now {
        return Err(invalid(
            "Subscription expiration date must be in the future.",
        ));
    }
    if at - now > Duration::minutes(MAX_EXPIRATION_MINUTES) {
        return Err(invalid(format!(
            "Subscription expiration can only be {MAX_EXPIRATION_MINUTES} minutes in the future."
        )));
    }
    Ok(at)
}

fn string_field<'a>(body: &'a Map<String, Value>, name: &str) -> GraphResult<Option<&'a str>> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("Invalid value for property '{name}': a string is expected."),
        )),
    }
}

fn required<'a>(body: &'a Map<String, Value>, name: &str) -> GraphResult<&'a str> {
    string_field(body, name)?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| invalid(format!("Missing required property '{name}'.")))
}

fn check_client_state(client_state: Option<&str>) -> GraphResult<()> {
    if client_state.is_some_and(|c| c.chars().count() > MAX_CLIENT_STATE_CHARS) {
        return Err(invalid(format!(
            "clientState must be at most {MAX_CLIENT_STATE_CHARS} characters."
        )));
    }
    Ok(())
}

/// Docs silent on the error of a full quota beyond "403"; chosen: Graph's subscription
/// service style (`ExtensionError`, "Operation: Create; Exception: [Status Code: Forbidden …]").
fn quota_exceeded(what: &str) -> GraphError {
    GraphError::new(
        StatusCode::FORBIDDEN,
        "ExtensionError",
        format!("Operation: Create; Exception: [Status Code: Forbidden; Reason: {what}]"),
    )
}

fn check_quota(state: &AppState, app_id: &str, now: OffsetDateTime) -> GraphResult<()> {
    let (per_app, per_tenant) = state.tenant.with(|t| {
        (
            t.subscriptions.count_active(Some(app_id), now),
            t.subscriptions.count_active(None, now),
        )
    });
    if per_app >= MAX_PER_APP_AND_TENANT {
        return Err(quota_exceeded(&format!(
            "The number of subscriptions for resource 'users' has reached the limit of {MAX_PER_APP_AND_TENANT} for this application in this tenant."
        )));
    }
    if per_tenant >= MAX_PER_TENANT {
        return Err(quota_exceeded(&format!(
            "The number of subscriptions for resource 'users' has reached the limit of {MAX_PER_TENANT} for this tenant."
        )));
    }
    Ok(())
}

fn entity(state: &AppState, info: &RequestInfo, sub: &SubscriptionRecord) -> Value {
    let mut body = sub.to_graph();
    body.insert(
        "@odata.context".into(),
        Value::String(crate::odata::context(
            &state.base_url,
            info,
            "subscriptions/$entity",
        )),
    );
    Value::Object(body)
}

const CREATE_PROPERTIES: &[&str] = &[
    "@odata.type",
    "changeType",
    "notificationUrl",
    "lifecycleNotificationUrl",
    "resource",
    "expirationDateTime",
    "clientState",
    "latestSupportedTlsVersion",
    "includeResourceData",
    "encryptionCertificate",
    "encryptionCertificateId",
    "notificationUrlAppId",
    "notificationQueryOptions",
];

async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(info): Extension<RequestInfo>,
    GraphJson(body): GraphJson<Value>,
) -> GraphResult<Response> {
    let Value::Object(body) = body else {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "The request body must be a JSON object.",
        ));
    };
    if let Some(k) = body
        .keys()
        .find(|k| !CREATE_PROPERTIES.contains(&k.as_str()))
    {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("The property '{k}' does not exist on type 'microsoft.graph.subscription'."),
        ));
    }
    let resource = required(&body, "resource")?.to_string();
    require_resource_roles(&caller, &resource)?;
    let target = parse_resource(&state, &resource)?;
    let change_type = required(&body, "changeType")?.to_string();
    let change_types = parse_change_type(&change_type)?;
    let notification_url = required(&body, "notificationUrl")?.to_string();
    let notification = notify::check_endpoint_url("notificationUrl", &notification_url)?;
    let lifecycle_url = string_field(&body, "lifecycleNotificationUrl")?
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let lifecycle = lifecycle_url
        .as_deref()
        .map(|u| notify::check_endpoint_url("lifecycleNotificationUrl", u))
        .transpose()?;
    let now = state.now();
    let expiration = parse_expiration(required(&body, "expirationDateTime")?, now)?;
    let client_state = string_field(&body, "clientState")?.map(str::to_string);
    check_client_state(client_state.as_deref())?;
    // Users support basic notifications only (BEHAVIOUR.md).
    if body.get("includeResourceData").and_then(Value::as_bool) == Some(true) {
        return Err(invalid(
            "Rich notifications (includeResourceData) are not supported for resource 'users'.",
        ));
    }
    if string_field(&body, "notificationQueryOptions")?.is_some() {
        return Err(invalid(
            "notificationQueryOptions is supported only for Universal Print.",
        ));
    }
    let tls = match string_field(&body, "latestSupportedTlsVersion")? {
        None => "v1_2".to_string(),
        Some(v) if TLS_VERSIONS.contains(&v) => v.to_string(),
        Some(v) => {
            return Err(invalid(format!(
                "Invalid 'latestSupportedTlsVersion' value: '{v}'."
            )));
        }
    };
    let notification_url_app_id = string_field(&body, "notificationUrlAppId")?.map(str::to_string);

    check_quota(&state, &caller.app_id, now)?;
    // The handshake, outside the tenant lock: notification URL first, then the lifecycle URL
    // (both must pass; docs: "Microsoft Graph will also validate the lifecycleNotificationUrl").
    notify::validate_endpoint(&state, "notificationUrl", &notification).await?;
    if let Some(lifecycle) = &lifecycle {
        notify::validate_endpoint(&state, "lifecycleNotificationUrl", lifecycle).await?;
    }
    let now = state.now();
    check_quota(&state, &caller.app_id, now)?;
    let record = SubscriptionRecord {
        id: uuid::Uuid::new_v4().to_string(),
        resource,
        target,
        change_type,
        change_types,
        notification_url,
        lifecycle_notification_url: lifecycle_url,
        expiration,
        client_state,
        application_id: caller.app_id.clone(),
        creator_id: crate::seed::derived_id("servicePrincipal", &caller.app_id),
        latest_supported_tls_version: tls,
        notification_url_app_id,
        created: now,
        created_after_seq: 0,
        reauthorization: Reauthorization::default(),
    };
    let record = state.tenant.with(|t| {
        let mut record = record;
        record.created_after_seq = t.changes.last().map_or(0, |c| c.seq);
        t.subscriptions
            .items
            .insert(record.id.clone(), record.clone());
        record
    });
    tracing::info!(subscription = %record.id, app = %caller.app_id, "subscription created");
    Ok((StatusCode::CREATED, Json(entity(&state, &info, &record))).into_response())
}

async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(info): Extension<RequestInfo>,
) -> GraphResult<Response> {
    // An app-only caller sees the subscriptions its app created (subscription-list.md).
    let now = state.now();
    let items: Vec<Value> = state.tenant.with(|t| {
        t.subscriptions
            .items
            .values()
            .filter(|s| s.application_id.eq_ignore_ascii_case(&caller.app_id) && s.expiration > now)
            .map(|s| Value::Object(s.to_graph()))
            .collect()
    });
    Ok(Json(crate::odata::collection(
        crate::odata::context(&state.base_url, &info, "subscriptions"),
        items,
        None,
    ))
    .into_response())
}

async fn get_one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(info): Extension<RequestInfo>,
    Path(id): Path<String>,
) -> GraphResult<Response> {
    let now = state.now();
    let sub = state
        .tenant
        .with(|t| t.subscriptions.owned(&caller.app_id, &id, now).cloned())
        .ok_or_else(|| not_found(&id))?;
    require_resource_roles(&caller, &sub.resource)?;
    Ok(Json(entity(&state, &info, &sub)).into_response())
}

/// Renewal. Docs: expirationDateTime (and, in current docs, notificationUrl — re-validated)
/// may change; lifecycleNotificationUrl "can only be set at creation". Docs silent on other
/// properties; chosen: sending one with a different value is a 400.
async fn update(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(info): Extension<RequestInfo>,
    Path(id): Path<String>,
    GraphJson(body): GraphJson<Value>,
) -> GraphResult<Response> {
    let Value::Object(body) = body else {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "The request body must be a JSON object.",
        ));
    };
    let now = state.now();
    let current = state
        .tenant
        .with(|t| t.subscriptions.owned(&caller.app_id, &id, now).cloned())
        .ok_or_else(|| not_found(&id))?;
    require_resource_roles(&caller, &current.resource)?;
    let existing = current.to_graph();
    for (k, v) in &body {
        if k == "expirationDateTime" || k == "notificationUrl" || k == "@odata.type" {
            continue;
        }
        if !CREATE_PROPERTIES.contains(&k.as_str()) && k != "id" {
            return Err(GraphError::new(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                format!(
                    "The property '{k}' does not exist on type 'microsoft.graph.subscription'."
                ),
            ));
        }
        if existing.get(k) != Some(v) {
            return Err(invalid(format!(
                "The property '{k}' cannot be changed on an existing subscription."
            )));
        }
    }
    let expiration = match string_field(&body, "expirationDateTime")? {
        Some(raw) => Some(parse_expiration(raw, now)?),
        None => None,
    };
    let new_url = match string_field(&body, "notificationUrl")? {
        Some(u) if u != current.notification_url => {
            let url = notify::check_endpoint_url("notificationUrl", u)?;
            notify::validate_endpoint(&state, "notificationUrl", &url).await?;
            Some(u.to_string())
        }
        _ => None,
    };
    let now = state.now();
    let updated = state.tenant.with(|t| {
        let sub = t.subscriptions.owned_mut(&caller.app_id, &id, now)?;
        if let Some(e) = expiration {
            sub.expiration = e;
        }
        if let Some(u) = new_url {
            sub.notification_url = u;
        }
        // Renewing also reauthorizes (lifecycle-events.md).
        sub.reauthorization.outstanding_since = None;
        sub.reauthorization.last_challenge = None;
        Some(sub.clone())
    });
    let sub = updated.ok_or_else(|| not_found(&id))?;
    Ok(Json(entity(&state, &info, &sub)).into_response())
}

async fn remove(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> GraphResult<StatusCode> {
    let now = state.now();
    let resource = state
        .tenant
        .with(|t| {
            t.subscriptions
                .owned(&caller.app_id, &id, now)
                .map(|s| s.resource.clone())
        })
        .ok_or_else(|| not_found(&id))?;
    require_resource_roles(&caller, &resource)?;
    state.tenant.with(|t| t.subscriptions.items.remove(&id));
    Ok(StatusCode::NO_CONTENT)
}

/// Answers a `reauthorizationRequired` challenge without changing the expiration.
async fn reauthorize(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> GraphResult<StatusCode> {
    let now = state.now();
    let resource = state
        .tenant
        .with(|t| {
            t.subscriptions
                .owned(&caller.app_id, &id, now)
                .map(|s| s.resource.clone())
        })
        .ok_or_else(|| not_found(&id))?;
    require_resource_roles(&caller, &resource)?;
    state.tenant.with(|t| {
        if let Some(sub) = t.subscriptions.items.get_mut(&id) {
            sub.reauthorization.outstanding_since = None;
            sub.reauthorization.last_challenge = Some(now);
        }
    });
    Ok(StatusCode::NO_CONTENT)
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
