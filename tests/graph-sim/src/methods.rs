//! Authentication methods (filled in item 3).

use axum::Router;
use serde_json::Value;

use crate::AppState;
use crate::state::PhoneType;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}

pub(crate) fn beta_routes() -> Router<AppState> {
    Router::new()
}

/// `+{country code} {number}[x{extension}]`.
pub(crate) fn valid_phone_number(n: &str) -> bool {
    let Some(rest) = n.strip_prefix('+') else {
        return false;
    };
    let Some((cc, number)) = rest.split_once(' ') else {
        return false;
    };
    let (number, ext) = match number.split_once('x') {
        Some((n, e)) => (n, Some(e)),
        None => (number, None),
    };
    let digits = |s: &str, min: usize, max: usize| {
        (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    digits(cc, 1, 3) && !cc.starts_with('0') && digits(number, 4, 15) && ext.is_none_or(|e| digits(e, 1, 10))
}

pub(crate) fn sms_state(t: PhoneType) -> &'static str {
    match t {
        PhoneType::Mobile => "ready",
        _ => "notSupported",
    }
}

pub(crate) fn admin_register(_state: &AppState, user: &str, _method: Value) -> Result<(), String> {
    Err(format!("no user {user}"))
}
