//! The authentication methods policy, its method configurations, a user's manager, and the
//! kinds of authentication method (PASSKEY-ERA.md §1, §2, §4, §5).
//!
//! Every struct tolerates unknown fields and omits `None` when serialised, so a PATCH carries
//! only what the caller sets.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{AuthenticationMethod, TemporaryAccessPass};

/// `policyMigrationState`. The docs' text says `premigration`; the wire value is `preMigration`
/// (msgraph-sdk-java enum; Microsoft365DSC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PolicyMigrationState {
    PreMigration,
    MigrationInProgress,
    MigrationComplete,
    #[serde(other)]
    UnknownFutureValue,
}

/// `microsoft.graph.authenticationMethodsPolicy` (`GET /policies/authenticationMethodsPolicy`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationMethodsPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_date_time: Option<String>,
    /// Anything but `migrationComplete` means the legacy MFA/SSPR settings still count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_migration_state: Option<PolicyMigrationState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_enforcement: Option<RegistrationEnforcement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_credential_preferences: Option<SystemCredentialPreferences>,
    /// Beta only; undocumented value when never set (absent or null): read both as "not opted out".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_out_settings: Option<OptOutSettings>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authentication_method_configurations: Vec<MethodConfiguration>,
}

impl AuthenticationMethodsPolicy {
    /// The configuration of `id`, if the policy lists it.
    pub fn configuration(&self, id: MethodConfigurationId) -> Option<&MethodConfiguration> {
        self.authentication_method_configurations
            .iter()
            .find(|c| c.id.eq_ignore_ascii_case(id.as_str()))
    }

    /// Whether the tenant opted out of the 2026-09-01 passkey auto-enablement (absent/null = no).
    pub fn opted_out_of_passkey_migration(&self) -> bool {
        self.opt_out_settings
            .as_ref()
            .and_then(|o| o.passkey_dynamic_migration)
            .unwrap_or(false)
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationEnforcement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_methods_registration_campaign: Option<RegistrationCampaign>,
}

/// `authenticationMethodsRegistrationCampaign`; `state` `default` = Microsoft managed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationCampaign {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snooze_duration_in_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforce_registration_after_allowed_snoozes: Option<bool>,
    /// `{id, targetType, targetedAuthenticationMethod}` (`Fido2`, `microsoftAuthenticator`).
    #[serde(default)]
    pub include_targets: Vec<Map<String, Value>>,
    #[serde(default)]
    pub exclude_targets: Vec<Map<String, Value>>,
}

/// System-preferred MFA, tenant-wide.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemCredentialPreferences {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default)]
    pub include_targets: Vec<Map<String, Value>>,
    #[serde(default)]
    pub exclude_targets: Vec<Map<String, Value>>,
}

/// Beta `optOutSettings`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OptOutSettings {
    #[serde(default)]
    pub passkey_dynamic_migration: Option<bool>,
}

/// A method configuration's id, as Graph returns it (the path segment in any case works).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MethodConfigurationId {
    Sms,
    Voice,
    TemporaryAccessPass,
    Fido2,
    MicrosoftAuthenticator,
}

impl MethodConfigurationId {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "Sms",
            Self::Voice => "Voice",
            Self::TemporaryAccessPass => "TemporaryAccessPass",
            Self::Fido2 => "Fido2",
            Self::MicrosoftAuthenticator => "MicrosoftAuthenticator",
        }
    }

    /// The `@odata.type` a PATCH body names.
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
}

/// `state` of a method configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MethodState {
    Enabled,
    Disabled,
    #[serde(other)]
    UnknownFutureValue,
}

/// An include or exclude target: `all_users` or a group (or user) object id.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MethodTarget {
    pub id: String,
    /// `group` or `user`.
    pub target_type: String,
    /// Sms only: SMS usable as a *primary* sign-in method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_usable_for_sign_in: Option<bool>,
    /// MicrosoftAuthenticator only (`any`, `push`, `deviceBasedPush`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_mode: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl MethodTarget {
    /// Everyone.
    pub fn all_users() -> Self {
        Self::group("all_users")
    }

    pub fn group(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            target_type: "group".into(),
            ..Self::default()
        }
    }
}

/// Beta `telecomProviderSettings` on Sms and Voice: a customer-managed telecom provider.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TelecomProviderSettings {
    pub url: String,
    pub app_id: String,
    pub is_evaluation_mode_enabled: bool,
    pub migration_percentage: u8,
}

impl TelecomProviderSettings {
    /// Production mode: every message goes through the provider (evaluation off, 100 %).
    pub fn is_in_production(&self) -> bool {
        !self.url.is_empty() && !self.is_evaluation_mode_enabled && self.migration_percentage == 100
    }
}

