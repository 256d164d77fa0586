//! In-memory twins for the local stack and tests: an SQS FIFO queue, its Lambda-style poller,
//! and a static secret source. (The store twins live in `autoenroll_core::memory`.)
//!
//! [`MemoryFifoQueue`] follows SQS FIFO
//! (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-understanding-logic.html>):
//! - messages of one group are delivered in the order sent; while a message of a group is in
//!   flight, no other message of that group is handed out;
//! - a received message stays invisible for the visibility timeout, then comes back with a new
//!   receipt handle unless it was deleted; only the latest, unexpired receipt handle deletes it
//!   or changes its visibility (the docs leave expired handles vague; we pick the stricter);
//! - with a dead-letter queue, a message received `max_receive_count` times is moved there on
//!   its next receive, which frees its group;
//! - a message whose de-duplication id was accepted in the last 5 minutes is accepted and
//!   dropped — also when the first one was already deleted (moto forgets deleted ones; SQS
//!   does not).
//!
//! By default a receive hands out at most one message per group ("at most one in flight per
//! group"). Real SQS may return several consecutive messages of one group in one batch (all
//! in flight together); [`MemoryQueueBuilder::group_batching`] turns that on to test handlers
//! against it. Time is a [`QueueClock`]; tests use a [`ManualClock`] and advance it instead of
//! sleeping. Message retention (4 days by default in SQS) is not modelled.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use autoenroll_core::ports::{EnrollQueue, EnrollRequest, QueueError};

use crate::fifo::{DEDUP_WINDOW, FifoMessage, MAX_BATCH};

mod clock;
mod lifecycle;
mod poller;
mod secrets;

use clock::duration_ms;
pub use clock::{ManualClock, QueueClock};
pub use poller::MemoryPoller;
pub use secrets::StaticSecrets;

/// SQS's default visibility timeout.
pub const DEFAULT_VISIBILITY_TIMEOUT: Duration = Duration::from_secs(30);

const LOCAL_REGION: &str = "us-east-1";
const LOCAL_ACCOUNT: &str = "000000000000";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MemoryQueueError {
    #[error("receipt handle is not the message's current one")]
    InvalidReceiptHandle,
    #[error("receipt handle expired (visibility timeout passed)")]
    ReceiptHandleExpired,
}

#[derive(Debug, Clone)]
struct InFlight {
    receipt_handle: String,
    visible_at_ms: u64,
}

#[derive(Debug, Clone)]
struct Stored {
    message_id: String,
    sequence_number: u64,
    message: FifoMessage,
    sent_ms: u64,
    receive_count: u32,
    first_receive_ms: Option<u64>,
    in_flight: Option<InFlight>,
}

#[derive(Debug, Default)]
struct State {
    messages: VecDeque<Stored>,
    /// De-duplication id → (message id, time accepted).
    dedup: HashMap<String, (String, u64)>,
    /// (time accepted, de-duplication id) in acceptance order, so expired ids are forgotten
    /// from the front instead of by a scan of every id on every send, whose cost would grow
    /// with the queue (BENCHMARKS.md, the webhook bench).
    dedup_order: VecDeque<(u64, String)>,
    next_sequence: u64,
}

#[derive(Debug)]
struct Inner {
    name: String,
    visibility_timeout: Duration,
    dedup_window: Duration,
    group_batching: bool,
    dead_letter: Option<(MemoryFifoQueue, u32)>,
    clock: QueueClock,
    state: parking_lot::Mutex<State>,
    unavailable: AtomicBool,
}

/// Builds a [`MemoryFifoQueue`].
#[derive(Debug)]
pub struct MemoryQueueBuilder {
    name: String,
    visibility_timeout: Duration,
    dedup_window: Duration,
    group_batching: bool,
    dead_letter: Option<(MemoryFifoQueue, u32)>,
    clock: QueueClock,
}

impl MemoryQueueBuilder {
    pub fn visibility_timeout(mut self, timeout: Duration) -> Self {
        self.visibility_timeout = timeout;
        self
    }

    pub fn dedup_window(mut self, window: Duration) -> Self {
        self.dedup_window = window;
        self
    }

    /// Hand out several consecutive messages of one group per receive, as SQS may.
    pub fn group_batching(mut self, on: bool) -> Self {
        self.group_batching = on;
        self
    }

    /// Redrive policy: after `max_receive_count` receives a message moves to `queue`.
    pub fn dead_letter_queue(mut self, queue: MemoryFifoQueue, max_receive_count: u32) -> Self {
        self.dead_letter = Some((queue, max_receive_count.max(1)));
        self
    }

    pub fn clock(mut self, clock: impl Into<QueueClock>) -> Self {
        self.clock = clock.into();
        self
    }

