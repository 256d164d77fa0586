//! Smoke run of the bench at tiny sizes: it completes, prints the Markdown table and writes
//! well-formed JSON. Nothing about time is asserted — the figures belong in BENCHMARKS.md, not
//! in the test suite. (The cold-start scenario needs the functions' release binaries and
//! moto, so it is left to real bench runs.)

use std::process::Command;

use serde_json::Value;

#[test]
fn bench_runs_at_tiny_sizes_and_writes_well_formed_output() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let output = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args([
            "--scenario",
            "backfill,scale,webhook,exposure",
            "--backfill-modes",
            "per-user,group,tap",
            "--users",
            "12",
            "--baseline-users",
            "3",
            "--latency-ms",
            "5",
            "--scale-sizes",
            "30,60",
            "--scale-repeats",
            "1",
            "--scale-concurrency",
            "4",
            "--webhook-rate",
            "50",
            "--webhook-secs",
            "1",
            "--exposure-users",
            "4",
            "--exposure-rate",
            "20",
            "--sweep-secs",
            "0.5",
            "--json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "bench failed: {stderr}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("| scenario | metric | value | unit | target | ok |"),
        "{stdout}"
    );
    let scenarios = [
        "1 backfill per-user",
        "1 backfill group",
        "1 backfill tap",
        "4 scale",
        "2 webhook",
        "5 exposure",
    ];
    for s in scenarios {
        assert!(
            stdout.lines().any(|l| l.starts_with(&format!("| {s} |"))),
            "no row for {s}:\n{stdout}"
        );
    }

    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(report["machine"]["nproc"].as_u64().unwrap() >= 1);
    assert!(report["machine"]["cpu_model"].is_string());
    assert!(report["command"].as_str().unwrap().contains("--scenario"));
    let mut listed: Vec<&str> = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["scenario"].as_str().unwrap())
        .collect();
    listed.sort_unstable();
    assert_eq!(
        listed,
        [
            "1 backfill group",
            "1 backfill per-user",
            "1 backfill tap",
            "2 webhook",
            "4 scale",
            "5 exposure"
        ]
    );
    for scenario in report["scenarios"].as_array().unwrap() {
        let metrics = scenario["metrics"].as_array().unwrap();
        assert!(!metrics.is_empty(), "{scenario}");
        for m in metrics {
            assert!(m["name"].is_string(), "{m}");
            assert!(m["unit"].is_string(), "{m}");
            // A figure that could not be computed is null (JSON has no NaN), never garbage.
            assert!(m["value"].is_number() || m["value"].is_null(), "{m}");
            if m.get("target").is_some() {
                assert!(m["pass"].is_boolean(), "{m}");
            }
        }
        assert_eq!(scenario["load_before"].as_array().unwrap().len(), 3);
    }
}
