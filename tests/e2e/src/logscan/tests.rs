use super::*;

fn kinds(text: &str, secrets: &[&str]) -> Vec<LeakKind> {
    find_leaks(text, secrets)
        .into_iter()
        .map(|l| l.kind)
        .collect()
}

#[test]
fn international_numbers_are_caught_in_any_layout() {
    for text in [
        "registered +31612345678",
        r#"{"fields":{"number":"+31 612345678"}}"#,
        "number=+31 6 1234 5678 done",
        "+1 (206) 555-0100",
        "+44-7400-123456",
    ] {
        assert!(
            kinds(text, &[]).contains(&LeakKind::InternationalNumber),
            "{text}"
        );
    }
}

#[test]
fn national_numbers_and_debug_dumps_are_caught() {
    for text in [
        "mobilePhone 0612345678",
        r#"{"message":"user mobile 06-1234 5678"}"#,
        r#"{"fields":{"raw":"06.12.34.56.78"}}"#,
        r#"{"fields":{"error":"PhoneNumber { country_code: 31, national_number: 612345678 }"}}"#,
        "(020) 123 4567 8",
        "tel:0612345678",
    ] {
        assert!(kinds(text, &[]).contains(&LeakKind::DigitRun), "{text}");
    }
}

#[test]
fn masked_numbers_ids_times_and_counters_are_not_leaks() {
    for text in [
        r#"{"fields":{"number":"+31 6******78","last_two":"78"}}"#,
        r#"{"fields":{"user":"12345678-1234-4234-8234-123456789012"}}"#,
        r#"{"timestamp":"2026-05-24T22:24:31.306290123Z","fields":{"expiry":"2026-05-24T23:21:19.3554403+00:00"}}"#,
        r#"{"fields":{"elapsed":"12.345678ms","elapsed_us":123456789012}}"#,
        r#"{"_aws":{"Timestamp":1764612345678},"Enrolled":1}"#,
        r#"{"fields":{"fingerprint":"a3f1234567890b12cd4e5f67890123456789abcdef0123456789abcdef012345"}}"#,
        "request-id 4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b01 status 503 attempt 2 of 4",
        "date 2026-05-24 ok",
        r#"{"fields":{"now":"SystemTime { tv_sec: 1795610404, tv_nsec: 928993883 }","left":"Duration { secs: 1795610404, nanos: 12345678 }"}}"#,
        "eyJust a word that starts like a token",
        "Authorization: Bearer <redacted>",
    ] {
        assert_eq!(kinds(text, &[]), vec![], "{text}");
    }
}

#[test]
fn jwts_and_bearer_tokens_are_caught() {
    let jwt = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhYmMiLCJ0aWQiOiJ4In0.c2lnbmF0dXJl";
    assert!(kinds(&format!(r#"{{"fields":{{"token":"{jwt}"}}}}"#), &[]).contains(&LeakKind::Jwt));
    assert!(kinds("unsigned eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", &[]).contains(&LeakKind::Jwt));
    assert!(
        kinds("header Authorization: Bearer abcDEF0123456789-_.~+/=", &[])
            .contains(&LeakKind::BearerToken)
    );
}

#[test]
fn known_secrets_are_caught_raw_escaped_and_url_encoded() {
    let secret = "sim-secret-autoenroll-Q8w~xV3pL9";
    let state = "cs \"quoted\" state";
    for text in [
        format!("client_secret={secret}"),
        "grant_type=client_credentials&client_secret=sim-secret-autoenroll-Q8w%7ExV3pL9".to_owned(),
        serde_json::json!({ "fields": { "state": state } }).to_string(),
        format!("{:?}", state),
        format!("form client_state={}", form_urlencode(state)),
    ] {
        let found = kinds(&text, &[secret, state]);
        assert!(
            found.contains(&LeakKind::KnownSecret(0)) || found.contains(&LeakKind::KnownSecret(1)),
            "{text}"
        );
    }
    assert_eq!(kinds("nothing here", &[secret, state, ""]), vec![]);
}

#[test]
fn a_failure_names_the_kind_and_line_but_not_the_value() {
    let logs = "fine\nsent to +31612345678 ok\n";
    let leaks = find_leaks(logs, &[]);
    assert_eq!(leaks.len(), 1);
    assert_eq!(leaks[0].line, 2);
    assert!(
        !leaks[0].excerpt.contains("612345678"),
        "{}",
        leaks[0].excerpt
    );
    let panic = std::panic::catch_unwind(|| assert_no_secrets(logs, &[])).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("line 2") && !message.contains("612345678"),
        "{message}"
    );
}

#[test]
fn the_capture_layer_sees_events_and_span_fields_at_debug() {
    let logs = LogCapture::new();
    {
        let _guard = logs.install_thread("debug");
        let span = tracing::info_span!("enroll", number = "+31 612345678");
        let _entered = span.enter();
        tracing::debug!(state = "the-client-state-value", "debug event");
        tracing::trace!(token = "not captured at debug", "trace event");
    }
    tracing::info!("after the guard: not captured");
    let text = logs.text();
    assert_eq!(logs.lines().len(), 1, "{text}");
    let found = kinds(&text, &["the-client-state-value"]);
    assert!(found.contains(&LeakKind::InternationalNumber), "{text}");
    assert!(found.contains(&LeakKind::KnownSecret(0)), "{text}");
    assert!(!text.contains("not captured"));
}
