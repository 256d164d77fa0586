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

// ------------------------------------------------------------------------------------------
// plan / apply
// ------------------------------------------------------------------------------------------

/// The Contoso seed's autoenroll app.
const CONTOSO_APP: &str = "5d3e8b0f-6a2c-4f1e-8b7d-2c9a4e6f1b30";
const CONTOSO_SECRET: &str = "sim-secret-autoenroll-Q8w~xV3pL9";
/// The Contoso seed's app with only User.Read.All and UserAuthMethod-Phone.ReadWrite.All.
const PHONE_ONLY_APP: &str = "0e5c2d7a-9f41-4b8e-a3c6-7d1f0b2e4a99";
const PHONE_ONLY_SECRET: &str = "sim-secret-phone-only-4Tz~Kq1";
const BREAK_GLASS: &str = "breakglass01@contoso.onmicrosoft.com";

/// A simulator owned by the test, which the binary reaches as a "real" tenant through the
/// local/test-only overrides (ARCHITECTURE.md), so its state survives between two runs.
struct TestTenant {
    sim: graph_sim::Sim,
    dir: tempfile::TempDir,
    ca_file: std::path::PathBuf,
}

impl TestTenant {
    async fn start() -> Self {
        let sim = graph_sim::Sim::start(graph_sim::SimOptions {
            seed: graph_sim::Seed::contoso(),
            ..Default::default()
        })
        .await
        .expect("simulator starts");
        let dir = tempfile::tempdir().expect("temp dir");
        let ca_file = dir.path().join("sim-ca.pem");
        std::fs::write(&ca_file, sim.ca_cert_pem()).expect("CA written");
        Self { sim, dir, ca_file }
    }

    /// `autoenroll` pointed at this tenant as `client_id` with `secret`.
    fn command(&self, client_id: &str, secret: &str, args: &[&str]) -> Command {
        Command::from_std(self.std_command(client_id, secret, args))
    }

    /// The same as a `std::process::Command`, for tests that signal the process.
    fn std_command(&self, client_id: &str, secret: &str, args: &[&str]) -> std::process::Command {
        use assert_cmd::prelude::*;
        let mut cmd = std::process::Command::cargo_bin("autoenroll").expect("binary");
        cmd.current_dir(self.dir.path())
            .env_remove("RUST_LOG")
            .env("AUTOENROLL_CLIENT_SECRET", secret)
            .env("AUTOENROLL_GRAPH_BASE_URL", self.sim.base_url())
            .env("AUTOENROLL_AUTHORITY_HOST", self.sim.authority_host())
            .env("AUTOENROLL_EXTRA_CA_PEM", &self.ca_file)
            .args(args)
            .args([
                "--tenant-id",
                &self.sim.tenant_id(),
                "--client-id",
                client_id,
            ]);
        cmd
    }

    /// Runs the command off the async runtime (the simulator keeps serving meanwhile).
    async fn run(&self, mut cmd: Command) -> std::process::Output {
        tokio::task::spawn_blocking(move || cmd.output().expect("autoenroll runs"))
            .await
            .expect("the blocking task finishes")
    }

