//! Strict parser for what Graph POSTs to the webhook: a `changeNotificationCollection` of user
//! change notifications and/or lifecycle notifications.
//!
//! Shapes: https://learn.microsoft.com/graph/api/resources/changenotification and
//! https://learn.microsoft.com/graph/api/resources/changenotificationcollection.
//! `changeType` and `lifecycleEvent` are mutually exclusive; `subscriptionId`, `tenantId` and
//! `subscriptionExpirationDateTime` are required; a change notification also needs `resource`.
//!
//! Strict where it matters — required fields, GUIDs, known change types and lifecycle events,
//! the resource is one user, `resourceData` agrees with it, a bounded item count, no duplicate
//! keys — and tolerant of properties we do not know, because Graph adds properties without
//! notice and a 400 here makes Graph retry for hours and then drop the notification.
//! Error messages never contain the clientState.

use std::fmt;

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::ids;

/// Most notifications we accept in one POST. Graph batches notifications per request but
/// documents no maximum; a webhook body cap applies as well.
pub const MAX_NOTIFICATIONS: usize = 1_000;

/// Graph's documented maximum clientState length for a notification (the subscription itself
/// takes at most 128).
pub const MAX_CLIENT_STATE_LEN: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeNotificationCollection {
    /// In the order Graph sent them (Graph promises no order, and duplicates are normal).
    pub value: Vec<Notification>,
    /// Only sent with rich notifications, which users do not support; kept for completeness.
    pub validation_tokens: Vec<String>,
}

impl ChangeNotificationCollection {
    pub fn changes(&self) -> impl Iterator<Item = &ChangeNotification> {
        self.value.iter().filter_map(|n| match n {
            Notification::Change(c) => Some(c),
            Notification::Lifecycle(_) => None,
        })
    }

    pub fn lifecycle_events(&self) -> impl Iterator<Item = &LifecycleNotification> {
        self.value.iter().filter_map(|n| match n {
            Notification::Lifecycle(l) => Some(l),
            Notification::Change(_) => None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    Change(ChangeNotification),
    Lifecycle(LifecycleNotification),
}

impl Notification {
    pub fn client_state(&self) -> Option<&ClientState> {
        match self {
            Notification::Change(c) => c.client_state.as_ref(),
            Notification::Lifecycle(l) => l.client_state.as_ref(),
        }
    }

    pub fn tenant_id(&self) -> &str {
        match self {
            Notification::Change(c) => &c.tenant_id,
            Notification::Lifecycle(l) => &l.tenant_id,
        }
    }

    pub fn subscription_id(&self) -> &str {
        match self {
            Notification::Change(c) => &c.subscription_id,
            Notification::Lifecycle(l) => &l.subscription_id,
        }
    }
}

/// "This user changed" — basic notifications only carry the id, never the user's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeNotification {
    pub id: Option<String>,
    /// Lowercase GUID.
    pub subscription_id: String,
    pub subscription_expiration_date_time: OffsetDateTime,
    /// Lowercase GUID.
    pub tenant_id: String,
    pub client_state: Option<ClientState>,
    pub change_type: ChangeType,
    /// As sent, e.g. `Users/9a1b…`.
    pub resource: String,
    /// Lowercase GUID taken from `resource`.
    pub user_id: String,
    /// Graph's identity of this change, when the payload carries one: `resourceData`'s
    /// `sequenceNumber` (string or number), else its `eventTime`. Docs are silent on its
    /// uniqueness; it only tells duplicates of one change from distinct changes (queue
    /// de-duplication), so other types are ignored rather than rejected.
    pub event_identity: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeType {
    /// Documented for the changeType enum, though user subscriptions only take
    /// updated/deleted (a new user arrives as `updated`); accepted, since we re-read anyway.
    Created,
    Updated,
    Deleted,
}

impl ChangeType {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeType::Created => "created",
            ChangeType::Updated => "updated",
            ChangeType::Deleted => "deleted",
        }
    }
}

/// "Something happened to the subscription". For users Graph only documents
/// `reauthorizationRequired`; the other two are parsed so the webhook can answer them sensibly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleNotification {
    pub subscription_id: String,
    pub subscription_expiration_date_time: OffsetDateTime,
    pub tenant_id: String,
    pub client_state: Option<ClientState>,
    pub lifecycle_event: LifecycleEvent,
    pub resource: Option<String>,
}

