//! In-memory implementations of the store ports, for tests and the local stack (the DynamoDB
//! ones live in `autoenroll-aws`). They keep the same contracts: the memory store's put is
//! conditional on the version, and every store can be told to be unavailable so callers'
//! retry paths can be tested.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::Mutex;

use crate::bootstrap::{BootstrapStore, CloseReason, ClosedBootstrap, OpenBootstrap, select_due};
use crate::ports::{
    AuditRecord, AuditSink, DeltaLinkStore, ManagedPhone, MemoryStore, StoreError,
    SubscriptionRecord, SubscriptionStore,
};

mod lease;

pub use lease::InMemoryLeaseStore;

/// Switch shared by a store and its clones: while on, every call fails with
/// `StoreError::Unavailable` (a retryable error, like a throttled DynamoDB).
#[derive(Debug, Clone, Default)]
struct Outage(Arc<Mutex<bool>>);

impl Outage {
    fn check(&self, what: &str) -> Result<(), StoreError> {
        if *self.0.lock() {
            Err(StoreError::Unavailable(format!(
                "{what} is down (simulated)"
            )))
        } else {
            Ok(())
        }
    }
    fn set(&self, down: bool) {
        *self.0.lock() = down;
    }
}

/// Per-user memory of the phone we registered. Clones share state.
#[derive(Debug, Clone, Default)]
pub struct InMemoryMemoryStore {
    records: Arc<Mutex<HashMap<String, ManagedPhone>>>,
    outage: Outage,
}

impl InMemoryMemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every record, for assertions.
    pub fn snapshot(&self) -> HashMap<String, ManagedPhone> {
        self.records.lock().clone()
    }

    /// While `true`, every call fails as unavailable.
    pub fn set_unavailable(&self, down: bool) {
        self.outage.set(down);
    }
}

#[async_trait]
impl MemoryStore for InMemoryMemoryStore {
    async fn get(&self, user_id: &str) -> Result<Option<ManagedPhone>, StoreError> {
        self.outage.check("memory store")?;
        Ok(self.records.lock().get(user_id).cloned())
    }

    async fn put(
        &self,
        record: ManagedPhone,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        self.outage.check("memory store")?;
        let mut records = self.records.lock();
        let current = records.get(&record.user_id).map(|r| r.version);
        if current != expected_version {
            return Err(StoreError::Conflict);
        }
        records.insert(record.user_id.clone(), record);
        Ok(())
    }

    async fn delete(&self, user_id: &str) -> Result<(), StoreError> {
        self.outage.check("memory store")?;
        self.records.lock().remove(user_id);
        Ok(())
    }
}

/// Collects audit records in order. Clones share state.
#[derive(Debug, Clone, Default)]
pub struct InMemoryAuditSink {
    records: Arc<Mutex<Vec<AuditRecord>>>,
    outage: Outage,
}

impl InMemoryAuditSink {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn records(&self) -> Vec<AuditRecord> {
        self.records.lock().clone()
    }

    pub fn set_unavailable(&self, down: bool) {
        self.outage.set(down);
    }
}

#[async_trait]
impl AuditSink for InMemoryAuditSink {
    async fn record(&self, record: AuditRecord) -> Result<(), StoreError> {
        self.outage.check("audit sink")?;
        self.records.lock().push(record);
        Ok(())
    }
}

/// Where the delta sweep keeps its place. Clones share state.
#[derive(Debug, Clone, Default)]
pub struct InMemoryDeltaLinkStore {
    link: Arc<Mutex<Option<String>>>,
    outage: Outage,
}

impl InMemoryDeltaLinkStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set_unavailable(&self, down: bool) {
        self.outage.set(down);
    }
}

#[async_trait]
impl DeltaLinkStore for InMemoryDeltaLinkStore {
    async fn get_delta_link(&self) -> Result<Option<String>, StoreError> {
        self.outage.check("delta link store")?;
        Ok(self.link.lock().clone())
    }

    async fn put_delta_link(&self, expected: Option<&str>, link: &str) -> Result<(), StoreError> {
        self.outage.check("delta link store")?;
        let mut stored = self.link.lock();
        if stored.as_deref() != expected {
            return Err(StoreError::Conflict);
        }
        *stored = Some(link.to_owned());
        Ok(())
    }

    async fn clear_delta_link(&self, expected: &str) -> Result<(), StoreError> {
        self.outage.check("delta link store")?;
        let mut stored = self.link.lock();
        if stored.as_deref() != Some(expected) {
            return Err(StoreError::Conflict);
        }
        *stored = None;
        Ok(())
    }
}

/// What the subscriptions function remembers. Clones share state.
#[derive(Debug, Clone, Default)]
pub struct InMemorySubscriptionStore {
    record: Arc<Mutex<Option<SubscriptionRecord>>>,
    outage: Outage,
}

