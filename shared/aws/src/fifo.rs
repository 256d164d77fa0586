//! How an [`EnrollRequest`] becomes a FIFO queue message: body, message group, de-duplication
//! id. Shared by the SQS sender and the in-memory queue so both treat a request the same way.
//!
//! SQS FIFO rules (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html>):
//! `MessageGroupId` and `MessageDeduplicationId` are at most 128 characters of alphanumerics and
//! punctuation ``!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~``; a message whose de-duplication id was
//! already accepted in the last 5 minutes is accepted but not delivered again.

use autoenroll_core::ports::{EnrollRequest, QueueError};
use sha2::{Digest, Sha256};

/// Longest `MessageGroupId` / `MessageDeduplicationId` SQS accepts.
pub const MAX_ID_LEN: usize = 128;

/// Most entries in one `SendMessageBatch` / `ReceiveMessage` / `DeleteMessageBatch` call.
pub const MAX_BATCH: usize = 10;

/// FIFO de-duplication interval (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/using-messagededuplicationid-property.html>).
pub const DEDUP_WINDOW: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// A request ready to send: what SQS needs to know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FifoMessage {
    pub group_id: String,
    pub dedup_id: String,
    pub body: String,
}

impl FifoMessage {
    /// Checks and encodes a request. Rejects a request without a user id (it cannot be
    /// grouped and means nothing to the enroll function).
    pub fn from_request(request: &EnrollRequest) -> Result<Self, QueueError> {
        if request.user_id.trim().is_empty() {
            return Err(QueueError::Rejected(
                "enroll request without a user id".into(),
            ));
        }
        let body = serde_json::to_string(request)
            .map_err(|e| QueueError::Rejected(format!("cannot encode enroll request: {e}")))?;
        Ok(Self {
            group_id: group_id(&request.user_id),
            dedup_id: dedup_id(request, &body),
            body,
        })
    }
}

/// Decodes a message body written by [`FifoMessage::from_request`].
pub fn decode_body(body: &str) -> Result<EnrollRequest, serde_json::Error> {
    serde_json::from_str(body)
}

/// The message group: the user id, so one user's messages are delivered in order and never
/// concurrently. Graph object ids are GUIDs and fit as they are; anything else is hashed so the
/// grouping stays per user while the id stays valid.
pub fn group_id(user_id: &str) -> String {
    if is_valid_id(user_id) {
        user_id.to_owned()
    } else {
        format!("u-{}", sha256_hex(user_id))
    }
}

/// The de-duplication id: SHA-256 (hex, 64 characters) of the request's `dedup_key`, so any key
/// fits SQS's alphabet and length and nothing of the key shows in the queue. A request with an
/// empty key would collapse with every other key-less request, so its whole encoded body is
/// hashed instead (only exact duplicates collapse).
pub fn dedup_id(request: &EnrollRequest, body: &str) -> String {
    if request.dedup_key.is_empty() {
        tracing::warn!("enroll request without dedup_key; de-duplicating on the whole body");
        format!("b-{}", sha256_hex(body))
    } else {
        sha256_hex(&request.dedup_key)
    }
}

fn is_valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_LEN && id.chars().all(|c| c.is_ascii_graphic())
}

fn sha256_hex(input: &str) -> String {
    hex::encode(Sha256::digest(input.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use autoenroll_core::ports::Trigger;

    fn request(user: &str, key: &str) -> EnrollRequest {
        EnrollRequest {
            tenant_id: "t".into(),
            user_id: user.into(),
            trigger: Trigger::Reconcile,
            observed_at: "2025-01-01T00:00:00Z".into(),
            dedup_key: key.into(),
        }
    }

    #[test]
    fn guid_user_id_is_its_own_group() {
        let id = "0b8f3c2e-1111-4a5b-9c7d-123456789abc";
        assert_eq!(group_id(id), id);
    }

    #[test]
    fn user_id_outside_sqs_alphabet_is_hashed_into_a_valid_group() {
        let id = "user with spaces ünïcode";
        let group = group_id(id);
        assert!(is_valid_id(&group));
        assert_eq!(group, group_id(id), "same user, same group");
        assert!(is_valid_id(&group_id(&"x".repeat(500))));
    }

    #[test]
    fn dedup_id_is_valid_for_any_key_and_stable() {
        let long = request("u", &"é".repeat(1000));
        let message = FifoMessage::from_request(&long).unwrap();
        assert!(is_valid_id(&message.dedup_id));
        assert_eq!(message.dedup_id.len(), 64);
        assert_eq!(message, FifoMessage::from_request(&long).unwrap());
    }

    #[test]
    fn different_keys_give_different_dedup_ids() {
        let a = FifoMessage::from_request(&request("u", "sub1:u:1")).unwrap();
        let b = FifoMessage::from_request(&request("u", "sub1:u:2")).unwrap();
        assert_ne!(a.dedup_id, b.dedup_id);
    }

    #[test]
    fn requests_without_dedup_key_only_collapse_when_identical() {
        let a = FifoMessage::from_request(&request("u1", "")).unwrap();
        let b = FifoMessage::from_request(&request("u2", "")).unwrap();
        assert_ne!(a.dedup_id, b.dedup_id);
        assert!(is_valid_id(&a.dedup_id));
    }

    #[test]
    fn request_without_user_id_is_rejected() {
        let err = FifoMessage::from_request(&request("  ", "k")).unwrap_err();
        assert!(matches!(err, QueueError::Rejected(_)));
    }

    #[test]
    fn body_round_trips_to_the_request() {
        let original = request("u1", "k");
        let message = FifoMessage::from_request(&original).unwrap();
        assert_eq!(decode_body(&message.body).unwrap(), original);
    }
}
