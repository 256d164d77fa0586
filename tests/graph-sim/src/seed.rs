//! The seed: the tenant a simulator starts with. JSON; the format is documented in
//! tests/graph-sim/README.md and exemplified by seeds/contoso.json.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::SimError;

/// A whole tenant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Seed {
    pub tenant: TenantSeed,
    #[serde(default)]
    pub apps: Vec<AppSeed>,
    #[serde(default)]
    pub users: Vec<UserSeed>,
    #[serde(default)]
    pub groups: Vec<GroupSeed>,
    #[serde(default)]
    pub directory_roles: Vec<DirectoryRoleSeed>,
    /// Conditional Access policies in Graph's shape (`displayName` required; `id` derived from
    /// it when absent). Needs `tenant.licence` P1 or P2.
    #[serde(default)]
    pub conditional_access_policies: Vec<Map<String, Value>>,
    /// Custom authentication strengths, next to the three built-in ones.
    #[serde(default)]
    pub authentication_strength_policies:
        Vec<crate::conditional_access::AuthenticationStrengthSeed>,
    /// The authentication methods policy; absent = Microsoft's default (see README).
    #[serde(default)]
    pub authentication_methods_policy: Option<crate::policy::MethodsPolicySeed>,
    /// Organizational contacts (`orgContact` properties; `id` derived from `mail` or
    /// `displayName` when absent). A user's `manager` may name one.
    #[serde(default)]
    pub org_contacts: Vec<Map<String, Value>>,
    /// Microsoft Secure Score objects in Graph's shape (`id`, `createdDateTime`,
    /// `currentScore`, `maxScore`, `controlScores`); absent = no score yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secure_scores: Vec<Map<String, Value>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantSeed {
    /// Directory (tenant) id, a GUID.
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// The initial domain, e.g. `contoso.onmicrosoft.com`; also accepted in the token URL.
    #[serde(default)]
    pub default_domain: Option<String>,
    /// Entra ID licence: `Free` (default), `P1` or `P2`. Premium-only APIs (the registration
    /// report) answer 403 without P1/P2.
    #[serde(default, alias = "license")]
    pub licence: crate::reports::Licence,
}

impl Default for TenantSeed {
    fn default() -> Self {
        Self {
            id: "00000000-0000-0000-0000-000000000001".into(),
            display_name: Some("Simulated tenant".into()),
            default_domain: Some("sim.onmicrosoft.com".into()),
            licence: Default::default(),
        }
    }
}

/// An app registration with its service principal's granted application permissions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppSeed {
    pub client_id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// Client secrets (any of them works).
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Application permissions granted with admin consent, e.g. `User.Read.All`.
    #[serde(default)]
    pub roles: Vec<String>,
    /// SHA-1 thumbprints (hex) of certificates uploaded to the app. A client assertion whose
    /// `iss` and `sub` are the client id is accepted when this list is non-empty and its `x5t`
    /// header (if any) names one of them. The signature is not checked (see README).
    #[serde(default)]
    pub certificate_thumbprints: Vec<String>,
    /// Federated identity credentials (workload identity federation).
    #[serde(default)]
    pub federated_credentials: Vec<FederatedCredentialSeed>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FederatedCredentialSeed {
    pub issuer: String,
    pub subject: String,
    #[serde(default = "default_federated_audiences")]
    pub audiences: Vec<String>,
}

fn default_federated_audiences() -> Vec<String> {
    vec!["api://AzureADTokenExchange".into()]
}

/// A user: Graph `user` properties (camelCase, as Graph returns them) plus the seeded
/// authentication state. `id` is derived from the UPN when absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSeed {
    #[serde(default)]
    pub authentication: AuthenticationSeed,
    /// The user's manager: a user (id or UPN) or an org contact (id).
    #[serde(default)]
    pub manager: Option<String>,
    /// Every other key is a `user` property (`userPrincipalName` is required).
    #[serde(flatten)]
    pub properties: Map<String, Value>,
}

/// Methods and MFA settings a user already has.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthenticationSeed {
    /// Phones the user registered (self-service or by an admin before us).
    #[serde(default)]
    pub phone_methods: Vec<PhoneSeed>,
    #[serde(default)]
    pub email_address: Option<String>,
    /// Other registered methods: a kind (`microsoftAuthenticator`, `fido2`, `softwareOath`,
    /// `windowsHelloForBusiness`, `platformCredential`) or an object with `kind`, `passkey`
    /// (`securityKey|authenticator|synced`, fido2 only) and the method's properties.
    #[serde(default)]
    pub other_methods: Vec<crate::method_kinds::OtherMethodSeed>,
    /// `disabled` (default), `enabled`, `enforced`.
    #[serde(default)]
    pub per_user_mfa_state: Option<String>,
    #[serde(default)]
    pub preferred_secondary_method: Option<String>,
    /// Defaults to true (Microsoft-managed system-preferred MFA is on in new tenants).
    #[serde(default)]
    pub system_preferred_enabled: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PhoneSeed {
    pub phone_type: String,
    pub phone_number: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupSeed {
    #[serde(default)]
    pub id: Option<String>,
    pub display_name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "yes")]
    pub security_enabled: bool,
    #[serde(default)]
    pub is_assignable_to_role: bool,
    /// Member user ids or UPNs.
    #[serde(default)]
    pub members: Vec<String>,
}

fn yes() -> bool {
    true
}

/// An activated directory role (`/directoryRoles`) and its members (ids or UPNs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DirectoryRoleSeed {
    #[serde(default)]
    pub id: Option<String>,
    pub display_name: String,
    pub role_template_id: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub members: Vec<String>,
}

impl Seed {
    pub fn from_json(text: &str) -> Result<Self, SimError> {
        Ok(serde_json::from_str(text)?)
    }

    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Self, SimError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| SimError::ReadFile {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&text)
    }

    /// The example tenant shipped with the simulator (seeds/contoso.json).
    pub fn contoso() -> Self {
        // The file is part of this crate and checked by a test, so parsing cannot fail at
        // runtime; fall back to an empty tenant rather than panic all the same.
        Self::from_json(CONTOSO).unwrap_or_default()
    }
}

/// seeds/contoso.json, embedded.
pub const CONTOSO: &str = include_str!("../seeds/contoso.json");

/// A deterministic GUID-shaped id for a name, so seeds can omit ids and tests can predict them.
pub fn derived_id(namespace: &str, name: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{namespace}:{}", name.to_ascii_lowercase()).as_bytes());
    let h = hex::encode(&digest[..16]);
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}
