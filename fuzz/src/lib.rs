//! Shared invariant checks for the fuzz targets (fuzz_targets/*.rs). The same files are replayed
//! by ordinary cargo tests (see README.md), so a crash found here stays a regression test.

pub mod core_checks;
pub mod webhook_checks;
