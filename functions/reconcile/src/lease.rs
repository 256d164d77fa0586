//! Reconcile runs never overlap: each takes the `reconcile` lease in the store before it
//! sweeps. EventBridge starts one every minute and a big first sweep runs up to the 300 s
//! timeout, so without it several sweeps would walk the same delta pages at once and race on
//! the stored link. The lease expires at the run's Lambda deadline (plus a margin for clock
//! skew between instances), so a run that dies without releasing it blocks the next ones only
//! until then.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use autoenroll_core::ports::{LeaseGrant, LeaseStore, StoreError};

/// The lease's name in the store.
pub const LEASE_NAME: &str = "reconcile";
/// Added to the run's deadline: instances' clocks may differ by this much.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(5);

/// Taking and ending the reconcile lease for one run.
#[derive(Clone)]
pub struct RunLease {
    store: Arc<dyn LeaseStore>,
}

impl std::fmt::Debug for RunLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunLease").finish_non_exhaustive()
    }
}

/// The lease, held by this run.
#[derive(Debug)]
pub struct HeldLease {
    holder: String,
}

impl HeldLease {
    /// This run's holder id (random per run).
    pub fn holder(&self) -> &str {
        &self.holder
    }
}

impl RunLease {
    pub fn new(store: Arc<dyn LeaseStore>) -> Self {
        Self { store }
    }

    /// Takes the lease until `deadline` (+ [`EXPIRY_MARGIN`]); `Ok(None)` when another run
    /// holds it — the caller must not sweep (this is logged).
    pub async fn take(&self, deadline: SystemTime) -> Result<Option<HeldLease>, StoreError> {
        let holder = uuid::Uuid::new_v4().simple().to_string();
        let now = epoch_ms(SystemTime::now());
        let until = epoch_ms(deadline + EXPIRY_MARGIN).max(now + 1);
        match self.store.acquire(LEASE_NAME, &holder, now, until).await? {
            LeaseGrant::Granted => Ok(Some(HeldLease { holder })),
            LeaseGrant::HeldElsewhere {
                holder: other,
                expires_at_ms,
            } => {
                tracing::info!(
                    holder = %other,
                    expires_in_ms = expires_at_ms.saturating_sub(now),
                    "another reconcile run holds the lease; this run exits without sweeping"
                );
                Ok(None)
            }
        }
    }

    /// Ends the lease early so the next scheduled run need not wait for its expiry. A failure
    /// is only logged: the lease then simply expires.
    pub async fn release(&self, lease: HeldLease) {
        if let Err(e) = self.store.release(LEASE_NAME, &lease.holder).await {
            tracing::warn!(error = %e, "could not release the reconcile lease; it expires on its own");
        }
    }
}

fn epoch_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}
