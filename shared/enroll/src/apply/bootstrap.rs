//! Issuing a Temporary Access Pass and handing it over (issue 15, item 3).
//!
//! Order, and why:
//! 1. `POST …/temporaryAccessPassMethods` — the pass exists only in this response.
//! 2. The open bootstrap is written **ahead** of the delivery (`delivered: false`), a
//!    compare-and-swap on the pass it replaces: two instances cannot both hand out a pass for
//!    one user, and a worker lost mid-delivery leaves a record the follow-up finds. If the store
//!    refuses, the pass is deleted before anyone has seen it.
//! 3. One delivery through the [`PassDelivery`] port. Success: the record is marked delivered.
//!    Failure — refused, transient, or with an unknown outcome — deletes the pass in Graph (no
//!    orphan pass; one that may have been sent is then worthless) and fails the step with
//!    [`Cause::Delivery`]: a retry plans afresh and issues a new pass. A pass is never sent
//!    twice, nor through a second channel.
//!
//! The pass value lives in the Graph response and the outgoing message only: it is moved into
//! the [`PassNotice`] (a redacting `Secret`) and dropped with it; nothing here logs, stores or
//! formats it.

use autoenroll_graph::GraphClient;
use autoenroll_graph::model::TemporaryAccessPassRequest;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::StepError;
use crate::bootstrap::{BootstrapStore, CloseReason, OpenBootstrap};
use crate::delivery::{Channel, Contacts, PassDelivery, PassNotice, choose_recipient};
use crate::failure::Cause;
use crate::plan::{UserView, has_lasting_method};
use crate::policy::{BootstrapEffect, Policy};

/// What issuing a pass needs besides Graph.
#[derive(Clone, Copy)]
pub struct BootstrapPorts<'a> {
    pub delivery: &'a dyn PassDelivery,
    pub store: &'a dyn BootstrapStore,
}

/// What an issued and delivered pass left behind (for the caller's metrics and the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedPass {
    pub tap_method_id: String,
    pub channel: Channel,
    /// A pass replaced an earlier one of the same bootstrap.
    pub reissue: bool,
}

/// The fields of [`crate::plan::Action::IssueTap`].
pub(super) struct TapRequest<'a> {
    pub channel: Channel,
    pub starts_at: Option<&'a str>,
    pub lifetime_minutes: u32,
    pub usable_once: bool,
}

