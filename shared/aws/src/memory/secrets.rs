//! A static secret source for the local stack and tests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use autoenroll_core::ports::{SecretSource, SecretValue, StoreError};

/// A [`SecretSource`] with fixed values (local stack, tests). Counts reads.
#[derive(Debug, Default)]
pub struct StaticSecrets {
    values: parking_lot::RwLock<HashMap<String, SecretValue>>,
    reads: AtomicUsize,
}

impl StaticSecrets {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a secret with only a current value.
    pub fn with(self, name: impl Into<String>, current: impl Into<String>) -> Self {
        self.set(name, current);
        self
    }

    pub fn set(&self, name: impl Into<String>, current: impl Into<String>) {
        self.values.write().insert(
            name.into(),
            SecretValue {
                current: current.into(),
                previous: None,
                version: Some("v1".to_owned()),
            },
        );
    }

    /// Rotates: the current value becomes the previous one, `new_current` the current one.
    pub fn rotate(&self, name: &str, new_current: impl Into<String>) {
        let mut values = self.values.write();
        let next = match values.get(name) {
            Some(old) => {
                let generation = old
                    .version
                    .as_deref()
                    .and_then(|v| v.strip_prefix('v'))
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(1);
                SecretValue {
                    current: new_current.into(),
                    previous: Some(old.current.clone()),
                    version: Some(format!("v{}", generation + 1)),
                }
            }
            None => SecretValue {
                current: new_current.into(),
                previous: None,
                version: Some("v1".to_owned()),
            },
        };
        values.insert(name.to_owned(), next);
    }

    /// How many times `get_secret` was called.
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl SecretSource for StaticSecrets {
    async fn get_secret(&self, name: &str) -> Result<SecretValue, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.values
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| StoreError::Other(format!("secret {name} not found")))
    }
}
