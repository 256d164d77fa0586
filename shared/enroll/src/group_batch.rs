//! Group mode's MFA group adds, up to 20 users per write: `PATCH /groups/{id}` with
//! `members@odata.bind` ([`autoenroll_graph::Group::add_members`]) instead of one
//! `POST …/members/$ref` per user.
//!
//! Who is batched together: the users in flight in one [`GroupBatcher`] — one per
//! [`Enroller`](crate::engine::Enroller), i.e. per enroll instance (the messages of its SQS
//! batch) and per CLI backfill (its users in flight). Each user in flight holds a
//! [`Participant`] from the start of its read; a user whose plan needs the add queues itself
//! and waits. A batch is sent when it holds [`MAX_MEMBERS_PER_REQUEST`] users, when every
//! participant is waiting in it (nobody else can join), or when the window since its first
//! member has passed.
//!
//! Graph's batch is all or nothing (PASSKEY-ERA.md §10): one member already present (400
//! "already exist") or unknown (404) and nobody is added. So:
//! - members already present are filtered out before: the plan only asks for the add when the
//!   user's groups (read with the user) do not include the group;
//! - a batch that fails for a member's sake is split in halves until the member that fails is
//!   alone; the others are added by the halves that succeed;
//! - alone, "already a member" is success (someone else added them since the read), and "not
//!   found" — a just-created user that Graph's directory replicas do not all know yet ("wait a
//!   few seconds after creating an object before referencing it", learn
//!   `troubleshoot-graph-api-replication`) — is tried once more after [`GroupBatchConfig::
//!   not_found_delay`]; still not found, it is [`GroupAddError::NotYetVisible`] (retried later);
//! - a 404 of a batch is first checked against the group itself (one read): a deleted group
//!   fails every member with that 404 instead of splitting the batch down to single writes;
//! - any other failure (throttling, 5xx, timeout, permissions) is every member's failure, with
//!   its own disposition — a write that may have landed is not repeated (the next attempt's
//!   fresh read sees the membership).
//!
//! Each member gets its own result ([`GroupAdded`] or [`GroupAddError`]); apply turns it into
//! that user's outcome and audit record.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use autoenroll_graph::{AddMembersError, GraphClient, GraphError, MAX_MEMBERS_PER_REQUEST};
use tokio::sync::oneshot;

/// How long a batch waits for more members, and how long before a "not found" member is tried
/// again alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupBatchConfig {
    /// At most this long from a batch's first member to its write (sooner when it is full or
    /// every user in flight is waiting in it). At Graph's 20 writes/s a backfill reaches the
    /// add at ~19 users/s, so 1 s fills a batch; in Lambda the messages of one SQS batch
    /// arrive together and are sent as soon as they all wait.
    pub window: Duration,
    /// Before a member that was "not found" is tried again alone.
    pub not_found_delay: Duration,
}

impl Default for GroupBatchConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(1),
            not_found_delay: Duration::from_secs(3),
        }
    }
}

/// How a user came to be in the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupAdded {
    /// Added by a write that added `with` users (this one included).
    Added { with: usize },
    /// Already a member when the write was made (someone else added them since the read).
    AlreadyMember,
    /// "Not found" at first (replication), added alone after the delay.
    AddedAfterWait,
}

/// Why a user was not added.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GroupAddError {
    /// Graph's answer to the write that concerned this user (the user's own, after splitting,
    /// or a failure of the whole batch such as throttling).
    #[error(transparent)]
    Graph(GraphError),
    /// Still "not found" after the delay, though the user was read a moment before.
    #[error("the user was still not found by the group add after waiting")]
    NotYetVisible,
    /// The batch's write was never carried out (its task ended early).
    #[error("the batched group add ended without an answer")]
    Lost,
}

type AddResult = Result<GroupAdded, GroupAddError>;

/// Batches group adds; cheap to clone (clones share the queue).
#[derive(Clone, Default)]
pub struct GroupBatcher {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for GroupBatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupBatcher")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Inner {
    config: GroupBatchConfig,
    /// Group writes Graph took (successful PATCHes and single adds).
    writes: std::sync::atomic::AtomicU64,
    // std mutex: never held across an await.
    state: std::sync::Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Users in flight that may still queue.
    participants: usize,
    /// Users waiting in a queue (each also counted in `participants`).
    waiting: usize,
    /// Open batches by lowercased group id.
    queues: HashMap<String, Queue>,
    next_generation: u64,
}

struct Queue {
    generation: u64,
    group_id: String,
    /// The client of the batch's first member (its deadline, if any, applies to the write).
    graph: GraphClient,
    members: Vec<Waiter>,
}

struct Waiter {
    user_id: String,
    answers: Vec<oneshot::Sender<AddResult>>,
}

/// One user in flight (see the module docs); dropping it says the user will not queue.
#[must_use]
pub struct Participant {
    inner: Option<Arc<Inner>>,
}

impl std::fmt::Debug for Participant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Participant").finish_non_exhaustive()
    }
}

impl Drop for Participant {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            let ready = inner.with_state(|s| {
                s.participants = s.participants.saturating_sub(1);
                s.take_if_all_waiting()
            });
            inner.send_all(ready);
        }
    }
}

