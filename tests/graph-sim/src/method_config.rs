//! One method configuration of the authentication methods policy: state, include/exclude
//! targets, type-specific settings, Graph's JSON for it, and the validation of a PATCH (or of a
//! seed entry, which has the same shape).
//!
//! Sources: PASSKEY-ERA.md §2 (learn smsauthenticationmethodconfiguration-update,
//! resources/smsauthenticationmethodtarget, resources/telecomprovidersettings,
//! temporaryaccesspassauthenticationmethodconfiguration).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::policy::{ALL_USERS, MethodId};
use crate::state::Tenant;

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
    pub(crate) fn all_users() -> Self {
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
    pub(crate) fn microsoft_default(id: MethodId) -> Self {
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
                include
                    .extra
                    .insert("isUsableForSignIn".into(), json!(false));
            }
            MethodId::MicrosoftAuthenticator => {
                include
                    .extra
                    .insert("authenticationMode".into(), json!("any"));
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
        let beta_only =
            |list: &[(&str, bool)], name: &str| list.iter().any(|(n, b)| *b && *n == name);
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
                "includeTargets" => {
                    next.include_targets = self.targets(value, true, beta, tenant)?
                }
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
        if ![
            "url",
            "appId",
            "isEvaluationModeEnabled",
            "migrationPercentage",
        ]
        .contains(&k.as_str())
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
    if !m
        .get("isEvaluationModeEnabled")
        .is_some_and(Value::is_boolean)
    {
        return Err("telecomProviderSettings.isEvaluationModeEnabled must be a boolean.".into());
    }
    let percentage = m.get("migrationPercentage").and_then(Value::as_u64);
    if percentage.is_none_or(|p| p > 100) {
        return Err(
            "telecomProviderSettings.migrationPercentage must be between 0 and 100.".into(),
        );
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
