//! Running the enroll function outside Lambda (the CLI's local stack, end-to-end tests,
//! benchmarks): workers that feed it batches from a queue the way Lambda's SQS event source
//! mapping does — `workers` pollers at once (the mapping's `MaximumConcurrency`), successes
//! deleted, failures left for redelivery.

use autoenroll_aws::poller::{self, DrainReport, PollError, SqsEventSource};
use autoenroll_core::ports::{AuditSink, MemoryStore};

use crate::EnrollFunction;

/// Runs `workers` pollers over `source` until none finds a visible message (or each has
/// handled `max_batches_per_worker` batches). Failed messages come back after the source's
/// retry delay; call again (or use [`drain_until_settled`]) to handle them.
pub async fn drain<S, M, A>(
    function: &EnrollFunction<M, A>,
    source: &S,
    workers: usize,
    max_batches_per_worker: usize,
) -> Result<DrainReport, PollError>
where
    S: SqsEventSource + ?Sized,
    M: MemoryStore,
    A: AuditSink,
{
    let runs = (0..workers.max(1)).map(|_| {
        poller::drain(source, max_batches_per_worker, |event| async move {
            function.handle(event).await
        })
    });
    let mut total = DrainReport::default();
    for report in futures::future::join_all(runs).await {
        add(&mut total, &report?);
    }
    Ok(total)
}

/// [`drain`] again and again while `pending()` says messages remain (in flight or waiting for
/// their retry delay), pausing `pause` between rounds, at most `max_rounds` rounds. Returns
/// the sum of the rounds and whether the queue ended empty.
pub async fn drain_until_settled<S, M, A, P, F>(
    function: &EnrollFunction<M, A>,
    source: &S,
    workers: usize,
    max_rounds: usize,
    pause: std::time::Duration,
    mut pending: P,
) -> Result<(DrainReport, bool), PollError>
where
    S: SqsEventSource + ?Sized,
    M: MemoryStore,
    A: AuditSink,
    P: FnMut() -> F,
    F: Future<Output = Result<usize, PollError>>,
{
    let mut total = DrainReport::default();
    for _ in 0..max_rounds {
        add(
            &mut total,
            &drain(function, source, workers, usize::MAX).await?,
        );
        if pending().await? == 0 {
            return Ok((total, true));
        }
        tokio::time::sleep(pause).await;
    }
    Ok((total, false))
}

fn add(total: &mut DrainReport, report: &DrainReport) {
    total.batches += report.batches;
    total.messages += report.messages;
    total.deleted += report.deleted;
    total.left_for_redelivery += report.left_for_redelivery;
    total.handler_errors += report.handler_errors;
}
