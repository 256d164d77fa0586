//! Building the AWS SDK configuration.
//!
//! In Lambda everything comes from the environment (region, role credentials). For local runs
//! and tests the SDK talks to moto over loopback instead of AWS:
//!
//! - `AWS_ENDPOINT_URL` (and the per-service `AWS_ENDPOINT_URL_SQS`, `..._DYNAMODB`, ...) is
//!   honoured by aws-config itself: `ConfigLoader::load` resolves it through
//!   `default_provider::endpoint_url` unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is set
//!   (aws-config 1.x, `src/lib.rs`; <https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html>).
//!   `tests/config.rs` checks this by running a child test process with only that variable set.
//! - [`load`] with an explicit endpoint overrides it programmatically (programmatic wins).
//! - [`for_moto`] additionally pins static test credentials, so a developer's real credentials
//!   are never sent to the local endpoint.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sqs::config::Credentials;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use base64::Engine;

/// Region used when neither the environment nor the caller names one (moto accepts any).
pub const FALLBACK_REGION: &str = "us-east-1";

/// The SDK configuration from the environment, with an optional endpoint override.
///
/// `endpoint_override = None` leaves endpoint resolution to aws-config, which honours
/// `AWS_ENDPOINT_URL`.
pub async fn load(endpoint_override: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http_client());
    if let Some(endpoint) = endpoint_override {
        loader = loader.endpoint_url(endpoint);
    }
    let config = loader.load().await;
    if config.region().is_none() {
        tracing::warn!("no AWS region configured (set AWS_REGION)");
    }
    config
}

/// Configuration for a local moto server: the given endpoint, static `testing` credentials and
/// the environment's region (or [`FALLBACK_REGION`]).
pub async fn for_moto(endpoint: &str) -> SdkConfig {
    let credentials = Credentials::new("testing", "testing", None, None, "autoenroll-moto");
    // The region is set here rather than left to aws-config's provider chain, which — with no
    // region in the environment — ends by asking the EC2 instance metadata service (a token
    // request with a 1 s timeout) before giving up.
    let region = ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| FALLBACK_REGION.to_owned());
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .endpoint_url(endpoint)
        .credentials_provider(credentials)
        .region(Region::new(region))
        .load()
        .await
}

/// The SDK's HTTP client: the SDK's default one (hyper 1, rustls on aws-lc, proxy settings from
/// the environment — as `aws-smithy-runtime`'s `default_https_client` builds it), except that
/// it trusts Mozilla's root certificates compiled in (`webpki-root-certs`) instead of reading
/// the system store. That read (`rustls-native-certs`: a bundle plus every file of the
/// certificate directory) is a large share of a function's start-up CPU (BENCHMARKS.md,
/// scenario 3). AWS's
/// endpoints chain to Amazon Root CA 1–4 / Starfield, which are in that set.
pub fn http_client() -> SharedHttpClient {
    let mut store = TrustStore::empty().with_native_roots(false);
    for der in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        store.add_pem_certificate(pem(der.as_ref()));
    }
    // The operator's extra roots (a TLS-inspecting proxy's, README "Run it locally"), as for
    // Graph. Only certificates rustls accepts as roots go in: the SDK panics on one it cannot
    // parse, and a system bundle (which the README allows here) can hold such certificates.
    for der in extra_ca_pem()
        .map(|pem| usable_roots(&pem))
        .unwrap_or_default()
    {
        store.add_pem_certificate(pem(&der));
    }
    let context = TlsContext::builder().with_trust_store(store).build();
    let context = match context {
        Ok(context) => context,
        // Building a context only stores the certificates; it does not fail today. If it ever
        // does, the SDK's defaults (the system store) still give a working client.
        Err(e) => {
            tracing::warn!(error = %e, "TLS context with compiled-in roots failed; using the system store");
            TlsContext::default()
        }
    };
    Builder::new().build_with_connector_fn(move |settings, components| {
        // The SDK calls this once with no settings each time a service client is built
        // (`validate_base_client_config`, to load the system store early) and throws the result
        // away; it keeps only the connectors built with settings, one per distinct timeout
        // pair. Building a TLS connector parses every root from PEM, so that throw-away call
        // gets a plain connector: a function builds several clients, and each parse costs
        // cold-start CPU (BENCHMARKS.md, scenario 3).
        let Some(settings) = settings else {
            return ConnectorBuilder::default().build_http();
        };
        TLS_CONNECTORS_BUILT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut builder = ConnectorBuilder::default()
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(context.clone());
        builder.set_connector_settings(Some(settings.clone()));
        if let Some(components) = components {
            builder.set_sleep_impl(components.sleep_impl());
        }
        builder.set_proxy_config(Some(ProxyConfig::from_env()));
        builder.build()
    })
}

