//! The SDK's HTTP client parses its trust roots once per process, not once per service client:
//! the three clients a function builds share one TLS connector. Its own test binary, because
//! the count is per process.

mod common;

use autoenroll_aws::config;
use common::moto_config;

#[tokio::test]
async fn three_service_clients_and_their_calls_build_one_tls_connector() {
    assert_eq!(config::tls_connectors_built(), 0);
    let aws = moto_config().await;
    let secrets = config::secrets_client(&aws);
    let dynamodb = config::dynamodb_client(&aws);
    let sqs = config::sqs_client(&aws);
    secrets.list_secrets().send().await.expect("ListSecrets");
    dynamodb.list_tables().send().await.expect("ListTables");
    sqs.list_queues().send().await.expect("ListQueues");
    // A client built later (the reconcile function builds one per run) reuses it too.
    config::sqs_client(&aws)
        .list_queues()
        .send()
        .await
        .expect("ListQueues");
    assert_eq!(config::tls_connectors_built(), 1);
}
