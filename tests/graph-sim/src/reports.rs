//! `GET /v1.0/reports/authenticationMethods/userRegistrationDetails[/{userId}]`, computed from
//! the simulator's own state (methods registered, the methods policy, telephony by date,
//! directory roles).
//!
//! Sources: PASSKEY-ERA.md §6 (learn authenticationmethodsroot-list-userregistrationdetails,
//! MGDC v1.0/resources/userregistrationdetails.md @06b859ba; licence: ACTIVITY; the 403 body:
//! MGDC issue #8777).
//!
//! Where the docs are silent the simulator chooses (README lists these):
//! - The report is computed live; Entra's is "not updated in real-time … latency of up to a few
//!   hours". Tests that need staleness model it themselves.
//! - Disabled users are not listed ("doesn't work for disabled users", learn list page) and
//!   `/{id}` of one is 404, like a deleted user.
//! - `isMfaCapable` counts a phone only while SMS or voice is delivered to the user on the
//!   simulated date (telephony.rs), and Authenticator/FIDO2 only while the methods policy targets
//!   the user; a TAP alone makes nobody MFA-registered or -capable (it is temporary).
//! - SSPR is not modelled: `isSsprEnabled` and `isSsprCapable` are always false.
//! - Page size 100 unless `$top` (1–999) asks for fewer; the real size is unconfirmed.

use axum::Router;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::error::{GraphError, GraphResult};
use crate::odata::{self, ODataQuery};
use crate::pipeline::RequestInfo;
use crate::policy::MethodId;
use crate::report_filter::{self, Filter};
use crate::state::{PhoneType, Tenant, UserRecord};

/// The tenant's Entra ID licence (seed `tenant.licence`). The default is `Free`: a tenant must
/// say it has P1/P2 to get the premium-only reports (the stricter choice).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Licence {
    #[default]
    Free,
    P1,
    P2,
}

impl Licence {
    pub fn is_premium(self) -> bool {
        matches!(self, Self::P1 | Self::P2)
    }
}

const PAGE_SIZE: usize = 100;

/// AAGUIDs of the passkey flavours method_kinds.rs seeds (Microsoft Authenticator iOS, iCloud
/// Keychain); any other FIDO2 method is reported as a security key.
const AUTHENTICATOR_PASSKEY_AAGUID: &str = "90a3ccdf-635c-4729-a248-9b709135078f";
const SYNCED_PASSKEY_AAGUID: &str = "fbfc3007-154e-4ecc-8c0b-6e020557d7bd";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/reports/authenticationMethods/userRegistrationDetails",
            get(list),
        )
        .route(
            "/reports/authenticationMethods/userRegistrationDetails/{user}",
            get(get_one),
        )
}

/// 403 for tenants without Entra ID P1/P2 (MGDC issue #8777; PASSKEY-ERA.md §6).
fn not_premium() -> GraphError {
    GraphError::new(
        StatusCode::FORBIDDEN,
        "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
        "Neither tenant is B2C or tenant doesn't have premium license",
    )
}

/// The `methodsRegistered` vocabulary of userSignInUsageByAuthMethodActivity (PASSKEY-ERA.md §6;
/// that the report uses exactly these names is unconfirmed).
fn methods_registered(user: &UserRecord) -> Vec<&'static str> {
    let a = &user.authentication;
    let mut out = Vec::new();
    for phone in a.phones.keys() {
        out.push(match phone {
            PhoneType::Mobile => "mobilePhone",
            PhoneType::AlternateMobile => "alternateMobilePhone",
            PhoneType::Office => "officePhone",
        });
    }
    if a.email.is_some() {
        out.push("email");
    }
    for m in &a.other {
        let name = match m.kind.as_str() {
            "microsoftAuthenticator" => "microsoftAuthenticatorPush",
            "softwareOath" => "softwareOneTimePasscode",
            "windowsHelloForBusiness" => "windowsHelloForBusiness",
            "platformCredential" => "macOsSecureEnclaveKey",
            "fido2" => match m.details.get("aaGuid").and_then(Value::as_str) {
                Some(g) if g.eq_ignore_ascii_case(AUTHENTICATOR_PASSKEY_AAGUID) => {
                    "passKeyDeviceBoundAuthenticator"
                }
                Some(g) if g.eq_ignore_ascii_case(SYNCED_PASSKEY_AAGUID) => "passKeySynced",
                _ => "fido2SecurityKey",
            },
            _ => continue,
        };
        if !out.contains(&name) {
            out.push(name);
        }
    }
    if a.tap.is_some() {
        out.push("temporaryAccessPass");
    }
    out
}