/// TLS connectors [`http_client`]s have built in this process (each parses every root).
static TLS_CONNECTORS_BUILT: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// How many TLS connectors (each a parse of every trust root) the SDK's HTTP clients of this
/// process have built — for tests and diagnostics.
pub fn tls_connectors_built() -> usize {
    TLS_CONNECTORS_BUILT.load(std::sync::atomic::Ordering::Relaxed)
}

/// `AUTOENROLL_EXTRA_CA_PEM` (PEM text or a path to a PEM file), if set and readable. The
/// Graph client reads the same variable and refuses to start when it is unreadable, so here a
/// warning is enough.
fn extra_ca_pem() -> Option<Vec<u8>> {
    let value = std::env::var(crate::runtime::EXTRA_CA_PEM).ok()?;
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.contains("-----BEGIN") {
        return Some(value.as_bytes().to_vec());
    }
    match std::fs::read(value) {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            tracing::warn!(path = value, error = %e, "AUTOENROLL_EXTRA_CA_PEM unreadable; not added for AWS");
            None
        }
    }
}

/// The certificates in `pem_text` that rustls can use as trust anchors (DER); the others are
/// skipped with a warning.
fn usable_roots(pem_text: &[u8]) -> Vec<Vec<u8>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut usable = Vec::new();
    let mut skipped = 0usize;
    for cert in CertificateDer::pem_slice_iter(pem_text) {
        match cert {
            Ok(cert) if rustls::RootCertStore::empty().add(cert.clone()).is_ok() => {
                usable.push(cert.as_ref().to_vec());
            }
            _ => skipped += 1,
        }
    }
    if skipped > 0 {
        tracing::warn!(
            skipped,
            added = usable.len(),
            "AUTOENROLL_EXTRA_CA_PEM: certificates rustls cannot use as roots were skipped"
        );
    }
    usable
}

/// One DER certificate as PEM text (the SDK's trust store takes PEM).
fn pem(der: &[u8]) -> Vec<u8> {
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::with_capacity(text.len() + text.len() / 64 + 64);
    out.push_str("-----BEGIN CERTIFICATE-----\n");
    for line in text.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out.into_bytes()
}

/// An SQS client; FIFO queues need nothing special from the client.
pub fn sqs_client(config: &SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(config)
}

pub fn dynamodb_client(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}

pub fn secrets_client(config: &SdkConfig) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(config)
}

/// SES v2: the Temporary Access Pass e-mail (`ses.rs`).
pub fn sesv2_client(config: &SdkConfig) -> aws_sdk_sesv2::Client {
    aws_sdk_sesv2::Client::new(config)
}

/// SNS: the Temporary Access Pass SMS (`sns.rs`).
pub fn sns_client(config: &SdkConfig) -> aws_sdk_sns::Client {
    aws_sdk_sns::Client::new(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_wraps_the_der_in_64_character_base64_lines() {
        for der in webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().take(5) {
            let text = String::from_utf8(pem(der.as_ref())).expect("ASCII");
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.first(), Some(&"-----BEGIN CERTIFICATE-----"));
            assert_eq!(lines.last(), Some(&"-----END CERTIFICATE-----"));
            let body = &lines[1..lines.len() - 1];
            assert!(body.iter().all(|l| !l.is_empty() && l.len() <= 64));
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(body.concat())
                .expect("base64");
            assert_eq!(decoded, der.as_ref());
        }
    }

    #[test]
    fn every_compiled_in_root_is_one_the_sdk_can_load() {
        // The SDK's rustls provider panics (`expect`) on a root it cannot parse: every
        // compiled-in root must survive exactly that path — PEM text, parse, add.
        for der in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
            let roots = usable_roots(&pem(der.as_ref()));
            assert_eq!(roots, vec![der.as_ref().to_vec()]);
        }
    }

    #[test]
    fn extra_roots_keep_the_usable_certificates_and_skip_the_rest() {
        let good = pem(webpki_root_certs::TLS_SERVER_ROOT_CERTS[0].as_ref());
        let broken = pem(b"not a certificate at all");
        let mut text = good.clone();
        text.extend_from_slice(&broken);
        text.extend_from_slice(b"some text between blocks\n");
        text.extend_from_slice(&good);
        assert_eq!(usable_roots(&text).len(), 2);
        assert!(usable_roots(b"no PEM here").is_empty());
    }

    #[test]
    fn compiled_in_roots_include_amazons() {
        // Amazon Root CA 1 (what AWS's service endpoints chain to), by its subject text.
        let amazon = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .filter(|der| {
                der.as_ref()
                    .windows(b"Amazon Root CA 1".len())
                    .any(|w| w == b"Amazon Root CA 1")
            })
            .count();
        assert!(amazon >= 1);
        assert!(webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() > 100);
    }
}
