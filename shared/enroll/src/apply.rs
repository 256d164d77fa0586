//! Performing a plan: the only place that writes to Graph.
//!
//! - Order: phone, then preference, then MFA — `plan` emits them so, and we stop at the first
//!   failure, so MFA is never switched on unless the phone it relies on is in place.
//! - "Already exists" means check, not fail: the method is re-read; the same number there is
//!   success (someone — another instance, an admin — did it; we do not claim it in memory), a
//!   different one is a conflict the next attempt re-plans from fresh state.
//! - Before updating a phone we registered, it is re-read: if the user changed it since the
//!   plan was made, it is theirs now and stays untouched.
//! - Memory is written ahead of every phone write (write-ahead): the record names the phone
//!   we are about to write as `pending`, then the write, then the record is confirmed — or the
//!   pending entry released when Graph certainly did not take the write. If the write lands
//!   and its answer and the worker are both lost, the next attempt still recognises the phone
//!   as ours (and confirms it). Every memory write is a conditional put on the version seen.
//!   The confirmation starts as soon as the phone write has landed and runs beside the Graph
//!   writes after it (its round trip overlaps theirs; until it is stored the pending entry
//!   already counts the phone as ours); what is left of it is awaited alongside the audit
//!   record, or before the next phone write if the plan has another.
//! - One audit record per call, whatever the outcome: what was done in Graph. A confirmation
//!   that fails turns the outcome into a retryable failure (logged); the next attempt confirms
//!   the pending phone it finds in place.
//!
//! Failures are typed ([`Cause`]); their text is status + Graph error code, never Graph's
//! message, which may echo the number.

use autoenroll_graph::model::{PerUserMfaState, PhoneType};
use autoenroll_graph::{GraphClient, GraphError, GraphErrorKind};
use time::OffsetDateTime;

use crate::audit;
use crate::early::beside;
use crate::failure::{Cause, Failure};
use crate::group_batch::{GroupAddError, GroupBatcher, Participant};
use crate::outcome::Outcome;
use crate::phone::{self, GraphNumber};
use crate::plan::{Action, Plan, UserView};
use crate::policy::Policy;
use crate::ports::{AuditSink, ManagedPhone, MemoryStore, StoreError, Trigger};

mod bootstrap;
mod give_up;
mod memory;
pub use bootstrap::{BootstrapPorts, IssuedPass};
use memory::{Confirming, intend, release, settle_pending};

/// Perform `plan` for the user in `view`, record the memory and one audit record, and say how it
/// went. `policy` is checked once more for exclusion: a break-glass account is never written
/// to, whatever plan a caller passes.
pub async fn apply(
    graph: &GraphClient,
    policy: &Policy,
    view: &UserView,
    plan: &Plan,
    memory: &dyn MemoryStore,
    audit_sink: &dyn AuditSink,
    trigger: Option<&Trigger>,
) -> Outcome {
    let writer = Writer {
        graph,
        group: None,
        bootstrap: None,
        helpdesk: None,
    };
    apply_with(writer, policy, view, plan, memory, audit_sink, trigger).await
}

/// Where apply's writes go: Graph, and the group batch a group add joins (none: the add is a
/// write of its own).
pub(crate) struct Writer<'a> {
    pub graph: &'a GraphClient,
    pub group: Option<(GroupBatcher, Participant)>,
    /// Delivery port and bootstrap store (`None`: bootstrap off).
    pub bootstrap: Option<BootstrapPorts<'a>>,
    /// Told when a bootstrap's passes all expired (`None`: nobody).
    pub helpdesk: Option<&'a dyn crate::bootstrap::HelpdeskNotifier>,
}

