//! Ports: what the domain needs from the outside world, as traits. Adapters implement them —
//! DynamoDB / SQS / Secrets Manager in `autoenroll-aws`, in memory for tests and the local stack.
//!
//! This module is a contract between crates (see ARCHITECTURE.md); extend it, don't rename.

use crate::failure::Disposition;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Why a user is (re)considered. Carried in the queue message; used for audit and metrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Trigger {
    /// A Graph change notification (changeType `updated` or `deleted`).
    Notification {
        subscription_id: String,
        change_type: String,
    },
    /// Found by the `/users/delta` sweep.
    Reconcile,
    /// Operator backfill (`autoenroll apply`).
    Backfill,
    /// An open bootstrap re-checked by the reconcile schedule (`bootstrap::BootstrapStore::due`):
    /// registering a method raises no change notification, so nothing else would look again.
    /// `tap_method_id` names the pass that was open when the check was queued (the plan reads
    /// the store again; a different open pass means this request is stale).
    FollowUp { tap_method_id: String },
}

/// One unit of work on the queue: "look at this user again". It carries no user data: the
/// enroll function always re-reads the user from Graph (notifications are late, duplicated and
/// out of order, so only the current state counts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrollRequest {
    pub tenant_id: String,
    pub user_id: String,
    pub trigger: Trigger,
    /// RFC 3339 time the trigger was observed (for time-to-protection figures).
    pub observed_at: String,
    /// Identity used for queue de-duplication (FIFO MessageDeduplicationId is derived from it).
    pub dedup_key: String,
}

/// What we remember about a phone *we* registered for a user. Never the number in clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedPhone {
    pub user_id: String,
    /// Hex SHA-256 of the Graph-formatted number, keyed per tenant (see `phone::fingerprint`).
    /// Empty while no phone of ours is confirmed (a record holding only `pending`).
    pub number_hash: String,
    /// Last two digits, for humans reading the audit trail.
    pub last_two: String,
    pub phone_type: autoenroll_graph::model::PhoneType,
    /// RFC 3339.
    pub registered_at: String,
    /// Monotonic version for conditional writes (optimistic concurrency).
    pub version: u64,
    /// A phone write we started and have not seen confirmed (write-ahead, `apply.rs`): if the
    /// write lands, its answer is lost and the worker dies, the next attempt still knows the
    /// phone as ours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingPhone>,
}

/// The phone a write in progress will leave (see [`ManagedPhone::pending`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingPhone {
    pub number_hash: String,
    pub last_two: String,
    pub phone_type: autoenroll_graph::model::PhoneType,
    /// RFC 3339: when the write was started.
    pub since: String,
}

impl ManagedPhone {
    /// Whether a phone of `phone_type` with this number hash is one we registered (confirmed).
    /// The ground for "someone removed the phone we added — do not put it back".
    pub fn confirms(&self, phone_type: autoenroll_graph::model::PhoneType, hash: &str) -> bool {
        !self.number_hash.is_empty() && self.phone_type == phone_type && self.number_hash == hash
    }

    /// Whether we registered it or were writing it: the ground for "ours, may be updated".
    pub fn claims(&self, phone_type: autoenroll_graph::model::PhoneType, hash: &str) -> bool {
        self.confirms(phone_type, hash)
            || self
                .pending
                .as_ref()
                .is_some_and(|p| p.phone_type == phone_type && p.number_hash == hash)
    }
}

/// Per-user memory of what we set before.
#[async_trait]
pub trait MemoryStore: Send + Sync {
    async fn get(&self, user_id: &str) -> Result<Option<ManagedPhone>, StoreError>;
    /// Write `record` only if the stored version is `expected_version` (None = must not exist).
    /// Returns `StoreError::Conflict` when another writer got there first.
    async fn put(
        &self,
        record: ManagedPhone,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError>;
    async fn delete(&self, user_id: &str) -> Result<(), StoreError>;
}

/// One audit record per outcome. No phone number in clear (masked only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    pub user_id: String,
    pub user_principal_name: Option<String>,
    /// RFC 3339.
    pub at: String,
    pub outcome: AuditOutcome,
    pub actions: Vec<String>,
    pub reasons: Vec<String>,
    pub masked_number: Option<String>,
    pub trigger: Option<Trigger>,
}

/// What became of the user, one meaning per value: done, skipped on purpose, or failed with
/// what happens next (stored as `done`, `skipped`, `failedRetry`, `failedSystemic`,
/// `failedPermanent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditOutcome {
    Done,
    Skipped,
    Failed(Disposition),
}

