//! Group membership: the Conditional Access way of requiring MFA, and exclusion groups.

use http::Method;
use serde::Serialize;

use crate::client::{ApiVersion, GraphClient};
use crate::error::GraphError;
use crate::model::DirectoryObject;
use crate::retry::RetrySafety;

/// `graph.groups(group_id)`.
#[derive(Debug, Clone)]
pub struct Group<'a> {
    client: &'a GraphClient,
    id: String,
}

/// What `add_member` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipChange {
    Added,
    /// The user was a member already (Graph answers 400 "already exist"; that is success here).
    AlreadyMember,
}

impl GraphClient {
    pub fn groups(&self, group_id: &str) -> Group<'_> {
        Group {
            client: self,
            id: group_id.to_owned(),
        }
    }
}

impl Group<'_> {
    /// `GET /v1.0/groups/{id}?$select=id,displayName`: whether the group exists (a missing one is
    /// an error with [`GraphError::is_not_found`]) and its name — for `autoenroll doctor`.
    pub async fn get(&self) -> Result<DirectoryObject, GraphError> {
        let mut req = self.client.request(
            Method::GET,
            ApiVersion::V1,
            "/groups/{id}",
            &["groups", &self.id],
        );
        req.url
            .query_pairs_mut()
            .append_pair("$select", "id,displayName");
        self.client.send_json(&req).await
    }

    /// `POST /v1.0/groups/{id}/members/$ref` `{"@odata.id": ".../directoryObjects/{user}"}` → 204.
    /// Idempotent: an existing membership (including one our own earlier attempt created) is
    /// reported as [`MembershipChange::AlreadyMember`], so the call may be repeated after a 5xx.
    pub async fn add_member(&self, user_id: &str) -> Result<MembershipChange, GraphError> {
        #[derive(Serialize)]
        struct Reference {
            #[serde(rename = "@odata.id")]
            odata_id: String,
        }
        let reference = self
            .client
            .url(ApiVersion::V1, &["directoryObjects", user_id]);
        let req = self
            .client
            .request(
                Method::POST,
                ApiVersion::V1,
                "/groups/{id}/members/$ref",
                &["groups", &self.id, "members", "$ref"],
            )
            .safety(RetrySafety::Idempotent)
            .json(&Reference {
                odata_id: reference.to_string(),
            })?;
        match self.client.send(&req).await {
            Ok(_) => Ok(MembershipChange::Added),
            Err(e) if e.is_already_exists() => Ok(MembershipChange::AlreadyMember),
            Err(e) => Err(e),
        }
    }

    /// Whether the user is a member of this group (transitively), via the user's
    /// `checkMemberGroups`.
    pub async fn has_member(&self, user_id: &str) -> Result<bool, GraphError> {
        let ids = [self.id.clone()];
        let member_of = self
            .client
            .users()
            .check_member_groups(user_id, &ids)
            .await?;
        Ok(member_of.iter().any(|g| g.eq_ignore_ascii_case(&self.id)))
    }
}
