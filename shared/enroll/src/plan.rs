//! The enrollment decision: one pure function from (policy, what the user looks like now) to
//! what to do. No I/O; `apply` performs the result.
//!
//! Choices made here (each covered by a test in `plan/tests.rs`):
//! - Skips in this order: excluded, deleted, guest, disabled, out of scope. Exclusion comes
//!   before everything else and needs only the UPN and group ids ([`excluded`]).
//! - A phone method the user registered (one whose number does not fingerprint to our memory)
//!   is never added over, updated or deleted. Such a user still has a usable method, so MFA may
//!   still be switched on: they can already complete it, and leaving them off MFA would leave
//!   exactly the window this project closes.
//! - A phone we registered is updated to a changed `mobilePhone` only under
//!   `update-managed`, and only to an SMS-capable number. We never delete a phone.
//! - If a phone we registered is gone while `mobilePhone` still holds the same number, someone
//!   removed it on purpose (e.g. "require re-register MFA"): we do not put it back.
//! - **Usable method** (passkey era, issue 15): a lasting second factor that does not depend on
//!   telephony (passkey/FIDO2, Windows Hello, platform credential, Authenticator, OATH), or a
//!   phone that Entra still delivers to *for this user at `now`* ([`crate::telephony`]: SMS or
//!   voice for a mobile, voice for an office or alternate phone). From 2027-02-01 (2027-07-01
//!   for Global Administrators and external users) a phone without a customer telecom
//!   provider in production is not usable: its owner meets a blocking passkey prompt, and
//!   whoever holds the password registers a passkey. SMS becomes the preferred method only
//!   where SMS is delivered.
//! - **Bootstrap** ([`Policy::bootstrap_effect`] on, the bootstrap read): a user with no usable
//!   method (`when-no-usable-method`; `always-for-new-users` adds users created in the last 30
//!   days whose only method is a phone) and no lasting one gets one Temporary Access Pass
//!   ([`Action::IssueTap`]) — never a user with a lasting method, never an excluded or
//!   out-of-scope one (skipped before), and only when the TAP method policy targets the user
//!   (else the note `tapNotAllowedByPolicy`). A live pass (valid now or later) means one is
//!   pending: no new one. Without a recipient (`choose_recipient`: the manager's mail, the
//!   directory mobile) the note names why. The pass starts at `employeeHireDate` when that is in
//!   the future (at most 30 days ahead); lifetime and one-time use come from the policy,
//!   clamped into the TAP policy's bounds. Re-issues after expiry are counted by the bootstrap
//!   store; past the policy's count the note is `bootstrapExpired`.
//! - **MFA requirement** — never require MFA from someone who cannot complete it. MFA (per-user
//!   state or the CA group) is switched on only when the user has, or will have after this
//!   plan, a usable method, **or a delivered, unexpired TAP**: the live pass our open bootstrap
//!   record names as delivered, or the pass this plan issues — `apply` stops at the first
//!   failure and a pass whose delivery failed is deleted, so the MFA step after
//!   [`Action::IssueTap`] runs only once the pass is in the right hands. A live pass without
//!   that record counts for nothing (a worker may have died between the create and the record:
//!   nobody holds it) and is replaced. Why count a pass: it satisfies MFA (Conditional Access "Multifactor
//!   authentication" strength, and the per-user MFA prompt at sign-in), so its holder can
//!   complete the requirement and register a passkey under it — and without MFA on, whoever has
//!   the password could register their own method first. Group (Conditional Access) mode is
//!   Microsoft's recommended path and ours; per-user mode follows the same rule.
//! - Per-user MFA is only ever raised (disabled → enabled → enforced), never lowered; an
//!   unknown future state is left alone.
//! - SMS becomes the preferred method only when an SMS-capable mobile is (or will be) there and
//!   the user has not chosen another method (`none` or unset); their own choice is kept. Under
//!   `set_sms_default = when-effective` (the default) only where Entra honours it: not when
//!   `isSystemPreferredAuthenticationMethodEnabled` is `true` for the user (the preference is
//!   then ignored outside the NPS extension / AD FS adapter — `always` is for those tenants).
//!   Not read or absent counts as off: the worst case is a redundant write, never a missing one.
//! - Data not read (`mfa_state` / `sign_in_preferences` = `None`) is treated as "not set":
//!   the PATCH is idempotent, so the worst case is a redundant write.

