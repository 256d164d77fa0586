//! Whether Entra still delivers SMS and voice calls for a user at a given moment — the meaning
//! of "a phone is a usable method" from 2027 on. Pure: [`TenantMethods`] is read once per tenant
//! (the beta methods policy, which expands every method configuration, plus the Global
//! Administrator role's object id) and cached briefly by the engine; [`TenantMethods::phone_delivery`]
//! answers per user and date.
//!
//! Rule (../shared/graph-spec/PASSKEY-ERA.md "Dates" and §2, from RET, RETFAQ, PROVFAQ, ANALYZER;
//! the same rule tests/graph-sim/src/telephony.rs simulates):
//! - the channel (Sms, Voice) is enabled for the user: the configuration is `enabled`, an
//!   include target is `all_users` or one of the user's groups, and no exclude target matches
//!   (exclude wins; PASSKEY-ERA marks that as assumed for method targets). While
//!   `policyMigrationState` is not `migrationComplete` the legacy MFA settings may still enable
//!   SMS/voice; Graph has no API for them (PASSKEY-ERA §1), and Microsoft's default allows both,
//!   so an untargeted user counts as enabled then;
//! - **and** Microsoft still delivers — the date is before 2027-02-01, or before 2027-07-01 for
//!   Global Administrators and external (`#EXT#`) users — **or** a customer-managed telecom
//!   provider is in production: `url` set, evaluation mode off, `migrationPercentage` 100.
//!   Evaluation mode keeps Microsoft delivering until the retirement only; how users are bucketed
//!   at a partial percentage is unconfirmed, so short of 100 % nobody counts as covered
//!   (stricter: a phone that might not deliver is never what MFA is made to rely on).
//!
//! When the policy cannot be read ([`TenantMethods::unread`], e.g. no
//! Policy.Read.AuthenticationMethod), the dates alone decide, with no provider. The policy key
//! `telephony` ([`TelephonySetting`]) overrides what cannot be read.

use std::fmt;
use std::str::FromStr;

use autoenroll_graph::model::methods_policy::{
    AuthenticationMethodsPolicy, MethodConfiguration, MethodConfigurationId, MethodTarget,
    PolicyMigrationState, TelecomProviderSettings,
};
use time::{Date, OffsetDateTime};

pub use crate::coverage::{RETIREMENT, RETIREMENT_LATE};

/// Global Administrator role template id (the same in every tenant).
pub const GLOBAL_ADMIN_TEMPLATE: &str = "62e90394-69f5-4237-9190-012177145e10";

/// The `all_users` pseudo-group of method targets.
const ALL_USERS: &str = "all_users";

/// Policy key `telephony`: read the tenant (`auto`, the default), or override it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TelephonySetting {
    #[default]
    Auto,
    /// SMS and voice reach every user (e.g. a provider the policy read cannot see).
    Available,
    /// Phones never count as a usable method.
    Unavailable,
}

impl FromStr for TelephonySetting {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "auto" => Ok(TelephonySetting::Auto),
            "available" => Ok(TelephonySetting::Available),
            "unavailable" => Ok(TelephonySetting::Unavailable),
            other => Err(format!(
                "`{other}` is not one of auto, available, unavailable"
            )),
        }
    }
}

impl fmt::Display for TelephonySetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TelephonySetting::Auto => "auto",
            TelephonySetting::Available => "available",
            TelephonySetting::Unavailable => "unavailable",
        })
    }
}

/// A customer-managed telecom provider, as far as delivery is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderMode {
    None,
    /// `isEvaluationModeEnabled`: messages still go through Microsoft, until the retirement.
    Evaluation,
    /// Production below 100 %: per-user routing unknown, counted as no provider.
    Partial(u8),
    Production,
}

impl ProviderMode {
    pub fn of(settings: Option<&TelecomProviderSettings>) -> ProviderMode {
        match settings {
            None => ProviderMode::None,
            Some(p) if p.url.is_empty() => ProviderMode::None,
            Some(p) if p.is_evaluation_mode_enabled => ProviderMode::Evaluation,
            Some(p) if p.is_in_production() => ProviderMode::Production,
            Some(p) => ProviderMode::Partial(p.migration_percentage),
        }
    }
}

