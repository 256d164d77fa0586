//! `autoenroll local --date`: both eras of the main job, driven through the binary.

use assert_cmd::Command;

fn autoenroll() -> Command {
    let mut cmd = Command::cargo_bin("autoenroll").expect("the autoenroll binary is built");
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

fn count(era: &serde_json::Value, key: &str) -> u64 {
    era[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {era:#}"))
}

#[test]
fn local_date_after_the_retirement_bootstraps_new_hires_with_passes_and_reports_both_eras() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("final-state.json");
    let out = autoenroll()
        .current_dir(dir.path())
        .args(["local", "--json", "--users", "60", "--date", "2027-03-01"])
        .arg("--state-out")
        .arg(&state)
        .assert()
        .success()
        .get_output()
        .clone();
    let summary: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is the JSON summary alone");
    assert_eq!(summary["crossCheck"]["agrees"], true, "{summary:#}");
    assert_eq!(summary["failed"], 0, "{summary:#}");
    let eras = summary["eras"].as_array().expect("eras in the summary");
    assert_eq!(eras.len(), 2, "{summary:#}");
    let (phone, passkey) = (&eras[0], &eras[1]);
    assert_eq!(phone["era"], "phone era");
    assert_eq!(passkey["era"], "passkey era");
    assert_eq!(passkey["date"], "2027-03-01");

    // The phone era registers phones; the passkey era hands every new hire a pass instead.
    assert!(count(phone, "phonesRegistered") > 0, "{phone:#}");
    let hires = count(passkey, "newHires");
    assert!(hires >= 3, "{passkey:#}");
    assert_eq!(count(passkey, "tapsReissued"), 1, "{passkey:#}");
    assert_eq!(count(passkey, "tapsExpired"), 1, "{passkey:#}");
    assert_eq!(
        count(passkey, "tapsIssued"),
        hires + 1,
        "one pass per new hire plus the re-issue: {passkey:#}"
    );
    assert_eq!(
        count(passkey, "tapsDelivered"),
        count(passkey, "tapsIssued")
    );
    assert_eq!(
        count(passkey, "tapsRedeemed"),
        hires,
        "everyone registers a passkey in the end: {passkey:#}"
    );
    for era in eras {
        assert_eq!(count(era, "relyingOnUndeliverablePhone"), 0, "{era:#}");
        assert_eq!(
            count(era, "tapsDelivered"),
            count(era, "tapsIssued"),
            "{era:#}"
        );
    }
    assert_eq!(
        count(&passkey["timeToProtection"], "samples"),
        hires,
        "{passkey:#}"
    );

    // The simulator agrees: every passkey-era hire holds a passkey and MFA is on; no pass is
    // left live.
    let dump: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).expect("state written"))
            .expect("state is JSON");
    assert_eq!(dump["now"].as_str().map(|n| &n[..10]), Some("2027-03-01"));
    let era_hires: Vec<_> = dump["users"]
        .as_object()
        .expect("users")
        .values()
        .filter(|u| {
            u["properties"]["userPrincipalName"]
                .as_str()
                .is_some_and(|upn| upn.contains(".new10"))
        })
        .collect();
    assert_eq!(era_hires.len() as u64, hires);
    for user in era_hires {
        let auth = &user["authentication"];
        let passkeys = auth["other"].as_array().map_or(0, |o| {
            o.iter().filter(|m| m.to_string().contains("fido2")).count()
        });
        assert_eq!(passkeys, 1, "{user:#}");
        // Entra moves `enabled` to `enforced` once the user has registered for MFA.
        assert!(
            ["enabled", "enforced"].contains(&auth["perUserMfaState"].as_str().unwrap_or("")),
            "{user:#}"
        );
    }

    // The outbox is shown, with the pass masked.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let outbox: Vec<_> = stderr.lines().filter(|l| l.contains("outbox:")).collect();
    assert!(!outbox.is_empty(), "{stderr}");
    assert!(
        outbox.iter().all(|l| l.contains("pass: ••••••••")),
        "{stderr}"
    );
}