use autoenroll_graph::model::{
    AuthenticationMethod, PerUserMfaState, PhoneType, SignInPreferences, User,
};
use time::OffsetDateTime;

use crate::phone::{self, PhoneRejection};
use crate::policy::{MfaMode, NumberChangePolicy, Policy};
use crate::ports::ManagedPhone;
use crate::telephony::PhoneDelivery;

mod action;
mod bootstrap;
pub use action::{Action, Plan, SkipReason, mfa_state_str};
pub use bootstrap::BootstrapView;
pub(crate) use bootstrap::{has_lasting_method, has_pending_tap};

/// `@odata.type` of phone methods in `GET /users/{id}/authentication/methods`.
pub const PHONE_METHOD_TYPE: &str = "#microsoft.graph.phoneAuthenticationMethod";
/// `@odata.type` of a Temporary Access Pass, which does not count as a lasting method.
pub const TAP_METHOD_TYPE: &str = "#microsoft.graph.temporaryAccessPassAuthenticationMethod";

/// Everything the decision needs about one user, as read just now.
#[derive(Debug, Clone, PartialEq)]
pub struct UserView {
    /// Tenant the user lives in (keys the phone fingerprints in `managed`).
    pub tenant_id: String,
    pub user: User,
    /// `GET /users/{id}/authentication/methods`.
    pub methods: Vec<AuthenticationMethod>,
    /// Beta per-user MFA state; `None` when not read (treated as disabled).
    pub mfa_state: Option<PerUserMfaState>,
    /// Beta sign-in preferences; `None` when not read (treated as unset).
    pub sign_in_preferences: Option<SignInPreferences>,
    /// Object ids of the user's (transitive) groups; needed when
    /// [`Policy::needs_group_membership`].
    pub group_membership: Vec<String>,
    /// What we registered for this user before, from the memory store.
    pub managed: Option<ManagedPhone>,
    /// When the view was read: telephony and pass dates are decided against it.
    pub now: OffsetDateTime,
    /// Whether SMS / voice reach this user at `now` ([`crate::telephony`]).
    pub phone_delivery: PhoneDelivery,
    /// What a TAP bootstrap needs; `None` when bootstrap is off (no pass is planned).
    pub bootstrap: Option<BootstrapView>,
    /// The user's open bootstrap in the bootstrap store (the pass apply replaces or closes).
    pub open_bootstrap: Option<crate::bootstrap::OpenBootstrap>,
}

/// The exclusion check alone, from the UPN and group ids: call it before reading a user's
/// methods so a break-glass account is not read beyond what is needed to know it is excluded.
pub fn excluded(policy: &Policy, upn: Option<&str>, group_ids: &[String]) -> Option<SkipReason> {
    policy.exclusion(upn, group_ids).map(SkipReason::Excluded)
}

/// Guests by `userType`, or by the `#EXT#` UPN Entra gives invited users (in case `userType`
/// was not selected).
pub fn is_guest(user: &User) -> bool {
    user.user_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("guest"))
        || user
            .user_principal_name
            .as_deref()
            .is_some_and(|u| u.to_ascii_uppercase().contains("#EXT#"))
}

/// A phone method as listed in the user's methods.
#[derive(Debug, Clone)]
struct ExistingPhone {
    /// Canonical form when readable, else as Graph sent it.
    number: String,
    sms_capable: bool,
}

#[derive(Debug, Default)]
struct Phones {
    mobile: Option<ExistingPhone>,
    office: Option<ExistingPhone>,
    any: bool,
}

impl Phones {
    /// Whether a phone other than the mobile (office, alternate mobile: voice only) is there.
    fn any_voice_only(&self) -> bool {
        self.any && (self.office.is_some() || self.mobile.is_none())
    }
}

fn phones_of(methods: &[AuthenticationMethod]) -> Phones {
    let mut phones = Phones::default();
    for m in methods
        .iter()
        .filter(|m| m.odata_type.eq_ignore_ascii_case(PHONE_METHOD_TYPE))
    {
        phones.any = true;
        let number = m
            .properties
            .get("phoneNumber")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let parsed = phone::normalize(number, None).ok();
        let existing = ExistingPhone {
            sms_capable: parsed.as_ref().is_some_and(|p| p.is_sms_capable()),
            number: parsed.map(|p| p.graph).unwrap_or_else(|| number.to_owned()),
        };
        let phone_type = m
            .properties
            .get("phoneType")
            .and_then(|v| serde_json::from_value::<PhoneType>(v.clone()).ok());
        // Graph gives each phone type a fixed method id; trust the id when phoneType is absent.
        let is_type = |t: PhoneType| {
            phone_type == Some(t) || (phone_type.is_none() && t.method_id() == Some(m.id.as_str()))
        };
        if is_type(PhoneType::Mobile) {
            phones.mobile = Some(existing);
        } else if is_type(PhoneType::Office) {
            phones.office = Some(existing);
        }
    }
    phones
}

