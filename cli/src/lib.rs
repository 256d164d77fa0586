//! autoenroll_cli: the operator CLI's building blocks, as a library so the binary, the e2e suite
//! and the benches share them.
//!
//! - [`phone_check`]: how raw AD values normalise (`autoenroll phone`).
//! - [`config`]: the policy from `autoenroll.toml` and flags.
//! - [`tenant`]: a real tenant, or graph-sim in this process.
//! - [`stores`]: memory and audit for `plan` / `apply`.
//! - [`backfill`]: `plan` / `apply` over every user, through the enroll function's `Enroller`.
//! - [`coverage`]: `autoenroll report`, MFA coverage and SMS/voice readiness (CSV, JSON, HTML).
//! - [`doctor`]: `autoenroll doctor` checks.
//! - [`local`]: `autoenroll local`, the whole pipeline on a simulated tenant (and the reusable
//!   local stack in [`local::stack`]).
//! - [`report`]: per-user CSV / JSON reports and totals.
//! - [`table`]: plain-text tables for the terminal.

pub mod backfill;
pub mod config;
pub mod coverage;
pub mod doctor;
pub mod local;
pub mod phone_check;
pub mod readiness;
pub mod report;
pub mod stores;
pub mod table;
pub mod tenant;