/// One user's row.
fn details(t: &Tenant, user: &UserRecord, now: time::OffsetDateTime) -> Map<String, Value> {
    let id = user.id();
    let a = &user.authentication;
    let telephony = crate::telephony::for_user(t, user, now);
    let policy = &t.methods_policy;
    let allowed = |m: MethodId| policy.targets_user(t, m, id);
    let mut registered = false;
    let mut capable = false;
    let mut passwordless = false;
    for phone in a.phones.keys() {
        registered = true;
        capable |=
            telephony.voice.delivered || (*phone == PhoneType::Mobile && telephony.sms.delivered);
    }
    for m in &a.other {
        registered = true;
        let (ok, pwless) = match m.kind.as_str() {
            "microsoftAuthenticator" => (allowed(MethodId::MicrosoftAuthenticator), false),
            "fido2" => (allowed(MethodId::Fido2), true),
            // Not in the modelled policy: always allowed.
            "windowsHelloForBusiness" | "platformCredential" => (true, true),
            _ => (true, false),
        };
        capable |= ok;
        passwordless |= ok && pwless;
    }
    let is_admin = t
        .directory_roles
        .values()
        .any(|r| r.members.iter().any(|m| m == id));
    let user_type = match user.properties.get("userType").and_then(Value::as_str) {
        Some(t) if t.eq_ignore_ascii_case("guest") => "guest",
        _ => "member",
    };
    let methods = methods_registered(user);
    let sspr_registered = methods
        .iter()
        .any(|m| *m != "temporaryAccessPass" && *m != "windowsHelloForBusiness");
    let preferred = a.preferred_secondary_method.as_deref().unwrap_or("none");
    let value = json!({
        "id": id,
        "userPrincipalName": user.upn(),
        "userDisplayName": user.properties.get("displayName").cloned().unwrap_or(Value::Null),
        "userType": user_type,
        "isAdmin": is_admin,
        "isMfaCapable": capable,
        "isMfaRegistered": registered,
        "isPasswordlessCapable": passwordless,
        "isSsprCapable": false,
        "isSsprEnabled": false,
        "isSsprRegistered": sspr_registered,
        "isSystemPreferredAuthenticationMethodEnabled": a.system_preferred_enabled,
        "systemPreferredAuthenticationMethods": system_preferred(user),
        "userPreferredMethodForSecondaryAuthentication": preferred,
        "methodsRegistered": methods,
        "lastUpdatedDateTime": crate::clock::format_rfc3339(now),
    });
    value.as_object().cloned().unwrap_or_default()
}

/// The documented values only (`push, oath, voiceMobile, voiceAlternateMobile, voiceOffice, sms,
/// none`), in system-preferred order (SPMFA: Authenticator, TOTP, telephony). Passkeys come first
/// in that order but have no documented value here, so they are left out. Empty when the user is
/// not enabled for system-preferred MFA.
fn system_preferred(user: &UserRecord) -> Vec<&'static str> {
    let a = &user.authentication;
    if !a.system_preferred_enabled {
        return Vec::new();
    }
    let has = |kind: &str| a.other.iter().any(|m| m.kind == kind);
    let pick = if has("microsoftAuthenticator") {
        "push"
    } else if has("softwareOath") {
        "oath"
    } else if a.phones.contains_key(&PhoneType::Mobile) {
        "sms"
    } else if a.phones.contains_key(&PhoneType::AlternateMobile) {
        "voiceAlternateMobile"
    } else if a.phones.contains_key(&PhoneType::Office) {
        "voiceOffice"
    } else {
        "none"
    };
    vec![pick]
}