/// Whether memory says we registered a phone of this type holding `number` (canonical) —
/// confirmed, not merely a write in progress: the ground for "removed by someone, leave it".
fn memory_holds(view: &UserView, phone_type: PhoneType, number: &str) -> bool {
    view.managed
        .as_ref()
        .is_some_and(|m| m.confirms(phone_type, &phone::fingerprint(&view.tenant_id, number)))
}

/// Whether the phone holding `number` is ours: registered by us, or the target of a write of
/// ours whose outcome we never saw (it landed, then the answer or the worker was lost).
fn memory_claims(view: &UserView, phone_type: PhoneType, number: &str) -> bool {
    view.managed
        .as_ref()
        .is_some_and(|m| m.claims(phone_type, &phone::fingerprint(&view.tenant_id, number)))
}

/// The number (as the plan compares it) of the user's phone of `phone_type`, if any.
pub(crate) fn existing_number(view: &UserView, phone_type: PhoneType) -> Option<String> {
    let phones = phones_of(&view.methods);
    match phone_type {
        PhoneType::Mobile => phones.mobile,
        PhoneType::Office => phones.office,
        _ => None,
    }
    .map(|p| p.number)
}

fn rejection_reason(r: PhoneRejection) -> SkipReason {
    match r {
        PhoneRejection::Empty => SkipReason::NoNumber,
        other => SkipReason::InvalidNumber(other),
    }
}

