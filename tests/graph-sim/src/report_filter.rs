//! `$filter` and `$orderby` for `userRegistrationDetails`: the documented forms the simulator
//! evaluates, everything else a 400 (never ignored, which would answer a different question).
//!
//! Documented (MGDC v1.0/resources/userregistrationdetails.md @06b859ba, PASSKEY-ERA.md §6):
//! `eq` on the booleans; `eq`/`startsWith` on `userPrincipalName` and `userDisplayName`;
//! `eq` on `userType`; `any(…eq…)` on `methodsRegistered` and
//! `systemPreferredAuthenticationMethods`; `$orderby` on `userPrincipalName` /
//! `userDisplayName`. Clauses may be joined with `and`; `or` and `not` are not supported here.

use serde_json::{Map, Value};

use crate::error::GraphError;

/// The boolean properties `eq` may test.
const BOOLEANS: &[&str] = &[
    "isAdmin",
    "isMfaCapable",
    "isMfaRegistered",
    "isPasswordlessCapable",
    "isSsprCapable",
    "isSsprEnabled",
    "isSsprRegistered",
    "isSystemPreferredAuthenticationMethodEnabled",
];
const STRINGS: &[&str] = &["userPrincipalName", "userDisplayName", "userType"];
const COLLECTIONS: &[&str] = &["methodsRegistered", "systemPreferredAuthenticationMethods"];

#[derive(Debug, Clone, PartialEq)]
enum Clause {
    BoolEq(&'static str, bool),
    StrEq(&'static str, String),
    StartsWith(&'static str, String),
    Any(&'static str, String),
}

/// A parsed `$filter`: all clauses must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter(Vec<Clause>);

fn invalid(detail: impl std::fmt::Display) -> GraphError {
    GraphError::bad_request(format!("Invalid filter clause: {detail}"))
}

fn canonical(names: &'static [&'static str], name: &str) -> Option<&'static str> {
    names.iter().copied().find(|n| n.eq_ignore_ascii_case(name))
}

/// `'text'` with OData's doubled quote as escape.
fn quoted(s: &str) -> Option<String> {
    let inner = s.trim().strip_prefix('\'')?.strip_suffix('\'')?;
    let unescaped = inner.replace("''", "'");
    // A lone quote inside means the literal ended early: not one literal.
    (!inner.replace("''", "").contains('\'')).then_some(unescaped)
}

/// Splits on ` and ` outside string literals (case-insensitive).
fn split_and(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut in_string = false;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            in_string = !in_string;
        }
        if !in_string && c == ' ' {
            let rest: String = chars[i..].iter().take(5).collect();
            if rest.eq_ignore_ascii_case(" and ") {
                parts.push(std::mem::take(&mut current));
                i += 5;
                continue;
            }
        }
        current.push(c);
        i += 1;
    }
    parts.push(current);
    parts
}

fn parse_clause(text: &str) -> Result<Clause, GraphError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(invalid("empty clause"));
    }
    // startsWith(prop,'x')
    if let Some(args) = strip_call(t, "startswith") {
        let (prop, value) = args
            .split_once(',')
            .ok_or_else(|| invalid(format!("'{t}'")))?;
        let prop = canonical(&STRINGS[..2], prop.trim())
            .ok_or_else(|| invalid(format!("startsWith is not supported on '{}'", prop.trim())))?;
        let value = quoted(value).ok_or_else(|| invalid(format!("'{t}'")))?;
        return Ok(Clause::StartsWith(prop, value));
    }
    // collection/any(x: x eq 'v')
    if let Some((prop, rest)) = t.split_once("/any(").or_else(|| t.split_once("/ANY(")) {
        let prop = canonical(COLLECTIONS, prop.trim())
            .ok_or_else(|| invalid(format!("any() is not supported on '{}'", prop.trim())))?;
        let body = rest
            .strip_suffix(')')
            .ok_or_else(|| invalid(format!("'{t}'")))?;
        let (var, cond) = body
            .split_once(':')
            .ok_or_else(|| invalid(format!("'{t}'")))?;
        let (lhs, rhs) = split_eq(cond).ok_or_else(|| invalid(format!("'{t}'")))?;
        if lhs.trim() != var.trim() {
            return Err(invalid(format!("'{t}'")));
        }
        let value = quoted(rhs).ok_or_else(|| invalid(format!("'{t}'")))?;
        return Ok(Clause::Any(prop, value));
    }
    let (lhs, rhs) = split_eq(t).ok_or_else(|| {
        invalid(format!(
            "'{t}' (supported: eq on booleans and userType/userPrincipalName/userDisplayName, startsWith, any(… eq …), joined by 'and')"
        ))
    })?;
    let name = lhs.trim();
    if let Some(prop) = canonical(BOOLEANS, name) {
        return match rhs.trim() {
            v if v.eq_ignore_ascii_case("true") => Ok(Clause::BoolEq(prop, true)),
            v if v.eq_ignore_ascii_case("false") => Ok(Clause::BoolEq(prop, false)),
            v => Err(invalid(format!("'{prop}' is Boolean; '{v}' is not"))),
        };
    }
    if let Some(prop) = canonical(STRINGS, name) {
        let value = quoted(rhs).ok_or_else(|| invalid(format!("'{t}'")))?;
        return Ok(Clause::StrEq(prop, value));
    }
    Err(invalid(format!("filtering on '{name}' is not supported")))
}

