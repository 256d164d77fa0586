use super::*;
use serde_json::{Value, json};

const USER: &str = "6e7b768e-07e2-4810-8459-485f84f8f204";
const TENANT: &str = "84bd8158-6d4d-4958-8b9f-9d6445542f95";
const SUB: &str = "0e3f2a33-3c1f-4a8c-9a4b-1f5a7d2c9b10";
const SECRET: &str = "s3cr3t-client-state-value";

/// ../shared/graph-spec/examples-change-notification-users-derived.json with its placeholders
/// filled in.
fn users_example() -> Value {
    json!({
      "value": [{
        "changeType": "updated",
        "clientState": SECRET,
        "resource": format!("Users/{USER}"),
        "resourceData": {
          "@odata.type": "#Microsoft.Graph.User",
          "@odata.id": format!("Users/{USER}"),
          "id": USER,
          "organizationId": TENANT,
          "eventTime": "2022-05-24T22:24:31.3062901Z",
          "sequenceNumber": "638000000000000000"
        },
        "subscriptionExpirationDateTime": "2022-05-24T23:21:19.3554403+00:00",
        "subscriptionId": SUB,
        "tenantId": TENANT
      }]
    })
}

/// ../shared/graph-spec/examples-lifecycle-notification.json with one real event.
fn lifecycle(event: &str) -> Value {
    json!({
      "subscriptionId": SUB,
      "subscriptionExpirationDateTime": "2019-03-20T11:00:00.0000000Z",
      "tenantId": TENANT,
      "clientState": SECRET,
      "lifecycleEvent": event
    })
}

fn item() -> Value {
    users_example()["value"][0].clone()
}

fn parse(v: &Value) -> Result<ChangeNotificationCollection, ParseError> {
    parse_collection(v.to_string().as_bytes())
}

fn problem_of(v: Value) -> ItemProblem {
    match parse(&json!({ "value": [v] })) {
        Err(ParseError::Item { index: 0, problem }) => problem,
        other => panic!("expected an item problem, got {other:?}"),
    }
}

#[test]
fn documented_user_notification_parses_and_yields_the_user_id() {
    let c = parse(&users_example()).unwrap();
    let changes: Vec<_> = c.changes().collect();
    assert_eq!(changes.len(), 1);
    let n = changes[0];
    assert_eq!(n.user_id, USER);
    assert_eq!(n.change_type, ChangeType::Updated);
    assert_eq!(n.tenant_id, TENANT);
    assert_eq!(n.subscription_id, SUB);
    assert_eq!(
        n.client_state.as_ref().map(ClientState::expose),
        Some(SECRET)
    );
    assert_eq!(n.subscription_expiration_date_time.year(), 2022);
}

#[test]
fn lowercase_resource_and_uppercase_guids_are_normalised() {
    let mut v = item();
    v["resource"] = json!(format!("users/{}", USER.to_uppercase()));
    v["tenantId"] = json!(TENANT.to_uppercase());
    v["resourceData"]["organizationId"] = json!(TENANT.to_uppercase());
    let c = parse(&json!({ "value": [v] })).unwrap();
    let n = c.changes().next().unwrap();
    assert_eq!(n.user_id, USER);
    assert_eq!(n.tenant_id, TENANT);
}

#[test]
fn deleted_and_created_change_types_are_accepted() {
    for (text, want) in [
        ("deleted", ChangeType::Deleted),
        ("created", ChangeType::Created),
    ] {
        let mut v = item();
        v["changeType"] = json!(text);
        let c = parse(&json!({ "value": [v] })).unwrap();
        assert_eq!(c.changes().next().unwrap().change_type, want);
    }
}

#[test]
fn duplicate_notifications_in_one_post_are_all_kept() {
    let c = parse(&json!({ "value": [item(), item(), item()] })).unwrap();
    assert_eq!(c.value.len(), 3);
}

#[test]
fn every_lifecycle_event_parses() {
    for (text, want) in [
        (
            "reauthorizationRequired",
            LifecycleEvent::ReauthorizationRequired,
        ),
        ("subscriptionRemoved", LifecycleEvent::SubscriptionRemoved),
        ("missed", LifecycleEvent::Missed),
    ] {
        let c = parse(&json!({ "value": [lifecycle(text)] })).unwrap();
        let l = c.lifecycle_events().next().unwrap();
        assert_eq!(l.lifecycle_event, want);
        assert_eq!(l.lifecycle_event.as_str(), text);
    }
}

#[test]
fn changes_and_lifecycle_events_may_share_one_post() {
    let c = parse(&json!({ "value": [item(), lifecycle("reauthorizationRequired")] })).unwrap();
    assert_eq!(c.changes().count(), 1);
    assert_eq!(c.lifecycle_events().count(), 1);
}

