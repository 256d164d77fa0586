//! The cached Secrets Manager source against moto (./test.sh starts it). Calls that reach
//! Secrets Manager are counted by an SDK interceptor on the client.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use autoenroll_aws::secrets::SecretsManagerSource;
use autoenroll_core::ports::{SecretSource, StoreError};
use aws_sdk_secretsmanager::config::interceptors::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
};
use aws_sdk_secretsmanager::config::{ConfigBag, Intercept, RuntimeComponents};
use common::{moto_config, unique};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Counts operations sent through the client; with `offline` set, every request fails before
/// it leaves the process (a dispatch failure, as when Secrets Manager is unreachable).
#[derive(Debug, Clone, Default)]
struct Wire {
    calls: Arc<AtomicUsize>,
    offline: Arc<AtomicBool>,
}

impl Intercept for Wire {
    fn name(&self) -> &'static str {
        "Wire"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn modify_before_transmit(
        &self,
        _context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if self.offline.load(Ordering::SeqCst) {
            return Err("Secrets Manager unreachable (test)".into());
        }
        Ok(())
    }
}

struct Fixture {
    admin: aws_sdk_secretsmanager::Client,
    counted: aws_sdk_secretsmanager::Client,
    wire: Wire,
    name: String,
}

async fn fixture(value: &str) -> Fixture {
    let config = moto_config().await;
    let admin = aws_sdk_secretsmanager::Client::new(&config);
    let name = unique("client-state");
    admin
        .create_secret()
        .name(&name)
        .secret_string(value)
        .send()
        .await
        .unwrap();
    let wire = Wire::default();
    let counted = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::config::Builder::from(&config)
            .interceptor(wire.clone())
            .build(),
    );
    Fixture {
        admin,
        counted,
        wire,
        name,
    }
}

#[tokio::test]
async fn second_read_within_the_ttl_does_not_reach_secrets_manager() {
    let f = fixture("state-one").await;
    let source = SecretsManagerSource::new(f.counted.clone());

    let first = source.get_secret(&f.name).await.unwrap();
    assert_eq!(first.current, "state-one");
    assert_eq!(first.previous, None);
    assert!(first.version.is_some());
    let calls_after_first = f.wire.calls.load(Ordering::SeqCst);
    assert!(calls_after_first >= 1);

    let second = source.get_secret(&f.name).await.unwrap();
    assert_eq!(second, first);
    assert_eq!(f.wire.calls.load(Ordering::SeqCst), calls_after_first);
}

#[tokio::test]
async fn expired_cache_entry_is_read_again() {
    let f = fixture("state-one").await;
    let source = SecretsManagerSource::with_ttl(f.counted.clone(), Duration::ZERO);
    source.get_secret(&f.name).await.unwrap();
    let calls_after_first = f.wire.calls.load(Ordering::SeqCst);
    source.get_secret(&f.name).await.unwrap();
    assert_eq!(f.wire.calls.load(Ordering::SeqCst), 2 * calls_after_first);
}

#[tokio::test]
async fn rotated_secret_returns_new_current_and_old_previous() {
    let f = fixture("state-one").await;
    let source = SecretsManagerSource::new(f.counted.clone());
    let before = source.get_secret(&f.name).await.unwrap();
    f.admin
        .put_secret_value()
        .secret_id(&f.name)
        .secret_string("state-two")
        .send()
        .await
        .unwrap();

    // Within the TTL the cached value is still served.
    assert_eq!(
        source.get_secret(&f.name).await.unwrap().current,
        "state-one"
    );

    source.invalidate();
    let after = source.get_secret(&f.name).await.unwrap();
    assert_eq!(after.current, "state-two");
    assert_eq!(after.previous.as_deref(), Some("state-one"));
    assert_ne!(after.version, before.version);
}

#[tokio::test]
async fn current_only_reads_one_stage_and_never_a_previous_value() {
    let f = fixture("secret-one").await;
    f.admin
        .put_secret_value()
        .secret_id(&f.name)
        .secret_string("secret-two")
        .send()
        .await
        .unwrap();
    let both = SecretsManagerSource::new(f.counted.clone());
    assert_eq!(
        both.get_secret(&f.name).await.unwrap().previous.as_deref(),
        Some("secret-one")
    );
    let calls_for_both = f.wire.calls.load(Ordering::SeqCst);
    assert_eq!(calls_for_both, 2, "AWSCURRENT and AWSPREVIOUS");

    let current = SecretsManagerSource::new(f.counted.clone()).current_only();
    let value = current.get_secret(&f.name).await.unwrap();
    assert_eq!(value.current, "secret-two");
    assert_eq!(value.previous, None);
    assert_eq!(f.wire.calls.load(Ordering::SeqCst) - calls_for_both, 1);
}

#[tokio::test]
async fn unreachable_secrets_manager_serves_the_expired_cached_value() {
    let f = fixture("state-one").await;
    let source = SecretsManagerSource::with_ttl(f.counted.clone(), Duration::ZERO);
    source.get_secret(&f.name).await.unwrap();
    f.wire.offline.store(true, Ordering::SeqCst);
    let value = source.get_secret(&f.name).await.unwrap();
    assert_eq!(value.current, "state-one");
}

#[tokio::test]
async fn unreachable_secrets_manager_without_cache_is_a_retryable_error() {
    let f = fixture("state-one").await;
    f.wire.offline.store(true, Ordering::SeqCst);
    let source = SecretsManagerSource::new(f.counted.clone());
    let err = source.get_secret(&f.name).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn missing_secret_is_a_permanent_error() {
    let f = fixture("unused").await;
    let source = SecretsManagerSource::new(f.counted.clone());
    let err = source
        .get_secret(&format!("{}-missing", f.name))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Other(_)), "{err:?}");
}

#[tokio::test]
async fn secret_value_never_shows_in_debug_output() {
    let f = fixture("super-secret-state").await;
    let source = SecretsManagerSource::new(f.counted.clone());
    let value = source.get_secret(&f.name).await.unwrap();
    let shown = format!("{value:?} {source:?}");
    assert!(!shown.contains("super-secret-state"), "{shown}");
}