    pub fn build(self) -> MemoryFifoQueue {
        MemoryFifoQueue {
            inner: Arc::new(Inner {
                name: self.name,
                visibility_timeout: self.visibility_timeout,
                dedup_window: self.dedup_window,
                group_batching: self.group_batching,
                dead_letter: self.dead_letter,
                clock: self.clock,
                state: parking_lot::Mutex::new(State::default()),
                unavailable: AtomicBool::new(false),
            }),
        }
    }
}

/// What a send did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOutcome {
    pub message_id: String,
    /// The de-duplication id was seen within the window: accepted, not enqueued again.
    pub duplicate: bool,
}

/// A message handed out by [`MemoryFifoQueue::receive`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    pub group_id: String,
    pub dedup_id: String,
    pub sequence_number: u64,
    /// How often it has been received, this time included.
    pub receive_count: u32,
    pub sent_timestamp_ms: u64,
    pub first_receive_timestamp_ms: u64,
}

/// An in-memory SQS FIFO queue. Clones share the queue.
#[derive(Debug, Clone)]
pub struct MemoryFifoQueue {
    inner: Arc<Inner>,
}

impl MemoryFifoQueue {
    /// `name` should end in `.fifo`, as SQS requires of FIFO queues.
    pub fn builder(name: impl Into<String>) -> MemoryQueueBuilder {
        MemoryQueueBuilder {
            name: name.into(),
            visibility_timeout: DEFAULT_VISIBILITY_TIMEOUT,
            dedup_window: DEDUP_WINDOW,
            group_batching: false,
            dead_letter: None,
            clock: QueueClock::System,
        }
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn arn(&self) -> String {
        format!(
            "arn:aws:sqs:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{}",
            self.inner.name
        )
    }

    /// The dead-letter queue, if a redrive policy is set.
    pub fn dead_letter_queue(&self) -> Option<&MemoryFifoQueue> {
        self.inner.dead_letter.as_ref().map(|(queue, _)| queue)
    }

    /// While set, `send_batch` fails with `QueueError::Unavailable` (chaos tests).
    pub fn set_unavailable(&self, unavailable: bool) {
        self.inner.unavailable.store(unavailable, Ordering::SeqCst);
    }

    /// The error a send answers while [`Self::set_unavailable`] is on.
    pub(crate) fn check_available(&self) -> Result<(), QueueError> {
        if self.inner.unavailable.load(Ordering::SeqCst) {
            return Err(QueueError::Unavailable(format!(
                "in-memory queue {} is set unavailable",
                self.inner.name
            )));
        }
        Ok(())
    }

    /// Enqueues one message unless its de-duplication id was accepted within the window.
    pub fn send(&self, message: FifoMessage) -> SendOutcome {
        let now = self.inner.clock.now_ms();
        let window = duration_ms(self.inner.dedup_window);
        let mut state = self.inner.state.lock();
        while let Some(&(accepted_ms, _)) = state.dedup_order.front()
            && now.saturating_sub(accepted_ms) >= window
        {
            if let Some((_, id)) = state.dedup_order.pop_front()
                && state
                    .dedup
                    .get(&id)
                    .is_some_and(|(_, at)| *at == accepted_ms)
            {
                state.dedup.remove(&id);
            }
        }
        // Checked here too: a clock that stepped back can leave an expired id behind the front.
        if let Some((message_id, accepted_ms)) = state.dedup.get(&message.dedup_id)
            && now.saturating_sub(*accepted_ms) < window
        {
            return SendOutcome {
                message_id: message_id.clone(),
                duplicate: true,
            };
        }
        let message_id = uuid::Uuid::new_v4().to_string();
        state
            .dedup
            .insert(message.dedup_id.clone(), (message_id.clone(), now));
        state.dedup_order.push_back((now, message.dedup_id.clone()));
        state.next_sequence += 1;
        let sequence_number = state.next_sequence;
        state.messages.push_back(Stored {
            message_id: message_id.clone(),
            sequence_number,
            message,
            sent_ms: now,
            receive_count: 0,
            first_receive_ms: None,
            in_flight: None,
        });
        SendOutcome {
            message_id,
            duplicate: false,
        }
    }

    /// Up to `max` (1..=10) visible messages, respecting group order and in-flight groups.
    pub fn receive(&self, max: usize) -> Vec<ReceivedMessage> {
        let max = max.clamp(1, MAX_BATCH);
        let now = self.inner.clock.now_ms();
        let visibility = duration_ms(self.inner.visibility_timeout);
        let mut received = Vec::new();
        let mut dead = Vec::new();
        {
            let mut state = self.inner.state.lock();
            for stored in state.messages.iter_mut() {
                if stored
                    .in_flight
                    .as_ref()
                    .is_some_and(|f| f.visible_at_ms <= now)
                {
                    stored.in_flight = None;
                }
            }
            let mut blocked: HashSet<String> = state
                .messages
                .iter()
                .filter(|m| m.in_flight.is_some())
                .map(|m| m.message.group_id.clone())
                .collect();
            let mut index = 0;
            while index < state.messages.len() && received.len() < max {
                let stored = &mut state.messages[index];
                if blocked.contains(&stored.message.group_id) {
                    index += 1;
                    continue;
                }
                if let Some((_, max_receives)) = &self.inner.dead_letter
                    && stored.receive_count >= *max_receives
                {
                    // Moving the head frees the group: the next message is considered next.
                    if let Some(moved) = state.messages.remove(index) {
                        dead.push(moved);
                    }
                    continue;
                }
                stored.receive_count += 1;
                let first_receive_ms = *stored.first_receive_ms.get_or_insert(now);
                let receipt_handle = uuid::Uuid::new_v4().simple().to_string();
                stored.in_flight = Some(InFlight {
                    receipt_handle: receipt_handle.clone(),
                    visible_at_ms: now.saturating_add(visibility),
                });
                received.push(ReceivedMessage {
                    message_id: stored.message_id.clone(),
                    receipt_handle,
                    body: stored.message.body.clone(),
                    group_id: stored.message.group_id.clone(),
                    dedup_id: stored.message.dedup_id.clone(),
                    sequence_number: stored.sequence_number,
                    receive_count: stored.receive_count,
                    sent_timestamp_ms: stored.sent_ms,
                    first_receive_timestamp_ms: first_receive_ms,
                });
                if !self.inner.group_batching {
                    blocked.insert(stored.message.group_id.clone());
                }
                index += 1;
            }
        }
        if let Some((dlq, _)) = &self.inner.dead_letter
            && !dead.is_empty()
        {
            tracing::warn!(queue = %self.inner.name, count = dead.len(), "messages moved to the dead-letter queue");
            dlq.accept_dead_letters(dead);
        }
        received
    }

    /// A moved message keeps its id, group and body; it starts unreceived on the DLQ.
    fn accept_dead_letters(&self, messages: Vec<Stored>) {
        let mut state = self.inner.state.lock();
        for mut stored in messages {
            state.next_sequence += 1;
            stored.sequence_number = state.next_sequence;
            stored.receive_count = 0;
            stored.first_receive_ms = None;
            stored.in_flight = None;
            state.messages.push_back(stored);
        }
    }

    fn with_in_flight<T>(
        &self,
        receipt_handle: &str,
        act: impl FnOnce(&mut State, usize, u64) -> T,
    ) -> Result<T, MemoryQueueError> {
        let now = self.inner.clock.now_ms();
        let mut state = self.inner.state.lock();
        let position = state
            .messages
            .iter()
            .position(|m| {
                m.in_flight
                    .as_ref()
                    .is_some_and(|f| f.receipt_handle == receipt_handle)
            })
            .ok_or(MemoryQueueError::InvalidReceiptHandle)?;
        let expired = state.messages[position]
            .in_flight
            .as_ref()
            .is_none_or(|f| f.visible_at_ms <= now);
        if expired {
            return Err(MemoryQueueError::ReceiptHandleExpired);
        }
        Ok(act(&mut state, position, now))
    }

    /// Deletes a received message (by its current receipt handle).
    pub fn delete(&self, receipt_handle: &str) -> Result<(), MemoryQueueError> {
        self.with_in_flight(receipt_handle, |state, position, _| {
            state.messages.remove(position);
        })
    }

    /// Makes a received message visible again after `timeout` from now (zero = at once).
    pub fn change_visibility(
        &self,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), MemoryQueueError> {
        self.with_in_flight(receipt_handle, |state, position, now| {
            if let Some(in_flight) = state.messages[position].in_flight.as_mut() {
                in_flight.visible_at_ms = now.saturating_add(duration_ms(timeout));
            }
        })
    }

    /// Messages on the queue, in flight or not.
    pub fn len(&self) -> usize {
        self.inner.state.lock().messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Messages received and neither deleted nor back to visible.
    pub fn in_flight_len(&self) -> usize {
        let now = self.inner.clock.now_ms();
        self.inner
            .state
            .lock()
            .messages
            .iter()
            .filter(|m| m.in_flight.as_ref().is_some_and(|f| f.visible_at_ms > now))
            .count()
    }

    /// The bodies of every message on the queue, in send order (inspection).
    pub fn bodies(&self) -> Vec<String> {
        self.inner
            .state
            .lock()
            .messages
            .iter()
            .map(|m| m.message.body.clone())
            .collect()
    }

    /// The requests on the queue, in send order (inspection; bodies that do not decode are
    /// left out).
    pub fn requests(&self) -> Vec<EnrollRequest> {
        self.bodies()
            .iter()
            .filter_map(|body| crate::fifo::decode_body(body).ok())
            .collect()
    }
}

#[async_trait]
impl EnrollQueue for MemoryFifoQueue {
    async fn send_batch(&self, requests: &[EnrollRequest]) -> Result<(), QueueError> {
        self.check_available()?;
        let messages = requests
            .iter()
            .map(FifoMessage::from_request)
            .collect::<Result<Vec<_>, _>>()?;
        for message in messages {
            self.send(message);
        }
        Ok(())
    }
}
