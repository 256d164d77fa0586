//! Every typed call against the simulator, asserting on the simulated tenant's state.

mod common;

use autoenroll_graph::model::{
    PerUserMfaState, PhoneType, Subscription, TemporaryAccessPassRequest, USER_SELECT,
};
use autoenroll_graph::{DeltaStart, MembershipChange, Secret, UserQuery};
use common::*;
use futures::TryStreamExt;

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[tokio::test]
async fn user_is_read_by_id_and_by_guest_upn_with_only_the_selected_fields() {
    let sim = start().await;
    let graph = graph(&sim);
    let adele = graph.users().get(ADELE, USER_SELECT).await.unwrap();
    assert_eq!(adele.mobile_phone.as_deref(), Some("06-12345678"));
    assert_eq!(adele.account_enabled, Some(true));
    assert_eq!(adele.mail, None, "mail was not selected");
    // `#` in a guest UPN must be percent-encoded or the path ends there.
    let guest = graph
        .users()
        .get(GUEST_UPN, &["id", "userType"])
        .await
        .unwrap();
    assert_eq!(guest.id, GUEST);
    assert_eq!(guest.user_type.as_deref(), Some("Guest"));
    assert_eq!(guest.display_name, None);
    sim.shutdown().await;
}

#[tokio::test]
async fn missing_user_is_a_not_found_error_with_graphs_code_and_request_id() {
    let sim = start().await;
    let graph = graph(&sim);
    let err = graph
        .users()
        .get("00000000-0000-0000-0000-000000000000", USER_SELECT)
        .await
        .unwrap_err();
    assert!(err.is_not_found());
    assert_eq!(err.code.as_deref(), Some("Request_ResourceNotFound"));
    assert!(err.request_id.is_some());
    assert!(!err.is_retryable());
    sim.shutdown().await;
}

#[tokio::test]
async fn users_are_listed_page_by_page_following_next_links() {
    let sim = start().await;
    let graph = graph(&sim);
    let pages: Vec<_> = graph
        .users()
        .list_pages(&UserQuery::select(USER_SELECT).with_top(5))
        .try_collect()
        .await
        .unwrap();
    let users: Vec<_> = pages.iter().flat_map(|p| p.value.iter()).collect();
    let seeded = sim.control().dump()["users"]
        .as_object()
        .map_or(0, |m| m.len());
    assert!(seeded >= 21, "{seeded}");
    assert_eq!(users.len(), seeded);
    assert!(pages.len() >= 5, "{} pages", pages.len());
    assert!(pages.iter().all(|p| p.value.len() <= 5));
    assert!(pages.last().unwrap().next_link.is_none());
    let mut ids: Vec<_> = users.iter().map(|u| u.id.clone()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), seeded, "no user twice");
    let one_by_one: Vec<_> = graph
        .users()
        .list(&UserQuery::select(&["id"]).with_top(7))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(one_by_one.len(), seeded);
    sim.shutdown().await;
}

#[tokio::test]
async fn delta_returns_everyone_first_then_only_what_changed() {
    let sim = start().await;
    let graph = graph(&sim);
    let first: Vec<_> = graph
        .users()
        .delta(&DeltaStart::initial(USER_SELECT))
        .try_collect()
        .await
        .unwrap();
    let everyone: usize = first.iter().map(|p| p.value.len()).sum();
    assert!(everyone >= 21);
    let link = first
        .last()
        .unwrap()
        .delta_link
        .clone()
        .expect("last page has a delta link");

    sim.control()
        .update_user(ADELE, serde_json::json!({"mobilePhone": "+31 6 99999999"}))
        .unwrap();
    let next: Vec<_> = graph
        .users()
        .delta(&DeltaStart::Link(link))
        .try_collect()
        .await
        .unwrap();
    let changed: Vec<_> = next.iter().flat_map(|p| p.value.iter()).collect();
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0].id, ADELE);
    assert!(next.last().unwrap().delta_link.is_some());

    let latest: Vec<_> = graph
        .users()
        .delta(&DeltaStart::latest(USER_SELECT))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(latest.iter().map(|p| p.value.len()).sum::<usize>(), 0);
    assert!(latest.last().unwrap().delta_link.is_some());
    sim.shutdown().await;
}

