//! The SDK configuration reaches moto through `AWS_ENDPOINT_URL` alone (aws-config resolves
//! it), and an explicit endpoint override beats the environment.
//!
//! Environment variables are process-wide (and `set_var` is unsafe), so each case runs this
//! test binary again as a child process with exactly the environment under test; the child
//! creates a queue through `autoenroll_aws::config::load`, the parent checks it exists on moto.

mod common;

use std::process::Command;

use common::{moto_config, moto_endpoint, unique};

const CHILD_TEST: &str = "child_creates_a_queue_through_load";

/// Runs the child with a clean AWS environment plus `vars`; returns the queue name it created.
async fn run_child(vars: &[(&str, String)]) -> String {
    let config = moto_config().await;
    let region = config.region().map(|r| r.to_string()).unwrap_or_default();
    let queue = unique("config-child");
    let exe = std::env::current_exe().unwrap();
    let mut command = Command::new(exe);
    command
        .args([
            "--exact",
            CHILD_TEST,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL_SQS")
        .env_remove("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws-credentials",
        )
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", region)
        .env("CHILD_QUEUE_NAME", &queue);
    for (key, value) in vars {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "child failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("1 passed"),
        "the child test did not run:\n{stdout}"
    );
    queue
}

async fn queue_exists_on_moto(name: &str) -> bool {
    let client = aws_sdk_sqs::Client::new(&moto_config().await);
    client.get_queue_url().queue_name(name).send().await.is_ok()
}

#[tokio::test]
async fn aws_endpoint_url_in_the_environment_is_honoured() {
    let queue = run_child(&[
        ("AWS_ENDPOINT_URL", moto_endpoint()),
        ("CHILD_MODE", "environment".into()),
    ])
    .await;
    assert!(queue_exists_on_moto(&queue).await);
}

#[tokio::test]
async fn explicit_endpoint_override_beats_the_environment() {
    // The environment points at a closed port; the override at moto.
    let queue = run_child(&[
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9".into()),
        ("CHILD_MODE", "override".into()),
        ("CHILD_OVERRIDE", moto_endpoint()),
    ])
    .await;
    assert!(queue_exists_on_moto(&queue).await);
}

#[tokio::test]
#[ignore = "run as a child process by the tests above"]
async fn child_creates_a_queue_through_load() {
    let queue = std::env::var("CHILD_QUEUE_NAME").expect("only run by the tests in this file");
    let config = match std::env::var("CHILD_MODE").as_deref() {
        Ok("override") => {
            let endpoint = std::env::var("CHILD_OVERRIDE").unwrap();
            autoenroll_aws::config::load(Some(&endpoint)).await
        }
        _ => autoenroll_aws::config::load(None).await,
    };
    let client = autoenroll_aws::config::sqs_client(&config);
    client
        .create_queue()
        .queue_name(queue)
        .send()
        .await
        .unwrap();
}
