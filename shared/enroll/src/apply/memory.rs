//! apply's memory writes: the write-ahead `pending` entry before a phone write, its
//! confirmation after, its release when Graph certainly did not take the write (see the
//! parent module's docs).

use std::time::Duration;

use autoenroll_graph::model::PhoneType;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::early::Early;
use crate::phone::{self, GraphNumber};
use crate::plan::UserView;
use crate::ports::{ManagedPhone, MemoryStore, PendingPhone, StoreError};

/// Attempts at the memory write after a phone write (the phone is already there; losing the
/// memory would make it look self-registered forever, so a short outage is waited out).
const MEMORY_WRITE_ATTEMPTS: u32 = 3;
const MEMORY_WRITE_BACKOFF: Duration = Duration::from_millis(100);

fn hash_and_last_two(view: &UserView, number: &GraphNumber) -> (String, String) {
    let canonical = phone::canonical(number.expose()).unwrap_or_else(|| number.expose().into());
    (
        phone::fingerprint(&view.tenant_id, &canonical),
        phone::last_two(&canonical),
    )
}

fn now_rfc3339() -> String {
    let now = OffsetDateTime::now_utc();
    now.format(&Rfc3339)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

/// Conditional put of `record` over the version in `managed`, waiting out a short outage; on
/// success `managed` is the new record.
async fn put(
    memory: &dyn MemoryStore,
    managed: &mut Option<ManagedPhone>,
    mut record: ManagedPhone,
) -> Result<(), StoreError> {
    let expected = managed.as_ref().map(|m| m.version);
    record.version = expected.map_or(1, |v| v + 1);
    let mut attempt = 1;
    loop {
        match memory.put(record.clone(), expected).await {
            Ok(()) => {
                *managed = Some(record);
                return Ok(());
            }
            Err(StoreError::Unavailable(_)) if attempt < MEMORY_WRITE_ATTEMPTS => {
                tokio::time::sleep(MEMORY_WRITE_BACKOFF * attempt).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Before a phone write: record it as pending (the confirmed phone, if any, stays as it is).
pub(super) async fn intend(
    memory: &dyn MemoryStore,
    view: &UserView,
    managed: &mut Option<ManagedPhone>,
    phone_type: PhoneType,
    number: &GraphNumber,
) -> Result<(), StoreError> {
    let (number_hash, last_two) = hash_and_last_two(view, number);
    let mut record = managed.clone().unwrap_or_else(|| ManagedPhone {
        user_id: view.user.id.clone(),
        number_hash: String::new(),
        last_two: String::new(),
        phone_type,
        registered_at: String::new(),
        version: 0,
        pending: None,
    });
    record.pending = Some(PendingPhone {
        number_hash,
        last_two,
        phone_type,
        since: now_rfc3339(),
    });
    put(memory, managed, record).await
}

/// After a phone write of ours landed: the phone is confirmed as ours, nothing pending.
pub(super) async fn remember(
    memory: &dyn MemoryStore,
    view: &UserView,
    managed: &mut Option<ManagedPhone>,
    phone_type: PhoneType,
    number: &GraphNumber,
) -> Result<(), StoreError> {
    let (number_hash, last_two) = hash_and_last_two(view, number);
    let record = ManagedPhone {
        user_id: view.user.id.clone(),
        number_hash,
        last_two,
        phone_type,
        registered_at: now_rfc3339(),
        version: 0,
        pending: None,
    };
    match put(memory, managed, record.clone()).await {
        Err(StoreError::Conflict) => {
            // Another writer got there first; if it recorded the same phone, all is well.
            match memory.get(&record.user_id).await? {
                Some(stored) if stored.confirms(phone_type, &record.number_hash) => {
                    *managed = Some(stored);
                    Ok(())
                }
                _ => Err(StoreError::Conflict),
            }
        }
        other => other,
    }
}

/// Drop the pending entry (Graph certainly did not take our write, or the phone is someone
/// else's). A failure is logged: the entry then stays until the next attempt's write.
pub(super) async fn release(
    memory: &dyn MemoryStore,
    view: &UserView,
    managed: &mut Option<ManagedPhone>,
) {
    let Some(mut record) = managed.clone().filter(|m| m.pending.is_some()) else {
        return;
    };
    record.pending = None;
    if let Err(e) = put(memory, managed, record).await {
        tracing::warn!(user_id = %view.user.id, error = %e, "pending phone entry not released");
    }
}

/// A pending entry whose phone is there now: an earlier write of ours landed without us
/// hearing back. Confirm it, so it counts as registered by us from now on.
pub(super) async fn settle_pending(
    memory: &dyn MemoryStore,
    view: &UserView,
    managed: &mut Option<ManagedPhone>,
) {
    let Some(current) = managed.clone() else {
        return;
    };
    let Some(pending) = current.pending.clone() else {
        return;
    };
    let landed = crate::plan::existing_number(view, pending.phone_type)
        .is_some_and(|n| phone::fingerprint(&view.tenant_id, &n) == pending.number_hash);
    if !landed {
        return;
    }
    let record = ManagedPhone {
        number_hash: pending.number_hash,
        last_two: pending.last_two,
        phone_type: pending.phone_type,
        registered_at: pending.since,
        pending: None,
        ..current
    };
    match put(memory, managed, record).await {
        Ok(()) => {
            tracing::info!(user_id = %view.user.id, "phone from an unconfirmed write of ours found and confirmed")
        }
        Err(e) => {
            tracing::warn!(user_id = %view.user.id, error = %e, "pending phone entry not confirmed")
        }
    }
}

type Confirmed = (Result<(), StoreError>, Option<ManagedPhone>);

/// The confirmation of a phone write that landed ([`remember`]), in flight beside the Graph
/// writes after it: the store's round trip overlaps theirs instead of following them.
pub(super) struct Confirming<'a>(Early<'a, Confirmed>);

impl<'a> Confirming<'a> {
    /// Starts confirming `number` over the record in `managed` (which stays as it is until
    /// [`Confirming::finish`]).
    pub(super) fn start(
        memory: &'a dyn MemoryStore,
        view: &'a UserView,
        managed: &Option<ManagedPhone>,
        phone_type: PhoneType,
        number: GraphNumber,
    ) -> Self {
        let mut record = managed.clone();
        Confirming(Early::new(async move {
            let result = remember(memory, view, &mut record, phone_type, &number).await;
            (result, record)
        }))
    }

    /// The confirmation as a store call in flight, for [`crate::early::beside`].
    pub(super) fn early(&mut self) -> &mut Early<'a, Confirmed> {
        &mut self.0
    }

    /// Waits for the confirmation; on success `managed` is the confirmed record.
    pub(super) async fn finish(self, managed: &mut Option<ManagedPhone>) -> Result<(), StoreError> {
        let (result, record) = self.0.finish().await;
        if result.is_ok() {
            *managed = record;
        }
        result
    }
}
