//! What the SES and SNS delivery adapters share: turning an SDK error into a typed
//! [`DeliveryError`] without letting the pass or the recipient into it, and building the
//! adapters the policy asks for.

use std::sync::Arc;

use autoenroll_core::delivery::{
    Channel, Deliveries, DeliveryError, DeliveryReceipt, PassNotice, Recipient, Refusal, redact,
};
use autoenroll_core::engine::Bootstrap;
use autoenroll_core::policy::{BootstrapEffect, Policy};
use aws_config::SdkConfig;
use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::dynamo::DynamoStore;
use crate::ses::{SesDelivery, SesSettings};
use crate::sns::{SmsSettings, SnsSmsDelivery};

/// A service's answer, reduced to what the per-service tables look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ServiceAnswer<'a> {
    pub code: &'a str,
    pub status: u16,
    pub message: &'a str,
}

/// What a per-service table decided about a service error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Throttled: the service did not take the message.
    Throttled,
    /// A server fault: the message may or may not have been taken.
    ServerFault,
    Refused(Refusal),
    Systemic,
}

/// Status-based fallback for codes a table does not name: 429 throttled, 5xx server fault,
/// 401/403 systemic, another 4xx a refusal of this message.
pub(crate) fn by_status(status: u16) -> Verdict {
    match status {
        429 => Verdict::Throttled,
        500.. => Verdict::ServerFault,
        401 | 403 => Verdict::Systemic,
        _ => Verdict::Refused(Refusal::MessageRejected),
    }
}

/// The receipt of a send the service accepted, logged with the masked recipient only.
pub(crate) fn sent(
    channel: Channel,
    message_id: Option<&str>,
    recipient: &Recipient,
) -> DeliveryReceipt {
    let receipt = DeliveryReceipt {
        channel,
        message_id: message_id.unwrap_or_default().to_owned(),
        recipient: recipient.masked(),
    };
    tracing::info!(
        channel = %channel,
        recipient = %receipt.recipient,
        message_id = %receipt.message_id,
        "temporary access pass delivered"
    );
    receipt
}

/// The typed error for a failed send. `table` classifies service errors; transport failures
/// (timeout, connection, unreadable answer) are retryable with an unknown outcome — the
/// request may have been delivered. Every detail goes through [`redact`].
pub(crate) fn delivery_error<E>(
    channel: Channel,
    operation: &str,
    err: &SdkError<E, HttpResponse>,
    notice: &PassNotice,
    recipient: &Recipient,
    table: impl Fn(ServiceAnswer<'_>) -> Verdict,
) -> DeliveryError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let clean = |text: String| redact(&text, notice, recipient);
    match err {
        SdkError::ServiceError(service) => {
            let answer = ServiceAnswer {
                code: service.err().code().unwrap_or_default(),
                status: service.raw().status().as_u16(),
                message: service.err().message().unwrap_or_default(),
            };
            // Code and message only: the raw response (headers, body) does not belong here.
            let detail = clean(format!(
                "{operation}: {} (HTTP {}): {}",
                answer.code, answer.status, answer.message
            ));
            match table(answer) {
                Verdict::Throttled => DeliveryError::Transient {
                    channel,
                    detail,
                    outcome_unknown: false,
                },
                Verdict::ServerFault => DeliveryError::Transient {
                    channel,
                    detail,
                    outcome_unknown: true,
                },
                Verdict::Refused(reason) => DeliveryError::Refused {
                    channel,
                    reason,
                    detail,
                },
                Verdict::Systemic => DeliveryError::Systemic { channel, detail },
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            DeliveryError::Transient {
                channel,
                detail: clean(format!("{operation}: {}", DisplayErrorContext(err))),
                outcome_unknown: true,
            }
        }
        // The request could not even be built: our configuration or a bug, for every user.
        _ => DeliveryError::Systemic {
            channel,
            detail: clean(format!("{operation}: {}", DisplayErrorContext(err))),
        },
    }
}

/// The adapters for the channels the policy's bootstrap uses, or `None` while bootstrap is
/// off ([`Policy::bootstrap_effect`] says why). One SDK configuration, so the clients share the
/// process's one TLS connector (`config::http_client`).
pub fn deliveries_for(policy: &Policy, sdk: &SdkConfig) -> Option<Deliveries> {
    let BootstrapEffect::On { delivery, .. } = policy.bootstrap_effect() else {
        return None;
    };
    let b = &policy.bootstrap;
    let email = match (delivery.uses(Channel::ManagerEmail), &b.email_from) {
        (true, Some(from)) => Some(Arc::new(SesDelivery::new(
            crate::config::sesv2_client(sdk),
            SesSettings {
                from: from.clone(),
                configuration_set: b.ses_configuration_set.clone(),
            },
        )) as Arc<_>),
        _ => None,
    };
    let sms = delivery.uses(Channel::MobileSms).then(|| {
        Arc::new(SnsSmsDelivery::new(
            crate::config::sns_client(sdk),
            SmsSettings {
                sender_id: b.sms_sender_id.clone(),
                origination_number: b.sms_origination_number.clone(),
            },
        )) as Arc<_>
    });
    Some(Deliveries { email, sms })
}

/// The TAP bootstrap as the deployed stack runs it: [`deliveries_for`] the policy, open
/// bootstraps in `store`'s table (the memory's). `None` while the policy's bootstrap is off.
/// The enroll function and the CLI's `plan` / `apply` both start from this.
pub fn bootstrap_for(policy: &Policy, sdk: &SdkConfig, store: DynamoStore) -> Option<Bootstrap> {
    deliveries_for(policy, sdk).map(|deliveries| Bootstrap {
        delivery: Arc::new(deliveries),
        store: Arc::new(store),
    })
}
