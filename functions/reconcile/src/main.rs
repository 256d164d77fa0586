//! Lambda entry point (EventBridge Scheduler, every minute; any payload): build the function
//! from the environment, then re-check open bootstraps and sweep until shortly before each
//! invocation's deadline.

use autoenroll_aws::runtime::{self, Env};
use lambda_runtime::{Error, LambdaEvent, service_fn};

// One scheduler thread: Lambda gives a function the CPU time of one vCPU only at 1,769 MB and
// a share of one below (infra/template.yaml sets 128–256 MB), so worker threads would only add
// their start-up and cross-thread wake-ups to every cold start (BENCHMARKS.md, scenario 3).
// Blocking work (the phone metadata's warm-up) still gets a thread of its own.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    runtime::init_tracing();
    let aws = runtime::aws_config().await;
    let function = autoenroll_reconcile::from_env(&Env::from_process(), &aws).await?;
    let function = &function;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            // The follow-up first: one query and a few messages, so the sweep keeps its budget.
            let follow_up = function.follow_up().await;
            let report = function.handle(event.context.deadline()).await?;
            let follow_up = follow_up?;
            Ok::<_, Error>(serde_json::json!({
                "pages": report.pages,
                "enqueued": report.enqueued,
                "roundFinished": report.round_finished,
                "followUps": follow_up.map_or(0, |r| r.enqueued),
            }))
        },
    ))
    .await
}