/// One method configuration (`GET …/authenticationMethodConfigurations/{id}`). Type-specific
/// properties are typed where we use them; the rest stays in `other`. Also the PATCH body:
/// set `odata_type` with [`MethodConfiguration::patch_for`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MethodConfiguration {
    #[serde(
        rename = "@odata.type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub odata_type: Option<String>,
    /// Returned; never sent (read-only).
    #[serde(default, skip_serializing)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<MethodState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_targets: Option<Vec<MethodTarget>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_targets: Option<Vec<MethodTarget>>,
    /// Sms and Voice, beta. `Some(None)` (serialised as `null`) clears it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub telecom_provider_settings: Option<Option<TelecomProviderSettings>>,
    /// Voice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_office_phone_allowed: Option<bool>,
    /// TemporaryAccessPass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_lifetime_in_minutes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_lifetime_in_minutes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_lifetime_in_minutes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_usable_once: Option<bool>,
    /// Fido2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_self_service_registration_allowed: Option<bool>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl MethodConfiguration {
    /// An empty PATCH body for `id` (carries the `@odata.type` Graph's examples send).
    pub fn patch_for(id: MethodConfigurationId) -> Self {
        Self {
            odata_type: Some(id.odata_type().to_owned()),
            ..Self::default()
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.state == Some(MethodState::Enabled)
    }

    /// The configured provider, if any (absent and `null` both read as none).
    pub fn telecom_provider(&self) -> Option<&TelecomProviderSettings> {
        self.telecom_provider_settings
            .as_ref()
            .and_then(Option::as_ref)
    }
}

/// `Option<Option<T>>`: absent = `None`, `null` = `Some(None)`.
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(
        v: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// `GET /users/{id}/manager`: a user or an organizational contact (no UPN).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manager {
    #[serde(rename = "@odata.type", default)]
    pub odata_type: Option<String>,
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub mail: Option<String>,
    #[serde(default)]
    pub user_principal_name: Option<String>,
}

impl Manager {
    pub fn is_org_contact(&self) -> bool {
        self.odata_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("#microsoft.graph.orgContact"))
    }
}

/// What kind of method an [`AuthenticationMethod`] is, by `@odata.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MethodKind {
    Password,
    Phone,
    Email,
    MicrosoftAuthenticator,
    SoftwareOath,
    TemporaryAccessPass,
    /// Every passkey (security key, Authenticator, synced); tell them apart by `aaGuid`.
    Fido2,
    WindowsHelloForBusiness,
    /// macOS Platform SSO.
    PlatformCredential,
    Other,
}

impl MethodKind {
    /// Phishing-resistant per the built-in authentication strengths (FIDO2, WHfB, macOS
    /// platform credential).
    pub fn is_phishing_resistant(self) -> bool {
        matches!(
            self,
            Self::Fido2 | Self::WindowsHelloForBusiness | Self::PlatformCredential
        )
    }
}

impl AuthenticationMethod {
    pub fn kind(&self) -> MethodKind {
        let stem = self
            .odata_type
            .trim_start_matches("#microsoft.graph.")
            .trim_end_matches("AuthenticationMethod");
        match stem.to_ascii_lowercase().as_str() {
            "password" => MethodKind::Password,
            "phone" => MethodKind::Phone,
            "email" => MethodKind::Email,
            "microsoftauthenticator" => MethodKind::MicrosoftAuthenticator,
            "softwareoath" => MethodKind::SoftwareOath,
            "temporaryaccesspass" => MethodKind::TemporaryAccessPass,
            "fido2" => MethodKind::Fido2,
            "windowshelloforbusiness" => MethodKind::WindowsHelloForBusiness,
            "platformcredential" => MethodKind::PlatformCredential,
            _ => MethodKind::Other,
        }
    }

    /// A passkey's authenticator model id (fido2 only).
    pub fn aa_guid(&self) -> Option<&str> {
        self.properties.get("aaGuid").and_then(Value::as_str)
    }
}

/// `methodUsabilityReason` of a Temporary Access Pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TapUsability {
    EnabledByPolicy,
    DisabledByPolicy,
    Expired,
    NotYetValid,
    OneTimeUsed,
    Unknown,
}

impl TemporaryAccessPass {
    pub fn usability(&self) -> TapUsability {
        match self.method_usability_reason.as_deref() {
            Some("EnabledByPolicy") => TapUsability::EnabledByPolicy,
            Some("DisabledByPolicy") => TapUsability::DisabledByPolicy,
            Some("Expired") => TapUsability::Expired,
            Some("NotYetValid") => TapUsability::NotYetValid,
            Some("OneTimeUsed") => TapUsability::OneTimeUsed,
            _ => TapUsability::Unknown,
        }
    }
}
