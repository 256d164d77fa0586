//! MFA coverage of one user, for `autoenroll report`: which state the user is in (protected by a
//! phishing-resistant method, by other MFA, by SMS/voice only, bootstrap pending, stuck, or
//! excluded), why, and what to do next. [`classify`] is pure: the CLI reads Graph, this decides.
//!
//! Both data sources map into the same [`MethodKind`]s: the per-user method list
//! (`@odata.type`, [`MethodKind::from_odata_type`]) and the registration report's
//! `methodsRegistered` ([`MethodKind::from_registration`]), so one function classifies either.
//!
//! SMS/voice retirement (../shared/graph-spec/PASSKEY-ERA.md, "Dates" and §2): Microsoft-provided
//! SMS and voice stop on 2027-02-01, on 2027-07-01 for Global Administrators and external users
//! (internal guests are in the February group); after that a phone works only through a
//! customer-managed telecom provider in production mode (evaluation off, 100 % migrated).

use serde::Serialize;
use time::{Date, Month};

use crate::phone::{self, RegionCode};
use crate::plan::SkipReason;

/// Retirement of Microsoft-provided SMS/voice for most users.
pub const RETIREMENT: Date = match Date::from_calendar_date(2027, Month::February, 1) {
    Ok(d) => d,
    Err(_) => panic!("valid date"),
};
/// Retirement for Global Administrators and external users.
pub const RETIREMENT_LATE: Date = match Date::from_calendar_date(2027, Month::July, 1) {
    Ok(d) => d,
    Err(_) => panic!("valid date"),
};

/// A registered authentication method, by what it means for protection.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum MethodKind {
    /// FIDO2 security key or passkey (device-bound or synced).
    Passkey,
    WindowsHello,
    /// macOS Platform SSO credential.
    PlatformCredential,
    Authenticator,
    SoftwareOath,
    HardwareOath,
    /// SMS/voice on a mobile, alternate mobile or office phone.
    Phone,
    /// A Temporary Access Pass: `usable` = valid now or later (not expired, not used).
    TemporaryAccessPass {
        usable: bool,
    },
    /// SSPR-only or primary-only (email, security questions, password): not a second factor.
    NotMfa,
    /// A type this version does not know: shown, never counted as protection.
    Unknown(String),
}

impl MethodKind {
    /// From `GET /users/{id}/authentication/methods` (`@odata.type` and, for a TAP, its
    /// `isUsable` / `methodUsabilityReason`).
    pub fn from_odata_type(
        odata_type: &str,
        properties: &serde_json::Map<String, serde_json::Value>,
    ) -> Self {
        let stem = odata_type
            .trim_start_matches("#microsoft.graph.")
            .trim_end_matches("AuthenticationMethod");
        match stem.to_ascii_lowercase().as_str() {
            "fido2" | "passkey" => MethodKind::Passkey,
            "windowshelloforbusiness" => MethodKind::WindowsHello,
            "platformcredential" => MethodKind::PlatformCredential,
            "microsoftauthenticator" => MethodKind::Authenticator,
            "softwareoath" => MethodKind::SoftwareOath,
            "hardwareoath" => MethodKind::HardwareOath,
            "phone" => MethodKind::Phone,
            "temporaryaccesspass" => MethodKind::TemporaryAccessPass {
                usable: tap_usable(properties),
            },
            "password" | "email" => MethodKind::NotMfa,
            _ => MethodKind::Unknown(stem.to_owned()),
        }
    }

