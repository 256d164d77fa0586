//! Invariants the fuzz targets check on autoenroll-core, beyond "does not panic".
//!
//! This file is compiled twice: by the fuzz crate (fuzz/src/lib.rs) and, through `#[path]`, by
//! the ordinary regression test `shared/enroll/tests/fuzz_regressions.rs`, which replays every
//! committed seed and every input the fuzzer ever crashed on. So it may only use what
//! autoenroll-core's integration tests can use: autoenroll-core, serde_json, toml and std.
//! Each check panics (with a message that never repeats a secret) when an invariant breaks.

use std::collections::BTreeMap;

use autoenroll_core::ids;
use autoenroll_core::notification::{
    self, ChangeNotificationCollection, MAX_CLIENT_STATE_LEN, MAX_NOTIFICATIONS, Notification,
};
use autoenroll_core::phone::{self, PhoneRejection, RegionCode};
use autoenroll_core::policy::{self, MfaMode, Policy};

// ---------------------------------------------------------------------------------------------
// notification::parse_collection

/// Parse arbitrary bytes as a webhook body.
pub fn check_notification(data: &[u8]) {
    let result = notification::parse_collection(data);
    let shown = describe(&result);
    for s in client_states_seen_once(data) {
        if shown.contains(s.as_str()) {
            // The fuzzer can write a clientState that is a piece of our own error text ("…
            // `subscriptionId` is missing"). It leaked only if the text goes away once the
            // clientState is written differently.
            let text = String::from_utf8_lossy(data);
            let other = text.replacen(s.as_str(), &"Q".repeat(s.chars().count()), 1);
            let shown_other = describe(&notification::parse_collection(other.as_bytes()));
            assert!(
                shown_other.contains(s.as_str()),
                "the clientState shows in {}",
                match &result {
                    Ok(_) => "the Debug of a parsed collection".to_owned(),
                    Err(e) => format!("a {} parse error", e_kind(e)),
                }
            );
        }
    }
    if let Ok(collection) = &result {
        check_collection(collection);
    }
    // Parsing is a function of the bytes: the same body gives the same answer.
    assert_eq!(
        result,
        notification::parse_collection(data),
        "parse_collection is not deterministic"
    );
}

/// Everything a caller could print about a parse: the value's Debug, or the error's Display
/// (without serde's position suffix, whose digits are not from the body) and Debug.
fn describe(result: &Result<ChangeNotificationCollection, notification::ParseError>) -> String {
    match result {
        Ok(collection) => format!("{collection:?}"),
        Err(e) => format!("{}\n{e:?}", strip_serde_position(&e.to_string())),
    }
}

fn e_kind(e: &notification::ParseError) -> &'static str {
    match e {
        notification::ParseError::Malformed(_) => "Malformed",
        notification::ParseError::Empty => "Empty",
        notification::ParseError::TooMany { .. } => "TooMany",
        notification::ParseError::Item { .. } => "Item",
    }
}

fn check_collection(c: &ChangeNotificationCollection) {
    assert!(!c.value.is_empty(), "an accepted collection is empty");
    assert!(
        c.value.len() <= MAX_NOTIFICATIONS,
        "accepted more than MAX_NOTIFICATIONS"
    );
    for n in &c.value {
        assert_canonical_guid(n.subscription_id(), "subscriptionId");
        assert_canonical_guid(n.tenant_id(), "tenantId");
        if let Some(cs) = n.client_state() {
            assert!(
                cs.expose().chars().count() <= MAX_CLIENT_STATE_LEN,
                "accepted an over-long clientState"
            );
        }
        match n {
            Notification::Change(ch) => {
                assert_canonical_guid(&ch.user_id, "user id");
                assert_eq!(
                    notification::user_id_of(&ch.resource).as_deref(),
                    Some(ch.user_id.as_str()),
                    "user_id does not come from resource"
                );
            }
            Notification::Lifecycle(_) => {}
        }
    }
    assert_eq!(
        c.changes().count() + c.lifecycle_events().count(),
        c.value.len(),
        "changes() and lifecycle_events() do not partition the collection"
    );
}

