//! Replays the fuzz corpora as ordinary tests: every committed seed and every input the fuzzer
//! ever crashed on (fuzz/seeds/<target>/, fuzz/regressions/<target>/) goes through the same
//! invariant checks the fuzz targets run (fuzz/src/core_checks.rs, compiled in here), so a bug
//! the fuzzer found stays fixed without nightly flags or cargo-fuzz. The named tests below spell
//! out each finding.

#[path = "../../../fuzz/src/core_checks.rs"]
mod core_checks;

use std::path::PathBuf;

use autoenroll_core::phone;

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut out = Vec::new();
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
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

fn replay(target: &str, check: fn(&[u8])) {
    let cases = inputs(target);
    assert!(!cases.is_empty(), "no fuzz inputs found for {target}");
    for (path, bytes) in cases {
        let outcome = std::panic::catch_unwind(|| check(&bytes));
        assert!(outcome.is_ok(), "{target}: {} fails", path.display());
    }
}

#[test]
fn notification_parse_corpus() {
    replay("notification_parse", core_checks::check_notification);
}

#[test]
fn phone_normalize_corpus() {
    replay("phone_normalize", core_checks::check_phone_bytes);
}

#[test]
fn policy_toml_corpus() {
    replay("policy_toml", core_checks::check_policy_bytes);
}

/// Finding 1 (phone_normalize): `mask` took any run of digits after '+' as the country code
/// and showed it in clear, so "+43108549 49493434604310938" was logged with 13 digits readable.
#[test]
fn mask_keeps_only_a_real_country_code_in_clear() {
    assert_eq!(
        phone::mask("+43108549 49493434604310938"),
        "+******** ***************38"
    );
    assert_eq!(phone::mask("+358 401234567"), "+358 4******67");
    assert_eq!(phone::mask("+31 612345678"), "+31 6******78");
}

/// Finding 2 (phone_normalize): an extension of 10+ digits after "ext" was kept, giving a Graph
/// number ("+49 949433x34849494333") that normalize and `canonical` could not read back, so
/// the same office phone would never compare equal to itself.
#[test]
fn an_extension_too_long_to_read_back_is_rejected() {
    let de = Some("DE".parse().unwrap());
    assert_eq!(
        phone::normalize("949433ext34849494333", de),
        Err(phone::PhoneRejection::TooLong)
    );
    assert_eq!(
        phone::normalize("949433 ext. 1234567890", de),
        Err(phone::PhoneRejection::TooLong)
    );
    let nine = phone::normalize("949433 ext 123456789", de).unwrap();
    assert_eq!(nine.graph, "+49 949433x123456789");
    assert_eq!(
        phone::canonical(&nine.graph).as_deref(),
        Some(nine.graph.as_str())
    );
}

/// Finding 3 (phone_normalize): an extension written with non-ASCII digits ("ext. ~１",
/// fullwidth one) was copied as typed into Graph's form ("+91 700248x１"), which Graph rejects
/// and `canonical` cannot read back; digits are now ASCII.
#[test]
fn extension_digits_are_ascii_in_graph_form() {
    let india = Some("IN".parse().unwrap());
    let n = phone::normalize("700248X ext. ~\u{FF11}", india);
    // Whatever the numbering plan says of the number, an extension that comes out is ASCII.
    if let Ok(n) = &n {
        assert!(n.graph.is_ascii(), "{:?}", n.graph);
    }
    let n = phone::normalize("+1 206 555 0100 ext. \u{FF11}\u{FF12}", None).unwrap();
    assert_eq!(n.graph, "+1 2065550100x12");
    assert_eq!(n.extension.as_deref(), Some("12"));
}

/// Finding 4 (phone_normalize): rlibphonenumber 2.2.15 panics ("begin > end when slicing") on
/// RFC 3966 text whose `tel:` comes after `;phone-context=`; a `mobilePhone` like that would
/// have aborted the enroll function. It is now rejected as not a number before parsing.
#[test]
fn tel_after_phone_context_is_rejected_not_a_panic() {
    for raw in [
        "1;phone-context=QQ;0Q10tel:2",
        "+31 6 12345678;phone-context=example.com;tel:+31612345678",
        "#+ 14t 01;phone-context=QQ;0Q10o4322222340tel:2",
    ] {
        for region in [None, Some("NL".parse().unwrap())] {
            assert_eq!(
                phone::normalize(raw, region),
                Err(phone::PhoneRejection::NotANumber),
                "{raw}"
            );
        }
    }
    // Well-ordered RFC 3966 still reads.
    let n = phone::normalize("tel:06-12345678;phone-context=+31", None).unwrap();
    assert_eq!(n.graph, "+31 612345678");
}
