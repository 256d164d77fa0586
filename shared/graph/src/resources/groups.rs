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

/// Graph's limit of references in one `members@odata.bind` (learn group-post-members).
pub const MAX_MEMBERS_PER_REQUEST: usize = 20;

/// Why [`Group::add_members`] added nobody.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AddMembersError {
    #[error("{0} members in one request; Graph takes at most {MAX_MEMBERS_PER_REQUEST}")]
    TooMany(usize),
    #[error("member {0} is listed twice")]
    Duplicate(String),
    /// At least one of them is a member already (400 "One or more added object references
    /// already exist"); nobody was added.
    #[error("one of the users is already a member; nobody was added: {0}")]
    AlreadyMember(#[source] GraphError),
    /// The group or one of the users does not exist (404); nobody was added.
    #[error("the group or one of the users does not exist; nobody was added: {0}")]
    NotFound(#[source] GraphError),
    #[error(transparent)]
    Graph(GraphError),
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

    /// `PATCH /v1.0/groups/{id}` with `members@odata.bind`: adds up to
    /// [`MAX_MEMBERS_PER_REQUEST`] users in one write, all or nothing (PASSKEY-ERA.md §10).
    /// Graph adds nobody when one of them is already a member ([`AddMembersError::AlreadyMember`])
    /// or does not exist ([`AddMembersError::NotFound`]); a caller that batches should fall back
    /// to [`Group::add_member`] one by one on either. Not repeated after a 5xx (the write may have
    /// landed, and the repeat would then say "already a member" for our own write).
    pub async fn add_members(&self, user_ids: &[&str]) -> Result<(), AddMembersError> {
        if user_ids.is_empty() {
            return Ok(());
        }
        if user_ids.len() > MAX_MEMBERS_PER_REQUEST {
            return Err(AddMembersError::TooMany(user_ids.len()));
        }
        for (i, id) in user_ids.iter().enumerate() {
            if user_ids[..i].contains(id) {
                return Err(AddMembersError::Duplicate((*id).to_owned()));
            }
        }
        #[derive(Serialize)]
        struct Bind {
            #[serde(rename = "members@odata.bind")]
            members: Vec<String>,
        }
        let members = user_ids
            .iter()
            .map(|id| {
                self.client
                    .url(ApiVersion::V1, &["directoryObjects", id])
                    .to_string()
            })
            .collect();
        let req = self
            .client
            .request(
                Method::PATCH,
                ApiVersion::V1,
                "/groups/{id}",
                &["groups", &self.id],
            )
            .safety(RetrySafety::OnlyIfNotProcessed)
            .json(&Bind { members })
            .map_err(AddMembersError::Graph)?;
        match self.client.send(&req).await {
            Ok(_) => Ok(()),
            Err(e) if e.status == Some(400) && e.is_already_exists() => {
                Err(AddMembersError::AlreadyMember(e))
            }
            Err(e) if e.is_not_found() => Err(AddMembersError::NotFound(e)),
            Err(e) => Err(AddMembersError::Graph(e)),
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
