//! The world the functions start in: moto, the simulator, their configuration and first events.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use autoenroll_aws::dynamo::ensure_table;
use aws_sdk_sqs::types::QueueAttributeName;
use graph_sim::Sim;
use serde_json::{Value, json};

use crate::common::{APP, APP_SECRET, new_user};

/// moto on loopback: the one the test command started, or one of our own.
pub(super) struct Moto {
    endpoint: String,
    child: Option<tokio::process::Child>,
}

impl Moto {
    pub(super) async fn start() -> anyhow::Result<Moto> {
        if let Ok(endpoint) = std::env::var("AUTOENROLL_TEST_MOTO_ENDPOINT")
            && !endpoint.is_empty()
        {
            return Ok(Moto {
                endpoint,
                child: None,
            });
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let candidates = [
            std::env::var("AUTOENROLL_VENV_BIN")
                .map(|d| format!("{d}/moto_server"))
                .unwrap_or_default(),
            ".venv/bin/moto_server".to_owned(),
            "moto_server".to_owned(),
        ];
        let mut last_error = None;
        for program in candidates.iter().filter(|c| !c.is_empty()) {
            match tokio::process::Command::new(program)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
            {
                Ok(child) => {
                    let endpoint = format!("http://127.0.0.1:{port}");
                    let moto = Moto {
                        endpoint,
                        child: Some(child),
                    };
                    moto.wait_ready().await?;
                    return Ok(moto);
                }
                Err(e) => last_error = Some(e),
            }
        }
        anyhow::bail!(
            "moto_server not found ({}); run ./test.sh once (it installs moto into .venv) or set AUTOENROLL_TEST_MOTO_ENDPOINT",
            last_error.map(|e| e.to_string()).unwrap_or_default()
        )
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        for _ in 0..150 {
            if client
                .get(format!("{}/moto-api/", self.endpoint))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("moto did not start on {}", self.endpoint)
    }

    pub(super) async fn stop(mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill().await;
        }
    }
}

/// Everything the functions are configured with.
pub(super) struct World {
    pub(super) env: Vec<(String, String)>,
    client_state: String,
    tenant: String,
    queue_arn: String,
}

pub(super) async fn world(
    moto: &Moto,
    sim: &Sim,
    ca_file: &Path,
    notification_url: &str,
) -> anyhow::Result<World> {
    let aws = autoenroll_aws::config::for_moto(&moto.endpoint).await;
    let suffix = format!(
        "{}-{}",
        std::process::id(),
        time::OffsetDateTime::now_utc().unix_timestamp_nanos()
    );
    let secrets = autoenroll_aws::config::secrets_client(&aws);
    let client_secret_arn = secrets
        .create_secret()
        .name(format!("bench-client-secret-{suffix}"))
        .secret_string(APP_SECRET)
        .send()
        .await
        .context("moto: creating the client secret")?
        .arn()
        .unwrap_or_default()
        .to_owned();
    let client_state = format!("bench-client-state-{suffix}-9f8e7d6c5b4a39281706f5e4d3c2b1a0");
    let client_state_arn = secrets
        .create_secret()
        .name(format!("bench-client-state-{suffix}"))
        .secret_string(&client_state)
        .send()
        .await
        .context("moto: creating the clientState secret")?
        .arn()
        .unwrap_or_default()
        .to_owned();
    let table = format!("bench-coldstart-{suffix}");
    ensure_table(&autoenroll_aws::config::dynamodb_client(&aws), &table)
        .await
        .map_err(|e| anyhow::anyhow!("moto: creating the table: {e}"))?;
    let queue_url = autoenroll_aws::config::sqs_client(&aws)
        .create_queue()
        .queue_name(format!("bench-coldstart-{suffix}.fifo"))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .context("moto: creating the queue")?
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    let tenant = sim.tenant_id();
    // The functions look in the region the resources were created in.
    let region = aws
        .region()
        .map(|r| r.as_ref().to_owned())
        .unwrap_or_else(|| autoenroll_aws::config::FALLBACK_REGION.to_owned());
    let env: Vec<(String, String)> = [
        ("AUTOENROLL_TENANT_ID", tenant.clone()),
        ("AUTOENROLL_CLIENT_ID", APP.to_owned()),
        ("AUTOENROLL_CLIENT_SECRET_ARN", client_secret_arn),
        ("AUTOENROLL_CLIENT_STATE_SECRET_ARN", client_state_arn),
        // The bench's webhook event holds no lifecycle event: one queue serves both.
        ("AUTOENROLL_LIFECYCLE_QUEUE_URL", queue_url.clone()),
        ("AUTOENROLL_QUEUE_URL", queue_url),
        ("AUTOENROLL_TABLE_NAME", table),
        ("AUTOENROLL_NOTIFICATION_URL", notification_url.to_owned()),
        ("AUTOENROLL_GRAPH_MAX_CONCURRENCY", "5".to_owned()),
        ("AUTOENROLL_POLICY_DEFAULT_REGION", "NL".to_owned()),
        ("AUTOENROLL_POLICY_MFA_MODE", "per-user-enabled".to_owned()),
        ("AUTOENROLL_POLICY_SET_SMS_DEFAULT", "true".to_owned()),
        (
            "AUTOENROLL_POLICY_EXCLUDED_UPNS",
            "breakglass01@contoso.onmicrosoft.com".to_owned(),
        ),
        ("AUTOENROLL_POLICY_EXCLUDED_GROUPS", String::new()),
        ("AUTOENROLL_POLICY_SCOPE_GROUPS", String::new()),
        ("AUTOENROLL_POLICY_INCLUDE_GUESTS", "false".to_owned()),
        (
            "AUTOENROLL_POLICY_ON_NUMBER_CHANGE",
            "update-managed".to_owned(),
        ),
        ("AUTOENROLL_POLICY_OFFICE_FALLBACK", "false".to_owned()),
        ("AUTOENROLL_GRAPH_BASE_URL", sim.base_url()),
        ("AUTOENROLL_AUTHORITY_HOST", sim.authority_host()),
        ("AUTOENROLL_EXTRA_CA_PEM", ca_file.display().to_string()),
        ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_REGION", region.clone()),
        ("AWS_DEFAULT_REGION", region.clone()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench".to_owned()),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/01/01/[$LATEST]bench".to_owned(),
        ),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    Ok(World {
        env,
        client_state,
        tenant,
        queue_arn: format!("arn:aws:sqs:{region}:000000000000:bench-coldstart-{suffix}.fifo"),
    })
}

/// The first event each function gets.
pub(super) fn event(function: &str, world: &World, sim: &Sim, run: usize) -> anyhow::Result<Value> {
    Ok(match function {
        "webhook" => {
            let user = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b01";
            let body = json!({ "value": [{
                "changeType": "updated",
                "clientState": world.client_state,
                "resource": format!("Users/{user}"),
                "resourceData": {
                    "@odata.type": "#Microsoft.Graph.User",
                    "@odata.id": format!("Users/{user}"),
                    "id": user,
                    "organizationId": world.tenant,
                    "sequenceNumber": format!("{}", 638_000_000_000_000_000u64 + run as u64),
                },
                "subscriptionExpirationDateTime": "2030-05-24T23:21:19.3554403+00:00",
                "subscriptionId": "0e3f2a33-3c1f-4a8c-9a4b-1f5a7d2c9b10",
                "tenantId": world.tenant,
            }]});
            json!({
                "version": "2.0",
                "routeKey": "$default",
                "rawPath": "/",
                "rawQueryString": "",
                "headers": {
                    "content-type": "application/json; charset=utf-8",
                    "host": "bench.lambda-url.eu-west-1.on.aws",
                    "x-forwarded-proto": "https",
                    "user-agent": "Microsoft-Notifications/1.0",
                },
                "requestContext": {
                    "accountId": "anonymous",
                    "apiId": "bench",
                    "domainName": "bench.lambda-url.eu-west-1.on.aws",
                    "domainPrefix": "bench",
                    "http": {
                        "method": "POST",
                        "path": "/",
                        "protocol": "HTTP/1.1",
                        "sourceIp": "127.0.0.1",
                        "userAgent": "Microsoft-Notifications/1.0",
                    },
                    "requestId": format!("bench-{run}"),
                    "routeKey": "$default",
                    "stage": "$default",
                    "time": "25/Nov/2026:12:00:00 +0000",
                    "timeEpoch": 1_795_608_000_000u64,
                },
                "body": body.to_string(),
                "isBase64Encoded": false,
            })
        }
        "enroll" => {
            // A new user each run, so every run does the same work (read, three writes).
            let user_id = sim
                .control()
                .create_user(new_user("coldstart", run))
                .map_err(|e| anyhow::anyhow!("creating a user: {e}"))?;
            let request = json!({
                "tenantId": world.tenant,
                "userId": user_id,
                "trigger": { "kind": "reconcile" },
                "observedAt": "2026-11-25T12:00:00Z",
                "dedupKey": format!("bench:{user_id}"),
            });
            json!({ "Records": [{
                "messageId": format!("bench-message-{run}"),
                "receiptHandle": format!("bench-receipt-{run}"),
                "body": request.to_string(),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1795608000000",
                    "SenderId": "AROAEXAMPLE:bench",
                    "ApproximateFirstReceiveTimestamp": "1795608000001",
                    "MessageGroupId": user_id,
                    "MessageDeduplicationId": format!("bench-{run}"),
                    "SequenceNumber": format!("{}", 18_000_000_000_000_000_000u128 + run as u128),
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": world.queue_arn,
                "awsRegion": "eu-west-1",
            }]})
        }
        _ => json!({
            "version": "0",
            "id": format!("bench-{run}"),
            "detail-type": "Scheduled Event",
            "source": "aws.scheduler",
            "account": "123456789012",
            "time": "2026-11-25T12:00:00Z",
            "region": "eu-west-1",
            "resources": [],
            "detail": {},
        }),
    })
}
