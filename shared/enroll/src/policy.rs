//! What the organisation wants: one validated struct, loaded from the Lambda environment
//! (`AUTOENROLL_POLICY_*`, the names in ARCHITECTURE.md) or from a TOML file (the CLI; see
//! `shared/enroll/autoenroll.example.toml`). Unknown keys and bad values are errors that name the
//! key. Defaults are the safe ones: no default region (only international numbers are read),
//! per-user MFA `enabled` (which Entra itself upgrades to `enforced` once a method exists),
//! SMS as the default method where Entra honours it, guests excluded, a changed number only updates a phone we
//! registered, no office fallback.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use crate::ids;
use crate::phone::RegionCode;
use crate::telephony::TelephonySetting;

mod bootstrap;
use bootstrap::RawBootstrap;
pub use bootstrap::{
    BootstrapDelivery, BootstrapEffect, BootstrapMode, BootstrapOff, BootstrapPolicy,
    DEFAULT_TAP_LIFETIME_MINUTES, DEFAULT_TAP_REISSUES, ENV_BOOTSTRAP, ENV_BOOTSTRAP_DELIVERY,
    ENV_BOOTSTRAP_EMAIL_FROM, ENV_BOOTSTRAP_SES_CONFIGURATION_SET,
    ENV_BOOTSTRAP_SMS_ORIGINATION_NUMBER, ENV_BOOTSTRAP_SMS_SENDER_ID,
    ENV_BOOTSTRAP_TAP_LIFETIME_MINUTES, ENV_BOOTSTRAP_TAP_ONE_TIME, ENV_BOOTSTRAP_TAP_REISSUES,
    MAX_START_DELAY_DAYS, TapSettings,
};
mod load;
use load::{BoolOrString, KeyNames, PolicyFile, RawPolicy, invalid};

pub const ENV_DEFAULT_REGION: &str = "AUTOENROLL_POLICY_DEFAULT_REGION";
pub const ENV_MFA_MODE: &str = "AUTOENROLL_POLICY_MFA_MODE";
pub const ENV_SET_SMS_DEFAULT: &str = "AUTOENROLL_POLICY_SET_SMS_DEFAULT";
pub const ENV_EXCLUDED_UPNS: &str = "AUTOENROLL_POLICY_EXCLUDED_UPNS";
pub const ENV_EXCLUDED_GROUPS: &str = "AUTOENROLL_POLICY_EXCLUDED_GROUPS";
pub const ENV_SCOPE_GROUPS: &str = "AUTOENROLL_POLICY_SCOPE_GROUPS";
pub const ENV_INCLUDE_GUESTS: &str = "AUTOENROLL_POLICY_INCLUDE_GUESTS";
pub const ENV_ON_NUMBER_CHANGE: &str = "AUTOENROLL_POLICY_ON_NUMBER_CHANGE";
pub const ENV_OFFICE_FALLBACK: &str = "AUTOENROLL_POLICY_OFFICE_FALLBACK";
pub const ENV_TELEPHONY: &str = "AUTOENROLL_POLICY_TELEPHONY";

/// Every environment variable [`Policy::from_env`] reads. Function crates concatenate this into
/// their own `ENV_VARS` (checked against infra/template.yaml by tests/e2e).
pub const ENV_VARS: &[&str] = &[
    ENV_DEFAULT_REGION,
    ENV_MFA_MODE,
    ENV_SET_SMS_DEFAULT,
    ENV_EXCLUDED_UPNS,
    ENV_EXCLUDED_GROUPS,
    ENV_SCOPE_GROUPS,
    ENV_INCLUDE_GUESTS,
    ENV_ON_NUMBER_CHANGE,
    ENV_OFFICE_FALLBACK,
    ENV_TELEPHONY,
    ENV_BOOTSTRAP,
    ENV_BOOTSTRAP_DELIVERY,
    ENV_BOOTSTRAP_EMAIL_FROM,
    ENV_BOOTSTRAP_SES_CONFIGURATION_SET,
    ENV_BOOTSTRAP_SMS_SENDER_ID,
    ENV_BOOTSTRAP_SMS_ORIGINATION_NUMBER,
    ENV_BOOTSTRAP_TAP_LIFETIME_MINUTES,
    ENV_BOOTSTRAP_TAP_ONE_TIME,
    ENV_BOOTSTRAP_TAP_REISSUES,
];

