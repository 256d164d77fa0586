//! The in-memory twin of the run lease (DynamoDB in AWS: autoenroll-aws `dynamo/lease.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::Mutex;

use super::Outage;
use crate::ports::{LeaseGrant, LeaseStore, StoreError};

/// Leases of scheduled runs. Clones share state.
#[derive(Debug, Clone, Default)]
pub struct InMemoryLeaseStore {
    leases: Arc<Mutex<HashMap<String, (String, u64)>>>,
    outage: Outage,
}

impl InMemoryLeaseStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set_unavailable(&self, down: bool) {
        self.outage.set(down);
    }

    /// The holder of `name` and its expiry (epoch ms), expired or not.
    pub fn holder(&self, name: &str) -> Option<(String, u64)> {
        self.leases.lock().get(name).cloned()
    }
}

#[async_trait]
impl LeaseStore for InMemoryLeaseStore {
    async fn acquire(
        &self,
        name: &str,
        holder: &str,
        now_ms: u64,
        expires_at_ms: u64,
    ) -> Result<LeaseGrant, StoreError> {
        self.outage.check("lease store")?;
        let mut leases = self.leases.lock();
        if let Some((current, until)) = leases.get(name)
            && current != holder
            && *until > now_ms
        {
            return Ok(LeaseGrant::HeldElsewhere {
                holder: current.clone(),
                expires_at_ms: *until,
            });
        }
        leases.insert(name.to_owned(), (holder.to_owned(), expires_at_ms));
        Ok(LeaseGrant::Granted)
    }

    async fn release(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        self.outage.check("lease store")?;
        let mut leases = self.leases.lock();
        if leases
            .get(name)
            .is_some_and(|(current, _)| current == holder)
        {
            leases.remove(name);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_lease_excludes_others_until_it_expires_or_is_released() {
        let leases = InMemoryLeaseStore::new();
        assert_eq!(
            leases.acquire("reconcile", "a", 1_000, 5_000).await.ok(),
            Some(LeaseGrant::Granted)
        );
        assert_eq!(
            leases.acquire("reconcile", "b", 2_000, 6_000).await.ok(),
            Some(LeaseGrant::HeldElsewhere {
                holder: "a".into(),
                expires_at_ms: 5_000
            })
        );
        // Another lease name is independent.
        assert_eq!(
            leases.acquire("other", "b", 2_000, 6_000).await.ok(),
            Some(LeaseGrant::Granted)
        );
        // Expired: the next run takes it; the old holder's release leaves it alone.
        assert_eq!(
            leases.acquire("reconcile", "b", 5_000, 9_000).await.ok(),
            Some(LeaseGrant::Granted)
        );
        leases.release("reconcile", "a").await.unwrap();
        assert_eq!(leases.holder("reconcile"), Some(("b".into(), 9_000)));
        leases.release("reconcile", "b").await.unwrap();
        assert_eq!(
            leases.acquire("reconcile", "c", 6_000, 9_000).await.ok(),
            Some(LeaseGrant::Granted)
        );
        leases.set_unavailable(true);
        assert!(matches!(
            leases.acquire("reconcile", "d", 6_000, 9_000).await,
            Err(StoreError::Unavailable(_))
        ));
    }
}
