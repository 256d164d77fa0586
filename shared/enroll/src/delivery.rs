//! Handing a Temporary Access Pass to the right person out of band (issue 15, item 3).
//!
//! In the passkey era a new user with no usable method gets a one-time TAP, used once to
//! register a passkey. Whoever receives it owns the account, so it goes only to someone the
//! organisation already knows: the user's **manager** (the `mail` of `GET /users/{id}/manager`)
//! by e-mail, or the directory **`mobilePhone`** (set by HR provisioning or synced from AD, read
//! through [`crate::phone::normalize`] as for phone registration) by SMS — never to a number or
//! address the user typed.
//!
//! This module is the port ([`PassDelivery`]), what a delivery needs ([`PassNotice`],
//! [`Recipient`]), the choice of recipient ([`choose_recipient`]), the pure message builders
//! ([`message`]) and the typed error ([`DeliveryError`]). Adapters: Amazon SES v2 and SNS SMS in
//! `autoenroll-aws` (`ses.rs`, `sns.rs`) and an in-memory outbox (`outbox.rs`).
//!
//! **The TAP value** is held in [`Secret`] (Debug/Display redacted) and written only into the
//! body of the outgoing message ([`message::Message::body`], itself a `Secret`): no log line,
//! error, receipt or `Debug` output here contains it. Error details coming back from a service
//! pass through [`redact`] first (the pass, the recipient, anything looking like a number).

pub mod message;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use autoenroll_graph::Secret;
use time::OffsetDateTime;

use crate::phone::{self, PhoneRejection, RegionCode};
pub use crate::policy::BootstrapDelivery;

/// How a pass travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    /// E-mail to the user's manager (Amazon SES).
    ManagerEmail,
    /// SMS to the user's directory mobile number (Amazon SNS).
    MobileSms,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::ManagerEmail => "manager-email",
            Channel::MobileSms => "mobile-sms",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Channel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "manager-email" => Ok(Channel::ManagerEmail),
            "mobile-sms" => Ok(Channel::MobileSms),
            other => Err(format!("`{other}` is not one of manager-email, mobile-sms")),
        }
    }
}

/// Everything the message says about the pass. `Debug` shows the pass as `<redacted>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassNotice {
    /// The new user's display name, when Graph has one.
    pub display_name: Option<String>,
    pub user_principal_name: String,
    /// When the pass becomes usable (Graph's `startDateTime`).
    pub starts_at: OffsetDateTime,
    /// Graph's `lifetimeInMinutes` (10 – 43,200).
    pub lifetime_minutes: u32,
    /// Graph's `isUsableOnce`.
    pub usable_once: bool,
    /// Graph's `temporaryAccessPass` (returned by the create call only).
    pub pass: Secret,
}

impl PassNotice {
    /// When the pass stops working.
    pub fn ends_at(&self) -> OffsetDateTime {
        self.starts_at + time::Duration::minutes(i64::from(self.lifetime_minutes))
    }
}

/// Who receives the pass, validated. `Debug`/[`Recipient::masked`] never show the address or
/// number in clear.
#[derive(Clone, PartialEq, Eq)]
pub enum Recipient {
    /// The manager's e-mail address.
    Email(String),
    /// The directory mobile number (SMS-capable, no extension), Graph format `+31 612345678`.
    Mobile(phone::NormalizedPhone),
}

impl Recipient {
    /// The manager's `mail`, checked to be one address SES can send to.
    pub fn manager_email(mail: &str) -> Result<Recipient, RecipientProblem> {
        let mail = mail.trim();
        if is_plain_address(mail) {
            Ok(Recipient::Email(mail.to_owned()))
        } else {
            Err(RecipientProblem::ManagerMailInvalid)
        }
    }

    /// The user's directory `mobilePhone`, normalised as for phone registration; it must be a
    /// line an SMS reaches.
    pub fn directory_mobile(
        raw: &str,
        default_region: Option<RegionCode>,
    ) -> Result<Recipient, RecipientProblem> {
        let number =
            phone::normalize(raw, default_region).map_err(RecipientProblem::MobileInvalid)?;
        if !number.is_sms_capable() {
            return Err(RecipientProblem::MobileNotSmsCapable);
        }
        Ok(Recipient::Mobile(number))
    }

    pub fn channel(&self) -> Channel {
        match self {
            Recipient::Email(_) => Channel::ManagerEmail,
            Recipient::Mobile(_) => Channel::MobileSms,
        }
    }

    /// Safe to log and to keep in an audit record: `j***@contoso.com`, `+31 6******78`.
    pub fn masked(&self) -> String {
        match self {
            Recipient::Email(mail) => mask_email(mail),
            Recipient::Mobile(number) => number.masked(),
        }
    }

    /// The e-mail address, for the adapter that sends to it.
    pub fn email(&self) -> Option<&str> {
        match self {
            Recipient::Email(mail) => Some(mail),
            Recipient::Mobile(_) => None,
        }
    }

    /// The number in E.164 (`+31612345678`), what SNS `Publish` takes as `PhoneNumber`.
    pub fn e164(&self) -> Option<String> {
        match self {
            Recipient::Mobile(number) => Some(number.graph.replace(' ', "")),
            Recipient::Email(_) => None,
        }
    }

