//! Lambda entry point (Function URL, HTTP API v2 payload): build the adapters, run the handler.

use autoenroll_aws::config::sqs_client;
use autoenroll_aws::runtime::{self, Env, GraphSettings};
use autoenroll_aws::sqs::SqsQueue;
use autoenroll_webhook::{GraphLifecycle, Webhook, WebhookConfig};
use lambda_http::{Error, Request, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    runtime::init_tracing();
    let env = Env::from_process();
    let aws = runtime::aws_config().await;
    let webhook = Webhook::new(
        WebhookConfig::from_env(&env)?,
        SqsQueue::new(sqs_client(&aws), env.required(runtime::QUEUE_URL)?),
        runtime::secrets(&aws),
        GraphLifecycle::lazy(
            GraphSettings::from_env(&env)?,
            runtime::secrets(&aws),
            aws.clone(),
        ),
    );
    let webhook = &webhook;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, std::convert::Infallible>(webhook.handle(request).await)
    }))
    .await
}