/// [`apply`] with its group add in `writer`'s batch.
pub(crate) async fn apply_with(
    mut writer: Writer<'_>,
    policy: &Policy,
    view: &UserView,
    plan: &Plan,
    memory: &dyn MemoryStore,
    audit_sink: &dyn AuditSink,
    trigger: Option<&Trigger>,
) -> Outcome {
    // Our memory record as it stands; every memory write moves it on a version.
    let mut managed = view.managed.clone();
    let (outcome, confirming) =
        perform(&mut writer, policy, view, plan, memory, &mut managed).await;
    // Out of the group batch before the audit record: the batch need not wait for it.
    drop(writer);
    let record = audit::record(
        &view.user.id,
        view.user.user_principal_name.as_deref(),
        trigger,
        &outcome,
        OffsetDateTime::now_utc(),
    );
    let confirm = async {
        match confirming {
            Some(confirming) => confirming.finish(&mut managed).await,
            None => Ok(()),
        }
    };
    let (confirmed, stored) = tokio::join!(confirm, audit_sink.record(record.clone()));
    let outcome = match confirmed {
        Ok(()) => outcome,
        Err(e) => {
            // The pending entry stays: the next attempt still knows the phone as ours.
            tracing::error!(user_id = %view.user.id, error = %e, "phone written but memory not confirmed");
            unconfirmed(outcome, &e)
        }
    };
    if let Err(e) = stored {
        // The outcome stands (Graph has changed); the record goes to the log instead — it holds
        // no number in clear, so it is safe there.
        tracing::error!(
            error = %e,
            user_id = %record.user_id,
            outcome = %record.outcome,
            actions = ?record.actions,
            reasons = ?record.reasons,
            "audit record could not be stored"
        );
    }
    outcome
}

/// Performs the plan's actions in order; returns the outcome and the confirmation of its last
/// phone write, if still in flight (the caller finishes it alongside the audit record).
async fn perform<'a>(
    writer: &mut Writer<'_>,
    policy: &Policy,
    view: &'a UserView,
    plan: &Plan,
    memory: &'a dyn MemoryStore,
    managed: &mut Option<ManagedPhone>,
) -> (Outcome, Option<Confirming<'a>>) {
    if let Some(reason) = crate::plan::excluded(
        policy,
        view.user.user_principal_name.as_deref(),
        &view.group_membership,
    ) {
        return (Outcome::Skipped(reason), None);
    }
    let (actions, notes) = match plan {
        Plan::Enroll { actions, notes } => (actions, notes),
        Plan::Skip(reason) => {
            if *reason == crate::plan::SkipReason::BootstrapExpired {
                give_up::bootstrap_expired(
                    writer.bootstrap.map(|p| p.store),
                    writer.helpdesk,
                    view,
                )
                .await;
            }
            return (Outcome::Skipped(reason.clone()), None);
        }
    };
    // Also when there is nothing left to write: the pending phone of an attempt whose
    // confirmation was lost after its last write is confirmed here.
    settle_pending(memory, view, managed).await;
    bootstrap::settle_bootstrap(writer.bootstrap, view).await;
    if let Some(outcome) = Outcome::of_empty_plan(plan) {
        return (outcome, None);
    }
    let user_id = view.user.id.as_str();
    let mut confirming: Option<Confirming<'a>> = None;
    let mut completed = Vec::with_capacity(actions.len());
    for action in actions {
        let fail = |cause: Cause, failed: Option<Action>, completed| Outcome::Failed {
            failure: Failure::new(cause),
            completed,
            failed,
            notes: notes.clone(),
        };
        let phone_write = action.number().map(|n| (phone_type_of(action), n));
        if phone_write.is_some()
            && let Some(earlier) = confirming.take()
            && let Err(e) = earlier.finish(managed).await
        {
            // An earlier phone of this plan is not confirmed: its pending entry stays (the
            // next attempt confirms it); this write is not started over it.
            tracing::error!(user_id, error = %e, "phone written but memory not confirmed");
            return (fail(Cause::from(&e), None, completed), None);
        }
        if let Some((phone_type, number)) = phone_write
            && let Err(e) = intend(memory, view, managed, phone_type, number).await
        {
            tracing::warn!(user_id, error = %e, "phone write not started: memory not stored");
            return (fail(Cause::from(&e), Some(action.clone()), completed), None);
        }
        let step = beside(
            perform_action(writer, policy, view, action),
            confirming.as_mut().map(Confirming::early),
        )
        .await;
        match step {
            Ok(Written::Ours(phone_type, number)) => {
                completed.push(action.clone());
                confirming = Some(Confirming::start(memory, view, managed, phone_type, number));
            }
            Ok(Written::NotOurs) => {
                completed.push(action.clone());
                // Someone else put this phone there before us: not ours to claim.
                release(memory, view, managed).await;
            }
            Ok(Written::Done) => completed.push(action.clone()),
            Err(StepError::Graph(e)) => {
                let cause = Cause::from(&e);
                tracing::warn!(
                    user_id,
                    action = %action.label(),
                    error = %cause,
                    disposition = cause.disposition().as_str(),
                    "Graph write failed"
                );
                // Deferred (never sent) or a 4xx answer: Graph did not take the write; after a
                // timeout or a 5xx it
                // may have, so the pending entry stays for the next attempt to settle.
                let not_sent = e.kind == GraphErrorKind::Deferred
                    || e.status.is_some_and(|s| (400..500).contains(&s));
                if phone_write.is_some() && not_sent {
                    release(memory, view, managed).await;
                }
                return (fail(cause, Some(action.clone()), completed), confirming);
            }
            Err(StepError::Failed(cause)) => {
                tracing::warn!(user_id, action = %action.label(), error = %cause, "Graph write failed");
                return (fail(cause, Some(action.clone()), completed), confirming);
            }
            Err(StepError::Changed(why)) => {
                // The user changed under us (nothing written): a fresh read and plan will do
                // the right thing.
                tracing::info!(user_id, action = %action.label(), why, "state changed since the plan");
                if phone_write.is_some() {
                    release(memory, view, managed).await;
                }
                return (
                    fail(Cause::Changed(why), Some(action.clone()), completed),
                    confirming,
                );
            }
        }
    }
    (
        Outcome::Done {
            actions: completed,
            notes: notes.clone(),
        },
        confirming,
    )
}