fn assert_canonical_guid(s: &str, what: &str) {
    assert_eq!(
        ids::canonical_guid(s).as_deref(),
        Some(s),
        "{what} is not a lowercase GUID"
    );
}

/// clientState strings worth looking for in output: long enough not to match by accident
/// (16+ characters) and written exactly once, unescaped, in the body — so if they show up in an
/// error or a Debug, that text can only have come from the clientState.
fn client_states_seen_once(data: &[u8]) -> Vec<String> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    collect_client_states(&value, &mut found, 0);
    let text = String::from_utf8_lossy(data);
    found.retain(|s| s.chars().count() >= 16 && text.matches(s.as_str()).count() == 1);
    found
}

fn collect_client_states(v: &serde_json::Value, out: &mut Vec<String>, depth: usize) {
    if depth > 64 {
        return;
    }
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                if k == "clientState"
                    && let serde_json::Value::String(s) = v
                {
                    out.push(s.clone());
                }
                collect_client_states(v, out, depth + 1);
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                collect_client_states(v, out, depth + 1);
            }
        }
        _ => {}
    }
}

/// serde_json appends " at line L column C"; those digits are not from the body.
fn strip_serde_position(s: &str) -> String {
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_owned(),
        None => s.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// phone::normalize, mask, canonical

/// Regions the phone target reads national numbers with (`None` = international only).
pub const REGIONS: &[Option<&str>] = &[
    None,
    Some("NL"),
    Some("US"),
    Some("GB"),
    Some("DE"),
    Some("BE"),
    Some("FR"),
    Some("IT"),
    Some("ES"),
    Some("CA"),
    Some("AU"),
    Some("IN"),
    Some("BR"),
    Some("JP"),
    Some("ZA"),
    Some("SG"),
];

/// First byte picks the region, the rest is the raw value (lossy UTF-8, as AD text would be).
pub fn check_phone_bytes(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let region = REGIONS[usize::from(pick) % REGIONS.len()];
    check_phone(&String::from_utf8_lossy(rest), region);
}

pub fn check_phone(raw: &str, region: Option<&str>) {
    let region: Option<RegionCode> = region.map(|r| r.parse().expect("REGIONS are valid"));

    // The masking helpers must hold for any text, not only for what normalize accepts.
    check_mask(raw);
    let _ = phone::last_two(raw);
    let _ = phone::canonical(raw);
    assert!(
        phone::same_number(raw, raw),
        "a value is not the same number as itself"
    );

    match phone::normalize(raw, region) {
        Ok(n) => {
            assert_graph_format(&n.graph);
            assert_eq!(
                n.extension.is_some(),
                n.graph.contains('x'),
                "extension and Graph form disagree"
            );
            // Idempotent, and independent of the region once the country code is written.
            for again_region in [None, region] {
                let again = phone::normalize(&n.graph, again_region)
                    .unwrap_or_else(|e| panic!("a normalized number does not re-normalize: {e}"));
                assert_eq!(again.graph, n.graph, "re-normalizing changed the number");
                assert_eq!(again.kind, n.kind, "re-normalizing changed the kind");
                assert_eq!(
                    again.extension, n.extension,
                    "re-normalizing changed the ext"
                );
            }
            assert_eq!(
                phone::canonical(&n.graph).as_deref(),
                Some(n.graph.as_str())
            );
            assert!(phone::same_number(&n.graph, raw) || region.is_some());
            assert_eq!(
                phone::fingerprint("t", &n.graph),
                phone::fingerprint("T ", &n.graph),
                "fingerprint depends on tenant case"
            );
            check_masked_text(&n.masked(), "NormalizedPhone::masked");
            // The region may be "001" (non-geographic: +800, +882…); those digits are not the number's.
            let debug = format!("{n:?}").replace(&format!("region: {:?}", n.region), "");
            check_masked_text(&debug, "Debug of NormalizedPhone");
            let g = n.to_graph_number();
            check_masked_text(&format!("{g:?}"), "Debug of GraphNumber");
            check_masked_text(&format!("{g}"), "Display of GraphNumber");
            if n.extension.is_some() {
                assert!(!n.is_sms_capable(), "an extension counted as SMS-capable");
            }
        }
        Err(e) => {
            let shown = format!("{e} {e:?} {}", e.code());
            assert!(
                !shown.chars().any(char::is_numeric),
                "a rejection carries digits"
            );
            if let PhoneRejection::Placeholder(p) = &e {
                assert!(!p.is_empty(), "empty placeholder");
            }
        }
    }
}

/// `+{cc} {nsn}[x{ext}]`: 1–3 digit country code, ASCII digits only, one space.
fn assert_graph_format(g: &str) {
    let rest = g.strip_prefix('+').expect("Graph form starts with +");
    let (cc, rest) = rest.split_once(' ').expect("Graph form has a space");
    assert!(
        (1..=3).contains(&cc.len()) && cc.bytes().all(|b| b.is_ascii_digit()),
        "bad country code in Graph form"
    );
    let (nsn, ext) = match rest.split_once('x') {
        Some((n, e)) => (n, Some(e)),
        None => (rest, None),
    };
    assert!(
        !nsn.is_empty() && nsn.bytes().all(|b| b.is_ascii_digit()),
        "bad national number in Graph form"
    );
    if let Some(ext) = ext {
        assert!(
            !ext.is_empty() && ext.bytes().all(|b| b.is_ascii_digit()),
            "bad extension in Graph form"
        );
    }
}

fn check_mask(raw: &str) {
    let masked = phone::mask(raw);
    check_masked_text(&masked, "mask");
    assert!(
        masked.chars().count() <= raw.chars().count(),
        "mask made the text longer"
    );
}

/// At most a 1–3 digit country code plus 3 digits (the first national digit and the last two)
/// in clear, anywhere in the text.
fn check_masked_text(text: &str, what: &str) {
    let clear = clear_digits_beyond_country_code(text);
    assert!(clear <= 3, "{what}: {clear} digits in clear");
}

fn clear_digits_beyond_country_code(text: &str) -> usize {
    // Digits right after a '+' (up to 3, then a space) are the country code.
    let mut count = 0;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '+' {
            let cc_len = chars[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            if (1..=3).contains(&cc_len) && chars.get(i + 1 + cc_len) == Some(&' ') {
                i += 1 + cc_len;
                continue;
            }
        }
        if chars[i].is_numeric() {
            count += 1;
        }
        i += 1;
    }
    count
}

// ---------------------------------------------------------------------------------------------
// policy::Policy::from_toml_str / from_lookup

/// The policy target's input: TOML text, or (first byte 0xFF) `NAME=value` environment lines.
pub fn check_policy_bytes(data: &[u8]) {
    match data.split_first() {
        Some((0xFF, rest)) => check_policy_env(&String::from_utf8_lossy(rest)),
        _ => {
            if let Ok(text) = std::str::from_utf8(data) {
                check_policy_toml(text);
            }
        }
    }
}

pub fn check_policy_toml(text: &str) {
    let Ok(p) = Policy::from_toml_str(text) else {
        return;
    };
    check_policy(&p);
    // What we accepted, written back as a file, reads back as the same policy.
    let back = Policy::from_toml_str(&policy_to_toml(&p))
        .unwrap_or_else(|e| panic!("a valid policy written back does not parse: {e}"));
    assert_eq!(back, p, "policy file round trip changed the policy");
    // And the same settings given as environment variables give the same policy, unless a
    // value holds the list separator.
    if p.excluded_upns.iter().all(|u| !u.contains(',')) {
        let env = policy_to_env(&p);
        let from_env = Policy::from_lookup(|k| env.get(k).cloned())
            .unwrap_or_else(|e| panic!("a valid policy as env vars does not parse: {e}"));
        assert_eq!(from_env, p, "env and file give different policies");
    }
}

/// Lines `NAME=value` (NAME without the `AUTOENROLL_POLICY_` prefix, any case) as environment.
pub fn check_policy_env(text: &str) {
    let mut env = BTreeMap::new();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once('=') {
            let name = format!("AUTOENROLL_POLICY_{}", k.trim().to_ascii_uppercase());
            env.insert(name, v.to_owned());
        }
    }
    let mut asked = Vec::new();
    let result = Policy::from_lookup(|k| {
        asked.push(k.to_owned());
        env.get(k).cloned()
    });
    for k in &asked {
        assert!(
            policy::ENV_VARS.contains(&k.as_str()),
            "read an environment variable outside ENV_VARS"
        );
    }
    if let Ok(p) = result {
        check_policy(&p);
    }
}

