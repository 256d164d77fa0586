//! When and how long to wait before sending a failed Graph request again.
//!
//! Graph's guidance (https://learn.microsoft.com/graph/throttling): honour `Retry-After` when it
//! is present, otherwise back off exponentially. We use full jitter (a uniform delay between zero
//! and the exponential cap) so that many Lambda instances throttled at the same moment do not come
//! back in lock-step.

use std::time::{Duration, SystemTime};

use backon::ExponentialBuilder;

use crate::error::GraphError;

/// Retry settings. Every wait is bounded: by the number of attempts and by the total time spent
/// sleeping (a `Retry-After` longer than what is left ends the retries with the 429, so the caller
/// — an SQS message, say — can come back later instead of holding a Lambda open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryConfig {
    /// Attempts in total, the first one included. 1 disables retries.
    pub max_attempts: u32,
    /// Cap of the first backoff step (doubles per attempt).
    pub min_delay: Duration,
    /// Largest cap of a single backoff step.
    pub max_delay: Duration,
    /// Largest total time spent waiting between attempts of one call.
    pub max_total_wait: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(16),
            max_total_wait: Duration::from_secs(60),
        }
    }
}

impl RetryConfig {
    pub(crate) fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
    }
}

/// Whether a call may be sent again after an error that [`GraphError::is_retryable`] allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetrySafety {
    /// Sending it twice has the effect of sending it once (GET, PATCH, PUT, DELETE, or a POST
    /// that re-reads before it repeats itself).
    Idempotent,
    /// Only when Graph certainly did not act on it (429, connect failure).
    OnlyIfNotProcessed,
}

impl RetrySafety {
    pub(crate) fn allows(self, err: &GraphError) -> bool {
        err.is_retryable()
            && match self {
                RetrySafety::Idempotent => true,
                RetrySafety::OnlyIfNotProcessed => err.was_not_processed(),
            }
    }
}

/// The wait before the next attempt, or `None` to give up.
///
/// `next_cap` is the backoff's next exponential step (`None` when attempts are used up), `spent`
/// the time already slept for this call, `unit` a uniform random number in `[0, 1)`.
pub(crate) fn next_delay(
    err: &GraphError,
    next_cap: Option<Duration>,
    spent: Duration,
    config: &RetryConfig,
    unit: f64,
) -> Option<Duration> {
    let cap = next_cap?;
    let delay = match err.retry_after {
        Some(exact) => exact,
        None => cap.mul_f64(unit.clamp(0.0, 1.0)),
    };
    if spent.saturating_add(delay) > config.max_total_wait {
        return None;
    }
    Some(delay)
}

/// Parses `Retry-After`: delay-seconds (Graph sends these) or an HTTP-date (RFC 9110 §10.2.3).
/// A date in the past means "now".
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // Not allowed by the RFC, but cheap to tolerate.
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at =
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    let at = SystemTime::from(at);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::GraphErrorKind;

    fn err(status: u16, retry_after: Option<Duration>) -> GraphError {
        GraphError {
            status: Some(status),
            retry_after,
            ..GraphError::new(GraphErrorKind::Http, "x")
        }
    }

    #[test]
    fn retry_after_in_seconds_is_taken_exactly() {
        let now = SystemTime::UNIX_EPOCH;
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("0.5", now),
            Some(Duration::from_millis(500))
        );
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn retry_after_as_http_date_counts_from_now() {
        let now = SystemTime::from(time::macros::datetime!(2015-10-21 07:27:50 UTC));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(10))
        );
        let later = SystemTime::from(time::macros::datetime!(2015-10-21 08:00:00 UTC));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", later),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn retry_after_wins_over_the_backoff() {
        let config = RetryConfig::default();
        let d = next_delay(
            &err(429, Some(Duration::from_secs(7))),
            Some(Duration::from_millis(500)),
            Duration::ZERO,
            &config,
            0.9,
        );
        assert_eq!(d, Some(Duration::from_secs(7)));
    }

    #[test]
    fn without_retry_after_the_delay_is_full_jitter_under_the_cap() {
        let config = RetryConfig::default();
        let cap = Some(Duration::from_secs(4));
        let e = err(503, None);
        assert_eq!(
            next_delay(&e, cap, Duration::ZERO, &config, 0.0),
            Some(Duration::ZERO)
        );
        assert_eq!(
            next_delay(&e, cap, Duration::ZERO, &config, 0.5),
            Some(Duration::from_secs(2))
        );
        assert!(
            next_delay(&e, cap, Duration::ZERO, &config, 0.999).unwrap() < Duration::from_secs(4)
        );
    }

    #[test]
    fn retries_stop_when_attempts_or_the_wait_budget_run_out() {
        let config = RetryConfig {
            max_total_wait: Duration::from_secs(10),
            ..RetryConfig::default()
        };
        assert_eq!(
            next_delay(&err(503, None), None, Duration::ZERO, &config, 0.5),
            None
        );
        assert_eq!(
            next_delay(
                &err(429, Some(Duration::from_secs(8))),
                Some(Duration::from_secs(1)),
                Duration::from_secs(3),
                &config,
                0.5
            ),
            None
        );
    }

    #[test]
    fn backoff_yields_max_attempts_minus_one_growing_caps() {
        use backon::BackoffBuilder;
        let config = RetryConfig {
            max_attempts: 4,
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
            ..RetryConfig::default()
        };
        // backon computes in f32: compare whole milliseconds.
        let caps: Vec<u128> = config.backoff().build().map(|d| d.as_millis()).collect();
        assert_eq!(caps, vec![100, 200, 300]);
    }

    #[test]
    fn a_post_is_repeated_only_when_graph_did_not_act_on_it() {
        let unsafe_post = RetrySafety::OnlyIfNotProcessed;
        assert!(unsafe_post.allows(&err(429, None)));
        assert!(!unsafe_post.allows(&err(504, None)));
        assert!(RetrySafety::Idempotent.allows(&err(504, None)));
        assert!(!RetrySafety::Idempotent.allows(&err(400, None)));
    }
}
