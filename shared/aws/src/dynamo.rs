//! One DynamoDB table for all state (single-table design), string keys `pk` / `sk`:
//!
//! | item             | pk                | sk            | other attributes |
//! |------------------|-------------------|---------------|------------------|
//! | managed phone    | `USER#{userId}`   | `PHONE`       | `userId`, `numberHash`, `lastTwo`, `phoneType`, `registeredAt`, `version` (N); while a phone write is in progress also `pendingHash`, `pendingLastTwo`, `pendingType`, `pendingSince` |
//! | audit record     | `AUDIT#{userId}`  | `{at}#{uuid}` | `userId`, `upn`?, `at`, `outcome`, `actions` (L), `reasons` (L), `maskedNumber`?, `trigger`? (S, JSON), `ttl` (N) |
//! | delta link       | `DELTA`           | `users`       | `link`, `updatedAt` |
//! | subscription     | `SUBSCRIPTION`    | `users`       | `subscriptionId`, `expiration`, `expiresAt` (N), `notificationUrl`, `clientStateVersion`?, `updatedAt` |
//! | run lease        | `LEASE`           | `{name}`      | `holder`, `expiresAt` (N, epoch ms) |
//!
//! - A user's audit trail is one partition, newest last (`Query pk = AUDIT#id`).
//! - `ttl` (epoch seconds) is the table's TimeToLive attribute: audit records expire after
//!   [`DEFAULT_AUDIT_RETENTION`] (DynamoDB deletes expired items within days, free of charge:
//!   <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/TTL.html>).
//! - The managed phone is written conditionally on `version` (optimistic concurrency); the
//!   subscription record never moves a subscription's expiry backwards; the delta link is
//!   replaced only if it is still the one the writer started from; a lease is taken only if
//!   free or expired.
//! - No phone number is stored in clear: a per-tenant hash, the last two digits, the masked form.
//!
//! The table has no sort-key-only access pattern and no index; on-demand billing.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use autoenroll_core::ports::{AuditRecord, StoreError};
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, TimeToLiveSpecification, TimeToLiveStatus,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

mod audit;
mod item;
mod lease;
mod links;
mod phone;

use audit::audit_from_item;

pub(crate) use item::{
    malformed, n, number, optional_string, s, store_error, string, string_list, strings,
};

/// How long audit records are kept.
pub const DEFAULT_AUDIT_RETENTION: Duration = Duration::from_secs(90 * 24 * 60 * 60);
/// The TimeToLive attribute.
pub const TTL_ATTRIBUTE: &str = "ttl";

pub(crate) const PK: &str = "pk";
pub(crate) const SK: &str = "sk";

pub(crate) type Item = HashMap<String, AttributeValue>;

/// An operation error that can say "the condition expression was false".
pub(crate) trait ConditionalError {
    fn is_condition_failed(&self) -> bool;
}

impl ConditionalError for aws_sdk_dynamodb::operation::put_item::PutItemError {
    fn is_condition_failed(&self) -> bool {
        self.is_conditional_check_failed_exception()
    }
}

impl ConditionalError for aws_sdk_dynamodb::operation::delete_item::DeleteItemError {
    fn is_condition_failed(&self) -> bool {
        self.is_conditional_check_failed_exception()
    }
}

/// Whether a conditional write lost (its condition was false), as opposed to failing.
pub(crate) fn conditional_check_failed<E: ConditionalError>(
    err: &aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> bool {
    err.as_service_error()
        .is_some_and(ConditionalError::is_condition_failed)
}

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

    pub(crate) fn client(&self) -> &aws_sdk_dynamodb::Client {
        &self.client
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
