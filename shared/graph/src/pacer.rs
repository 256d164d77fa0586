//! Client-side pacing, so a backfill stays under Graph's quotas instead of bouncing off them.
//!
//! Graph limits identity and access calls per app + tenant: 3,000 writes per 150 s and a budget
//! of resource units per 10 s (see [`crate::limits`]). A [`Pacer`] keeps, per budget, a sliding
//! window of what this process sent and makes a caller wait when the next request would exceed
//! its share. A sliding window (not a token bucket) is used because a bucket that starts full
//! lets `capacity + rate × window` through in the first window — twice the quota.
//!
//! Feedback from Graph narrows the share (AIMD): a 429 halves it and blocks the budget for the
//! `Retry-After`; `x-ms-throttle-limit-percentage` (sent once an app passes 80 % of a limit)
//! trims it; every success widens it again a little.
//!
//! One pacer is shared by every [`crate::GraphClient`] of the process that talks to the same
//! Graph endpoint as the same app in the same tenant (see [`Pacer::shared`]).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

mod config;
mod lane;

pub use config::{AimdConfig, InvalidQuotaShare, PacingConfig, QuotaShare};
use lane::Lane;

/// Which of Graph's budgets a request draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BudgetClass {
    /// GETs: resource units per 10 s.
    Read,
    /// POST / PATCH / PUT / DELETE: writes per 150 s (they also cost 1 RU, which the write
    /// budget's far lower rate keeps well inside the read budget).
    Write,
}

/// The budget would only be there after the caller's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PastDeadline;

/// What the pacer currently allows, for tests, benchmarks and `doctor`.
#[derive(Debug, Clone, PartialEq)]
pub struct LaneSnapshot {
    /// AIMD multiplier of the share, in `[min_factor, 1]`.
    pub factor: f64,
    /// Units in the current window.
    pub used: u64,
    /// Units the window may hold now.
    pub limit: u64,
    /// Set while a 429's `Retry-After` is running.
    pub blocked_for: Option<Duration>,
}

/// Shared pacing state for one app + tenant + Graph endpoint.
#[derive(Debug)]
pub struct Pacer {
    config: PacingConfig,
    write: Mutex<Lane>,
    read: Mutex<Lane>,
}

static REGISTRY: LazyLock<Mutex<HashMap<String, Weak<Pacer>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

impl Pacer {
    pub fn new(config: PacingConfig) -> Self {
        Self {
            write: Mutex::new(Lane::new(config.window(BudgetClass::Write))),
            read: Mutex::new(Lane::new(config.window(BudgetClass::Read))),
            config,
        }
    }

    /// The process-wide pacer for `key` (Graph endpoint + tenant + app): created with `config`
    /// the first time, then shared while anyone holds it.
    pub fn shared(key: &str, config: &PacingConfig) -> Arc<Pacer> {
        let mut registry = REGISTRY.lock();
        registry.retain(|_, weak| weak.strong_count() > 0);
        if let Some(existing) = registry.get(key).and_then(Weak::upgrade) {
            if existing.config != *config {
                tracing::warn!(
                    "a Graph client with different pacing settings joined an existing pacer; keeping the first settings"
                );
            }
            return existing;
        }
        let pacer = Arc::new(Pacer::new(config.clone()));
        registry.insert(key.to_owned(), Arc::downgrade(&pacer));
        pacer
    }

    pub fn config(&self) -> &PacingConfig {
        &self.config
    }

    fn lane(&self, class: BudgetClass) -> &Mutex<Lane> {
        match class {
            BudgetClass::Write => &self.write,
            BudgetClass::Read => &self.read,
        }
    }

    /// Waits until `cost` units of `class` fit in this instance's share, then books them.
    /// Returns how long it waited: exactly zero when the budget was there at once (a write
    /// re-checks its plan only after a real wait).
    pub async fn acquire(&self, class: BudgetClass, cost: u32) -> Duration {
        match self.acquire_before(class, cost, None).await {
            Ok(waited) => waited,
            Err(PastDeadline) => unreachable!("no deadline, so never past it"),
        }
    }

