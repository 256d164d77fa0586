//! Hostile and malformed webhook input (issue 9 item 2), one table run twice: through the
//! Lambda handler (Function URL events) and over HTTP through the local front. For every case:
//! the expected status, no panic, exactly the expected requests on the queue (usually none),
//! and a `WebhookRejected` counter for each rejection.

mod common;

use std::net::SocketAddr;

use common::*;
use serde_json::{Value, json};

const JSON: Option<&str> = Some("application/json; charset=utf-8");

struct Case {
    name: &'static str,
    method: &'static str,
    query: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    /// The rejection counter this case must raise (`None`: no rejection).
    reason: Option<&'static str>,
    /// Requests that must be on the queue afterwards.
    enqueued: usize,
    /// For 200: the exact echo.
    echo: Option<String>,
}

fn post(name: &'static str, body: Vec<u8>, status: u16, reason: Option<&'static str>) -> Case {
    Case {
        name,
        method: "POST",
        query: String::new(),
        content_type: JSON,
        body,
        status,
        reason,
        enqueued: 0,
        echo: None,
    }
}

fn item_with(change: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut item = common::change(USER_A, CLIENT_STATE);
    change(&mut item);
    collection(vec![item])
}

fn without(field: &'static str) -> Vec<u8> {
    item_with(|v| {
        v.as_object_mut().map(|o| o.remove(field));
    })
}

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

fn validation(name: &'static str, query: String, status: u16, echo: Option<String>) -> Case {
    Case {
        name,
        method: "POST",
        query,
        content_type: Some("text/plain; charset=utf-8"),
        body: Vec::new(),
        status,
        reason: (status != 200).then_some("BadValidationToken"),
        enqueued: 0,
        echo,
    }
}