    async fn stop(self) {
        self.sim.shutdown().await;
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The report files `plan`/`apply` wrote into `dir` with this prefix.
fn reports(dir: &std::path::Path, prefix: &str, ext: &str) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(prefix) && n.ends_with(ext))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

#[test]
fn plan_on_the_simulated_tenant_writes_csv_and_json_with_masked_numbers_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    autoenroll()
        .current_dir(dir.path())
        .args([
            "plan",
            "--no-progress",
            "--out",
            "reports",
            "--default-region",
            "NL",
        ])
        .args(["--exclude-upn", BREAK_GLASS])
        .assert()
        .success()
        .stdout(predicate::str::contains("would enroll"));
    let out = dir.path().join("reports");
    let csv = reports(&out, "plan-", ".csv");
    let json = reports(&out, "plan-", ".json");
    assert_eq!(
        (csv.len(), json.len()),
        (1, 1),
        "one CSV and one JSON report"
    );
    let csv_text = std::fs::read_to_string(&csv[0]).expect("CSV readable");
    let json_text = std::fs::read_to_string(&json[0]).expect("JSON readable");
    let report: serde_json::Value = serde_json::from_str(&json_text).expect("JSON report");
    let users = report["users"].as_array().expect("users array");
    assert_eq!(users.len(), 21, "every Contoso user has a row");
    let adele = users
        .iter()
        .find(|u| u["userPrincipalName"] == "adele.vance@contoso.com")
        .expect("Adele is in the report");
    assert_eq!(adele["maskedNumber"], "+31 6******78");
    assert_eq!(adele["decision"], "wouldEnroll");
    let glass = users
        .iter()
        .find(|u| u["userPrincipalName"] == BREAK_GLASS)
        .expect("the break-glass account is in the report");
    assert_eq!(glass["decision"], "skipped");
    assert_eq!(glass["reasons"][0], "excluded:upn");
    assert!(csv_text.contains("adele.vance@contoso.com"));
    // No number of the seed appears in clear, raw or normalised.
    let region = "NL".parse().ok();
    for user in graph_sim::Seed::contoso().users {
        let Some(raw) = user.properties.get("mobilePhone").and_then(|v| v.as_str()) else {
            continue;
        };
        let mut forms = vec![raw.to_owned()];
        if let Ok(n) = autoenroll_core::phone::normalize(raw, region) {
            forms.push(n.graph.clone());
            forms.push(n.graph.replace(' ', ""));
        }
        for form in forms
            .iter()
            .filter(|f| f.chars().filter(char::is_ascii_digit).count() >= 6)
        {
            assert!(
                !csv_text.contains(form.as_str()),
                "CSV shows {form} in clear"
            );
            assert!(
                !json_text.contains(form.as_str()),
                "JSON shows {form} in clear"
            );
        }
    }
    // Every number shown is masked: at most five digits left visible.
    for user in users {
        let masked = user["maskedNumber"].as_str().unwrap_or_default();
        let visible = masked.chars().filter(char::is_ascii_digit).count();
        assert!(visible <= 5, "{masked} shows too many digits");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_then_rerun_applies_nothing_and_remembers_registered_phones() {
    let tenant = TestTenant::start().await;
    let args = [
        "apply",
        "--no-progress",
        "--default-region",
        "NL",
        "--exclude-upn",
        BREAK_GLASS,
        "--state-file",
        "memory.json",
    ];
    let first = tenant
        .run(tenant.command(CONTOSO_APP, CONTOSO_SECRET, &args))
        .await;
    assert!(
        first.status.success(),
        "first apply: {}",
        text(&first.stderr)
    );
    let writes_after_first = tenant.sim.control().counters().writes;
    assert!(writes_after_first > 0, "the first apply wrote to Graph");
    assert!(text(&first.stdout).contains("enrolled"));
    let adele = tenant
        .sim
        .control()
        .user("adele.vance@contoso.com")
        .expect("Adele exists");
    assert_eq!(
        adele["authentication"]["phones"]["mobile"]["phoneNumber"],
        "+31 612345678"
    );
    // Entra turns `enabled` into `enforced` for a user who has a method (the simulator too).
    assert_eq!(adele["authentication"]["perUserMfaState"], "enforced");
    let glass = tenant
        .sim
        .control()
        .user(BREAK_GLASS)
        .expect("break-glass exists");
    assert_eq!(glass["authentication"]["perUserMfaState"], "disabled");
    let memory = std::fs::read_to_string(tenant.dir.path().join("memory.json"))
        .expect("the memory file was written");
    assert!(memory.contains("numberHash") && !memory.contains("612345678"));

    let second = tenant
        .run(tenant.command(CONTOSO_APP, CONTOSO_SECRET, &args))
        .await;
    assert!(second.status.success(), "rerun: {}", text(&second.stderr));
    assert_eq!(
        tenant.sim.control().counters().writes,
        writes_after_first,
        "the rerun wrote nothing"
    );
    let stdout = text(&second.stdout);
    assert!(stdout.contains("Graph writes: 0 "), "{stdout}");
    assert!(!stdout.contains("  enrolled "), "{stdout}");
    tenant.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_only_admins_touches_directory_role_members_alone() {
    let tenant = TestTenant::start().await;
    let out = tenant
        .run(tenant.command(
            CONTOSO_APP,
            CONTOSO_SECRET,
            &[
                "apply",
                "--no-progress",
                "--only-admins",
                "--default-region",
                "NL",
            ],
        ))
        .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Graph writes:"), "{stdout}");
    let adele = tenant
        .sim
        .control()
        .user("adele.vance@contoso.com")
        .expect("Adele");
    assert_eq!(
        adele["authentication"]["perUserMfaState"], "disabled",
        "a non-admin is left for the full run"
    );
    let reports = reports(
        &tenant.dir.path().join("autoenroll-reports"),
        "apply-",
        ".json",
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&reports[0]).expect("report")).expect("json");
    let upns: Vec<&str> = report["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["userPrincipalName"].as_str())
        .collect();
    // Global Administrator: break-glass + it.admin; Authentication Administrator: Megan.
    assert_eq!(
        upns,
        [
            BREAK_GLASS,
            "it.admin@contoso.com",
            "megan.bowen@contoso.com"
        ]
    );
    tenant.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_without_the_permissions_stops_and_says_why() {
    let tenant = TestTenant::start().await;
    let out = tenant
        .run(tenant.command(
            PHONE_ONLY_APP,
            PHONE_ONLY_SECRET,
            &["apply", "--no-progress", "--default-region", "NL"],
        ))
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("autoenroll doctor"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        tenant.sim.control().counters().writes,
        0,
        "nothing was written"
    );
    tenant.stop().await;
}

#[test]
fn plan_with_a_bad_policy_value_names_the_key_and_exits_two() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("autoenroll.toml"),
        "mfa_mode = \"always\"\n",
    )
    .expect("policy");
    autoenroll()
        .current_dir(dir.path())
        .args(["plan", "--no-progress"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("autoenroll.toml: mfa_mode:"));
}

#[test]
fn real_tenant_without_a_client_secret_is_a_configuration_error() {
    autoenroll()
        .args([
            "plan",
            "--tenant-id",
            "8f2c6a51-3b7e-4d0a-9c1e-5a4b2d9e7f10",
        ])
        .args(["--client-id", CONTOSO_APP])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("AUTOENROLL_CLIENT_SECRET"));
}

// ------------------------------------------------------------------------------------------
// doctor
// ------------------------------------------------------------------------------------------

#[test]
fn doctor_on_a_well_configured_simulated_tenant_exits_zero() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("autoenroll.toml"),
        format!(
            "default_region = \"NL\"\nexcluded_upns = [\"{BREAK_GLASS}\"]\n\
             excluded_groups = [\"c0a80101-5e1f-4c3a-8d2b-000000000002\"]\n"
        ),
    )
    .expect("policy file");
    let out = autoenroll()
        .current_dir(dir.path())
        .args(["doctor", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let checks: serde_json::Value = serde_json::from_slice(&out).expect("JSON checks");
    let find = |name: &str| {
        checks
            .as_array()
            .expect("array")
            .iter()
            .find(|c| c["check"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} check"))
    };
    assert_eq!(find("token")["status"], "ok");
    assert_eq!(find("missing roles")["status"], "ok");
    assert_eq!(find("excluded UPN")["status"], "ok");
    assert_eq!(find("excluded group")["status"], "ok");
    // The Contoso app holds the phone-only role on top of the broader one: excessive.
    let excessive = find("excessive roles");
    assert_eq!(excessive["status"], "warn");
    assert!(
        excessive["detail"]
            .as_str()
            .is_some_and(|d| d.contains("UserAuthMethod-Phone.ReadWrite.All"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_with_an_app_missing_roles_lists_them_and_exits_one() {
    let tenant = TestTenant::start().await;
    let out = tenant
        .run(tenant.command(
            PHONE_ONLY_APP,
            PHONE_ONLY_SECRET,
            &[
                "doctor",
                "--default-region",
                "NL",
                "--exclude-upn",
                BREAK_GLASS,
            ],
        ))
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let missing = stdout
        .lines()
        .find(|l| l.contains("missing roles"))
        .unwrap_or_default();
    assert!(missing.starts_with("FAIL"), "{stdout}");
    assert!(
        missing.contains("UserAuthenticationMethod.ReadWrite.All"),
        "{missing}"
    );
    assert!(
        missing.contains("Policy.ReadWrite.AuthenticationMethod"),
        "{missing}"
    );
    tenant.stop().await;
}

#[test]
fn doctor_with_a_misspelt_break_glass_upn_fails() {
    autoenroll()
        .args(["doctor", "--default-region", "NL"])
        .args(["--exclude-upn", "breakglass1@contoso.onmicrosoft.com"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "breakglass1@contoso.onmicrosoft.com does not exist",
        ));
}

// ------------------------------------------------------------------------------------------
// local
// ------------------------------------------------------------------------------------------

fn protected_in(user: &serde_json::Value) -> bool {
    let auth = &user["authentication"];
    let has_method = auth["phones"].as_object().is_some_and(|p| !p.is_empty())
        || auth["other"].as_array().is_some_and(|o| !o.is_empty());
    let mfa = auth["perUserMfaState"].as_str().unwrap_or("disabled");
    has_method && mfa != "disabled"
}

#[test]
fn local_json_with_sixty_users_exits_zero_and_its_numbers_match_the_simulator_state() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("final-state.json");
    let out = autoenroll()
        .current_dir(dir.path())
        .args(["local", "--json", "--users", "60", "--state-out"])
        .arg(&state)
        .assert()
        .success()
        .get_output()
        .clone();
    let summary: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is the JSON summary alone");
    let dump: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).expect("state written"))
            .expect("state is JSON");
    let users = dump["users"].as_object().expect("users in the dump");

    assert_eq!(summary["crossCheck"]["agrees"], true, "{summary:#}");
    assert_eq!(summary["users"].as_u64(), Some(users.len() as u64));
    // Everyone the summary calls enrolled or already protected is protected in the dump, and
    // nobody else is.
    let protected = users.values().filter(|u| protected_in(u)).count() as u64;
    let claimed = summary["enrolled"].as_u64().unwrap_or(0)
        + summary["alreadyProtected"].as_u64().unwrap_or(0);
    assert_eq!(protected, claimed, "{summary:#}");
    let skipped: u64 = summary["skippedByReason"]
        .as_object()
        .expect("reasons")
        .values()
        .filter_map(serde_json::Value::as_u64)
        .sum();
    assert_eq!(
        claimed + skipped + summary["failed"].as_u64().unwrap_or(0),
        users.len() as u64
    );
    // Every new hire (the scenario's and the one whose notification was dropped) is protected.
    let hires: Vec<_> = users
        .values()
        .filter(|u| {
            u["properties"]["userPrincipalName"]
                .as_str()
                .is_some_and(|upn| upn.contains(".new"))
        })
        .collect();
    let expected_hires = summary["newHires"]["total"].as_u64().unwrap_or(0)
        + summary["droppedNotifications"]["total"]
            .as_u64()
            .unwrap_or(0);
    assert_eq!(hires.len() as u64, expected_hires);
    assert!(
        hires.iter().all(|u| protected_in(u)),
        "a new hire is unprotected"
    );
    assert_eq!(summary["droppedNotifications"]["byReconcile"], 1);
    // The break-glass accounts were never touched.
    for user in users.values() {
        let upn = user["properties"]["userPrincipalName"]
            .as_str()
            .unwrap_or_default();
        if upn.starts_with("breakglass") {
            assert_eq!(
                user["authentication"]["perUserMfaState"], "disabled",
                "{upn}"
            );
            assert!(
                user["authentication"]["phones"]
                    .as_object()
                    .is_some_and(|p| p.is_empty())
            );
        }
    }
    // Writes: what the outcomes claim is what the simulator counted.
    assert_eq!(
        summary["graphWrites"], summary["crossCheck"]["simulatorWrites"],
        "{summary:#}"
    );
    assert_eq!(
        dump["subscriptions"]["items"].as_object().map(|s| s.len()),
        Some(1)
    );
}

// ------------------------------------------------------------------------------------------
// apply: Ctrl-C
// ------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_interrupted_by_ctrl_c_stops_cleanly_and_a_rerun_does_the_rest_once() {
    let tenant = TestTenant::start().await;
    let control = tenant.sim.control();
    // A slow Graph, so the run is still going when Ctrl-C comes.
    control.set_latency(vec![graph_sim::LatencyRule {
        route: "*".into(),
        min_ms: 150,
        max_ms: None,
    }]);
    let args = [
        "apply",
        "--no-progress",
        "--concurrency",
        "1",
        "--default-region",
        "NL",
        "--exclude-upn",
        BREAK_GLASS,
        "--out",
        "first",
    ];
    let mut cmd = tenant.std_command(CONTOSO_APP, CONTOSO_SECRET, &args);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("apply starts");
    let pid = child.id().to_string();
    // Wait for the first write to land, then press Ctrl-C (SIGINT).
    while control.counters().writes == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().expect("apply ends"))
        .await
        .expect("joined");
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("Run the same command again"),
        "{}",
        text(&out.stderr)
    );
    let first_json = reports(&tenant.dir.path().join("first"), "apply-", ".json");
    let first: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&first_json[0]).expect("report"))
            .expect("json");
    assert_eq!(first["interrupted"], true);
    let handled_first = first["users"].as_array().map_or(0, Vec::len);
    assert!(
        handled_first < 21,
        "stopped before the end ({handled_first} users)"
    );

    control.set_latency(vec![]);
    let mut rerun_args = args.to_vec();
    let last = rerun_args.len() - 1;
    rerun_args[last] = "second";
    let second = tenant
        .run(tenant.command(CONTOSO_APP, CONTOSO_SECRET, &rerun_args))
        .await;
    assert!(second.status.success(), "{}", text(&second.stderr));
    // Every Graph write of both runs is an action one of the reports lists: nobody was
    // written twice, and what the first run did, the second did not repeat.
    let second_json = reports(&tenant.dir.path().join("second"), "apply-", ".json");
    let second: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&second_json[0]).expect("report"))
            .expect("json");
    let actions = |report: &serde_json::Value| -> u64 {
        report["users"]
            .as_array()
            .map(|users| {
                users
                    .iter()
                    .filter_map(|u| u["actions"].as_array())
                    .map(|a| a.len() as u64)
                    .sum()
            })
            .unwrap_or(0)
    };
    assert_eq!(
        control.counters().writes,
        actions(&first) + actions(&second),
        "writes of both runs add up to the actions reported"
    );
    assert_eq!(second["users"].as_array().map_or(0, Vec::len), 21);
    tenant.stop().await;
}
