//! autoenroll_cli: the operator CLI's building blocks, as a library so the binary, the e2e suite
//! and the benches share them.
//!
//! - [`phone_check`]: how raw AD values normalise (`autoenroll phone`).
//! - [`table`]: plain-text tables for the terminal.

pub mod phone_check;
pub mod table;
