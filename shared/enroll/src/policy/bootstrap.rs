//! The TAP bootstrap settings of the policy (issue 15, items 2–3): whether a new user with no
//! usable method gets a Temporary Access Pass, and how it reaches the right person.
//!
//! | TOML key / `AUTOENROLL_POLICY_…` | values |
//! |---|---|
//! | `bootstrap` / `BOOTSTRAP` | `off`, `when-no-usable-method`, `always-for-new-users`; unset = the default rule |
//! | `bootstrap_delivery` / `BOOTSTRAP_DELIVERY` | `manager-email`, `mobile-sms`, `manager-email-then-sms` |
//! | `bootstrap_email_from` / `BOOTSTRAP_EMAIL_FROM` | the From address: an SES-verified address, or one in an SES-verified domain |
//! | `bootstrap_ses_configuration_set` / `BOOTSTRAP_SES_CONFIGURATION_SET` | optional SES configuration set (event publishing) |
//! | `bootstrap_sms_sender_id` / `BOOTSTRAP_SMS_SENDER_ID` | optional alphanumeric sender id (1–11 characters, where the country allows it) |
//! | `bootstrap_sms_origination_number` / `BOOTSTRAP_SMS_ORIGINATION_NUMBER` | optional E.164 origination number (where a country needs a registered number) |
//! | `bootstrap_tap_lifetime_minutes` / `BOOTSTRAP_TAP_LIFETIME_MINUTES` | 10–43,200, default 480 (a working day); clamped into the TAP policy's minimum/maximum, which Graph enforces |
//! | `bootstrap_tap_one_time` / `BOOTSTRAP_TAP_ONE_TIME` | `true` (default): the pass signs in once, enough to register a passkey; `false` asks for multi-use, which a one-time TAP policy overrides |
//! | `bootstrap_tap_reissues` / `BOOTSTRAP_TAP_REISSUES` | 0–10, default 2: how often a pass that expired unused is replaced before the user is reported `bootstrapExpired` |
//!
//! A pass starts at the user's `employeeHireDate` when that lies in the future, at most
//! [`MAX_START_DELAY_DAYS`] ahead (Graph's limit); otherwise at once.
//!
//! The default rule ([`Policy::bootstrap_effect`]): with `bootstrap` unset, bootstrap is
//! `when-no-usable-method` once a delivery channel is configured and off otherwise — a stack
//! deployed without SES/SNS settings behaves as before. Asking for bootstrap explicitly
//! without a channel, or for e-mail without a sender, is an error naming the key: an operator
//! who turned it on must not find it silently off.

use std::fmt;
use std::str::FromStr;

use super::{Policy, PolicyError, invalid};
use crate::delivery::Channel;

pub const ENV_BOOTSTRAP: &str = "AUTOENROLL_POLICY_BOOTSTRAP";
pub const ENV_BOOTSTRAP_DELIVERY: &str = "AUTOENROLL_POLICY_BOOTSTRAP_DELIVERY";
pub const ENV_BOOTSTRAP_EMAIL_FROM: &str = "AUTOENROLL_POLICY_BOOTSTRAP_EMAIL_FROM";
pub const ENV_BOOTSTRAP_SES_CONFIGURATION_SET: &str =
    "AUTOENROLL_POLICY_BOOTSTRAP_SES_CONFIGURATION_SET";
pub const ENV_BOOTSTRAP_SMS_SENDER_ID: &str = "AUTOENROLL_POLICY_BOOTSTRAP_SMS_SENDER_ID";
pub const ENV_BOOTSTRAP_SMS_ORIGINATION_NUMBER: &str =
    "AUTOENROLL_POLICY_BOOTSTRAP_SMS_ORIGINATION_NUMBER";
pub const ENV_BOOTSTRAP_TAP_LIFETIME_MINUTES: &str =
    "AUTOENROLL_POLICY_BOOTSTRAP_TAP_LIFETIME_MINUTES";
pub const ENV_BOOTSTRAP_TAP_ONE_TIME: &str = "AUTOENROLL_POLICY_BOOTSTRAP_TAP_ONE_TIME";
pub const ENV_BOOTSTRAP_TAP_REISSUES: &str = "AUTOENROLL_POLICY_BOOTSTRAP_TAP_REISSUES";

/// Default pass lifetime: a working day, so a manager who reads the mail in the afternoon
/// still hands over a live pass.
pub const DEFAULT_TAP_LIFETIME_MINUTES: u32 = 480;
/// Graph's bounds for `lifetimeInMinutes` (PASSKEY-ERA.md §3).
pub const TAP_LIFETIME_BOUNDS: std::ops::RangeInclusive<u32> = 10..=43_200;
pub const DEFAULT_TAP_REISSUES: u32 = 2;
const MAX_TAP_REISSUES: u32 = 10;
/// How far ahead a pass may start (at the hire date).
pub const MAX_START_DELAY_DAYS: i64 = 30;

