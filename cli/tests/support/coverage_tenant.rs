//! A small simulated tenant with one user per coverage state and stuck reason, and a helper
//! that runs `autoenroll report`'s engine on it. Shared by report.rs and report_browser.rs.

// Each test file that includes this module uses part of it.
#![allow(dead_code)]

use std::path::Path;

use autoenroll_cli::backfill::StopFlag;
use autoenroll_cli::coverage::{self, Readiness, ReportOptions, ReportRun};
use autoenroll_cli::tenant::{Connected, start_simulated};
use autoenroll_core::policy::Policy;
use autoenroll_graph::model::TemporaryAccessPassRequest;
use graph_sim::{Seed, SimOptions};
use serde_json::json;

pub const DOMAIN: &str = "contoso.test";
pub const EVIL_NAME: &str = "<script>alert(1)</script><img src=x onerror=alert(2)>";
pub const GLOBAL_ADMIN: &str = "62e90394-69f5-4237-9190-012177145e10";
pub const HELPDESK_ADMIN: &str = "729827e3-9c14-49f7-bb1b-9608f156bbb8";

pub fn upn(local: &str) -> String {
    format!("{local}@{DOMAIN}")
}

/// `roles`: the app's granted application permissions.
pub fn seed(roles: &[&str]) -> Seed {
    Seed::from_json(&seed_json(roles).to_string()).expect("test seed parses")
}

/// The seed as JSON, for tests that add to it.
pub fn seed_json(roles: &[&str]) -> serde_json::Value {
    let phone = |n: &str| json!({"phoneMethods": [{"phoneType": "mobile", "phoneNumber": n}]});
    let user = |local: &str, name: &str, extra: serde_json::Value| {
        let mut u =
            json!({"userPrincipalName": upn(local), "displayName": name, "accountEnabled": true});
        if let (Some(u), Some(extra)) = (u.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                u.insert(k.clone(), v.clone());
            }
        }
        u
    };
    let users = vec![
        user(
            "passkey.user",
            "Pat Passkey",
            json!({"mobilePhone": "06 11111111",
            "authentication": {"otherMethods": [{"kind": "fido2", "passkey": "synced"}],
                "phoneMethods": [{"phoneType": "mobile", "phoneNumber": "+31 611111111"}]}}),
        ),
        user(
            "hello.user",
            "Hal Hello",
            json!({"authentication": {"otherMethods": ["windowsHelloForBusiness"]}}),
        ),
        user(
            "app.user",
            "Ann Authenticator",
            json!({"authentication": {"otherMethods": ["microsoftAuthenticator"]}}),
        ),
        user(
            "sms.only",
            "Sam Sms",
            json!({"mobilePhone": "06 22222222", "authentication": phone("+31 622222222")}),
        ),
        user(
            "ga.sms",
            "Gina Global",
            json!({"mobilePhone": "06 33333333", "authentication": phone("+31 633333333")}),
        ),
        user(
            "helpdesk.admin",
            "Hank Helpdesk",
            json!({"mobilePhone": "06 44444444"}),
        ),
        user("no.number", "Nora Nonumber", json!({})),
        user(
            "landline",
            "Lars Landline",
            json!({"mobilePhone": "020 555 0101"}),
        ),
        user(
            "placeholder",
            "Paula Placeholder",
            json!({"mobilePhone": "n/a"}),
        ),
        json!({"userPrincipalName": format!("guest_fabrikam.com#EXT#@{DOMAIN}"), "displayName": "Gus Guest",
            "userType": "Guest", "accountEnabled": true}),
        user(
            "disabled",
            "Dora Disabled",
            json!({"accountEnabled": false, "mobilePhone": "06 55555555"}),
        ),
        user("breakglass", "Break Glass", json!({})),
        user(
            "evil",
            EVIL_NAME,
            json!({"mobilePhone": "06 66666666", "authentication": phone("+31 666666666")}),
        ),
    ];
    let seed = json!({
        "tenant": {"id": "3c1f0a52-7d2e-4b8a-9f10-2a3b4c5d6e7f", "displayName": "Coverage Test",
            "defaultDomain": DOMAIN},
        "apps": [{"clientId": "11111111-2222-4333-8444-555555555555", "displayName": "autoenroll",
            "secrets": ["sim-secret-coverage"], "roles": roles}],
        "users": users,
        "directoryRoles": [
            {"displayName": "Global Administrator", "roleTemplateId": GLOBAL_ADMIN, "members": [upn("ga.sms"), upn("passkey.user")]},
            {"displayName": "Helpdesk Administrator", "roleTemplateId": HELPDESK_ADMIN, "members": [upn("helpdesk.admin")]},
        ],
    });
    seed
}

