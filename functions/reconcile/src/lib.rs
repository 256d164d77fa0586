//! autoenroll-reconcile
