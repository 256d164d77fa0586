//! The authentication methods policy: the tenant-wide policy object and the five method
//! configurations the simulator models (Sms, Voice, TemporaryAccessPass, Fido2,
//! MicrosoftAuthenticator), their targets, and who a method is enabled for.
//!
//! Sources: ../shared/graph-spec/PASSKEY-ERA.md §1–§2 (learn authenticationmethodspolicy-get,
//! smsauthenticationmethodconfiguration-get/-update, resources/telecomprovidersettings,
//! temporaryaccesspassauthenticationmethodconfiguration, fido2authenticationmethodconfiguration).
//! The HTTP side is in `policy_api.rs`, telephony delivery in `telephony.rs`.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::error::SimError;
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
    fn settings(self) -> &'static [(&'static str, bool)] {
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
            Self::MicrosoftAuthenticator => &[
                ("isSoftwareOathEnabled", false),
                ("featureSettings", false),
            ],
        }
    }

    /// Extra properties an include target of this method carries: (name, beta only).
    fn target_settings(self) -> &'static [(&'static str, bool)] {
        match self {
            Self::Sms => &[("isUsableForSignIn", false)],
            Self::MicrosoftAuthenticator => &[("authenticationMode", false)],
            Self::Fido2 => &[("allowedPasskeyProfiles", true)],
            _ => &[],
        }
    }
}

/// An include or exclude target: `{id, targetType}` plus the method's target properties.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    pub id: String,
    pub target_type: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Target {
    fn all_users() -> Self {
        Self {
            id: ALL_USERS.into(),
            target_type: "group".into(),
            extra: Map::new(),
        }
    }
}

/// One method configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MethodConfig {
    pub id: MethodId,
    pub enabled: bool,
    pub include_targets: Vec<Target>,
    pub exclude_targets: Vec<Target>,
    /// Type-specific properties in Graph's shape (validated on every change).
    pub settings: Map<String, Value>,
}

impl MethodConfig {
    /// Microsoft's defaults for a tenant nobody configured, as of the passkey era
    /// (PASSKEY-ERA.md: Fido2 auto-enabled from 2026-09-01; Authenticator Microsoft-managed =
    /// enabled; Sms/Voice/TAP off in the policy; TAP defaults from TAPHOW).
    fn microsoft_default(id: MethodId) -> Self {
        let (enabled, settings) = match id {
            MethodId::Sms => (false, json!({"telecomProviderSettings": null})),
            MethodId::Voice => (
                false,
                json!({"isOfficePhoneAllowed": false, "callerIdNumber": null, "telecomProviderSettings": null}),
            ),
            MethodId::TemporaryAccessPass => (
                false,
                json!({"defaultLifetimeInMinutes": 60, "defaultLength": 8,
                       "minimumLifetimeInMinutes": 60, "maximumLifetimeInMinutes": 480,
                       "isUsableOnce": false}),
            ),
            MethodId::Fido2 => (
                true,
                json!({"isSelfServiceRegistrationAllowed": true, "isAttestationEnforced": false,
                       "keyRestrictions": {"isEnforced": false, "enforcementType": "block", "aaGuids": []}}),
            ),
            MethodId::MicrosoftAuthenticator => (true, json!({"isSoftwareOathEnabled": false})),
        };
        let mut include = Target::all_users();
        match id {
            MethodId::Sms => {
                include.extra.insert("isUsableForSignIn".into(), json!(false));
            }
            MethodId::MicrosoftAuthenticator => {
                include.extra.insert("authenticationMode".into(), json!("any"));
            }
            _ => {}
        }
        Self {
            id,
            enabled,
            include_targets: vec![include],
            exclude_targets: Vec::new(),
            settings: settings.as_object().cloned().unwrap_or_default(),
        }
    }

    pub fn setting_u32(&self, name: &str) -> u32 {
        self.settings
            .get(name)
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or_default()
    }

    pub fn setting_bool(&self, name: &str) -> bool {
        self.settings
            .get(name)
            .and_then(Value::as_bool)
            .unwrap_or_default()
    }