/// Include/exclude targets of one method configuration (lowercase object ids).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Targets {
    pub enabled: bool,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

impl Targets {
    pub fn of(config: &MethodConfiguration) -> Targets {
        let ids = |t: &Option<Vec<MethodTarget>>| -> Vec<String> {
            t.iter()
                .flatten()
                .map(|t| t.id.to_ascii_lowercase())
                .collect()
        };
        Targets {
            enabled: config.is_enabled(),
            include: ids(&config.include_targets),
            exclude: ids(&config.exclude_targets),
        }
    }

    /// Whether the configuration applies to a user with these (transitive) group ids and
    /// object id. Exclude wins.
    pub fn targets(&self, user_id: &str, group_ids: &[String]) -> bool {
        let hit = |id: &String| {
            id.eq_ignore_ascii_case(user_id) || group_ids.iter().any(|g| g.eq_ignore_ascii_case(id))
        };
        self.enabled
            && !self.exclude.iter().any(hit)
            && self.include.iter().any(|id| id == ALL_USERS || hit(id))
    }

    /// Object ids whose membership decides targeting (not `all_users`).
    fn group_ids(&self) -> impl Iterator<Item = &String> {
        self.include
            .iter()
            .chain(self.exclude.iter())
            .filter(|id| *id != ALL_USERS)
    }
}

/// One telephony channel's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelConfig {
    pub targets: Targets,
    pub provider: ProviderMode,
}

impl ChannelConfig {
    fn of(config: Option<&MethodConfiguration>) -> ChannelConfig {
        match config {
            Some(c) => ChannelConfig {
                targets: Targets::of(c),
                provider: ProviderMode::of(c.telecom_provider()),
            },
            // Not listed: Microsoft's default (disabled) — only the legacy settings could
            // enable it.
            None => ChannelConfig {
                targets: Targets::default(),
                provider: ProviderMode::None,
            },
        }
    }
}

/// The TAP method configuration: who may sign in with a pass, and the lifetimes Graph accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapConfig {
    pub targets: Targets,
    pub default_lifetime_minutes: u32,
    pub minimum_lifetime_minutes: u32,
    pub maximum_lifetime_minutes: u32,
    /// Every pass is one-time (multi-use is refused).
    pub usable_once: bool,
}

impl TapConfig {
    /// Microsoft's defaults (PASSKEY-ERA §2): 60 minutes within 60–480, multi-use allowed.
    fn of(config: Option<&MethodConfiguration>) -> Option<TapConfig> {
        let c = config?;
        Some(TapConfig {
            targets: Targets::of(c),
            default_lifetime_minutes: c.default_lifetime_in_minutes.unwrap_or(60),
            minimum_lifetime_minutes: c.minimum_lifetime_in_minutes.unwrap_or(60),
            maximum_lifetime_minutes: c.maximum_lifetime_in_minutes.unwrap_or(480),
            usable_once: c.is_usable_once.unwrap_or(false),
        })
    }

    /// `wanted` clamped into the policy's bounds (Graph refuses a lifetime outside them).
    pub fn lifetime(&self, wanted: u32) -> u32 {
        let (lo, hi) = (
            self.minimum_lifetime_minutes
                .min(self.maximum_lifetime_minutes),
            self.maximum_lifetime_minutes,
        );
        wanted.clamp(lo, hi)
    }
}

/// What the tenant's methods policy says, read once per tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantMethods {
    /// `None`: the policy could not be read (the dates alone decide telephony; no TAP policy).
    pub read: Option<ReadPolicy>,
    /// Object id of the activated Global Administrator role, when known.
    pub global_admin_role_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadPolicy {
    pub sms: ChannelConfig,
    pub voice: ChannelConfig,
    /// Legacy MFA settings may still enable SMS/voice.
    pub legacy_applies: bool,
    /// `None`: not listed (Microsoft's default is disabled).
    pub tap: Option<TapConfig>,
}

/// SMS and voice delivery for one user at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PhoneDelivery {
    pub sms: bool,
    pub voice: bool,
}