/// How MFA is switched on once a user has a usable method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MfaMode {
    /// Beta `PATCH /users/{id}/authentication/requirements` `{"perUserMfaState":"enabled"}`.
    PerUserEnabled,
    /// Same with `enforced`.
    PerUserEnforced,
    /// Add the user to this group (object id, lowercase), which a Conditional Access policy
    /// requiring MFA targets — Microsoft's recommended way.
    Group(String),
    /// Only prepopulate the phone (and preference); MFA is switched on elsewhere.
    None,
}

impl FromStr for MfaMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        match s {
            "per-user-enabled" => Ok(MfaMode::PerUserEnabled),
            "per-user-enforced" => Ok(MfaMode::PerUserEnforced),
            "none" => Ok(MfaMode::None),
            _ => match s.strip_prefix("group:") {
                Some(id) => ids::canonical_guid(id.trim())
                    .map(MfaMode::Group)
                    .ok_or_else(|| format!("`{id}` is not a group object id (a GUID)")),
                None => Err(format!(
                    "`{s}` is not one of per-user-enabled, per-user-enforced, group:<object-id>, none"
                )),
            },
        }
    }
}

impl fmt::Display for MfaMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MfaMode::PerUserEnabled => f.write_str("per-user-enabled"),
            MfaMode::PerUserEnforced => f.write_str("per-user-enforced"),
            MfaMode::Group(id) => write!(f, "group:{id}"),
            MfaMode::None => f.write_str("none"),
        }
    }
}

/// When to make SMS the preferred second factor (key `set_sms_default`).
///
/// `userPreferredMethodForSecondaryAuthentication` is ignored for a user with system-preferred
/// MFA on (the Microsoft-managed default), except when they sign in through the NPS extension or
/// the AD FS adapter (graph-spec/PASSKEY-ERA.md §9). Writing it there costs one of the 20
/// writes/s Graph allows per app and tenant and changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SmsDefault {
    /// Only where Entra honours it: system-preferred MFA is off for the user (or unknown).
    #[default]
    WhenEffective,
    /// Always (the user has not chosen another method): tenants whose users sign in through
    /// the NPS extension or the AD FS adapter, where the preference is honoured regardless.
    Always,
    /// Never write (nor read) the preference.
    Never,
}

impl FromStr for SmsDefault {
    type Err = String;

    /// `true` and `false` are the values of the old boolean key and stay accepted: `true` always
    /// meant "make SMS the default", and where Entra ignores the preference writing it never did
    /// that, so `true` is `when-effective`; `false` is `never`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "when-effective" | "true" => Ok(SmsDefault::WhenEffective),
            "always" => Ok(SmsDefault::Always),
            "never" | "false" => Ok(SmsDefault::Never),
            other => Err(format!(
                "`{other}` is not one of when-effective, always, never (or true = when-effective, false = never)"
            )),
        }
    }
}

impl fmt::Display for SmsDefault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SmsDefault::WhenEffective => "when-effective",
            SmsDefault::Always => "always",
            SmsDefault::Never => "never",
        })
    }
}

/// What to do when the user's `mobilePhone` no longer matches the phone method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumberChangePolicy {
    /// Update the phone method, but only while it still holds the number we registered.
    UpdateManaged,
    /// Never update; report the difference.
    ReportOnly,
}

impl FromStr for NumberChangePolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "update-managed" => Ok(NumberChangePolicy::UpdateManaged),
            "report-only" => Ok(NumberChangePolicy::ReportOnly),
            other => Err(format!(
                "`{other}` is not one of update-managed, report-only"
            )),
        }
    }
}

impl fmt::Display for NumberChangePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NumberChangePolicy::UpdateManaged => "update-managed",
            NumberChangePolicy::ReportOnly => "report-only",
        })
    }
}