    /// Every spelling of the recipient a service might echo back in an error ([`redact`]).
    fn spellings(&self) -> Vec<String> {
        match self {
            Recipient::Email(mail) => vec![mail.clone()],
            Recipient::Mobile(number) => vec![number.graph.clone(), number.graph.replace(' ', "")],
        }
    }
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Recipient({}: {})", self.channel(), self.masked())
    }
}

/// `name@domain.tld`: one `@`, no whitespace, no display name, no list, ASCII (SES wants an
/// internationalised domain in punycode).
fn is_plain_address(mail: &str) -> bool {
    let Some((local, domain)) = mail.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && mail.is_ascii()
        && !mail
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>,;:\"()[]\\".contains(c))
}

/// `jan.devries@contoso.com` → `j***@contoso.com`.
pub fn mask_email(mail: &str) -> String {
    match mail.split_once('@') {
        Some((local, domain)) => {
            let first = local.chars().next().map(String::from).unwrap_or_default();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

/// Why a channel has nobody to send to: a reported skip for that user, never a failure.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum RecipientProblem {
    #[error("the user has no manager")]
    NoManager,
    #[error("the manager has no e-mail address")]
    ManagerWithoutMail,
    #[error("the manager's e-mail address is not one address")]
    ManagerMailInvalid,
    #[error("the user has no mobile number in the directory")]
    NoMobile,
    #[error("the directory mobile number is unusable: {0}")]
    MobileInvalid(PhoneRejection),
    #[error("the directory mobile number is not a line an SMS reaches")]
    MobileNotSmsCapable,
}

impl RecipientProblem {
    /// Stable code for reports and audit records.
    pub fn code(&self) -> &'static str {
        match self {
            RecipientProblem::NoManager => "noManager",
            RecipientProblem::ManagerWithoutMail => "noManagerMail",
            RecipientProblem::ManagerMailInvalid => "managerMailInvalid",
            RecipientProblem::NoMobile => "noMobileNumber",
            RecipientProblem::MobileInvalid(_) => "mobileNumberInvalid",
            RecipientProblem::MobileNotSmsCapable => "mobileNotSmsCapable",
        }
    }
}

/// What the directory says about the people a pass could go to.
#[derive(Debug, Clone, Copy)]
pub struct Contacts<'a> {
    /// `None`: `GET /users/{id}/manager` found no manager; `Some(None)`: a manager without `mail`.
    pub manager_mail: Option<Option<&'a str>>,
    /// The user's `mobilePhone` as Graph returned it.
    pub mobile_phone: Option<&'a str>,
    pub default_region: Option<RegionCode>,
}

/// The first channel of `delivery` (in its order) that has a valid recipient. Otherwise the
/// problem of each channel tried, in the same order — the first one is the skip reason.
/// The fall-back is on the recipient only: a pass whose delivery *failed* is deleted and a new
/// one issued, never sent again through another channel (one delivery per issued pass).
pub fn choose_recipient(
    delivery: BootstrapDelivery,
    contacts: &Contacts<'_>,
) -> Result<Recipient, Vec<RecipientProblem>> {
    let mut problems = Vec::new();
    for channel in delivery.channels() {
        let found = match channel {
            Channel::ManagerEmail => match contacts.manager_mail {
                None => Err(RecipientProblem::NoManager),
                Some(None) => Err(RecipientProblem::ManagerWithoutMail),
                Some(Some(mail)) if mail.trim().is_empty() => {
                    Err(RecipientProblem::ManagerWithoutMail)
                }
                Some(Some(mail)) => Recipient::manager_email(mail),
            },
            Channel::MobileSms => match contacts.mobile_phone {
                Some(raw) if !raw.trim().is_empty() => {
                    Recipient::directory_mobile(raw, contacts.default_region)
                }
                _ => Err(RecipientProblem::NoMobile),
            },
        };
        match found {
            Ok(recipient) => return Ok(recipient),
            Err(problem) => problems.push(problem),
        }
    }
    Err(problems)
}

/// What a successful send leaves behind: safe for logs, audit records and reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReceipt {
    pub channel: Channel,
    /// The service's message id (SES `MessageId`, SNS `MessageId`, the outbox's counter).
    pub message_id: String,
    /// [`Recipient::masked`].
    pub recipient: String,
}

/// Why a refused message will not get through to this recipient, however often it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The address or number is malformed or unknown to the service.
    InvalidRecipient,
    /// SES has not verified the sender (or, in the SES sandbox, the recipient).
    NotVerified,
    /// The number opted out of SMS from this AWS account.
    OptedOut,
    /// The service refused the message itself (content, size).
    MessageRejected,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::InvalidRecipient => "invalid recipient",
            Refusal::NotVerified => "identity not verified",
            Refusal::OptedOut => "number opted out of SMS",
            Refusal::MessageRejected => "message rejected",
        })
    }
}

/// What the caller should do about a failed delivery (see [`DeliveryError::disposition`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryDisposition {
    /// Throttled, a 5xx, the network: the same delivery later can succeed.
    Retry,
    /// This recipient cannot be reached: report the user, do not retry.
    SkipUser,
    /// Permission or configuration: every delivery fails until an operator acts.
    Systemic,
}

