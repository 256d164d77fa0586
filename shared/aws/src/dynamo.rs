//! One DynamoDB table for all state (single-table design), string keys `pk` / `sk`:
//!
//! | item             | pk                | sk            | other attributes |
//! |------------------|-------------------|---------------|------------------|
//! | managed phone    | `USER#{userId}`   | `PHONE`       | `userId`, `numberHash`, `lastTwo`, `phoneType`, `registeredAt`, `version` (N); while a phone write is in progress also `pendingHash`, `pendingLastTwo`, `pendingType`, `pendingSince` |
//! | audit record     | `AUDIT#{userId}`  | `{at}#{uuid}` | `userId`, `upn`?, `at`, `outcome`, `actions` (L), `reasons` (L), `maskedNumber`?, `trigger`? (S, JSON), `ttl` (N) |
//! | delta link       | `DELTA`           | `users`       | `link`, `updatedAt` |
//! | subscription     | `SUBSCRIPTION`    | `users`       | `subscriptionId`, `expiration`, `expiresAt` (N), `notificationUrl`, `clientStateVersion`?, `updatedAt` |
//!
//! - A user's audit trail is one partition, newest last (`Query pk = AUDIT#id`).
//! - `ttl` (epoch seconds) is the table's TimeToLive attribute: audit records expire after
//!   [`DEFAULT_AUDIT_RETENTION`] (DynamoDB deletes expired items within days, free of charge:
//!   <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/TTL.html>).
//! - The managed phone is written conditionally on `version` (optimistic concurrency); the
//!   subscription record never moves a subscription's expiry backwards.
//! - No phone number is stored in clear: a per-tenant hash, the last two digits, the masked form.
//!
//! The table has no sort-key-only access pattern and no index; on-demand billing.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use autoenroll_core::ports::{
    AuditOutcome, AuditRecord, AuditSink, DeltaLinkStore, ManagedPhone, MemoryStore, PendingPhone,
    StoreError, SubscriptionRecord, SubscriptionStore,
};
use autoenroll_graph::model::PhoneType;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, TimeToLiveSpecification, TimeToLiveStatus,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{Failure, classify};

/// How long audit records are kept.
pub const DEFAULT_AUDIT_RETENTION: Duration = Duration::from_secs(90 * 24 * 60 * 60);
/// The TimeToLive attribute.
pub const TTL_ATTRIBUTE: &str = "ttl";

const PK: &str = "pk";
const SK: &str = "sk";

type Item = HashMap<String, AttributeValue>;

/// The DynamoDB adapter for every store port.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
    audit_retention: Duration,
}

impl DynamoStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            audit_retention: DEFAULT_AUDIT_RETENTION,
        }
    }

    pub fn with_audit_retention(mut self, retention: Duration) -> Self {
        self.audit_retention = retention;
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The audit records of one user, oldest first (operators, tests).
    pub async fn audit_trail(&self, user_id: &str) -> Result<Vec<StoredAudit>, StoreError> {
        let mut records = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":pk", s(format!("AUDIT#{user_id}")))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| store_error("Query", &e))?;
            for item in output.items() {
                records.push(StoredAudit {
                    record: audit_from_item(item)?,
                    expires_at: number(item, TTL_ATTRIBUTE)?,
                });
            }
            match output.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
        Ok(records)
    }

    async fn get_item(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", &e))?;
        Ok(output.item().cloned())
    }

    async fn delete_item(&self, pk: &str, sk: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .send()
            .await
            .map_err(|e| store_error("DeleteItem", &e))?;
        Ok(())
    }
}

/// An audit record as stored, with its expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAudit {
    pub record: AuditRecord,
    /// The `ttl` attribute: epoch seconds after which DynamoDB deletes the record.
    pub expires_at: u64,
}

/// Creates the table (pk/sk strings, on demand, TTL on `ttl`) unless it exists, and waits
/// until it is active. For tests against moto and `autoenroll local`; in AWS the SAM template
/// owns the table.
pub async fn ensure_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<(), StoreError> {
    let key = |name: &str, key_type| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))
    };
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))
    };
    let created = client
        .create_table()
        .table_name(table)
        .key_schema(key(PK, KeyType::Hash)?)
        .key_schema(key(SK, KeyType::Range)?)
        .attribute_definitions(attribute(PK)?)
        .attribute_definitions(attribute(SK)?)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_in_use_exception()) => {}
        Err(e) => return Err(store_error("CreateTable", &e)),
    }
    client
        .wait_until_table_exists()
        .table_name(table)
        .wait(Duration::from_secs(60))
        .await
        .map_err(|e| {
            StoreError::Unavailable(format!("table {table} did not become active: {e}"))
        })?;

    let ttl = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| store_error("DescribeTimeToLive", &e))?;
    let enabled = ttl.time_to_live_description().is_some_and(|d| {
        d.attribute_name() == Some(TTL_ATTRIBUTE)
            && matches!(
                d.time_to_live_status(),
                Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
            )
    });
    if !enabled {
        let spec = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(TTL_ATTRIBUTE)
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(spec)
            .send()
            .await
            .map_err(|e| store_error("UpdateTimeToLive", &e))?;
    }
    Ok(())
}

