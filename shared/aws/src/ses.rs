//! Amazon SES v2 behind [`PassDelivery`]: the Temporary Access Pass e-mail to the manager.
//!
//! `SendEmail` with simple content (subject + text body, UTF-8) from the configured sender —
//! an address SES has verified, or one in a verified domain — and the optional configuration
//! set (event publishing for bounces and complaints). IAM: `ses:SendEmail` on the identity
//! (and on the configuration set when one is named); see infra/template.yaml.
//!
//! Error table (SES v2 API reference, `SendEmail` errors):
//! - `TooManyRequestsException` (429), `LimitExceededException` (sending rate/quota): retry.
//! - `MessageRejected`: refused — "Email address is not verified" (the sender, or in the SES
//!   sandbox the recipient) is [`Refusal::NotVerified`], anything else a rejected message.
//! - `BadRequestException`: the address is malformed — [`Refusal::InvalidRecipient`].
//! - `AccountSuspendedException`, `SendingPausedException`, `MailFromDomainNotVerifiedException`,
//!   `NotFoundException` (configuration set), `AccessDenied*`: systemic, every message fails.
//! - 5xx: retry, outcome unknown.

use async_trait::async_trait;
use autoenroll_core::delivery::{
    Channel, DeliveryError, DeliveryReceipt, PassDelivery, PassNotice, Recipient, Refusal, message,
};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

use crate::delivery::{ServiceAnswer, Verdict, by_status, delivery_error, sent};

/// What the sender looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SesSettings {
    /// `FromEmailAddress`: `it@contoso.com` or `Contoso IT <it@contoso.com>`.
    pub from: String,
    pub configuration_set: Option<String>,
}

/// Sends the manager e-mail through SES v2.
pub struct SesDelivery {
    client: aws_sdk_sesv2::Client,
    settings: SesSettings,
}

impl std::fmt::Debug for SesDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SesDelivery")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl SesDelivery {
    pub fn new(client: aws_sdk_sesv2::Client, settings: SesSettings) -> Self {
        Self { client, settings }
    }
}

/// How SES v2's `SendEmail` errors are handled (module doc).
pub(crate) fn ses_verdict(answer: ServiceAnswer<'_>) -> Verdict {
    match answer.code {
        "TooManyRequestsException"
        | "LimitExceededException"
        | "Throttling"
        | "ThrottlingException" => Verdict::Throttled,
        "MessageRejected" if answer.message.to_ascii_lowercase().contains("not verified") => {
            Verdict::Refused(Refusal::NotVerified)
        }
        "MessageRejected" => Verdict::Refused(Refusal::MessageRejected),
        "BadRequestException" | "InvalidParameterValue" => {
            Verdict::Refused(Refusal::InvalidRecipient)
        }
        "AccountSuspendedException"
        | "SendingPausedException"
        | "MailFromDomainNotVerifiedException"
        | "NotFoundException"
        | "AccessDenied"
        | "AccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch" => Verdict::Systemic,
        _ => by_status(answer.status),
    }
}

#[async_trait]
impl PassDelivery for SesDelivery {
    async fn deliver(
        &self,
        recipient: &Recipient,
        notice: &PassNotice,
    ) -> Result<DeliveryReceipt, DeliveryError> {
        let channel = Channel::ManagerEmail;
        let Some(to) = recipient.email() else {
            return Err(DeliveryError::Systemic {
                channel: recipient.channel(),
                detail: "the SES adapter sends e-mail only".into(),
            });
        };
        let composed = message::compose(channel, notice);
        let text = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(|e| DeliveryError::Systemic {
                    channel,
                    detail: format!("SendEmail: building the content: {e}"),
                })
        };
        let content = EmailContent::builder()
            .simple(
                Message::builder()
                    .subject(text(composed.subject.as_deref().unwrap_or_default())?)
                    .body(Body::builder().text(text(composed.body.expose())?).build())
                    .build(),
            )
            .build();
        let output = self
            .client
            .send_email()
            .from_email_address(&self.settings.from)
            .destination(Destination::builder().to_addresses(to).build())
            .content(content)
            .set_configuration_set_name(self.settings.configuration_set.clone())
            .send()
            .await
            .map_err(|e| {
                delivery_error(channel, "SendEmail", &e, notice, recipient, ses_verdict)
            })?;
        Ok(sent(channel, output.message_id(), recipient))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(code: &str, status: u16, message: &str) -> Verdict {
        ses_verdict(ServiceAnswer {
            code,
            status,
            message,
        })
    }

    #[test]
    fn ses_errors_are_classified() {
        assert_eq!(v("TooManyRequestsException", 429, ""), Verdict::Throttled);
        assert_eq!(v("LimitExceededException", 400, ""), Verdict::Throttled);
        assert_eq!(
            v(
                "MessageRejected",
                400,
                "Email address is not verified. The following identities failed the check in region EU-WEST-1: it@contoso.com"
            ),
            Verdict::Refused(Refusal::NotVerified)
        );
        assert_eq!(
            v(
                "MessageRejected",
                400,
                "Email address not verified it@contoso.com"
            ),
            Verdict::Refused(Refusal::NotVerified)
        );
        assert_eq!(
            v("MessageRejected", 400, "Message length exceeds limit"),
            Verdict::Refused(Refusal::MessageRejected)
        );
        assert_eq!(
            v("BadRequestException", 400, "Missing final '@domain'"),
            Verdict::Refused(Refusal::InvalidRecipient)
        );
        for code in [
            "AccountSuspendedException",
            "SendingPausedException",
            "MailFromDomainNotVerifiedException",
            "NotFoundException",
            "AccessDeniedException",
        ] {
            assert_eq!(v(code, 400, ""), Verdict::Systemic, "{code}");
        }
        assert_eq!(v("AccessDenied", 403, ""), Verdict::Systemic);
        assert_eq!(v("InternalFailure", 500, ""), Verdict::ServerFault);
        assert_eq!(v("Whatever", 503, ""), Verdict::ServerFault);
        assert_eq!(v("Whatever", 403, ""), Verdict::Systemic);
        assert_eq!(
            v("Whatever", 400, ""),
            Verdict::Refused(Refusal::MessageRejected)
        );
    }
}
