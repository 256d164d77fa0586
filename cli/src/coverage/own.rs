//! What autoenroll itself remembers about a user (`report --table NAME`): whether the phone it
//! registered is on record (memory, `USER#{id}` / `PHONE`), the newest audit record
//! (`AUDIT#{id}`: outcome, reasons, when) and an open Temporary Access Pass bootstrap
//! (`autoenroll_core::bootstrap::BootstrapStore`: issued, delivered or not, valid until — never
//! the pass). Graph says what a user has; this says what autoenroll
//! did — together they tell "stuck since our last try failed permanently" from "never seen".
//!
//! One user at a time (a GetItem and a Query per user, at the report's concurrency): memory
//! stays flat, and the table needs no index.

use async_trait::async_trait;
use autoenroll_aws::dynamo::DynamoStore;
use autoenroll_core::bootstrap::{BootstrapStore, OpenBootstrap};
use autoenroll_core::ports::{MemoryStore, StoreError};
use serde::Serialize;

/// autoenroll's own records of one user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnRecord {
    /// autoenroll registered this user's phone (a confirmed record in its memory).
    pub managed_phone: bool,
    /// The managed phone's last two digits (what the memory keeps instead of the number).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_phone_last_two: Option<String>,
    /// A phone write was started and not yet confirmed.
    pub phone_write_pending: bool,
    /// The newest audit record's outcome (`done`, `skipped`, `failedRetry`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_outcome: Option<String>,
    /// When (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_outcome_at: Option<String>,
    /// Its reasons (skip reason codes, what was not done).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub last_reasons: Vec<String>,
    /// An open TAP bootstrap autoenroll is following up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_bootstrap: Option<BootstrapView>,
    /// The table could not be read for this user (the kind of failure, never a value).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_error: Option<String>,
}

/// An open bootstrap as the report shows it (the store's record has no pass value either).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BootstrapView {
    /// RFC 3339.
    pub issued_at: String,
    pub valid_until: String,
    /// Passes issued so far (1 = the first).
    pub issue_count: u32,
    /// `manager-email` or `mobile-sms`.
    pub channel: String,
    pub delivered: bool,
}

impl From<&OpenBootstrap> for BootstrapView {
    fn from(b: &OpenBootstrap) -> Self {
        let rfc3339 = |t: time::OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        };
        BootstrapView {
            issued_at: rfc3339(b.issued_at),
            valid_until: rfc3339(b.valid_until),
            issue_count: b.issue_count,
            channel: b.channel.as_str().to_owned(),
            delivered: b.delivered,
        }
    }
}

impl BootstrapView {
    /// `pass 2 via manager-email, delivered, valid until …`.
    pub fn summary(&self) -> String {
        format!(
            "pass {} via {}, {}, valid until {}",
            self.issue_count,
            self.channel,
            if self.delivered {
                "delivered"
            } else {
                "NOT delivered"
            },
            self.valid_until
        )
    }
}

impl OwnRecord {
    /// One line for a person: `managed phone ··78 · last: skipped (noNumber) 2026-12-01T…`.
    pub fn summary(&self) -> String {
        if let Some(e) = &self.read_error {
            return format!("table not read: {e}");
        }
        let mut parts = Vec::new();
        match (&self.managed_phone, &self.managed_phone_last_two) {
            (true, Some(two)) => parts.push(format!("managed phone ··{two}")),
            (true, None) => parts.push("managed phone".to_owned()),
            (false, _) => parts.push("no managed phone".to_owned()),
        }
        if self.phone_write_pending {
            parts.push("phone write pending".to_owned());
        }
        if let (Some(outcome), Some(at)) = (&self.last_outcome, &self.last_outcome_at) {
            let reasons = if self.last_reasons.is_empty() {
                String::new()
            } else {
                format!(" ({})", self.last_reasons.join(", "))
            };
            parts.push(format!("last: {outcome}{reasons} {at}"));
        } else {
            parts.push("never handled".to_owned());
        }
        if let Some(b) = &self.open_bootstrap {
            parts.push(format!("bootstrap open: {}", b.summary()));
        }
        parts.join(" · ")
    }
}

/// Reads autoenroll's records of a user.
#[async_trait]
pub trait OwnRecords: Send + Sync {
    async fn user(&self, user_id: &str) -> Result<OwnRecord, StoreError>;
}

/// The deployed stack's DynamoDB table.
pub struct TableRecords {
    pub store: DynamoStore,
    /// Bootstraps are kept per tenant.
    pub tenant_id: String,
}

#[async_trait]
impl OwnRecords for TableRecords {
    async fn user(&self, user_id: &str) -> Result<OwnRecord, StoreError> {
        let phone = MemoryStore::get(&self.store, user_id).await?;
        let trail = self.store.audit_trail(user_id).await?;
        let open = BootstrapStore::get(&self.store, &self.tenant_id, user_id).await?;
        let last = trail
            .into_iter()
            .map(|s| s.record)
            .max_by(|a, b| a.at.cmp(&b.at));
        let confirmed = phone.as_ref().filter(|p| !p.number_hash.is_empty());
        Ok(OwnRecord {
            managed_phone: confirmed.is_some(),
            managed_phone_last_two: confirmed.map(|p| p.last_two.clone()),
            phone_write_pending: phone.as_ref().is_some_and(|p| p.pending.is_some()),
            last_outcome: last.as_ref().map(|r| r.outcome.as_str().to_owned()),
            last_outcome_at: last.as_ref().map(|r| r.at.clone()),
            last_reasons: last.map(|r| r.reasons).unwrap_or_default(),
            open_bootstrap: open.as_ref().map(BootstrapView::from),
            read_error: None,
        })
    }
}

/// Opens `--table NAME` with the usual AWS environment (credentials, region,
/// `AWS_ENDPOINT_URL`) and checks it can be read before any user is.
pub async fn open_table(name: &str, tenant_id: &str) -> anyhow::Result<TableRecords> {
    let aws = autoenroll_aws::config::load(None).await;
    let records = TableRecords {
        store: DynamoStore::new(autoenroll_aws::config::dynamodb_client(&aws), name),
        tenant_id: tenant_id.to_owned(),
    };
    probe(&records, name).await?;
    Ok(records)
}

/// One read of a user that cannot exist: a missing table or a refused credential shows here,
/// not as 100,000 failed rows.
pub async fn probe(records: &dyn OwnRecords, name: &str) -> anyhow::Result<()> {
    records
        .user("00000000-0000-0000-0000-000000000000")
        .await
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("--table {name}: cannot read autoenroll's records: {e}"))
}
