//! Whether Entra still delivers SMS and voice calls for a user on the simulated date: our model
//! of Microsoft's behaviour (not a Graph API), exposed in the state dump and on [`Control`].
//!
//! Rule (PASSKEY-ERA.md §2, from RET, RETFAQ, PROVFAQ, ANALYZER): the channel is enabled for the
//! user by the method configuration (or by the legacy MFA settings while the policy migration is
//! not complete), **and** either the date is before the user's retirement date — 2027-02-01;
//! 2027-07-01 for Global Administrators and external users — or a customer-managed telecom
//! provider is configured in production mode (`url` set, evaluation mode off,
//! `migrationPercentage` 100). How users are bucketed at a partial percentage is unconfirmed:
//! the simulator treats anything short of 100 as no provider for everyone (stricter).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use time::{Date, OffsetDateTime};

use crate::control::Control;
use crate::policy::{MethodId, MethodsPolicy};
use crate::state::{Tenant, UserRecord};

/// Microsoft-provided SMS/voice ends for everyone else (RETFAQ).
pub const RETIREMENT: Date = time::macros::date!(2027 - 02 - 01);
/// … and for Global Administrators and external users (RETFAQ).
pub const RETIREMENT_LATE: Date = time::macros::date!(2027 - 07 - 01);
/// Global Administrator role template id.
const GLOBAL_ADMIN_TEMPLATE: &str = "62e90394-69f5-4237-9190-012177145e10";

/// Why a channel is or is not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DeliveryReason {
    /// Neither the method configuration nor (before migration) the legacy settings enable it.
    NotEnabledByPolicy,
    /// Microsoft still delivers (before the user's retirement date).
    MicrosoftDelivery,
    /// The customer's telecom provider delivers (production mode, 100 %).
    TelecomProvider,
    /// Retired for this user and no provider in production.
    Retired,
}

/// One channel for one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelDelivery {
    pub enabled_by_policy: bool,
    pub delivered: bool,
    pub reason: DeliveryReason,
}

/// SMS and voice delivery for one user on the simulated date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserTelephony {
    pub sms: ChannelDelivery,
    pub voice: ChannelDelivery,
    /// The date Microsoft stops delivering for this user.
    #[serde(with = "iso_date")]
    pub retirement_date: Date,
}

mod iso_date {
    pub fn serialize<S: serde::Serializer>(d: &time::Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!(
            "{:04}-{:02}-{:02}",
            d.year(),
            u8::from(d.month()),
            d.day()
        ))
    }
}

/// External users (B2B guests) have `#EXT#` in their UPN; internal guests do not and retire
/// with everyone else (RETFAQ: "internal guests are in this group").
fn is_external(user: &UserRecord) -> bool {
    user.upn().to_ascii_uppercase().contains("#EXT#")
}

fn is_global_admin(tenant: &Tenant, user: &str) -> bool {
    tenant
        .directory_roles
        .values()
        .any(|r| r.role_template_id == GLOBAL_ADMIN_TEMPLATE && r.members.iter().any(|m| m == user))
}

pub fn retirement_date(tenant: &Tenant, user: &UserRecord) -> Date {
    if is_external(user) || is_global_admin(tenant, user.id()) {
        RETIREMENT_LATE
    } else {
        RETIREMENT
    }
}

/// A provider in production: url set, evaluation mode off, 100 % of traffic.
fn provider_in_production(policy: &MethodsPolicy, id: MethodId) -> bool {
    let Some(Value::Object(p)) = policy.config(id).settings.get("telecomProviderSettings") else {
        return false;
    };
    p.get("url")
        .and_then(Value::as_str)
        .is_some_and(|u| !u.is_empty())
        && p.get("isEvaluationModeEnabled") == Some(&Value::Bool(false))
        && p.get("migrationPercentage").and_then(Value::as_u64) == Some(100)
}

fn channel(
    tenant: &Tenant,
    user: &UserRecord,
    id: MethodId,
    legacy: bool,
    now: OffsetDateTime,
) -> ChannelDelivery {
    let policy = &tenant.methods_policy;
    let enabled =
        policy.targets_user(tenant, id, user.id()) || (!policy.is_migration_complete() && legacy);
    let reason = if !enabled {
        DeliveryReason::NotEnabledByPolicy
    } else if provider_in_production(policy, id) {
        DeliveryReason::TelecomProvider
    } else if now.date() < retirement_date(tenant, user) {
        DeliveryReason::MicrosoftDelivery
    } else {
        DeliveryReason::Retired
    };
    ChannelDelivery {
        enabled_by_policy: enabled,
        delivered: matches!(
            reason,
            DeliveryReason::TelecomProvider | DeliveryReason::MicrosoftDelivery
        ),
        reason,
    }
}

pub fn for_user(tenant: &Tenant, user: &UserRecord, now: OffsetDateTime) -> UserTelephony {
    let legacy = &tenant.methods_policy.legacy_mfa_settings;
    UserTelephony {
        sms: channel(tenant, user, MethodId::Sms, legacy.sms, now),
        voice: channel(tenant, user, MethodId::Voice, legacy.voice, now),
        retirement_date: retirement_date(tenant, user),
    }
}

/// Every user's telephony, keyed by object id (for the state dump).
pub fn all(tenant: &Tenant, now: OffsetDateTime) -> BTreeMap<String, UserTelephony> {
    tenant
        .users
        .iter()
        .map(|(id, u)| (id.clone(), for_user(tenant, u, now)))
        .collect()
}

impl Control {
    /// Whether SMS and voice reach `id_or_upn` on the simulated date (`None`: no such user).
    pub fn telephony(&self, id_or_upn: &str) -> Option<UserTelephony> {
        let state = self.app_state();
        let now = state.now();
        state
            .tenant
            .with(|t| t.user(id_or_upn).map(|u| for_user(t, u, now)))
    }

    /// Moves the simulated clock forward to `at` (never back; returns the new time).
    pub fn advance_clock_to(&self, at: OffsetDateTime) -> OffsetDateTime {
        let state = self.app_state();
        state.clock.advance(at - state.now())
    }
}
