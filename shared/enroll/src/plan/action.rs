//! What a plan is made of: the writes ([`Action`]), the reasons ([`SkipReason`]) and the
//! [`Plan`] itself.

use autoenroll_graph::model::PerUserMfaState;
use serde::{Deserialize, Serialize};

use crate::delivery::Channel;
use crate::phone::{GraphNumber, PhoneRejection};
use crate::policy::Exclusion;

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
    /// `POST …/temporaryAccessPassMethods`, then hand the pass over on `channel`.
    /// `starts_at` (RFC 3339) `None` = at once.
    IssueTap {
        channel: Channel,
        starts_at: Option<String>,
        lifetime_minutes: u32,
        usable_once: bool,
    },
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
            Action::IssueTap { channel, .. } => format!("issueTap:{channel}"),
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
    /// The user's only method is a phone Entra no longer delivers to (SMS/voice retired, no
    /// telecom provider in production): MFA would lock them out.
    PhoneNotDelivered,
    /// A pass is wanted but the TAP method policy does not target the user.
    TapNotAllowedByPolicy,
    /// A pass is wanted but nobody can receive it (the first channel's problem code).
    NoPassRecipient(&'static str),
    /// Passes expired unused as often as the policy re-issues them.
    BootstrapExpired,
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
            SkipReason::PhoneNotDelivered => "phoneNotDelivered".into(),
            SkipReason::TapNotAllowedByPolicy => "tapNotAllowedByPolicy".into(),
            SkipReason::NoPassRecipient(problem) => format!("noPassRecipient:{problem}"),
            SkipReason::BootstrapExpired => "bootstrapExpired".into(),
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
