//! The helpdesk notification of an expired bootstrap, through an Amazon SNS topic
//! ([`HelpdeskNotifier`]): the template's optional `HelpdeskTopicArn` (its subscribers — an
//! e-mail list, a ticketing webhook, a chat integration — are the operator's choice).
//!
//! `Publish` with `TopicArn`, `Subject` and `Message`
//! (<https://docs.aws.amazon.com/sns/latest/api/API_Publish.html>). The message holds the
//! user's UPN and object id, the number of passes and when the last one ended — never a pass,
//! a number or an address ([`ExpiredBootstrapNotice::body`]). IAM: `sns:Publish` on that topic
//! only.

use async_trait::async_trait;
use autoenroll_core::bootstrap::{ExpiredBootstrapNotice, HelpdeskNotifier, NotifyError};

use crate::error::{Failure, classify};

/// Publishes to one SNS topic.
#[derive(Debug, Clone)]
pub struct SnsHelpdesk {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsHelpdesk {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
        }
    }

    /// The notifier the environment asks for: `None` when [`ENV_HELPDESK_TOPIC_ARN`] is unset
    /// or empty (nobody is told; the skip is still reported).
    ///
    /// The SNS client is built (by `client`) only when there is a topic: without one nothing
    /// is sent, and building it would only lengthen the function's init.
    ///
    /// [`ENV_HELPDESK_TOPIC_ARN`]: autoenroll_core::bootstrap::ENV_HELPDESK_TOPIC_ARN
    pub fn from_topic(
        client: impl FnOnce() -> aws_sdk_sns::Client,
        topic_arn: Option<&str>,
    ) -> Option<Self> {
        topic_arn
            .map(str::trim)
            .filter(|arn| !arn.is_empty())
            .map(|arn| Self::new(client(), arn))
    }

    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }
}

#[async_trait]
impl HelpdeskNotifier for SnsHelpdesk {
    async fn bootstrap_expired(&self, notice: &ExpiredBootstrapNotice) -> Result<(), NotifyError> {
        let output = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(notice.subject())
            .message(notice.body())
            .send()
            .await
            .map_err(|e| match classify("Publish", &e) {
                Failure::Retryable(text) => NotifyError::Unavailable(text),
                Failure::Permanent(text) => NotifyError::Refused(text),
            })?;
        tracing::info!(
            user_id = %notice.user_id,
            message_id = output.message_id().unwrap_or_default(),
            "helpdesk told of an expired bootstrap"
        );
        Ok(())
    }
}
