//! The simulated clock: real time plus an offset that tests move forward (never back), so
//! expirations (subscriptions, delta links, temporary access passes) can be reached without
//! waiting.

use std::sync::Arc;

use parking_lot::Mutex;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset: Arc<Mutex<Duration>>,
}

impl Clock {
    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + *self.offset.lock()
    }

    /// Moves the clock forward; a negative duration is ignored (time does not go back).
    pub fn advance(&self, by: Duration) -> OffsetDateTime {
        if by.is_positive() {
            *self.offset.lock() += by;
        }
        self.now()
    }

    pub fn offset(&self) -> Duration {
        *self.offset.lock()
    }
}

/// Graph's timestamp format: RFC 3339 in UTC, whole seconds, `Z`.
pub fn format_rfc3339(at: OffsetDateTime) -> String {
    let at = at
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(at);
    at.format(&Rfc3339).unwrap_or_default()
}

pub fn parse_rfc3339(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}
