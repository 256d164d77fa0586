//! Pieces every scenario uses: the simulated tenant and our Graph client for it, percentiles,
//! and memory figures from /proc.

use std::time::Duration;

use anyhow::Context;
use autoenroll_graph::{Credential, GraphClient, GraphConfig, PacingConfig, RetryConfig, Secret};
use graph_sim::{Seed, Sim, SimOptions};
use serde_json::json;

/// The enrollment app of the Contoso seed (tests/graph-sim/seeds/contoso.json).
pub const APP: &str = "5d3e8b0f-6a2c-4f1e-8b7d-2c9a4e6f1b30";
pub const APP_SECRET: &str = "sim-secret-autoenroll-Q8w~xV3pL9";
pub const DOMAIN: &str = "contoso.onmicrosoft.com";

/// Users in the Contoso seed (on top of synthetic or created ones).
pub fn seed_user_count() -> usize {
    Seed::contoso().users.len()
}

pub async fn start_sim(options: SimOptions) -> anyhow::Result<Sim> {
    Sim::start(SimOptions {
        seed: Seed::contoso(),
        ..options
    })
    .await
    .context("starting graph-sim")
}

/// A Graph client of the enrollment app against `sim`, with the given pacing and concurrency.
pub fn graph_client(
    sim: &Sim,
    pacing: PacingConfig,
    max_concurrency: usize,
) -> anyhow::Result<GraphClient> {
    let config = GraphConfig::new(
        sim.tenant_id(),
        APP,
        Credential::ClientSecret(Secret::new(APP_SECRET)),
    )
    .with_graph_base_url(sim.base_url())
    .with_authority_host(sim.authority_host())
    .with_extra_root_ca_pem(sim.ca_cert_pem())
    .with_pacing(pacing)
    .with_max_concurrency(max_concurrency)
    .with_retry(RetryConfig::default());
    GraphClient::new(config).context("building the Graph client")
}

/// A new user whose mobile number (a Dutch mobile, written one of the ways AD holds them)
/// needs enrolling: the properties AD sync or HR provisioning would create it with.
pub fn new_user(prefix: &str, i: usize) -> serde_json::Value {
    let digits = 20_000_000 + i;
    let mobile = match i % 3 {
        0 => format!("06-{digits}"),
        1 => format!("+31 6 {digits}"),
        _ => format!("+31 (0)6 {digits}"),
    };
    json!({
        "userPrincipalName": format!("{prefix}{i}@{DOMAIN}"),
        "displayName": format!("Bench User {i}"),
        "mobilePhone": mobile,
        "accountEnabled": true,
        "userType": "Member",
    })
}

/// Creates `n` users that all need enrolling ([`new_user`]); returns their object ids. Created
/// through the simulator's admin API, as AD sync would (no token, no quota).
pub fn create_users(sim: &Sim, prefix: &str, n: usize) -> anyhow::Result<Vec<String>> {
    let control = sim.control();
    (0..n)
        .map(|i| {
            control
                .create_user(new_user(prefix, i))
                .map_err(|e| anyhow::anyhow!("creating user {i}: {e}"))
        })
        .collect()
}

/// Percentile `p` (0–100) of `sorted` (ascending), nearest-rank.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

/// A field of /proc/self/status in kB (`VmHWM` = peak RSS, `VmRSS` = current).
pub fn proc_status_kb(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    text.lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// "Protected" as the simulator sees it (`Control::user` JSON): a mobile phone method is
/// registered and per-user MFA is enabled or enforced.
pub fn is_protected(user: &serde_json::Value) -> bool {
    let auth = &user["authentication"];
    let has_mobile = auth["phones"].get("mobile").is_some();
    let mfa = auth["perUserMfaState"].as_str().unwrap_or_default();
    has_mobile && matches!(mfa, "enabled" | "enforced")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn peak_rss_is_readable() {
        assert!(proc_status_kb("VmHWM").unwrap_or(0) > 0);
    }
}