fn check_policy(p: &Policy) {
    for g in p.excluded_groups.iter().chain(&p.scope_groups) {
        assert_canonical_guid(g, "group id");
    }
    if let MfaMode::Group(id) = &p.mfa_mode {
        assert_canonical_guid(id, "MFA group id");
        assert!(
            !p.excluded_groups.contains(id),
            "the MFA group is also excluded"
        );
        assert!(p.needs_group_membership());
    }
    for u in &p.excluded_upns {
        assert_eq!(u, &u.to_lowercase(), "excluded UPN not lowercase");
        assert!(
            u.contains('@') && !u.chars().any(char::is_whitespace),
            "excluded UPN not name@domain"
        );
        assert!(
            p.exclusion(Some(&u.to_uppercase()), &[]).is_some()
                || u.to_uppercase().to_lowercase() != *u,
            "an excluded UPN in upper case is not excluded"
        );
    }
    for g in &p.excluded_groups {
        assert!(
            p.exclusion(None, &[g.to_ascii_uppercase()]).is_some(),
            "an excluded group is not excluded"
        );
    }
    let scope: Vec<String> = p
        .scope_groups
        .iter()
        .map(|g| g.to_ascii_uppercase())
        .collect();
    assert!(p.in_scope(&scope), "a scope group member is out of scope");
}