/// When a new user gets a Temporary Access Pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BootstrapMode {
    Off,
    /// Only a user without a usable (lasting, deliverable) method.
    WhenNoUsableMethod,
    /// Every new user without a lasting method, even one whose phone still works.
    AlwaysForNewUsers,
}

impl FromStr for BootstrapMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "off" => Ok(BootstrapMode::Off),
            "when-no-usable-method" => Ok(BootstrapMode::WhenNoUsableMethod),
            "always-for-new-users" => Ok(BootstrapMode::AlwaysForNewUsers),
            other => Err(format!(
                "`{other}` is not one of off, when-no-usable-method, always-for-new-users"
            )),
        }
    }
}

impl fmt::Display for BootstrapMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BootstrapMode::Off => "off",
            BootstrapMode::WhenNoUsableMethod => "when-no-usable-method",
            BootstrapMode::AlwaysForNewUsers => "always-for-new-users",
        })
    }
}

/// Where a pass goes, in order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BootstrapDelivery {
    ManagerEmail,
    MobileSms,
    /// The manager's e-mail; SMS to the directory mobile when there is no manager or no mail.
    ManagerEmailThenSms,
}

impl BootstrapDelivery {
    /// The channels tried, in order (see `delivery::choose_recipient`).
    pub fn channels(self) -> &'static [Channel] {
        match self {
            BootstrapDelivery::ManagerEmail => &[Channel::ManagerEmail],
            BootstrapDelivery::MobileSms => &[Channel::MobileSms],
            BootstrapDelivery::ManagerEmailThenSms => &[Channel::ManagerEmail, Channel::MobileSms],
        }
    }

    pub fn uses(self, channel: Channel) -> bool {
        self.channels().contains(&channel)
    }
}

impl FromStr for BootstrapDelivery {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "manager-email" => Ok(BootstrapDelivery::ManagerEmail),
            "mobile-sms" => Ok(BootstrapDelivery::MobileSms),
            "manager-email-then-sms" => Ok(BootstrapDelivery::ManagerEmailThenSms),
            other => Err(format!(
                "`{other}` is not one of manager-email, mobile-sms, manager-email-then-sms"
            )),
        }
    }
}

impl fmt::Display for BootstrapDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BootstrapDelivery::ManagerEmail => "manager-email",
            BootstrapDelivery::MobileSms => "mobile-sms",
            BootstrapDelivery::ManagerEmailThenSms => "manager-email-then-sms",
        })
    }
}

/// The bootstrap part of [`Policy`]. Validated by the policy loaders; build it by hand in
/// tests (then [`Policy::bootstrap_effect`] still refuses an inconsistent one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootstrapPolicy {
    /// `None`: the default rule (see the module doc).
    pub mode: Option<BootstrapMode>,
    pub delivery: Option<BootstrapDelivery>,
    /// SES `FromEmailAddress`.
    pub email_from: Option<String>,
    pub ses_configuration_set: Option<String>,
    /// SNS `AWS.SNS.SMS.SenderID`.
    pub sms_sender_id: Option<String>,
    /// SNS `AWS.MM.SMS.OriginationNumber` (E.164).
    pub sms_origination_number: Option<String>,
    pub tap: TapSettings,
}

/// Whether bootstrap runs, and if not, why (for `doctor` and the summary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootstrapEffect {
    On {
        mode: BootstrapMode,
        delivery: BootstrapDelivery,
    },
    Off(BootstrapOff),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BootstrapOff {
    #[error("bootstrap is set to off")]
    SetOff,
    #[error(
        "no delivery channel is configured (set bootstrap_delivery; for e-mail also bootstrap_email_from)"
    )]
    NoDeliveryChannel,
    #[error("bootstrap_delivery uses e-mail but no sender (bootstrap_email_from) is configured")]
    NoEmailSender,
}

impl BootstrapEffect {
    pub fn is_on(&self) -> bool {
        matches!(self, BootstrapEffect::On { .. })
    }
}

impl Policy {
    /// Whether new users without a usable method get a TAP, with which channels — or why not.
    pub fn bootstrap_effect(&self) -> BootstrapEffect {
        let b = &self.bootstrap;
        if b.mode == Some(BootstrapMode::Off) {
            return BootstrapEffect::Off(BootstrapOff::SetOff);
        }
        let Some(delivery) = b.delivery else {
            return BootstrapEffect::Off(BootstrapOff::NoDeliveryChannel);
        };
        if delivery.uses(Channel::ManagerEmail) && b.email_from.is_none() {
            return BootstrapEffect::Off(BootstrapOff::NoEmailSender);
        }
        BootstrapEffect::On {
            mode: b.mode.unwrap_or(BootstrapMode::WhenNoUsableMethod),
            delivery,
        }
    }
}

