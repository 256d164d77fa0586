//! The simulator's counters sampled during a backfill: the sustained write rate, 429 storms and
//! the per-second series of the JSON report.

use std::sync::Arc;
use std::time::{Duration, Instant};

use graph_sim::Sim;
use serde_json::json;

/// One sample of the simulator's counters.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sample {
    pub at: f64,
    pub writes: u64,
    pub throttled: u64,
}

pub(super) fn sampler(
    sim: &Sim,
    start: Instant,
) -> (
    tokio::task::JoinHandle<Vec<Sample>>,
    Arc<tokio::sync::Notify>,
) {
    let control = sim.control();
    let stop = Arc::new(tokio::sync::Notify::new());
    let stopped = stop.clone();
    let task = tokio::spawn(async move {
        let mut samples = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped.notified() => break,
            }
            let c = control.counters();
            samples.push(Sample {
                at: start.elapsed().as_secs_f64(),
                writes: c.writes,
                throttled: c.throttled,
            });
        }
        let c = control.counters();
        samples.push(Sample {
            at: start.elapsed().as_secs_f64(),
            writes: c.writes,
            throttled: c.throttled,
        });
        samples
    });
    (task, stop)
}

/// Longest run of consecutive whole seconds in which at least one 429 was served.
pub(super) fn longest_429_run(samples: &[Sample]) -> usize {
    let Some(last) = samples.last() else {
        return 0;
    };
    let seconds = last.at.ceil() as usize + 1;
    let mut per_second = vec![0u64; seconds];
    let mut prev = 0;
    for s in samples {
        let sec = (s.at.floor() as usize).min(seconds - 1);
        per_second[sec] += s.throttled - prev;
        prev = s.throttled;
    }
    let (mut best, mut run) = (0, 0);
    for n in per_second {
        run = if n > 0 { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

/// Writes and 429s per whole second, for the JSON report.
pub(super) fn timeline(samples: &[Sample]) -> serde_json::Value {
    let seconds = samples.last().map_or(0, |s| s.at.ceil() as usize);
    let writes: Vec<u64> = (0..seconds)
        .map(|i| writes_at(samples, (i + 1) as f64) - writes_at(samples, i as f64))
        .collect();
    let throttled: Vec<u64> = (0..seconds)
        .map(|i| {
            let at = |t: f64| {
                samples
                    .iter()
                    .take_while(|s| s.at <= t)
                    .last()
                    .map_or(0, |s| s.throttled)
            };
            at((i + 1) as f64) - at(i as f64)
        })
        .collect();
    json!({ "writesPerSecond": writes, "throttledPerSecond": throttled })
}

/// Writes seen by the simulator at time `t` (the last sample at or before it).
pub(super) fn writes_at(samples: &[Sample], t: f64) -> u64 {
    samples
        .iter()
        .take_while(|s| s.at <= t)
        .last()
        .map_or(0, |s| s.writes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(at: f64, writes: u64, throttled: u64) -> Sample {
        Sample {
            at,
            writes,
            throttled,
        }
    }

    #[test]
    fn storms_are_runs_of_seconds_with_429s() {
        let samples = [
            s(0.5, 0, 0),
            s(1.5, 0, 2),
            s(2.5, 0, 3),
            s(3.5, 0, 3),
            s(4.5, 0, 4),
        ];
        assert_eq!(longest_429_run(&samples), 2);
        assert_eq!(longest_429_run(&[s(0.5, 0, 0)]), 0);
    }

    #[test]
    fn writes_at_takes_the_last_sample_before() {
        let samples = [s(0.1, 1, 0), s(0.2, 5, 0), s(0.3, 9, 0)];
        assert_eq!(writes_at(&samples, 0.25), 5);
        assert_eq!(writes_at(&samples, 0.0), 0);
    }
}
