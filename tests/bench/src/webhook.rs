//! Scenario 2 — webhook acknowledgement.
//!
//! The webhook function's handler behind its local HTTP front (`serve_local`, the same code
//! the Lambda runs) on loopback, with the in-memory FIFO queue. An open-loop load generator
//! sends `rate` notification POSTs per second for `secs` seconds, each a
//! `changeNotificationCollection` of 1–5 user notifications; latency is measured from the
//! moment each request was due (so a stalled server cannot hide its backlog). Then the
//! handler alone (`handle_bytes`, no network) on the same bodies.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use autoenroll_aws::memory::{MemoryFifoQueue, StaticSecrets};
use autoenroll_aws::metrics::EmfMetrics;
use autoenroll_webhook::{Webhook, WebhookConfig};
use serde_json::json;

use crate::common::{millis, percentile};
use crate::report::{Metric, ScenarioReport};

const TENANT: &str = "8f2c6a51-3b7e-4d0a-9c1e-5a4b2d9e7f10";
const SUBSCRIPTION: &str = "0e3f2a33-3c1f-4a8c-9a4b-1f5a7d2c9b10";
const SECRET_NAME: &str = "bench/client-state";

#[derive(Debug, Clone)]
pub struct WebhookArgs {
    pub rate: u32,
    pub secs: u32,
    /// Calls of the bare handler.
    pub handler_calls: usize,
}

/// The second queue takes lifecycle events; the bench sends none.
type BenchWebhook = Webhook<MemoryFifoQueue, StaticSecrets, MemoryFifoQueue>;

fn client_state() -> String {
    // Long and random-looking, as the subscriptions function makes it.
    "bench-client-state-7f3a9c1e5b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d".to_owned()
}

fn webhook() -> (Arc<BenchWebhook>, MemoryFifoQueue) {
    let queue = MemoryFifoQueue::builder("bench.fifo").build();
    let handler = Webhook::new(
        WebhookConfig {
            tenant_id: TENANT.to_owned(),
            client_state_secret: SECRET_NAME.to_owned(),
        },
        queue.clone(),
        StaticSecrets::new().with(SECRET_NAME, client_state()),
        MemoryFifoQueue::builder("bench-lifecycle.fifo").build(),
    )
    // In Lambda these lines go to stdout; here they are formatted and thrown away.
    .with_metrics(EmfMetrics::with_writer(std::io::sink()));
    (Arc::new(handler), queue)
}

/// Request `i`'s body: 1–5 notifications (i mod 5 + 1), each for a distinct user and change.
fn body(i: usize) -> Vec<u8> {
    let items: Vec<_> = (0..i % 5 + 1)
        .map(|k| {
            let user = format!("6e7b768e-07e2-4810-{:04x}-{:012x}", k, i);
            json!({
                "changeType": "updated",
                "clientState": client_state(),
                "resource": format!("Users/{user}"),
                "resourceData": {
                    "@odata.type": "#Microsoft.Graph.User",
                    "@odata.id": format!("Users/{user}"),
                    "id": user,
                    "organizationId": TENANT,
                    "sequenceNumber": format!("{}", 638_000_000_000_000_000u64 + (i * 5 + k) as u64),
                },
                "subscriptionExpirationDateTime": "2030-05-24T23:21:19.3554403+00:00",
                "subscriptionId": SUBSCRIPTION,
                "tenantId": TENANT,
            })
        })
        .collect();
    serde_json::to_vec(&json!({ "value": items })).unwrap_or_default()
}

struct Outcome {
    /// From the moment the request was due to the end of the response.
    latency: Duration,
    ok: bool,
}

fn summarise(report: &mut ScenarioReport, prefix: &str, mut ms: Vec<f64>, p99_target: Option<f64>) {
    ms.sort_by(f64::total_cmp);
    let p99 = Metric::new(format!("{prefix} p99"), percentile(&ms, 99.0), "ms");
    report
        .metric(Metric::new(
            format!("{prefix} p50"),
            percentile(&ms, 50.0),
            "ms",
        ))
        .metric(match p99_target {
            Some(t) => p99.at_most(t),
            None => p99,
        })
        .metric(Metric::new(
            format!("{prefix} max"),
            ms.last().copied().unwrap_or(f64::NAN),
            "ms",
        ));
}

