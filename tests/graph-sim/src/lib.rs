//! graph-sim
