//! `/users`: list (paged), get by id or UPN, create, update, delete — and the same changes made
//! "from outside" (AD sync, HR provisioning) through the admin API.
//!
//! Source: https://learn.microsoft.com/graph/api/user-list, user-get, user-post-users,
//! user-update, user-delete; resources/user (default property set).

use axum::Router;
use axum::routing::get;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::AppState;
use crate::error::GraphResult;
use crate::odata;
use crate::seed::{self, UserSeed};
use crate::state::{AuthState, PerUserMfaState, PhoneRecord, PhoneType, UserRecord};

mod admin;
mod handlers;

pub(crate) use admin::{admin_create, admin_delete, admin_update};
use handlers::{create, delete, get_one, list, update};

/// Properties of `microsoft.graph.user` the simulator knows (the subset of the resource that
/// directory sync and provisioning set, plus identity fields).
pub const KNOWN_PROPERTIES: &[&str] = &[
    "id",
    "userPrincipalName",
    "displayName",
    "givenName",
    "surname",
    "mail",
    "mailNickname",
    "mobilePhone",
    "businessPhones",
    "faxNumber",
    "jobTitle",
    "department",
    "companyName",
    "employeeId",
    "employeeType",
    "employeeHireDate",
    "officeLocation",
    "streetAddress",
    "city",
    "state",
    "postalCode",
    "country",
    "usageLocation",
    "preferredLanguage",
    "accountEnabled",
    "userType",
    "creationType",
    "externalUserState",
    "otherMails",
    "proxyAddresses",
    "onPremisesSyncEnabled",
    "onPremisesImmutableId",
    "onPremisesSamAccountName",
    "onPremisesLastSyncDateTime",
    "onPremisesDomainName",
    "createdDateTime",
    "deletedDateTime",
    "passwordPolicies",
    "passwordProfile",
    "ageGroup",
];

/// v1.0 returns only these unless `$select` asks for more (resources/user, "Properties").
const V1_DEFAULT: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];

/// Set by the service, never by a PATCH.
const READ_ONLY: &[&str] = &[
    "id",
    "createdDateTime",
    "deletedDateTime",
    "creationType",
    "externalUserState",
    "onPremisesSyncEnabled",
    "onPremisesImmutableId",
    "onPremisesSamAccountName",
    "onPremisesLastSyncDateTime",
    "onPremisesDomainName",
    "proxyAddresses",
];

/// Attributes owned by on-premises AD for synced users: Graph refuses to change them
/// ("Unable to update the specified properties for on-premises mastered Directory Sync
/// objects", and since October 2020 mobilePhone too:
/// https://devblogs.microsoft.com/microsoft365dev/breaking-change-to-microsoft-graph-users-api-updates-to-on-premises-sync-enabled-user-contact-numbers-are-no-longer-allowed/).
const ON_PREMISES_MASTERED: &[&str] = &[
    "accountEnabled",
    "businessPhones",
    "city",
    "companyName",
    "country",
    "department",
    "displayName",
    "employeeId",
    "faxNumber",
    "givenName",
    "jobTitle",
    "mail",
    "mailNickname",
    "mobilePhone",
    "officeLocation",
    "postalCode",
    "state",
    "streetAddress",
    "surname",
    "userPrincipalName",
];

/// Write-only: accepted on create/update, never returned.
const WRITE_ONLY: &[&str] = &["passwordProfile"];

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/users", get(list).post(create))
        .route("/users/{user}", get(get_one).patch(update).delete(delete))
}

fn canonical(name: &str) -> Option<&'static str> {
    KNOWN_PROPERTIES
        .iter()
        .find(|k| k.eq_ignore_ascii_case(name))
        .copied()
}

/// Type checks for the properties whose type matters to clients.
fn check_types(props: &Map<String, Value>) -> Result<(), String> {
    for (k, v) in props {
        let ok = match k.as_str() {
            "accountEnabled" | "onPremisesSyncEnabled" => v.is_boolean() || v.is_null(),
            "businessPhones" | "otherMails" | "proxyAddresses" => {
                v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
            }
            "passwordProfile" => v.is_object(),
            "userType" => v.as_str().is_some_and(|s| s == "Member" || s == "Guest"),
            _ => v.is_string() || v.is_null(),
        };
        if !ok {
            return Err(format!(
                "Invalid value specified for property '{k}' of resource 'User'."
            ));
        }
    }
    Ok(())
}

/// Fills the properties Graph sets itself and normalises names.
fn complete(
    mut props: Map<String, Value>,
    now: OffsetDateTime,
) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for (k, v) in std::mem::take(&mut props) {
        let Some(name) = canonical(&k) else {
            return Err(format!(
                "Property '{k}' does not exist as a declared property or extension property."
            ));
        };
        out.insert(name.to_string(), v);
    }
    check_types(&out)?;
    let upn = out
        .get("userPrincipalName")
        .and_then(Value::as_str)
        .filter(|u| u.contains('@'))
        .ok_or("Invalid value specified for property 'userPrincipalName' of resource 'User'.")?
        .to_string();
    let id = match out.get("id").and_then(Value::as_str) {
        Some(id) => id.to_string(),
        None => seed::derived_id("user", &upn),
    };
    out.insert("id".into(), Value::String(id));
    let defaults = [
        ("accountEnabled", Value::Bool(true)),
        ("businessPhones", json!([])),
        ("userType", Value::String("Member".into())),
        ("mobilePhone", Value::Null),
        ("onPremisesSyncEnabled", Value::Null),
        (
            "createdDateTime",
            Value::String(crate::clock::format_rfc3339(now)),
        ),
    ];
    for (k, v) in defaults {
        out.entry(k.to_string()).or_insert(v);
    }
    for name in [
        "displayName",
        "givenName",
        "surname",
        "mail",
        "jobTitle",
        "officeLocation",
        "preferredLanguage",
    ] {
        out.entry(name.to_string()).or_insert(Value::Null);
    }
    if !out.contains_key("mailNickname") {
        let nick = upn.split('@').next().unwrap_or_default().to_string();
        out.insert("mailNickname".into(), Value::String(nick));
    }
    Ok(out)
}