pub const READER_ROLES: &[&str] = &[
    "User.Read.All",
    "UserAuthenticationMethod.Read.All",
    "RoleManagement.Read.Directory",
];

pub fn policy() -> Policy {
    Policy::from_toml_str(&format!(
        "default_region = \"NL\"\nexcluded_upns = [\"{}\"]\n",
        upn("breakglass")
    ))
    .expect("test policy")
}

pub async fn connect(roles: &[&str]) -> Connected {
    start_simulated(seed(roles), "coverage test seed", 4, SimOptions::default())
        .await
        .expect("simulator starts")
}

pub fn options(out: &Path, date: &str, html_rows: usize, tenant: &str) -> ReportOptions {
    ReportOptions {
        out: out.to_path_buf(),
        concurrency: 4,
        progress: false,
        today: time::Date::parse(date, &time::format_description::well_known::Iso8601::DATE)
            .expect("date"),
        html_rows,
        tenant: tenant.to_owned(),
        policy_line: "test policy".into(),
        source: Default::default(),
    }
}

/// The coverage tenant plus two users holding a Temporary Access Pass (one live, one expired),
/// with `licence` and the app's `roles`.
pub async fn connect_with_taps(licence: &str, roles: &[&str]) -> Connected {
    let mut seed = seed_json(roles);
    seed["tenant"]["licence"] = json!(licence);
    seed["authenticationMethodsPolicy"] = json!({
        "policyMigrationState": "migrationComplete",
        "authenticationMethodConfigurations": [
            {"id": "Sms", "state": "enabled",
             "includeTargets": [{"id": "all_users", "targetType": "group"}]},
            {"id": "TemporaryAccessPass", "state": "enabled", "defaultLifetimeInMinutes": 60,
             "minimumLifetimeInMinutes": 60, "maximumLifetimeInMinutes": 480,
             "isUsableOnce": false,
             "includeTargets": [{"id": "all_users", "targetType": "group"}]}
        ]
    });
    let users = seed["users"].as_array_mut().expect("users");
    for (local, name) in [("tap.live", "Tina Tap"), ("tap.expired", "Tom Tap")] {
        users.push(json!({"userPrincipalName": upn(local), "displayName": name,
            "accountEnabled": true}));
    }
    let seed = Seed::from_json(&seed.to_string()).expect("seed parses");
    let connected = start_simulated(seed, "source test seed", 4, SimOptions::default())
        .await
        .expect("simulator starts");
    let sim = connected.simulator().expect("simulated");
    for (local, minutes) in [("tap.expired", 60), ("tap.live", 480)] {
        let id = sim.control().user(&upn(local)).expect("user")["properties"]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        connected
            .graph
            .tap(&id)
            .create(&TemporaryAccessPassRequest {
                lifetime_in_minutes: Some(minutes),
                ..Default::default()
            })
            .await
            .expect("TAP created");
    }
    // The 60-minute pass runs out; the 480-minute one is still usable.
    sim.control()
        .advance_clock(std::time::Duration::from_secs(90 * 60));
    sim.control().reset_counters();
    connected
}

/// Runs the report on `connected` with the doctor's checks, as the command does.
pub async fn report(connected: &Connected, out: &Path, date: &str, html_rows: usize) -> ReportRun {
    report_with(connected, out, date, html_rows, None).await
}

/// [`report`] with autoenroll's own records (`--table`).
pub async fn report_with(
    connected: &Connected,
    out: &Path,
    date: &str,
    html_rows: usize,
    own: Option<&dyn coverage::own::OwnRecords>,
) -> ReportRun {
    let policy = policy();
    let telephony = autoenroll_cli::readiness::read_policy(&connected.graph)
        .await
        .ok()
        .map(|p| autoenroll_cli::readiness::telephony_view(&p));
    let readiness = Readiness {
        checks: autoenroll_cli::doctor::run(&connected.graph, &policy, None).await,
        telephony,
    };
    let options = options(out, date, html_rows, &connected.description);
    coverage::run_with(
        &connected.graph,
        &policy,
        &options,
        &readiness,
        own,
        &StopFlag::default(),
    )
    .await
    .expect("report runs")
}
