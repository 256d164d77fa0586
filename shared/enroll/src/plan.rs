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
//! - MFA is only switched on when the user has, or will have after this plan, a usable
//!   method: any phone, or another strong method. A Temporary Access Pass does not count
//!   (it expires; the user would be left with nothing).
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
use serde::{Deserialize, Serialize};

use crate::phone::{self, GraphNumber, PhoneRejection};
use crate::policy::{Exclusion, MfaMode, NumberChangePolicy, Policy};
use crate::ports::ManagedPhone;

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
}

/// One write to Graph. Numbers are [`GraphNumber`]s: logged masked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum Action {
    /// `POST /users/{id}/authentication/phoneMethods` `{phoneType: mobile}`.
    AddMobile { number: GraphNumber },
    /// `PATCH …/phoneMethods/{mobile id}` of a phone we registered.
    UpdateManagedMobile { number: GraphNumber },
    /// `POST …/phoneMethods` `{phoneType: office}` (voice only).
    AddOffice { number: GraphNumber },
    /// Beta `PATCH …/signInPreferences` `{userPreferredMethodForSecondaryAuthentication: sms}`.
    SetSmsPreferred,
    /// Beta `PATCH …/requirements` `{perUserMfaState}`.
    SetPerUserMfa { state: PerUserMfaState },
    /// `POST /groups/{id}/members/$ref` (the Conditional Access MFA group).
    AddToGroup { group_id: String },
}

impl Action {
    /// Stable label for audit records and metrics (no number in it).
    pub fn label(&self) -> String {
        match self {
            Action::AddMobile { .. } => "addMobile".into(),
            Action::UpdateManagedMobile { .. } => "updateManagedMobile".into(),
            Action::AddOffice { .. } => "addOffice".into(),
            Action::SetSmsPreferred => "setSmsPreferred".into(),
            Action::SetPerUserMfa { state } => format!("setPerUserMfa:{}", mfa_state_str(*state)),
            Action::AddToGroup { group_id } => format!("addToGroup:{group_id}"),
        }
    }

    /// The number this action writes, if any.
    pub fn number(&self) -> Option<&GraphNumber> {
        match self {
            Action::AddMobile { number }
            | Action::UpdateManagedMobile { number }
            | Action::AddOffice { number } => Some(number),
            _ => None,
        }
    }

    pub fn is_phone_write(&self) -> bool {
        self.number().is_some()
    }

    pub fn enables_mfa(&self) -> bool {
        matches!(
            self,
            Action::SetPerUserMfa { .. } | Action::AddToGroup { .. }
        )
    }
}

pub fn mfa_state_str(state: PerUserMfaState) -> &'static str {
    match state {
        PerUserMfaState::Disabled => "disabled",
        PerUserMfaState::Enabled => "enabled",
        PerUserMfaState::Enforced => "enforced",
        PerUserMfaState::UnknownFutureValue => "unknownFutureValue",
    }
}

/// Why a user, or part of what the policy asks for, was left alone.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// Soft-deleted (`@removed` in delta) or gone.
    Deleted,
    /// Break-glass / service account: by UPN or group.
    Excluded(Exclusion),
    Guest,
    Disabled,
    OutOfScope,
    /// `mobilePhone` is empty.
    NoNumber,
    InvalidNumber(PhoneRejection),
    /// Valid, but fixed-line / toll-free / with an extension: no SMS would arrive.
    NotAMobileNumber,
    /// The user registered a mobile phone of their own with another number; left as it is.
    SelfRegisteredPhoneDiffers,
    /// Our phone holds an old number and the policy says report only.
    NumberChangedReportOnly,
    /// Our phone was removed by someone and `mobilePhone` has not changed since: not re-added.
    ManagedPhoneRemoved,
    /// Per-user MFA state is a value this version does not know; left alone.
    MfaStateUnknown,
}

impl SkipReason {
    /// Stable code for audit records and metrics.
    pub fn code(&self) -> String {
        match self {
            SkipReason::Deleted => "deleted".into(),
            SkipReason::Excluded(Exclusion::Upn) => "excluded:upn".into(),
            SkipReason::Excluded(Exclusion::Group(g)) => format!("excluded:group:{g}"),
            SkipReason::Guest => "guest".into(),
            SkipReason::Disabled => "disabled".into(),
            SkipReason::OutOfScope => "outOfScope".into(),
            SkipReason::NoNumber => "noNumber".into(),
            SkipReason::InvalidNumber(r) => format!("invalidNumber:{}", r.code()),
            SkipReason::NotAMobileNumber => "notAMobileNumber".into(),
            SkipReason::SelfRegisteredPhoneDiffers => "selfRegisteredPhoneDiffers".into(),
            SkipReason::NumberChangedReportOnly => "numberChangedReportOnly".into(),
            SkipReason::ManagedPhoneRemoved => "managedPhoneRemoved".into(),
            SkipReason::MfaStateUnknown => "mfaStateUnknown".into(),
        }
    }
}

/// What to do for one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Leave the user entirely alone.
    Skip(SkipReason),
    /// Perform `actions` in order (phone, then preference, then MFA; possibly none: already
    /// enrolled). `notes` say what the policy asked for but was deliberately not done.
    Enroll {
        actions: Vec<Action>,
        notes: Vec<SkipReason>,
    },
}

impl Plan {
    pub fn actions(&self) -> &[Action] {
        match self {
            Plan::Skip(_) => &[],
            Plan::Enroll { actions, .. } => actions,
        }
    }

    /// Every reason in the plan: the skip reason, or the notes.
    pub fn reasons(&self) -> Vec<SkipReason> {
        match self {
            Plan::Skip(r) => vec![r.clone()],
            Plan::Enroll { notes, .. } => notes.clone(),
        }
    }
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

/// Whether the user has a lasting strong method other than phones.
fn has_other_usable_method(methods: &[AuthenticationMethod]) -> bool {
    methods.iter().any(|m| {
        m.is_strong()
            && !m.odata_type.eq_ignore_ascii_case(PHONE_METHOD_TYPE)
            && !m.odata_type.eq_ignore_ascii_case(TAP_METHOD_TYPE)
    })
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

    let usable = phones.any
        || has_other_usable_method(&view.methods)
        || actions.iter().any(Action::is_phone_write);
    if !usable {
        // Never switch MFA on for someone who could not complete it.
        let reason = notes.into_iter().next().unwrap_or(SkipReason::NoNumber);
        return Plan::Skip(reason);
    }

    if policy.set_sms_default && sms_mobile_after {
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