/// Decide what to do for one user. Pure and deterministic.
pub fn plan(policy: &Policy, view: &UserView) -> Plan {
    let user = &view.user;
    if let Some(reason) = excluded(
        policy,
        user.user_principal_name.as_deref(),
        &view.group_membership,
    ) {
        return Plan::Skip(reason);
    }
    if user.removed.is_some() {
        return Plan::Skip(SkipReason::Deleted);
    }
    if is_guest(user) && !policy.include_guests {
        return Plan::Skip(SkipReason::Guest);
    }
    // accountEnabled not selected (None) is not a reason to skip: the enroll function selects
    // it, and a missing field must not leave a user unprotected.
    if user.account_enabled == Some(false) {
        return Plan::Skip(SkipReason::Disabled);
    }
    if !policy.in_scope(&view.group_membership) {
        return Plan::Skip(SkipReason::OutOfScope);
    }

    let phones = phones_of(&view.methods);
    let wanted = phone::normalize(
        user.mobile_phone.as_deref().unwrap_or_default(),
        policy.default_region,
    );
    let mut actions = Vec::new();
    let mut notes = Vec::new();
    // Whether a mobile phone that can receive SMS will be there after this plan.
    let mut sms_mobile_after = false;
    let mut respect_removal = false;

    match (&phones.mobile, wanted) {
        (Some(existing), Ok(wanted)) => {
            sms_mobile_after = existing.sms_capable;
            if existing.number == wanted.graph {
                // Already registered (by us or anyone): nothing to do.
            } else if !memory_claims(view, PhoneType::Mobile, &existing.number) {
                notes.push(SkipReason::SelfRegisteredPhoneDiffers);
            } else if !wanted.is_sms_capable() {
                notes.push(SkipReason::NotAMobileNumber);
            } else {
                match policy.on_number_change {
                    NumberChangePolicy::UpdateManaged => {
                        actions.push(Action::UpdateManagedMobile {
                            number: wanted.to_graph_number(),
                        });
                        sms_mobile_after = true;
                    }
                    NumberChangePolicy::ReportOnly => {
                        notes.push(SkipReason::NumberChangedReportOnly);
                    }
                }
            }
        }
        (Some(existing), Err(rejection)) => {
            // The directory lost (or never had) a good number; the phone stays as it is.
            sms_mobile_after = existing.sms_capable;
            if rejection != PhoneRejection::Empty {
                notes.push(rejection_reason(rejection));
            }
        }
        (None, Ok(wanted)) if wanted.is_sms_capable() => {
            if memory_holds(view, PhoneType::Mobile, &wanted.graph) {
                notes.push(SkipReason::ManagedPhoneRemoved);
                respect_removal = true;
            } else {
                actions.push(Action::AddMobile {
                    number: wanted.to_graph_number(),
                });
                sms_mobile_after = true;
            }
        }
        (None, Ok(_)) => notes.push(SkipReason::NotAMobileNumber),
        (None, Err(rejection)) => notes.push(rejection_reason(rejection)),
    }

    let mobile_after = phones.mobile.is_some() || sms_mobile_after;
    if policy.office_fallback && !mobile_after && phones.office.is_none() && !respect_removal {
        let office = user
            .business_phones
            .as_deref()
            .and_then(|b| b.first())
            .and_then(|raw| phone::normalize(raw, policy.default_region).ok())
            .filter(|o| o.kind.is_voice_capable());
        if let Some(office) = office {
            if memory_holds(view, PhoneType::Office, &office.graph) {
                notes.push(SkipReason::ManagedPhoneRemoved);
            } else {
                actions.push(Action::AddOffice {
                    number: office.to_graph_number(),
                });
            }
        }
    }

    let delivery = view.phone_delivery;
    let office_after = phones.office.is_some()
        || actions
            .iter()
            .any(|a| matches!(a, Action::AddOffice { .. }));
    let phone_usable = (mobile_after && delivery.any())
        || ((office_after || phones.any_voice_only()) && delivery.voice);
    let usable = phone_usable || has_lasting_method(&view.methods);
    let tap = bootstrap::decide(policy, view, usable);
    let tap_reason = match &tap {
        bootstrap::TapDecision::Cannot(reason) => Some(reason.clone()),
        _ => None,
    };
    let issues_tap = match tap {
        bootstrap::TapDecision::Issue(action) => {
            actions.push(action);
            true
        }
        _ => false,
    };
    if let Some(reason) = &tap_reason {
        notes.insert(0, reason.clone());
    }
    if !usable && !issues_tap && !has_pending_tap(view) {
        // Never switch MFA on for someone who could not complete it.
        let phone_only = mobile_after || office_after || phones.any;
        let reason = tap_reason
            .or_else(|| phone_only.then_some(SkipReason::PhoneNotDelivered))
            .or_else(|| notes.into_iter().next())
            .unwrap_or(SkipReason::NoNumber);
        return Plan::Skip(reason);
    }

    if policy.set_sms_default && sms_mobile_after && delivery.sms {
        let prefs = view.sign_in_preferences.as_ref();
        let current = prefs.and_then(|p| {
            p.user_preferred_method_for_secondary_authentication
                .as_deref()
        });
        let ignored_by_entra = prefs
            .and_then(|p| p.is_system_preferred_authentication_method_enabled)
            .unwrap_or(false);
        let takes_effect = policy.sms_default_always || !ignored_by_entra;
        if takes_effect && matches!(current, None | Some("none") | Some("")) {
            actions.push(Action::SetSmsPreferred);
        }
    }

    let target = match &policy.mfa_mode {
        MfaMode::PerUserEnabled => Some(PerUserMfaState::Enabled),
        MfaMode::PerUserEnforced => Some(PerUserMfaState::Enforced),
        MfaMode::Group(_) | MfaMode::None => None,
    };
    if let Some(target) = target {
        match view.mfa_state.unwrap_or(PerUserMfaState::Disabled) {
            PerUserMfaState::UnknownFutureValue => notes.push(SkipReason::MfaStateUnknown),
            current if mfa_rank(current) < mfa_rank(target) => {
                actions.push(Action::SetPerUserMfa { state: target });
            }
            _ => {}
        }
    }
    if let MfaMode::Group(group_id) = &policy.mfa_mode
        && !view
            .group_membership
            .iter()
            .any(|g| g.eq_ignore_ascii_case(group_id))
    {
        actions.push(Action::AddToGroup {
            group_id: group_id.clone(),
        });
    }

    Plan::Enroll { actions, notes }
}

fn mfa_rank(state: PerUserMfaState) -> u8 {
    match state {
        PerUserMfaState::Disabled => 0,
        PerUserMfaState::Enabled => 1,
        PerUserMfaState::Enforced => 2,
        PerUserMfaState::UnknownFutureValue => u8::MAX,
    }
}

#[cfg(test)]
mod tests;
