//! Leases of scheduled runs (`LEASE` / `{name}`): `holder`, `expiresAt` (N, epoch ms).
//!
//! Taking one is one conditional PutItem — granted when no item exists, the stored lease has
//! expired, or the caller already holds it — so of two runs that start together exactly one
//! wins. Releasing is a DeleteItem conditional on the holder, so a run that outlived its lease
//! cannot end the lease of the run that took over.

use async_trait::async_trait;
use autoenroll_core::ports::{LeaseGrant, LeaseStore, StoreError};

use super::{DynamoStore, PK, SK, conditional_check_failed, n, number, s, store_error, string};

const LEASE_PK: &str = "LEASE";

#[async_trait]
impl LeaseStore for DynamoStore {
    async fn acquire(
        &self,
        name: &str,
        holder: &str,
        now_ms: u64,
        expires_at_ms: u64,
    ) -> Result<LeaseGrant, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(LEASE_PK))
            .item(SK, s(name))
            .item("holder", s(holder))
            .item("expiresAt", n(expires_at_ms))
            .condition_expression(
                "attribute_not_exists(#pk) OR #expiresAt <= :now OR #holder = :holder",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#expiresAt", "expiresAt")
            .expression_attribute_names("#holder", "holder")
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":holder", s(holder))
            .send()
            .await;
        match result {
            Ok(_) => Ok(LeaseGrant::Granted),
            Err(e) if conditional_check_failed(&e) => {
                // Who holds it, for the log line; gone meanwhile means it just ended, and the
                // caller still does not run (the next scheduled run will).
                let item = self.get_item(LEASE_PK, name).await?;
                Ok(LeaseGrant::HeldElsewhere {
                    holder: match &item {
                        Some(item) => string(item, "holder")?,
                        None => String::new(),
                    },
                    expires_at_ms: match &item {
                        Some(item) => number(item, "expiresAt")?,
                        None => now_ms,
                    },
                })
            }
            Err(e) => Err(store_error("PutItem", &e)),
        }
    }

    async fn release(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(LEASE_PK))
            .key(SK, s(name))
            .condition_expression("#holder = :holder")
            .expression_attribute_names("#holder", "holder")
            .expression_attribute_values(":holder", s(holder))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Expired and taken over, or already gone: nothing of ours to end.
            Err(e) if conditional_check_failed(&e) => Ok(()),
            Err(e) => Err(store_error("DeleteItem", &e)),
        }
    }
}
