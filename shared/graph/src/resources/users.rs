//! `/users`, `/users/{id}`, `/users/delta`, `/users/{id}/checkMemberGroups`.

use futures::StreamExt;
use http::Method;
use serde::{Deserialize, Serialize};

use crate::client::{ApiVersion, GraphClient, GraphRequest, ItemStream, PageStream};
use crate::error::GraphError;
use crate::limits::CHECK_MEMBER_GROUPS_MAX_IDS;
use crate::model::User;
use crate::resources::select_list;
use crate::retry::RetrySafety;

/// `graph.users()`.
#[derive(Debug, Clone, Copy)]
pub struct Users<'a> {
    client: &'a GraphClient,
}

/// Options of `GET /users`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    pub select: Vec<String>,
    /// OData `$filter`; it may hold PII, so it is never logged.
    pub filter: Option<String>,
    /// Page size (Graph: 1–999, default 100).
    pub top: Option<u32>,
}

impl UserQuery {
    pub fn select(fields: &[&str]) -> Self {
        Self {
            select: fields.iter().map(|f| (*f).to_owned()).collect(),
            ..Self::default()
        }
    }

    pub fn with_filter(mut self, filter: impl Into<String>) -> Self {
        self.filter = Some(filter.into());
        self
    }

    pub fn with_top(mut self, top: u32) -> Self {
        self.top = Some(top);
        self
    }
}

/// Where a `/users/delta` round starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeltaStart {
    /// Every user now, then changes: a full (re)sync.
    Initial { select: Vec<String> },
    /// No users, only a delta link from now on (`$deltatoken=latest`).
    Latest { select: Vec<String> },
    /// The `@odata.deltaLink` saved after the previous round. It keeps its `$select`.
    Link(String),
}

impl DeltaStart {
    pub fn initial(select: &[&str]) -> Self {
        Self::Initial {
            select: select.iter().map(|f| (*f).to_owned()).collect(),
        }
    }

    pub fn latest(select: &[&str]) -> Self {
        Self::Latest {
            select: select.iter().map(|f| (*f).to_owned()).collect(),
        }
    }
}

/// Resource units of a `GET /users…`: 2, one less with `$select`, one less with `$top` < 20,
/// at least 1. MGDC concepts/throttling-limits.md.
fn user_read_cost(has_select: bool, top: Option<u32>) -> u32 {
    let mut cost: u32 = 2;
    if has_select {
        cost -= 1;
    }
    if top.is_some_and(|t| t < 20) {
        cost = cost.saturating_sub(1);
    }
    cost.max(1)
}

impl GraphClient {
    pub fn users(&self) -> Users<'_> {
        Users { client: self }
    }
}

impl<'a> Users<'a> {
    /// `GET /v1.0/users/{id | userPrincipalName}?$select=…`. A missing user is an error with
    /// [`GraphError::is_not_found`].
    pub async fn get(&self, id: &str, select: &[&str]) -> Result<User, GraphError> {
        let mut req = self
            .client
            .request(Method::GET, ApiVersion::V1, "/users/{id}", &["users", id])
            .read_cost(user_read_cost(!select.is_empty(), None));
        if !select.is_empty() {
            req.url
                .query_pairs_mut()
                .append_pair("$select", &select_list(select));
        }
        self.client.send_json(&req).await
    }

    /// `GET /v1.0/users`, as a stream of pages.
    pub fn list_pages(&self, query: &UserQuery) -> PageStream<User> {
        let mut req = self
            .client
            .request(Method::GET, ApiVersion::V1, "/users", &["users"])
            .read_cost(user_read_cost(!query.select.is_empty(), query.top));
        {
            let mut pairs = req.url.query_pairs_mut();
            if !query.select.is_empty() {
                pairs.append_pair("$select", &select_list(&query.select));
            }
            if let Some(filter) = &query.filter {
                pairs.append_pair("$filter", filter);
            }
            if let Some(top) = query.top {
                pairs.append_pair("$top", &top.to_string());
            }
        }
        if req.url.query() == Some("") {
            req.url.set_query(None);
        }
        self.client.pages(req)
    }

