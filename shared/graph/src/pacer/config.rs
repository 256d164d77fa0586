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
    /// The part of the app + tenant quota this consumer may use (enroll, reconcile,
    /// subscriptions and the CLI each take their own, so that together they stay inside it).
    pub quota_share: QuotaShare,
    /// Fraction of the share actually used, to absorb clock skew and requests that arrive at
    /// Graph later than we sent them. Small on purpose: a sliding window of the full quota
    /// never exceeds a continuously refilled bucket of that quota (the documented limit), so
    /// only send-time jitter needs room, and every point here is throughput lost for good
    /// (the backfill bench's figures: BENCHMARKS.md).
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
            quota_share: QuotaShare::WHOLE,
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
        f64::from(quota) * self.quota_share.get() * self.headroom.clamp(0.0, 1.0)
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

/// A fraction of Graph's per app + tenant quota, in (0, 1]. Every consumer of one app
/// registration's quota (the enroll, reconcile and subscriptions functions, the CLI) is given
/// one; their sum should not pass 1 (the quota is shared, each pacer only sees its own calls).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct QuotaShare(f64);

/// A quota share outside (0, 1].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("a quota share is a fraction in (0, 1], e.g. 0.5; got `{0}`")]
pub struct InvalidQuotaShare(pub String);

impl QuotaShare {
    /// The whole quota: a consumer alone on its app registration.
    pub const WHOLE: QuotaShare = QuotaShare(1.0);

    /// `percent` % of the quota, for constants; panics (at compile time in a `const`) outside
    /// 1..=100.
    pub const fn percent(percent: u8) -> Self {
        assert!(percent >= 1 && percent <= 100, "a quota share is 1..=100 %");
        QuotaShare(percent as f64 / 100.0)
    }

    pub fn new(fraction: f64) -> Result<Self, InvalidQuotaShare> {
        if fraction.is_finite() && fraction > 0.0 && fraction <= 1.0 {
            Ok(QuotaShare(fraction))
        } else {
            Err(InvalidQuotaShare(fraction.to_string()))
        }
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

// Never NaN (checked on construction), so equality is total.
impl Eq for QuotaShare {}

impl Default for QuotaShare {
    fn default() -> Self {
        Self::WHOLE
    }
}

impl std::str::FromStr for QuotaShare {
    type Err = InvalidQuotaShare;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fraction = s
            .trim()
            .parse::<f64>()
            .map_err(|_| InvalidQuotaShare(s.to_owned()))?;
        QuotaShare::new(fraction).map_err(|_| InvalidQuotaShare(s.to_owned()))
    }
}

impl std::fmt::Display for QuotaShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}