    /// From `userRegistrationDetails.methodsRegistered` (vocabulary: PASSKEY-ERA.md §6). The
    /// report does not say whether a TAP is still usable; listed, it is taken as usable.
    pub fn from_registration(name: &str) -> Self {
        match name {
            "fido2"
            | "fido2SecurityKey"
            | "passKeyDeviceBound"
            | "passKeyDeviceBoundAuthenticator"
            | "passKeyDeviceBoundWindowsHello"
            | "passKeySynced" => MethodKind::Passkey,
            "windowsHelloForBusiness" => MethodKind::WindowsHello,
            "macOsSecureEnclaveKey" | "platformCredential" => MethodKind::PlatformCredential,
            "microsoftAuthenticatorPush" | "microsoftAuthenticatorPasswordless" => {
                MethodKind::Authenticator
            }
            "softwareOneTimePasscode" => MethodKind::SoftwareOath,
            "hardwareOneTimePasscode" => MethodKind::HardwareOath,
            "mobilePhone" | "alternateMobilePhone" | "officePhone" => MethodKind::Phone,
            "temporaryAccessPass" => MethodKind::TemporaryAccessPass { usable: true },
            "email" | "securityQuestion" | "password" => MethodKind::NotMfa,
            other => MethodKind::Unknown(other.to_owned()),
        }
    }

    pub fn is_phishing_resistant(&self) -> bool {
        matches!(
            self,
            MethodKind::Passkey | MethodKind::WindowsHello | MethodKind::PlatformCredential
        )
    }

    /// A lasting second factor that does not depend on telephony.
    fn is_other_mfa(&self) -> bool {
        matches!(
            self,
            MethodKind::Authenticator | MethodKind::SoftwareOath | MethodKind::HardwareOath
        )
    }

    pub fn label(&self) -> String {
        match self {
            MethodKind::Passkey => "passkey/FIDO2".into(),
            MethodKind::WindowsHello => "Windows Hello".into(),
            MethodKind::PlatformCredential => "platform credential".into(),
            MethodKind::Authenticator => "Authenticator".into(),
            MethodKind::SoftwareOath => "software OATH".into(),
            MethodKind::HardwareOath => "hardware OATH".into(),
            MethodKind::Phone => "phone (SMS/voice)".into(),
            MethodKind::TemporaryAccessPass { usable: true } => "TAP".into(),
            MethodKind::TemporaryAccessPass { usable: false } => "TAP (expired/used)".into(),
            MethodKind::NotMfa => "password/email (not MFA)".into(),
            MethodKind::Unknown(t) => t.clone(),
        }
    }
}

/// `isUsable` when Graph sent it, else `methodUsabilityReason` (`NotYetValid` counts: the pass
/// is pending); neither sent → usable (a listed pass is assumed alive rather than ignored).
fn tap_usable(properties: &serde_json::Map<String, serde_json::Value>) -> bool {
    let reason = properties
        .get("methodUsabilityReason")
        .and_then(|v| v.as_str());
    match (properties.get("isUsable").and_then(|v| v.as_bool()), reason) {
        (_, Some("Expired" | "OneTimeUsed" | "DisabledByPolicy")) => false,
        (_, Some("NotYetValid" | "EnabledByPolicy")) => true,
        (Some(usable), _) => usable,
        (None, _) => true,
    }
}

/// The telecom provider configured for SMS/voice (beta `telecomProviderSettings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Provider {
    /// Not read (no permission, or the API is not available): dates apply as if none.
    Unknown,
    None,
    /// `isEvaluationModeEnabled`: messages still go through Microsoft until the retirement.
    Evaluation,
    /// Production, but under 100 %: per-user delivery after the retirement is indeterminate.
    Partial,
    Production,
}

/// What the tenant's policy says about telephony, read once per report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Telephony {
    /// SMS or Voice enabled in the methods policy; `None` = not read (assumed enabled).
    pub sms_or_voice_enabled: Option<bool>,
    pub provider: Provider,
}

impl Default for Telephony {
    fn default() -> Self {
        Telephony {
            sms_or_voice_enabled: None,
            provider: Provider::Unknown,
        }
    }
}

