//! Lambda entry point (SQS event source, `ReportBatchItemFailures`): build the function from
//! the environment, then handle each batch.

use autoenroll_aws::runtime::{self, Env};
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};

// One scheduler thread: Lambda gives a function the CPU time of one vCPU only at 1,769 MB and
// a share of one below (infra/template.yaml sets 128–256 MB), so worker threads would only add
// their start-up and cross-thread wake-ups to every cold start (BENCHMARKS.md, scenario 3).
// Blocking work (the phone metadata's warm-up) still gets a thread of its own.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    runtime::init_tracing();
    let aws = runtime::aws_config().await;
    let function = autoenroll_enroll::from_env(&Env::from_process(), &aws).await?;
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let deadline = autoenroll_enroll::invocation_deadline(event.context.deadline);
        function
            .handle_until(event.payload, deadline)
            .await
            .map_err(Error::from)
    }))
    .await
}
