//! Conditional Access policies and authentication strengths, read only (PASSKEY-ERA.md §7):
//! whether registering security info needs MFA, and whether a TAP satisfies what it needs.
//! Both need Policy.Read.All.

use http::Method;

use crate::client::{ApiVersion, GraphClient};
use crate::error::GraphError;
use crate::model::{AuthenticationStrengthPolicy, ConditionalAccessPolicy};

/// `graph.conditional_access()`.
#[derive(Debug, Clone, Copy)]
pub struct ConditionalAccess<'a> {
    client: &'a GraphClient,
}

/// `graph.authentication_strengths()`.
#[derive(Debug, Clone, Copy)]
pub struct AuthenticationStrengths<'a> {
    client: &'a GraphClient,
}

impl GraphClient {
    pub fn conditional_access(&self) -> ConditionalAccess<'_> {
        ConditionalAccess { client: self }
    }

    pub fn authentication_strengths(&self) -> AuthenticationStrengths<'_> {
        AuthenticationStrengths { client: self }
    }
}

impl ConditionalAccess<'_> {
    /// `GET /v1.0/identity/conditionalAccess/policies`: every policy (a tenant has tens).
    pub async fn policies(&self) -> Result<Vec<ConditionalAccessPolicy>, GraphError> {
        let req = self.client.request(
            Method::GET,
            ApiVersion::V1,
            "/identity/conditionalAccess/policies",
            &["identity", "conditionalAccess", "policies"],
        );
        self.client.collect_all(req).await
    }

    /// `GET /v1.0/identity/conditionalAccess/policies/{id}`.
    pub async fn policy(&self, id: &str) -> Result<ConditionalAccessPolicy, GraphError> {
        let req = self.client.request(
            Method::GET,
            ApiVersion::V1,
            "/identity/conditionalAccess/policies/{id}",
            &["identity", "conditionalAccess", "policies", id],
        );
        self.client.send_json(&req).await
    }
}

impl AuthenticationStrengths<'_> {
    /// `GET /v1.0/policies/authenticationStrengthPolicies`: built-in and custom strengths.
    pub async fn list(&self) -> Result<Vec<AuthenticationStrengthPolicy>, GraphError> {
        let req = self.client.request(
            Method::GET,
            ApiVersion::V1,
            "/policies/authenticationStrengthPolicies",
            &["policies", "authenticationStrengthPolicies"],
        );
        self.client.collect_all(req).await
    }

    /// `GET /v1.0/policies/authenticationStrengthPolicies/{id}`.
    pub async fn get(&self, id: &str) -> Result<AuthenticationStrengthPolicy, GraphError> {
        let req = self.client.request(
            Method::GET,
            ApiVersion::V1,
            "/policies/authenticationStrengthPolicies/{id}",
            &["policies", "authenticationStrengthPolicies", id],
        );
        self.client.send_json(&req).await
    }
}
