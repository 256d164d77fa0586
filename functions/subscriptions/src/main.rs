//! Lambda entry point: build the ports from the environment, then run the handler per event
//! (the schedule's, or a batch from the lifecycle queue).

use autoenroll_aws::config::dynamodb_client;
use autoenroll_aws::dynamo::DynamoStore;
use autoenroll_aws::runtime::{self, Env, GraphSettings};
use autoenroll_subscriptions::lifecycle::Invocation;
use autoenroll_subscriptions::{SubscriptionsConfig, SubscriptionsFunction};
use lambda_runtime::{Error, LambdaEvent, service_fn};

// One scheduler thread: Lambda gives a function the CPU time of one vCPU only at 1,769 MB and
// a share of one below (infra/template.yaml sets 128–256 MB), so worker threads would only add
// their start-up and cross-thread wake-ups to every cold start (BENCHMARKS.md, scenario 3).
// Blocking work (the phone metadata's warm-up) still gets a thread of its own.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    runtime::init_tracing();
    let env = Env::from_process();
    let aws = runtime::aws_config().await;
    let secrets = runtime::secrets(&aws);
    let function = SubscriptionsFunction::new(
        GraphSettings::from_env(&env)?.build(&secrets, &aws).await?,
        DynamoStore::new(dynamodb_client(&aws), env.required(runtime::TABLE_NAME)?),
        secrets,
        SubscriptionsConfig::from_env(&env)?,
    );
    let function = &function;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Invocation>| async move {
            function.handle(event).await.map_err(Error::from)
        },
    ))
    .await
}
