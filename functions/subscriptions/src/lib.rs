//! autoenroll-subscriptions
