//! The strict parse of a notification body, and what the log may say about a refusal.

use autoenroll_core::notification::{self, ItemProblem, ParseError};
use serde_json::Value;

/// The strict parse, plus: items about something other than a user are dropped (counted)
/// instead of failing the whole body. `Ok((None, n))` when nothing but such items was sent.
pub(crate) fn parse(
    body: &[u8],
) -> Result<(Option<notification::ChangeNotificationCollection>, u64), String> {
    if std::str::from_utf8(body).is_err() {
        return Err("body is not UTF-8".into());
    }
    match notification::parse_collection(body) {
        Ok(collection) => Ok((Some(collection), 0)),
        Err(ParseError::Item {
            problem: ItemProblem::NotAUser(_) | ItemProblem::NotAUserType(_),
            ..
        }) => without_non_users(body),
        Err(e) => Err(describe(&e)),
    }
}

/// What was wrong, for the log — without any value from the body (serde's messages quote
/// them, and a hostile body may carry anything).
fn describe(error: &ParseError) -> String {
    let problem = |p: &ItemProblem| match p {
        ItemProblem::Missing(field) => format!("`{field}` is missing"),
        ItemProblem::NotAGuid(field) => format!("`{field}` is not a GUID"),
        ItemProblem::NotADateTime(field) => format!("`{field}` is not a date-time"),
        ItemProblem::BothKinds => "both changeType and lifecycleEvent".into(),
        ItemProblem::NeitherKind => "neither changeType nor lifecycleEvent".into(),
        ItemProblem::UnknownChangeType(_) => "unknown changeType".into(),
        ItemProblem::UnknownLifecycleEvent(_) => "unknown lifecycleEvent".into(),
        ItemProblem::NotAUser(_) | ItemProblem::NotAUserType(_) => "not a user".into(),
        ItemProblem::ResourceDataMismatch => "resourceData does not match".into(),
        ItemProblem::ClientStateTooLong => "clientState too long".into(),
    };
    match error {
        ParseError::Malformed(_) => "not JSON of the changeNotificationCollection shape".into(),
        ParseError::Empty => "no notification".into(),
        ParseError::TooMany { count, max } => format!("{count} notifications (max {max})"),
        ParseError::Item { index, problem: p } => format!("item {index}: {}", problem(p)),
    }
}

/// The rare path: look at each item on its own, drop the non-user ones, parse the rest
/// strictly again.
fn without_non_users(
    body: &[u8],
) -> Result<(Option<notification::ChangeNotificationCollection>, u64), String> {
    let mut document: Value = serde_json::from_slice(body)
        .map_err(|e| describe(&ParseError::Malformed(e.to_string())))?;
    let Some(items) = document.get_mut("value").and_then(Value::as_array_mut) else {
        return Err("missing field `value`".into());
    };
    let mut dropped = 0u64;
    let mut kept = Vec::with_capacity(items.len());
    for item in items.drain(..) {
        let single = serde_json::json!({ "value": [item] });
        match notification::parse_collection(single.to_string().as_bytes()) {
            Err(ParseError::Item {
                problem: ItemProblem::NotAUser(_) | ItemProblem::NotAUserType(_),
                ..
            }) => dropped += 1,
            _ => {
                if let Value::Object(mut map) = single
                    && let Some(Value::Array(mut one)) = map.remove("value")
                    && let Some(item) = one.pop()
                {
                    kept.push(item);
                }
            }
        }
    }
    if kept.is_empty() {
        return Ok((None, dropped));
    }
    *items = kept;
    let collection = notification::parse_collection(document.to_string().as_bytes())
        .map_err(|e| describe(&e))?;
    Ok((Some(collection), dropped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_are_described_without_values_from_the_body() {
        let body = br#"{"value":[{"subscriptionId":"s3cr3t-value-from-body"}]}"#;
        let why = parse(body).unwrap_err();
        assert!(!why.contains("s3cr3t"), "{why}");
        let body = br#"{"value":"+31612345678"}"#;
        let why = parse(body).unwrap_err();
        assert!(!why.contains("+316"), "{why}");
    }
}