    /// Graph's JSON for this configuration (`beta`: with the beta-only properties).
    pub fn to_json(&self, beta: bool) -> Value {
        let beta_only = |list: &[(&str, bool)], name: &str| {
            list.iter().any(|(n, b)| *b && *n == name)
        };
        let mut out = Map::new();
        out.insert("@odata.type".into(), json!(self.id.odata_type()));
        out.insert("id".into(), json!(self.id.as_str()));
        out.insert(
            "state".into(),
            json!(if self.enabled { "enabled" } else { "disabled" }),
        );
        let targets = |list: &[Target], include: bool| -> Vec<Value> {
            list.iter()
                .map(|t| {
                    let mut m = Map::new();
                    m.insert("id".into(), json!(t.id));
                    m.insert("targetType".into(), json!(t.target_type));
                    if include {
                        m.insert("isRegistrationRequired".into(), json!(false));
                        for (k, v) in &t.extra {
                            if beta || !beta_only(self.id.target_settings(), k) {
                                m.insert(k.clone(), v.clone());
                            }
                        }
                    }
                    Value::Object(m)
                })
                .collect()
        };
        out.insert(
            "excludeTargets".into(),
            json!(targets(&self.exclude_targets, false)),
        );
        out.insert(
            "includeTargets".into(),
            json!(targets(&self.include_targets, true)),
        );
        for (k, v) in &self.settings {
            if beta || !beta_only(self.id.settings(), k) {
                out.insert(k.clone(), v.clone());
            }
        }
        Value::Object(out)
    }

    /// Applies a PATCH (or a seed entry, which has the same shape) to a copy and returns it
    /// when the whole result is valid: a change is all-or-nothing.
    pub fn patched(
        &self,
        body: &Map<String, Value>,
        beta: bool,
        tenant: &Tenant,
    ) -> Result<Self, String> {
        let mut next = self.clone();
        for (key, value) in body {
            match key.as_str() {
                "@odata.type" => {
                    if value.as_str() != Some(self.id.odata_type()) {
                        return Err(format!(
                            "The @odata.type must be '{}' for the method configuration '{}'.",
                            self.id.odata_type(),
                            self.id.as_str()
                        ));
                    }
                }
                "id" => {
                    if !value
                        .as_str()
                        .is_some_and(|v| v.eq_ignore_ascii_case(self.id.as_str()))
                    {
                        return Err("Property 'id' is read-only and cannot be changed.".into());
                    }
                }
                "state" => {
                    next.enabled = match value.as_str() {
                        Some("enabled") => true,
                        Some("disabled") => false,
                        _ => return Err("state must be 'enabled' or 'disabled'.".into()),
                    }
                }
                "includeTargets" => next.include_targets = self.targets(value, true, beta, tenant)?,
                "excludeTargets" => {
                    next.exclude_targets = self.targets(value, false, beta, tenant)?
                }
                name => {
                    let known = self.id.settings().iter().find(|(n, _)| *n == name);
                    match known {
                        Some((_, beta_only)) if *beta_only && !beta => {
                            // Absent from the v1.0 schema: Graph rejects undeclared properties.
                            return Err(unknown_property(name));
                        }
                        Some(_) => {
                            check_setting(name, value)?;
                            next.settings.insert(name.to_string(), value.clone());
                        }
                        None => return Err(unknown_property(name)),
                    }
                }
            }
        }
        if next.id == MethodId::TemporaryAccessPass {
            check_tap_limits(&next)?;
        }
        Ok(next)
    }

    fn targets(
        &self,
        value: &Value,
        include: bool,
        beta: bool,
        tenant: &Tenant,
    ) -> Result<Vec<Target>, String> {
        let list = value
            .as_array()
            .ok_or("includeTargets and excludeTargets must be arrays.")?;
        let mut out = Vec::with_capacity(list.len());
        for item in list {
            let target: Target = serde_json::from_value(item.clone())
                .map_err(|_| "A target needs an 'id' and a 'targetType'.".to_string())?;
            let known_id = match target.target_type.as_str() {
                // Docs: `all_users` is an include target; excluding everyone is not described,
                // so the simulator refuses it (stricter).
                "group" if target.id == ALL_USERS => include,
                "group" => tenant.groups.contains_key(&target.id),
                "user" => tenant.users.contains_key(&target.id),
                other => return Err(format!("Invalid targetType '{other}'.")),
            };
            if !known_id {
                return Err(format!(
                    "Resource '{}' does not exist or one of its queried reference-property objects are not present.",
                    target.id
                ));
            }
            for (k, v) in &target.extra {
                let allowed = include
                    && (k == "isRegistrationRequired"
                        || self
                            .id
                            .target_settings()
                            .iter()
                            .any(|(n, b)| n == k && (beta || !*b)));
                if !allowed {
                    return Err(unknown_property(k));
                }
                check_setting(k, v)?;
            }
            out.push(target);
        }
        Ok(out)
    }
}

