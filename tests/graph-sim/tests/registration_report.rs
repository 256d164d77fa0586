//! `GET /v1.0/reports/authenticationMethods/userRegistrationDetails[/{id}]` (PASSKEY-ERA.md §6):
//! rows computed from the simulated tenant, paging, filters, permission, licence.

mod common;

use common::*;
use graph_sim::{Licence, Seed, SimOptions};
use serde_json::{Value, json};

const READINESS: &str = "3b9d6f2e-1c4a-4e7b-8d05-6a2f9c1e7b44";
const READINESS_SECRET: &str = "sim-secret-readiness-Vb6~q2N";
const FORMER: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b18";
const GUEST: &str = "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b17";
const REPORT: &str = "/v1.0/reports/authenticationMethods/userRegistrationDetails";

async fn reader(sim: &graph_sim::Sim) -> Graph {
    Graph::for_app(sim, READINESS, READINESS_SECRET).await
}

/// Every row, following `@odata.nextLink`; also returns the number of pages.
async fn all_rows(graph: &Graph, first: &str) -> (Vec<Value>, usize) {
    let mut rows = Vec::new();
    let mut pages = 0;
    let mut next = Some(first.to_string());
    while let Some(url) = next {
        let (status, body) = graph.get(&url).await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        rows.extend(body["value"].as_array().unwrap().iter().cloned());
        next = body["@odata.nextLink"].as_str().map(str::to_string);
    }
    (rows, pages)
}

fn ids(rows: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = rows
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn every_enabled_user_is_listed_once_across_pages() {
    let sim = start().await;
    let graph = reader(&sim).await;
    let (rows, pages) = all_rows(&graph, &format!("{REPORT}?$top=5")).await;
    let dump = sim.control().dump();
    let enabled: Vec<&String> = dump["users"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, u)| u["properties"]["accountEnabled"] != json!(false))
        .map(|(id, _)| id)
        .collect();
    assert_eq!(rows.len(), enabled.len());
    assert!(pages >= 4, "{pages} pages");
    let listed = ids(&rows);
    let mut unique = listed.clone();
    unique.dedup();
    assert_eq!(unique.len(), listed.len(), "no row twice");
    assert!(
        !listed.contains(&FORMER.to_string()),
        "disabled user listed"
    );
    let (status, body) = graph.get(&format!("{REPORT}/{FORMER}")).await;
    assert_eq!(status, 404, "{body}");
    sim.shutdown().await;
}

#[tokio::test]
async fn rows_follow_the_users_methods_roles_and_type() {
    let sim = start().await;
    let graph = reader(&sim).await;
    let (status, megan) = graph.get(&format!("{REPORT}/{MEGAN}")).await;
    assert_eq!(status, 200, "{megan}");
    assert_eq!(megan["userPrincipalName"], "megan.bowen@contoso.com");
    assert_eq!(megan["userType"], "member");
    assert_eq!(megan["isAdmin"], true, "Authentication Administrator");
    assert_eq!(megan["isMfaRegistered"], true);
    assert!(
        megan["methodsRegistered"]
            .as_array()
            .unwrap()
            .contains(&json!("mobilePhone")),
        "{megan}"
    );
    assert!(megan["lastUpdatedDateTime"].is_string());

    let (_, guest) = graph.get(&format!("{REPORT}/{GUEST}")).await;
    assert_eq!(guest["userType"], "guest");

    let (_, adele) = graph.get(&format!("{REPORT}/{ADELE}")).await;
    assert_eq!(adele["isAdmin"], false);
    assert_eq!(adele["isMfaRegistered"], false, "{adele}");
    assert_eq!(adele["methodsRegistered"], json!([]));
    // The report is computed from the tenant as it is now.
    sim.control()
        .register_method(ADELE, json!({"kind": "microsoftAuthenticator"}))
        .unwrap();
    let (_, adele) = graph.get(&format!("{REPORT}/{ADELE}")).await;
    assert_eq!(adele["isMfaRegistered"], true);
    assert_eq!(
        adele["methodsRegistered"],
        json!(["microsoftAuthenticatorPush"])
    );
    assert_eq!(
        adele["systemPreferredAuthenticationMethods"],
        json!(["push"])
    );
    sim.shutdown().await;
}

