//! The DynamoDB adapter of [`BootstrapStore`]: open and closed bootstraps in the one table
//! (see `dynamo.rs`), one partition per tenant:
//!
//! | item              | pk                     | sk                | other attributes |
//! |-------------------|------------------------|-------------------|------------------|
//! | open bootstrap    | `BOOTSTRAP#{tenantId}` | `OPEN#{userId}`   | `tenantId`, `userId`, `tapMethodId`, `issuedAt`, `validFrom`, `validUntil` (RFC 3339), `issueCount` (N), `channel`, `delivered` (BOOL), `ttl` (N) |
//! | closed bootstrap  | `BOOTSTRAP#{tenantId}` | `CLOSED#{userId}` | `tenantId`, `userId`, `reason`, `closedAt`, `issueCount` (N), `ttl` (N) |
//!
//! - [`BootstrapStore::due`] is one `Query` of the tenant's partition with `begins_with(sk,
//!   "OPEN#")`: it reads the open bootstraps only (new hires whose pass is pending — tens or
//!   hundreds), never the table, so no index is needed. The selection and order are
//!   [`select_due`]'s, the same as the in-memory twin's.
//! - `ttl` is the table's TimeToLive attribute: an open record may go [`OPEN_RETENTION`] after
//!   its pass ends, a closed one [`CLOSED_RETENTION`] after it closed. DynamoDB deletes expired
//!   items within days, not at once
//!   (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/TTL.html>), so reads
//!   skip items whose `ttl` has passed.
//! - `put` is conditional on the open record's `tapMethodId` (or its absence); `close` writes
//!   the closed record and deletes the open one in one transaction.
//! - No pass value is stored: the TAP method's id, its validity, the channel.

use async_trait::async_trait;
use autoenroll_core::bootstrap::{
    BootstrapStore, CLOSED_RETENTION, CloseReason, ClosedBootstrap, OPEN_RETENTION, OpenBootstrap,
    select_due,
};
use autoenroll_core::ports::StoreError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::dynamo::{
    DynamoStore, Item, PK, SK, TTL_ATTRIBUTE, conditional_check_failed, malformed, n, number, s,
    store_error, string,
};

fn tenant_pk(tenant_id: &str) -> String {
    format!("BOOTSTRAP#{tenant_id}")
}

fn open_sk(user_id: &str) -> String {
    format!("{OPEN_PREFIX}{user_id}")
}

fn closed_sk(user_id: &str) -> String {
    format!("CLOSED#{user_id}")
}

const OPEN_PREFIX: &str = "OPEN#";

fn rfc3339(at: OffsetDateTime) -> Result<String, StoreError> {
    at.format(&Rfc3339)
        .map_err(|e| StoreError::Other(format!("cannot format a bootstrap time: {e}")))
}

fn time_at(item: &Item, name: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(&string(item, name)?, &Rfc3339).map_err(|_| malformed(name))
}

/// Epoch seconds for the `ttl` attribute (0 for a time before 1970, which no pass has).
fn epoch(at: OffsetDateTime) -> u64 {
    u64::try_from(at.unix_timestamp()).unwrap_or_default()
}

fn count(item: &Item) -> Result<u32, StoreError> {
    u32::try_from(number(item, "issueCount")?).map_err(|_| malformed("issueCount"))
}

/// Whether DynamoDB may already have deleted the item (TTL passed) without having done it.
fn outlived(item: &Item, now: OffsetDateTime) -> bool {
    number(item, TTL_ATTRIBUTE).is_ok_and(|ttl| ttl <= epoch(now))
}

fn open_item(b: &OpenBootstrap) -> Result<Item, StoreError> {
    Ok(Item::from([
        (PK.to_owned(), s(tenant_pk(&b.tenant_id))),
        (SK.to_owned(), s(open_sk(&b.user_id))),
        ("tenantId".to_owned(), s(&b.tenant_id)),
        ("userId".to_owned(), s(&b.user_id)),
        ("tapMethodId".to_owned(), s(&b.tap_method_id)),
        ("issuedAt".to_owned(), s(rfc3339(b.issued_at)?)),
        ("validFrom".to_owned(), s(rfc3339(b.valid_from)?)),
        ("validUntil".to_owned(), s(rfc3339(b.valid_until)?)),
        ("issueCount".to_owned(), n(u64::from(b.issue_count))),
        ("channel".to_owned(), s(b.channel.as_str())),
        ("delivered".to_owned(), AttributeValue::Bool(b.delivered)),
        (
            TTL_ATTRIBUTE.to_owned(),
            n(epoch(b.valid_until + OPEN_RETENTION)),
        ),
    ]))
}

