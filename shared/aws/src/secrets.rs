//! Secrets Manager behind [`SecretSource`], cached in process.
//!
//! A Lambda instance lives for hours and handles thousands of events; reading the secret once
//! per [`DEFAULT_TTL`] keeps Secrets Manager out of the hot path (and its bill low) while a
//! rotation still reaches every instance within minutes. During a rotation both `AWSCURRENT`
//! and `AWSPREVIOUS` are returned, so the webhook accepts notifications signed with either
//! clientState (<https://docs.aws.amazon.com/secretsmanager/latest/userguide/getting-started.html#term_version>).
//! When Secrets Manager is unreachable, an expired cached value is served rather than failing.
//! Secret values never reach a log: [`SecretValue`]'s `Debug` is redacted.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use autoenroll_core::ports::{SecretSource, SecretValue, StoreError};

use crate::error::{Failure, classify};

/// How long a read secret is used before it is read again.
pub const DEFAULT_TTL: Duration = Duration::from_secs(5 * 60);

const CURRENT: &str = "AWSCURRENT";
const PREVIOUS: &str = "AWSPREVIOUS";

struct Cached {
    value: SecretValue,
    fetched_at: Instant,
}

/// Reads secrets (by name or ARN) from Secrets Manager, caching each for a TTL.
pub struct SecretsManagerSource {
    client: aws_sdk_secretsmanager::Client,
    ttl: Duration,
    cache: parking_lot::Mutex<HashMap<String, Cached>>,
    /// Whether `AWSPREVIOUS` is read too (only the webhook checks a previous value).
    with_previous: bool,
    /// One refresh at a time, so a burst of cold reads makes one call, not one each.
    refresh: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for SecretsManagerSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsManagerSource")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl SecretsManagerSource {
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        Self::with_ttl(client, DEFAULT_TTL)
    }

    pub fn with_ttl(client: aws_sdk_secretsmanager::Client, ttl: Duration) -> Self {
        Self {
            client,
            ttl,
            cache: parking_lot::Mutex::new(HashMap::new()),
            with_previous: true,
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    /// Reads only the `AWSCURRENT` stage ([`SecretValue::previous`] is always `None`): for a
    /// function that signs in with the secret and never checks an old value against it, the
    /// second `GetSecretValue` would be a paid call and, against a server that answers one
    /// request at a time, more start-up time.
    pub fn current_only(mut self) -> Self {
        self.with_previous = false;
        self
    }

    /// Forgets every cached value (the next read goes to Secrets Manager).
    pub fn invalidate(&self) {
        self.cache.lock().clear();
    }

    fn fresh(&self, name: &str) -> Option<SecretValue> {
        let cache = self.cache.lock();
        let cached = cache.get(name)?;
        (cached.fetched_at.elapsed() < self.ttl).then(|| cached.value.clone())
    }

    fn stale(&self, name: &str) -> Option<SecretValue> {
        self.cache.lock().get(name).map(|c| c.value.clone())
    }

    /// One stage of a secret: `Ok(None)` when that stage does not exist.
    async fn fetch_stage(
        &self,
        name: &str,
        stage: &str,
    ) -> Result<Option<(String, Option<String>)>, StoreError> {
        let result = self
            .client
            .get_secret_value()
            .secret_id(name)
            .version_stage(stage)
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(e)
                if stage == PREVIOUS
                    && e.as_service_error()
                        .is_some_and(|se| se.is_resource_not_found_exception()) =>
            {
                return Ok(None);
            }
            Err(e) => {
                return Err(match classify("GetSecretValue", &e) {
                    Failure::Retryable(text) => StoreError::Unavailable(text),
                    Failure::Permanent(text) => StoreError::Other(text),
                });
            }
        };
        let value = match (output.secret_string(), output.secret_binary()) {
            (Some(text), _) => text.to_owned(),
            (None, Some(blob)) => String::from_utf8(blob.as_ref().to_vec()).map_err(|_| {
                StoreError::Other(format!("secret {name} ({stage}) is binary, not UTF-8 text"))
            })?,
            (None, None) => {
                return Err(StoreError::Other(format!(
                    "secret {name} ({stage}) has no value"
                )));
            }
        };
        Ok(Some((value, output.version_id().map(str::to_owned))))
    }

    async fn fetch(&self, name: &str) -> Result<SecretValue, StoreError> {
        // Both stages at once: one round trip of a function's start-up instead of two.
        let (current, previous) = tokio::join!(self.fetch_stage(name, CURRENT), async {
            if self.with_previous {
                self.fetch_stage(name, PREVIOUS).await
            } else {
                Ok(None)
            }
        });
        let Some((current, version)) = current? else {
            return Err(StoreError::Other(format!(
                "secret {name} has no current version"
            )));
        };
        let previous = previous?
            .map(|(value, _)| value)
            .filter(|value| *value != current);
        Ok(SecretValue {
            current,
            previous,
            version,
        })
    }
}

#[async_trait]
impl SecretSource for SecretsManagerSource {
    async fn get_secret(&self, name: &str) -> Result<SecretValue, StoreError> {
        if let Some(value) = self.fresh(name) {
            return Ok(value);
        }
        let _refreshing = self.refresh.lock().await;
        // Someone else may have refreshed it while we waited.
        if let Some(value) = self.fresh(name) {
            return Ok(value);
        }
        match self.fetch(name).await {
            Ok(value) => {
                self.cache.lock().insert(
                    name.to_owned(),
                    Cached {
                        value: value.clone(),
                        fetched_at: Instant::now(),
                    },
                );
                tracing::debug!(secret = name, "secret refreshed");
                Ok(value)
            }
            Err(StoreError::Unavailable(reason)) => match self.stale(name) {
                Some(value) => {
                    tracing::warn!(secret = name, %reason, "Secrets Manager unavailable; using the cached value");
                    Ok(value)
                }
                None => Err(StoreError::Unavailable(reason)),
            },
            Err(e) => Err(e),
        }
    }
}
