//! Pacing settings: the quota share of this instance and the AIMD response to Graph's feedback.

use std::time::Duration;

use super::BudgetClass;
use crate::limits;

/// Pacing settings. The defaults are the documented quotas for a small tenant, whole for one
/// process; a Lambda function sets `instance_share_divisor` to its event source's
/// `MaximumConcurrency` so that all its instances together stay within the quota.
#[derive(Debug, Clone, PartialEq)]
pub struct PacingConfig {
    /// Off = no client-side waiting at all (429 handling still applies).
    pub enabled: bool,
    pub writes_per_window: u32,
    pub write_window: Duration,
    pub read_units_per_window: u32,
    pub read_window: Duration,
    /// Each instance takes quota ÷ this. At least 1.
    pub instance_share_divisor: u32,
    /// Fraction of the share actually used, to absorb clock skew and requests that arrive at
    /// Graph later than we sent them. Small on purpose: a sliding window of the full quota
    /// never exceeds a continuously refilled bucket of that quota (the documented limit), so
    /// only send-time jitter needs room, and every point here is throughput lost for good —
    /// 0.9 held the backfill bench at 0.90 of the write ceiling, 0.97 gives 0.97 with no 429
    /// (tests/bench, BENCHMARKS.md).
    pub headroom: f64,
    pub aimd: AimdConfig,
}

impl Default for PacingConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            writes_per_window: limits::WRITES_PER_WINDOW,
            write_window: limits::WRITE_WINDOW,
            read_units_per_window: limits::RESOURCE_UNITS_SMALL,
            read_window: limits::RESOURCE_UNIT_WINDOW,
            instance_share_divisor: 1,
            headroom: 0.97,
            aimd: AimdConfig::default(),
        }
    }
}

impl PacingConfig {
    /// The limit one window of `class` may hold for this instance, before AIMD.
    pub fn share(&self, class: BudgetClass) -> f64 {
        let quota = match class {
            BudgetClass::Write => self.writes_per_window,
            BudgetClass::Read => self.read_units_per_window,
        };
        f64::from(quota) * self.headroom.clamp(0.0, 1.0)
            / f64::from(self.instance_share_divisor.max(1))
    }

    pub(crate) fn window(&self, class: BudgetClass) -> Duration {
        match class {
            BudgetClass::Write => self.write_window,
            BudgetClass::Read => self.read_window,
        }
    }
}

/// Additive-increase / multiplicative-decrease of the share in response to Graph's feedback.
#[derive(Debug, Clone, PartialEq)]
pub struct AimdConfig {
    /// Multiplier applied on a 429.
    pub throttled_factor: f64,
    /// Multiplier applied when `x-ms-throttle-limit-percentage` reaches `near_limit_threshold`.
    pub near_limit_factor: f64,
    pub near_limit_threshold: f64,
    /// The share never drops below this fraction.
    pub min_factor: f64,
    /// Added per successful request, up to 1.
    pub increase_per_success: f64,
    /// At most one decrease per budget per this long: the in-flight requests that hit the same
    /// limit at once are one signal, not many.
    pub decrease_cooldown: Duration,
}

impl Default for AimdConfig {
    fn default() -> Self {
        Self {
            throttled_factor: 0.5,
            near_limit_factor: 0.9,
            near_limit_threshold: 0.8,
            min_factor: 0.05,
            increase_per_success: 0.01,
            decrease_cooldown: Duration::from_secs(1),
        }
    }
}