/// The bootstrap settings as read (environment or file), before validation.
#[derive(Debug, Default)]
pub(super) struct RawBootstrap {
    pub mode: Option<String>,
    pub delivery: Option<String>,
    pub email_from: Option<String>,
    pub ses_configuration_set: Option<String>,
    pub sms_sender_id: Option<String>,
    pub sms_origination_number: Option<String>,
    pub tap_lifetime_minutes: Option<String>,
    pub tap_one_time: Option<String>,
    pub tap_reissues: Option<String>,
}

/// The pass itself: lifetime, one-time use, re-issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TapSettings {
    pub lifetime_minutes: u32,
    pub one_time: bool,
    pub reissues: u32,
}

impl Default for TapSettings {
    fn default() -> Self {
        TapSettings {
            lifetime_minutes: DEFAULT_TAP_LIFETIME_MINUTES,
            one_time: true,
            reissues: DEFAULT_TAP_REISSUES,
        }
    }
}

/// Key names where the settings came from (environment variable or TOML key).
pub(super) struct BootstrapKeys {
    mode: &'static str,
    delivery: &'static str,
    email_from: &'static str,
    ses_configuration_set: &'static str,
    sms_sender_id: &'static str,
    sms_origination_number: &'static str,
    tap_lifetime_minutes: &'static str,
    tap_one_time: &'static str,
    tap_reissues: &'static str,
}

impl BootstrapKeys {
    pub(super) const ENV: BootstrapKeys = BootstrapKeys {
        mode: ENV_BOOTSTRAP,
        delivery: ENV_BOOTSTRAP_DELIVERY,
        email_from: ENV_BOOTSTRAP_EMAIL_FROM,
        ses_configuration_set: ENV_BOOTSTRAP_SES_CONFIGURATION_SET,
        sms_sender_id: ENV_BOOTSTRAP_SMS_SENDER_ID,
        sms_origination_number: ENV_BOOTSTRAP_SMS_ORIGINATION_NUMBER,
        tap_lifetime_minutes: ENV_BOOTSTRAP_TAP_LIFETIME_MINUTES,
        tap_one_time: ENV_BOOTSTRAP_TAP_ONE_TIME,
        tap_reissues: ENV_BOOTSTRAP_TAP_REISSUES,
    };
    pub(super) const TOML: BootstrapKeys = BootstrapKeys {
        mode: "bootstrap",
        delivery: "bootstrap_delivery",
        email_from: "bootstrap_email_from",
        ses_configuration_set: "bootstrap_ses_configuration_set",
        sms_sender_id: "bootstrap_sms_sender_id",
        sms_origination_number: "bootstrap_sms_origination_number",
        tap_lifetime_minutes: "bootstrap_tap_lifetime_minutes",
        tap_one_time: "bootstrap_tap_one_time",
        tap_reissues: "bootstrap_tap_reissues",
    };
}

impl RawBootstrap {
    /// Reads the bootstrap variables through the policy's lookup (empty = unset).
    pub(super) fn from_lookup(get: &mut impl FnMut(&str) -> Option<String>) -> RawBootstrap {
        RawBootstrap {
            mode: get(ENV_BOOTSTRAP),
            delivery: get(ENV_BOOTSTRAP_DELIVERY),
            email_from: get(ENV_BOOTSTRAP_EMAIL_FROM),
            ses_configuration_set: get(ENV_BOOTSTRAP_SES_CONFIGURATION_SET),
            sms_sender_id: get(ENV_BOOTSTRAP_SMS_SENDER_ID),
            sms_origination_number: get(ENV_BOOTSTRAP_SMS_ORIGINATION_NUMBER),
            tap_lifetime_minutes: get(ENV_BOOTSTRAP_TAP_LIFETIME_MINUTES),
            tap_one_time: get(ENV_BOOTSTRAP_TAP_ONE_TIME),
            tap_reissues: get(ENV_BOOTSTRAP_TAP_REISSUES),
        }
    }