#[tokio::test]
async fn delta_link_older_than_seven_days_asks_for_a_resync() {
    let sim = start().await;
    let graph = graph(&sim);
    let pages: Vec<_> = graph
        .users()
        .delta(&DeltaStart::latest(USER_SELECT))
        .try_collect()
        .await
        .unwrap();
    let link = pages.last().unwrap().delta_link.clone().unwrap();
    sim.control()
        .advance_clock(std::time::Duration::from_secs(8 * 24 * 3600));
    let err = graph
        .users()
        .delta(&DeltaStart::Link(link))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(err.is_delta_token_expired(), "{err:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn delta_link_to_another_host_is_not_followed() {
    let sim = start().await;
    let graph = graph(&sim);
    let err = graph
        .users()
        .delta(&DeltaStart::Link(
            "https://evil.example/v1.0/users/delta?$deltatoken=x".into(),
        ))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(err.kind, autoenroll_graph::GraphErrorKind::Decode);
    sim.shutdown().await;
}

#[tokio::test]
async fn authentication_methods_list_includes_the_password_and_registered_phones() {
    let sim = start().await;
    let graph = graph(&sim);
    let methods = graph.auth_methods(IT_ADMIN).list().await.unwrap();
    let types: Vec<_> = methods.iter().map(|m| m.odata_type.as_str()).collect();
    assert!(
        types.contains(&"#microsoft.graph.passwordAuthenticationMethod"),
        "{types:?}"
    );
    assert!(
        types.contains(&"#microsoft.graph.phoneAuthenticationMethod"),
        "{types:?}"
    );
    assert!(methods.iter().any(|m| m.is_strong()));
    sim.shutdown().await;
}

#[tokio::test]
async fn phone_method_is_added_read_updated_and_deleted() {
    let sim = start().await;
    let graph = graph(&sim);
    let phones = graph.phone_methods(LEE);
    assert_eq!(phones.get(PhoneType::Mobile).await.unwrap(), None);

    let added = phones
        .add("+1 9135550101", PhoneType::Mobile)
        .await
        .unwrap();
    assert_eq!(added.id.as_deref(), PhoneType::Mobile.method_id());
    assert_eq!(
        sim_user(&sim, LEE)["authentication"]["phones"]["mobile"]["phoneNumber"],
        "+1 9135550101"
    );
    assert_eq!(phones.list().await.unwrap().len(), 1);

    phones
        .update(PhoneType::Mobile, "+1 9135550102")
        .await
        .unwrap();
    let read = phones.get(PhoneType::Mobile).await.unwrap().unwrap();
    assert_eq!(read.phone_number, "+1 9135550102");

    let again = phones
        .add("+1 9135550103", PhoneType::Mobile)
        .await
        .unwrap_err();
    assert!(again.is_already_exists(), "{again:?}");
    let invalid = phones
        .add("0612345678", PhoneType::Office)
        .await
        .unwrap_err();
    assert!(invalid.is_invalid_request(), "{invalid:?}");
    assert!(
        !invalid.message.contains("0612345678"),
        "{}",
        invalid.message
    );

    phones.delete(PhoneType::Mobile).await.unwrap();
    assert_eq!(phones.get(PhoneType::Mobile).await.unwrap(), None);
    assert!(
        sim_user(&sim, LEE)["authentication"]["phones"]
            .get("mobile")
            .is_none()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn sms_becomes_the_preferred_second_factor() {
    let sim = start().await;
    let graph = graph(&sim);
    graph
        .phone_methods(NEW_HIRE)
        .add("+31 633333333", PhoneType::Mobile)
        .await
        .unwrap();
    graph
        .sign_in_preferences(NEW_HIRE)
        .set_sms_default()
        .await
        .unwrap();
    let prefs = graph.sign_in_preferences(NEW_HIRE).get().await.unwrap();
    assert_eq!(
        prefs
            .user_preferred_method_for_secondary_authentication
            .as_deref(),
        Some("sms")
    );
    assert_eq!(
        sim_user(&sim, NEW_HIRE)["authentication"]["preferredSecondaryMethod"],
        "sms"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn per_user_mfa_state_is_read_and_set_in_beta() {
    let sim = start().await;
    let graph = graph(&sim);
    let before = graph.mfa_requirements(NEW_HIRE).get().await.unwrap();
    assert_eq!(before.per_user_mfa_state, PerUserMfaState::Disabled);
    graph
        .mfa_requirements(NEW_HIRE)
        .set(PerUserMfaState::Enabled)
        .await
        .unwrap();
    let after = graph.mfa_requirements(NEW_HIRE).get().await.unwrap();
    assert_ne!(after.per_user_mfa_state, PerUserMfaState::Disabled);
    assert_eq!(
        sim_user(&sim, NEW_HIRE)["authentication"]["perUserMfaState"],
        serde_json::to_value(after.per_user_mfa_state).unwrap()
    );
    let counters = sim.control().counters();
    assert_eq!(
        counters.calls("PATCH /users/{user}/authentication/requirements"),
        1
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn adding_a_group_member_twice_is_idempotent() {
    let sim = start().await;
    let graph = graph(&sim);
    assert!(!graph.groups(CA_GROUP).has_member(NEW_HIRE).await.unwrap());
    assert_eq!(
        graph.groups(CA_GROUP).add_member(NEW_HIRE).await.unwrap(),
        MembershipChange::Added
    );
    assert_eq!(
        graph.groups(CA_GROUP).add_member(NEW_HIRE).await.unwrap(),
        MembershipChange::AlreadyMember
    );
    assert!(graph.groups(CA_GROUP).has_member(NEW_HIRE).await.unwrap());
    sim.shutdown().await;
}

#[tokio::test]
async fn check_member_groups_answers_which_groups_hold_the_user() {
    let sim = start().await;
    let graph = graph(&sim);
    let ids = vec![CA_GROUP.to_string(), BREAKGLASS_GROUP.to_string()];
    let of = graph
        .users()
        .check_member_groups(BREAKGLASS, &ids)
        .await
        .unwrap();
    assert_eq!(of, vec![BREAKGLASS_GROUP.to_string()]);
    // More than 20 ids go in several calls.
    let many: Vec<String> = (0..25)
        .map(|i| format!("00000000-0000-0000-0000-{i:012}"))
        .chain([CA_GROUP.to_string()])
        .collect();
    let of = graph
        .users()
        .check_member_groups(IT_ADMIN, &many)
        .await
        .unwrap();
    assert_eq!(of, vec![CA_GROUP.to_string()]);
    assert_eq!(
        sim.control()
            .counters()
            .calls("POST /users/{user}/checkMemberGroups"),
        3
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn directory_role_members_are_listed_by_role_id() {
    let sim = start().await;
    let graph = graph(&sim);
    let roles = graph.directory_roles().list().await.unwrap();
    assert!(roles.iter().any(|r| r.id == GLOBAL_ADMIN_ROLE));
    let members = graph
        .directory_roles()
        .members(GLOBAL_ADMIN_ROLE)
        .await
        .unwrap();
    let mut ids: Vec<_> = members.iter().map(|m| m.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, vec![BREAKGLASS, IT_ADMIN]);
    sim.shutdown().await;
}

/// Needs the simulator to route `directoryRoles(roleTemplateId='…')` (Graph's alternate key,
/// https://learn.microsoft.com/graph/api/directoryrole-list-members).
#[tokio::test]
async fn directory_role_members_are_listed_by_role_template_id() {
    let sim = start().await;
    let graph = graph(&sim);
    let by_template = graph
        .directory_roles()
        .members_by_template(GLOBAL_ADMIN_TEMPLATE)
        .await
        .unwrap();
    let mut ids: Vec<_> = by_template.iter().map(|m| m.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, vec![BREAKGLASS, IT_ADMIN]);
    sim.shutdown().await;
}

#[tokio::test]
async fn subscription_is_created_listed_renewed_reauthorized_and_deleted() {
    let sim = start().await;
    let webhook = Webhook::start().await;
    let graph = graph(&sim);
    let now = sim.control().now();
    let created = graph
        .subscriptions()
        .create(&Subscription {
            resource: Some("/users".into()),
            change_type: Some("updated,deleted".into()),
            notification_url: Some(format!("{}/notify", webhook.url)),
            lifecycle_notification_url: Some(format!("{}/lifecycle", webhook.url)),
            expiration_date_time: Some(rfc3339(now + time::Duration::days(2))),
            client_state: Some(Secret::new("state-0123456789")),
            ..Subscription::default()
        })
        .await
        .unwrap();
    let id = created.id.clone().expect("subscription id");
    assert!(!format!("{created:?}").contains("state-0123456789"));

    let listed = graph.subscriptions().list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        graph
            .subscriptions()
            .get(&id)
            .await
            .unwrap()
            .resource
            .as_deref(),
        Some("/users")
    );

    let later = rfc3339(now + time::Duration::days(20));
    let renewed = graph.subscriptions().renew(&id, &later).await.unwrap();
    let renewed_at = time::OffsetDateTime::parse(
        renewed.expiration_date_time.as_deref().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(renewed_at > now + time::Duration::days(19));

    graph.subscriptions().reauthorize(&id).await.unwrap();
    assert_eq!(
        sim.control()
            .counters()
            .calls("POST /subscriptions/{id}/reauthorize"),
        1
    );

    graph.subscriptions().delete(&id).await.unwrap();
    assert!(graph.subscriptions().list().await.unwrap().is_empty());
    assert!(
        graph
            .subscriptions()
            .get(&id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    webhook.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn subscription_for_created_users_is_an_invalid_request() {
    let sim = start().await;
    let webhook = Webhook::start().await;
    let graph = graph(&sim);
    let err = graph
        .subscriptions()
        .create(&Subscription {
            resource: Some("/users".into()),
            change_type: Some("created".into()),
            notification_url: Some(format!("{}/notify", webhook.url)),
            expiration_date_time: Some(rfc3339(sim.control().now() + time::Duration::days(1))),
            client_state: Some(Secret::new("s")),
            ..Subscription::default()
        })
        .await
        .unwrap_err();
    assert!(err.is_invalid_request(), "{err:?}");
    webhook.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn temporary_access_pass_is_returned_once_and_never_printed() {
    let sim = start().await;
    let graph = graph(&sim);
    let tap = graph
        .tap(BREAKGLASS)
        .create(&TemporaryAccessPassRequest {
            lifetime_in_minutes: Some(60),
            is_usable_once: Some(true),
            ..TemporaryAccessPassRequest::default()
        })
        .await
        .unwrap();
    let pass = tap.temporary_access_pass.clone().expect("pass on creation");
    assert!(!pass.expose().is_empty());
    assert!(!format!("{tap:?}").contains(pass.expose()));
    assert_eq!(tap.lifetime_in_minutes, Some(60));
    assert!(sim_user(&sim, BREAKGLASS)["authentication"]["tap"].is_object());
    sim.shutdown().await;
}