impl GroupBatcher {
    pub fn new(config: GroupBatchConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                ..Inner::default()
            }),
        }
    }

    pub fn config(&self) -> GroupBatchConfig {
        self.inner.config
    }

    /// Group writes Graph has taken through this batcher so far.
    pub fn writes(&self) -> u64 {
        self.inner.writes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A user is in flight and may queue for an add.
    pub fn participant(&self) -> Participant {
        self.inner.with_state(|s| s.participants += 1);
        Participant {
            inner: Some(self.inner.clone()),
        }
    }

    /// Adds `user_id` to `group_id` in the next batch and waits for this user's result.
    /// `participant` is the user's own (from [`GroupBatcher::participant`] of this batcher).
    pub async fn add(
        &self,
        mut participant: Participant,
        graph: &GraphClient,
        group_id: &str,
        user_id: &str,
    ) -> AddResult {
        let (tx, rx) = oneshot::channel();
        let joined = participant
            .inner
            .take()
            .is_some_and(|p| Arc::ptr_eq(&p, &self.inner));
        let (ready, timer) = self.inner.with_state(|s| {
            if !joined {
                // Not one of ours: it counts from here until its batch is taken.
                s.participants += 1;
            }
            s.waiting += 1;
            let key = group_id.to_ascii_lowercase();
            let mut timer = None;
            if !s.queues.contains_key(&key) {
                s.next_generation += 1;
                timer = Some((key.clone(), s.next_generation));
                s.queues.insert(
                    key.clone(),
                    Queue {
                        generation: s.next_generation,
                        group_id: group_id.to_owned(),
                        graph: graph.clone(),
                        members: Vec::new(),
                    },
                );
            }
            let full = s.queues.get_mut(&key).is_some_and(|q| {
                match q
                    .members
                    .iter_mut()
                    .find(|w| w.user_id.eq_ignore_ascii_case(user_id))
                {
                    Some(w) => w.answers.push(tx),
                    None => q.members.push(Waiter {
                        user_id: user_id.to_owned(),
                        answers: vec![tx],
                    }),
                }
                q.members.len() >= MAX_MEMBERS_PER_REQUEST
            });
            let ready = if full {
                s.take(&key).into_iter().collect()
            } else {
                s.take_if_all_waiting()
            };
            (ready, timer)
        });
        self.inner.send_all(ready);
        if let Some((key, generation)) = timer {
            let inner = self.inner.clone();
            tokio::spawn(async move {
                tokio::time::sleep(inner.config.window).await;
                let due = inner.with_state(|s| {
                    s.queues
                        .get(&key)
                        .is_some_and(|q| q.generation == generation)
                        .then(|| s.take(&key))
                        .flatten()
                });
                if let Some(queue) = due {
                    inner.clone().send(queue).await;
                }
            });
        }
        rx.await.unwrap_or(Err(GroupAddError::Lost))
    }
}

impl State {
    fn take(&mut self, key: &str) -> Option<Queue> {
        let queue = self.queues.remove(key)?;
        let n: usize = queue.members.iter().map(|w| w.answers.len()).sum();
        self.waiting = self.waiting.saturating_sub(n);
        self.participants = self.participants.saturating_sub(n);
        Some(queue)
    }

    /// Every open batch, when every user in flight waits in one: nobody else can join.
    fn take_if_all_waiting(&mut self) -> Vec<Queue> {
        if self.waiting == 0 || self.waiting < self.participants {
            return Vec::new();
        }
        let keys: Vec<String> = self.queues.keys().cloned().collect();
        keys.iter().filter_map(|k| self.take(k)).collect()
    }
}

impl Inner {
    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut state)
    }

    /// Sends each batch on its own task: a caller that stops waiting does not stop the others'
    /// write. Without a runtime (a guard dropped outside one) the batch's timer sends it.
    fn send_all(self: &Arc<Self>, queues: Vec<Queue>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        for queue in queues {
            runtime.spawn(self.clone().send(queue));
        }
    }

    async fn send(self: Arc<Self>, queue: Queue) {
        let ids: Vec<&str> = queue.members.iter().map(|w| w.user_id.as_str()).collect();
        let settled = settle(&queue.graph, &queue.group_id, &ids, self.config).await;
        self.writes
            .fetch_add(settled.writes, std::sync::atomic::Ordering::Relaxed);
        for (waiter, result) in queue.members.into_iter().zip(settled.results) {
            for answer in waiter.answers {
                // A receiver that is gone stopped waiting; its user's result is in the log.
                let _ = answer.send(result.clone());
            }
        }
    }
}

/// What [`settle`] did.
#[derive(Debug)]
pub struct Settled {
    /// One per user, in order.
    pub results: Vec<AddResult>,
    /// Writes Graph took.
    pub writes: u64,
}

