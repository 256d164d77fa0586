//! Throttling as documented for identity and access
//! (https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits):
//! per app+tenant, a bucket of resource units refilled every 10 s (3,500 / 5,000 / 8,000 for
//! tenants of < 50 / 50–500 / > 500 users) and a write quota of 3,000 per 2 min 30 s.
//!
//! Both are token buckets refilled continuously over real (monotonic) time — the docs give the
//! window, not the algorithm; a continuously refilled bucket is the stricter reading since it
//! never allows two full windows back to back. Benches can shrink the windows.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TenantSize {
    Small,
    Medium,
    Large,
}

impl TenantSize {
    pub fn for_users(users: usize) -> Self {
        match users {
            0..50 => Self::Small,
            50..=500 => Self::Medium,
            _ => Self::Large,
        }
    }
    /// Resource units per window.
    pub fn resource_units(self) -> u32 {
        match self {
            Self::Small => 3_500,
            Self::Medium => 5_000,
            Self::Large => 8_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ThrottleOptions {
    pub enabled: bool,
    /// Overrides the size computed from the seeded user count.
    pub tenant_size: Option<TenantSize>,
    /// Overrides the resource units per window the size gives.
    pub resource_units: Option<u32>,
    pub resource_unit_window_ms: u64,
    pub write_limit: u32,
    pub write_window_ms: u64,
}

impl Default for ThrottleOptions {
    fn default() -> Self {
        Self {
            enabled: true,
            tenant_size: None,
            resource_units: None,
            resource_unit_window_ms: 10_000,
            write_limit: 3_000,
            write_window_ms: 150_000,
        }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(capacity: f64) -> Self {
        Self {
            tokens: capacity,
            at: Instant::now(),
        }
    }
    fn refill(&mut self, capacity: f64, window: Duration) {
        let now = Instant::now();
        let elapsed = now.duration_since(self.at).as_secs_f64();
        let rate = capacity / window.as_secs_f64().max(0.001);
        self.tokens = (self.tokens + elapsed * rate).min(capacity);
        self.at = now;
    }
    /// Seconds until `cost` tokens are available.
    fn wait_for(&self, cost: f64, capacity: f64, window: Duration) -> f64 {
        let rate = capacity / window.as_secs_f64().max(0.001);
        ((cost - self.tokens).max(0.0) / rate).max(0.0)
    }
}

#[derive(Debug)]
struct AppBuckets {
    resource_units: Bucket,
    writes: Bucket,
}

/// The outcome of admitting one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    Admitted {
        /// `x-ms-throttle-limit-percentage`, when above 0.8 of a limit.
        limit_percentage: Option<f64>,
    },
    Throttled {
        retry_after_secs: u64,
        /// `x-ms-throttle-scope`.
        scope: String,
        /// `x-ms-throttle-information`.
        information: &'static str,
    },
}

pub struct Throttle {
    options: Mutex<ThrottleOptions>,
    users_at_start: usize,
    apps: Mutex<HashMap<String, AppBuckets>>,
}

impl Throttle {
    pub fn new(options: ThrottleOptions, users_at_start: usize) -> Self {
        Self {
            options: Mutex::new(options),
            users_at_start,
            apps: Mutex::new(HashMap::new()),
        }
    }

    pub fn reconfigure(&self, options: ThrottleOptions) {
        *self.options.lock() = options;
        self.apps.lock().clear();
    }

    fn limits(&self) -> (bool, f64, Duration, f64, Duration) {
        let o = self.options.lock();
        let size = o
            .tenant_size
            .unwrap_or_else(|| TenantSize::for_users(self.users_at_start));
        let ru = f64::from(o.resource_units.unwrap_or_else(|| size.resource_units()));
        (
            o.enabled,
            ru,
            Duration::from_millis(o.resource_unit_window_ms),
            f64::from(o.write_limit),
            Duration::from_millis(o.write_window_ms),
        )
    }

    /// Charges `cost` resource units (and one write when `is_write`) to `app_id`, or refuses.
    pub fn admit(&self, app_id: &str, tenant_id: &str, cost: u32, is_write: bool) -> Admission {
        let (enabled, ru_cap, ru_window, w_cap, w_window) = self.limits();
        if !enabled {
            return Admission::Admitted {
                limit_percentage: None,
            };
        }
        let mut apps = self.apps.lock();
        let b = apps
            .entry(app_id.to_string())
            .or_insert_with(|| AppBuckets {
                resource_units: Bucket::full(ru_cap),
                writes: Bucket::full(w_cap),
            });
        b.resource_units.refill(ru_cap, ru_window);
        b.writes.refill(w_cap, w_window);
        let cost = f64::from(cost);
        if is_write && b.writes.tokens < 1.0 {
            return Admission::Throttled {
                retry_after_secs: retry_after(b.writes.wait_for(1.0, w_cap, w_window)),
                scope: format!("Tenant_Application/Write/{app_id}/{tenant_id}"),
                information: "WriteLimitExceeded",
            };
        }
        if b.resource_units.tokens < cost {
            return Admission::Throttled {
                retry_after_secs: retry_after(b.resource_units.wait_for(cost, ru_cap, ru_window)),
                scope: format!("Tenant_Application/ReadWrite/{app_id}/{tenant_id}"),
                information: "ResourceUnitLimitExceeded",
            };
        }
        b.resource_units.tokens -= cost;
        if is_write {
            b.writes.tokens -= 1.0;
        }
        let used_ru = 1.0 - b.resource_units.tokens / ru_cap;
        let used_w = if is_write {
            1.0 - b.writes.tokens / w_cap
        } else {
            0.0
        };
        let used = used_ru.max(used_w);
        Admission::Admitted {
            limit_percentage: (used > 0.8).then_some(used),
        }
    }
}

fn retry_after(secs: f64) -> u64 {
    // Whole seconds, at least 1: Retry-After is an integer and 0 would invite a hot loop.
    (secs.ceil() as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_sizes_follow_the_documented_user_counts() {
        assert_eq!(TenantSize::for_users(49), TenantSize::Small);
        assert_eq!(TenantSize::for_users(50), TenantSize::Medium);
        assert_eq!(TenantSize::for_users(500), TenantSize::Medium);
        assert_eq!(TenantSize::for_users(501), TenantSize::Large);
    }

    #[test]
    fn writes_beyond_the_quota_are_refused_with_the_write_scope() {
        let t = Throttle::new(
            ThrottleOptions {
                write_limit: 2,
                write_window_ms: 3_600_000,
                ..Default::default()
            },
            10,
        );
        assert!(matches!(
            t.admit("a", "t", 1, true),
            Admission::Admitted { .. }
        ));
        assert!(matches!(
            t.admit("a", "t", 1, true),
            Admission::Admitted { .. }
        ));
        match t.admit("a", "t", 1, true) {
            Admission::Throttled {
                scope,
                information,
                retry_after_secs,
            } => {
                assert_eq!(scope, "Tenant_Application/Write/a/t");
                assert_eq!(information, "WriteLimitExceeded");
                assert!(retry_after_secs >= 1);
            }
            other => panic!("expected throttling, got {other:?}"),
        }
        // Another app has its own quota.
        assert!(matches!(
            t.admit("b", "t", 1, true),
            Admission::Admitted { .. }
        ));
        // Reads still pass while writes are throttled.
        assert!(matches!(
            t.admit("a", "t", 1, false),
            Admission::Admitted { .. }
        ));
    }
}