fn policy_to_toml(p: &Policy) -> String {
    let mut t = toml::Table::new();
    if let Some(r) = &p.default_region {
        t.insert("default_region".into(), r.as_str().into());
    }
    t.insert("mfa_mode".into(), p.mfa_mode.to_string().into());
    t.insert("set_sms_default".into(), p.sms_default().to_string().into());
    let list = |s: &std::collections::BTreeSet<String>| {
        toml::Value::Array(s.iter().map(|v| v.as_str().into()).collect())
    };
    t.insert("excluded_upns".into(), list(&p.excluded_upns));
    t.insert("excluded_groups".into(), list(&p.excluded_groups));
    t.insert("scope_groups".into(), list(&p.scope_groups));
    t.insert("include_guests".into(), p.include_guests.into());
    t.insert(
        "on_number_change".into(),
        p.on_number_change.to_string().into(),
    );
    t.insert("office_fallback".into(), p.office_fallback.into());
    toml::to_string(&t).expect("a TOML table serializes")
}

fn policy_to_env(p: &Policy) -> BTreeMap<String, String> {
    let join =
        |s: &std::collections::BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(",");
    let mut env = BTreeMap::new();
    if let Some(r) = &p.default_region {
        env.insert(policy::ENV_DEFAULT_REGION.into(), r.as_str());
    }
    env.insert(policy::ENV_MFA_MODE.into(), p.mfa_mode.to_string());
    env.insert(
        policy::ENV_SET_SMS_DEFAULT.into(),
        p.sms_default().to_string(),
    );
    env.insert(policy::ENV_EXCLUDED_UPNS.into(), join(&p.excluded_upns));
    env.insert(policy::ENV_EXCLUDED_GROUPS.into(), join(&p.excluded_groups));
    env.insert(policy::ENV_SCOPE_GROUPS.into(), join(&p.scope_groups));
    env.insert(
        policy::ENV_INCLUDE_GUESTS.into(),
        p.include_guests.to_string(),
    );
    env.insert(
        policy::ENV_ON_NUMBER_CHANGE.into(),
        p.on_number_change.to_string(),
    );
    env.insert(
        policy::ENV_OFFICE_FALLBACK.into(),
        p.office_fallback.to_string(),
    );
    env
}
