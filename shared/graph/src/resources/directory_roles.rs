//! Activated directory roles and their members: to find administrators (scope "admins first")
//! and break-glass accounts.

use http::Method;

use crate::client::{ApiVersion, GraphClient};
use crate::error::GraphError;
use crate::model::{DirectoryObject, DirectoryRole};

/// `graph.directory_roles()`.
#[derive(Debug, Clone, Copy)]
pub struct DirectoryRoles<'a> {
    client: &'a GraphClient,
}

impl GraphClient {
    pub fn directory_roles(&self) -> DirectoryRoles<'_> {
        DirectoryRoles { client: self }
    }
}

impl DirectoryRoles<'_> {
    /// `GET /v1.0/directoryRoles`: the roles activated in the tenant.
    pub async fn list(&self) -> Result<Vec<DirectoryRole>, GraphError> {
        let req = self.client.request(
            Method::GET,
            ApiVersion::V1,
            "/directoryRoles",
            &["directoryRoles"],
        );
        self.client.collect_all(req).await
    }

    /// `GET /v1.0/directoryRoles/{id}/members`.
    pub async fn members(&self, role_id: &str) -> Result<Vec<DirectoryObject>, GraphError> {
        let req = self.client.request(
            Method::GET,
            ApiVersion::V1,
            "/directoryRoles/{id}/members",
            &["directoryRoles", role_id, "members"],
        );
        self.client.collect_all(req).await
    }

    /// `GET /v1.0/directoryRoles(roleTemplateId='{templateId}')/members`: by the template id,
    /// which is the same in every tenant (e.g. Global Administrator
    /// 62e90394-69f5-4237-9190-012177145e10).
    pub async fn members_by_template(
        &self,
        role_template_id: &str,
    ) -> Result<Vec<DirectoryObject>, GraphError> {
        if !role_template_id
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == '-')
        {
            return Err(GraphError::config("role template id must be a GUID"));
        }
        let segment = format!("directoryRoles(roleTemplateId='{role_template_id}')");
        let req = self.client.request(
            Method::GET,
            ApiVersion::V1,
            "/directoryRoles(roleTemplateId='{templateId}')/members",
            &[&segment, "members"],
        );
        self.client.collect_all(req).await
    }
}