fn table() -> Vec<Case> {
    let valid = collection(vec![change(USER_A, CLIENT_STATE)]);
    let mut cases = vec![
        // --- clientState and tenant
        post(
            "wrong clientState",
            collection(vec![change(USER_A, "not-our-client-state")]),
            401,
            Some("ClientStateMismatch"),
        ),
        post(
            "missing clientState",
            without("clientState"),
            401,
            Some("ClientStateMissing"),
        ),
        post(
            "null clientState",
            item_with(|v| v["clientState"] = Value::Null),
            401,
            Some("ClientStateMissing"),
        ),
        post(
            "clientState of 200 characters (under the parser's cap, still wrong)",
            collection(vec![change(USER_A, &"x".repeat(200))]),
            401,
            Some("ClientStateMismatch"),
        ),
        post(
            "over-long clientState",
            collection(vec![change(USER_A, &"x".repeat(10_000))]),
            400,
            Some("Malformed"),
        ),
        post(
            "our clientState with a NUL appended",
            collection(vec![change(USER_A, &format!("{CLIENT_STATE}\u{0}"))]),
            401,
            Some("ClientStateMismatch"),
        ),
        post(
            "our clientState, different case",
            collection(vec![change(USER_A, &CLIENT_STATE.to_uppercase())]),
            401,
            Some("ClientStateMismatch"),
        ),
        post(
            "wrong tenant",
            item_with(|v| {
                v["tenantId"] = json!(OTHER_TENANT);
                v["resourceData"]["organizationId"] = json!(OTHER_TENANT);
            }),
            401,
            Some("WrongTenant"),
        ),
        post(
            "tenant not a GUID",
            item_with(|v| v["tenantId"] = json!("contoso.onmicrosoft.com")),
            400,
            Some("Malformed"),
        ),
        post(
            "organizationId disagrees with tenantId",
            item_with(|v| v["resourceData"]["organizationId"] = json!(OTHER_TENANT)),
            400,
            Some("Malformed"),
        ),
        // --- resources
        post(
            "group resource",
            item_with(|v| {
                v["resource"] = json!(format!("Groups/{USER_A}"));
                v.as_object_mut().map(|o| o.remove("resourceData"));
            }),
            202,
            Some("NotAUser"),
        ),
        post(
            "resourceData says group",
            item_with(|v| v["resourceData"]["@odata.type"] = json!("#Microsoft.Graph.Group")),
            202,
            Some("NotAUser"),
        ),
        post(
            "user resource without an id",
            item_with(|v| v["resource"] = json!("Users")),
            202,
            Some("NotAUser"),
        ),
        Case {
            enqueued: 1,
            ..post(
                "non-user item next to a valid one",
                collection(vec![
                    {
                        let mut v = change(USER_B, CLIENT_STATE);
                        v["resource"] = json!(format!("devices/{USER_B}"));
                        v.as_object_mut().map(|o| o.remove("resourceData"));
                        v
                    },
                    change(USER_A, CLIENT_STATE),
                ]),
                202,
                Some("NotAUser"),
            )
        },
        Case {
            enqueued: 1,
            ..post(
                "forged item next to a valid one",
                collection(vec![change(USER_B, "forged"), change(USER_A, CLIENT_STATE)]),
                202,
                Some("ClientStateMismatch"),
            )
        },
        // --- missing fields and wrong types
        post(
            "no subscriptionId",
            without("subscriptionId"),
            400,
            Some("Malformed"),
        ),
        post("no tenantId", without("tenantId"), 400, Some("Malformed")),
        post("no resource", without("resource"), 400, Some("Malformed")),
        post(
            "no subscriptionExpirationDateTime",
            without("subscriptionExpirationDateTime"),
            400,
            Some("Malformed"),
        ),
        post(
            "neither changeType nor lifecycleEvent",
            without("changeType"),
            400,
            Some("Malformed"),
        ),
        post(
            "changeType and lifecycleEvent",
            item_with(|v| v["lifecycleEvent"] = json!("reauthorizationRequired")),
            400,
            Some("Malformed"),
        ),
        post(
            "unknown changeType",
            item_with(|v| v["changeType"] = json!("exploded")),
            400,
            Some("Malformed"),
        ),
        post(
            "subscriptionId is a number",
            item_with(|v| v["subscriptionId"] = json!(42)),
            400,
            Some("Malformed"),
        ),
        post(
            "clientState is an object",
            item_with(|v| v["clientState"] = json!({ "a": CLIENT_STATE })),
            400,
            Some("Malformed"),
        ),
        post(
            "changeType is an array",
            item_with(|v| v["changeType"] = json!(["updated"])),
            400,
            Some("Malformed"),
        ),
        post(
            "expiration is not a date",
            item_with(|v| v["subscriptionExpirationDateTime"] = json!("tomorrow")),
            400,
            Some("Malformed"),
        ),
        post(
            "value is an object",
            br#"{"value":{"a":1}}"#.to_vec(),
            400,
            Some("Malformed"),
        ),
        post(
            "value is missing",
            br#"{"values":[]}"#.to_vec(),
            400,
            Some("Malformed"),
        ),
        post(
            "value is empty",
            br#"{"value":[]}"#.to_vec(),
            400,
            Some("Malformed"),
        ),
        post(
            "items are numbers",
            br#"{"value":[1,2,3]}"#.to_vec(),
            400,
            Some("Malformed"),
        ),
        post("JSON null", b"null".to_vec(), 400, Some("Malformed")),
        post("empty body", Vec::new(), 400, Some("Malformed")),
        post(
            "truncated JSON",
            valid[..valid.len() / 2].to_vec(),
            400,
            Some("Malformed"),
        ),
        post(
            "duplicate clientState key (forged one last)",
            {
                let text = String::from_utf8(valid.clone()).unwrap_or_default();
                text.replacen(
                    "\"clientState\"",
                    "\"clientState\":\"forged\",\"clientState\"",
                    1,
                )
                .into_bytes()
            },
            400,
            Some("Malformed"),
        ),
        // --- sizes and shapes
        post(
            "1,001 notifications",
            collection(vec![change(USER_A, CLIENT_STATE); 1_001]),
            400,
            Some("Malformed"),
        ),
        post(
            "200,000 numbers as value",
            format!("{{\"value\":[{}0]}}", "0,".repeat(200_000)).into_bytes(),
            400,
            Some("Malformed"),
        ),
        post(
            "body over the 1 MiB cap",
            {
                let mut body = valid.clone();
                body.truncate(body.len() - 1);
                body.extend_from_slice(b",\"pad\":\"");
                body.extend(std::iter::repeat_n(
                    b'a',
                    autoenroll_webhook::MAX_BODY_BYTES,
                ));
                body.extend_from_slice(b"\"}");
                body
            },
            413,
            Some("TooLarge"),
        ),
        post(
            "invalid UTF-8",
            {
                let mut body = valid.clone();
                let at = body.len() - 10;
                body[at] = 0xc3;
                body[at + 1] = 0x28;
                body
            },
            400,
            Some("Malformed"),
        ),
        post(
            "deeply nested top level",
            nested(100_000).into_bytes(),
            400,
            Some("Malformed"),
        ),
        // Unknown properties are skipped (Graph adds properties without notice) — serde_json
        // skips them without recursion, so depth costs nothing and the item is handled.
        Case {
            enqueued: 1,
            ..post(
                "deeply nested unknown property inside an item",
                {
                    let text = String::from_utf8(valid.clone()).unwrap_or_default();
                    text.replacen("{", &format!("{{\"x\":{},", nested(50_000)), 2)
                        .into_bytes()
                },
                202,
                None,
            )
        },
        post(
            "deeply nested value where an item belongs",
            format!("{{\"value\":[{}]}}", nested(50_000)).into_bytes(),
            400,
            Some("Malformed"),
        ),
        // --- validation tokens
        validation(
            "validationToken with HTML",
            "validationToken=%3Cb%3Ehi%3C%2Fb%3E".into(),
            200,
            Some("<b>hi</b>".into()),
        ),
        validation(
            "validationToken with a script",
            "validationToken=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E".into(),
            200,
            Some("<script>alert(document.cookie)</script>".into()),
        ),
        validation(
            "validationToken with CRLF (header injection attempt)",
            "validationToken=ok%0D%0AContent-Type:+text/html%0D%0A%0D%0A%3Ch1%3E".into(),
            400,
            None,
        ),
        validation(
            "validationToken of 10 KB",
            format!("validationToken={}", "A".repeat(10 * 1024)),
            400,
            None,
        ),
        validation(
            "empty validationToken",
            "validationToken=".into(),
            400,
            None,
        ),
        validation(
            "validationToken that is not UTF-8",
            "validationToken=%C3%28".into(),
            400,
            None,
        ),
        Case {
            method: "GET",
            reason: Some("MethodNotAllowed"),
            ..validation(
                "validationToken on GET",
                "validationToken=abc".into(),
                405,
                None,
            )
        },
    ];
    // --- methods
    for method in ["GET", "PUT", "PATCH", "DELETE", "OPTIONS"] {
        cases.push(Case {
            method,
            ..post(
                "unexpected method",
                valid.clone(),
                405,
                Some("MethodNotAllowed"),
            )
        });
    }
    // --- content types
    for content_type in [
        None,
        Some("text/plain"),
        Some("text/html"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/xml"),
        Some("application/json; charset=utf-16"),
        Some("application/jsonx"),
    ] {
        cases.push(Case {
            content_type,
            ..post(
                "unexpected content type",
                valid.clone(),
                415,
                Some("UnsupportedMediaType"),
            )
        });
    }
    // --- a sanity row: the valid body goes through
    cases.push(Case {
        enqueued: 1,
        ..post("valid notification", valid, 202, None)
    });
    cases
}

fn check(case: &Case, h: &Harness, status: u16, nosniff: bool, body: &str, how: &str) {
    let name = format!(
        "{how}: {} ({} {:?})",
        case.name, case.method, case.content_type
    );
    assert_eq!(status, case.status, "{name}: status; body {body:.200}");
    assert!(nosniff, "{name}: nosniff");
    assert_eq!(h.queue.len(), case.enqueued, "{name}: queue");
    match case.reason {
        Some(reason) => assert!(
            h.rejected(reason) >= 1.0,
            "{name}: no {reason} counter; counters {:?}",
            h.metrics.documents()
        ),
        None => assert_eq!(h.rejected_total(), 0.0, "{name}: unexpected rejection"),
    }
    if !(200..300).contains(&status) {
        assert!(h.rejected_total() >= 1.0, "{name}: rejection not counted");
    }
    if let Some(echo) = &case.echo {
        assert_eq!(body, echo, "{name}: echo");
    }
    // Nothing of the clientState ever comes back.
    assert!(!body.contains(CLIENT_STATE), "{name}: clientState echoed");
}

#[tokio::test]
async fn hostile_input_through_the_lambda_handler() {
    for case in table() {
        let h = Harness::new();
        let request =
            function_url_event(case.method, "/", &case.query, case.content_type, &case.body);
        let response = h.webhook.handle(request).await;
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert_eq!(content_type, "text/plain; charset=utf-8", "{}", case.name);
        let (status, _, nosniff, body) = parts(response);
        check(&case, &h, status, nosniff, &body, "lambda");
    }
}

#[tokio::test]
async fn hostile_input_through_the_local_http_front() {
    let client = reqwest::Client::new();
    for case in table() {
        let h = Harness::new();
        let front = autoenroll_webhook::serve_local(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            h.webhook.clone(),
        )
        .await
        .expect("local front starts");
        let url = if case.query.is_empty() {
            front.url.clone()
        } else {
            format!("{}?{}", front.url, case.query)
        };
        let method = reqwest::Method::from_bytes(case.method.as_bytes()).expect("a method");
        let mut request = client.request(method, &url).body(case.body.clone());
        if let Some(ct) = case.content_type {
            request = request.header("content-type", ct);
        }
        let response = request.send().await.expect("the front answers");
        let status = response.status().as_u16();
        let nosniff = response
            .headers()
            .get("x-content-type-options")
            .is_some_and(|v| v == "nosniff");
        let body = response.text().await.unwrap_or_default();
        check(&case, &h, status, nosniff, &body, "http");
        front.shutdown().await;
    }
}
