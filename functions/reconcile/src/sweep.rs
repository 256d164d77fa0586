//! The `/users/delta` sweep: every changed (or removed) user becomes an [`EnrollRequest`] on the
//! enroll queue — the same queue and the same enroll code path as the webhook's.
//!
//! - Where to continue is one link in the [`DeltaLinkStore`]: the `@odata.deltaLink` of the
//!   last finished round, or the `@odata.nextLink` of the last page handled when a run stopped
//!   part-way. No link: a full walk (the backfill). An expired link (`400 syncStateNotFound`,
//!   identity delta tokens live 7 days — MGDC api-reference/v1.0/api/user-delta.md) is
//!   cleared and the walk starts over.
//! - Pages are streamed: one page in memory, its requests sent, then its link stored — so a
//!   run that dies re-sends at most one page (harmless: the queue de-duplicates, and enroll
//!   re-reads every user anyway).
//! - A time budget: no new page is started after the deadline; the next run (a minute later)
//!   continues from the stored nextLink. At least one page is handled per run, so a run always
//!   makes progress.
//! - De-duplication key: the user id and a fingerprint of what delta returned for the user, so
//!   the same change seen twice (a resumed page, overlapping runs) collapses in the FIFO queue's
//!   5-minute window while a new change is always sent.
//! - Accounts excluded by UPN are not even queued (their delta item carries the UPN); group
//!   exclusions need a Graph read and are left to the enroll function, which checks both.

use std::sync::Arc;

use autoenroll_core::plan;
use autoenroll_core::policy::Policy;
use autoenroll_core::ports::{
    DeltaLinkStore, EnrollQueue, EnrollRequest, QueueError, StoreError, Trigger,
};
use autoenroll_graph::model::{USER_SELECT, User};
use autoenroll_graph::{DeltaStart, GraphClient, GraphError};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("reading /users/delta: {0}")]
    Graph(GraphError),
    #[error("delta link store: {0}")]
    Store(#[from] StoreError),
    #[error("enroll queue: {0}")]
    Queue(#[from] QueueError),
}

impl SweepError {
    /// Whether the next scheduled run may well succeed (Graph throttling or 5xx after the
    /// client's own retries, a store or queue outage).
    pub fn is_transient(&self) -> bool {
        match self {
            SweepError::Graph(e) => e.is_retryable(),
            SweepError::Store(e) => matches!(e, StoreError::Unavailable(_)),
            SweepError::Queue(e) => matches!(e, QueueError::Unavailable(_)),
        }
    }
}

/// A run that stopped on an error, with what it had done until then (its progress is kept:
/// the link of the last handled page is stored).
#[derive(Debug, thiserror::Error)]
#[error("{error} (after {} pages, {} users queued)", partial.pages, partial.enqueued)]
pub struct SweepFailure {
    pub error: SweepError,
    pub partial: SweepReport,
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Pages read and handled.
    pub pages: usize,
    /// Users (changed or removed) in those pages.
    pub users: usize,
    /// Requests sent to the queue.
    pub enqueued: usize,
    /// Of `users`, removed (`@removed`) ones — enqueued too: enroll finds them gone.
    pub removed: usize,
    /// Of `users`, left out because the policy excludes their UPN.
    pub excluded: usize,
    /// The run began a full walk (no stored link, or an expired one).
    pub full_walk: bool,
    /// The stored link had expired and was discarded.
    pub restarted: bool,
    /// A round ended: a delta link is stored and the next run reads only new changes.
    pub round_finished: bool,
    /// The time budget ran out; the next run continues from the stored nextLink.
    pub stopped_for_time: bool,
    /// Another run stored a newer link meanwhile; this run stopped and left it.
    pub superseded: bool,
    /// Another run held the reconcile lease; this run did nothing.
    pub lease_held_elsewhere: bool,
}

/// The sweep and what it needs. Generic over the link store and the queue (DynamoDB and SQS
/// in Lambda, in-memory twins in tests and the local stack).
pub struct Reconciler<L, Q> {
    graph: GraphClient,
    policy: Arc<Policy>,
    tenant_id: String,
    links: L,
    queue: Q,
}

impl<L, Q> std::fmt::Debug for Reconciler<L, Q> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconciler")
            .field("tenant_id", &self.tenant_id)
            .finish_non_exhaustive()
    }
}

