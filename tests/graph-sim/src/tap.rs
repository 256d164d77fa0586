//! Temporary Access Pass methods (v1.0): create, list, get, delete — checked against the TAP
//! method configuration of the authentication methods policy, usability driven by the
//! simulated clock.
//!
//! Sources: PASSKEY-ERA.md §3 (MGDC authentication-post-temporaryaccesspassmethods,
//! temporaryaccesspassauthenticationmethod-get / -delete, TAPHOW).

use axum::Router;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rand::RngExt;
use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};

use crate::AppState;
use crate::clock::{format_rfc3339, parse_rfc3339};
use crate::error::{GraphError, GraphResult};
use crate::methods::{change_auth, collection, created, object, only_keys};
use crate::odata::GraphJson;
use crate::pipeline::RequestInfo;
use crate::policy::MethodId;
use crate::state::{TapRecord, Tenant, UserRecord};

const BASE: &str = "/users/{user}/authentication/temporaryAccessPassMethods";

/// Graph's bounds for any pass, whatever the policy (MGDC create page).
const LIFETIME_BOUNDS: std::ops::RangeInclusive<u32> = 10..=43_200;

/// How far in the past `startDateTime` may lie. The docs only say it defaults to now; a start
/// well before creation is refused (stricter), with a little room for clock skew.
const START_SKEW: Duration = Duration::minutes(5);

/// Observed error when the TAP policy is disabled or does not include the user
/// (glueckkanja/MyWorkID issue #47); status and code unconfirmed: 400 `badRequest`.
const POLICY_REFUSED: &str = "Converged UserCredentialPolicy does not allow creating or updating this authentication method. AuthMethodType [TemporaryAccessPass].";
/// TAPHOW; status unconfirmed: 400 `badRequest`.
const EXTERNAL_GUEST: &str = "Temporary Access Pass cannot be added to an external guest user.";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(BASE, get(list_tap).post(add_tap))
        .route(
            &format!("{BASE}/{{method}}"),
            get(get_tap).delete(delete_tap),
        )
}

fn policy_error(message: &str) -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, "badRequest", message)
}

/// Whether the TAP policy lets `user` sign in with a pass.
pub(crate) fn policy_allows(tenant: &Tenant, user: &str) -> bool {
    tenant
        .methods_policy
        .targets_user(tenant, MethodId::TemporaryAccessPass, user)
}

/// `methodUsabilityReason` for a pass now (PascalCase values, MGDC resource page). Precedence
/// is undocumented: used, then expired, then not yet valid, then the policy.
pub(crate) fn usability(t: &TapRecord, now: OffsetDateTime, allowed: bool) -> &'static str {
    let end = t.start + Duration::minutes(i64::from(t.lifetime_in_minutes));
    if t.used_at.is_some() {
        "OneTimeUsed"
    } else if now >= end {
        "Expired"
    } else if now < t.start {
        "NotYetValid"
    } else if !allowed {
        "DisabledByPolicy"
    } else {
        "EnabledByPolicy"
    }
}

/// The pass as Graph returns it; the value only on creation (`reveal`), `null` otherwise.
pub(crate) fn tap_json(
    t: &TapRecord,
    now: OffsetDateTime,
    allowed: bool,
    reveal: bool,
) -> Map<String, Value> {
    let reason = usability(t, now, allowed);
    let v = json!({
        "id": t.id,
        "temporaryAccessPass": if reveal { Value::String(t.pass.clone()) } else { Value::Null },
        "createdDateTime": format_rfc3339(t.created),
        "startDateTime": format_rfc3339(t.start),
        "lifetimeInMinutes": t.lifetime_in_minutes,
        "isUsableOnce": t.is_usable_once,
        "isUsable": reason == "EnabledByPolicy",
        "methodUsabilityReason": reason,
    });
    v.as_object().cloned().unwrap_or_default()
}