/// A phone counts for `isMfaCapable` only while SMS or voice reaches the user; `isMfaRegistered`
/// stays true after the retirement.
#[tokio::test]
async fn phone_capability_follows_telephony_across_the_retirement() {
    let sim = start().await;
    let graph = reader(&sim).await;
    let phone_only = |row: &Value| {
        let m = row["methodsRegistered"].as_array().unwrap();
        !m.is_empty()
            && m.iter().all(|x| {
                [
                    "mobilePhone",
                    "alternateMobilePhone",
                    "officePhone",
                    "email",
                ]
                .contains(&x.as_str().unwrap())
            })
    };
    let check = |rows: &[Value]| {
        let mut checked = 0;
        for row in rows.iter().filter(|r| phone_only(r)) {
            let id = row["id"].as_str().unwrap();
            let t = sim.control().telephony(id).unwrap();
            let methods = row["methodsRegistered"].as_array().unwrap();
            // SMS reaches a mobile phone only; voice reaches every phone type.
            let by_sms = methods.contains(&json!("mobilePhone")) && t.sms.delivered;
            let has_phone = methods.iter().any(|m| m != "email");
            assert_eq!(row["isMfaRegistered"], json!(has_phone), "{row}");
            assert_eq!(
                row["isMfaCapable"],
                json!(has_phone && (by_sms || t.voice.delivered)),
                "{row} {t:?}"
            );
            checked += 1;
        }
        checked
    };
    let (before, _) = all_rows(&graph, REPORT).await;
    assert!(check(&before) >= 1, "the seed has phone-only users");
    sim.control()
        .advance_clock_to(time::macros::datetime!(2027-07-02 00:00 UTC));
    let (after, _) = all_rows(&graph, REPORT).await;
    check(&after);
    sim.shutdown().await;
}

#[tokio::test]
async fn documented_filters_select_rows_and_others_are_400() {
    let sim = start().await;
    let graph = reader(&sim).await;
    let (admins, _) = all_rows(&graph, &format!("{REPORT}?$filter=isAdmin eq true")).await;
    let mut expected = vec![
        MEGAN.to_string(),
        BREAKGLASS.to_string(),
        IT_ADMIN.to_string(),
    ];
    expected.sort();
    assert_eq!(ids(&admins), expected);

    let (guests, _) = all_rows(&graph, &format!("{REPORT}?$filter=userType eq 'guest'")).await;
    assert_eq!(ids(&guests), vec![GUEST.to_string()]);

    // The filter survives paging.
    let (registered, pages) = all_rows(
        &graph,
        &format!("{REPORT}?$filter=isMfaRegistered eq true and userType eq 'member'&$top=2"),
    )
    .await;
    assert!(pages >= 2);
    assert!(registered.iter().all(|r| r["isMfaRegistered"] == true));
    let (phones, _) = all_rows(
        &graph,
        &format!("{REPORT}?$filter=methodsRegistered/any(m: m eq 'mobilePhone')"),
    )
    .await;
    assert!(phones.iter().any(|r| r["id"] == MEGAN));

    let (_, ordered) = graph
        .get(&format!("{REPORT}?$orderby=userPrincipalName desc"))
        .await;
    let upns: Vec<&str> = ordered["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userPrincipalName"].as_str().unwrap())
        .collect();
    let mut sorted = upns.clone();
    sorted.sort_by_key(|u| std::cmp::Reverse(u.to_lowercase()));
    assert_eq!(upns, sorted);

    for bad in [
        "$filter=isAdmin eq true or isMfaCapable eq true",
        "$filter=lastUpdatedDateTime gt 2026-01-01T00:00:00Z",
        "$filter=isAdmin eq 1",
        "$select=id",
        "$orderby=isAdmin",
    ] {
        let (status, body) = graph.get(&format!("{REPORT}?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn needs_audit_log_read_all() {
    let sim = start().await;
    let graph = Graph::new(&sim).await;
    let (status, body) = graph.get(REPORT).await;
    assert_eq!(status, 403);
    assert_eq!(error_code(&body), "Authorization_RequestDenied");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_tenant_without_p1_gets_the_premium_403() {
    let mut seed = Seed::contoso();
    seed.tenant.licence = Licence::Free;
    seed.conditional_access_policies.clear();
    let sim = start_with(SimOptions {
        seed,
        ..Default::default()
    })
    .await;
    let graph = reader(&sim).await;
    for path in [REPORT.to_string(), format!("{REPORT}/{MEGAN}")] {
        let (status, body) = graph.get(&path).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(
            error_code(&body),
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
        );
        assert_eq!(
            body["error"]["message"],
            "Neither tenant is B2C or tenant doesn't have premium license"
        );
    }
    sim.shutdown().await;
}

#[test]
fn the_licence_defaults_to_free_and_is_one_of_free_p1_p2() {
    let seed: Seed = Seed::from_json(r#"{"tenant": {"id": "t"}}"#).unwrap();
    assert_eq!(seed.tenant.licence, Licence::Free);
    let seed = Seed::from_json(r#"{"tenant": {"id": "t", "licence": "P2"}}"#).unwrap();
    assert_eq!(seed.tenant.licence, Licence::P2);
    assert!(Seed::from_json(r#"{"tenant": {"id": "t", "licence": "E5"}}"#).is_err());
}