fn store_error<E>(
    operation: &str,
    err: &aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    match classify(operation, err) {
        Failure::Retryable(text) => StoreError::Unavailable(text),
        Failure::Permanent(text) => StoreError::Other(text),
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn string_list(values: &[String]) -> AttributeValue {
    AttributeValue::L(values.iter().cloned().map(AttributeValue::S).collect())
}

fn malformed(name: &str) -> StoreError {
    StoreError::Other(format!("stored item has a missing or malformed `{name}`"))
}

fn string(item: &Item, name: &str) -> Result<String, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(malformed(name)),
    }
}

fn optional_string(item: &Item, name: &str) -> Result<Option<String>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::S(value)) => Ok(Some(value.clone())),
        Some(_) => Err(malformed(name)),
    }
}

fn number(item: &Item, name: &str) -> Result<u64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().map_err(|_| malformed(name)),
        _ => Err(malformed(name)),
    }
}

fn strings(item: &Item, name: &str) -> Result<Vec<String>, StoreError> {
    match item.get(name) {
        None => Ok(Vec::new()),
        Some(AttributeValue::L(values)) => values
            .iter()
            .map(|v| match v {
                AttributeValue::S(value) => Ok(value.clone()),
                _ => Err(malformed(name)),
            })
            .collect(),
        Some(_) => Err(malformed(name)),
    }
}

fn now_epoch_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn rfc3339_now() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

fn user_pk(user_id: &str) -> String {
    format!("USER#{user_id}")
}
const PHONE_SK: &str = "PHONE";
const DELTA_PK: &str = "DELTA";
const SUBSCRIPTION_PK: &str = "SUBSCRIPTION";
/// The resource the delta link and the subscription are for (one of each per table today).
const USERS_SK: &str = "users";

fn phone_type_from_str(value: &str) -> PhoneType {
    serde_json::from_value(serde_json::Value::String(value.to_owned()))
        .unwrap_or(PhoneType::UnknownFutureValue)
}

#[async_trait]
impl MemoryStore for DynamoStore {
    async fn get(&self, user_id: &str) -> Result<Option<ManagedPhone>, StoreError> {
        let Some(item) = self.get_item(&user_pk(user_id), PHONE_SK).await? else {
            return Ok(None);
        };
        Ok(Some(ManagedPhone {
            user_id: string(&item, "userId")?,
            number_hash: string(&item, "numberHash")?,
            last_two: string(&item, "lastTwo")?,
            phone_type: phone_type_from_str(&string(&item, "phoneType")?),
            registered_at: string(&item, "registeredAt")?,
            version: number(&item, "version")?,
            pending: match optional_string(&item, "pendingHash")? {
                None => None,
                Some(number_hash) => Some(PendingPhone {
                    number_hash,
                    last_two: string(&item, "pendingLastTwo")?,
                    phone_type: phone_type_from_str(&string(&item, "pendingType")?),
                    since: string(&item, "pendingSince")?,
                }),
            },
        }))
    }

    async fn put(
        &self,
        record: ManagedPhone,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(user_pk(&record.user_id)))
            .item(SK, s(PHONE_SK))
            .item("userId", s(&record.user_id))
            .item("numberHash", s(&record.number_hash))
            .item("lastTwo", s(&record.last_two))
            .item("phoneType", s(record.phone_type.as_str()))
            .item("registeredAt", s(&record.registered_at))
            .item("version", n(record.version));
        // PutItem replaces the whole item: no pending entry in `record` clears a stored one.
        if let Some(pending) = &record.pending {
            request = request
                .item("pendingHash", s(&pending.number_hash))
                .item("pendingLastTwo", s(&pending.last_two))
                .item("pendingType", s(pending.phone_type.as_str()))
                .item("pendingSince", s(&pending.since));
        }
        request = match expected_version {
            None => request
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK),
            Some(version) => request
                .condition_expression("#version = :expected")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":expected", n(version)),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                tracing::info!(user_id = %record.user_id, "managed phone changed concurrently");
                Err(StoreError::Conflict)
            }
            Err(e) => Err(store_error("PutItem", &e)),
        }
    }

    async fn delete(&self, user_id: &str) -> Result<(), StoreError> {
        self.delete_item(&user_pk(user_id), PHONE_SK).await
    }
}

