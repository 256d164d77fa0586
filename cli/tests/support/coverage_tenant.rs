//! A small simulated tenant with one user per coverage state and stuck reason, and a helper
//! that runs `autoenroll report`'s engine on it. Shared by report.rs and report_browser.rs.

use std::path::Path;

use autoenroll_cli::backfill::StopFlag;
use autoenroll_cli::coverage::{self, Readiness, ReportOptions, ReportRun};
use autoenroll_cli::tenant::{Connected, start_simulated};
use autoenroll_core::policy::Policy;
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
    Seed::from_json(&seed.to_string()).expect("test seed parses")
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
    }
}

/// Runs the report on `connected` with the doctor's checks, as the command does.
pub async fn report(connected: &Connected, out: &Path, date: &str, html_rows: usize) -> ReportRun {
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
    coverage::run(
        &connected.graph,
        &policy,
        &options,
        &readiness,
        &StopFlag::default(),
    )
    .await
    .expect("report runs")
}
