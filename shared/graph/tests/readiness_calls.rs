//! Typed calls for the passkey-era readiness reads and the batched group add, against the
//! simulator: the registration report (streamed pages, filters, licence), Conditional Access,
//! authentication strengths, `add_members`.

mod common;

use autoenroll_graph::model::{
    ConditionalAccessPolicyState, RegistrationUserType, built_in_strengths,
};
use autoenroll_graph::{AddMembersError, GraphClient, RegistrationFilter};
use common::*;
use futures::TryStreamExt;
use graph_sim::{Licence, Seed, SimOptions};

const READINESS: &str = "3b9d6f2e-1c4a-4e7b-8d05-6a2f9c1e7b44";
const READINESS_SECRET: &str = "sim-secret-readiness-Vb6~q2N";
const PILOT_GROUP: &str = "c0a80101-5e1f-4c3a-8d2b-000000000003";

fn readiness(sim: &graph_sim::Sim) -> GraphClient {
    GraphClient::new(secret_config(sim, READINESS, READINESS_SECRET)).unwrap()
}

fn members(sim: &graph_sim::Sim, group: &str) -> Vec<String> {
    sim.control().dump()["groups"][group]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn registration_report_streams_every_page_and_filters() {
    let sim = start().await;
    let graph = readiness(&sim);
    let pages: Vec<_> = graph
        .reports()
        .user_registration_details(&[], Some(4))
        .try_collect()
        .await
        .unwrap();
    assert!(pages.len() >= 5, "{} pages", pages.len());
    let rows: Vec<_> = pages.iter().flat_map(|p| p.value.iter()).collect();
    assert!(rows.iter().any(|r| r.id == MEGAN && r.is_admin));
    assert!(
        rows.iter()
            .any(|r| r.user_type == RegistrationUserType::Guest)
    );

    let admins: Vec<_> = autoenroll_graph::items(
        graph
            .reports()
            .user_registration_details(&[RegistrationFilter::IsAdmin(true)], None),
    )
    .try_collect()
    .await
    .unwrap();
    let mut ids: Vec<_> = admins.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    let mut expected = vec![MEGAN, BREAKGLASS, IT_ADMIN];
    expected.sort_unstable();
    assert_eq!(ids, expected);

    let phones: Vec<_> = autoenroll_graph::items(graph.reports().user_registration_details(
        &[
            RegistrationFilter::UserType(RegistrationUserType::Member),
            RegistrationFilter::MethodRegistered("mobilePhone".into()),
        ],
        None,
    ))
    .try_collect()
    .await
    .unwrap();
    assert!(!phones.is_empty());
    assert!(
        phones
            .iter()
            .all(|r| r.methods_registered.iter().any(|m| m == "mobilePhone"))
    );

    let megan = graph
        .reports()
        .user_registration_detail(MEGAN)
        .await
        .unwrap();
    assert!(megan.is_mfa_registered);
    sim.shutdown().await;
}

#[tokio::test]
async fn registration_report_without_premium_is_a_typed_403() {
    let mut seed = Seed::contoso();
    seed.tenant.licence = Licence::Free;
    seed.conditional_access_policies.clear();
    let sim = start_with(SimOptions {
        seed,
        ..Default::default()
    })
    .await;
    let graph = readiness(&sim);
    let err = graph
        .reports()
        .user_registration_detail(MEGAN)
        .await
        .unwrap_err();
    assert!(err.is_premium_licence_required(), "{err}");
    // A missing permission is a different 403.
    let err = graph_for(&sim)
        .reports()
        .user_registration_detail(MEGAN)
        .await
        .unwrap_err();
    assert!(err.is_forbidden() && !err.is_premium_licence_required());
    sim.shutdown().await;
}

fn graph_for(sim: &graph_sim::Sim) -> GraphClient {
    graph(sim)
}

#[tokio::test]
async fn conditional_access_and_strengths_tell_whether_a_tap_can_register() {
    let sim = start().await;
    let graph = readiness(&sim);
    let policies = graph.conditional_access().policies().await.unwrap();
    let registration: Vec<_> = policies
        .iter()
        .filter(|p| p.targets_security_info_registration())
        .collect();
    assert_eq!(registration.len(), 1);
    let p = registration[0];
    assert_eq!(p.state, ConditionalAccessPolicyState::Enabled);
    let strength = p
        .grant_controls
        .as_ref()
        .and_then(|g| g.authentication_strength.as_ref())
        .expect("expanded strength");
    assert_eq!(strength.id, built_in_strengths::MULTIFACTOR);
    assert!(strength.allows_temporary_access_pass());
    assert_eq!(graph.conditional_access().policy(&p.id).await.unwrap(), *p);

    let strengths = graph.authentication_strengths().list().await.unwrap();
    assert_eq!(strengths.len(), 3);
    let phishing = graph
        .authentication_strengths()
        .get(built_in_strengths::PHISHING_RESISTANT)
        .await
        .unwrap();
    assert!(!phishing.allows_temporary_access_pass());
    let err = graph
        .authentication_strengths()
        .get("00000000-0000-0000-0000-0000000000ff")
        .await
        .unwrap_err();
    assert!(err.is_not_found());
    sim.shutdown().await;
}

#[tokio::test]
async fn add_members_adds_all_or_tells_why_it_added_none() {
    let sim = start().await;
    let graph = graph(&sim);
    let group = graph.groups(PILOT_GROUP);
    let before = members(&sim, PILOT_GROUP);
    assert!(before.contains(&ADELE.to_string()));

    let err = group.add_members(&[MEGAN, ADELE]).await.unwrap_err();
    assert!(matches!(err, AddMembersError::AlreadyMember(_)), "{err:?}");
    let err = group
        .add_members(&[MEGAN, "00000000-0000-0000-0000-00000000beef"])
        .await
        .unwrap_err();
    assert!(matches!(err, AddMembersError::NotFound(_)), "{err:?}");
    assert_eq!(members(&sim, PILOT_GROUP), before, "nothing added");

    let many: Vec<String> = (0..21).map(|i| format!("id-{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert!(matches!(
        group.add_members(&many).await,
        Err(AddMembersError::TooMany(21))
    ));
    assert!(matches!(
        group.add_members(&[MEGAN, MEGAN]).await,
        Err(AddMembersError::Duplicate(_))
    ));

    sim.control().reset_counters();
    group.add_members(&[MEGAN, LEE]).await.unwrap();
    let after = members(&sim, PILOT_GROUP);
    assert!(after.contains(&MEGAN.to_string()) && after.contains(&LEE.to_string()));
    assert_eq!(sim.control().counters().writes, 1);
    group.add_members(&[]).await.unwrap();
    assert_eq!(
        sim.control().counters().calls("*"),
        1,
        "empty list sends nothing"
    );
    sim.shutdown().await;
}