/// Adds `users` (distinct) to `group_id`, at most [`MAX_MEMBERS_PER_REQUEST`] per write. See
/// the module docs for the rules.
pub async fn settle(
    graph: &GraphClient,
    group_id: &str,
    users: &[&str],
    config: GroupBatchConfig,
) -> Settled {
    let mut writes = 0;
    let group = graph.groups(group_id);
    let mut results: Vec<Option<AddResult>> = vec![None; users.len()];
    // Ranges of `users` still to write, split in halves when a write fails for a member's sake.
    let mut todo: Vec<std::ops::Range<usize>> = users
        .chunks(MAX_MEMBERS_PER_REQUEST)
        .scan(0, |start, chunk| {
            let range = *start..*start + chunk.len();
            *start = range.end;
            Some(range)
        })
        .collect();
    let mut group_checked = false;
    let mut not_found: Vec<usize> = Vec::new();
    while let Some(range) = todo.pop() {
        if range.len() == 1 {
            match group.add_member(users[range.start]).await {
                Ok(autoenroll_graph::MembershipChange::Added) => {
                    writes += 1;
                    results[range.start] = Some(Ok(GroupAdded::Added { with: 1 }));
                }
                Ok(autoenroll_graph::MembershipChange::AlreadyMember) => {
                    results[range.start] = Some(Ok(GroupAdded::AlreadyMember));
                }
                Err(e) if e.is_not_found() => {
                    if !group_checked && let Some(gone) = group_gone(graph, group_id).await {
                        fail_all(&mut results, &gone);
                        return finish(results, writes);
                    }
                    group_checked = true;
                    not_found.push(range.start);
                }
                Err(e) => results[range.start] = Some(Err(GroupAddError::Graph(e))),
            }
            continue;
        }
        let ids = &users[range.clone()];
        match group.add_members(ids).await {
            Ok(()) => {
                writes += 1;
                for r in &mut results[range.clone()] {
                    *r = Some(Ok(GroupAdded::Added { with: ids.len() }));
                }
            }
            Err(err) => {
                if matches!(err, AddMembersError::NotFound(_)) && !group_checked {
                    if let Some(gone) = group_gone(graph, group_id).await {
                        fail_all(&mut results, &gone);
                        return finish(results, writes);
                    }
                    group_checked = true;
                }
                match split_or_fail(err) {
                    Some(e) => {
                        for r in &mut results[range.clone()] {
                            *r = Some(Err(GroupAddError::Graph(e.clone())));
                        }
                    }
                    None => {
                        let mid = range.start + range.len() / 2;
                        // Popped last-in first-out: the first half is written first.
                        todo.push(mid..range.end);
                        todo.push(range.start..mid);
                    }
                }
            }
        }
    }
    if !not_found.is_empty() {
        tokio::time::sleep(config.not_found_delay).await;
        for i in not_found {
            results[i] = Some(match group.add_member(users[i]).await {
                Ok(autoenroll_graph::MembershipChange::Added) => {
                    writes += 1;
                    Ok(GroupAdded::AddedAfterWait)
                }
                Ok(autoenroll_graph::MembershipChange::AlreadyMember) => {
                    Ok(GroupAdded::AlreadyMember)
                }
                Err(e) if e.is_not_found() => Err(GroupAddError::NotYetVisible),
                Err(e) => Err(GroupAddError::Graph(e)),
            });
        }
    }
    finish(results, writes)
}

/// `None`: the failure may be one member's (split the batch); `Some`: every member's.
fn split_or_fail(err: AddMembersError) -> Option<GraphError> {
    match err {
        AddMembersError::AlreadyMember(_)
        | AddMembersError::NotFound(_)
        | AddMembersError::TooMany(_)
        | AddMembersError::Duplicate(_) => None,
        // Another 400 may be about one reference (a member Graph will not take); anything else
        // (429, 5xx, no answer, 401/403) is not about a member, and a write that may have
        // landed is not repeated.
        AddMembersError::Graph(e) if e.status == Some(400) => None,
        AddMembersError::Graph(e) => Some(e),
    }
}

/// The group's own 404, when the group is what is missing.
async fn group_gone(graph: &GraphClient, group_id: &str) -> Option<GraphError> {
    match graph.groups(group_id).get().await {
        Err(e) if e.is_not_found() => Some(e),
        _ => None,
    }
}

fn fail_all(results: &mut [Option<AddResult>], e: &GraphError) {
    for r in results.iter_mut().filter(|r| r.is_none()) {
        *r = Some(Err(GroupAddError::Graph(e.clone())));
    }
}

fn finish(results: Vec<Option<AddResult>>, writes: u64) -> Settled {
    Settled {
        results: results
            .into_iter()
            .map(|r| r.unwrap_or(Err(GroupAddError::Lost)))
            .collect(),
        writes,
    }
}

impl From<&GroupAddError> for crate::failure::Cause {
    fn from(e: &GroupAddError) -> Self {
        use crate::failure::Cause;
        match e {
            GroupAddError::Graph(e) => Cause::from(e),
            GroupAddError::NotYetVisible => Cause::NotYetVisible,
            // As a write that got no answer: it may have landed; the next attempt re-reads.
            GroupAddError::Lost => Cause::Graph {
                kind: autoenroll_graph::GraphErrorKind::Transport,
                status: None,
                code: None,
                throttled: false,
            },
        }
    }
}