fn open_from_item(item: &Item) -> Result<OpenBootstrap, StoreError> {
    Ok(OpenBootstrap {
        tenant_id: string(item, "tenantId")?,
        user_id: string(item, "userId")?,
        tap_method_id: string(item, "tapMethodId")?,
        issued_at: time_at(item, "issuedAt")?,
        valid_from: time_at(item, "validFrom")?,
        valid_until: time_at(item, "validUntil")?,
        issue_count: count(item)?,
        channel: string(item, "channel")?
            .parse()
            .map_err(|_| malformed("channel"))?,
        delivered: match item.get("delivered") {
            Some(AttributeValue::Bool(delivered)) => *delivered,
            _ => return Err(malformed("delivered")),
        },
    })
}

fn closed_from_item(item: &Item) -> Result<ClosedBootstrap, StoreError> {
    Ok(ClosedBootstrap {
        tenant_id: string(item, "tenantId")?,
        user_id: string(item, "userId")?,
        reason: string(item, "reason")?
            .parse()
            .map_err(|_| malformed("reason"))?,
        closed_at: time_at(item, "closedAt")?,
        issue_count: count(item)?,
    })
}

impl DynamoStore {
    async fn bootstrap_item(&self, tenant_id: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let output = self
            .client()
            .get_item()
            .table_name(self.table())
            .key(PK, s(tenant_pk(tenant_id)))
            .key(SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", &e))?;
        Ok(output
            .item()
            .filter(|item| !outlived(item, OffsetDateTime::now_utc()))
            .cloned())
    }
}

#[async_trait]
impl BootstrapStore for DynamoStore {
    async fn get(
        &self,
        tenant_id: &str,
        user_id: &str,
    ) -> Result<Option<OpenBootstrap>, StoreError> {
        self.bootstrap_item(tenant_id, &open_sk(user_id))
            .await?
            .as_ref()
            .map(open_from_item)
            .transpose()
    }

    async fn put(&self, record: &OpenBootstrap, replaces: Option<&str>) -> Result<(), StoreError> {
        let request = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(open_item(record)?))
            .expression_attribute_names("#pk", PK);
        let request = match replaces {
            None => request.condition_expression("attribute_not_exists(#pk)"),
            Some(tap_method_id) => request
                .condition_expression("attribute_exists(#pk) AND #tap = :replaces")
                .expression_attribute_names("#tap", "tapMethodId")
                .expression_attribute_values(":replaces", s(tap_method_id)),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) if conditional_check_failed(&e) => {
                tracing::info!(user_id = %record.user_id, "open bootstrap changed concurrently");
                Err(StoreError::Conflict)
            }
            Err(e) => Err(store_error("PutItem", &e)),
        }
    }

    async fn close(
        &self,
        tenant_id: &str,
        user_id: &str,
        reason: CloseReason,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let issue_count = match self.get(tenant_id, user_id).await? {
            Some(open) => open.issue_count,
            None => 0,
        };
        let closed = Put::builder()
            .table_name(self.table())
            .set_item(Some(Item::from([
                (PK.to_owned(), s(tenant_pk(tenant_id))),
                (SK.to_owned(), s(closed_sk(user_id))),
                ("tenantId".to_owned(), s(tenant_id)),
                ("userId".to_owned(), s(user_id)),
                ("reason".to_owned(), s(reason.as_str())),
                ("closedAt".to_owned(), s(rfc3339(at)?)),
                ("issueCount".to_owned(), n(u64::from(issue_count))),
                (TTL_ATTRIBUTE.to_owned(), n(epoch(at + CLOSED_RETENTION))),
            ])))
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let open = Delete::builder()
            .table_name(self.table())
            .key(PK, s(tenant_pk(tenant_id)))
            .key(SK, s(open_sk(user_id)))
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        self.client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(closed).build())
            .transact_items(TransactWriteItem::builder().delete(open).build())
            .send()
            .await
            .map_err(|e| store_error("TransactWriteItems", &e))?;
        Ok(())
    }

    async fn last_closed(
        &self,
        tenant_id: &str,
        user_id: &str,
    ) -> Result<Option<ClosedBootstrap>, StoreError> {
        self.bootstrap_item(tenant_id, &closed_sk(user_id))
            .await?
            .as_ref()
            .map(closed_from_item)
            .transpose()
    }

    async fn due(
        &self,
        tenant_id: &str,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<OpenBootstrap>, StoreError> {
        let mut open = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client()
                .query()
                .table_name(self.table())
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :open)")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":pk", s(tenant_pk(tenant_id)))
                .expression_attribute_values(":open", s(OPEN_PREFIX))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| store_error("Query", &e))?;
            for item in output.items() {
                if !outlived(item, now) {
                    open.push(open_from_item(item)?);
                }
            }
            match output.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
        Ok(select_due(open, now, limit))
    }
}
