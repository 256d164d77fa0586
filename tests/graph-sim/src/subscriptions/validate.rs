//! Request checks for `/subscriptions`: resource, changeType, expiration, clientState, quotas.

use axum::http::StatusCode;
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{GraphError, GraphResult};
use crate::pipeline::RequestInfo;

use super::*;

pub(super) fn invalid(message: impl Into<String>) -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, "InvalidRequest", message)
}

/// Docs silent on the 404 of an unknown subscription id; chosen `ResourceNotFound`.
pub(super) fn not_found(id: &str) -> GraphError {
    GraphError::new(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        format!("The subscription '{id}' was not found."),
    )
}

pub(super) fn require_resource_roles(caller: &Caller, resource: &str) -> GraphResult<()> {
    match crate::permissions::read_roles_for_resource(resource) {
        Some(roles) => caller.require_any(roles),
        None => Err(GraphError::forbidden()),
    }
}

/// `/users` or `/users/{id|upn}` (a leading `/` optional, case-insensitive). Anything else
/// (other resources, `$filter`, navigation below a user) is not simulated → 400.
pub(super) fn parse_resource(state: &AppState, resource: &str) -> GraphResult<Target> {
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
pub(super) fn parse_change_type(raw: &str) -> GraphResult<Vec<String>> {
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
pub(super) fn parse_expiration(raw: &str, now: OffsetDateTime) -> GraphResult<OffsetDateTime> {
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

pub(super) fn string_field<'a>(
    body: &'a Map<String, Value>,
    name: &str,
) -> GraphResult<Option<&'a str>> {
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

pub(super) fn required<'a>(body: &'a Map<String, Value>, name: &str) -> GraphResult<&'a str> {
    string_field(body, name)?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| invalid(format!("Missing required property '{name}'.")))
}

pub(super) fn check_client_state(client_state: Option<&str>) -> GraphResult<()> {
    if client_state.is_some_and(|c| c.chars().count() > MAX_CLIENT_STATE_CHARS) {
        return Err(invalid(format!(
            "clientState must be at most {MAX_CLIENT_STATE_CHARS} characters."
        )));
    }
    Ok(())
}

/// Docs silent on the error of a full quota beyond "403"; chosen: Graph's subscription
/// service style (`ExtensionError`, "Operation: Create; Exception: [Status Code: Forbidden …]").
pub(super) fn quota_exceeded(what: &str) -> GraphError {
    GraphError::new(
        StatusCode::FORBIDDEN,
        "ExtensionError",
        format!("Operation: Create; Exception: [Status Code: Forbidden; Reason: {what}]"),
    )
}

pub(super) fn check_quota(state: &AppState, app_id: &str, now: OffsetDateTime) -> GraphResult<()> {
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

pub(super) fn entity(state: &AppState, info: &RequestInfo, sub: &SubscriptionRecord) -> Value {
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

pub(super) const CREATE_PROPERTIES: &[&str] = &[
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
