//! Microsoft Graph client for autoenroll: the only code that talks to Graph or to the Entra
//! token endpoint. See ARCHITECTURE.md for the contract other crates rely on.
//!
//! ```no_run
//! use autoenroll_graph::{Credential, GraphClient, GraphConfig, Secret, model::USER_SELECT};
//!
//! # async fn demo() -> Result<(), autoenroll_graph::GraphError> {
//! let config = GraphConfig::new(
//!     "00000000-0000-0000-0000-000000000001",
//!     "11111111-1111-1111-1111-111111111111",
//!     Credential::ClientSecret(Secret::new("client-secret-from-secrets-manager")),
//! );
//! let graph = GraphClient::new(config)?;
//! let user = graph.users().get("alice@contoso.com", USER_SELECT).await?;
//! let phones = graph.phone_methods(&user.id).list().await?;
//! # let _ = phones;
//! # Ok(())
//! # }
//! ```
//!
//! What every call does: waits for a concurrency slot and for the pacer's budget, gets a
//! (cached) token, sends, and on 429 / 502–504 / a broken connection waits (`Retry-After`
//! exactly, else exponential backoff with full jitter) and tries again where that is safe.
//! Each call is one `graph` tracing span with method, route template, status, attempt,
//! request-id and duration — never a token, a query string or a phone number.

mod auth;
pub mod batch;
mod client;
pub mod config;
pub mod error;
pub mod limits;
pub mod model;
pub mod pacer;
pub mod resources;
pub mod retry;
mod secret;

pub use auth::token_roles;
pub use batch::{BatchRequest, BatchResponse};
pub use client::{ApiVersion, GraphClient, ItemStream, Page, PageStream, items};
pub use config::{
    AssertionError, ClientAssertionProvider, Credential, FileAssertion, GraphConfig,
    StaticAssertion,
};
pub use error::{GraphError, GraphErrorKind, OAuthError, TokenFailure};
pub use pacer::{AimdConfig, BudgetClass, InvalidQuotaShare, Pacer, PacingConfig, QuotaShare};
pub use resources::groups::{AddMembersError, MAX_MEMBERS_PER_REQUEST, MembershipChange};
pub use resources::reports::RegistrationFilter;
pub use resources::users::{DeltaStart, UserQuery};
pub use retry::RetryConfig;
pub use secret::Secret;
