//! autoenroll-subscriptions: keep exactly one Graph change-notification subscription on
//! `/users` pointed at our webhook, on a schedule (EventBridge Scheduler, every 6 hours), and
//! answer Graph's lifecycle events, which the webhook puts on the lifecycle queue (an SQS event
//! source of this function; see [`lifecycle`]).
//!
//! One run ([`ensure`]):
//! 1. reads the clientState secret (current value, version) and lists this app's subscriptions;
//! 2. *ours* are those whose notificationUrl has our webhook's host (scheme, host, port) or
//!    whose id we recorded last time (a subscription we made before the Function URL changed);
//!    subscriptions of the app pointing elsewhere are another deployment's and left alone;
//! 3. a subscription of ours is *right* when it is on `/users`, for `updated,deleted`, with our
//!    notificationUrl and lifecycleNotificationUrl, and the *current* clientState. The right
//!    one with the latest expiry is kept, and renewed when it expires within
//!    [`RENEW_BEFORE`];
//! 4. without a right one, a new one is created (Graph validates the webhook first) — also
//!    when ours carries the *previous* clientState after a rotation: Graph cannot change a
//!    subscription's clientState, so the new one is created first and the old one deleted
//!    after, with no gap (the webhook accepts both values during the rotation window);
//! 5. every other subscription of ours is deleted (strays);
//! 6. the kept subscription is recorded in the [`SubscriptionStore`] when anything changed.
//!
//! Running it again changes nothing (one `GET /subscriptions`).

pub mod lifecycle;

use std::collections::BTreeSet;
use std::sync::Arc;

use autoenroll_aws::metrics::EmfMetrics;
use autoenroll_aws::runtime::{self, Env, RuntimeError};
use autoenroll_core::ports::{SecretSource, StoreError, SubscriptionRecord, SubscriptionStore};
use autoenroll_graph::model::Subscription;
use autoenroll_graph::{GraphClient, GraphError, Secret};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// Every environment variable this function reads (ARCHITECTURE.md, "Environment variables");
/// infra/template.yaml sets exactly these (tests/e2e/tests/template_consistency.rs).
pub const ENV_VARS: &[&str] = &[
    "AUTOENROLL_TENANT_ID",
    "AUTOENROLL_CLIENT_ID",
    "AUTOENROLL_CLIENT_SECRET_ARN",
    "AUTOENROLL_CLIENT_STATE_SECRET_ARN",
    "AUTOENROLL_TABLE_NAME",
    "AUTOENROLL_NOTIFICATION_URL",
    "AUTOENROLL_GRAPH_QUOTA_SHARE",
];

/// Longest lifetime of a subscription on users: 41,760 minutes (under 29 days)
/// (microsoft-graph-docs-contrib concepts/includes/change-notifications-subscription-lifetime.md).
pub const MAX_EXPIRATION_MINUTES: i64 = 41_760;
/// Taken off the maximum when asking for an expiry, so a clock a little ahead of Graph's does
/// not make the request exceed the maximum.
pub const EXPIRATION_MARGIN: Duration = Duration::minutes(60);
/// Renew when fewer than this remain: the schedule runs every 6 hours, so a dozen failed runs
/// in a row still leave time — and Graph's `reauthorizationRequired` (sent near expiry) is
/// never needed in normal operation.
pub const RENEW_BEFORE: Duration = Duration::days(3);
/// `/users` takes `updated` (creation and soft deletion arrive as `updated`) and `deleted`;
/// `created` is rejected (BEHAVIOUR.md, "Change notifications for users").
pub const CHANGE_TYPE: &str = "updated,deleted";
pub const RESOURCE: &str = "/users";
/// Graph's maximum clientState length (resources/subscription.md).
pub const MAX_CLIENT_STATE_CHARS: usize = 128;

/// What this function needs besides the Graph client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionsConfig {
    /// The webhook's Function URL; notificationUrl and lifecycleNotificationUrl.
    pub notification_url: String,
    /// Name or ARN of the clientState secret.
    pub client_state_secret: String,
}

impl SubscriptionsConfig {
    pub fn from_env(env: &Env) -> Result<Self, RuntimeError> {
        let notification_url = env.required(runtime::NOTIFICATION_URL)?;
        check_url(&notification_url).map_err(|message| RuntimeError::Invalid {
            name: runtime::NOTIFICATION_URL,
            message,
        })?;
        Ok(Self {
            notification_url,
            client_state_secret: env.required(runtime::CLIENT_STATE_SECRET_ARN)?,
        })
    }
}