impl InMemorySubscriptionStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set_unavailable(&self, down: bool) {
        self.outage.set(down);
    }
}

#[async_trait]
impl SubscriptionStore for InMemorySubscriptionStore {
    async fn get_subscription(&self) -> Result<Option<SubscriptionRecord>, StoreError> {
        self.outage.check("subscription store")?;
        Ok(self.record.lock().clone())
    }

    async fn put_subscription(&self, record: SubscriptionRecord) -> Result<(), StoreError> {
        self.outage.check("subscription store")?;
        *self.record.lock() = Some(record);
        Ok(())
    }
}

/// Open and closed bootstraps, keyed by (tenant, user). Clones share state.
#[derive(Debug, Clone, Default)]
pub struct InMemoryBootstrapStore {
    state: Arc<Mutex<BootstrapState>>,
    outage: Outage,
}

#[derive(Debug, Default)]
struct BootstrapState {
    open: HashMap<(String, String), OpenBootstrap>,
    closed: HashMap<(String, String), ClosedBootstrap>,
}

fn bootstrap_key(tenant_id: &str, user_id: &str) -> (String, String) {
    (tenant_id.to_owned(), user_id.to_owned())
}

impl InMemoryBootstrapStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every open bootstrap, for assertions and the local summary.
    pub fn open(&self) -> Vec<OpenBootstrap> {
        let mut open: Vec<_> = self.state.lock().open.values().cloned().collect();
        open.sort_by(|a, b| (&a.tenant_id, &a.user_id).cmp(&(&b.tenant_id, &b.user_id)));
        open
    }

    /// Every closed bootstrap, for assertions and the local summary.
    pub fn closed(&self) -> Vec<ClosedBootstrap> {
        let mut closed: Vec<_> = self.state.lock().closed.values().cloned().collect();
        closed.sort_by(|a, b| (&a.tenant_id, &a.user_id).cmp(&(&b.tenant_id, &b.user_id)));
        closed
    }

    pub fn set_unavailable(&self, down: bool) {
        self.outage.set(down);
    }
}

#[async_trait]
impl BootstrapStore for InMemoryBootstrapStore {
    async fn get(
        &self,
        tenant_id: &str,
        user_id: &str,
    ) -> Result<Option<OpenBootstrap>, StoreError> {
        self.outage.check("bootstrap store")?;
        Ok(self
            .state
            .lock()
            .open
            .get(&bootstrap_key(tenant_id, user_id))
            .cloned())
    }

    async fn put(&self, record: &OpenBootstrap, replaces: Option<&str>) -> Result<(), StoreError> {
        self.outage.check("bootstrap store")?;
        let mut state = self.state.lock();
        let key = bootstrap_key(&record.tenant_id, &record.user_id);
        let current = state.open.get(&key).map(|b| b.tap_method_id.as_str());
        if current != replaces {
            return Err(StoreError::Conflict);
        }
        state.open.insert(key, record.clone());
        Ok(())
    }

    async fn close(
        &self,
        tenant_id: &str,
        user_id: &str,
        reason: CloseReason,
        at: time::OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.outage.check("bootstrap store")?;
        let mut state = self.state.lock();
        let key = bootstrap_key(tenant_id, user_id);
        let issue_count = state.open.remove(&key).map_or(0, |b| b.issue_count);
        state.closed.insert(
            key,
            ClosedBootstrap {
                tenant_id: tenant_id.to_owned(),
                user_id: user_id.to_owned(),
                reason,
                closed_at: at,
                issue_count,
            },
        );
        Ok(())
    }

    async fn last_closed(
        &self,
        tenant_id: &str,
        user_id: &str,
    ) -> Result<Option<ClosedBootstrap>, StoreError> {
        self.outage.check("bootstrap store")?;
        Ok(self
            .state
            .lock()
            .closed
            .get(&bootstrap_key(tenant_id, user_id))
            .cloned())
    }

