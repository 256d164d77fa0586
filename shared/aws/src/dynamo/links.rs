//! The delta link (`DELTA` / `users`) and the subscription record (`SUBSCRIPTION` / `users`).

use async_trait::async_trait;
use autoenroll_core::ports::{DeltaLinkStore, StoreError, SubscriptionRecord, SubscriptionStore};
use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{
    DELTA_PK, DynamoStore, PK, SK, SUBSCRIPTION_PK, USERS_SK, conditional_check_failed,
    optional_string, rfc3339_now, s, store_error, string,
};

#[async_trait]
impl DeltaLinkStore for DynamoStore {
    async fn get_delta_link(&self) -> Result<Option<String>, StoreError> {
        match self.get_item(DELTA_PK, USERS_SK).await? {
            Some(item) => Ok(Some(string(&item, "link")?)),
            None => Ok(None),
        }
    }

    async fn put_delta_link(&self, expected: Option<&str>, link: &str) -> Result<(), StoreError> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(DELTA_PK))
            .item(SK, s(USERS_SK))
            .item("link", s(link))
            .item("updatedAt", s(rfc3339_now()));
        let request = match expected {
            None => request
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK),
            Some(expected) => request
                .condition_expression("#link = :expected")
                .expression_attribute_names("#link", "link")
                .expression_attribute_values(":expected", s(expected)),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) if conditional_check_failed(&e) => {
                tracing::info!("delta link changed under this run; not replacing it");
                Err(StoreError::Conflict)
            }
            Err(e) => Err(store_error("PutItem", &e)),
        }
    }

    async fn clear_delta_link(&self, expected: &str) -> Result<(), StoreError> {
        let request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(DELTA_PK))
            .key(SK, s(USERS_SK))
            .condition_expression("#link = :expected")
            .expression_attribute_names("#link", "link")
            .expression_attribute_values(":expected", s(expected));
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) if conditional_check_failed(&e) => Err(StoreError::Conflict),
            Err(e) => Err(store_error("DeleteItem", &e)),
        }
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