/// Passes mix letters, digits and symbols like Graph's examples (`+drkzqAD`, `TAPRocks!`);
/// ambiguous characters are left out.
fn new_pass(state: &AppState, length: u32) -> String {
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789@#$%&*+=?!";
    let mut rng = state.control.rng.lock();
    (0..length)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

fn read<R>(
    state: &AppState,
    user: &str,
    f: impl FnOnce(&Tenant, &UserRecord) -> GraphResult<R>,
) -> GraphResult<R> {
    state.tenant.with(|t| match t.user(user) {
        Some(u) => f(t, u),
        None => Err(GraphError::not_found(user)),
    })
}

async fn list_tap(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    Path(user): Path<String>,
) -> GraphResult<Response> {
    let now = state.now();
    let items = read(&state, &user, |t, u| {
        let allowed = policy_allows(t, u.id());
        Ok(u.authentication
            .tap
            .iter()
            .map(|p| Value::Object(tap_json(p, now, allowed, false)))
            .collect())
    })?;
    Ok(collection(
        &state,
        &info,
        &user,
        "temporaryAccessPassMethods",
        items,
    ))
}

async fn get_tap(
    State(state): State<AppState>,
    Path((user, method)): Path<(String, String)>,
) -> GraphResult<Response> {
    let now = state.now();
    let body = read(&state, &user, |t, u| {
        let allowed = policy_allows(t, u.id());
        u.authentication
            .tap
            .as_ref()
            .filter(|p| p.id == method)
            .map(|p| tap_json(p, now, allowed, false))
            .ok_or_else(|| GraphError::not_found(&method))
    })?;
    Ok(axum::Json(Value::Object(body)).into_response())
}

async fn delete_tap(
    State(state): State<AppState>,
    Path((user, method)): Path<(String, String)>,
) -> GraphResult<StatusCode> {
    change_auth(&state, &user, |auth, _| {
        if auth.tap.as_ref().is_some_and(|t| t.id == method) {
            auth.tap = None;
            Ok(())
        } else {
            Err(GraphError::not_found(&method))
        }
    })?;
    Ok(StatusCode::NO_CONTENT)
}

/// What the request asks for, before the policy is consulted.
struct Wanted {
    start: Option<OffsetDateTime>,
    lifetime: Option<u32>,
    once: Option<bool>,
}

fn parse_body(body: &Value) -> GraphResult<Wanted> {
    let body = object(body)?;
    only_keys(
        body,
        &["startDateTime", "lifetimeInMinutes", "isUsableOnce"],
        &[
            "id",
            "temporaryAccessPass",
            "createdDateTime",
            "isUsable",
            "methodUsabilityReason",
        ],
    )?;
    let start = match body.get("startDateTime") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_str()
                .and_then(parse_rfc3339)
                .ok_or_else(|| GraphError::invalid_request("Invalid startDateTime."))?,
        ),
    };
    let lifetime = match body.get("lifetimeInMinutes") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| LIFETIME_BOUNDS.contains(n))
                .ok_or_else(|| {
                    GraphError::invalid_request("lifetimeInMinutes must be between 10 and 43200.")
                })?,
        ),
    };
    let once = match body.get("isUsableOnce") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_bool()
                .ok_or_else(|| GraphError::invalid_request("isUsableOnce must be a boolean."))?,
        ),
    };
    Ok(Wanted {
        start,
        lifetime,
        once,
    })
}

/// The pass the policy allows for `wanted`, or Graph's refusal. The status and text of the
/// limit errors are undocumented: 400 `badRequest` naming the limit.
fn plan_pass(
    t: &Tenant,
    u: &UserRecord,
    wanted: &Wanted,
    now: OffsetDateTime,
) -> GraphResult<(OffsetDateTime, u32, bool, u32)> {
    if u.upn().to_ascii_uppercase().contains("#EXT#") {
        return Err(policy_error(EXTERNAL_GUEST));
    }
    let policy = &t.methods_policy;
    let config = policy.config(MethodId::TemporaryAccessPass);
    let targeted = policy_allows(t, u.id());
    if !config.enabled || (!targeted && !policy.allow_tap_for_untargeted_users) {
        return Err(policy_error(POLICY_REFUSED));
    }
    let (min, max) = (
        config.setting_u32("minimumLifetimeInMinutes"),
        config.setting_u32("maximumLifetimeInMinutes"),
    );
    let lifetime = wanted
        .lifetime
        .unwrap_or_else(|| config.setting_u32("defaultLifetimeInMinutes"));
    if !(min..=max).contains(&lifetime) {
        return Err(policy_error(&format!(
            "The lifetime of the Temporary Access Pass must be between {min} and {max} minutes, as the Temporary Access Pass policy sets."
        )));
    }
    let policy_once = config.setting_bool("isUsableOnce");
    let once = wanted.once.unwrap_or(policy_once);
    if policy_once && !once {
        return Err(policy_error(
            "The Temporary Access Pass policy allows one-time passes only (isUsableOnce).",
        ));
    }
    let start = wanted.start.unwrap_or(now);
    if start < now - START_SKEW {
        return Err(GraphError::invalid_request(
            "startDateTime must not lie in the past.",
        ));
    }
    Ok((start, lifetime, once, config.setting_u32("defaultLength")))
}

/// `POST …/temporaryAccessPassMethods` → 201. One pass per user: creating one replaces the
/// existing pass (MGDC create page; TAPHOW "Replace").
async fn add_tap(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    Path(user): Path<String>,
    GraphJson(body): GraphJson<Value>,
) -> GraphResult<Response> {
    let wanted = parse_body(&body)?;
    let now = state.now();
    let (start, lifetime, once, length, allowed) = read(&state, &user, |t, u| {
        let (start, lifetime, once, length) = plan_pass(t, u, &wanted, now)?;
        Ok((start, lifetime, once, length, policy_allows(t, u.id())))
    })?;
    let record = TapRecord {
        id: uuid::Uuid::new_v4().to_string(),
        pass: new_pass(&state, length),
        created: now,
        start,
        lifetime_in_minutes: lifetime,
        is_usable_once: once,
        used_at: None,
    };
    change_auth(&state, &user, |auth, _| {
        auth.tap = Some(record.clone());
        Ok(())
    })?;
    let fragment = format!("users('{user}')/authentication/temporaryAccessPassMethods/$entity");
    Ok(created(
        tap_json(&record, now, allowed, true),
        &state,
        &info,
        &fragment,
    ))
}
