//! Prints what phone normalisation costs: the first call (metadata decoded, as in a Lambda
//! cold start) and the steady state. `cargo run -p autoenroll-core --example phone_first_parse`
//! (add `--release` for figures comparable to production).

use std::time::Instant;

use autoenroll_core::phone::{RegionCode, normalize};

fn main() {
    let values = [
        "06-12345678",
        "0031 6 1234 5678",
        "+1 (206) 555-0100 ext. 12",
        "07400 123456",
        "0151 23456789",
        "n/a",
        "020-1234567",
        "+81 90 1234 5678",
    ];
    let start = Instant::now();
    let region: Option<RegionCode> = "NL".parse().ok();
    let first = normalize(values[0], region);
    let first_cost = start.elapsed();

    let rounds = 2_000;
    let start = Instant::now();
    let mut ok = 0usize;
    for i in 0..rounds {
        if normalize(values[i % values.len()], region).is_ok() {
            ok += 1;
        }
    }
    let steady = start.elapsed() / rounds as u32;
    println!(
        "first normalize (metadata load included): {:.2} ms (ok: {})",
        first_cost.as_secs_f64() * 1e3,
        first.is_ok()
    );
    println!(
        "steady state: {:.1} µs per value over {rounds} values ({ok} valid)",
        steady.as_secs_f64() * 1e6
    );
}
