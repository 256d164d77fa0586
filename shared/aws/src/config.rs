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

/// The SDK configuration from the environment, with an optional endpoint override, trusting
/// Mozilla's roots (the CLI: any machine, any endpoint).
///
/// `endpoint_override = None` leaves endpoint resolution to aws-config, which honours
/// `AWS_ENDPOINT_URL`.
pub async fn load(endpoint_override: Option<&str>) -> SdkConfig {
    load_trusting(endpoint_override, TrustedRoots::Mozilla).await
}

/// The SDK configuration a Lambda function starts with: from the environment, trusting the
/// roots [`TrustedRoots::for_lambda`] picks from it.
pub async fn load_for_lambda() -> SdkConfig {
    // `vars_os`: `vars` panics on a variable that is not UTF-8.
    let vars = std::env::vars_os().map(|(name, value)| {
        (
            name.to_string_lossy().into_owned(),
            value.to_string_lossy().into_owned(),
        )
    });
    let roots = TrustedRoots::for_lambda(vars);
    load_trusting(None, roots).await
}

async fn load_trusting(endpoint_override: Option<&str>, roots: TrustedRoots) -> SdkConfig {
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).http_client(http_client(roots));
    if let Some(endpoint) = endpoint_override {
        loader = loader.endpoint_url(endpoint);
    }
    let config = loader.load().await;
    if config.region().is_none() {
        tracing::warn!("no AWS region configured (set AWS_REGION)");
    }
    config
}

/// The roots the SDK's HTTP client trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustedRoots {
    /// Amazon Trust Services' five roots — what Amazon recommends a custom trust store hold
    /// for its endpoints (<https://www.amazontrust.com/repository/>: Amazon Root CA 1–4 and
    /// Starfield Services Root Certificate Authority - G2; the European Sovereign Cloud's own
    /// roots are cross-signed by Amazon Root CA 1, 3 and 4). Parsing 5 roots instead of
    /// Mozilla's ~120 takes most of the TLS connector's cost off a cold start, and nothing but
    /// AWS is trusted for calls that go only to AWS.
    Amazon,
    /// Mozilla's roots as compiled in (`webpki-root-certs`).
    Mozilla,
}

/// Amazon Trust Services' roots, by subject common name.
const AMAZON_TRUST_SERVICES_ROOTS: [&str; 5] = [
    "Amazon Root CA 1",
    "Amazon Root CA 2",
    "Amazon Root CA 3",
    "Amazon Root CA 4",
    "Starfield Services Root Certificate Authority - G2",
];

impl TrustedRoots {
    /// [`TrustedRoots::Amazon`] for a function calling AWS's own endpoints; Mozilla's set when
    /// an `https` endpoint is configured (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`:
    /// somebody else's server, e.g. a local emulator with a public certificate) or the region
    /// is in the China partition (`cn-*`, operated apart from AWS's other regions; its
    /// certificates are not documented on the Amazon Trust Services page). A plain-`http`
    /// endpoint (moto) uses no TLS at all.
    pub fn for_lambda(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let elsewhere = vars.into_iter().any(|(name, value)| {
            let value = value.trim().to_ascii_lowercase();
            match name.as_str() {
                "AWS_REGION" | "AWS_DEFAULT_REGION" => value.starts_with("cn-"),
                _ if name.starts_with("AWS_ENDPOINT_URL") => {
                    !value.is_empty() && !value.starts_with("http://")
                }
                _ => false,
            }
        });
        if elsewhere {
            TrustedRoots::Mozilla
        } else {
            TrustedRoots::Amazon
        }
    }

    /// The compiled-in roots of this set (DER).
    pub fn certificates(self) -> impl Iterator<Item = &'static [u8]> {
        // One SIMD substring finder per name, built once: scanning every root for every name
        // byte by byte took most of what trusting fewer roots saves (BENCHMARKS.md, scenario 3).
        let finders: Vec<memchr::memmem::Finder<'static>> = match self {
            TrustedRoots::Mozilla => Vec::new(),
            TrustedRoots::Amazon => AMAZON_TRUST_SERVICES_ROOTS
                .iter()
                .map(|name| memchr::memmem::Finder::new(name.as_bytes()))
                .collect(),
        };
        webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .map(|der| der.as_ref())
            .filter(move |der| {
                self == TrustedRoots::Mozilla
                    || finders.iter().any(|finder| names_subject(der, finder))
            })
    }
}