    /// As [`Pacer::acquire`], but gives up — booking nothing — as soon as the budget would
    /// only be there after `deadline`.
    pub async fn acquire_before(
        &self,
        class: BudgetClass,
        cost: u32,
        deadline: Option<Instant>,
    ) -> Result<Duration, PastDeadline> {
        if !self.config.enabled {
            return Ok(Duration::ZERO);
        }
        let share = self.config.share(class);
        let mut slept_since = None;
        loop {
            let now = Instant::now();
            let wake = match self.lane(class).lock().try_acquire(now, cost, share) {
                Ok(()) => return Ok(slept_since.map_or(Duration::ZERO, |start| now - start)),
                Err(wake) => wake,
            };
            if deadline.is_some_and(|end| wake >= end) {
                return Err(PastDeadline);
            }
            slept_since.get_or_insert(now);
            tokio::time::sleep_until(wake).await;
        }
    }

    /// Graph throttled a request of `class`: narrow the share, and hold the whole budget for
    /// `retry_after` (the quota is per app + tenant, so every task of ours is affected).
    pub fn on_throttled(&self, class: BudgetClass, retry_after: Option<Duration>) {
        self.lane(class)
            .lock()
            .on_throttled(Instant::now(), retry_after, &self.config.aimd);
    }

    /// Graph reported (`x-ms-throttle-limit-percentage`) how close we are to a limit.
    pub fn on_limit_percentage(&self, class: BudgetClass, fraction: f64) {
        if fraction >= self.config.aimd.near_limit_threshold {
            self.lane(class).lock().decrease(
                Instant::now(),
                self.config.aimd.near_limit_factor,
                &self.config.aimd,
            );
        }
    }

    pub fn on_success(&self, class: BudgetClass) {
        self.lane(class).lock().increase(&self.config.aimd);
    }