pub async fn run(args: &WebhookArgs) -> anyhow::Result<ScenarioReport> {
    let mut report = ScenarioReport::new(
        "2 webhook",
        json!({
            "ratePerSec": args.rate,
            "secs": args.secs,
            "itemsPerPost": "1–5 (i mod 5 + 1)",
            "queue": "in-memory FIFO (autoenroll_aws::memory)",
            "front": "autoenroll_webhook::serve_local on 127.0.0.1, HTTP/1.1 keep-alive",
            "handlerCalls": args.handler_calls,
        }),
    );
    let (handler, queue) = webhook();
    let front =
        autoenroll_webhook::serve_local(SocketAddr::from(([127, 0, 0, 1], 0)), handler).await?;
    let url = front.url.clone();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1_024)
        .build()?;
    let total = (args.rate * args.secs) as usize;
    let bodies: Vec<Vec<u8>> = (0..total).map(body).collect();
    let interval = Duration::from_secs_f64(1.0 / f64::from(args.rate.max(1)));
    // Warm-up: one connection and the handler's first call are not what is measured.
    client
        .post(&url)
        .header("content-type", "application/json")
        .body(body(total + 1))
        .send()
        .await?;
    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    let mut tasks = Vec::with_capacity(total);
    for (i, b) in bodies.into_iter().enumerate() {
        let due = start + interval * i as u32;
        tokio::time::sleep_until(due).await;
        let client = client.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let sent = client
                .post(&url)
                .header("content-type", "application/json; charset=utf-8")
                .body(b)
                .send()
                .await;
            let ok = match sent {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let _ = response.bytes().await;
                    status == 202
                }
                Err(_) => false,
            };
            Outcome {
                latency: due.elapsed(),
                ok,
            }
        }));
    }
    let mut outcomes = Vec::with_capacity(total);
    for t in tasks {
        outcomes.push(t.await?);
    }
    let elapsed = start.elapsed().as_secs_f64();
    front.shutdown().await;
    let errors = outcomes.iter().filter(|o| !o.ok).count();
    let enqueued = queue.len();
    // The warm-up request's items are on the queue too.
    let expected_items: usize = (0..total).chain([total + 1]).map(|i| i % 5 + 1).sum();
    report
        .metric(Metric::new("POSTs sent", total as f64, ""))
        .metric(Metric::new(
            "achieved rate",
            total as f64 / elapsed,
            "POST/s",
        ))
        .metric(Metric::new("errors (non-202 or transport)", errors as f64, "").at_most(0.0))
        .metric(
            Metric::new("notifications enqueued", enqueued as f64, "")
                .target(format!("= {expected_items}"), enqueued == expected_items),
        );
    summarise(
        &mut report,
        "ack latency over loopback",
        outcomes.iter().map(|o| millis(o.latency)).collect(),
        Some(10.0),
    );
    let first_second: Vec<f64> = outcomes
        .iter()
        .take(args.rate as usize)
        .map(|o| millis(o.latency))
        .collect();
    let last_second: Vec<f64> = outcomes
        .iter()
        .rev()
        .take(args.rate as usize)
        .map(|o| millis(o.latency))
        .collect();
    let p99_of = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        percentile(&v, 99.0)
    };
    report.note(format!(
        "p99 in the first second {:.2} ms, in the last second {:.2} ms (queue then holds {enqueued} messages)",
        p99_of(first_second),
        p99_of(last_second)
    ));

    // The handler alone: the same decision on the same bodies, no network, a fresh queue.
    let (handler, handler_queue) = webhook();
    let n = args.handler_calls.max(1);
    let bodies: Vec<Vec<u8>> = (0..n).map(body).collect();
    let method = http::Method::POST;
    let mut times = Vec::with_capacity(n);
    let mut bad = 0;
    for b in &bodies {
        let t = Instant::now();
        let reply = handler
            .handle_bytes(&method, None, Some("application/json"), b)
            .await;
        times.push(t.elapsed().as_secs_f64() * 1e6);
        if reply.status != 202 {
            bad += 1;
        }
    }
    report.metric(Metric::new("handler-only non-202", bad as f64, "").at_most(0.0));
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    report
        .metric(Metric::new(
            "handler-only p50",
            percentile(&sorted, 50.0),
            "µs",
        ))
        .metric(Metric::new(
            "handler-only p99",
            percentile(&sorted, 99.0),
            "µs",
        ))
        .metric(Metric::new(
            "handler-only max",
            sorted.last().copied().unwrap_or(f64::NAN),
            "µs",
        ));
    let tenth = (n / 10).max(1);
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len().max(1) as f64;
    report.note(format!(
        "handler-only: {n} calls, mean of the first tenth {:.1} µs, of the last tenth {:.1} µs (queue growing to {} messages)",
        mean(&times[..tenth]),
        mean(&times[n - tenth..]),
        handler_queue.len()
    ));
    report.note(
        "load generator and server share the process and its 2 cores (Graph would be the client in reality); JSON logs at INFO are formatted into a sink, as Lambda would format them to stdout",
    );
    Ok(report.finish())
}
