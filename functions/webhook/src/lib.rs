//! autoenroll-webhook