#[test]
fn docs_placeholder_lifecycle_event_is_rejected() {
    let p = problem_of(lifecycle(
        "subscriptionRemoved or missed or reauthorizationRequired",
    ));
    assert!(matches!(p, ItemProblem::UnknownLifecycleEvent(_)));
}

#[test]
fn outlook_message_notification_from_the_docs_is_not_a_user() {
    let body = json!({
      "value": [{
        "id": "lsgTZMr9KwAAA",
        "subscriptionId": SUB,
        "subscriptionExpirationDateTime": "2016-03-19T22:11:09.952Z",
        "clientState": "secretClientValue",
        "changeType": "created",
        "resource": format!("users/{USER}@{TENANT}/messages/AAMkAGUwNjQ4ZjIxLTQ3Y2YtNDViMi1iZjc4"),
        "tenantId": TENANT,
        "resourceData": {
          "@odata.type": "#Microsoft.Graph.Message",
          "@odata.id": "Users/x/Messages/y",
          "@odata.etag": "W/\"CQAAABYAAADkrWGo7bouTKlsgTZMr9KwAAAUWRHf\"",
          "id": "AAMkAGUwNjQ4ZjIxLTQ3Y2YtNDViMi1iZjc4"
        }
      }]
    });
    assert!(matches!(
        parse(&body),
        Err(ParseError::Item {
            problem: ItemProblem::NotAUser(_),
            ..
        })
    ));
}

#[test]
fn resources_below_or_beside_a_user_are_rejected() {
    for resource in [
        format!("Users/{USER}/authentication/methods"),
        format!("groups/{USER}"),
        format!("/users/{USER}"),
        "Users/<user-id>".to_owned(),
        "users".to_owned(),
    ] {
        let mut v = item();
        v["resource"] = json!(resource);
        v.as_object_mut().unwrap().remove("resourceData");
        assert!(
            matches!(problem_of(v), ItemProblem::NotAUser(_)),
            "{resource}"
        );
    }
}

#[test]
fn resource_data_of_another_type_is_rejected() {
    let mut v = item();
    v["resourceData"]["@odata.type"] = json!("#Microsoft.Graph.Group");
    assert!(matches!(problem_of(v), ItemProblem::NotAUserType(_)));
}

#[test]
fn resource_data_naming_another_user_or_tenant_is_rejected() {
    let other = "00000000-0000-4000-8000-000000000001";
    for field in ["id", "@odata.id", "organizationId"] {
        let mut v = item();
        v["resourceData"][field] = json!(if field == "@odata.id" {
            format!("Users/{other}")
        } else {
            other.to_owned()
        });
        assert_eq!(problem_of(v), ItemProblem::ResourceDataMismatch, "{field}");
    }
}

#[test]
fn missing_or_malformed_required_fields_are_named() {
    let cases: Vec<(&str, Value, ItemProblem)> = vec![
        (
            "subscriptionId",
            Value::Null,
            ItemProblem::Missing("subscriptionId"),
        ),
        (
            "subscriptionId",
            json!("<guid>"),
            ItemProblem::NotAGuid("subscriptionId"),
        ),
        ("tenantId", Value::Null, ItemProblem::Missing("tenantId")),
        (
            "tenantId",
            json!("contoso.com"),
            ItemProblem::NotAGuid("tenantId"),
        ),
        (
            "subscriptionExpirationDateTime",
            Value::Null,
            ItemProblem::Missing("subscriptionExpirationDateTime"),
        ),
        (
            "subscriptionExpirationDateTime",
            json!("tomorrow"),
            ItemProblem::NotADateTime("subscriptionExpirationDateTime"),
        ),
        ("resource", Value::Null, ItemProblem::Missing("resource")),
        (
            "changeType",
            json!("moved"),
            ItemProblem::UnknownChangeType("moved".into()),
        ),
        ("changeType", Value::Null, ItemProblem::NeitherKind),
        ("lifecycleEvent", json!("missed"), ItemProblem::BothKinds),
    ];
    for (field, value, want) in cases {
        let mut v = item();
        if value.is_null() {
            v.as_object_mut().unwrap().remove(field);
        } else {
            v[field] = value;
        }
        assert_eq!(problem_of(v), want, "{field}");
    }
}

#[test]
fn overlong_client_state_is_rejected() {
    let mut v = item();
    v["clientState"] = json!("x".repeat(MAX_CLIENT_STATE_LEN + 1));
    assert_eq!(problem_of(v), ItemProblem::ClientStateTooLong);
}

