//! `$batch` against the simulator: packing, per-item results, re-submitting only what failed.

mod common;

use autoenroll_graph::model::{PhoneMethod, User};
use autoenroll_graph::{ApiVersion, BatchRequest};
use common::*;
use graph_sim::{FaultKind, FaultRule};
use serde_json::json;

#[tokio::test]
async fn batch_returns_mixed_item_results_in_request_order_and_resubmits_only_the_throttled() {
    let sim = start().await;
    let graph = graph(&sim);
    let user_ids: Vec<String> = sim.control().dump()["users"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let mut requests = vec![
        BatchRequest::get("adele", format!("/users/{ADELE}?$select=id,mobilePhone")),
        BatchRequest::get("missing", "/users/00000000-0000-0000-0000-000000000000"),
        BatchRequest::post(
            "add",
            format!("/users/{LEE}/authentication/phoneMethods"),
            json!({"phoneNumber": "+1 9135550101", "phoneType": "mobile"}),
        ),
        BatchRequest::get(
            "after-add",
            format!("/users/{LEE}/authentication/phoneMethods"),
        )
        .depends_on("add"),
        BatchRequest::post(
            "bad-number",
            format!("/users/{NEW_HIRE}/authentication/phoneMethods"),
            json!({"phoneNumber": "0612345678", "phoneType": "mobile"}),
        ),
        BatchRequest::get(
            "after-bad",
            format!("/users/{NEW_HIRE}/authentication/phoneMethods"),
        )
        .depends_on("bad-number"),
    ];
    requests.extend(
        user_ids
            .iter()
            .take(19)
            .enumerate()
            .map(|(i, id)| BatchRequest::get(format!("u{i}"), format!("/users/{id}?$select=id"))),
    );
    assert_eq!(requests.len(), 25);
    // Graph throttles items on their own: the first user read in the batch gets a 429.
    sim.control().add_fault(FaultRule {
        retry_after_secs: Some(1),
        ..FaultRule::new("GET /users/{user}", FaultKind::Throttle).times(1)
    });

    let answers = graph.batch(ApiVersion::V1, requests.clone()).await.unwrap();

    let ids: Vec<_> = answers.iter().map(|a| a.id.as_str()).collect();
    let asked: Vec<_> = requests.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, asked, "one answer per request, in request order");
    let by_id = |id: &str| answers.iter().find(|a| a.id == id).unwrap();
    assert_eq!(by_id("adele").json::<User>().unwrap().id, ADELE);
    assert!(by_id("missing").error().unwrap().is_not_found());
    assert_eq!(by_id("add").status, 201);
    let after_add: autoenroll_graph::Page<PhoneMethod> = by_id("after-add").json().unwrap();
    assert_eq!(after_add.value.len(), 1);
    assert!(by_id("bad-number").error().unwrap().is_invalid_request());
    assert_eq!(by_id("after-bad").status, 424, "dependent of a failure");
    for i in 0..19 {
        assert_eq!(by_id(&format!("u{i}")).status, 200, "u{i}");
    }

    let counters = sim.control().counters();
    assert_eq!(counters.calls_with_status("GET /users/{user}", 429), 1);
    // 25 items: a batch of 20 and one of 5, then one more for the throttled item alone.
    assert_eq!(counters.calls("POST /$batch"), 3);
    // The phone POST was not sent twice.
    assert_eq!(
        counters.calls("POST /users/{user}/authentication/phoneMethods"),
        2,
        "the good and the bad number, once each"
    );
    assert_eq!(
        sim_user(&sim, LEE)["authentication"]["phones"]["mobile"]["phoneNumber"],
        "+1 9135550101"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn beta_batch_reaches_beta_only_paths() {
    let sim = start().await;
    let graph = graph(&sim);
    let answers = graph
        .batch(
            ApiVersion::Beta,
            vec![
                BatchRequest::patch(
                    "mfa",
                    format!("/users/{NEW_HIRE}/authentication/requirements"),
                    json!({"perUserMfaState": "enabled"}),
                ),
                BatchRequest::get(
                    "read",
                    format!("/users/{NEW_HIRE}/authentication/requirements"),
                )
                .depends_on("mfa"),
            ],
        )
        .await
        .unwrap();
    assert!(answers[0].is_success(), "{:?}", answers[0]);
    assert_eq!(
        answers[1].body.as_ref().unwrap()["perUserMfaState"],
        "enabled"
    );
    assert_eq!(
        sim_user(&sim, NEW_HIRE)["authentication"]["perUserMfaState"],
        "enabled"
    );
    sim.shutdown().await;
}