fn check_url(raw: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(raw).map_err(|e| format!("not an absolute URL: {e}"))?;
    match url.scheme() {
        "https" | "http" if url.host().is_some() => Ok(url),
        _ => Err("must be an http(s) URL with a host".into()),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SubscriptionsError {
    #[error("Graph: {0}")]
    Graph(#[from] GraphError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("configuration: {0}")]
    Config(String),
}

/// What one run did (also the Lambda's answer; ids only, no clientState).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The subscription kept or created.
    pub subscription_id: String,
    pub expiration: String,
    pub created: bool,
    pub renewed: bool,
    /// Subscriptions of ours that were deleted (strays, or the one replaced).
    pub deleted: Vec<String>,
    /// Whether the store record was written.
    pub recorded: bool,
}

impl Report {
    pub fn changed_anything(&self) -> bool {
        self.created || self.renewed || !self.deleted.is_empty() || self.recorded
    }
}

/// One scheduled run; see the crate docs. `now` is the current time (tests pass the
/// simulator's clock).
pub async fn ensure(
    graph: &GraphClient,
    store: &dyn SubscriptionStore,
    secrets: &dyn SecretSource,
    config: &SubscriptionsConfig,
    now: OffsetDateTime,
) -> Result<Report, SubscriptionsError> {
    ensure_replacing(graph, store, secrets, config, now, None).await
}

/// [`ensure`], with the subscription `replace` never kept even when it looks right (Graph
/// refused to reauthorize it, or said it removed it): a new one is created first and `replace`
/// deleted after, so there is never a moment without a subscription.
pub async fn ensure_replacing(
    graph: &GraphClient,
    store: &dyn SubscriptionStore,
    secrets: &dyn SecretSource,
    config: &SubscriptionsConfig,
    now: OffsetDateTime,
    replace: Option<&str>,
) -> Result<Report, SubscriptionsError> {
    let webhook = check_url(&config.notification_url).map_err(SubscriptionsError::Config)?;
    let secret = secrets.get_secret(&config.client_state_secret).await?;
    if secret.current.is_empty() || secret.current.chars().count() > MAX_CLIENT_STATE_CHARS {
        return Err(SubscriptionsError::Config(format!(
            "the clientState secret must be 1 to {MAX_CLIENT_STATE_CHARS} characters"
        )));
    }
    let recorded = store.get_subscription().await?;
    let existing = graph.subscriptions().list().await?;

    let ours: Vec<&Subscription> = existing
        .iter()
        .filter(|s| {
            s.id.is_some()
                && (same_origin(s.notification_url.as_deref(), &webhook)
                    || recorded
                        .as_ref()
                        .is_some_and(|r| s.id.as_deref() == Some(r.subscription_id.as_str())))
        })
        .collect();
    let keep = ours
        .iter()
        .filter(|s| is_right(s, &config.notification_url, &secret.current))
        .filter(|s| replace.is_none_or(|id| s.id.as_deref() != Some(id)))
        .max_by_key(|s| expiry(s))
        .copied();

    let mut report = Report::default();
    let kept = match keep {
        Some(subscription) => {
            let mut subscription = subscription.clone();
            if expiry(&subscription).is_none_or(|at| at - now < RENEW_BEFORE) {
                let id = subscription.id.clone().unwrap_or_default();
                let until = requested_expiry(now);
                let renewed = graph.subscriptions().renew(&id, &until).await?;
                tracing::info!(subscription = %id, expiration = ?renewed.expiration_date_time, "subscription renewed");
                subscription.expiration_date_time = renewed.expiration_date_time.or(Some(until));
                report.renewed = true;
            }
            subscription
        }
        None => {
            let request = Subscription {
                resource: Some(RESOURCE.to_owned()),
                change_type: Some(CHANGE_TYPE.to_owned()),
                notification_url: Some(config.notification_url.clone()),
                lifecycle_notification_url: Some(config.notification_url.clone()),
                expiration_date_time: Some(requested_expiry(now)),
                client_state: Some(Secret::new(secret.current.clone())),
                ..Subscription::default()
            };
            let created = graph.subscriptions().create(&request).await?;
            tracing::info!(subscription = ?created.id, "subscription created");
            report.created = true;
            created
        }
    };
    let kept_id = kept.id.clone().unwrap_or_default();
    if kept_id.is_empty() {
        return Err(SubscriptionsError::Config(
            "Graph returned a subscription without an id".into(),
        ));
    }

    // Only after the kept one is in place: never a moment without a subscription.
    for stray in ours.iter().filter(|s| s.id.as_deref() != Some(&kept_id)) {
        let id = stray.id.clone().unwrap_or_default();
        match graph.subscriptions().delete(&id).await {
            Ok(()) => tracing::info!(subscription = %id, "stray subscription deleted"),
            Err(e) if e.is_not_found() => {
                tracing::info!(subscription = %id, "stray subscription already gone");
            }
            Err(e) => return Err(e.into()),
        }
        report.deleted.push(id);
    }

    report.subscription_id = kept_id.clone();
    report.expiration = kept.expiration_date_time.clone().unwrap_or_default();
    let record = SubscriptionRecord {
        subscription_id: kept_id,
        expiration: report.expiration.clone(),
        notification_url: config.notification_url.clone(),
        client_state_version: secret.version.clone(),
    };
    if recorded.as_ref() != Some(&record) {
        store.put_subscription(record).await?;
        report.recorded = true;
    }
    Ok(report)
}

/// Where the function's time comes from (the simulator's clock in tests).
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// The function: its ports and configuration, built once per Lambda instance. Two event
/// sources: the schedule ([`Self::run_schedule`]) and the lifecycle queue
/// ([`Self::handle_lifecycle_batch`]); [`Self::handle`] tells them apart.
pub struct SubscriptionsFunction<St, Se> {
    pub graph: GraphClient,
    pub store: St,
    pub secrets: Se,
    pub config: SubscriptionsConfig,
    pub metrics: EmfMetrics,
    pub clock: Clock,
}

impl<St, Se> std::fmt::Debug for SubscriptionsFunction<St, Se> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriptionsFunction")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<St: SubscriptionStore, Se: SecretSource> SubscriptionsFunction<St, Se> {
    /// Metrics to stdout (Lambda ships them to CloudWatch), the system clock.
    pub fn new(graph: GraphClient, store: St, secrets: Se, config: SubscriptionsConfig) -> Self {
        Self {
            graph,
            store,
            secrets,
            config,
            metrics: EmfMetrics::stdout(),
            clock: Arc::new(OffsetDateTime::now_utc),
        }
    }

    pub fn with_clock(
        mut self,
        clock: impl Fn() -> OffsetDateTime + Send + Sync + 'static,
    ) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    pub fn with_metrics(mut self, metrics: EmfMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// One invocation: a scheduled run, or a batch from the lifecycle queue.
    pub async fn handle(
        &self,
        event: lambda_runtime::LambdaEvent<lifecycle::Invocation>,
    ) -> Result<lifecycle::Answer, SubscriptionsError> {
        match event.payload {
            lifecycle::Invocation::Schedule => {
                self.run_schedule().await.map(lifecycle::Answer::Schedule)
            }
            lifecycle::Invocation::Queue(batch) => Ok(lifecycle::Answer::Queue(
                self.handle_lifecycle_batch(batch).await,
            )),
        }
    }

    /// One EventBridge Scheduler invocation (its payload is not used).
    pub async fn run_schedule(&self) -> Result<Report, SubscriptionsError> {
        let report = ensure(
            &self.graph,
            &self.store,
            &self.secrets,
            &self.config,
            (self.clock)(),
        )
        .await;
        match &report {
            Ok(r) => tracing::info!(
                subscription = %r.subscription_id,
                expiration = %r.expiration,
                created = r.created,
                renewed = r.renewed,
                deleted = r.deleted.len(),
                "subscription ensured"
            ),
            Err(e) => tracing::error!(error = %e, "ensuring the subscription failed"),
        }
        report
    }
}

/// The expiry to ask for: the maximum, less the margin, in Graph's format.
pub fn requested_expiry(now: OffsetDateTime) -> String {
    let at = now + Duration::minutes(MAX_EXPIRATION_MINUTES) - EXPIRATION_MARGIN;
    let at = at.replace_nanosecond(0).unwrap_or(at);
    at.format(&Rfc3339).unwrap_or_default()
}

fn expiry(subscription: &Subscription) -> Option<OffsetDateTime> {
    subscription
        .expiration_date_time
        .as_deref()
        .and_then(|raw| OffsetDateTime::parse(raw, &Rfc3339).ok())
}

/// Same scheme, host and port as the webhook URL.
fn same_origin(url: Option<&str>, webhook: &url::Url) -> bool {
    let Some(url) = url.and_then(|u| url::Url::parse(u).ok()) else {
        return false;
    };
    url.scheme() == webhook.scheme()
        && url.host_str().map(str::to_ascii_lowercase)
            == webhook.host_str().map(str::to_ascii_lowercase)
        && url.port_or_known_default() == webhook.port_or_known_default()
}

fn is_right(subscription: &Subscription, notification_url: &str, client_state: &str) -> bool {
    let resource_ok = subscription
        .resource
        .as_deref()
        .is_some_and(|r| r.trim_start_matches('/').eq_ignore_ascii_case("users"));
    let change_types = |raw: &str| -> BTreeSet<String> {
        raw.split(',')
            .map(|c| c.trim().to_ascii_lowercase())
            .filter(|c| !c.is_empty())
            .collect()
    };
    let change_ok = subscription
        .change_type
        .as_deref()
        .is_some_and(|c| change_types(c) == change_types(CHANGE_TYPE));
    let url_ok = subscription.notification_url.as_deref() == Some(notification_url)
        && subscription.lifecycle_notification_url.as_deref() == Some(notification_url);
    // Not secret-dependent timing that matters: Graph holds the same value, and this runs
    // on a schedule, not on attacker input.
    let state_ok = subscription
        .client_state
        .as_ref()
        .is_some_and(|s| s.expose() == client_state);
    resource_ok && change_ok && url_ok && state_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscription(url: &str, state: &str) -> Subscription {
        Subscription {
            id: Some("s1".into()),
            resource: Some("users".into()),
            change_type: Some("deleted, updated".into()),
            notification_url: Some(url.into()),
            lifecycle_notification_url: Some(url.into()),
            client_state: Some(Secret::new(state)),
            expiration_date_time: Some("2030-01-01T00:00:00Z".into()),
            ..Subscription::default()
        }
    }

    #[test]
    fn requested_expiry_is_under_the_maximum_by_the_margin() {
        let now = OffsetDateTime::parse("2026-03-01T12:00:00.123Z", &Rfc3339).unwrap();
        let at = OffsetDateTime::parse(&requested_expiry(now), &Rfc3339).unwrap();
        assert!(at - now <= Duration::minutes(MAX_EXPIRATION_MINUTES) - EXPIRATION_MARGIN);
        assert!(at - now > Duration::minutes(MAX_EXPIRATION_MINUTES) - EXPIRATION_MARGIN * 2);
    }

    #[test]
    fn right_subscription_needs_users_both_change_types_both_urls_and_the_current_state() {
        let url = "https://abc.lambda-url.eu-west-1.on.aws/";
        assert!(is_right(&subscription(url, "cs"), url, "cs"));
        assert!(!is_right(&subscription(url, "old"), url, "cs"));
        let mut only_updated = subscription(url, "cs");
        only_updated.change_type = Some("updated".into());
        assert!(!is_right(&only_updated, url, "cs"));
        let mut one_user = subscription(url, "cs");
        one_user.resource = Some("/users/123".into());
        assert!(!is_right(&one_user, url, "cs"));
        let mut no_lifecycle = subscription(url, "cs");
        no_lifecycle.lifecycle_notification_url = None;
        assert!(!is_right(&no_lifecycle, url, "cs"));
    }

    #[test]
    fn same_origin_compares_scheme_host_and_port_only() {
        let webhook = url::Url::parse("https://ABC.lambda-url.eu-west-1.on.aws/").unwrap();
        assert!(same_origin(
            Some("https://abc.lambda-url.eu-west-1.on.aws:443/old-path"),
            &webhook
        ));
        assert!(!same_origin(
            Some("https://other.lambda-url.eu-west-1.on.aws/"),
            &webhook
        ));
        assert!(!same_origin(
            Some("http://abc.lambda-url.eu-west-1.on.aws/"),
            &webhook
        ));
        assert!(!same_origin(None, &webhook));
    }

    #[test]
    fn notification_url_must_be_an_absolute_http_url() {
        let env = Env::from_pairs([
            (runtime::NOTIFICATION_URL, "not a url"),
            (runtime::CLIENT_STATE_SECRET_ARN, "arn"),
        ]);
        assert!(SubscriptionsConfig::from_env(&env).is_err());
        let env = Env::from_pairs([
            (runtime::NOTIFICATION_URL, "https://x.example/"),
            (runtime::CLIENT_STATE_SECRET_ARN, "arn"),
        ]);
        assert_eq!(
            SubscriptionsConfig::from_env(&env)
                .unwrap()
                .notification_url,
            "https://x.example/"
        );
    }
}
