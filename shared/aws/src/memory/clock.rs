//! The in-memory queue's time: the system clock, or a manual one tests advance.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A clock that only moves when told to (starts at the current wall-clock time).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    pub fn new() -> Self {
        Self(Arc::new(AtomicU64::new(system_now_ms())))
    }

    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

/// Where the queue's time comes from.
#[derive(Debug, Clone, Default)]
pub enum QueueClock {
    #[default]
    System,
    Manual(ManualClock),
}

impl QueueClock {
    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        match self {
            QueueClock::System => system_now_ms(),
            QueueClock::Manual(clock) => clock.now_ms(),
        }
    }
}

impl From<ManualClock> for QueueClock {
    fn from(clock: ManualClock) -> Self {
        QueueClock::Manual(clock)
    }
}

pub(super) fn system_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

pub(super) fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