/// The organisation's enrollment policy. Build it with [`Policy::from_env`],
/// [`Policy::from_toml_str`] or `Policy::default()` plus field updates; comparisons against
/// UPNs and object ids are case-insensitive either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Region for numbers written without a country code. `None`: such numbers are rejected.
    pub default_region: Option<RegionCode>,
    pub mfa_mode: MfaMode,
    /// Make SMS the preferred second factor (beta signInPreferences) when the user has not
    /// chosen one: `false` is `set_sms_default = never` (nothing read or written). Set both
    /// fields with [`Policy::set_sms_default_mode`]; read them as one with
    /// [`Policy::sms_default`].
    pub set_sms_default: bool,
    /// Write it even where system-preferred MFA makes Entra ignore it (`always`); otherwise
    /// only where it takes effect (`when-effective`).
    pub sms_default_always: bool,
    /// Break-glass and service accounts: never touched. Lowercase.
    pub excluded_upns: BTreeSet<String>,
    /// Members are never touched. Lowercase object ids.
    pub excluded_groups: BTreeSet<String>,
    /// Empty: every member user. Otherwise only members of one of these groups.
    pub scope_groups: BTreeSet<String>,
    pub include_guests: bool,
    pub on_number_change: NumberChangePolicy,
    /// With no usable mobile number, register the first of `businessPhones` as `office`
    /// (voice only) — never as `mobile`.
    pub office_fallback: bool,
    /// Whether SMS/voice reach users: read from the tenant (`auto`) or overridden
    /// (`crate::telephony`).
    pub telephony: TelephonySetting,
    /// The TAP bootstrap and its delivery channels (`policy/bootstrap.rs`).
    pub bootstrap: BootstrapPolicy,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            default_region: None,
            mfa_mode: MfaMode::PerUserEnabled,
            set_sms_default: true,
            sms_default_always: false,
            excluded_upns: BTreeSet::new(),
            excluded_groups: BTreeSet::new(),
            scope_groups: BTreeSet::new(),
            include_guests: false,
            on_number_change: NumberChangePolicy::UpdateManaged,
            office_fallback: false,
            telephony: TelephonySetting::Auto,
            bootstrap: BootstrapPolicy::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A value that does not parse or validate; `key` is the environment variable or TOML key.
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
    /// The TOML file does not parse or has a key we do not know (toml names it).
    #[error("policy file: {0}")]
    File(String),
}

/// Why a user is excluded. Decided from the UPN and group ids alone, so the enroll function can
/// stop before reading anything else about a break-glass account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Exclusion {
    Upn,
    /// Member of this excluded group (lowercase object id).
    Group(String),
}

impl Policy {
    /// `set_sms_default` as one value.
    pub fn sms_default(&self) -> SmsDefault {
        match (self.set_sms_default, self.sms_default_always) {
            (false, _) => SmsDefault::Never,
            (true, false) => SmsDefault::WhenEffective,
            (true, true) => SmsDefault::Always,
        }
    }

    /// Sets [`Policy::set_sms_default`] and [`Policy::sms_default_always`] from one value.
    pub fn set_sms_default_mode(&mut self, mode: SmsDefault) {
        self.set_sms_default = mode != SmsDefault::Never;
        self.sms_default_always = mode == SmsDefault::Always;
    }

    /// From the Lambda environment: exactly the names in [`ENV_VARS`]. Unset or empty variables
    /// take the default.
    pub fn from_env() -> Result<Policy, PolicyError> {
        let mut bad_unicode = None;
        let policy = Policy::from_lookup(|name| match std::env::var(name) {
            Ok(v) => Some(v),
            Err(std::env::VarError::NotPresent) => None,
            Err(std::env::VarError::NotUnicode(_)) => {
                bad_unicode.get_or_insert_with(|| name.to_owned());
                None
            }
        });
        if let Some(key) = bad_unicode {
            return Err(PolicyError::Invalid {
                key,
                message: "not valid UTF-8".into(),
            });
        }
        policy
    }

