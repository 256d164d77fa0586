//! Lambda entry point: build the ports from the environment, then run the handler per event
//! (the schedule's, or a batch from the lifecycle queue).

use autoenroll_aws::config::dynamodb_client;
use autoenroll_aws::dynamo::DynamoStore;
use autoenroll_aws::runtime::{self, Env, GraphSettings};
use autoenroll_subscriptions::lifecycle::Invocation;
use autoenroll_subscriptions::{SubscriptionsConfig, SubscriptionsFunction};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
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
