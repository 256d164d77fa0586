//! Open bootstraps: which users hold a Temporary Access Pass we issued and have not yet
//! registered a lasting method (issue 15, item 4).
//!
//! Registering a passkey or Authenticator raises no change notification on `/users`
//! (a method is not a property of the user resource; see graph-spec/BEHAVIOUR.md), so nothing
//! would look at the user again. Every pass we issue is therefore remembered here, and the
//! reconcile schedule hands the [`BootstrapStore::due`] ones back to the enroll queue
//! (`Trigger::FollowUp`), where the plan closes them (a lasting method exists), re-issues an
//! expired, unused pass, or gives up (`bootstrapExpired`).
//!
//! **No pass value** is ever part of an [`OpenBootstrap`]: only the id of the TAP method in
//! Graph (`temporaryAccessPassMethods/{id}`), its validity and where it went.
//!
//! The write is ahead of the delivery: the record (with `delivered: false`) exists before the
//! message is sent, so a worker that dies between send and record still leaves a bootstrap the
//! follow-up finds. [`BootstrapStore::put`] is a compare-and-swap on the pass it replaces, so
//! two instances cannot both open (or both replace) one user's bootstrap.
//!
//! A closed bootstrap is remembered for a while ([`ClosedBootstrap`]) so that a user whose
//! passes all expired is not given a fresh one by the next change notification: the plan sees
//! why the last bootstrap ended and decides.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::delivery::Channel;
use crate::ports::StoreError;

/// A bootstrap that is still open: a pass was issued (and maybe delivered) and the user has no
/// lasting method yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenBootstrap {
    pub tenant_id: String,
    pub user_id: String,
    /// Graph's id of the `temporaryAccessPassAuthenticationMethod` (never its value).
    pub tap_method_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    /// Graph's `startDateTime` (the hire date when it is in the future).
    #[serde(with = "time::serde::rfc3339")]
    pub valid_from: OffsetDateTime,
    /// `startDateTime + lifetimeInMinutes`.
    #[serde(with = "time::serde::rfc3339")]
    pub valid_until: OffsetDateTime,
    /// Passes issued for this bootstrap so far, this one included (1 for the first).
    pub issue_count: u32,
    #[serde(with = "channel_name")]
    pub channel: Channel,
    /// The delivery of this pass succeeded. `false`: written ahead of the delivery, or the
    /// delivery failed or its outcome is unknown (the pass is then replaced, never re-sent).
    pub delivered: bool,
}

impl OpenBootstrap {
    /// Whether the pass can no longer be redeemed at `now`.
    pub fn expired_at(&self, now: OffsetDateTime) -> bool {
        now >= self.valid_until
    }

    /// Whether the follow-up should look at it at `now`: the pass has started (before that
    /// nobody can have used it), or its delivery is not confirmed (a lost worker's write-ahead).
    pub fn is_due(&self, now: OffsetDateTime) -> bool {
        self.valid_from <= now || !self.delivered
    }
}

/// Why a bootstrap ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// The user registered a lasting method (passkey, Authenticator, WHfB, a working phone…).
    LastingMethod,
    /// Every pass expired unused and the policy's re-issue count is spent (`bootstrapExpired`;
    /// the helpdesk was told).
    Expired,
    /// The user is gone, disabled, excluded or out of scope: the pass was withdrawn.
    NotEligible,
}

impl CloseReason {
    pub const ALL: [CloseReason; 3] = [
        CloseReason::LastingMethod,
        CloseReason::Expired,
        CloseReason::NotEligible,
    ];

    /// Stable code for the store, reports and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::LastingMethod => "lastingMethod",
            CloseReason::Expired => "bootstrapExpired",
            CloseReason::NotEligible => "notEligible",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CloseReason {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not a bootstrap close reason"))
    }
}

impl Serialize for CloseReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CloseReason {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// How the last bootstrap of a user ended (kept for [`CLOSED_RETENTION`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClosedBootstrap {
    pub tenant_id: String,
    pub user_id: String,
    pub reason: CloseReason,
    #[serde(with = "time::serde::rfc3339")]
    pub closed_at: OffsetDateTime,
    /// Passes issued before it ended (0 when nothing was open).
    pub issue_count: u32,
}

/// How long an open record outlives its pass before the store may drop it on its own
/// (DynamoDB TTL): a follow-up that never ran for a week has bigger problems, and a pass is
/// useless after `valid_until` anyway.
pub const OPEN_RETENTION: time::Duration = time::Duration::days(7);
/// How long the end of a bootstrap is remembered.
pub const CLOSED_RETENTION: time::Duration = time::Duration::days(90);

/// Where open bootstraps are remembered (DynamoDB in AWS: `autoenroll_aws::bootstrap`; in
/// memory: [`crate::memory::InMemoryBootstrapStore`]).
#[async_trait]
pub trait BootstrapStore: Send + Sync {
    /// The open bootstrap of a user, if any.
    async fn get(
        &self,
        tenant_id: &str,
        user_id: &str,
    ) -> Result<Option<OpenBootstrap>, StoreError>;

    /// Writes `record` (ahead of its delivery, then again once delivered) only if the user's
    /// open bootstrap is the one with pass `replaces` — `None`: none may be open. So the first
    /// pass is `put(r, None)`, marking it delivered `put(r, Some(&r.tap_method_id))`, a new pass
    /// `put(new, Some(&old.tap_method_id))`. Otherwise `StoreError::Conflict` (another
    /// instance got there first). A closed bootstrap does not stop a new one opening: whether
    /// to open is the plan's decision ([`BootstrapStore::last_closed`]).
    async fn put(&self, record: &OpenBootstrap, replaces: Option<&str>) -> Result<(), StoreError>;

