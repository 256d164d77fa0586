//! The TAP part of the decision: whether the user gets a Temporary Access Pass now, and with
//! which start, lifetime and channel (the rules are in the parent module's doc).

use autoenroll_graph::model::AuthenticationMethod;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::{Action, PHONE_METHOD_TYPE, SkipReason, TAP_METHOD_TYPE, UserView};
use crate::coverage::MethodKind;
use crate::delivery::{Contacts, choose_recipient};
use crate::policy::{BootstrapEffect, BootstrapMode, MAX_START_DELAY_DAYS, Policy};
use crate::telephony::TapConfig;

/// What a TAP bootstrap needs to know about the user, read only when bootstrap is on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BootstrapView {
    /// The TAP method configuration, when it targets the user (`None`: not targeted, disabled
    /// or unread — Graph would refuse the pass or the user could not sign in with it).
    pub tap_policy: Option<TapConfig>,
    /// `GET /users/{id}/manager`: `None` no manager, `Some(None)` a manager without `mail`.
    pub manager_mail: Option<Option<String>>,
    /// The user's `employeeHireDate`.
    pub hire_date: Option<OffsetDateTime>,
    /// Passes issued so far in the open bootstrap (the bootstrap store), 0 when none is open.
    pub issued: u32,
}

/// A lasting second factor that does not depend on telephony: passkey/FIDO2, Windows Hello,
/// platform credential, Authenticator, OATH — and any type this version does not know that
/// Graph lists as a method (never password or e-mail, which are not second factors).
pub(crate) fn has_lasting_method(methods: &[AuthenticationMethod]) -> bool {
    methods.iter().any(|m| {
        m.is_strong()
            && !m.odata_type.eq_ignore_ascii_case(PHONE_METHOD_TYPE)
            && !m.odata_type.eq_ignore_ascii_case(TAP_METHOD_TYPE)
    })
}

/// A pass listed in the user's methods that is valid now or later (not expired, not used).
pub(crate) fn has_live_tap(methods: &[AuthenticationMethod]) -> bool {
    methods.iter().any(|m| {
        m.odata_type.eq_ignore_ascii_case(TAP_METHOD_TYPE)
            && MethodKind::from_odata_type(&m.odata_type, &m.properties)
                == MethodKind::TemporaryAccessPass { usable: true }
    })
}

/// A live pass that someone holds: only the pass our open bootstrap record names as delivered.
/// A live pass without such a record may be one a worker created and then lost before it
/// recorded or delivered it (a crash between Graph's answer and the write-ahead record):
/// nobody holds it, so counting it would raise MFA on a user who cannot complete it and block
/// the pass that would reach them. Such a pass is replaced (a TAP create replaces the user's
/// pass — learn temporaryaccesspassauthenticationmethod-post), also when an administrator
/// issued it by hand: with the bootstrap on, the pass travels through the configured channel.
pub(crate) fn has_pending_tap(view: &UserView) -> bool {
    let Some(open) = view.open_bootstrap.as_ref().filter(|o| o.delivered) else {
        return false;
    };
    view.methods
        .iter()
        .any(|m| m.id == open.tap_method_id && has_live_tap(std::slice::from_ref(m)))
}

/// New enough for `always-for-new-users`: created within the last [`MAX_START_DELAY_DAYS`]
/// (an unknown creation date is not new: a sweep must not hand passes to a whole tenant).
fn is_new(view: &UserView) -> bool {
    view.user
        .created_date_time
        .as_deref()
        .and_then(|c| OffsetDateTime::parse(c, &Rfc3339).ok())
        .is_some_and(|created| view.now - created <= Duration::days(MAX_START_DELAY_DAYS))
}

/// What the bootstrap decided: a pass to issue, a reason it cannot be, or nothing to do.
pub(super) enum TapDecision {
    None,
    Issue(Action),
    Cannot(SkipReason),
}

/// The pass for this user, given whether they will have a usable method after the plan.
pub(super) fn decide(policy: &Policy, view: &UserView, usable: bool) -> TapDecision {
    let BootstrapEffect::On { mode, delivery } = policy.bootstrap_effect() else {
        return TapDecision::None;
    };
    let Some(bootstrap) = &view.bootstrap else {
        return TapDecision::None;
    };
    if has_lasting_method(&view.methods) {
        return TapDecision::None;
    }
    let wanted = match mode {
        BootstrapMode::Off => false,
        BootstrapMode::WhenNoUsableMethod => !usable,
        BootstrapMode::AlwaysForNewUsers => !usable || is_new(view),
    };
    // A live pass is pending: its holder registers a method with it; no second one (Graph
    // would replace the first, which someone may be holding already).
    if !wanted || has_pending_tap(view) {
        return TapDecision::None;
    }
    let Some(tap) = &bootstrap.tap_policy else {
        return TapDecision::Cannot(SkipReason::TapNotAllowedByPolicy);
    };
    if bootstrap.issued > policy.bootstrap.tap.reissues {
        return TapDecision::Cannot(SkipReason::BootstrapExpired);
    }
    let contacts = Contacts {
        manager_mail: bootstrap.manager_mail.as_ref().map(|m| m.as_deref()),
        mobile_phone: view.user.mobile_phone.as_deref(),
        default_region: policy.default_region,
    };
    let recipient = match choose_recipient(delivery, &contacts) {
        Ok(r) => r,
        Err(problems) => {
            return TapDecision::Cannot(SkipReason::NoPassRecipient(
                problems
                    .into_iter()
                    .next()
                    .map(|p| p.code())
                    .unwrap_or("none"),
            ));
        }
    };
    let latest_start = view.now + Duration::days(MAX_START_DELAY_DAYS);
    let starts_at = bootstrap
        .hire_date
        .filter(|h| *h > view.now)
        .map(|h| h.min(latest_start));
    TapDecision::Issue(Action::IssueTap {
        channel: recipient.channel(),
        starts_at: starts_at.and_then(|s| s.format(&Rfc3339).ok()),
        lifetime_minutes: tap.lifetime(policy.bootstrap.tap.lifetime_minutes),
        // A one-time TAP policy makes every pass one-time whatever is asked.
        usable_once: policy.bootstrap.tap.one_time || tap.usable_once,
    })
}
