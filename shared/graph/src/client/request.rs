//! The request and response values the client core sends and returns, and collection pages.

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use http::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use url::Url;

use super::ApiVersion;
use crate::error::GraphError;
use crate::pacer::BudgetClass;
use crate::retry::RetrySafety;

/// One HTTP request as the client core sends it.
#[derive(Debug, Clone)]
pub(crate) struct GraphRequest {
    pub method: Method,
    pub url: Url,
    /// Route template for logs (`/users/{id}/authentication/phoneMethods`): never ids or queries.
    pub route: &'static str,
    pub api: ApiVersion,
    pub body: Option<Bytes>,
    pub safety: RetrySafety,
    /// Resource units drawn from the read budget.
    pub reads: u32,
    /// Writes drawn from the write budget.
    pub writes: u32,
}

impl GraphRequest {
    pub fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Result<Self, GraphError> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| GraphError::config(format!("serialising the request body: {e}")))?;
        self.body = Some(Bytes::from(bytes));
        Ok(self)
    }

    pub fn empty_body(mut self) -> Self {
        self.body = Some(Bytes::new());
        self
    }

    pub fn safety(mut self, safety: RetrySafety) -> Self {
        self.safety = safety;
        self
    }

    /// Resource units this read costs (GET user: 2, minus 1 with `$select`; minimum 1).
    pub fn read_cost(mut self, units: u32) -> Self {
        self.reads = units.max(1);
        self
    }

    /// The budget Graph's throttling feedback on this request is about.
    pub fn budget(&self) -> BudgetClass {
        if self.writes > 0 {
            BudgetClass::Write
        } else {
            BudgetClass::Read
        }
    }
}

/// A successful (2xx) response.
#[derive(Debug, Clone)]
pub(crate) struct GraphResponse {
    pub status: u16,
    pub body: Bytes,
    pub request_id: Option<String>,
}

impl GraphResponse {
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, GraphError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            // serde's message names the field and position, never the value.
            GraphError::decode(
                format!("unexpected response body: {e}"),
                self.request_id.clone(),
            )
        })
    }
}

/// A collection read page by page (see [`GraphClient::pages`]).
pub type PageStream<T> = BoxStream<'static, Result<Page<T>, GraphError>>;

/// A collection read item by item (pages fetched as needed).
pub type ItemStream<T> = BoxStream<'static, Result<T, GraphError>>;

/// Flattens pages into their items.
pub fn items<T: Send + 'static>(pages: PageStream<T>) -> ItemStream<T> {
    use futures::TryStreamExt;
    pages
        .map_ok(|page| futures::stream::iter(page.value.into_iter().map(Ok::<T, GraphError>)))
        .try_flatten()
        .boxed()
}

/// One page of a Graph collection.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    #[serde(default, rename = "@odata.nextLink")]
    pub next_link: Option<String>,
    /// Only on the last page of a delta round: where the next round starts.
    #[serde(default, rename = "@odata.deltaLink")]
    pub delta_link: Option<String>,
}