fn audit_from_item(item: &Item) -> Result<AuditRecord, StoreError> {
    let trigger = optional_string(item, "trigger")?
        .map(|json| serde_json::from_str(&json).map_err(|_| malformed("trigger")))
        .transpose()?;
    Ok(AuditRecord {
        user_id: string(item, "userId")?,
        user_principal_name: optional_string(item, "upn")?,
        at: string(item, "at")?,
        outcome: AuditOutcome::from_name(&string(item, "outcome")?)
            .ok_or_else(|| malformed("outcome"))?,
        actions: strings(item, "actions")?,
        reasons: strings(item, "reasons")?,
        masked_number: optional_string(item, "maskedNumber")?,
        trigger,
    })
}

#[async_trait]
impl AuditSink for DynamoStore {
    async fn record(&self, record: AuditRecord) -> Result<(), StoreError> {
        let expires_at = now_epoch_seconds() + self.audit_retention.as_secs();
        let sort_key = format!("{}#{}", record.at, uuid::Uuid::new_v4().simple());
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(format!("AUDIT#{}", record.user_id)))
            .item(SK, s(sort_key))
            .item("userId", s(&record.user_id))
            .item("at", s(&record.at))
            .item("outcome", s(record.outcome.as_str()))
            .item("actions", string_list(&record.actions))
            .item("reasons", string_list(&record.reasons))
            .item(TTL_ATTRIBUTE, n(expires_at));
        if let Some(upn) = &record.user_principal_name {
            request = request.item("upn", s(upn));
        }
        if let Some(masked) = &record.masked_number {
            request = request.item("maskedNumber", s(masked));
        }
        if let Some(trigger) = &record.trigger {
            let json = serde_json::to_string(trigger)
                .map_err(|e| StoreError::Other(format!("cannot encode trigger: {e}")))?;
            request = request.item("trigger", s(json));
        }
        request
            .send()
            .await
            .map_err(|e| store_error("PutItem", &e))?;
        Ok(())
    }
}

#[async_trait]
impl DeltaLinkStore for DynamoStore {
    async fn get_delta_link(&self) -> Result<Option<String>, StoreError> {
        match self.get_item(DELTA_PK, USERS_SK).await? {
            Some(item) => Ok(Some(string(&item, "link")?)),
            None => Ok(None),
        }
    }

    async fn put_delta_link(&self, link: &str) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(DELTA_PK))
            .item(SK, s(USERS_SK))
            .item("link", s(link))
            .item("updatedAt", s(rfc3339_now()))
            .send()
            .await
            .map_err(|e| store_error("PutItem", &e))?;
        Ok(())
    }

    async fn clear_delta_link(&self) -> Result<(), StoreError> {
        self.delete_item(DELTA_PK, USERS_SK).await
    }
}

#[async_trait]
impl SubscriptionStore for DynamoStore {
    async fn get_subscription(&self) -> Result<Option<SubscriptionRecord>, StoreError> {
        let Some(item) = self.get_item(SUBSCRIPTION_PK, USERS_SK).await? else {
            return Ok(None);
        };
        Ok(Some(SubscriptionRecord {
            subscription_id: string(&item, "subscriptionId")?,
            expiration: string(&item, "expiration")?,
            notification_url: string(&item, "notificationUrl")?,
            client_state_version: optional_string(&item, "clientStateVersion")?,
        }))
    }

    /// Conditional: a write for the same subscription id that would move its expiry backwards
    /// (a stale renewal racing a newer one) loses with `StoreError::Conflict`. A different
    /// subscription id (re-created) always replaces the record.
    async fn put_subscription(&self, record: SubscriptionRecord) -> Result<(), StoreError> {
        let expires_at = OffsetDateTime::parse(&record.expiration, &Rfc3339)
            .map_err(|_| {
                StoreError::Other(format!(
                    "subscription expiration {:?} is not RFC 3339",
                    record.expiration
                ))
            })?
            .unix_timestamp();
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(SUBSCRIPTION_PK))
            .item(SK, s(USERS_SK))
            .item("subscriptionId", s(&record.subscription_id))
            .item("expiration", s(&record.expiration))
            .item("expiresAt", AttributeValue::N(expires_at.to_string()))
            .item("notificationUrl", s(&record.notification_url))
            .item("updatedAt", s(rfc3339_now()))
            .condition_expression(
                "attribute_not_exists(#pk) OR #id <> :id OR #expiresAt <= :expiresAt",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#id", "subscriptionId")
            .expression_attribute_names("#expiresAt", "expiresAt")
            .expression_attribute_values(":id", s(&record.subscription_id))
            .expression_attribute_values(":expiresAt", AttributeValue::N(expires_at.to_string()));
        if let Some(version) = &record.client_state_version {
            request = request.item("clientStateVersion", s(version));
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Conflict)
            }
            Err(e) => Err(store_error("PutItem", &e)),
        }
    }
}
