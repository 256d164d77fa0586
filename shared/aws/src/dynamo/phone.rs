//! The managed-phone record (`USER#{id}` / `PHONE`), written conditionally on its version.

use async_trait::async_trait;
use autoenroll_core::ports::{ManagedPhone, MemoryStore, PendingPhone, StoreError};
use autoenroll_graph::model::PhoneType;

use super::{
    DynamoStore, PHONE_SK, PK, SK, n, number, optional_string, s, store_error, string, user_pk,
};

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