/// A delivery that did not happen (or whose outcome is unknown). Details are redacted
/// ([`redact`]): they hold the service's error code and text, never the pass or the recipient.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    #[error("{channel} delivery failed, a retry can help: {detail}")]
    Transient {
        channel: Channel,
        detail: String,
        /// The request may have reached the service (timeout, lost answer, 5xx): the message
        /// may have been sent. The pass must be replaced, never sent again.
        outcome_unknown: bool,
    },
    #[error("{channel} delivery refused ({reason}): {detail}")]
    Refused {
        channel: Channel,
        reason: Refusal,
        detail: String,
    },
    #[error("{channel} delivery is not permitted or not configured: {detail}")]
    Systemic { channel: Channel, detail: String },
}

impl DeliveryError {
    pub fn disposition(&self) -> DeliveryDisposition {
        match self {
            DeliveryError::Transient { .. } => DeliveryDisposition::Retry,
            DeliveryError::Refused { .. } => DeliveryDisposition::SkipUser,
            DeliveryError::Systemic { .. } => DeliveryDisposition::Systemic,
        }
    }

    pub fn is_retryable(&self) -> bool {
        self.disposition() == DeliveryDisposition::Retry
    }

    /// Whether the message may have gone out despite the error.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            DeliveryError::Transient {
                outcome_unknown: true,
                ..
            }
        )
    }

    pub fn channel(&self) -> Channel {
        match self {
            DeliveryError::Transient { channel, .. }
            | DeliveryError::Refused { channel, .. }
            | DeliveryError::Systemic { channel, .. } => *channel,
        }
    }

    /// Stable code for reports, audit records and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            DeliveryError::Transient { .. } => "deliveryUnavailable",
            DeliveryError::Refused { reason, .. } => match reason {
                Refusal::InvalidRecipient => "deliveryRecipientInvalid",
                Refusal::NotVerified => "deliveryNotVerified",
                Refusal::OptedOut => "deliveryOptedOut",
                Refusal::MessageRejected => "deliveryRejected",
            },
            DeliveryError::Systemic { .. } => "deliveryNotPermitted",
        }
    }
}

/// `text` (a service's error message) with the pass, the recipient and anything that looks
/// like a phone number (8 or more digits, separators allowed) replaced. Adapters run every
/// detail they put into a [`DeliveryError`] through this.
pub fn redact(text: &str, notice: &PassNotice, recipient: &Recipient) -> String {
    let mut out = text.to_owned();
    if !notice.pass.is_empty() {
        out = out.replace(notice.pass.expose(), "<redacted>");
    }
    for spelling in recipient.spellings() {
        out = out.replace(&spelling, &recipient.masked());
    }
    mask_digit_runs(&out)
}

/// Replaces runs of 8 or more digits (spaces, `-`, `.`, `(`, `)` between them allowed) by
/// `<number>`: a phone number a service echoed in a spelling we did not foresee.
fn mask_digit_runs(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let mut j = i;
            let mut digits = 0;
            let mut last_digit = i;
            while j < chars.len() && (chars[j].is_ascii_digit() || " -.()".contains(chars[j])) {
                if chars[j].is_ascii_digit() {
                    digits += 1;
                    last_digit = j;
                }
                j += 1;
            }
            if digits >= 8 {
                out.push_str("<number>");
            } else {
                out.extend(&chars[i..=last_digit]);
            }
            i = last_digit + 1;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// Sends a Temporary Access Pass to one recipient, once. Implementations compose the message
/// with [`message::compose`] and put the pass nowhere but in its body.
#[async_trait]
pub trait PassDelivery: Send + Sync {
    async fn deliver(
        &self,
        recipient: &Recipient,
        notice: &PassNotice,
    ) -> Result<DeliveryReceipt, DeliveryError>;
}

/// One adapter per channel behind one [`PassDelivery`]: what the functions hold. A channel
/// without an adapter is a configuration error ([`DeliveryError::Systemic`]).
#[derive(Clone, Default)]
pub struct Deliveries {
    pub email: Option<Arc<dyn PassDelivery>>,
    pub sms: Option<Arc<dyn PassDelivery>>,
}

impl fmt::Debug for Deliveries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deliveries")
            .field("email", &self.email.is_some())
            .field("sms", &self.sms.is_some())
            .finish()
    }
}

#[async_trait]
impl PassDelivery for Deliveries {
    async fn deliver(
        &self,
        recipient: &Recipient,
        notice: &PassNotice,
    ) -> Result<DeliveryReceipt, DeliveryError> {
        let channel = recipient.channel();
        let adapter = match channel {
            Channel::ManagerEmail => self.email.as_ref(),
            Channel::MobileSms => self.sms.as_ref(),
        };
        let Some(adapter) = adapter else {
            return Err(DeliveryError::Systemic {
                channel,
                detail: "no adapter is configured for this channel".into(),
            });
        };
        adapter.deliver(recipient, notice).await
    }
}

#[cfg(test)]
mod tests;
