//! Audit records (`AUDIT#{id}` / `{at}#{uuid}`), expiring through the table's TTL.

use async_trait::async_trait;
use autoenroll_core::ports::{AuditOutcome, AuditRecord, AuditSink, StoreError};

use super::{
    DynamoStore, Item, PK, SK, TTL_ATTRIBUTE, malformed, n, now_epoch_seconds, optional_string, s,
    store_error, string, string_list, strings,
};

pub(super) fn audit_from_item(item: &Item) -> Result<AuditRecord, StoreError> {
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
