//! The enrollment domain: policy, phone normalisation, notification parsing, the pure plan,
//! apply, and the ports (traits) adapters implement. See ARCHITECTURE.md.

pub mod ids;
pub mod notification;
pub mod phone;
pub mod plan;
pub mod policy;
pub mod ports;