impl PhoneDelivery {
    pub const ALL: PhoneDelivery = PhoneDelivery {
        sms: true,
        voice: true,
    };
    pub const NONE: PhoneDelivery = PhoneDelivery {
        sms: false,
        voice: false,
    };

    pub fn any(self) -> bool {
        self.sms || self.voice
    }
}

/// What about the user decides delivery.
#[derive(Debug, Clone, Copy)]
pub struct UserFacts<'a> {
    pub user_id: &'a str,
    /// Transitive group and directory-role object ids (at least those in
    /// [`TenantMethods::membership_ids`]).
    pub member_of: &'a [String],
    pub user_principal_name: Option<&'a str>,
}

impl UserFacts<'_> {
    /// External users have `#EXT#` in their UPN; internal guests retire in February.
    fn is_external(&self) -> bool {
        self.user_principal_name
            .is_some_and(|u| u.to_ascii_uppercase().contains("#EXT#"))
    }
}

impl TenantMethods {
    pub fn from_policy(
        policy: &AuthenticationMethodsPolicy,
        global_admin_role_id: Option<String>,
    ) -> TenantMethods {
        let cfg = |id| policy.configuration(id);
        TenantMethods {
            read: Some(ReadPolicy {
                sms: ChannelConfig::of(cfg(MethodConfigurationId::Sms)),
                voice: ChannelConfig::of(cfg(MethodConfigurationId::Voice)),
                legacy_applies: policy.policy_migration_state
                    != Some(PolicyMigrationState::MigrationComplete),
                tap: TapConfig::of(cfg(MethodConfigurationId::TemporaryAccessPass)),
            }),
            global_admin_role_id: global_admin_role_id.map(|id| id.to_ascii_lowercase()),
        }
    }

    /// The policy could not be read.
    pub fn unread() -> TenantMethods {
        TenantMethods {
            read: None,
            global_admin_role_id: None,
        }
    }

    /// Object ids whose membership a user must be checked for (method targets, the Global
    /// Administrator role).
    pub fn membership_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .read
            .iter()
            .flat_map(|r| {
                r.sms
                    .targets
                    .group_ids()
                    .chain(r.voice.targets.group_ids())
                    .chain(r.tap.iter().flat_map(|t| t.targets.group_ids()))
            })
            .cloned()
            .chain(self.global_admin_role_id.clone())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The date Microsoft stops delivering for this user.
    pub fn retirement_date(&self, user: &UserFacts<'_>) -> Date {
        let global_admin = self
            .global_admin_role_id
            .as_ref()
            .is_some_and(|role| user.member_of.iter().any(|m| m.eq_ignore_ascii_case(role)));
        if global_admin || user.is_external() {
            RETIREMENT_LATE
        } else {
            RETIREMENT
        }
    }

    /// Whether SMS and voice reach `user` at `now`, under the policy's `telephony` setting.
    pub fn phone_delivery(
        &self,
        setting: TelephonySetting,
        user: &UserFacts<'_>,
        now: OffsetDateTime,
    ) -> PhoneDelivery {
        match setting {
            TelephonySetting::Available => return PhoneDelivery::ALL,
            TelephonySetting::Unavailable => return PhoneDelivery::NONE,
            TelephonySetting::Auto => {}
        }
        let microsoft_delivers = now.date() < self.retirement_date(user);
        let Some(read) = &self.read else {
            return if microsoft_delivers {
                PhoneDelivery::ALL
            } else {
                PhoneDelivery::NONE
            };
        };
        let channel = |c: &ChannelConfig| {
            let enabled = c.targets.targets(user.user_id, user.member_of) || read.legacy_applies;
            enabled && (microsoft_delivers || c.provider == ProviderMode::Production)
        };
        PhoneDelivery {
            sms: channel(&read.sms),
            voice: channel(&read.voice),
        }
    }

    /// The TAP policy, when it targets the user (`None`: a pass would be refused or unusable).
    pub fn tap_for(&self, user: &UserFacts<'_>) -> Option<&TapConfig> {
        self.read
            .as_ref()?
            .tap
            .as_ref()
            .filter(|t| t.targets.targets(user.user_id, user.member_of))
    }
}

#[cfg(test)]
mod tests;
