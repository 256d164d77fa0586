//! Helpers for tests against moto (started by ./test.sh).
#![allow(dead_code)] // each test binary uses a different subset

use aws_config::SdkConfig;

/// The moto endpoint ./test.sh exports. Missing → the test fails (it is not skipped).
pub fn moto_endpoint() -> String {
    match std::env::var("AUTOENROLL_TEST_MOTO_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => endpoint,
        _ => panic!(
            "AUTOENROLL_TEST_MOTO_ENDPOINT is not set: these tests need moto. Run them with \
             ./test.sh (it installs and starts moto), or start `moto_server -H 127.0.0.1 -p PORT` \
             and export AUTOENROLL_TEST_MOTO_ENDPOINT=http://127.0.0.1:PORT"
        ),
    }
}

pub async fn moto_config() -> SdkConfig {
    autoenroll_aws::config::for_moto(&moto_endpoint()).await
}

/// A name no other test (or earlier run against the same moto) uses.
pub fn unique(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &id[..12])
}
