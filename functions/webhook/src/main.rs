//! Lambda entry point (Function URL, HTTP API v2 payload): build the adapters, run the handler.
//! No Graph client: lifecycle events go to the lifecycle queue.

use autoenroll_aws::config::sqs_client;
use autoenroll_aws::runtime::{self, Env};
use autoenroll_aws::sqs::SqsQueue;
use autoenroll_webhook::{Webhook, WebhookConfig};
use lambda_http::{Error, Request, service_fn};

// One scheduler thread: Lambda gives a function the CPU time of one vCPU only at 1,769 MB and
// a share of one below (infra/template.yaml sets 128–256 MB), so worker threads would only add
// their start-up and cross-thread wake-ups to every cold start (BENCHMARKS.md, scenario 3).
// Blocking work (the phone metadata's warm-up) still gets a thread of its own.
#[tokio::main(flavor = "current_thread")]
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
