//! Change-notification subscriptions (`/subscriptions`).

use http::Method;

use crate::client::{ApiVersion, GraphClient};
use crate::error::GraphError;
use crate::model::Subscription;
use crate::retry::RetrySafety;

/// `graph.subscriptions()`.
#[derive(Debug, Clone, Copy)]
pub struct Subscriptions<'a> {
    client: &'a GraphClient,
}

impl GraphClient {
    pub fn subscriptions(&self) -> Subscriptions<'_> {
        Subscriptions { client: self }
    }
}

impl Subscriptions<'_> {
    /// `POST /v1.0/subscriptions` → 201. Graph validates the notification URL (and the lifecycle
    /// URL) before answering, so this can take seconds. Repeated only when Graph certainly did
    /// not act (429): a duplicate subscription would double every notification.
    pub async fn create(&self, subscription: &Subscription) -> Result<Subscription, GraphError> {
        let req = self
            .client
            .request(
                Method::POST,
                ApiVersion::V1,
                "/subscriptions",
                &["subscriptions"],
            )
            .json(subscription)?;
        self.client.send_json(&req).await
    }

    /// `GET /v1.0/subscriptions`: this app's subscriptions.
    pub async fn list(&self) -> Result<Vec<Subscription>, GraphError> {
        let req = self.client.request(
            Method::GET,
            ApiVersion::V1,
            "/subscriptions",
            &["subscriptions"],
        );
        self.client.collect_all(req).await
    }

    /// `GET /v1.0/subscriptions/{id}`.
    pub async fn get(&self, id: &str) -> Result<Subscription, GraphError> {
        let req = self.client.request(
            Method::GET,
            ApiVersion::V1,
            "/subscriptions/{id}",
            &["subscriptions", id],
        );
        self.client.send_json(&req).await
    }

    /// `PATCH /v1.0/subscriptions/{id}` `{expirationDateTime}` (RFC 3339, at most 41,760 minutes
    /// ahead for `/users`).
    pub async fn renew(
        &self,
        id: &str,
        expiration_date_time: &str,
    ) -> Result<Subscription, GraphError> {
        let req = self
            .client
            .request(
                Method::PATCH,
                ApiVersion::V1,
                "/subscriptions/{id}",
                &["subscriptions", id],
            )
            .json(&Subscription {
                expiration_date_time: Some(expiration_date_time.to_owned()),
                ..Subscription::default()
            })?;
        let response = self.client.send(&req).await?;
        if response.status == 204 || response.body.is_empty() {
            // 204 is allowed by the spec's "2XX"; say what we know.
            return Ok(Subscription {
                id: Some(id.to_owned()),
                expiration_date_time: Some(expiration_date_time.to_owned()),
                ..Subscription::default()
            });
        }
        response.json()
    }

    /// `DELETE /v1.0/subscriptions/{id}` → 204.
    pub async fn delete(&self, id: &str) -> Result<(), GraphError> {
        let req = self.client.request(
            Method::DELETE,
            ApiVersion::V1,
            "/subscriptions/{id}",
            &["subscriptions", id],
        );
        self.client.send(&req).await.map(drop)
    }

    /// `POST /v1.0/subscriptions/{id}/reauthorize` → 204: the answer to a
    /// `reauthorizationRequired` lifecycle event. Safe to repeat.
    pub async fn reauthorize(&self, id: &str) -> Result<(), GraphError> {
        let req = self
            .client
            .request(
                Method::POST,
                ApiVersion::V1,
                "/subscriptions/{id}/reauthorize",
                &["subscriptions", id, "reauthorize"],
            )
            .safety(RetrySafety::Idempotent)
            .empty_body();
        self.client.send(&req).await.map(drop)
    }
}
