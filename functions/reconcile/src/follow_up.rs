//! The follow-up of open bootstraps: every run hands the due ones
//! ([`BootstrapStore::due`]) back to the enroll queue as [`Trigger::FollowUp`] requests, where
//! the plan closes a bootstrap whose user now has a lasting method, re-issues an expired,
//! unused pass up to the policy's count, or gives up (`bootstrapExpired`, helpdesk told).
//!
//! Why the schedule and not an event: registering a passkey or Authenticator changes no
//! property of the `/users` resource, so neither a change notification nor `/users/delta`
//! reports it (graph-spec/BEHAVIOUR.md) — only reading the user's methods again does.
//!
//! How often one user is looked at: the de-duplication key ([`follow_up_key`]) is the pass, a
//! [`CHECK_INTERVAL`] slot of `now` and whether the pass has expired. The FIFO queue drops a
//! repeated key within its 5-minute window and the next slot brings a new key, so an open
//! bootstrap costs one enroll (two or three Graph reads) per interval, however often the
//! schedule runs — and the run after a pass expires queues it at once, whatever the slot.

use std::sync::Arc;

use autoenroll_core::bootstrap::{BootstrapStore, OpenBootstrap};
use autoenroll_core::ports::{EnrollQueue, EnrollRequest, QueueError, StoreError, Trigger};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// How often an open bootstrap is re-checked at most.
pub const CHECK_INTERVAL: time::Duration = time::Duration::minutes(10);
/// Most bootstraps queued per run (the first to expire first): enough for any day's hires; a
/// larger backlog is worked through over the next runs.
pub const DEFAULT_LIMIT: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum FollowUpError {
    #[error("bootstrap store: {0}")]
    Store(#[from] StoreError),
    #[error("enroll queue: {0}")]
    Queue(#[from] QueueError),
}

impl FollowUpError {
    /// Whether the next scheduled run may well succeed (a store or queue outage).
    pub fn is_transient(&self) -> bool {
        match self {
            FollowUpError::Store(e) => matches!(e, StoreError::Unavailable(_)),
            FollowUpError::Queue(e) => matches!(e, QueueError::Unavailable(_)),
        }
    }
}

/// What one follow-up run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowUpReport {
    /// Open bootstraps due at `now` (at most the limit).
    pub due: usize,
    /// Of those, whose pass has expired.
    pub expired: usize,
    /// Requests sent to the queue (the queue may drop repeats within its window).
    pub enqueued: usize,
}

/// The follow-up: the tenant's bootstrap store and the enroll queue.
#[derive(Clone)]
pub struct FollowUp {
    store: Arc<dyn BootstrapStore>,
    queue: Arc<dyn EnrollQueue>,
    tenant_id: String,
    limit: usize,
}

impl std::fmt::Debug for FollowUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FollowUp")
            .field("tenant_id", &self.tenant_id)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl FollowUp {
    pub fn new(
        store: Arc<dyn BootstrapStore>,
        queue: Arc<dyn EnrollQueue>,
        tenant_id: impl Into<String>,
    ) -> Self {
        Self {
            store,
            queue,
            tenant_id: tenant_id.into().to_ascii_lowercase(),
            limit: DEFAULT_LIMIT,
        }
    }

    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit.max(1);
        self
    }

    /// One run at `now` (the clock the passes are measured against: the wall clock in Lambda,
    /// the simulator's in the local stack).
    pub async fn run(&self, now: OffsetDateTime) -> Result<FollowUpReport, FollowUpError> {
        let due = self.store.due(&self.tenant_id, now, self.limit).await?;
        let requests: Vec<_> = due.iter().map(|b| follow_up_request(b, now)).collect();
        if !requests.is_empty() {
            self.queue.send_batch(&requests).await?;
        }
        let report = FollowUpReport {
            due: due.len(),
            expired: due.iter().filter(|b| b.expired_at(now)).count(),
            enqueued: requests.len(),
        };
        tracing::info!(
            due = report.due,
            expired = report.expired,
            enqueued = report.enqueued,
            "bootstrap follow-up done"
        );
        Ok(report)
    }
}

/// The enroll request that re-checks one open bootstrap at `now`.
pub fn follow_up_request(bootstrap: &OpenBootstrap, now: OffsetDateTime) -> EnrollRequest {
    EnrollRequest {
        tenant_id: bootstrap.tenant_id.clone(),
        user_id: bootstrap.user_id.clone(),
        trigger: Trigger::FollowUp {
            tap_method_id: bootstrap.tap_method_id.clone(),
        },
        observed_at: now.format(&Rfc3339).unwrap_or_default(),
        dedup_key: follow_up_key(bootstrap, now),
    }
}

/// `followUp:{user}:{pass}:{slot}:{live|expired}` — see the module doc.
pub fn follow_up_key(bootstrap: &OpenBootstrap, now: OffsetDateTime) -> String {
    let slot = now
        .unix_timestamp()
        .div_euclid(CHECK_INTERVAL.whole_seconds());
    let state = if bootstrap.expired_at(now) {
        "expired"
    } else {
        "live"
    };
    format!(
        "followUp:{}:{}:{slot}:{state}",
        bootstrap.user_id, bootstrap.tap_method_id
    )
}

#[cfg(test)]
mod tests;
