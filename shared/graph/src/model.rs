//! Typed Microsoft Graph resources this project reads and writes.
//!
//! Shapes follow ../shared/graph-spec (v1.0 and beta OpenAPI subsets). Every struct tolerates
//! unknown fields (Graph adds properties without notice) and omits `None` on serialisation so a
//! PATCH only carries what we mean to change.
//!
//! This module is the contract between the Graph client, the enrollment core and the simulator's
//! tests: change it with care and keep field names in Graph's camelCase on the wire.

use serde::{Deserialize, Serialize};

use crate::Secret;

pub mod methods_policy;

mod readiness;
pub use readiness::*;

/// Fixed method ids Graph gives phone methods, one per phone type.
/// Source: https://learn.microsoft.com/graph/api/resources/phoneauthenticationmethod
pub mod method_ids {
    pub const MOBILE: &str = "3179e48a-750b-4051-897c-87b9720928f7";
    pub const ALTERNATE_MOBILE: &str = "b6332ec1-7057-4abe-9331-3d72feddfe41";
    pub const OFFICE: &str = "e37fc753-ff3b-4958-9484-eaa9425c82bc";
}

/// `microsoft.graph.user`, trimmed to what the domain needs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_principal_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
    /// Free text from on-premises AD or HR provisioning ("06-12345678", "n/a", …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile_phone: Option<String>,
    /// Graph returns `[]` when there are none; `None` here means "not selected".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_phones: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_enabled: Option<bool>,
    /// "Member" or "Guest".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_premises_sync_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_date_time: Option<String>,
    /// When the user starts (HR provisioning); returned only when selected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_hire_date: Option<String>,
    /// Present on `/users/delta` items for deleted users: `{"reason":"changed"|"deleted"}`.
    #[serde(default, rename = "@removed", skip_serializing_if = "Option::is_none")]
    pub removed: Option<Removed>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    pub reason: String,
}

/// The `$select` the domain needs for a user.
pub const USER_SELECT: &[&str] = &[
    "id",
    "userPrincipalName",
    "displayName",
    "mobilePhone",
    "businessPhones",
    "accountEnabled",
    "userType",
    "onPremisesSyncEnabled",
    "createdDateTime",
];

/// `microsoft.graph.authenticationPhoneType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PhoneType {
    /// SMS and voice.
    Mobile,
    /// Voice only; requires a `mobile` first.
    AlternateMobile,
    /// Voice only.
    Office,
    #[serde(other)]
    UnknownFutureValue,
}

impl PhoneType {
    /// The fixed method id Graph assigns to this phone type.
    pub fn method_id(self) -> Option<&'static str> {
        match self {
            PhoneType::Mobile => Some(method_ids::MOBILE),
            PhoneType::AlternateMobile => Some(method_ids::ALTERNATE_MOBILE),
            PhoneType::Office => Some(method_ids::OFFICE),
            PhoneType::UnknownFutureValue => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            PhoneType::Mobile => "mobile",
            PhoneType::AlternateMobile => "alternateMobile",
            PhoneType::Office => "office",
            PhoneType::UnknownFutureValue => "unknownFutureValue",
        }
    }
}

/// `microsoft.graph.phoneAuthenticationMethod`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneMethod {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `+{cc} {number}[x{ext}]`.
    pub phone_number: String,
    pub phone_type: PhoneType,
    /// Read-only; never sent on create/update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_sign_in_state: Option<String>,
}

/// One item of `GET /users/{id}/authentication/methods`: a polymorphic list told apart by
/// `@odata.type` (e.g. `#microsoft.graph.passwordAuthenticationMethod`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthenticationMethod {
    #[serde(rename = "@odata.type")]
    pub odata_type: String,
    pub id: String,
    /// The remaining properties, as Graph sent them.
    #[serde(flatten)]
    pub properties: serde_json::Map<String, serde_json::Value>,
}

impl AuthenticationMethod {
    /// Methods that count as a second factor (everything except password and email, which is
    /// SSPR-only).
    pub fn is_strong(&self) -> bool {
        !matches!(
            self.odata_type.as_str(),
            "#microsoft.graph.passwordAuthenticationMethod"
                | "#microsoft.graph.emailAuthenticationMethod"
        )
    }
}

/// Beta `microsoft.graph.signInPreferences`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInPreferences {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_system_preferred_authentication_method_enabled: Option<bool>,
    /// push, oath, voiceMobile, voiceAlternateMobile, voiceOffice, sms, none, unknownFutureValue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_preferred_method_for_secondary_authentication: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_preferred_authentication_method: Option<String>,
}

/// Beta `microsoft.graph.perUserMfaState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PerUserMfaState {
    Disabled,
    Enabled,
    Enforced,
    #[serde(other)]
    UnknownFutureValue,
}

/// Beta `microsoft.graph.strongAuthenticationRequirements`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StrongAuthenticationRequirements {
    pub per_user_mfa_state: PerUserMfaState,
}

/// `microsoft.graph.subscription`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_notification_url: Option<String>,
    /// RFC 3339, UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_date_time: Option<String>,
    /// Secret shared with Graph; never logged (hence [`Secret`], whose Debug is redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_state: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_supported_tls_version: Option<String>,
}

/// Request body of `POST /users/{id}/authentication/temporaryAccessPassMethods`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemporaryAccessPassRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime_in_minutes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_usable_once: Option<bool>,
}

/// `microsoft.graph.temporaryAccessPassAuthenticationMethod`. `temporary_access_pass` is only
/// present in the response to the create call.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemporaryAccessPass {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The pass itself: a credential, so held as a [`Secret`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporary_access_pass: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime_in_minutes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_usable_once: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_usable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method_usability_reason: Option<String>,
}

/// A `directoryObject` reference as returned by `memberOf` / role `members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryObject {
    #[serde(rename = "@odata.type", default)]
    pub odata_type: Option<String>,
    pub id: String,
    #[serde(rename = "displayName", default)]
    pub display_name: Option<String>,
    #[serde(rename = "userPrincipalName", default)]
    pub user_principal_name: Option<String>,
}

/// `microsoft.graph.directoryRole`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryRole {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub role_template_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_method_round_trips_graph_json() {
        let json = r#"{"phoneNumber":"+1 2065555555","phoneType":"mobile","smsSignInState":"ready","id":"3179e48a-750b-4051-897c-87b9720928f7","extra":1}"#;
        let m: PhoneMethod = serde_json::from_str(json).unwrap();
        assert_eq!(m.phone_type, PhoneType::Mobile);
        assert_eq!(m.id.as_deref(), PhoneType::Mobile.method_id());
    }

    #[test]
    fn unknown_phone_type_is_tolerated() {
        let m: PhoneMethod =
            serde_json::from_str(r#"{"phoneNumber":"+1 2065555555","phoneType":"satellite"}"#)
                .unwrap();
        assert_eq!(m.phone_type, PhoneType::UnknownFutureValue);
    }
}
