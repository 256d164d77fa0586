//! The authentication methods policy and its method configurations (PASSKEY-ERA.md §1–§2):
//! `graph.methods_policy().get(ApiVersion::Beta)`,
//! `graph.methods_policy().configuration(MethodConfigurationId::Sms).update(..)`.

use http::Method;
use serde::Serialize;

use crate::client::{ApiVersion, GraphClient};
use crate::error::GraphError;
use crate::model::methods_policy::{
    AuthenticationMethodsPolicy, MethodConfiguration, MethodConfigurationId, OptOutSettings,
};

/// `graph.methods_policy()`.
#[derive(Debug, Clone)]
pub struct MethodsPolicy<'a> {
    client: &'a GraphClient,
}

/// `graph.methods_policy().configuration(id)`.
#[derive(Debug, Clone)]
pub struct MethodConfigurations<'a> {
    client: &'a GraphClient,
    id: MethodConfigurationId,
}

impl GraphClient {
    pub fn methods_policy(&self) -> MethodsPolicy<'_> {
        MethodsPolicy { client: self }
    }
}

const SEGMENTS: [&str; 2] = ["policies", "authenticationMethodsPolicy"];

impl<'a> MethodsPolicy<'a> {
    /// `GET /policies/authenticationMethodsPolicy` (configurations expanded). `optOutSettings`
    /// and `telecomProviderSettings` exist only on beta. Needs Policy.Read.AuthenticationMethod.
    pub async fn get(&self, api: ApiVersion) -> Result<AuthenticationMethodsPolicy, GraphError> {
        let req = self.client.request(
            Method::GET,
            api,
            "/policies/authenticationMethodsPolicy",
            &SEGMENTS,
        );
        self.client.send_json(&req).await
    }

    /// Beta `PATCH /policies/authenticationMethodsPolicy` `{optOutSettings}` → 200 with the
    /// policy: the temporary opt-out from the passkey auto-enablement (until 2027-02-01).
    pub async fn set_passkey_opt_out(
        &self,
        opted_out: bool,
    ) -> Result<AuthenticationMethodsPolicy, GraphError> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Body {
            opt_out_settings: OptOutSettings,
        }
        let req = self
            .client
            .request(
                Method::PATCH,
                ApiVersion::Beta,
                "/policies/authenticationMethodsPolicy",
                &SEGMENTS,
            )
            .json(&Body {
                opt_out_settings: OptOutSettings {
                    passkey_dynamic_migration: Some(opted_out),
                },
            })?;
        self.client.send_json(&req).await
    }

    pub fn configuration(&self, id: MethodConfigurationId) -> MethodConfigurations<'a> {
        MethodConfigurations {
            client: self.client,
            id,
        }
    }
}

impl MethodConfigurations<'_> {
    fn segments(&self) -> [&'static str; 4] {
        [
            SEGMENTS[0],
            SEGMENTS[1],
            "authenticationMethodConfigurations",
            self.id.as_str(),
        ]
    }

    /// `GET …/authenticationMethodConfigurations/{id}`.
    pub async fn get(&self, api: ApiVersion) -> Result<MethodConfiguration, GraphError> {
        let req = self.client.request(
            Method::GET,
            api,
            "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/{id}",
            &self.segments(),
        );
        self.client.send_json(&req).await
    }

    /// `PATCH …/authenticationMethodConfigurations/{id}` → 204. Start the body with
    /// [`MethodConfiguration::patch_for`]; `telecomProviderSettings` needs `ApiVersion::Beta`.
    /// Needs Policy.ReadWrite.AuthenticationMethod.
    pub async fn update(
        &self,
        api: ApiVersion,
        patch: &MethodConfiguration,
    ) -> Result<(), GraphError> {
        let req = self
            .client
            .request(
                Method::PATCH,
                api,
                "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/{id}",
                &self.segments(),
            )
            .json(patch)?;
        self.client.send(&req).await.map(drop)
    }
}
