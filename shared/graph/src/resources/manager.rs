//! `graph.manager(user).get(select)`: `GET /users/{id}/manager` (PASSKEY-ERA.md §5).

use http::Method;

use super::select_list;
use crate::client::{ApiVersion, GraphClient};
use crate::error::GraphError;
use crate::model::methods_policy::Manager;

/// `graph.manager(user)`.
#[derive(Debug, Clone)]
pub struct Managers<'a> {
    client: &'a GraphClient,
    user: String,
}

impl GraphClient {
    pub fn manager(&self, user: &str) -> Managers<'_> {
        Managers {
            client: self,
            user: user.to_owned(),
        }
    }
}

impl Managers<'_> {
    /// The user's manager — a user or an org contact (then without UPN; see
    /// [`Manager::is_org_contact`]) — or `None` when Graph answers 404. Graph answers a missing
    /// user with the same 404 `Request_ResourceNotFound`; read the user first when that
    /// difference matters. Needs User.Read.All.
    pub async fn get(&self, select: &[&str]) -> Result<Option<Manager>, GraphError> {
        let mut req = self.client.request(
            Method::GET,
            ApiVersion::V1,
            "/users/{id}/manager",
            &["users", &self.user, "manager"],
        );
        if !select.is_empty() {
            req.url
                .query_pairs_mut()
                .append_pair("$select", &select_list(select));
        }
        match self.client.send_json(&req).await {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }
}
