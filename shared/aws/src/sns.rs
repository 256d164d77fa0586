//! Amazon SNS SMS behind [`PassDelivery`]: the Temporary Access Pass to the user's directory
//! mobile number.
//!
//! `Publish` straight to `PhoneNumber` (E.164, no topic) with `AWS.SNS.SMS.SMSType =
//! Transactional` (critical messages: delivered with priority, also to numbers on a
//! do-not-disturb list), and, when configured, `AWS.SNS.SMS.SenderID` and
//! `AWS.MM.SMS.OriginationNumber`
//! (<https://docs.aws.amazon.com/sns/latest/dg/sms_publish-to-phone.html>). IAM:
//! `sns:Publish`; a publish to a phone number has no resource ARN (template comment).
//!
//! Error table (SNS API reference, `Publish` errors; query-protocol codes):
//! - `Throttled`/`Throttling`/`KMSThrottling`: retry. `InternalError`, 5xx: retry, outcome unknown.
//! - `InvalidParameter`, `ParameterValueInvalid`, `ValidationException`: the number (or the
//!   message) is refused — [`Refusal::InvalidRecipient`].
//! - `OptedOut` (the number replied STOP; SNS's `OptedOutException`): [`Refusal::OptedOut`].
//!   SNS may also accept a publish to an opted-out number and drop it; that shows only in
//!   the SMS delivery logs, not in the answer.
//! - `AuthorizationError`, `InvalidSecurity`, `KMS*` (not throttling), `NotFound`,
//!   `EndpointDisabled`: systemic.

use async_trait::async_trait;
use autoenroll_core::delivery::{
    Channel, DeliveryError, DeliveryReceipt, PassDelivery, PassNotice, Recipient, Refusal, message,
};
use aws_sdk_sns::types::MessageAttributeValue;

use crate::delivery::{ServiceAnswer, Verdict, by_status, delivery_error, sent};

pub const ATTR_SMS_TYPE: &str = "AWS.SNS.SMS.SMSType";
pub const ATTR_SENDER_ID: &str = "AWS.SNS.SMS.SenderID";
pub const ATTR_ORIGINATION_NUMBER: &str = "AWS.MM.SMS.OriginationNumber";

/// Optional sender settings (validated by the policy).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmsSettings {
    pub sender_id: Option<String>,
    pub origination_number: Option<String>,
}

/// Sends the SMS through SNS.
pub struct SnsSmsDelivery {
    client: aws_sdk_sns::Client,
    settings: SmsSettings,
}

impl std::fmt::Debug for SnsSmsDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnsSmsDelivery")
            .field("sender_id", &self.settings.sender_id)
            .field(
                "origination_number",
                &self.settings.origination_number.is_some(),
            )
            .finish_non_exhaustive()
    }
}

impl SnsSmsDelivery {
    pub fn new(client: aws_sdk_sns::Client, settings: SmsSettings) -> Self {
        Self { client, settings }
    }
}

/// How SNS's `Publish` errors are handled (module doc).
pub(crate) fn sns_verdict(answer: ServiceAnswer<'_>) -> Verdict {
    match answer.code {
        "Throttled" | "Throttling" | "ThrottledException" | "KMSThrottling" => Verdict::Throttled,
        "InternalError" | "InternalFailure" | "ServiceUnavailable" => Verdict::ServerFault,
        "OptedOut" | "OptedOutException" => Verdict::Refused(Refusal::OptedOut),
        "InvalidParameter" | "ParameterValueInvalid" | "ValidationException" => {
            Verdict::Refused(Refusal::InvalidRecipient)
        }
        "AuthorizationError"
        | "InvalidSecurity"
        | "KMSAccessDenied"
        | "KMSDisabled"
        | "KMSInvalidState"
        | "KMSNotFound"
        | "KMSOptInRequired"
        | "NotFound"
        | "EndpointDisabled"
        | "PlatformApplicationDisabled"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch" => Verdict::Systemic,
        _ => by_status(answer.status),
    }
}

fn string_attribute(value: &str) -> Result<MessageAttributeValue, DeliveryError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| DeliveryError::Systemic {
            channel: Channel::MobileSms,
            detail: format!("Publish: building a message attribute: {e}"),
        })
}

#[async_trait]
impl PassDelivery for SnsSmsDelivery {
    async fn deliver(
        &self,
        recipient: &Recipient,
        notice: &PassNotice,
    ) -> Result<DeliveryReceipt, DeliveryError> {
        let channel = Channel::MobileSms;
        let Some(number) = recipient.e164() else {
            return Err(DeliveryError::Systemic {
                channel: recipient.channel(),
                detail: "the SNS adapter sends SMS only".into(),
            });
        };
        let composed = message::compose(channel, notice);
        let mut publish = self
            .client
            .publish()
            .phone_number(number)
            .message(composed.body.expose())
            .message_attributes(ATTR_SMS_TYPE, string_attribute("Transactional")?);
        if let Some(id) = &self.settings.sender_id {
            publish = publish.message_attributes(ATTR_SENDER_ID, string_attribute(id)?);
        }
        if let Some(origin) = &self.settings.origination_number {
            publish =
                publish.message_attributes(ATTR_ORIGINATION_NUMBER, string_attribute(origin)?);
        }
        let output = publish
            .send()
            .await
            .map_err(|e| delivery_error(channel, "Publish", &e, notice, recipient, sns_verdict))?;
        Ok(sent(channel, output.message_id(), recipient))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(code: &str, status: u16) -> Verdict {
        sns_verdict(ServiceAnswer {
            code,
            status,
            message: "",
        })
    }

    #[test]
    fn sns_errors_are_classified() {
        assert_eq!(v("Throttled", 400), Verdict::Throttled);
        assert_eq!(v("InternalError", 500), Verdict::ServerFault);
        assert_eq!(v("OptedOut", 400), Verdict::Refused(Refusal::OptedOut));
        assert_eq!(
            v("InvalidParameter", 400),
            Verdict::Refused(Refusal::InvalidRecipient)
        );
        assert_eq!(
            v("ParameterValueInvalid", 400),
            Verdict::Refused(Refusal::InvalidRecipient)
        );
        assert_eq!(v("AuthorizationError", 403), Verdict::Systemic);
        assert_eq!(v("KMSAccessDenied", 400), Verdict::Systemic);
        assert_eq!(v("Unknown", 502), Verdict::ServerFault);
        assert_eq!(v("Unknown", 429), Verdict::Throttled);
    }
}