impl<L: DeltaLinkStore, Q: EnrollQueue> Reconciler<L, Q> {
    pub fn new(
        graph: GraphClient,
        policy: Arc<Policy>,
        tenant_id: impl Into<String>,
        links: L,
        queue: Q,
    ) -> Self {
        Self {
            graph,
            policy,
            tenant_id: tenant_id.into().to_ascii_lowercase(),
            links,
            queue,
        }
    }

    pub fn links(&self) -> &L {
        &self.links
    }

    pub fn queue(&self) -> &Q {
        &self.queue
    }

    /// One run: continue from the stored link (or walk everything), until a round ends or
    /// `deadline` passes. `page_grace` bounds how long a page started before the deadline may
    /// take (the function's hard timeout comes after it).
    pub async fn sweep(
        &self,
        deadline: Instant,
        page_grace: std::time::Duration,
    ) -> Result<SweepReport, SweepFailure> {
        let mut report = SweepReport::default();
        match self.run(deadline, page_grace, &mut report).await {
            Ok(()) => Ok(report),
            Err(error) => Err(SweepFailure {
                error,
                partial: report,
            }),
        }
    }

    async fn run(
        &self,
        deadline: Instant,
        page_grace: std::time::Duration,
        report: &mut SweepReport,
    ) -> Result<(), SweepError> {
        let mut stored = self.links.get_delta_link().await?;
        report.full_walk = stored.is_none();
        let mut start = match &stored {
            Some(link) => DeltaStart::Link(link.clone()),
            None => DeltaStart::initial(USER_SELECT),
        };
        loop {
            let walked = self
                .walk(&start, &mut stored, deadline, page_grace, report)
                .await;
            match walked {
                Err(SweepError::Graph(e)) if e.is_delta_token_expired() && !report.restarted => {
                    // Expired (or unknown) link: start over with a full walk, once per run.
                    tracing::warn!(
                        code = e.code.as_deref(),
                        "delta link expired; starting a full walk"
                    );
                    if let Some(expired) = stored.take() {
                        self.links.clear_delta_link(&expired).await?;
                    }
                    report.restarted = true;
                    report.full_walk = true;
                    start = DeltaStart::initial(USER_SELECT);
                }
                Err(SweepError::Store(StoreError::Conflict)) => {
                    // Another run stored a newer link than the one this run continued from:
                    // it is ahead, so this one stops without touching it.
                    tracing::warn!(
                        "the delta link moved on under this run; leaving it to the newer run"
                    );
                    report.superseded = true;
                    return Ok(());
                }
                other => return other,
            }
        }
    }

    /// Reads pages from `start`; `stored` is the link in the store, which each page's link
    /// replaces only if it is still that one.
    async fn walk(
        &self,
        start: &DeltaStart,
        stored: &mut Option<String>,
        deadline: Instant,
        page_grace: std::time::Duration,
        report: &mut SweepReport,
    ) -> Result<(), SweepError> {
        let mut pages = self.graph.users().delta(start);
        loop {
            // The first page of a run is always read, so every run makes progress.
            if report.pages > 0 && Instant::now() >= deadline {
                report.stopped_for_time = true;
                return Ok(());
            }
            let hard_stop = deadline.max(Instant::now()) + page_grace;
            let Ok(next) = tokio::time::timeout_at(hard_stop, pages.next()).await else {
                // Graph is slow: stop here, the next run continues from the stored link.
                tracing::warn!("a /users/delta page did not arrive within the run's time");
                report.stopped_for_time = true;
                return Ok(());
            };
            let page = match next {
                Some(Ok(page)) => page,
                Some(Err(e)) => return Err(SweepError::Graph(e)),
                // A stream that ends without a delta link: Graph broke the protocol. Keep the
                // stored link; the next run reads from it again.
                None => {
                    tracing::warn!("/users/delta ended without a deltaLink");
                    return Ok(());
                }
            };
            report.pages += 1;
            let requests = self.requests(&page.value, report);
            if !requests.is_empty() {
                self.queue.send_batch(&requests).await?;
                report.enqueued += requests.len();
            }
            match (&page.next_link, &page.delta_link) {
                (Some(next), _) => self.store_link(stored, next).await?,
                (None, Some(delta)) => {
                    self.store_link(stored, delta).await?;
                    report.round_finished = true;
                    return Ok(());
                }
                (None, None) => {
                    tracing::warn!("/users/delta page without nextLink or deltaLink");
                    return Ok(());
                }
            }
        }
    }

