//! The authentication methods policy: the tenant-wide policy object and the five method
//! configurations the simulator models (Sms, Voice, TemporaryAccessPass, Fido2,
//! MicrosoftAuthenticator), their targets, and who a method is enabled for.
//!
//! Sources: ../shared/graph-spec/PASSKEY-ERA.md §1–§2 (learn authenticationmethodspolicy-get,
//! smsauthenticationmethodconfiguration-get/-update, resources/telecomprovidersettings,
//! temporaryaccesspassauthenticationmethodconfiguration, fido2authenticationmethodconfiguration).
//! A method configuration is in `method_config.rs`, the HTTP side in `policy_api.rs`,
//! telephony delivery in `telephony.rs`.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::error::SimError;
pub use crate::method_config::{MethodConfig, Target};
use crate::state::Tenant;

/// The include-target id meaning "every user".
pub const ALL_USERS: &str = "all_users";

/// A method configuration the simulator models, by its returned `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MethodId {
    Sms,
    Voice,
    TemporaryAccessPass,
    Fido2,
    MicrosoftAuthenticator,
}

impl MethodId {
    /// In the order Graph lists them in the policy (MGDC authenticationmethodspolicy-get example).
    pub const ALL: [MethodId; 5] = [
        MethodId::Fido2,
        MethodId::MicrosoftAuthenticator,
        MethodId::Sms,
        MethodId::TemporaryAccessPass,
        MethodId::Voice,
    ];

    /// Position in [`MethodId::ALL`] (and in the policy's configuration array).
    fn index(self) -> usize {
        match self {
            Self::Fido2 => 0,
            Self::MicrosoftAuthenticator => 1,
            Self::Sms => 2,
            Self::TemporaryAccessPass => 3,
            Self::Voice => 4,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "Sms",
            Self::Voice => "Voice",
            Self::TemporaryAccessPass => "TemporaryAccessPass",
            Self::Fido2 => "Fido2",
            Self::MicrosoftAuthenticator => "MicrosoftAuthenticator",
        }
    }

    /// The docs use `sms`, `fido2`, …; returned ids are `Sms`, `Fido2`, …. Whether Graph
    /// matches the segment case-insensitively is unconfirmed; the simulator accepts any case so
    /// that both Microsoft's analyzer (`sms`) and the returned ids work.
    pub fn parse(segment: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(segment))
    }

    pub fn odata_type(self) -> &'static str {
        match self {
            Self::Sms => "#microsoft.graph.smsAuthenticationMethodConfiguration",
            Self::Voice => "#microsoft.graph.voiceAuthenticationMethodConfiguration",
            Self::TemporaryAccessPass => {
                "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration"
            }
            Self::Fido2 => "#microsoft.graph.fido2AuthenticationMethodConfiguration",
            Self::MicrosoftAuthenticator => {
                "#microsoft.graph.microsoftAuthenticatorAuthenticationMethodConfiguration"
            }
        }
    }

    /// Type-specific properties: (name, beta only).
    pub(crate) fn settings(self) -> &'static [(&'static str, bool)] {
        match self {
            Self::Sms => &[("telecomProviderSettings", true)],
            Self::Voice => &[
                ("isOfficePhoneAllowed", false),
                ("callerIdNumber", true),
                ("telecomProviderSettings", true),
            ],
            Self::TemporaryAccessPass => &[
                ("defaultLifetimeInMinutes", false),
                ("defaultLength", false),
                ("minimumLifetimeInMinutes", false),
                ("maximumLifetimeInMinutes", false),
                ("isUsableOnce", false),
            ],
            Self::Fido2 => &[
                ("isSelfServiceRegistrationAllowed", false),
                ("isAttestationEnforced", false),
                ("keyRestrictions", false),
                ("passkeyProfiles", true),
                ("defaultPasskeyProfile", true),
            ],
            Self::MicrosoftAuthenticator => {
                &[("isSoftwareOathEnabled", false), ("featureSettings", false)]
            }
        }
    }

    /// Extra properties an include target of this method carries: (name, beta only).
    pub(crate) fn target_settings(self) -> &'static [(&'static str, bool)] {
        match self {
            Self::Sms => &[("isUsableForSignIn", false)],
            Self::MicrosoftAuthenticator => &[("authenticationMode", false)],
            Self::Fido2 => &[("allowedPasskeyProfiles", true)],
            _ => &[],
        }
    }
}

