//! autoenroll-e2e
