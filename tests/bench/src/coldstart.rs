//! Scenario 3 — cold start and footprint of the functions' release binaries.
//!
//! Each binary (`cargo build --release -p autoenroll-webhook …`) is started as Lambda starts
//! it: a fresh process whose only way in is the Lambda Runtime API, here the minimal loopback
//! implementation in [`crate::lambda_api`]. It gets one real event — a change notification for
//! the webhook, an SQS batch of one new user for enroll, the schedule's event for
//! subscriptions and reconcile — with its AWS services on moto (Secrets Manager, SQS FIFO,
//! DynamoDB; `moto_server` on loopback, as `./test.sh` runs it) and Graph on the simulator.
//! Measured: binary size; time from spawning the process to its first `GET …/next` (init) and
//! to its answer for the event (first event handled); peak RSS (`VmHWM` of the process, read
//! while it waits for the next event). Each function runs `runs` times; medians reported.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::extract::RawQuery;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::serve::ListenerExt;
use serde_json::{Value, json};

use crate::common::{millis, start_sim};
use crate::lambda_api::{Answer, RuntimeApi};
use crate::report::{Metric, ScenarioReport};

mod world;

use world::{Moto, World, event, world};

pub const FUNCTIONS: [&str; 4] = ["webhook", "enroll", "subscriptions", "reconcile"];

#[derive(Debug, Clone)]
pub struct ColdStartArgs {
    /// Where the release binaries are (default: next to this binary).
    pub dir: PathBuf,
    pub runs: usize,
    pub functions: Vec<String>,
}

/// One cold start.
struct Start {
    init: Duration,
    first_event: Duration,
    /// CPU time the process used up to its answer (all threads): its own work, without the
    /// time spent waiting for moto and the simulator.
    cpu: Duration,
    peak_rss_kb: u64,
    answer: String,
}

/// CPU time of every thread of `pid` (`/proc/PID/task/*/schedstat`, first field, ns).
fn cpu_time(pid: u32) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    let nanos: u64 = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// The function's `Timeout` in infra/template.yaml (the reconcile sweep plans its work by the
/// invocation's deadline).
fn timeout(function: &str) -> Duration {
    Duration::from_secs(match function {
        "webhook" => 10,
        "reconcile" => 300,
        _ => 60,
    })
}

async fn cold_start(
    binary: &Path,
    world: &World,
    event: Value,
    timeout: Duration,
) -> anyhow::Result<Start> {
    let mut api = RuntimeApi::start(event, timeout).await?;
    let name = binary
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Diagnostics: `BENCH_COLDSTART_WRAPPER="strace -f -tt -o /tmp/trace"` runs the function
    // under that command (the figures then include the wrapper's overhead).
    let wrapper = std::env::var("BENCH_COLDSTART_WRAPPER").unwrap_or_default();
    let mut words = wrapper.split_whitespace();
    let mut command = match words.next() {
        Some(program) => {
            let mut c = tokio::process::Command::new(program);
            c.args(words).arg(binary);
            c
        }
        None => tokio::process::Command::new(binary),
    };
    // Diagnostics: `BENCH_COLDSTART_ENV="K=V K2=V2"` adds variables to the functions' environment.
    let extra_env = std::env::var("BENCH_COLDSTART_ENV").unwrap_or_default();
    command
        .env_clear()
        .envs(world.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .envs(
            extra_env
                .split_whitespace()
                .filter_map(|kv| kv.split_once('=')),
        )
        .env("AWS_LAMBDA_RUNTIME_API", api.endpoint())
        .env("AWS_LAMBDA_FUNCTION_NAME", &name)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let started = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let pid = child.id().unwrap_or(0);
    // Read stderr on the side: a wrapper's grandchild may keep the pipe open after the kill.
    let stderr_task = child.stderr.take().map(|mut pipe| {
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let _ = tokio::io::AsyncReadExt::read_to_end(&mut pipe, &mut buf).await;
            buf
        })
    });
    let answer = tokio::time::timeout(Duration::from_secs(60), api.answer()).await;
    let peak_rss_kb = vm_hwm_kb(pid).unwrap_or(0);
    let cpu = cpu_time(pid);
    let init = api.first_next_at().map(|t| t - started);
    let _ = child.start_kill();
    let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
    api.stop();
    let stderr = match stderr_task {
        Some(task) => {
            let bytes = tokio::time::timeout(Duration::from_secs(1), task).await;
            String::from_utf8_lossy(&bytes.ok().and_then(Result::ok).unwrap_or_default())
                .into_owned()
        }
        None => String::new(),
    };
    let tail: String = stderr.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
    let answer = match answer {
        Ok(Some(answer)) => answer,
        Ok(None) | Err(_) => anyhow::bail!("{name}: no answer to the first event; stderr: {tail}"),
    };
    let (at, body) = match answer {
        Answer::Response { at, body } => (at, body),
        Answer::Error { body, .. } | Answer::InitError { body, .. } => anyhow::bail!(
            "{name} failed the event: {}; stderr: {tail}",
            String::from_utf8_lossy(&body)
        ),
    };
    Ok(Start {
        init: init.unwrap_or_default(),
        first_event: at - started,
        cpu,
        peak_rss_kb,
        answer: String::from_utf8_lossy(&body).chars().take(200).collect(),
    })
}

