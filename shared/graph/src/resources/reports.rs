//! `GET /v1.0/reports/authenticationMethods/userRegistrationDetails`: who has registered what,
//! for the whole tenant in one paged read (PASSKEY-ERA.md §6). Needs AuditLog.Read.All and an
//! Entra ID P1/P2 tenant (otherwise 403 `Authentication_RequestFromNonPremiumTenantOrB2CTenant`,
//! see [`GraphError::is_premium_licence_required`]).

use http::Method;

use crate::client::{ApiVersion, GraphClient, PageStream};
use crate::error::GraphError;
use crate::model::{RegistrationUserType, UserRegistrationDetails};

/// One documented `$filter` clause; clauses are joined with `and`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationFilter {
    IsAdmin(bool),
    IsMfaCapable(bool),
    IsMfaRegistered(bool),
    IsPasswordlessCapable(bool),
    IsSystemPreferredAuthenticationMethodEnabled(bool),
    UserType(RegistrationUserType),
    /// `methodsRegistered/any(m: m eq '{method}')`.
    MethodRegistered(String),
}

impl RegistrationFilter {
    fn clause(&self) -> Result<String, GraphError> {
        let boolean = |name: &str, v: bool| Ok(format!("{name} eq {v}"));
        match self {
            Self::IsAdmin(v) => boolean("isAdmin", *v),
            Self::IsMfaCapable(v) => boolean("isMfaCapable", *v),
            Self::IsMfaRegistered(v) => boolean("isMfaRegistered", *v),
            Self::IsPasswordlessCapable(v) => boolean("isPasswordlessCapable", *v),
            Self::IsSystemPreferredAuthenticationMethodEnabled(v) => {
                boolean("isSystemPreferredAuthenticationMethodEnabled", *v)
            }
            Self::UserType(RegistrationUserType::Member) => Ok("userType eq 'member'".into()),
            Self::UserType(RegistrationUserType::Guest) => Ok("userType eq 'guest'".into()),
            Self::UserType(RegistrationUserType::UnknownFutureValue) => {
                Err(GraphError::config("no filter for an unknown user type"))
            }
            Self::MethodRegistered(m) => {
                if !m.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(GraphError::config("a method name is letters and digits"));
                }
                Ok(format!("methodsRegistered/any(m: m eq '{m}')"))
            }
        }
    }
}

/// `graph.reports()`.
#[derive(Debug, Clone, Copy)]
pub struct Reports<'a> {
    client: &'a GraphClient,
}

impl GraphClient {
    pub fn reports(&self) -> Reports<'_> {
        Reports { client: self }
    }
}

const ROUTE: &str = "/reports/authenticationMethods/userRegistrationDetails";

impl Reports<'_> {
    /// Every row matching all of `filters`, page by page (`page_size` = `$top`, 1–999; `None`
    /// = Graph's default), following `@odata.nextLink`.
    pub fn user_registration_details(
        &self,
        filters: &[RegistrationFilter],
        page_size: Option<u16>,
    ) -> PageStream<UserRegistrationDetails> {
        let mut req = self.client.request(
            Method::GET,
            ApiVersion::V1,
            ROUTE,
            &[
                "reports",
                "authenticationMethods",
                "userRegistrationDetails",
            ],
        );
        let clauses: Result<Vec<String>, GraphError> =
            filters.iter().map(RegistrationFilter::clause).collect();
        let clauses = match clauses {
            Ok(c) => c,
            Err(e) => return Box::pin(futures::stream::once(async move { Err(e) })),
        };
        {
            let mut q = req.url.query_pairs_mut();
            if !clauses.is_empty() {
                q.append_pair("$filter", &clauses.join(" and "));
            }
            if let Some(top) = page_size {
                q.append_pair("$top", &top.clamp(1, 999).to_string());
            }
        }
        self.client.pages(req)
    }

    /// One user's row, by object id.
    pub async fn user_registration_detail(
        &self,
        user_id: &str,
    ) -> Result<UserRegistrationDetails, GraphError> {
        let req = self.client.request(
            Method::GET,
            ApiVersion::V1,
            "/reports/authenticationMethods/userRegistrationDetails/{id}",
            &[
                "reports",
                "authenticationMethods",
                "userRegistrationDetails",
                user_id,
            ],
        );
        self.client.send_json(&req).await
    }
}
