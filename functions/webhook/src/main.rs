//! Lambda entry point (Function URL, HTTP API v2 payload): build the adapters, run the handler.
//! No Graph client: lifecycle events go to the lifecycle queue.

use autoenroll_aws::config::sqs_client;
use autoenroll_aws::runtime::{self, Env};
use autoenroll_aws::sqs::SqsQueue;
use autoenroll_webhook::{Webhook, WebhookConfig};
use lambda_http::{Error, Request, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    runtime::init_tracing();
    let env = Env::from_process();
    let aws = runtime::aws_config().await;
    let sqs = sqs_client(&aws);
    let webhook = Webhook::new(
        WebhookConfig::from_env(&env)?,
        SqsQueue::new(sqs.clone(), env.required(runtime::QUEUE_URL)?),
        runtime::secrets(&aws),
        SqsQueue::new(sqs, env.required(runtime::LIFECYCLE_QUEUE_URL)?),
    );
    let webhook = &webhook;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, std::convert::Infallible>(webhook.handle(request).await)
    }))
    .await
}