/// `name(args)` → `args` when `t` is a call of `name` (case-insensitive).
fn strip_call<'a>(t: &'a str, name: &str) -> Option<&'a str> {
    let open = t.find('(')?;
    if !t[..open].trim().eq_ignore_ascii_case(name) {
        return None;
    }
    t[open + 1..].strip_suffix(')')
}

/// `a eq b` → (`a`, `b`), outside string literals.
fn split_eq(t: &str) -> Option<(&str, &str)> {
    let mut in_string = false;
    for (i, c) in t.char_indices() {
        if c == '\'' {
            in_string = !in_string;
        }
        if !in_string && t[i..].len() >= 4 && t[i..i + 4].eq_ignore_ascii_case(" eq ") {
            return Some((&t[..i], &t[i + 4..]));
        }
    }
    None
}

impl Filter {
    pub fn parse(text: Option<&str>) -> Result<Self, GraphError> {
        let Some(text) = text else {
            return Ok(Self::default());
        };
        let lower = format!(" {} ", text.to_ascii_lowercase());
        if lower.contains(" or ") || lower.contains(" not ") || lower.contains(" ne ") {
            return Err(invalid(
                "only 'eq', 'startsWith' and 'any' joined by 'and' are supported",
            ));
        }
        split_and(text)
            .iter()
            .map(|c| parse_clause(c))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub fn matches(&self, item: &Map<String, Value>) -> bool {
        self.0.iter().all(|c| match c {
            Clause::BoolEq(p, v) => item.get(*p).and_then(Value::as_bool) == Some(*v),
            // String comparison in Graph's directory filters is case-insensitive.
            Clause::StrEq(p, v) => item
                .get(*p)
                .and_then(Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case(v)),
            Clause::StartsWith(p, v) => item
                .get(*p)
                .and_then(Value::as_str)
                .is_some_and(|s| s.to_lowercase().starts_with(&v.to_lowercase())),
            Clause::Any(p, v) => item.get(*p).and_then(Value::as_array).is_some_and(|a| {
                a.iter()
                    .any(|x| x.as_str().is_some_and(|s| s.eq_ignore_ascii_case(v)))
            }),
        })
    }
}

/// `$orderby`: `userPrincipalName` or `userDisplayName`, optionally `asc`/`desc`.
pub fn order(text: Option<&str>) -> Result<Option<(&'static str, bool)>, GraphError> {
    let Some(text) = text else {
        return Ok(None);
    };
    let mut words = text.split_whitespace();
    let prop = words.next().unwrap_or_default();
    let prop = canonical(&STRINGS[..2], prop).ok_or_else(|| {
        GraphError::bad_request(format!(
            "Invalid $orderby: ordering by '{prop}' is not supported (userPrincipalName, userDisplayName)."
        ))
    })?;
    let descending = match words.next() {
        None => false,
        Some(d) if d.eq_ignore_ascii_case("asc") => false,
        Some(d) if d.eq_ignore_ascii_case("desc") => true,
        Some(d) => {
            return Err(GraphError::bad_request(format!(
                "Invalid $orderby direction '{d}'."
            )));
        }
    };
    if words.next().is_some() {
        return Err(GraphError::bad_request(
            "Invalid $orderby: one property only.",
        ));
    }
    Ok(Some((prop, descending)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item() -> Map<String, Value> {
        json!({"userPrincipalName": "Adele.Vance@contoso.com", "userDisplayName": "Adele O'Vance",
               "userType": "member", "isAdmin": false, "isMfaRegistered": true,
               "methodsRegistered": ["mobilePhone", "email"]})
        .as_object()
        .cloned()
        .unwrap()
    }

    #[test]
    fn documented_forms_are_evaluated() {
        let ok = |f: &str| Filter::parse(Some(f)).unwrap().matches(&item());
        assert!(ok("isMfaRegistered eq true"));
        assert!(!ok("isAdmin eq true"));
        assert!(ok("userType eq 'Member' and isAdmin eq false"));
        assert!(ok("startsWith(userPrincipalName,'adele')"));
        assert!(ok("userDisplayName eq 'Adele O''Vance'"));
        assert!(ok("methodsRegistered/any(m: m eq 'mobilePhone')"));
        assert!(!ok("methodsRegistered/any(m: m eq 'fido2SecurityKey')"));
    }

    #[test]
    fn anything_else_is_a_400() {
        for f in [
            "isAdmin eq true or isMfaCapable eq true",
            "isAdmin ne true",
            "isAdmin eq 'yes'",
            "lastUpdatedDateTime gt 2024-01-01T00:00:00Z",
            "startsWith(userType,'m')",
            "id eq 'x'",
            "userType eq member",
            "",
        ] {
            let e = Filter::parse(Some(f)).unwrap_err();
            assert_eq!(e.status, 400, "{f}");
        }
        assert!(order(Some("isAdmin")).is_err());
        assert_eq!(
            order(Some("userPrincipalName desc")).unwrap(),
            Some(("userPrincipalName", true))
        );
    }
}