    pub(super) fn validate(self, keys: &BootstrapKeys) -> Result<BootstrapPolicy, PolicyError> {
        let trimmed = |v: Option<String>| {
            v.map(|s| s.trim().to_owned())
                .filter(|s: &String| !s.is_empty())
        };
        let mode = trimmed(self.mode)
            .map(|m| m.parse::<BootstrapMode>())
            .transpose()
            .map_err(|e| invalid(keys.mode, e))?;
        let delivery = trimmed(self.delivery)
            .map(|d| d.parse::<BootstrapDelivery>())
            .transpose()
            .map_err(|e| invalid(keys.delivery, e))?;
        let email_from = trimmed(self.email_from)
            .map(|f| check_from(&f).map(|()| f))
            .transpose()
            .map_err(|e| invalid(keys.email_from, e))?;
        let ses_configuration_set = trimmed(self.ses_configuration_set)
            .map(|c| check_configuration_set(&c).map(|()| c))
            .transpose()
            .map_err(|e| invalid(keys.ses_configuration_set, e))?;
        let sms_sender_id = trimmed(self.sms_sender_id)
            .map(|s| check_sender_id(&s).map(|()| s))
            .transpose()
            .map_err(|e| invalid(keys.sms_sender_id, e))?;
        let sms_origination_number = trimmed(self.sms_origination_number)
            .map(|n| check_origination_number(&n).map(|()| n))
            .transpose()
            .map_err(|e| invalid(keys.sms_origination_number, e))?;
        let number = |key: &str, v: Option<String>, range: std::ops::RangeInclusive<u32>| {
            trimmed(v)
                .map(|s| match s.parse::<u32>() {
                    Ok(n) if range.contains(&n) => Ok(n),
                    _ => Err(invalid(
                        key,
                        format!(
                            "`{s}` is not a whole number from {} to {}",
                            range.start(),
                            range.end()
                        ),
                    )),
                })
                .transpose()
        };
        let defaults = TapSettings::default();
        let tap = TapSettings {
            lifetime_minutes: number(
                keys.tap_lifetime_minutes,
                self.tap_lifetime_minutes,
                TAP_LIFETIME_BOUNDS,
            )?
            .unwrap_or(defaults.lifetime_minutes),
            one_time: trimmed(self.tap_one_time)
                .map(|s| match s.to_ascii_lowercase().as_str() {
                    "true" => Ok(true),
                    "false" => Ok(false),
                    _ => Err(invalid(
                        keys.tap_one_time,
                        format!("`{s}` is not true or false"),
                    )),
                })
                .transpose()?
                .unwrap_or(defaults.one_time),
            reissues: number(keys.tap_reissues, self.tap_reissues, 0..=MAX_TAP_REISSUES)?
                .unwrap_or(defaults.reissues),
        };
        match (mode, delivery) {
            (Some(m), None) if m != BootstrapMode::Off => {
                return Err(invalid(
                    keys.mode,
                    format!(
                        "`{m}` needs a delivery channel: set {} (manager-email, mobile-sms or \
                         manager-email-then-sms)",
                        keys.delivery
                    ),
                ));
            }
            _ => {}
        }
        if let Some(d) = delivery
            && d.uses(Channel::ManagerEmail)
            && email_from.is_none()
        {
            return Err(invalid(
                keys.delivery,
                format!(
                    "`{d}` sends e-mail: set {} to a sender SES has verified",
                    keys.email_from
                ),
            ));
        }
        Ok(BootstrapPolicy {
            mode,
            delivery,
            email_from,
            ses_configuration_set,
            sms_sender_id,
            sms_origination_number,
            tap,
        })
    }
}

/// A plain `name@domain.tld` or `Display Name <name@domain.tld>` (SES `FromEmailAddress`).
fn check_from(from: &str) -> Result<(), String> {
    let address = match (from.rfind('<'), from.ends_with('>')) {
        (Some(open), true) => &from[open + 1..from.len() - 1],
        (None, false) => from,
        _ => return Err(format!("`{from}` is not an e-mail address")),
    };
    let ok = address.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !domain.contains('@')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
    }) && address.is_ascii()
        && !address
            .chars()
            .any(|c| c.is_whitespace() || "<>,;\"".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{from}` is not an e-mail address (name@domain, ASCII — punycode for an \
             internationalised domain)"
        ))
    }
}

/// SES configuration set names: letters, digits, `_` and `-`, at most 64 characters.
fn check_configuration_set(name: &str) -> Result<(), String> {
    if name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not an SES configuration set name (letters, digits, _ and -, at most 64)"
        ))
    }
}

/// SNS sender ids: 1–11 letters and digits, at least one letter, no spaces.
fn check_sender_id(id: &str) -> Result<(), String> {
    if (1..=11).contains(&id.len())
        && id.chars().all(|c| c.is_ascii_alphanumeric())
        && id.chars().any(|c| c.is_ascii_alphabetic())
    {
        Ok(())
    } else {
        Err(format!(
            "`{id}` is not an SMS sender id (1 to 11 letters and digits, at least one letter)"
        ))
    }
}

/// An E.164 number: `+` and 8 to 15 digits.
fn check_origination_number(number: &str) -> Result<(), String> {
    let digits = number.strip_prefix('+').unwrap_or_default();
    if (8..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) {
        Ok(())
    } else {
        Err(
            "not an E.164 number (`+` then 8 to 15 digits, no spaces); the value is not repeated here"
                .to_owned(),
        )
    }
}

#[cfg(test)]
mod tests;