/// `registrationEnforcement.authenticationMethodsRegistrationCampaign`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegistrationCampaign {
    pub state: String,
    pub snooze_duration_in_days: u8,
    #[serde(default = "yes")]
    pub enforce_registration_after_allowed_snoozes: bool,
    #[serde(default)]
    pub include_targets: Vec<Value>,
    #[serde(default)]
    pub exclude_targets: Vec<Value>,
}

fn yes() -> bool {
    true
}

/// `systemCredentialPreferences` (system-preferred MFA).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SystemCredentialPreferences {
    pub state: String,
    #[serde(default)]
    pub include_targets: Vec<Value>,
    #[serde(default)]
    pub exclude_targets: Vec<Value>,
}

/// The seed key `authenticationMethodsPolicy`: Graph's shape (any part may be left out and
/// keeps Microsoft's default) plus two simulator settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MethodsPolicySeed {
    #[serde(default)]
    pub policy_migration_state: Option<String>,
    #[serde(default)]
    pub registration_enforcement: Option<RegistrationEnforcementSeed>,
    #[serde(default)]
    pub system_credential_preferences: Option<SystemCredentialPreferences>,
    #[serde(default)]
    pub opt_out_settings: Option<OptOutSettings>,
    /// Entries in Graph's shape, each with its `id`; merged over the default.
    #[serde(default)]
    pub authentication_method_configurations: Vec<Map<String, Value>>,
    /// The legacy MFA service settings (no Graph API found): whether they allow text messages
    /// and calls. They count while `policyMigrationState` is not `migrationComplete`.
    #[serde(default)]
    pub legacy_mfa_settings: Option<LegacyMfaSettings>,
    /// Simulator setting: create a TAP for a user the TAP policy does not target (Graph: "you
    /// can create a TAP for any user, only users included in the policy can sign in with it";
    /// an observed error says otherwise). Default false: refused (stricter).
    #[serde(default)]
    pub allow_tap_for_untargeted_users: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegistrationEnforcementSeed {
    pub authentication_methods_registration_campaign: RegistrationCampaign,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OptOutSettings {
    #[serde(default)]
    pub passkey_dynamic_migration: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LegacyMfaSettings {
    pub sms: bool,
    pub voice: bool,
}

/// The tenant's authentication methods policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MethodsPolicy {
    /// `preMigration` (the wire value; the docs' text says `premigration`),
    /// `migrationInProgress`, `migrationComplete`.
    pub policy_migration_state: String,
    pub registration_campaign: RegistrationCampaign,
    pub system_credential_preferences: SystemCredentialPreferences,
    /// Beta `optOutSettings.passkeyDynamicMigration`; `None` = never set (rendered `null`:
    /// its value when unset is unconfirmed, clients must read null as false).
    pub passkey_dynamic_migration: Option<bool>,
    /// In [`MethodId::ALL`] order.
    pub configs: [MethodConfig; 5],
    pub legacy_mfa_settings: LegacyMfaSettings,
    pub allow_tap_for_untargeted_users: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub last_modified: OffsetDateTime,
}

const MIGRATION_STATES: &[&str] = &["preMigration", "migrationInProgress", "migrationComplete"];

impl Default for MethodsPolicy {
    /// Microsoft-managed: pre-migration (legacy MFA settings still allow SMS and calls),
    /// registration campaign Microsoft managed and targeting passkeys (from 2026-09-01).
    fn default() -> Self {
        Self {
            policy_migration_state: "preMigration".into(),
            registration_campaign: RegistrationCampaign {
                state: "default".into(),
                snooze_duration_in_days: 1,
                enforce_registration_after_allowed_snoozes: true,
                include_targets: vec![
                    json!({"id": ALL_USERS, "targetType": "group", "targetedAuthenticationMethod": "Fido2"}),
                ],
                exclude_targets: Vec::new(),
            },
            system_credential_preferences: SystemCredentialPreferences {
                state: "default".into(),
                include_targets: vec![json!({"id": ALL_USERS, "targetType": "group"})],
                exclude_targets: Vec::new(),
            },
            passkey_dynamic_migration: None,
            configs: MethodId::ALL.map(MethodConfig::microsoft_default),
            legacy_mfa_settings: LegacyMfaSettings {
                sms: true,
                voice: true,
            },
            allow_tap_for_untargeted_users: false,
            last_modified: time::macros::datetime!(2026-09-01 00:00 UTC),
        }
    }
}

impl MethodsPolicy {
    /// The seeded policy over Microsoft's default. Needs the tenant's users and groups (targets
    /// are checked).
    pub fn from_seed(seed: Option<&MethodsPolicySeed>, tenant: &Tenant) -> Result<Self, SimError> {
        let mut policy = Self::default();
        let Some(seed) = seed else {
            return Ok(policy);
        };
        let invalid =
            |m: String| SimError::InvalidSeed(format!("authenticationMethodsPolicy: {m}"));
        if let Some(s) = &seed.policy_migration_state {
            if !MIGRATION_STATES.contains(&s.as_str()) {
                return Err(invalid(format!("unknown policyMigrationState {s}")));
            }
            policy.policy_migration_state = s.clone();
        }
        if let Some(r) = &seed.registration_enforcement {
            policy.registration_campaign = r.authentication_methods_registration_campaign.clone();
        }
        if let Some(p) = &seed.system_credential_preferences {
            policy.system_credential_preferences = p.clone();
        }
        if let Some(o) = &seed.opt_out_settings {
            policy.passkey_dynamic_migration = o.passkey_dynamic_migration;
        }
        if let Some(l) = &seed.legacy_mfa_settings {
            policy.legacy_mfa_settings = l.clone();
        }
        policy.allow_tap_for_untargeted_users = seed.allow_tap_for_untargeted_users;
        let mut seen = HashSet::new();
        for entry in &seed.authentication_method_configurations {
            let id = entry
                .get("id")
                .and_then(Value::as_str)
                .and_then(MethodId::parse)
                .ok_or_else(|| invalid("a method configuration needs a known id".into()))?;
            if !seen.insert(id) {
                return Err(invalid(format!("{} configured twice", id.as_str())));
            }
            let next = policy
                .config(id)
                .patched(entry, true, tenant)
                .map_err(invalid)?;
            *policy.config_mut(id) = next;
        }
        Ok(policy)
    }

    pub fn config(&self, id: MethodId) -> &MethodConfig {
        &self.configs[id.index()]
    }

    pub fn config_mut(&mut self, id: MethodId) -> &mut MethodConfig {
        &mut self.configs[id.index()]
    }

    pub fn is_migration_complete(&self) -> bool {
        self.policy_migration_state == "migrationComplete"
    }

    /// Whether `id` is enabled for `user` by its configuration: enabled, included (directly,
    /// through a group, transitively, or `all_users`) and not excluded. That an exclusion wins
    /// is documented for the campaign and system-preferred MFA, assumed here (unconfirmed for
    /// method targets).
    pub fn targets_user(&self, tenant: &Tenant, id: MethodId, user: &str) -> bool {
        let c = self.config(id);
        let hit = |t: &Target| match t.target_type.as_str() {
            "user" => t.id == user,
            _ => t.id == ALL_USERS || in_group(tenant, &t.id, user, &mut HashSet::new()),
        };
        c.enabled && c.include_targets.iter().any(hit) && !c.exclude_targets.iter().any(hit)
    }

    /// The policy in Graph's shape (`beta` adds `optOutSettings` and the beta-only properties).
    pub fn to_json(&self, beta: bool) -> Value {
        let mut out = json!({
            "id": "authenticationMethodsPolicy",
            "displayName": "Authentication Methods Policy",
            "description": "The tenant-wide policy that controls which authentication methods are allowed in the tenant, authentication method registration requirements, and self-service password reset settings",
            "lastModifiedDateTime": crate::clock::format_rfc3339(self.last_modified),
            "policyVersion": "1.5",
            "policyMigrationState": self.policy_migration_state,
            "registrationEnforcement": {
                "authenticationMethodsRegistrationCampaign": self.registration_campaign,
            },
            "systemCredentialPreferences": self.system_credential_preferences,
            "authenticationMethodConfigurations":
                self.configs.iter().map(|c| c.to_json(beta)).collect::<Vec<_>>(),
        });
        if beta && let Value::Object(m) = &mut out {
            m.insert(
                "optOutSettings".into(),
                json!({"passkeyDynamicMigration": self.passkey_dynamic_migration}),
            );
        }
        out
    }
}

/// Membership of `user` in `group`, following nested groups (nested-group resolution for
/// method targets is unconfirmed; transitive is what an administrator expects of a target).
pub(crate) fn in_group(
    tenant: &Tenant,
    group: &str,
    user: &str,
    seen: &mut HashSet<String>,
) -> bool {
    if !seen.insert(group.to_string()) {
        return false;
    }
    let Some(g) = tenant.groups.get(group) else {
        return false;
    };
    g.members
        .iter()
        .any(|m| m == user || (tenant.groups.contains_key(m) && in_group(tenant, m, user, seen)))
}