impl AuditOutcome {
    pub const ALL: [AuditOutcome; 5] = [
        AuditOutcome::Done,
        AuditOutcome::Skipped,
        AuditOutcome::Failed(Disposition::Retry),
        AuditOutcome::Failed(Disposition::Systemic),
        AuditOutcome::Failed(Disposition::Permanent),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Done => "done",
            AuditOutcome::Skipped => "skipped",
            AuditOutcome::Failed(Disposition::Retry) => "failedRetry",
            AuditOutcome::Failed(Disposition::Systemic) => "failedSystemic",
            AuditOutcome::Failed(Disposition::Permanent) => "failedPermanent",
        }
    }

    /// The stored name back to the value (`None` for a name this version does not write).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == name)
    }

    pub fn is_failure(self) -> bool {
        matches!(self, AuditOutcome::Failed(_))
    }
}

impl std::fmt::Display for AuditOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AuditOutcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AuditOutcome {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Self::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown audit outcome {name:?}")))
    }
}

#[async_trait]
pub trait AuditSink: Send + Sync {
    async fn record(&self, record: AuditRecord) -> Result<(), StoreError>;
}

/// The work queue between webhook/reconcile and enroll (SQS FIFO in AWS).
#[async_trait]
pub trait EnrollQueue: Send + Sync {
    /// Persist every request or fail as a whole (the webhook answers 5xx then, so Graph retries).
    async fn send_batch(&self, requests: &[EnrollRequest]) -> Result<(), QueueError>;
}

/// Where the `/users/delta` sweep keeps its place. Writes are conditional on the link the
/// writer last saw, so a run that started from link L only ever replaces L: a stale run (one
/// that outlived its lease) cannot overwrite a newer link and send the sweep backwards.
#[async_trait]
pub trait DeltaLinkStore: Send + Sync {
    async fn get_delta_link(&self) -> Result<Option<String>, StoreError>;
    /// Stores `link` if the stored link is still `expected` (`None`: no link stored);
    /// otherwise [`StoreError::Conflict`] and nothing changes.
    async fn put_delta_link(&self, expected: Option<&str>, link: &str) -> Result<(), StoreError>;
    /// Removes the link if it is still `expected`; otherwise [`StoreError::Conflict`].
    async fn clear_delta_link(&self, expected: &str) -> Result<(), StoreError>;
}

/// What taking a lease gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseGrant {
    /// The caller holds the lease until the expiry it asked for.
    Granted,
    /// Another holder's unexpired lease: the caller must not run.
    HeldElsewhere {
        holder: String,
        /// Epoch milliseconds.
        expires_at_ms: u64,
    },
}

/// Mutual exclusion between runs of a scheduled job (reconcile) with an expiry, so that a run
/// that dies without releasing blocks the next ones only until its lease ends.
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Takes lease `name` for `holder` until `expires_at_ms` (epoch ms) unless someone else
    /// holds it past `now_ms`. Atomic: of two concurrent callers, one is granted.
    async fn acquire(
        &self,
        name: &str,
        holder: &str,
        now_ms: u64,
        expires_at_ms: u64,
    ) -> Result<LeaseGrant, StoreError>;
    /// Ends `holder`'s lease; a lease that expired and was taken by another is left alone.
    async fn release(&self, name: &str, holder: &str) -> Result<(), StoreError>;
}

/// What the subscriptions function remembers about the subscription it manages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionRecord {
    pub subscription_id: String,
    pub expiration: String,
    pub notification_url: String,
    /// Version of the clientState secret the subscription was created/updated with.
    pub client_state_version: Option<String>,
}

#[async_trait]
pub trait SubscriptionStore: Send + Sync {
    async fn get_subscription(&self) -> Result<Option<SubscriptionRecord>, StoreError>;
    async fn put_subscription(&self, record: SubscriptionRecord) -> Result<(), StoreError>;
}

/// A named secret (Entra client secret, clientState). Implementations cache.
#[async_trait]
pub trait SecretSource: Send + Sync {
    /// The current value, and the previous one during a rotation window.
    async fn get_secret(&self, name: &str) -> Result<SecretValue, StoreError>;
}

/// A secret value whose Debug never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue {
    pub current: String,
    pub previous: Option<String>,
    pub version: Option<String>,
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("conditional write lost a race")]
    Conflict,
    #[error("store unavailable (retryable): {0}")]
    Unavailable(String),
    #[error("store error: {0}")]
    Other(String),
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue unavailable (retryable): {0}")]
    Unavailable(String),
    #[error("queue rejected the message: {0}")]
    Rejected(String),
}