/// The outcome once the confirmation of a phone write it made has failed: a failure with the
/// Graph writes it did (the store error joins an earlier failure; the graver decides).
fn unconfirmed(outcome: Outcome, e: &StoreError) -> Outcome {
    match outcome {
        Outcome::Done { actions, notes } => Outcome::Failed {
            failure: Failure::new(Cause::from(e)),
            completed: actions,
            failed: None,
            notes,
        },
        Outcome::Failed {
            failure,
            completed,
            failed,
            notes,
        } => Outcome::Failed {
            failure: failure.and_then(Cause::from(e)),
            completed,
            failed,
            notes,
        },
        skipped @ Outcome::Skipped(_) => skipped,
    }
}

fn phone_type_of(action: &Action) -> PhoneType {
    match action {
        Action::AddOffice { .. } => PhoneType::Office,
        _ => PhoneType::Mobile,
    }
}

/// What a successful step did.
enum Written {
    /// We registered this phone: remember it.
    Ours(PhoneType, GraphNumber),
    /// The phone was already there with this number, put there by someone else.
    NotOurs,
    /// A non-phone write.
    Done,
}

enum StepError {
    Graph(GraphError),
    /// A failure that is not one Graph answer (a batched group add's).
    Failed(Cause),
    /// The user's phones are no longer what the plan saw.
    Changed(&'static str),
}

impl From<GraphError> for StepError {
    fn from(e: GraphError) -> Self {
        StepError::Graph(e)
    }
}

async fn perform_action(
    writer: &mut Writer<'_>,
    policy: &Policy,
    view: &UserView,
    action: &Action,
) -> Result<Written, StepError> {
    let graph = writer.graph;
    let user_id = view.user.id.as_str();
    match action {
        Action::IssueTap {
            channel,
            starts_at,
            lifetime_minutes,
            usable_once,
        } => {
            let tap = bootstrap::TapRequest {
                channel: *channel,
                starts_at: starts_at.as_deref(),
                lifetime_minutes: *lifetime_minutes,
                usable_once: *usable_once,
            };
            bootstrap::issue_tap(graph, writer.bootstrap, policy, view, tap).await?;
            Ok(Written::Done)
        }
        Action::AddMobile { number } => add_phone(graph, user_id, PhoneType::Mobile, number).await,
        Action::AddOffice { number } => add_phone(graph, user_id, PhoneType::Office, number).await,
        Action::UpdateManagedMobile { number } => {
            let phones = graph.phone_methods(user_id);
            let current = phones
                .get(PhoneType::Mobile)
                .await?
                .ok_or(StepError::Changed("the mobile phone was removed"))?;
            let still_ours = phone::canonical(&current.phone_number).is_some_and(|n| {
                view.managed.as_ref().is_some_and(|m| {
                    m.claims(PhoneType::Mobile, &phone::fingerprint(&view.tenant_id, &n))
                })
            });
            if !still_ours {
                return Err(StepError::Changed(
                    "the mobile phone no longer holds our number",
                ));
            }
            match phones.update(PhoneType::Mobile, number.expose()).await {
                Ok(()) => Ok(Written::Ours(PhoneType::Mobile, number.clone())),
                Err(e) if e.is_not_found() => {
                    Err(StepError::Changed("the mobile phone was removed"))
                }
                Err(e) => Err(e.into()),
            }
        }
        // Both are read again if the write has to wait: what the plan saw may have been changed
        // meanwhile (an administrator enforcing MFA, the user choosing a method), and the
        // write would undo that. A fresh read and plan then decide.
        Action::SetSmsPreferred => {
            let seen = view
                .sign_in_preferences
                .as_ref()
                .and_then(|p| p.user_preferred_method_for_secondary_authentication.clone());
            let sent = graph
                .sign_in_preferences(user_id)
                .set_sms_default_unless_changed(|now| now == seen.as_deref())
                .await?;
            if !sent {
                return Err(StepError::Changed(
                    "the preferred method changed while the write waited",
                ));
            }
            Ok(Written::Done)
        }
        Action::SetPerUserMfa { state } => {
            let seen = view.mfa_state.unwrap_or(PerUserMfaState::Disabled);
            let sent = graph
                .mfa_requirements(user_id)
                .set_unless_changed(*state, |now| now == seen)
                .await?;
            if !sent {
                return Err(StepError::Changed(
                    "the per-user MFA state changed while the write waited",
                ));
            }
            Ok(Written::Done)
        }
        Action::AddToGroup { group_id } => {
            // Added or already a member: both mean the user is in the group now.
            let Some((batcher, participant)) = writer.group.take() else {
                graph.groups(group_id).add_member(user_id).await?;
                return Ok(Written::Done);
            };
            match batcher.add(participant, graph, group_id, user_id).await {
                Ok(how) => {
                    tracing::debug!(user_id, group_id, ?how, "added to the MFA group");
                    Ok(Written::Done)
                }
                Err(GroupAddError::Graph(e)) => Err(StepError::Graph(e)),
                Err(e @ (GroupAddError::NotYetVisible | GroupAddError::Lost)) => {
                    Err(StepError::Failed(Cause::from(&e)))
                }
            }
        }
    }
}

async fn add_phone(
    graph: &GraphClient,
    user_id: &str,
    phone_type: PhoneType,
    number: &GraphNumber,
) -> Result<Written, StepError> {
    let phones = graph.phone_methods(user_id);
    match phones.add(number.expose(), phone_type).await {
        Ok(_) => Ok(Written::Ours(phone_type, number.clone())),
        Err(e) if e.is_already_exists() => match phones.get(phone_type).await? {
            Some(existing) if phone::same_number(&existing.phone_number, number.expose()) => {
                Ok(Written::NotOurs)
            }
            Some(_) => Err(StepError::Changed(
                "a phone of this type with another number appeared",
            )),
            None => Err(StepError::Graph(e)),
        },
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests;