fn listed(user: &UserRecord) -> bool {
    user.properties
        .get("accountEnabled")
        .and_then(Value::as_bool)
        != Some(false)
}

/// Query options this API documents (`$filter`, `$orderby`) plus paging; anything else is a 400
/// instead of being ignored.
fn check_options(query: &ODataQuery, allowed: &[&str]) -> GraphResult<()> {
    match query
        .options
        .keys()
        .find(|k| !allowed.contains(&k.as_str()))
    {
        Some(k) => Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "Request_UnsupportedQuery",
            format!("The query option '${k}' is not supported on userRegistrationDetails."),
        )),
        None => Ok(()),
    }
}

async fn list(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    query: ODataQuery,
) -> GraphResult<Response> {
    check_options(&query, &["filter", "orderby", "top", "skiptoken"])?;
    let filter = Filter::parse(query.get("filter"))?;
    let order = report_filter::order(query.get("orderby"))?;
    let top = query.top(PAGE_SIZE)?;
    let skip: usize = match query.get("skiptoken") {
        None => 0,
        Some(s) => s
            .strip_prefix('r')
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| GraphError::bad_request("Invalid $skiptoken."))?,
    };
    let now = state.now();
    let mut rows = state.tenant.with(|t| {
        if !t.licence.is_premium() {
            return Err(not_premium());
        }
        Ok(t.users
            .values()
            .filter(|u| listed(u))
            .map(|u| details(t, u, now))
            .filter(|row| filter.matches(row))
            .collect::<Vec<_>>())
    })?;
    if let Some((prop, descending)) = order {
        let key = |r: &Map<String, Value>| {
            r.get(prop)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_lowercase()
        };
        rows.sort_by_key(key);
        if descending {
            rows.reverse();
        }
    }
    let total = rows.len();
    let page: Vec<Value> = rows
        .into_iter()
        .skip(skip)
        .take(top)
        .map(Value::Object)
        .collect();
    let next = (skip + top < total).then(|| {
        let mut params = Vec::new();
        for name in ["filter", "orderby"] {
            if let Some(v) = query.get(name) {
                params.push((format!("${name}"), v.to_string()));
            }
        }
        params.push(("$top".into(), top.to_string()));
        params.push(("$skiptoken".into(), format!("r{}", skip + top)));
        format!(
            "{}/{}/reports/authenticationMethods/userRegistrationDetails?{}",
            state.base_url,
            info.version,
            serde_urlencoded::to_string(&params).unwrap_or_default()
        )
    });
    Ok(axum::Json(odata::collection(
        odata::context(
            &state.base_url,
            &info,
            "reports/authenticationMethods/userRegistrationDetails",
        ),
        page,
        next,
    ))
    .into_response())
}

async fn get_one(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    Path(user): Path<String>,
    query: ODataQuery,
) -> GraphResult<Response> {
    check_options(&query, &[])?;
    let now = state.now();
    let mut row = state.tenant.with(|t| {
        if !t.licence.is_premium() {
            return Err(not_premium());
        }
        // The key is the user's object id (`…/userRegistrationDetails/{userId}`); a UPN is not
        // documented as a key, so it is not accepted (stricter).
        t.users
            .get(&user)
            .filter(|u| listed(u))
            .map(|u| details(t, u, now))
            .ok_or_else(|| GraphError::not_found(&user))
    })?;
    row.insert(
        "@odata.context".into(),
        Value::String(odata::context(
            &state.base_url,
            &info,
            "reports/authenticationMethods/userRegistrationDetails/$entity",
        )),
    );
    Ok(axum::Json(Value::Object(row)).into_response())
}