/// Everything [`classify`] looks at for one user.
#[derive(Debug, Clone)]
pub struct CoverageInput<'a> {
    /// A policy exclusion (UPN, group, out of scope): the account is not read further.
    pub excluded: Option<SkipReason>,
    pub methods: &'a [MethodKind],
    pub is_global_admin: bool,
    /// `userType` Guest (or an `#EXT#` UPN).
    pub is_guest: bool,
    /// An `#EXT#` UPN: an external user (July retirement); internal guests retire in February.
    pub is_external: bool,
    /// `accountEnabled`; `None` = not known (the registration report omits disabled users).
    pub account_enabled: Option<bool>,
    /// The directory `mobilePhone`, as read; `None` = not read.
    pub mobile_phone: Option<&'a str>,
    pub default_region: Option<RegionCode>,
    pub telephony: Telephony,
    pub today: Date,
}

/// The state of one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum State {
    PhishingResistant,
    OtherMfa,
    SmsVoiceOnly,
    BootstrapPending,
    Stuck,
    Excluded,
}

impl State {
    pub const ALL: [State; 6] = [
        State::PhishingResistant,
        State::OtherMfa,
        State::SmsVoiceOnly,
        State::BootstrapPending,
        State::Stuck,
        State::Excluded,
    ];

    pub fn code(self) -> &'static str {
        match self {
            State::PhishingResistant => "phishingResistant",
            State::OtherMfa => "otherMfa",
            State::SmsVoiceOnly => "smsVoiceOnly",
            State::BootstrapPending => "bootstrapPending",
            State::Stuck => "stuck",
            State::Excluded => "excluded",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            State::PhishingResistant => "protected: phishing-resistant",
            State::OtherMfa => "protected: other MFA",
            State::SmsVoiceOnly => "SMS/voice only",
            State::BootstrapPending => "bootstrap pending",
            State::Stuck => "stuck",
            State::Excluded => "excluded",
        }
    }
}

/// The verdict for one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Coverage {
    pub state: State,
    /// Why stuck or excluded (a stable code: `noNumber`, `phoneNotDelivered`, `excluded:upn`…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// SMS/voice only: the day the phone stops working (none with a production provider).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "iso_date")]
    pub breaks_on: Option<Date>,
    pub next_step: String,
}

impl Coverage {
    /// Users someone has to act for or wait on: stuck, SMS/voice only with a date, or holding
    /// nothing but a Temporary Access Pass (not protected yet: when it runs out unused the user
    /// is stuck).
    pub fn is_at_risk(&self) -> bool {
        self.state == State::Stuck
            || self.state == State::BootstrapPending
            || (self.state == State::SmsVoiceOnly && self.breaks_on.is_some())
    }
}

/// `YYYY-MM-DD` (time's own serde form is a tuple).
fn iso_date<S: serde::Serializer>(date: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
    match date {
        Some(d) => s.collect_str(d),
        None => s.serialize_none(),
    }
}

/// The retirement date that applies to a user.
pub fn retirement_for(is_global_admin: bool, is_external: bool) -> Date {
    if is_global_admin || is_external {
        RETIREMENT_LATE
    } else {
        RETIREMENT
    }
}

/// Classify one user. Pure and deterministic.
pub fn classify(input: &CoverageInput<'_>) -> Coverage {
    if let Some(reason) = &input.excluded {
        return verdict(
            State::Excluded,
            Some(reason.code()),
            "none: excluded by policy (break-glass accounts: keep a phishing-resistant method and monitor their sign-ins)",
        );
    }
    let methods = input.methods;
    if methods.iter().any(MethodKind::is_phishing_resistant) {
        return verdict(State::PhishingResistant, None, "none");
    }
    if methods.iter().any(MethodKind::is_other_mfa) {
        return verdict(
            State::OtherMfa,
            None,
            "none needed; a passkey would make the account phishing-resistant",
        );
    }
    if methods.contains(&MethodKind::TemporaryAccessPass { usable: true }) {
        return verdict(
            State::BootstrapPending,
            None,
            "wait for the user to register a passkey with their Temporary Access Pass",
        );
    }
    if methods.contains(&MethodKind::Phone) {
        return phone_only(input);
    }
    stuck_without_method(input)
}