    async fn store_link(&self, stored: &mut Option<String>, link: &str) -> Result<(), SweepError> {
        self.links.put_delta_link(stored.as_deref(), link).await?;
        *stored = Some(link.to_owned());
        Ok(())
    }

    /// The page's users as enroll requests (one per user even if delta repeats a user).
    fn requests(&self, users: &[User], report: &mut SweepReport) -> Vec<EnrollRequest> {
        let observed_at = rfc3339_now();
        let mut requests: Vec<EnrollRequest> = Vec::with_capacity(users.len());
        let mut position: std::collections::HashMap<String, usize> =
            std::collections::HashMap::with_capacity(users.len());
        for user in users {
            report.users += 1;
            if user.removed.is_some() {
                report.removed += 1;
            } else if plan::excluded(&self.policy, user.user_principal_name.as_deref(), &[])
                .is_some()
            {
                report.excluded += 1;
                continue;
            }
            let request = EnrollRequest {
                tenant_id: self.tenant_id.clone(),
                user_id: user.id.clone(),
                trigger: Trigger::Reconcile,
                observed_at: observed_at.clone(),
                dedup_key: dedup_key(&self.tenant_id, user),
            };
            // Delta may list an object more than once in a round; the last one is the latest.
            match position.get(&request.user_id) {
                Some(&at) => requests[at] = request,
                None => {
                    position.insert(request.user_id.clone(), requests.len());
                    requests.push(request);
                }
            }
        }
        requests
    }
}

/// `reconcile:{user id}:{fingerprint}` — the fingerprint is a truncated, tenant-keyed SHA-256
/// of the user as delta returned it: the same change gives the same key, any change another.
/// It reveals nothing of the user's properties (the number among them).
pub fn dedup_key(tenant_id: &str, user: &User) -> String {
    let mut hasher = Sha256::new();
    hasher.update(tenant_id.as_bytes());
    hasher.update([0]);
    // Serialising our own struct cannot fail; an empty fingerprint would still be a valid key.
    hasher.update(serde_json::to_vec(user).unwrap_or_default());
    let digest = hex::encode(hasher.finalize());
    format!("reconcile:{}:{}", user.id, &digest[..16])
}

fn rfc3339_now() -> String {
    let now = OffsetDateTime::now_utc();
    now.format(&Rfc3339)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(mobile: &str) -> User {
        serde_json::from_value(serde_json::json!({
            "id": "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b01",
            "userPrincipalName": "adele.vance@contoso.com",
            "mobilePhone": mobile,
        }))
        .unwrap()
    }

    #[test]
    fn same_user_state_gives_the_same_key_and_a_change_another() {
        let t = "8f2c6a51-3b7e-4d0a-9c1e-5a4b2d9e7f10";
        assert_eq!(
            dedup_key(t, &user("06-12345678")),
            dedup_key(t, &user("06-12345678"))
        );
        assert_ne!(
            dedup_key(t, &user("06-12345678")),
            dedup_key(t, &user("06-87654321"))
        );
        let key = dedup_key(t, &user("06-12345678"));
        assert!(key.starts_with("reconcile:4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b01:"));
        assert!(!key.contains("12345678"));
    }
}