/// Whether `der` holds `finder`'s name as a whole DER string value (PrintableString or
/// UTF8String, the types these roots' names use, with a one-byte length): a root is
/// self-signed, so its subject's name is in it, and "Amazon Root CA 1" does not match inside a
/// longer name.
fn names_subject(der: &[u8], finder: &memchr::memmem::Finder<'_>) -> bool {
    let name_len = finder.needle().len();
    finder.find_iter(der).any(|at| {
        at >= 2
            && usize::from(der[at - 1]) == name_len
            && name_len < 0x80
            && matches!(der[at - 2], 0x13 | 0x0C)
    })
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
        .http_client(http_client(TrustedRoots::Mozilla))
        .endpoint_url(endpoint)
        .credentials_provider(credentials)
        .region(Region::new(region))
        .load()
        .await
}

/// The SDK's HTTP client: the SDK's default one (hyper 1, rustls on aws-lc, proxy settings from
/// the environment — as `aws-smithy-runtime`'s `default_https_client` builds it), except that
/// it trusts `roots`, compiled in, instead of reading the system store. That read
/// (`rustls-native-certs`: a bundle plus every file of the certificate directory) is a large
/// share of a function's start-up CPU (BENCHMARKS.md, scenario 3), and so is every root
/// parsed when the TLS connector is built.
pub fn http_client(roots: TrustedRoots) -> SharedHttpClient {
    let mut store = TrustStore::empty().with_native_roots(false);
    for der in roots.certificates() {
        store.add_pem_certificate(pem(der));
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
    fn the_amazon_set_is_amazon_trust_services_five_roots() {
        let subjects: Vec<Vec<u8>> = TrustedRoots::Amazon
            .certificates()
            .map(|der| {
                let mut store = rustls::RootCertStore::empty();
                store
                    .add(rustls::pki_types::CertificateDer::from(der.to_vec()))
                    .expect("a root rustls accepts");
                store.roots[0].subject.as_ref().to_vec()
            })
            .collect();
        assert_eq!(subjects.len(), 5);
        for name in AMAZON_TRUST_SERVICES_ROOTS {
            let holding = subjects
                .iter()
                .filter(|subject| subject.windows(name.len()).any(|w| w == name.as_bytes()))
                .count();
            assert_eq!(holding, 1, "{name}");
        }
        // GoDaddy's "Starfield Root Certificate Authority - G2" is another root, not Amazon's.
        let godaddy = b"Starfield Root Certificate Authority - G2";
        assert!(
            !subjects
                .iter()
                .any(|s| s.windows(godaddy.len()).any(|w| w == godaddy))
        );
        assert!(TrustedRoots::Mozilla.certificates().count() > 100);
    }

    #[test]
    fn a_name_matches_only_as_a_whole_string() {
        let name = |text: &'static str| memchr::memmem::Finder::new(text.as_bytes());
        let amazon1 = TrustedRoots::Amazon
            .certificates()
            .find(|der| names_subject(der, &name("Amazon Root CA 1")))
            .expect("Amazon Root CA 1");
        assert!(!names_subject(amazon1, &name("Amazon Root CA")));
        assert!(!names_subject(amazon1, &name("mazon Root CA 1")));
        let long = "x".repeat(300);
        assert!(!names_subject(
            amazon1,
            &memchr::memmem::Finder::new(long.as_bytes())
        ));
    }

    #[test]
    fn lambda_trusts_amazon_unless_the_endpoint_or_partition_is_someone_elses() {
        let pick = |pairs: &[(&str, &str)]| {
            TrustedRoots::for_lambda(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            )
        };
        let cases: [(&[(&str, &str)], TrustedRoots); 8] = [
            (&[], TrustedRoots::Amazon),
            (&[("AWS_REGION", "eu-west-1")], TrustedRoots::Amazon),
            (&[("AWS_REGION", "us-gov-west-1")], TrustedRoots::Amazon),
            (&[("AWS_REGION", "cn-north-1")], TrustedRoots::Mozilla),
            (
                &[("AWS_DEFAULT_REGION", " CN-northwest-1")],
                TrustedRoots::Mozilla,
            ),
            (
                &[("AWS_ENDPOINT_URL", "http://127.0.0.1:5055")],
                TrustedRoots::Amazon,
            ),
            (
                &[(
                    "AWS_ENDPOINT_URL_DYNAMODB",
                    "https://localhost.localstack.cloud:4566",
                )],
                TrustedRoots::Mozilla,
            ),
            (
                &[
                    ("AWS_REGION", "eu-west-1"),
                    ("AWS_ENDPOINT_URL", "HTTPS://proxy"),
                ],
                TrustedRoots::Mozilla,
            ),
        ];
        for (pairs, expected) in cases {
            assert_eq!(pick(pairs), expected, "{pairs:?}");
        }
    }
}