/// Serialised with Graph's names (`reauthorizationRequired`, …): it travels in the lifecycle
/// queue message ([`crate::lifecycle::SubscriptionLifecycle`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LifecycleEvent {
    ReauthorizationRequired,
    SubscriptionRemoved,
    Missed,
}

impl LifecycleEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleEvent::ReauthorizationRequired => "reauthorizationRequired",
            LifecycleEvent::SubscriptionRemoved => "subscriptionRemoved",
            LifecycleEvent::Missed => "missed",
        }
    }
}

/// The shared secret Graph echoes back. Debug never shows it; compare it in constant time.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientState(String);

impl ClientState {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientState(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("not a change notification collection: {0}")]
    Malformed(String),
    #[error("the collection holds no notification")]
    Empty,
    #[error("{count} notifications in one request, more than the {max} accepted")]
    TooMany { count: usize, max: usize },
    #[error("notification {index}: {problem}")]
    Item { index: usize, problem: ItemProblem },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemProblem {
    #[error("`{0}` is missing")]
    Missing(&'static str),
    #[error("`{0}` is not a GUID")]
    NotAGuid(&'static str),
    #[error("`{0}` is not an RFC 3339 date-time")]
    NotADateTime(&'static str),
    #[error("has both `changeType` and `lifecycleEvent`")]
    BothKinds,
    #[error("has neither `changeType` nor `lifecycleEvent`")]
    NeitherKind,
    #[error("unknown changeType `{0}`")]
    UnknownChangeType(String),
    #[error("unknown lifecycleEvent `{0}`")]
    UnknownLifecycleEvent(String),
    #[error("resource `{0}` is not a user (expected users/{{id}})")]
    NotAUser(String),
    #[error("resourceData `@odata.type` `{0}` is not a user")]
    NotAUserType(String),
    #[error("resourceData does not match the resource")]
    ResourceDataMismatch,
    #[error("`clientState` is longer than {MAX_CLIENT_STATE_LEN} characters")]
    ClientStateTooLong,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCollection {
    value: Option<Vec<RawNotification>>,
    #[serde(default)]
    validation_tokens: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawNotification {
    id: Option<String>,
    subscription_id: Option<String>,
    subscription_expiration_date_time: Option<String>,
    tenant_id: Option<String>,
    client_state: Option<String>,
    change_type: Option<String>,
    lifecycle_event: Option<String>,
    resource: Option<String>,
    resource_data: Option<RawResourceData>,
}

#[derive(Deserialize)]
struct RawResourceData {
    #[serde(rename = "@odata.type")]
    odata_type: Option<String>,
    #[serde(rename = "@odata.id")]
    odata_id: Option<String>,
    id: Option<String>,
    #[serde(rename = "organizationId")]
    organization_id: Option<String>,
    #[serde(rename = "sequenceNumber")]
    sequence_number: Option<serde_json::Value>,
    #[serde(rename = "eventTime")]
    event_time: Option<serde_json::Value>,
}

impl RawResourceData {
    fn event_identity(&self) -> Option<String> {
        let text = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) if !s.is_empty() => Some(s.chars().take(64).collect()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        self.sequence_number
            .as_ref()
            .and_then(text)
            .map(|s| format!("seq:{s}"))
            .or_else(|| {
                self.event_time
                    .as_ref()
                    .and_then(text)
                    .map(|t| format!("time:{t}"))
            })
    }
}

/// Parse and validate a webhook body. Any problem rejects the whole body (the webhook answers
/// 400); nothing is half-accepted.
pub fn parse_collection(bytes: &[u8]) -> Result<ChangeNotificationCollection, ParseError> {
    let raw: RawCollection =
        serde_json::from_slice(bytes).map_err(|e| ParseError::Malformed(e.to_string()))?;
    let items = raw
        .value
        .ok_or_else(|| ParseError::Malformed("missing field `value`".into()))?;
    if items.is_empty() {
        return Err(ParseError::Empty);
    }
    if items.len() > MAX_NOTIFICATIONS {
        return Err(ParseError::TooMany {
            count: items.len(),
            max: MAX_NOTIFICATIONS,
        });
    }
    let value = items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            parse_item(item).map_err(|problem| ParseError::Item { index, problem })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ChangeNotificationCollection {
        value,
        validation_tokens: raw.validation_tokens.unwrap_or_default(),
    })
}

fn guid(field: &'static str, value: Option<String>) -> Result<String, ItemProblem> {
    let value = value.ok_or(ItemProblem::Missing(field))?;
    ids::canonical_guid(&value).ok_or(ItemProblem::NotAGuid(field))
}

fn parse_item(raw: RawNotification) -> Result<Notification, ItemProblem> {
    let subscription_id = guid("subscriptionId", raw.subscription_id)?;
    let tenant_id = guid("tenantId", raw.tenant_id)?;
    let expiration = raw
        .subscription_expiration_date_time
        .ok_or(ItemProblem::Missing("subscriptionExpirationDateTime"))?;
    let subscription_expiration_date_time = OffsetDateTime::parse(&expiration, &Rfc3339)
        .map_err(|_| ItemProblem::NotADateTime("subscriptionExpirationDateTime"))?;
    let client_state = match raw.client_state {
        Some(s) if s.chars().count() > MAX_CLIENT_STATE_LEN => {
            return Err(ItemProblem::ClientStateTooLong);
        }
        other => other.map(ClientState),
    };
    match (raw.change_type, raw.lifecycle_event) {
        (Some(_), Some(_)) => Err(ItemProblem::BothKinds),
        (None, None) => Err(ItemProblem::NeitherKind),
        (None, Some(event)) => {
            let lifecycle_event = match event.as_str() {
                "reauthorizationRequired" => LifecycleEvent::ReauthorizationRequired,
                "subscriptionRemoved" => LifecycleEvent::SubscriptionRemoved,
                "missed" => LifecycleEvent::Missed,
                _ => return Err(ItemProblem::UnknownLifecycleEvent(event)),
            };
            Ok(Notification::Lifecycle(LifecycleNotification {
                subscription_id,
                subscription_expiration_date_time,
                tenant_id,
                client_state,
                lifecycle_event,
                resource: raw.resource,
            }))
        }
        (Some(change), None) => {
            let change_type = match change.as_str() {
                "created" => ChangeType::Created,
                "updated" => ChangeType::Updated,
                "deleted" => ChangeType::Deleted,
                _ => return Err(ItemProblem::UnknownChangeType(change)),
            };
            let resource = raw.resource.ok_or(ItemProblem::Missing("resource"))?;
            let user_id = user_id_of(&resource).ok_or_else(|| {
                ItemProblem::NotAUser(resource.chars().take(80).collect::<String>())
            })?;
            let event_identity = match &raw.resource_data {
                Some(data) => {
                    check_resource_data(data, &user_id, &tenant_id)?;
                    data.event_identity()
                }
                None => None,
            };
            Ok(Notification::Change(ChangeNotification {
                id: raw.id,
                subscription_id,
                subscription_expiration_date_time,
                tenant_id,
                client_state,
                change_type,
                resource,
                user_id,
                event_identity,
            }))
        }
    }
}

/// `Users/{guid}` or `users/{guid}` (any case) → the lowercase GUID.
pub fn user_id_of(resource: &str) -> Option<String> {
    let (collection, id) = resource.split_once('/')?;
    if !collection.eq_ignore_ascii_case("users") {
        return None;
    }
    ids::canonical_guid(id)
}

fn check_resource_data(
    data: &RawResourceData,
    user_id: &str,
    tenant_id: &str,
) -> Result<(), ItemProblem> {
    if let Some(t) = &data.odata_type
        && !t.eq_ignore_ascii_case("#microsoft.graph.user")
    {
        return Err(ItemProblem::NotAUserType(t.chars().take(80).collect()));
    }
    let id_matches = data
        .id
        .as_deref()
        .is_none_or(|id| id.eq_ignore_ascii_case(user_id));
    let odata_id_matches = data
        .odata_id
        .as_deref()
        .is_none_or(|r| user_id_of(r).as_deref() == Some(user_id));
    let org_matches = data
        .organization_id
        .as_deref()
        .is_none_or(|o| o.eq_ignore_ascii_case(tenant_id));
    if id_matches && odata_id_matches && org_matches {
        Ok(())
    } else {
        Err(ItemProblem::ResourceDataMismatch)
    }
}

#[cfg(test)]
mod tests;