    /// Like [`Policy::from_env`] with a custom lookup (tests, the CLI's `--env-file`).
    pub fn from_lookup(
        mut lookup: impl FnMut(&str) -> Option<String>,
    ) -> Result<Policy, PolicyError> {
        let mut get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let list = |v: Option<String>| -> Vec<String> {
            v.map(|s| {
                s.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
        };
        let bool_of = |key: &str, v: Option<String>| -> Result<Option<bool>, PolicyError> {
            v.map(|s| match s.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(invalid(key, format!("`{}` is not true or false", s.trim()))),
            })
            .transpose()
        };
        let raw = RawPolicy {
            default_region: get(ENV_DEFAULT_REGION),
            mfa_mode: get(ENV_MFA_MODE),
            set_sms_default: get(ENV_SET_SMS_DEFAULT),
            excluded_upns: list(get(ENV_EXCLUDED_UPNS)),
            excluded_groups: list(get(ENV_EXCLUDED_GROUPS)),
            scope_groups: list(get(ENV_SCOPE_GROUPS)),
            include_guests: bool_of(ENV_INCLUDE_GUESTS, get(ENV_INCLUDE_GUESTS))?,
            on_number_change: get(ENV_ON_NUMBER_CHANGE),
            office_fallback: bool_of(ENV_OFFICE_FALLBACK, get(ENV_OFFICE_FALLBACK))?,
            telephony: get(ENV_TELEPHONY),
            bootstrap: RawBootstrap::from_lookup(&mut get),
        };
        raw.validate(&KeyNames::ENV)
    }

    /// From a TOML policy file (format: `shared/enroll/autoenroll.example.toml`).
    pub fn from_toml_str(text: &str) -> Result<Policy, PolicyError> {
        let file: PolicyFile =
            toml::from_str(text).map_err(|e| PolicyError::File(e.to_string()))?;
        RawPolicy {
            default_region: file.default_region,
            mfa_mode: file.mfa_mode,
            set_sms_default: file.set_sms_default.map(|v| match v {
                BoolOrString::Bool(b) => b.to_string(),
                BoolOrString::String(s) => s,
            }),
            excluded_upns: file.excluded_upns.unwrap_or_default(),
            excluded_groups: file.excluded_groups.unwrap_or_default(),
            scope_groups: file.scope_groups.unwrap_or_default(),
            include_guests: file.include_guests,
            on_number_change: file.on_number_change,
            office_fallback: file.office_fallback,
            telephony: file.telephony,
            bootstrap: RawBootstrap {
                mode: file.bootstrap,
                delivery: file.bootstrap_delivery,
                email_from: file.bootstrap_email_from,
                ses_configuration_set: file.bootstrap_ses_configuration_set,
                sms_sender_id: file.bootstrap_sms_sender_id,
                sms_origination_number: file.bootstrap_sms_origination_number,
                tap_lifetime_minutes: file.bootstrap_tap_lifetime_minutes.map(|v| v.to_string()),
                tap_one_time: file.bootstrap_tap_one_time.map(|v| v.to_string()),
                tap_reissues: file.bootstrap_tap_reissues.map(|v| v.to_string()),
            },
        }
        .validate(&KeyNames::TOML)
    }

    /// Whether the UPN or one of the groups puts the user out of our hands. `group_ids` are the
    /// user's (transitive) group memberships; pass `&[]` to check the UPN alone first.
    pub fn exclusion(&self, upn: Option<&str>, group_ids: &[String]) -> Option<Exclusion> {
        if let Some(upn) = upn {
            let upn = upn.trim().to_lowercase();
            if self.excluded_upns.iter().any(|e| e.to_lowercase() == upn) {
                return Some(Exclusion::Upn);
            }
        }
        group_ids.iter().find_map(|g| {
            let g = g.to_ascii_lowercase();
            self.excluded_groups
                .iter()
                .any(|e| e.eq_ignore_ascii_case(&g))
                .then_some(Exclusion::Group(g))
        })
    }

    /// Whether a user is inside the configured scope (always, when no scope group is set).
    pub fn in_scope(&self, group_ids: &[String]) -> bool {
        self.scope_groups.is_empty()
            || group_ids
                .iter()
                .any(|g| self.scope_groups.iter().any(|s| s.eq_ignore_ascii_case(g)))
    }

    /// Whether deciding about a user needs their group memberships (exclusions, scope or the
    /// CA group), so callers can skip the `memberOf` read otherwise.
    pub fn needs_group_membership(&self) -> bool {
        !self.excluded_groups.is_empty()
            || !self.scope_groups.is_empty()
            || matches!(self.mfa_mode, MfaMode::Group(_))
    }
}

#[cfg(test)]
mod tests;