    /// `GET /v1.0/users`, user by user (pages fetched as the stream is read).
    pub fn list(&self, query: &UserQuery) -> ItemStream<User> {
        crate::client::items(self.list_pages(query))
    }

    /// `GET /v1.0/users/delta`, as a stream of pages; the last page carries `delta_link`.
    /// An expired link fails with [`GraphError::is_delta_token_expired`]: start again with
    /// [`DeltaStart::Initial`].
    pub fn delta(&self, start: &DeltaStart) -> PageStream<User> {
        let req = match self.delta_request(start) {
            Ok(req) => req,
            Err(e) => return futures::stream::once(async move { Err(e) }).boxed(),
        };
        self.client.pages(req)
    }

    fn delta_request(&self, start: &DeltaStart) -> Result<GraphRequest, GraphError> {
        let mut req = self.client.request(
            Method::GET,
            ApiVersion::V1,
            "/users/delta",
            &["users", "delta"],
        );
        match start {
            DeltaStart::Initial { select } => {
                req = req.read_cost(user_read_cost(!select.is_empty(), None));
                if !select.is_empty() {
                    req.url
                        .query_pairs_mut()
                        .append_pair("$select", &select_list(select));
                }
            }
            DeltaStart::Latest { select } => {
                req = req.read_cost(user_read_cost(!select.is_empty(), None));
                let mut pairs = req.url.query_pairs_mut();
                if !select.is_empty() {
                    pairs.append_pair("$select", &select_list(select));
                }
                pairs.append_pair("$deltatoken", "latest");
            }
            DeltaStart::Link(link) => {
                req.url = self.client.check_link(link)?;
                req = req.read_cost(1);
            }
        }
        Ok(req)
    }

    /// `GET /v1.0/users/{id}/transitiveMemberOf?$select=id`: the ids of every group and
    /// directory role the user belongs to, nested membership included.
    ///
    /// Prefer this to [`Self::check_member_groups`] on the per-user path: Graph charges every
    /// POST — `checkMemberGroups` too, although it only reads — one write against the
    /// 3,000-per-150 s app+tenant write quota (identity and access throttling limits), which
    /// enrollment needs for the writes that change something.
    pub async fn member_of_ids(&self, id: &str) -> Result<Vec<String>, GraphError> {
        let mut req = self.client.request(
            Method::GET,
            ApiVersion::V1,
            "/users/{id}/transitiveMemberOf",
            &["users", id, "transitiveMemberOf"],
        );
        req.url.query_pairs_mut().append_pair("$select", "id");
        let objects: Vec<crate::model::DirectoryObject> = self.client.collect_all(req).await?;
        Ok(objects.into_iter().map(|o| o.id).collect())
    }

    /// `POST /v1.0/users/{id}/checkMemberGroups`: which of `group_ids` the user is a member of,
    /// transitively. Asks in chunks of 20 (Graph's limit per call).
    pub async fn check_member_groups(
        &self,
        id: &str,
        group_ids: &[String],
    ) -> Result<Vec<String>, GraphError> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Body<'b> {
            group_ids: &'b [String],
        }
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            value: Vec<String>,
        }
        let mut member_of = Vec::new();
        for chunk in group_ids.chunks(CHECK_MEMBER_GROUPS_MAX_IDS) {
            // A read in effect, so repeating it after a 5xx is safe.
            let req = self
                .client
                .request(
                    Method::POST,
                    ApiVersion::V1,
                    "/users/{id}/checkMemberGroups",
                    &["users", id, "checkMemberGroups"],
                )
                .safety(RetrySafety::Idempotent)
                .json(&Body { group_ids: chunk })?;
            let answer: Answer = self.client.send_json(&req).await?;
            member_of.extend(answer.value);
        }
        Ok(member_of)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_reads_cost_as_documented() {
        assert_eq!(user_read_cost(false, None), 2);
        assert_eq!(user_read_cost(true, None), 1);
        assert_eq!(user_read_cost(true, Some(10)), 1);
        assert_eq!(user_read_cost(false, Some(10)), 1);
        assert_eq!(user_read_cost(false, Some(100)), 2);
    }
}
