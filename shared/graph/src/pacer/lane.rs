//! One budget's sliding window and AIMD state.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::AimdConfig;

/// One budget: a sliding window of booked units plus the AIMD state.
#[derive(Debug)]
pub(super) struct Lane {
    pub(super) window: Duration,
    pub(super) entries: VecDeque<(Instant, u32)>,
    pub(super) used: u64,
    pub(super) factor: f64,
    pub(super) blocked_until: Option<Instant>,
    pub(super) last_decrease: Option<Instant>,
}

impl Lane {
    pub(super) fn new(window: Duration) -> Self {
        Self {
            window,
            entries: VecDeque::new(),
            used: 0,
            factor: 1.0,
            blocked_until: None,
            last_decrease: None,
        }
    }

    pub(super) fn limit(&self, share: f64) -> u64 {
        // At least one unit, or a tiny share could never send anything.
        ((share * self.factor).floor() as u64).max(1)
    }

    pub(super) fn prune(&mut self, now: Instant) {
        while let Some(&(at, cost)) = self.entries.front() {
            if at + self.window <= now {
                self.entries.pop_front();
                self.used -= u64::from(cost);
            } else {
                break;
            }
        }
    }

    /// Books `cost` units at `now`, or says when to try again.
    pub(super) fn try_acquire(
        &mut self,
        now: Instant,
        cost: u32,
        share: f64,
    ) -> Result<(), Instant> {
        if let Some(until) = self.blocked_until {
            if until > now {
                return Err(until);
            }
            self.blocked_until = None;
        }
        self.prune(now);
        let limit = self.limit(share);
        let cost = u64::from(cost).clamp(1, limit);
        if self.used + cost <= limit {
            // `cost <= limit`, which fits in u32 because it came from one.
            self.entries.push_back((now, cost as u32));
            self.used += cost;
            return Ok(());
        }
        // The earliest moment enough of the oldest entries have left the window.
        let mut remaining = self.used;
        for &(at, c) in &self.entries {
            remaining -= u64::from(c);
            if remaining + cost <= limit {
                return Err(at + self.window);
            }
        }
        Err(now + self.window)
    }

    pub(super) fn on_throttled(
        &mut self,
        now: Instant,
        retry_after: Option<Duration>,
        aimd: &AimdConfig,
    ) {
        self.decrease(now, aimd.throttled_factor, aimd);
        if let Some(wait) = retry_after {
            let until = now + wait;
            if self.blocked_until.is_none_or(|b| b < until) {
                self.blocked_until = Some(until);
            }
        }
    }

    pub(super) fn decrease(&mut self, now: Instant, multiplier: f64, aimd: &AimdConfig) {
        if self
            .last_decrease
            .is_some_and(|last| now < last + aimd.decrease_cooldown)
        {
            return;
        }
        self.last_decrease = Some(now);
        self.factor = (self.factor * multiplier).max(aimd.min_factor);
    }

    pub(super) fn increase(&mut self, aimd: &AimdConfig) {
        self.factor = (self.factor + aimd.increase_per_success).min(1.0);
    }
}