fn unknown_property(name: &str) -> String {
    format!("Property '{name}' does not exist as a declared property or extension property.")
}

/// Type checks of the settings and target properties the simulator knows.
fn check_setting(name: &str, value: &Value) -> Result<(), String> {
    let ok = match name {
        "isOfficePhoneAllowed"
        | "isUsableOnce"
        | "isSelfServiceRegistrationAllowed"
        | "isAttestationEnforced"
        | "isSoftwareOathEnabled"
        | "isUsableForSignIn"
        | "isRegistrationRequired" => value.is_boolean(),
        "defaultLifetimeInMinutes"
        | "defaultLength"
        | "minimumLifetimeInMinutes"
        | "maximumLifetimeInMinutes" => value.as_u64().is_some(),
        "callerIdNumber" | "defaultPasskeyProfile" => value.is_null() || value.is_string(),
        "authenticationMode" => matches!(value.as_str(), Some("any" | "deviceBasedPush" | "push")),
        "keyRestrictions" | "featureSettings" => value.is_object(),
        "passkeyProfiles" | "allowedPasskeyProfiles" => value.is_array(),
        "telecomProviderSettings" => return check_telecom(value),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("Invalid value for property '{name}'."))
    }
}

/// `telecomProviderSettings` (beta): `url`, `appId` (GUID), `isEvaluationModeEnabled`,
/// `migrationPercentage` 0–100 (learn resources/telecomprovidersettings). `null` clears it.
/// Which fields are required is not documented; the simulator requires all four (stricter).
fn check_telecom(value: &Value) -> Result<(), String> {
    if value.is_null() {
        return Ok(());
    }
    let m = value
        .as_object()
        .ok_or("telecomProviderSettings must be an object or null.")?;
    for k in m.keys() {
        if !["url", "appId", "isEvaluationModeEnabled", "migrationPercentage"].contains(&k.as_str())
        {
            return Err(unknown_property(k));
        }
    }
    let url_ok = m
        .get("url")
        .and_then(Value::as_str)
        .is_some_and(|u| u.starts_with("https://") && u.len() > "https://".len());
    if !url_ok {
        return Err("telecomProviderSettings.url must be an https URL.".into());
    }
    let app_ok = m
        .get("appId")
        .and_then(Value::as_str)
        .is_some_and(|a| uuid::Uuid::parse_str(a).is_ok());
    if !app_ok {
        return Err("telecomProviderSettings.appId must be a GUID.".into());
    }
    if !m.get("isEvaluationModeEnabled").is_some_and(Value::is_boolean) {
        return Err("telecomProviderSettings.isEvaluationModeEnabled must be a boolean.".into());
    }
    if !m
        .get("migrationPercentage")
        .and_then(Value::as_u64)
        .is_some_and(|p| p <= 100)
    {
        return Err("telecomProviderSettings.migrationPercentage must be between 0 and 100.".into());
    }
    Ok(())
}

/// TAP limits (TAPHOW; MGDC temporaryaccesspassauthenticationmethodconfiguration): lifetimes
/// 10–43,200 minutes with minimum ≤ default ≤ maximum, length 8–48.
fn check_tap_limits(c: &MethodConfig) -> Result<(), String> {
    let (min, max, default, length) = (
        c.setting_u32("minimumLifetimeInMinutes"),
        c.setting_u32("maximumLifetimeInMinutes"),
        c.setting_u32("defaultLifetimeInMinutes"),
        c.setting_u32("defaultLength"),
    );
    let range = 10..=43_200;
    if !range.contains(&min) || !range.contains(&max) || !range.contains(&default) {
        return Err("Lifetimes must be between 10 and 43200 minutes.".into());
    }
    if !(min <= default && default <= max) {
        return Err("defaultLifetimeInMinutes must lie between minimumLifetimeInMinutes and maximumLifetimeInMinutes.".into());
    }
    if !(8..=48).contains(&length) {
        return Err("defaultLength must be between 8 and 48.".into());
    }
    Ok(())
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
        let invalid = |m: String| SimError::InvalidSeed(format!("authenticationMethodsPolicy: {m}"));
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
            let next = policy.config(id).patched(entry, true, tenant).map_err(invalid)?;
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
    g.members.iter().any(|m| {
        m == user || (tenant.groups.contains_key(m) && in_group(tenant, m, user, seen))
    })
}