    pub fn snapshot(&self, class: BudgetClass) -> LaneSnapshot {
        let now = Instant::now();
        let mut lane = self.lane(class).lock();
        lane.prune(now);
        LaneSnapshot {
            factor: lane.factor,
            used: lane.used,
            limit: lane.limit(self.config.share(class)),
            blocked_for: lane
                .blocked_until
                .filter(|until| *until > now)
                .map(|until| until - now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn budget_that_is_there_at_once_means_no_wait_at_all() {
        let pacer = Pacer::new(PacingConfig::default());
        for _ in 0..3 {
            assert_eq!(pacer.acquire(BudgetClass::Write, 1).await, Duration::ZERO);
            assert_eq!(pacer.acquire(BudgetClass::Read, 1).await, Duration::ZERO);
        }
    }

    #[tokio::test]
    async fn a_full_window_is_waited_out_and_the_wait_reported() {
        let window = Duration::from_millis(200);
        let pacer = Pacer::new(PacingConfig {
            writes_per_window: 1,
            write_window: window,
            headroom: 1.0,
            ..PacingConfig::default()
        });
        assert_eq!(pacer.acquire(BudgetClass::Write, 1).await, Duration::ZERO);
        let waited = pacer.acquire(BudgetClass::Write, 1).await;
        assert!(
            waited > Duration::ZERO && waited <= window + Duration::from_millis(50),
            "{waited:?}"
        );
    }

    fn aimd() -> AimdConfig {
        AimdConfig::default()
    }

    #[test]
    fn default_share_is_the_documented_write_quota_less_headroom() {
        let config = PacingConfig::default();
        assert_eq!(config.share(BudgetClass::Write), 2_910.0);
        assert_eq!(config.share(BudgetClass::Read), 3_395.0);
    }

    #[test]
    fn each_instance_takes_quota_divided_by_max_concurrency() {
        let config = PacingConfig {
            instance_share_divisor: 10,
            headroom: 1.0,
            ..PacingConfig::default()
        };
        assert_eq!(config.share(BudgetClass::Write), 300.0);
        let zero = PacingConfig {
            instance_share_divisor: 0,
            headroom: 1.0,
            ..PacingConfig::default()
        };
        assert_eq!(zero.share(BudgetClass::Write), 3_000.0);
    }

    #[test]
    fn a_consumer_takes_its_quota_share_before_dividing_it_between_instances() {
        let config = PacingConfig {
            instance_share_divisor: 5,
            quota_share: "0.5".parse().unwrap(),
            headroom: 1.0,
            ..PacingConfig::default()
        };
        assert_eq!(config.share(BudgetClass::Write), 300.0);
        assert_eq!(config.share(BudgetClass::Read), 350.0);
    }

    #[test]
    fn quota_shares_outside_zero_to_one_are_refused_with_a_clear_error() {
        for bad in ["0", "-0.1", "1.5", "NaN", "inf", "half", ""] {
            let err = bad.parse::<QuotaShare>().unwrap_err();
            assert!(err.to_string().contains("(0, 1]"), "{bad}: {err}");
        }
        assert_eq!("1".parse::<QuotaShare>().unwrap(), QuotaShare::WHOLE);
        assert_eq!(" 0.25 ".parse::<QuotaShare>().unwrap().get(), 0.25);
    }

    #[test]
    fn window_admits_up_to_the_limit_then_waits_for_the_oldest_to_expire() {
        let t0 = Instant::now();
        let mut lane = Lane::new(Duration::from_secs(10));
        for i in 0..5 {
            assert_eq!(
                lane.try_acquire(t0 + Duration::from_secs(i), 1, 5.0),
                Ok(())
            );
        }
        // The 6th must wait until the first (at t0) leaves the window at t0 + 10 s.
        assert_eq!(
            lane.try_acquire(t0 + Duration::from_secs(5), 1, 5.0),
            Err(t0 + Duration::from_secs(10))
        );
        assert_eq!(
            lane.try_acquire(t0 + Duration::from_secs(10), 1, 5.0),
            Ok(())
        );
    }

    #[test]
    fn no_window_ever_holds_more_than_the_limit() {
        // Drive a greedy sender through the lane and check every 150 s window afterwards.
        let t0 = Instant::now();
        let window = Duration::from_secs(150);
        let mut lane = Lane::new(window);
        let mut now = t0;
        let mut sent = Vec::new();
        while sent.len() < 1_000 {
            match lane.try_acquire(now, 1, 300.0) {
                Ok(()) => sent.push(now),
                Err(wake) => now = wake,
            }
        }
        for (i, start) in sent.iter().enumerate() {
            let in_window = sent[i..]
                .iter()
                .take_while(|t| **t < *start + window)
                .count();
            assert!(in_window <= 300, "{in_window} sends in one window");
        }
    }

    #[test]
    fn weighted_cost_waits_until_enough_units_have_expired() {
        let t0 = Instant::now();
        let mut lane = Lane::new(Duration::from_secs(10));
        assert_eq!(lane.try_acquire(t0, 4, 10.0), Ok(()));
        assert_eq!(
            lane.try_acquire(t0 + Duration::from_secs(1), 4, 10.0),
            Ok(())
        );
        // 8 used; 4 more needs the first entry gone.
        assert_eq!(
            lane.try_acquire(t0 + Duration::from_secs(2), 4, 10.0),
            Err(t0 + Duration::from_secs(10))
        );
    }

    #[test]
    fn throttling_halves_the_share_once_per_cooldown_and_blocks_for_retry_after() {
        let t0 = Instant::now();
        let mut lane = Lane::new(Duration::from_secs(10));
        lane.on_throttled(t0, Some(Duration::from_secs(3)), &aimd());
        lane.on_throttled(t0, Some(Duration::from_secs(2)), &aimd());
        assert_eq!(lane.factor, 0.5);
        assert_eq!(lane.limit(100.0), 50);
        assert_eq!(
            lane.try_acquire(t0 + Duration::from_secs(1), 1, 100.0),
            Err(t0 + Duration::from_secs(3))
        );
        assert_eq!(
            lane.try_acquire(t0 + Duration::from_secs(3), 1, 100.0),
            Ok(())
        );
        lane.on_throttled(t0 + Duration::from_secs(5), None, &aimd());
        assert_eq!(lane.factor, 0.25);
    }

    #[test]
    fn successes_recover_the_share_additively_up_to_whole() {
        let mut lane = Lane::new(Duration::from_secs(10));
        lane.factor = 0.5;
        for _ in 0..10 {
            lane.increase(&aimd());
        }
        assert!((lane.factor - 0.6).abs() < 1e-9);
        for _ in 0..100 {
            lane.increase(&aimd());
        }
        assert_eq!(lane.factor, 1.0);
    }

    #[test]
    fn share_never_drops_below_the_floor() {
        let t0 = Instant::now();
        let mut lane = Lane::new(Duration::from_secs(10));
        for i in 0..20 {
            lane.on_throttled(t0 + Duration::from_secs(2 * i), None, &aimd());
        }
        assert_eq!(lane.factor, aimd().min_factor);
        assert_eq!(lane.limit(10.0), 1);
    }

    #[test]
    fn near_limit_percentage_trims_the_share() {
        let pacer = Pacer::new(PacingConfig::default());
        pacer.on_limit_percentage(BudgetClass::Write, 0.5);
        assert_eq!(pacer.snapshot(BudgetClass::Write).factor, 1.0);
        pacer.on_limit_percentage(BudgetClass::Write, 0.85);
        assert!((pacer.snapshot(BudgetClass::Write).factor - 0.9).abs() < 1e-9);
        assert_eq!(pacer.snapshot(BudgetClass::Read).factor, 1.0);
    }

    #[test]
    fn clients_of_the_same_app_and_tenant_share_one_pacer() {
        let config = PacingConfig::default();
        let a = Pacer::shared("https://g|tenant-a|app", &config);
        let b = Pacer::shared("https://g|tenant-a|app", &config);
        let c = Pacer::shared("https://g|tenant-b|app", &config);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
    }

    #[tokio::test]
    async fn acquire_books_units_visible_in_the_snapshot() {
        let pacer = Pacer::new(PacingConfig::default());
        pacer.acquire(BudgetClass::Write, 1).await;
        pacer.acquire(BudgetClass::Write, 1).await;
        assert_eq!(pacer.snapshot(BudgetClass::Write).used, 2);
        assert_eq!(pacer.snapshot(BudgetClass::Read).used, 0);
    }

    #[tokio::test]
    async fn a_wait_that_would_pass_the_deadline_books_nothing_and_says_so() {
        let pacer = Pacer::new(PacingConfig {
            writes_per_window: 1,
            write_window: Duration::from_millis(200),
            headroom: 1.0,
            ..PacingConfig::default()
        });
        pacer.acquire(BudgetClass::Write, 1).await;
        // The budget frees 200 ms after the booking: after this deadline.
        let deadline = Instant::now() + Duration::from_millis(50);
        assert_eq!(
            pacer
                .acquire_before(BudgetClass::Write, 1, Some(deadline))
                .await,
            Err(PastDeadline)
        );
        assert_eq!(pacer.snapshot(BudgetClass::Write).used, 1);
        // Budget that is there before the deadline is waited for.
        let later = Instant::now() + Duration::from_secs(60);
        let waited = pacer
            .acquire_before(BudgetClass::Write, 1, Some(later))
            .await
            .unwrap();
        assert!(waited > Duration::ZERO);
        assert_eq!(pacer.snapshot(BudgetClass::Write).used, 1);
    }
}