/// Answers the subscription's validation handshake (and accepts notifications), for the
/// subscriptions function's first run.
async fn notification_endpoint() -> anyhow::Result<(String, tokio::task::JoinHandle<()>)> {
    async fn handle(RawQuery(query): RawQuery) -> impl IntoResponse {
        let token = query.as_deref().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "validationToken")
                .map(|(_, v)| v.into_owned())
        });
        match token {
            Some(t) => (StatusCode::OK, [("content-type", "text/plain")], t).into_response(),
            None => StatusCode::ACCEPTED.into_response(),
        }
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let url = format!("http://{}/", listener.local_addr()?);
    let app = Router::new().fallback(handle);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener.tap_io(crate::lambda_api::nodelay), app).await;
    });
    Ok((url, task))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

pub async fn run(args: &ColdStartArgs) -> anyhow::Result<ScenarioReport> {
    let mut report = ScenarioReport::new(
        "3 coldstart",
        json!({
            "binaries": args.dir.display().to_string(),
            "runs": args.runs,
            "runtimeApi": "bench's own loopback Lambda Runtime API (next / response / error)",
            "aws": "moto_server on loopback (Secrets Manager, SQS FIFO, DynamoDB)",
            "graph": "graph-sim in the bench process (HTTPS, no added latency)",
        }),
    );
    let present: Vec<(String, PathBuf)> = args
        .functions
        .iter()
        .map(|f| (f.clone(), args.dir.join(format!("autoenroll-{f}"))))
        .filter(|(_, p)| p.is_file())
        .collect();
    for f in &args.functions {
        if !present.iter().any(|(p, _)| p == f) {
            report.note(format!(
                "{f}: no binary at {} — build it with `cargo build --release -p autoenroll-{f}`",
                args.dir.join(format!("autoenroll-{f}")).display()
            ));
        }
    }
    if present.is_empty() {
        return Ok(report.finish());
    }
    let moto = Moto::start().await?;
    let sim = start_sim(graph_sim::SimOptions::default()).await?;
    let dir = std::env::temp_dir().join(format!("autoenroll-bench-cold-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let ca_file = dir.join("sim-ca.pem");
    std::fs::write(&ca_file, sim.ca_cert_pem())?;
    let (notification_url, endpoint) = notification_endpoint().await?;
    let result = async {
        let world = world(&moto, &sim, &ca_file, &notification_url).await?;
        for (function, binary) in &present {
            let size = std::fs::metadata(binary)?.len() as f64 / (1024.0 * 1024.0);
            let mut starts = Vec::new();
            for run in 0..args.runs.max(1) {
                let event = event(function, &world, &sim, run)?;
                starts.push(cold_start(binary, &world, event, timeout(function)).await?);
            }
            let label = |what: &str| format!("{function}: {what}");
            report
                .metric(Metric::new(label("binary size"), size, "MiB").at_most(10.0))
                .metric(Metric::new(
                    label("start → init done (first GET next), median"),
                    median(starts.iter().map(|s| millis(s.init)).collect()),
                    "ms",
                ))
                .metric(
                    Metric::new(
                        label("start → first event handled, median"),
                        median(starts.iter().map(|s| millis(s.first_event)).collect()),
                        "ms",
                    )
                    .at_most(30.0),
                )
                .metric(Metric::new(
                    label("CPU time to first event handled, median"),
                    median(starts.iter().map(|s| millis(s.cpu)).collect()),
                    "ms",
                ))
                .metric(
                    Metric::new(
                        label("peak RSS, max"),
                        starts.iter().map(|s| s.peak_rss_kb).max().unwrap_or(0) as f64 / 1024.0,
                        "MiB",
                    )
                    .at_most(40.0),
                );
            report.note(format!(
                "{function}: first event handled per run (ms): {}; answer: {}",
                starts
                    .iter()
                    .map(|s| format!("{:.1}", millis(s.first_event)))
                    .collect::<Vec<_>>()
                    .join(", "),
                starts.last().map(|s| s.answer.as_str()).unwrap_or("")
            ));
        }
        anyhow::Ok(())
    }
    .await;
    endpoint.abort();
    sim.shutdown().await;
    moto.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    Ok(report.finish())
}