#[test]
fn null_client_state_reads_as_absent() {
    let mut v = item();
    v["clientState"] = Value::Null;
    let c = parse(&json!({ "value": [v] })).unwrap();
    assert!(c.value[0].client_state().is_none());
}

#[test]
fn unknown_properties_are_tolerated() {
    let mut v = item();
    v["someFutureProperty"] = json!({"a": 1});
    let body = json!({ "value": [v], "@odata.context": "x" });
    assert!(parse(&body).is_ok());
}

#[test]
fn a_key_given_twice_is_rejected() {
    let body = format!(
        r#"{{"value":[{{"changeType":"updated","changeType":"deleted","resource":"Users/{USER}","subscriptionId":"{SUB}","tenantId":"{TENANT}","subscriptionExpirationDateTime":"2030-01-01T00:00:00Z"}}]}}"#
    );
    let err = parse_collection(body.as_bytes()).unwrap_err();
    assert!(
        matches!(&err, ParseError::Malformed(m) if m.contains("duplicate")),
        "{err}"
    );
}

#[test]
fn bodies_that_are_not_collections_are_malformed() {
    for body in [
        "",
        "not json",
        "[]",
        "{}",
        r#"{"value": {}}"#,
        r#"{"value": [1]}"#,
        r#"{"value": [{"changeType": 5}]}"#,
    ] {
        assert!(
            matches!(
                parse_collection(body.as_bytes()),
                Err(ParseError::Malformed(_))
            ),
            "{body}"
        );
    }
}

#[test]
fn empty_collection_is_rejected() {
    assert_eq!(parse(&json!({ "value": [] })), Err(ParseError::Empty));
}

#[test]
fn more_than_the_item_limit_is_rejected_and_the_limit_itself_accepted() {
    let at_limit = json!({ "value": vec![item(); MAX_NOTIFICATIONS] });
    assert_eq!(parse(&at_limit).unwrap().value.len(), MAX_NOTIFICATIONS);
    let over = json!({ "value": vec![item(); MAX_NOTIFICATIONS + 1] });
    assert_eq!(
        parse(&over),
        Err(ParseError::TooMany {
            count: MAX_NOTIFICATIONS + 1,
            max: MAX_NOTIFICATIONS
        })
    );
}

#[test]
fn the_index_of_the_bad_item_is_reported() {
    let mut bad = item();
    bad["tenantId"] = json!("nope");
    match parse(&json!({ "value": [item(), bad] })) {
        Err(ParseError::Item { index, .. }) => assert_eq!(index, 1),
        other => panic!("{other:?}"),
    }
}

#[test]
fn client_state_never_appears_in_debug_or_errors() {
    let c = parse(&users_example()).unwrap();
    assert!(!format!("{c:?}").contains(SECRET));
    let mut v = item();
    v["resource"] = json!("Users/nope");
    let err = parse(&json!({ "value": [v] })).unwrap_err();
    assert!(!err.to_string().contains(SECRET));
    assert!(!format!("{err:?}").contains(SECRET));
}

#[test]
fn validation_tokens_are_kept_when_present() {
    let mut body = users_example();
    body["validationTokens"] = json!(["eyJ0eXAi"]);
    assert_eq!(parse(&body).unwrap().validation_tokens, vec!["eyJ0eXAi"]);
}

#[test]
fn user_id_of_accepts_only_a_single_user_path() {
    assert_eq!(user_id_of(&format!("USERS/{USER}")).as_deref(), Some(USER));
    assert_eq!(user_id_of(&format!("users/{USER}/manager")), None);
    assert_eq!(user_id_of("users/"), None);
}

#[test]
fn event_identity_comes_from_sequence_number_then_event_time_and_tolerates_other_types() {
    let c = parse(&users_example()).unwrap();
    let n = c.changes().next().unwrap();
    assert_eq!(n.event_identity.as_deref(), Some("seq:638000000000000000"));

    let mut v = item();
    v["resourceData"]["sequenceNumber"] = json!(638000000000000001_u64);
    let c = parse(&json!({ "value": [v] })).unwrap();
    let n = c.changes().next().unwrap();
    assert_eq!(n.event_identity.as_deref(), Some("seq:638000000000000001"));

    let mut v = item();
    v["resourceData"]["sequenceNumber"] = json!({ "odd": true });
    let c = parse(&json!({ "value": [v] })).unwrap();
    let n = c.changes().next().unwrap();
    assert_eq!(
        n.event_identity.as_deref(),
        Some("time:2022-05-24T22:24:31.3062901Z")
    );

    let mut v = item();
    v.as_object_mut().unwrap().remove("resourceData");
    let c = parse(&json!({ "value": [v] })).unwrap();
    assert_eq!(c.changes().next().unwrap().event_identity, None);
}