    async fn due(
        &self,
        tenant_id: &str,
        now: time::OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<OpenBootstrap>, StoreError> {
        self.outage.check("bootstrap store")?;
        let open: Vec<_> = self
            .state
            .lock()
            .open
            .values()
            .filter(|b| b.tenant_id == tenant_id)
            .cloned()
            .collect();
        Ok(select_due(open, now, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use autoenroll_graph::model::PhoneType;

    fn record(version: u64) -> ManagedPhone {
        ManagedPhone {
            user_id: "u1".into(),
            number_hash: "ab".repeat(32),
            last_two: "78".into(),
            phone_type: PhoneType::Mobile,
            registered_at: "2026-01-01T00:00:00Z".into(),
            version,
            pending: None,
        }
    }

    #[tokio::test]
    async fn first_write_requires_that_nothing_is_stored() {
        let store = InMemoryMemoryStore::new();
        store.put(record(1), None).await.unwrap();
        assert!(matches!(
            store.put(record(1), None).await,
            Err(StoreError::Conflict)
        ));
        assert_eq!(store.get("u1").await.unwrap(), Some(record(1)));
    }

    #[tokio::test]
    async fn update_with_a_stale_version_loses_and_keeps_the_winner() {
        let store = InMemoryMemoryStore::new();
        store.put(record(1), None).await.unwrap();
        store.put(record(2), Some(1)).await.unwrap();
        assert!(matches!(
            store.put(record(2), Some(1)).await,
            Err(StoreError::Conflict)
        ));
        assert_eq!(store.snapshot()["u1"].version, 2);
    }

    #[tokio::test]
    async fn update_of_a_missing_record_is_a_conflict() {
        let store = InMemoryMemoryStore::new();
        assert!(matches!(
            store.put(record(2), Some(1)).await,
            Err(StoreError::Conflict)
        ));
        assert!(store.snapshot().is_empty());
    }

    #[tokio::test]
    async fn delete_then_create_again() {
        let store = InMemoryMemoryStore::new();
        store.put(record(1), None).await.unwrap();
        store.delete("u1").await.unwrap();
        assert_eq!(store.get("u1").await.unwrap(), None);
        store.put(record(1), None).await.unwrap();
    }

    #[tokio::test]
    async fn clones_share_state_and_outages() {
        let store = InMemoryMemoryStore::new();
        let other = store.clone();
        other.put(record(1), None).await.unwrap();
        assert!(store.get("u1").await.unwrap().is_some());
        other.set_unavailable(true);
        assert!(matches!(
            store.get("u1").await,
            Err(StoreError::Unavailable(_))
        ));
        other.set_unavailable(false);
        assert!(store.get("u1").await.is_ok());
    }

    #[tokio::test]
    async fn audit_sink_keeps_records_in_order_and_can_be_down() {
        let sink = InMemoryAuditSink::new();
        for id in ["a", "b"] {
            sink.record(AuditRecord {
                user_id: id.into(),
                user_principal_name: None,
                at: "2026-01-01T00:00:00Z".into(),
                outcome: crate::ports::AuditOutcome::Done,
                actions: vec![],
                reasons: vec![],
                masked_number: None,
                trigger: None,
            })
            .await
            .unwrap();
        }
        let ids: Vec<_> = sink.records().into_iter().map(|r| r.user_id).collect();
        assert_eq!(ids, vec!["a", "b"]);
        sink.set_unavailable(true);
        let err = sink.record(sink.records()[0].clone()).await;
        assert!(matches!(err, Err(StoreError::Unavailable(_))));
        assert_eq!(sink.records().len(), 2);
    }

    #[tokio::test]
    async fn delta_link_is_stored_replaced_and_cleared() {
        let store = InMemoryDeltaLinkStore::new();
        assert_eq!(store.get_delta_link().await.unwrap(), None);
        let (one, two) = ("https://x/delta?token=1", "https://x/delta?token=2");
        store.put_delta_link(None, one).await.unwrap();
        store.put_delta_link(Some(one), two).await.unwrap();
        assert_eq!(store.get_delta_link().await.unwrap().as_deref(), Some(two));
        store.clear_delta_link(two).await.unwrap();
        assert_eq!(store.get_delta_link().await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_stale_writer_cannot_replace_or_clear_a_newer_delta_link() {
        let store = InMemoryDeltaLinkStore::new();
        let (old, newer) = ("https://x/delta?token=1", "https://x/delta?token=2");
        store.put_delta_link(None, old).await.unwrap();
        store.put_delta_link(Some(old), newer).await.unwrap();
        // A run that started from `old` (or from nothing) lost the race.
        let stale = store
            .put_delta_link(Some(old), "https://x/delta?token=0")
            .await;
        assert!(matches!(stale, Err(StoreError::Conflict)));
        assert!(matches!(
            store.put_delta_link(None, old).await,
            Err(StoreError::Conflict)
        ));
        assert!(matches!(
            store.clear_delta_link(old).await,
            Err(StoreError::Conflict)
        ));
        assert_eq!(
            store.get_delta_link().await.unwrap().as_deref(),
            Some(newer)
        );
    }

    #[tokio::test]
    async fn subscription_record_is_replaced_whole() {
        let store = InMemorySubscriptionStore::new();
        let rec = |id: &str| SubscriptionRecord {
            subscription_id: id.into(),
            expiration: "2026-01-30T00:00:00Z".into(),
            notification_url: "https://hook".into(),
            client_state_version: Some("v1".into()),
        };
        store.put_subscription(rec("s1")).await.unwrap();
        store.put_subscription(rec("s2")).await.unwrap();
        assert_eq!(store.get_subscription().await.unwrap(), Some(rec("s2")));
    }
}