fn auth_from_seed(
    seed: &crate::seed::AuthenticationSeed,
    user: &str,
    created: &str,
) -> Result<AuthState, String> {
    let mut auth = AuthState::default();
    for p in &seed.phone_methods {
        let phone_type = PhoneType::parse(&p.phone_type)
            .ok_or_else(|| format!("user {user}: unknown phoneType {}", p.phone_type))?;
        if !crate::methods::valid_phone_number(&p.phone_number) {
            return Err(format!("user {user}: phone number not in +CC NUMBER form"));
        }
        auth.phones.insert(
            phone_type,
            PhoneRecord {
                phone_number: p.phone_number.clone(),
                phone_type,
                sms_sign_in_state: crate::methods::sms_state(phone_type).into(),
            },
        );
    }
    if auth.phones.contains_key(&PhoneType::AlternateMobile)
        && !auth.phones.contains_key(&PhoneType::Mobile)
    {
        return Err(format!("user {user}: alternateMobile needs a mobile phone"));
    }
    auth.email = seed.email_address.clone();
    for entry in &seed.other_methods {
        // Derived ids: the first method of a kind gets `derived_id(kind, user)`, a second one
        // of the same kind is numbered.
        let same_kind = |kind: &str| auth.other.iter().filter(|o| o.kind == kind).count();
        let fallback = |kind: &str| match same_kind(kind) {
            0 => seed::derived_id(kind, user),
            n => seed::derived_id(&format!("{kind}#{n}"), user),
        };
        let method = crate::method_kinds::from_seed(entry, fallback, created)
            .map_err(|e| format!("user {user}: {e}"))?;
        auth.other.push(method);
    }
    if let Some(state) = &seed.per_user_mfa_state {
        auth.per_user_mfa_state = PerUserMfaState::parse(state)
            .ok_or_else(|| format!("user {user}: unknown perUserMfaState {state}"))?;
    }
    auth.preferred_secondary_method = seed.preferred_secondary_method.clone();
    auth.system_preferred_enabled = seed.system_preferred_enabled.unwrap_or(true);
    Ok(auth)
}

pub(crate) fn user_from_seed(
    seed: &UserSeed,
    now: OffsetDateTime,
) -> Result<UserRecord, crate::SimError> {
    let properties =
        complete(seed.properties.clone(), now).map_err(crate::SimError::InvalidSeed)?;
    let upn = properties
        .get("userPrincipalName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let created = properties
        .get("createdDateTime")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let authentication = auth_from_seed(&seed.authentication, &upn, &created)
        .map_err(crate::SimError::InvalidSeed)?;
    Ok(UserRecord {
        properties,
        authentication,
    })
}

/// Synthetic users for benches: numbers in the shapes AD holds, some without one.
pub(crate) fn synthetic_user(n: usize, domain: &str, now: OffsetDateTime) -> UserRecord {
    let upn = format!("synthetic{n}@{domain}");
    let mobile = match n % 6 {
        0 => Value::String(format!("+31 6{:08}", n % 100_000_000)),
        1 => Value::String(format!("06-{:08}", n % 100_000_000)),
        2 => Value::String(format!("+1 (206) 555-{:04}", n % 10_000)),
        3 => Value::String(format!("+44 7700 {:06}", n % 1_000_000)),
        4 => Value::Null,
        _ => Value::String("n/a".into()),
    };
    let mut props = Map::new();
    props.insert("userPrincipalName".into(), Value::String(upn));
    props.insert(
        "displayName".into(),
        Value::String(format!("Synthetic User {n}")),
    );
    props.insert("mobilePhone".into(), mobile);
    props.insert(
        "onPremisesSyncEnabled".into(),
        Value::Bool(n.is_multiple_of(2)),
    );
    let properties = complete(props, now).unwrap_or_default();
    UserRecord {
        properties,
        authentication: AuthState::default(),
    }
}

/// The user as Graph returns it: the version's default set, or `$select`.
pub(crate) fn render(
    user: &UserRecord,
    select: Option<&[String]>,
    version: &str,
) -> GraphResult<Map<String, Value>> {
    match select {
        Some(select) if !select.is_empty() => {
            if let Some(w) = select
                .iter()
                .find(|s| WRITE_ONLY.iter().any(|w| w.eq_ignore_ascii_case(s)))
            {
                return Ok(Map::from_iter([(w.clone(), Value::Null)]));
            }
            odata::project(
                &user.properties,
                select,
                KNOWN_PROPERTIES,
                "microsoft.graph.user",
            )
        }
        _ => {
            let mut out = Map::new();
            if version == "beta" {
                for (k, v) in &user.properties {
                    if !WRITE_ONLY.contains(&k.as_str()) && k != "deletedDateTime" {
                        out.insert(k.clone(), v.clone());
                    }
                }
            } else {
                for k in V1_DEFAULT {
                    out.insert(
                        (*k).to_string(),
                        user.properties.get(*k).cloned().unwrap_or(Value::Null),
                    );
                }
            }
            Ok(out)
        }
    }
}
