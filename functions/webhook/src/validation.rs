//! Graph's validation handshake: `POST {url}?validationToken=…` must be answered within 10 s
//! with 200, `text/plain`, and the URL-decoded token
//! (<https://learn.microsoft.com/graph/change-notifications-delivery-webhooks#notificationurl-validation>).
//! Both the notification and the lifecycle URL are validated, and they are the same Function
//! URL, so any path is accepted.
//!
//! The token is attacker-controlled text reflected in our answer, so: it is only ever sent as
//! `text/plain; charset=utf-8` with `X-Content-Type-Options: nosniff` (a browser never renders
//! it as HTML), it is capped at [`MAX_TOKEN_BYTES`], and control characters (CR, LF, NUL, …)
//! are refused. Graph's tokens are one printable sentence of ~110 characters ("Validation:
//! Testing client application reachability for subscription Request-Id: …"); the docs are
//! silent on a maximum, so the stricter choice is made.

/// Longest decoded token echoed (bytes). Graph's are ~110.
pub const MAX_TOKEN_BYTES: usize = 1_024;

/// The query parameter Graph uses.
pub const PARAMETER: &str = "validationToken";

/// What the query string says about validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenCheck {
    /// No `validationToken` parameter: a notification.
    Absent,
    /// Echo this.
    Echo(String),
    /// Present but unusable; the text says why (no token content in it).
    Refused(&'static str),
}

/// Looks for `validationToken` in a raw query string and checks it.
pub fn check(query: Option<&str>) -> TokenCheck {
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        return TokenCheck::Absent;
    };
    // Raw pairs first: decoding happens once, on the token only, so that invalid UTF-8 is seen
    // rather than silently replaced.
    let mut raw_token = None;
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if decode(name).as_deref() == Some(PARAMETER.as_bytes()) {
            if raw_token.is_some() {
                return TokenCheck::Refused("more than one validationToken");
            }
            raw_token = Some(value);
        }
    }
    let Some(raw) = raw_token else {
        return TokenCheck::Absent;
    };
    // Cheap bound before decoding: every decoded byte takes at least one raw byte.
    if raw.len() > MAX_TOKEN_BYTES * 3 {
        return TokenCheck::Refused("validationToken too long");
    }
    let Some(bytes) = decode(raw) else {
        return TokenCheck::Refused("validationToken is not URL-encoded");
    };
    if bytes.is_empty() {
        return TokenCheck::Refused("validationToken is empty");
    }
    if bytes.len() > MAX_TOKEN_BYTES {
        return TokenCheck::Refused("validationToken too long");
    }
    let Ok(token) = String::from_utf8(bytes) else {
        return TokenCheck::Refused("validationToken is not UTF-8");
    };
    if token.chars().any(char::is_control) {
        return TokenCheck::Refused("validationToken has control characters");
    }
    TokenCheck::Echo(token)
}

/// `application/x-www-form-urlencoded` decoding (`+` is a space, `%XX` a byte) without any
/// UTF-8 interpretation. `None` for a malformed escape.
fn decode(raw: &str) -> Option<Vec<u8>> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let text = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(text, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_style_token_is_decoded_with_plus_as_space_and_lowercase_hex() {
        let query = "validationToken=Validation%3a+Testing+client+application+reachability";
        assert_eq!(
            check(Some(query)),
            TokenCheck::Echo("Validation: Testing client application reachability".into())
        );
    }

    #[test]
    fn other_parameters_are_ignored_and_order_does_not_matter() {
        assert_eq!(
            check(Some("a=1&validationToken=abc&b=2")),
            TokenCheck::Echo("abc".into())
        );
        assert_eq!(check(Some("a=1")), TokenCheck::Absent);
        assert_eq!(check(None), TokenCheck::Absent);
        assert_eq!(check(Some("")), TokenCheck::Absent);
    }

    #[test]
    fn html_is_echoed_as_is_because_it_is_only_ever_sent_as_text_plain() {
        assert_eq!(
            check(Some("validationToken=%3Cscript%3Ealert(1)%3C%2Fscript%3E")),
            TokenCheck::Echo("<script>alert(1)</script>".into())
        );
    }

    #[test]
    fn crlf_nul_empty_duplicate_and_broken_escapes_are_refused() {
        for query in [
            "validationToken=a%0d%0aSet-Cookie:+x=1",
            "validationToken=a%00b",
            "validationToken=",
            "validationToken=a&validationToken=b",
            "validationToken=%zz",
            "validationToken=abc%4",
            "validationToken=%ff%fe",
        ] {
            assert!(
                matches!(check(Some(query)), TokenCheck::Refused(_)),
                "{query}"
            );
        }
    }

    #[test]
    fn token_over_the_cap_is_refused_and_the_cap_itself_accepted() {
        let at_cap = format!("validationToken={}", "a".repeat(MAX_TOKEN_BYTES));
        assert!(matches!(check(Some(&at_cap)), TokenCheck::Echo(_)));
        let over = format!("validationToken={}", "a".repeat(MAX_TOKEN_BYTES + 1));
        assert_eq!(
            check(Some(&over)),
            TokenCheck::Refused("validationToken too long")
        );
        let ten_kb_encoded = format!("validationToken={}", "%41".repeat(10 * 1024));
        assert_eq!(
            check(Some(&ten_kb_encoded)),
            TokenCheck::Refused("validationToken too long")
        );
    }
}
