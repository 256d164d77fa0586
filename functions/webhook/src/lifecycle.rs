//! Answering `reauthorizationRequired` from the webhook itself, through Graph.
//!
//! Why here and not on the subscriptions schedule: Graph pauses delivery when a challenge goes
//! unanswered ("eventually change notification delivery pauses", and changes made meanwhile
//! are lost — concepts/change-notifications-lifecycle-events.md), and the schedule runs only
//! every 6 hours. The event is rare (the schedule renews long before expiry), so the Graph
//! client is built on the first event, not at cold start: notification traffic never pays for
//! the client secret read or the token.

use async_trait::async_trait;
use autoenroll_aws::runtime::GraphSettings;
use autoenroll_aws::secrets::SecretsManagerSource;
use autoenroll_graph::GraphClient;
use aws_config::SdkConfig;
use tokio::sync::OnceCell;

use crate::handler::{LifecycleError, LifecycleSink};

/// Reauthorizes with `autoenroll_subscriptions::reauthorize`.
pub struct GraphLifecycle {
    graph: OnceCell<GraphClient>,
    build_from: Option<(GraphSettings, SecretsManagerSource, SdkConfig)>,
}

impl std::fmt::Debug for GraphLifecycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphLifecycle")
            .field("ready", &self.graph.initialized())
            .finish_non_exhaustive()
    }
}

impl GraphLifecycle {
    /// A ready client (tests, the local stack).
    pub fn with_client(graph: GraphClient) -> Self {
        Self {
            graph: OnceCell::new_with(Some(graph)),
            build_from: None,
        }
    }

    /// The client is built from these on the first event (Lambda).
    pub fn lazy(settings: GraphSettings, secrets: SecretsManagerSource, aws: SdkConfig) -> Self {
        Self {
            graph: OnceCell::new(),
            build_from: Some((settings, secrets, aws)),
        }
    }

    async fn graph(&self) -> Result<&GraphClient, LifecycleError> {
        self.graph
            .get_or_try_init(|| async {
                let Some((settings, secrets, aws)) = &self.build_from else {
                    return Err(LifecycleError("no Graph client configured".into()));
                };
                settings
                    .build(secrets, aws)
                    .await
                    .map_err(|e| LifecycleError(e.to_string()))
            })
            .await
    }
}

#[async_trait]
impl LifecycleSink for GraphLifecycle {
    async fn reauthorization_required(&self, subscription_id: &str) -> Result<(), LifecycleError> {
        let graph = self.graph().await?;
        autoenroll_subscriptions::reauthorize(graph, subscription_id)
            .await
            .map_err(|e| LifecycleError(e.to_string()))
    }
}
