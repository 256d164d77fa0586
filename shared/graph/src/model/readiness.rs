//! Readiness resources: the authentication-methods registration report and Conditional Access
//! (PASSKEY-ERA.md §6, §7).

use serde::{Deserialize, Serialize};

/// `userType` of a registration row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RegistrationUserType {
    Member,
    Guest,
    #[serde(other)]
    UnknownFutureValue,
}

/// `microsoft.graph.userRegistrationDetails` (v1.0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRegistrationDetails {
    pub id: String,
    #[serde(default)]
    pub user_principal_name: Option<String>,
    #[serde(default)]
    pub user_display_name: Option<String>,
    pub user_type: RegistrationUserType,
    #[serde(default)]
    pub is_admin: bool,
    /// Registered a strong method that the methods policy allows.
    #[serde(default)]
    pub is_mfa_capable: bool,
    /// Registered a strong method, allowed or not.
    #[serde(default)]
    pub is_mfa_registered: bool,
    #[serde(default)]
    pub is_passwordless_capable: bool,
    #[serde(default)]
    pub is_sspr_capable: bool,
    #[serde(default)]
    pub is_sspr_enabled: bool,
    #[serde(default)]
    pub is_sspr_registered: bool,
    #[serde(default)]
    pub is_system_preferred_authentication_method_enabled: bool,
    /// push, oath, voiceMobile, voiceAlternateMobile, voiceOffice, sms, none.
    #[serde(default)]
    pub system_preferred_authentication_methods: Vec<String>,
    #[serde(default)]
    pub user_preferred_method_for_secondary_authentication: Option<String>,
    /// `mobilePhone`, `email`, `fido2SecurityKey`, `passKeySynced`, … (an open vocabulary;
    /// PASSKEY-ERA.md §6 lists the documented names).
    #[serde(default)]
    pub methods_registered: Vec<String>,
    #[serde(default)]
    pub last_updated_date_time: Option<String>,
}

/// The user action "register security information".
pub const REGISTER_SECURITY_INFO: &str = "urn:user:registersecurityinfo";

/// Ids of the built-in authentication strengths (the same in every tenant).
pub mod built_in_strengths {
    pub const MULTIFACTOR: &str = "00000000-0000-0000-0000-000000000002";
    pub const PASSWORDLESS: &str = "00000000-0000-0000-0000-000000000003";
    pub const PHISHING_RESISTANT: &str = "00000000-0000-0000-0000-000000000004";
}

/// `conditionalAccessPolicyState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConditionalAccessPolicyState {
    Enabled,
    Disabled,
    /// Report-only: evaluated, not enforced.
    EnabledForReportingButNotEnforced,
    #[serde(other)]
    UnknownFutureValue,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionalAccessUsers {
    #[serde(default)]
    pub include_users: Vec<String>,
    #[serde(default)]
    pub exclude_users: Vec<String>,
    #[serde(default)]
    pub include_groups: Vec<String>,
    #[serde(default)]
    pub exclude_groups: Vec<String>,
    #[serde(default)]
    pub include_roles: Vec<String>,
    #[serde(default)]
    pub exclude_roles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionalAccessApplications {
    #[serde(default)]
    pub include_applications: Vec<String>,
    #[serde(default)]
    pub exclude_applications: Vec<String>,
    #[serde(default)]
    pub include_user_actions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionalAccessConditions {
    #[serde(default)]
    pub users: Option<ConditionalAccessUsers>,
    #[serde(default)]
    pub applications: Option<ConditionalAccessApplications>,
    #[serde(default)]
    pub client_app_types: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionalAccessGrantControls {
    #[serde(default)]
    pub operator: Option<String>,
    /// `mfa`, `block`, `compliantDevice`, …
    #[serde(default)]
    pub built_in_controls: Vec<String>,
    #[serde(default)]
    pub authentication_strength: Option<AuthenticationStrengthPolicy>,
}

/// `microsoft.graph.conditionalAccessPolicy`, trimmed to what readiness checks read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionalAccessPolicy {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    pub state: ConditionalAccessPolicyState,
    #[serde(default)]
    pub conditions: ConditionalAccessConditions,
    #[serde(default)]
    pub grant_controls: Option<ConditionalAccessGrantControls>,
}

impl ConditionalAccessPolicy {
    /// Whether the policy covers the "register security information" user action.
    pub fn targets_security_info_registration(&self) -> bool {
        self.conditions.applications.as_ref().is_some_and(|a| {
            a.include_user_actions
                .iter()
                .any(|x| x == REGISTER_SECURITY_INFO)
        })
    }
}

/// `microsoft.graph.authenticationStrengthPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationStrengthPolicy {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// `builtIn` or `custom`.
    #[serde(default)]
    pub policy_type: Option<String>,
    /// `password,sms`, `fido2`, `temporaryAccessPassOneTime`, …
    #[serde(default)]
    pub allowed_combinations: Vec<String>,
}

impl AuthenticationStrengthPolicy {
    /// Whether a Temporary Access Pass (one-time or multi-use) satisfies this strength — only the
    /// built-in "Multifactor authentication" among the built-ins (PASSKEY-ERA.md §7).
    pub fn allows_temporary_access_pass(&self) -> bool {
        self.allowed_combinations.iter().any(|c| {
            c.split(',')
                .map(str::trim)
                .any(|m| m == "temporaryAccessPassOneTime" || m == "temporaryAccessPassMultiUse")
        })
    }
}
