//! The directory objects and authentication methods the tenant holds.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// Fixed ids of Graph's phone methods and of the password and email methods.
/// Source: https://learn.microsoft.com/graph/api/resources/phoneauthenticationmethod,
/// https://learn.microsoft.com/graph/api/resources/passwordauthenticationmethod,
/// https://learn.microsoft.com/graph/api/resources/emailauthenticationmethod
pub mod method_ids {
    pub const MOBILE: &str = "3179e48a-750b-4051-897c-87b9720928f7";
    pub const ALTERNATE_MOBILE: &str = "b6332ec1-7057-4abe-9331-3d72feddfe41";
    pub const OFFICE: &str = "e37fc753-ff3b-4958-9484-eaa9425c82bc";
    pub const PASSWORD: &str = "28c10230-6103-485e-b985-444c60001490";
    pub const EMAIL: &str = "3ddfcfc8-9383-446f-83cc-3ab9be4be18f";
}

/// `authenticationPhoneType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PhoneType {
    Mobile,
    AlternateMobile,
    Office,
}

impl PhoneType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "mobile" => Some(Self::Mobile),
            "alternateMobile" => Some(Self::AlternateMobile),
            "office" => Some(Self::Office),
            _ => None,
        }
    }
    pub fn from_method_id(id: &str) -> Option<Self> {
        match id {
            method_ids::MOBILE => Some(Self::Mobile),
            method_ids::ALTERNATE_MOBILE => Some(Self::AlternateMobile),
            method_ids::OFFICE => Some(Self::Office),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mobile => "mobile",
            Self::AlternateMobile => "alternateMobile",
            Self::Office => "office",
        }
    }
    pub fn method_id(self) -> &'static str {
        match self {
            Self::Mobile => method_ids::MOBILE,
            Self::AlternateMobile => method_ids::ALTERNATE_MOBILE,
            Self::Office => method_ids::OFFICE,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneRecord {
    pub phone_number: String,
    pub phone_type: PhoneType,
    pub sms_sign_in_state: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TapRecord {
    pub id: String,
    /// Kept so the dump can show a pass existed; never returned after creation.
    #[serde(skip)]
    pub pass: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    pub lifetime_in_minutes: u32,
    pub is_usable_once: bool,
    /// When a one-time pass was used to sign in (then `OneTimeUsed`).
    #[serde(with = "time::serde::rfc3339::option")]
    pub used_at: Option<OffsetDateTime>,
}

/// A method registered outside our APIs (Authenticator, FIDO2, …): it only has to exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OtherMethod {
    pub id: String,
    /// One of `crate::method_kinds::KINDS` (`microsoftAuthenticator`, `fido2`, …).
    pub kind: String,
    /// The properties Graph returns for the method besides `id` (displayName, aaGuid, …).
    pub details: Map<String, Value>,
}

impl OtherMethod {
    pub fn odata_type(&self) -> String {
        format!("#microsoft.graph.{}AuthenticationMethod", self.kind)
    }
}

/// Per-user MFA state (beta `perUserMfaState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PerUserMfaState {
    Disabled,
    Enabled,
    Enforced,
}

impl PerUserMfaState {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "disabled" => Some(Self::Disabled),
            "enabled" => Some(Self::Enabled),
            "enforced" => Some(Self::Enforced),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disabled => "disabled",
            Self::Enabled => "enabled",
            Self::Enforced => "enforced",
        }
    }
}

/// A user's authentication methods and MFA settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthState {
    pub phones: BTreeMap<PhoneType, PhoneRecord>,
    pub email: Option<String>,
    pub tap: Option<TapRecord>,
    pub other: Vec<OtherMethod>,
    pub per_user_mfa_state: PerUserMfaState,
    pub preferred_secondary_method: Option<String>,
    pub system_preferred_enabled: bool,
}

impl Default for AuthState {
    fn default() -> Self {
        Self {
            phones: BTreeMap::new(),
            email: None,
            tap: None,
            other: Vec::new(),
            per_user_mfa_state: PerUserMfaState::Disabled,
            preferred_secondary_method: None,
            system_preferred_enabled: true,
        }
    }
}

impl AuthState {
    /// A method that satisfies MFA: any phone, or an Authenticator/FIDO2/OATH/WHfB method.
    /// Password, email (SSPR only) and TAP do not count.
    pub fn has_strong_method(&self) -> bool {
        !self.phones.is_empty() || !self.other.is_empty()
    }
}

/// A user: Graph properties as JSON (so any property round-trips) plus its methods.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRecord {
    pub properties: Map<String, Value>,
    pub authentication: AuthState,
}

impl UserRecord {
    pub fn id(&self) -> &str {
        self.properties
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
    pub fn upn(&self) -> &str {
        self.properties
            .get("userPrincipalName")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
    pub security_enabled: bool,
    pub is_assignable_to_role: bool,
    /// Member object ids (users), in the order they were added.
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryRole {
    pub id: String,
    pub display_name: String,
    pub role_template_id: String,
    pub description: Option<String>,
    pub members: Vec<String>,
}
