//! The `autoenroll` binary, driven as an administrator would, against the Graph simulator.

use assert_cmd::Command;
use predicates::prelude::*;

fn autoenroll() -> Command {
    let mut cmd = Command::cargo_bin("autoenroll").expect("the autoenroll binary is built");
    // Keep the environment from leaking into the tests (a developer's own policy or tenant).
    for var in [
        "RUST_LOG",
        "AUTOENROLL_CLIENT_SECRET",
        "AUTOENROLL_GRAPH_BASE_URL",
        "AUTOENROLL_AUTHORITY_HOST",
        "AUTOENROLL_EXTRA_CA_PEM",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

#[test]
fn phone_with_region_accepts_national_mobile_numbers_and_exits_zero() {
    autoenroll()
        .args(["phone", "--region", "NL", "06-1234 5678", "+49 170 1234567"])
        .assert()
        .success()
        .stdout(predicate::str::contains("+31 612345678"))
        .stdout(predicate::str::contains("+49 1701234567"))
        .stdout(predicate::str::contains("mobile"));
}

#[test]
fn phone_with_a_placeholder_value_reports_the_reason_and_exits_one() {
    autoenroll()
        .args(["phone", "--region", "NL", "06-1234 5678", "n/a"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("REJECTED: placeholder `n/a`"))
        .stderr(predicate::str::contains("1 of 2 value(s) rejected"));
}

#[test]
fn phone_without_region_rejects_numbers_lacking_a_country_code() {
    let out = autoenroll()
        .args(["phone", "--json", "06-12345678"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&out).expect("JSON output");
    assert_eq!(json[0]["status"], "rejected");
    assert_eq!(json[0]["reason"], "noCountryCode");
}

#[test]
fn phone_with_an_unknown_region_is_a_configuration_error() {
    autoenroll()
        .args(["phone", "--region", "ZZ", "+31 6 12345678"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--region"));
}