fn verdict(state: State, reason: Option<String>, next_step: &str) -> Coverage {
    Coverage {
        state,
        reason,
        breaks_on: None,
        next_step: next_step.to_owned(),
    }
}

fn phone_only(input: &CoverageInput<'_>) -> Coverage {
    if input.telephony.sms_or_voice_enabled == Some(false) {
        return verdict(
            State::Stuck,
            Some("phoneMethodDisabled".into()),
            "SMS and voice are disabled in the methods policy: issue a Temporary Access Pass so the user registers a passkey",
        );
    }
    let cutoff = retirement_for(input.is_global_admin, input.is_external);
    if input.telephony.provider == Provider::Production {
        return verdict(
            State::SmsVoiceOnly,
            None,
            "none while the telecom provider stays in production; a passkey would remove the dependency",
        );
    }
    if input.today >= cutoff {
        return verdict(
            State::Stuck,
            Some("phoneNotDelivered".into()),
            &format!(
                "SMS/voice no longer delivered since {cutoff}: issue a Temporary Access Pass so the user registers a passkey (or put a telecom provider in production)"
            ),
        );
    }
    let days = (cutoff - input.today).whole_days();
    Coverage {
        state: State::SmsVoiceOnly,
        reason: None,
        breaks_on: Some(cutoff),
        next_step: format!(
            "register a passkey or Authenticator within {days} day(s): on {cutoff} SMS/voice stop and the user meets a blocking passkey prompt"
        ),
    }
}

fn stuck_without_method(input: &CoverageInput<'_>) -> Coverage {
    let had_tap = input
        .methods
        .iter()
        .any(|m| matches!(m, MethodKind::TemporaryAccessPass { usable: false }));
    let stuck = |reason: &str, next: &str| verdict(State::Stuck, Some(reason.to_owned()), next);
    if input.account_enabled == Some(false) {
        return stuck(
            "disabled",
            "none while disabled; give the account a method before enabling it again",
        );
    }
    if had_tap {
        return stuck(
            "bootstrapExpired",
            "the Temporary Access Pass expired or was used without a method registered: issue a new one and check it reached the user",
        );
    }
    if input.is_guest {
        return stuck(
            "guest",
            "guests are not enrolled by autoenroll: trust their home tenant's MFA (cross-tenant access settings) or ask them to register a method",
        );
    }
    let cutoff = retirement_for(input.is_global_admin, input.is_external);
    let phone_works = input.today < cutoff || input.telephony.provider == Provider::Production;
    let Some(raw) = input.mobile_phone else {
        return stuck(
            "noMethod",
            "register a method for the user (or issue a Temporary Access Pass)",
        );
    };
    match phone::normalize(raw, input.default_region) {
        Err(rejection) => {
            let reason = match rejection {
                phone::PhoneRejection::Empty => SkipReason::NoNumber,
                other => SkipReason::InvalidNumber(other),
            };
            stuck(
                &reason.code(),
                "fix the mobile number in AD/HR, or issue a Temporary Access Pass so the user registers a passkey",
            )
        }
        Ok(n) if !n.is_sms_capable() => stuck(
            "notAMobileNumber",
            "the directory number is not a mobile: fix it in AD/HR, or issue a Temporary Access Pass",
        ),
        Ok(_) if phone_works => stuck(
            "notEnrolled",
            "run `autoenroll apply`: it registers the directory mobile (a stopgap until the retirement; plan a passkey)",
        ),
        Ok(_) => stuck(
            "notEnrolled",
            "issue a Temporary Access Pass so the user registers a passkey (SMS/voice are no longer delivered)",
        ),
    }
}

#[cfg(test)]
#[path = "coverage/tests.rs"]
mod tests;