/// Performs [`crate::plan::Action::IssueTap`].
pub(super) async fn issue_tap(
    graph: &GraphClient,
    ports: Option<BootstrapPorts<'_>>,
    policy: &Policy,
    view: &UserView,
    tap: TapRequest<'_>,
) -> Result<IssuedPass, StepError> {
    let TapRequest {
        channel,
        starts_at,
        lifetime_minutes,
        usable_once,
    } = tap;
    let user_id = view.user.id.as_str();
    // A plan with a pass reaches apply only when bootstrap is on; without its ports the
    // deployment is wired wrongly — every such user would fail the same way.
    let Some(ports) = ports else {
        return Err(StepError::Failed(Cause::Config));
    };
    let (BootstrapEffect::On { delivery, .. }, Some(bootstrap)) =
        (policy.bootstrap_effect(), view.bootstrap.as_ref())
    else {
        return Err(StepError::Failed(Cause::Config));
    };
    let contacts = Contacts {
        manager_mail: bootstrap.manager_mail.as_ref().map(|m| m.as_deref()),
        mobile_phone: view.user.mobile_phone.as_deref(),
        default_region: policy.default_region,
    };
    let recipient = match choose_recipient(delivery, &contacts) {
        Ok(r) if r.channel() == channel => r,
        _ => {
            return Err(StepError::Changed(
                "the pass recipient is not the planned one",
            ));
        }
    };
    let request = TemporaryAccessPassRequest {
        start_date_time: starts_at.map(str::to_owned),
        lifetime_in_minutes: Some(lifetime_minutes),
        is_usable_once: Some(usable_once),
    };
    let taps = graph.tap(user_id);
    let created = match taps.create(&request).await {
        Ok(created) => created,
        Err(e) => {
            // After a timeout or a 5xx the pass may exist with nobody knowing its value; left
            // alive it would look "pending" to the next plan and block the user.
            if !e.status.is_some_and(|s| (400..500).contains(&s)) {
                withdraw_unseen(graph, view).await;
            }
            return Err(e.into());
        }
    };
    let (Some(tap_id), Some(pass)) = (created.id.clone(), created.temporary_access_pass) else {
        // A 201 without id or pass: nothing we could hand over or clean up by id.
        tracing::error!(user_id, "TAP created without an id or a pass in the answer");
        return Err(StepError::Failed(Cause::Changed(
            "Graph created a pass without returning it",
        )));
    };
    let valid_from = created
        .start_date_time
        .as_deref()
        .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
        .or_else(|| starts_at.and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok()))
        .unwrap_or(view.now);
    let lifetime = created.lifetime_in_minutes.unwrap_or(lifetime_minutes);
    let previous = view.open_bootstrap.as_ref();
    let record = OpenBootstrap {
        tenant_id: view.tenant_id.clone(),
        user_id: user_id.to_owned(),
        tap_method_id: tap_id.clone(),
        issued_at: view.now,
        valid_from,
        valid_until: valid_from + Duration::minutes(i64::from(lifetime)),
        // A pass that was never handed over does not count as an issue of its own.
        issue_count: previous.map_or(1, |p| p.issue_count + u32::from(p.delivered)),
        channel,
        delivered: false,
    };
    let replaces = previous.map(|p| p.tap_method_id.as_str());
    if let Err(e) = ports.store.put(&record, replaces).await {
        tracing::warn!(user_id, error = %e, "open bootstrap not recorded: pass withdrawn");
        withdraw(graph, user_id, &tap_id).await;
        return Err(StepError::Failed(Cause::from(&e)));
    }
    let notice = PassNotice {
        display_name: view.user.display_name.clone(),
        user_principal_name: view
            .user
            .user_principal_name
            .clone()
            .unwrap_or_else(|| user_id.to_owned()),
        starts_at: valid_from,
        lifetime_minutes: lifetime,
        usable_once: created.is_usable_once.unwrap_or(usable_once),
        pass,
    };
    let sent = ports.delivery.deliver(&recipient, &notice).await;
    drop(notice);
    match sent {
        Ok(receipt) => {
            tracing::info!(
                user_id,
                tap_method_id = %tap_id,
                channel = %receipt.channel,
                recipient = %receipt.recipient,
                message_id = %receipt.message_id,
                "temporary access pass delivered"
            );
            let delivered = OpenBootstrap {
                delivered: true,
                ..record
            };
            if let Err(e) = ports.store.put(&delivered, Some(&tap_id)).await {
                // The pass is with its recipient; the record still says "not delivered" and
                // the follow-up re-checks it. Not a failure of this user: retrying would
                // replace a pass someone already holds.
                tracing::error!(user_id, error = %e, "pass delivered but the bootstrap record not updated");
            }
            Ok(IssuedPass {
                tap_method_id: tap_id,
                channel,
                reissue: previous.is_some(),
            })
        }
        Err(e) => {
            tracing::warn!(
                user_id,
                tap_method_id = %tap_id,
                channel = %e.channel(),
                code = e.code(),
                outcome_unknown = e.outcome_unknown(),
                "pass delivery failed: pass withdrawn"
            );
            withdraw(graph, user_id, &tap_id).await;
            Err(StepError::Failed(Cause::from(&e)))
        }
    }
}

/// Deletes a pass nobody may use. Already gone counts as done; another failure is logged —
/// the record (`delivered: false`) makes the next attempt replace it.
async fn withdraw(graph: &GraphClient, user_id: &str, tap_id: &str) {
    match graph.tap(user_id).delete(tap_id).await {
        Ok(()) => {}
        Err(e) if e.is_not_found() => {}
        Err(e) => {
            tracing::error!(user_id, tap_method_id = %tap_id, error = %e, "undelivered pass not deleted")
        }
    }
}

/// Deletes every pass of the user that the read did not list: after a create whose answer was
/// lost, that is the one this attempt made (Graph keeps one pass per user).
async fn withdraw_unseen(graph: &GraphClient, view: &UserView) {
    let user_id = view.user.id.as_str();
    let listed = match graph.tap(user_id).list().await {
        Ok(listed) => listed,
        Err(e) => {
            tracing::warn!(user_id, error = %e, "passes not listed after a failed create");
            return;
        }
    };
    for id in listed.into_iter().filter_map(|t| t.id) {
        if !view.methods.iter().any(|m| m.id == id) {
            withdraw(graph, user_id, &id).await;
        }
    }
}

/// A user whose open bootstrap is over: a lasting method exists now. Closed in the store
/// (failures logged; the follow-up tries again).
pub(super) async fn settle_bootstrap(ports: Option<BootstrapPorts<'_>>, view: &UserView) {
    let (Some(ports), Some(open)) = (ports, view.open_bootstrap.as_ref()) else {
        return;
    };
    if !has_lasting_method(&view.methods) {
        return;
    }
    match ports
        .store
        .close(
            &open.tenant_id,
            &open.user_id,
            CloseReason::LastingMethod,
            view.now,
        )
        .await
    {
        Ok(()) => {
            tracing::info!(user_id = %open.user_id, "bootstrap closed: lasting method registered")
        }
        Err(e) => {
            tracing::warn!(user_id = %open.user_id, error = %e, "bootstrap not closed")
        }
    }
}