    /// Ends the user's bootstrap: the open record goes, a [`ClosedBootstrap`] stays. Closing a
    /// user with nothing open records the reason all the same (idempotent).
    async fn close(
        &self,
        tenant_id: &str,
        user_id: &str,
        reason: CloseReason,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// How the user's last bootstrap ended, within [`CLOSED_RETENTION`].
    async fn last_closed(
        &self,
        tenant_id: &str,
        user_id: &str,
    ) -> Result<Option<ClosedBootstrap>, StoreError>;

    /// Up to `limit` open bootstraps of the tenant that are due at `now`
    /// ([`OpenBootstrap::is_due`]), the pass that ends first first.
    async fn due(
        &self,
        tenant_id: &str,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<OpenBootstrap>, StoreError>;
}

/// [`BootstrapStore::due`]'s selection and order, shared by the adapters: they fetch the
/// tenant's open records and let this pick.
pub fn select_due(
    open: impl IntoIterator<Item = OpenBootstrap>,
    now: OffsetDateTime,
    limit: usize,
) -> Vec<OpenBootstrap> {
    let mut due: Vec<_> = open.into_iter().filter(|b| b.is_due(now)).collect();
    due.sort_by(|a, b| (a.valid_until, &a.user_id).cmp(&(b.valid_until, &b.user_id)));
    due.truncate(limit);
    due
}

/// Where the enroll function tells the helpdesk about expired bootstraps (an SNS topic ARN;
/// empty or unset: nobody is told, the `bootstrapExpired` skip is still reported).
pub const ENV_HELPDESK_TOPIC_ARN: &str = "AUTOENROLL_HELPDESK_TOPIC_ARN";

/// What the helpdesk is told when every pass of a new user expired unused: who, how many
/// passes, until when the last one was valid, how they went. Nothing that opens the account:
/// no pass, no phone number, no manager address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpiredBootstrapNotice {
    pub tenant_id: String,
    pub user_id: String,
    pub user_principal_name: Option<String>,
    pub passes_issued: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub last_valid_until: OffsetDateTime,
    #[serde(with = "channel_name")]
    pub channel: Channel,
}

impl ExpiredBootstrapNotice {
    /// The notice for `bootstrap`, the last open one.
    pub fn for_bootstrap(bootstrap: &OpenBootstrap, user_principal_name: Option<&str>) -> Self {
        Self {
            tenant_id: bootstrap.tenant_id.clone(),
            user_id: bootstrap.user_id.clone(),
            user_principal_name: user_principal_name.map(str::to_owned),
            passes_issued: bootstrap.issue_count,
            last_valid_until: bootstrap.valid_until,
            channel: bootstrap.channel,
        }
    }

    /// One line, ASCII, at most 100 characters (SNS `Subject`, also an e-mail subject).
    pub fn subject(&self) -> String {
        let who = self
            .user_principal_name
            .as_deref()
            .unwrap_or(self.user_id.as_str());
        let subject = format!("autoenroll: onboarding pass expired unused for {who}");
        let mut ascii: String = subject
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        ascii.truncate(100);
        ascii
    }

    /// The message text: what happened and what the helpdesk can do.
    pub fn body(&self) -> String {
        let until = self
            .last_valid_until
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        format!(
            "No lasting sign-in method was registered for a new user, and every Temporary \
             Access Pass autoenroll issued expired unused.\n\n\
             User: {upn}\nObject id: {user}\nTenant: {tenant}\nPasses issued: {count} \
             (sent by {channel})\nLast pass valid until: {until}\n\n\
             autoenroll issues no further pass for this user. Please contact the user (or their \
             manager), confirm their identity and help them register a passkey or the \
             Microsoft Authenticator app, for example with a Temporary Access Pass issued in \
             the Entra admin center.",
            upn = self.user_principal_name.as_deref().unwrap_or("(unknown)"),
            user = self.user_id,
            tenant = self.tenant_id,
            count = self.passes_issued,
            channel = self.channel,
        )
    }
}

/// A helpdesk notification that did not go out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// Throttling, a 5xx, the network: a later attempt can succeed.
    #[error("helpdesk notification failed, a retry can help: {0}")]
    Unavailable(String),
    /// Permissions, a missing topic, a refused message: an operator must act.
    #[error("helpdesk notification refused: {0}")]
    Refused(String),
}

impl NotifyError {
    pub fn disposition(&self) -> crate::failure::Disposition {
        match self {
            NotifyError::Unavailable(_) => crate::failure::Disposition::Retry,
            NotifyError::Refused(_) => crate::failure::Disposition::Systemic,
        }
    }
}

/// Tells the helpdesk (an SNS topic in AWS: `autoenroll_aws::bootstrap_notify`; in memory:
/// [`InMemoryHelpdesk`]).
#[async_trait]
pub trait HelpdeskNotifier: Send + Sync {
    async fn bootstrap_expired(&self, notice: &ExpiredBootstrapNotice) -> Result<(), NotifyError>;
}

/// Keeps the notices, for tests and the local stack. Clones share state.
#[derive(Debug, Clone, Default)]
pub struct InMemoryHelpdesk {
    notices: std::sync::Arc<parking_lot::Mutex<Vec<ExpiredBootstrapNotice>>>,
}

impl InMemoryHelpdesk {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn notices(&self) -> Vec<ExpiredBootstrapNotice> {
        self.notices.lock().clone()
    }
}

#[async_trait]
impl HelpdeskNotifier for InMemoryHelpdesk {
    async fn bootstrap_expired(&self, notice: &ExpiredBootstrapNotice) -> Result<(), NotifyError> {
        self.notices.lock().push(notice.clone());
        Ok(())
    }
}

/// `Channel` as its policy name (`manager-email`, `mobile-sms`).
mod channel_name {
    use super::Channel;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(channel: &Channel, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(channel.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Channel, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
