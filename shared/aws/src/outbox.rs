//! The in-memory twin of the SES and SNS adapters: an outbox for the local stack and tests.
//!
//! It composes the same messages the adapters send ([`message::compose`]) and keeps them. What
//! it shows — [`SentPass`]'s `Debug`, [`SentPass::masked_body`], [`Outbox::listing`] — has the
//! pass replaced by `••••••••` and the recipient masked; the pass itself is reachable only
//! through [`SentPass::pass`] (a [`Secret`]), for the simulated person who redeems it.
//! Failures are injected per call ([`Outbox::fail_next`]), including the nasty one: the
//! message went out but the answer was lost ([`Injected::after_sending`]).

use std::collections::VecDeque;

use async_trait::async_trait;
use autoenroll_core::delivery::{
    Channel, DeliveryError, DeliveryReceipt, PassDelivery, PassNotice, Recipient, message,
};
use autoenroll_graph::Secret;
use parking_lot::Mutex;

/// How the pass is shown in the outbox's listings.
pub const PASS_MASK: &str = "••••••••";

/// One message the outbox took.
#[derive(Clone)]
pub struct SentPass {
    pub message_id: String,
    pub channel: Channel,
    /// Masked (`p***@contoso.com`, `+31 6******78`).
    pub recipient: String,
    pub user_principal_name: String,
    pub subject: Option<String>,
    body: Secret,
    pass: Secret,
    recipient_value: Recipient,
}

impl SentPass {
    /// The body as sent, with the pass masked.
    pub fn masked_body(&self) -> String {
        mask(self.body.expose(), &self.pass)
    }

    /// The body as sent, pass included: for a test asserting on the real content.
    pub fn body(&self) -> &Secret {
        &self.body
    }

    /// The pass, for whoever plays the person receiving it.
    pub fn pass(&self) -> &Secret {
        &self.pass
    }

    /// The recipient (unmasked inside; its `Debug` is masked).
    pub fn to(&self) -> &Recipient {
        &self.recipient_value
    }
}

impl std::fmt::Debug for SentPass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentPass")
            .field("message_id", &self.message_id)
            .field("channel", &self.channel)
            .field("recipient", &self.recipient)
            .field("user_principal_name", &self.user_principal_name)
            .field("subject", &self.subject)
            .field("body", &self.masked_body())
            .finish()
    }
}

fn mask(text: &str, pass: &Secret) -> String {
    if pass.is_empty() {
        text.to_owned()
    } else {
        text.replace(pass.expose(), PASS_MASK)
    }
}

/// A failure the next delivery meets.
#[derive(Debug, Clone)]
pub struct Injected {
    pub error: DeliveryError,
    /// The message is kept (it went out) and the error returned anyway: a lost answer.
    pub after_sending: bool,
}

impl Injected {
    /// Fails before anything is sent.
    pub fn before_sending(error: DeliveryError) -> Self {
        Self {
            error,
            after_sending: false,
        }
    }

    /// Sends, then fails (timeout after the service took it).
    pub fn after_sending(error: DeliveryError) -> Self {
        Self {
            error,
            after_sending: true,
        }
    }
}

#[derive(Default)]
struct State {
    sent: Vec<SentPass>,
    failures: VecDeque<Injected>,
    next_id: u64,
    attempts: u64,
}

/// Delivers every channel into memory. Clone-free: share it behind an `Arc`.
#[derive(Default)]
pub struct Outbox {
    state: Mutex<State>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.lock();
        f.debug_struct("Outbox")
            .field("sent", &state.sent)
            .field("pending_failures", &state.failures.len())
            .finish()
    }
}

impl Outbox {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next delivery fails this way (failures queue up, one per delivery).
    pub fn fail_next(&self, failure: Injected) {
        self.state.lock().failures.push_back(failure);
    }

    /// Everything sent so far, oldest first.
    pub fn sent(&self) -> Vec<SentPass> {
        self.state.lock().sent.clone()
    }

    /// Messages sent for one user (by UPN, case-insensitive).
    pub fn sent_to_user(&self, upn: &str) -> Vec<SentPass> {
        self.state
            .lock()
            .sent
            .iter()
            .filter(|s| s.user_principal_name.eq_ignore_ascii_case(upn))
            .cloned()
            .collect()
    }

    /// Deliveries attempted, failed ones included.
    pub fn attempts(&self) -> u64 {
        self.state.lock().attempts
    }

    /// One line per message, pass masked: what the local stack prints.
    pub fn listing(&self) -> Vec<String> {
        self.state
            .lock()
            .sent
            .iter()
            .map(|s| {
                format!(
                    "{} {} → {} (for {}): {}",
                    s.message_id,
                    s.channel,
                    s.recipient,
                    s.user_principal_name,
                    s.masked_body().replace('\n', " ⏎ ")
                )
            })
            .collect()
    }
}

#[async_trait]
impl PassDelivery for Outbox {
    async fn deliver(
        &self,
        recipient: &Recipient,
        notice: &PassNotice,
    ) -> Result<DeliveryReceipt, DeliveryError> {
        let channel = recipient.channel();
        let composed = message::compose(channel, notice);
        let mut state = self.state.lock();
        state.attempts += 1;
        let failure = state.failures.pop_front();
        if let Some(Injected {
            error,
            after_sending: false,
        }) = &failure
        {
            return Err(error.clone());
        }
        state.next_id += 1;
        let message_id = format!("outbox-{}", state.next_id);
        let sent = SentPass {
            message_id: message_id.clone(),
            channel,
            recipient: recipient.masked(),
            user_principal_name: notice.user_principal_name.clone(),
            subject: composed.subject,
            body: composed.body,
            pass: notice.pass.clone(),
            recipient_value: recipient.clone(),
        };
        tracing::info!(
            channel = %channel,
            recipient = %sent.recipient,
            message_id = %message_id,
            "temporary access pass put in the outbox"
        );
        state.sent.push(sent);
        if let Some(Injected { error, .. }) = failure {
            return Err(error);
        }
        Ok(DeliveryReceipt {
            channel,
            message_id,
            recipient: recipient.masked(),
        })
    }
}
