//! The `/subscriptions` request handlers.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::Value;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{GraphError, GraphResult};
use crate::notify;
use crate::odata::GraphJson;
use crate::pipeline::RequestInfo;

use super::validate::*;
use super::*;

pub(super) async fn create(
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

pub(super) async fn list(
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

pub(super) async fn get_one(
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
pub(super) async fn update(
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

pub(super) async fn remove(
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
pub(super) async fn reauthorize(
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
