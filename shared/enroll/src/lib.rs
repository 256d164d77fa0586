//! The enrollment domain: policy, phone normalisation, notification parsing, the pure plan,
//! apply, and the ports (traits) adapters implement. See ARCHITECTURE.md.

pub mod apply;
pub mod audit;
pub mod bootstrap;
pub mod coverage;
pub mod delivery;
mod early;
pub mod engine;
pub mod failure;
pub mod group_batch;
pub mod ids;
pub mod lifecycle;
/// In-memory stores (feature `memory`): for the local stack, tests and benchmarks.
#[cfg(any(test, feature = "memory"))]
pub mod memory;
pub mod notification;
pub mod outcome;
pub mod phone;
pub mod plan;
pub mod policy;
pub mod ports;
pub mod read;
pub mod telephony;
