//! The scenario `autoenroll local` plays on the running stack through the simulator's control
//! API — directory changes as AD sync and HR provisioning make them: the backfill of everyone
//! already there, new hires arriving, mobile numbers changing, and one change whose
//! notification Graph drops (only the reconcile sweep can find that user).

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use autoenroll_core::ports::{AuditOutcome, AuditRecord};
use graph_sim::Control;
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::demo::{self, DemoRng};
use super::stack::LocalStack;

/// What the scenario did to one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum EventKind {
    NewHire,
    NumberChange,
    /// A new hire whose change notification Graph dropped.
    DroppedNotification,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScenarioEvent {
    pub kind: EventKind,
    pub user_id: String,
    pub user_principal_name: String,
    /// When the directory changed (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// How big the scenario is.
#[derive(Debug, Clone)]
pub struct ScenarioOptions {
    pub new_hires: usize,
    pub number_changes: usize,
    /// Longest wait for the pipeline to settle after each step.
    pub settle_timeout: Duration,
}

impl ScenarioOptions {
    /// About one new hire per 20 users and one number change per 50 (at least a few of each).
    pub fn for_tenant(users: usize) -> Self {
        Self {
            new_hires: (users / 20).clamp(3, 50),
            number_changes: (users / 50).clamp(2, 20),
            settle_timeout: Duration::from_secs(30),
        }
    }
}

/// Live progress: one line per step on stderr, with the time since start.
pub trait Progress {
    fn step(&self, message: &str);
}

/// Whether a record is for `user_id`, after `at`, and did what the event needed.
pub fn protects(event: &ScenarioEvent, record: &AuditRecord) -> bool {
    if record.user_id != event.user_id || record.outcome != AuditOutcome::Done {
        return false;
    }
    let after = OffsetDateTime::parse(&record.at, &Rfc3339).is_ok_and(|at| at >= event.at);
    after
        && match event.kind {
            EventKind::NumberChange => record.actions.iter().any(|a| a == "updateManagedMobile"),
            EventKind::NewHire | EventKind::DroppedNotification => {
                record.actions.iter().any(|a| a == "addMobile")
            }
        }
}

fn control(stack: &LocalStack) -> anyhow::Result<Control> {
    stack.control().context("the local stack has no simulator")
}

/// Waits until `done()` holds, polling; false after `timeout`.
pub(crate) async fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    done()
}

/// Backfill: the first reconcile round has walked every user and every one has an outcome.
pub async fn backfill(
    stack: &LocalStack,
    timeout: Duration,
    progress: &dyn Progress,
) -> anyhow::Result<usize> {
    let control = control(stack)?;
    let dump = control.dump();
    let total = user_ids(&dump).len();
    // Accounts excluded by UPN are never even queued (the reconcile function drops them).
    let users: std::collections::BTreeSet<String> = user_ids(&dump)
        .into_iter()
        .filter(|id| {
            let upn = dump["users"][id.as_str()]["properties"]["userPrincipalName"].as_str();
            stack.policy.exclusion(upn, &[]).is_none()
        })
        .collect();
    progress.step(&format!(
        "backfill: the reconcile sweep walks all {total} users (/users/delta, first round)"
    ));
    let settled = wait_until(timeout, || {
        let seen: std::collections::BTreeSet<String> = stack
            .audit
            .records()
            .into_iter()
            .map(|r| r.user_id)
            .collect();
        stack.reconcile_rounds() >= 1 && stack.queue_idle() && users.is_subset(&seen)
    })
    .await;
    if !settled {
        bail!("the backfill did not finish within {} s", timeout.as_secs());
    }
    let excluded = total - users.len();
    progress.step(&format!(
        "backfill: all {total} users handled ({} outcomes; {excluded} excluded by UPN, never queued)",
        stack.audit.records().len()
    ));
    Ok(total)
}

/// Ids of the users in a simulator dump.
pub fn user_ids(dump: &serde_json::Value) -> std::collections::BTreeSet<String> {
    dump["users"]
        .as_object()
        .map(|users| users.keys().cloned().collect())
        .unwrap_or_default()
}

/// New hires, number changes, one dropped notification; waits until each is protected.
pub async fn play(
    stack: &LocalStack,
    options: &ScenarioOptions,
    progress: &dyn Progress,
) -> anyhow::Result<Vec<ScenarioEvent>> {
    let control = control(stack)?;
    let mut rng = DemoRng::new(0x5CE7_A210);
    let mut events = Vec::new();

    progress.step(&format!(
        "scenario: {} new hires arrive from HR provisioning",
        options.new_hires
    ));
    for i in 0..options.new_hires {
        events.push(hire(&control, &mut rng, i, EventKind::NewHire)?);
    }

    // Numbers change for users whose phone autoenroll registered (so it may update it).
    let mut managed: Vec<String> = stack.memory.snapshot().into_keys().collect();
    managed.sort();
    let step = (managed.len() / options.number_changes.max(1)).max(1);
    let changing: Vec<String> = managed
        .into_iter()
        .step_by(step)
        .take(options.number_changes)
        .collect();
    progress.step(&format!(
        "scenario: {} users get a new mobile number in AD",
        changing.len()
    ));
    for id in changing {
        let (number, _) = demo::mobile_number(&mut rng);
        let at = OffsetDateTime::now_utc();
        control
            .update_user(&id, serde_json::json!({ "mobilePhone": number }))
            .map_err(|e| anyhow::anyhow!("changing a number in the simulator: {e}"))?;
        let upn = control
            .user(&id)
            .and_then(|u| {
                u["properties"]["userPrincipalName"]
                    .as_str()
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        events.push(ScenarioEvent {
            kind: EventKind::NumberChange,
            user_id: id,
            user_principal_name: upn,
            at,
        });
    }
    wait_protected(stack, &events, options.settle_timeout).await;

    progress.step("scenario: Graph drops the notification of one more new hire");
    let normal = control.notification_options();
    let dropped_before = control.notification_counters().dropped;
    control
        .set_notification_options(graph_sim::NotificationOptions {
            drop_rate: 1.0,
            ..normal.clone()
        })
        .map_err(|e| anyhow::anyhow!("setting notification options: {e}"))?;
    let dropped = hire(
        &control,
        &mut rng,
        options.new_hires,
        EventKind::DroppedNotification,
    );
    // The simulator decides on delivery when it takes the change from its log (every 50 ms).
    let seen = wait_until(Duration::from_secs(5), || {
        control.notification_counters().dropped > dropped_before
    })
    .await;
    control
        .set_notification_options(normal)
        .map_err(|e| anyhow::anyhow!("restoring notification options: {e}"))?;
    let dropped = dropped?;
    if !seen {
        bail!("the simulator did not drop the notification");
    }
    progress.step("scenario: waiting for the reconcile sweep to find that user");
    events.push(dropped);
    wait_protected(stack, &events, options.settle_timeout).await;
    Ok(events)
}

pub(super) fn hire(
    control: &Control,
    rng: &mut DemoRng,
    index: usize,
    kind: EventKind,
) -> anyhow::Result<ScenarioEvent> {
    let user = demo::new_hire(rng, index);
    let upn = user["userPrincipalName"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let at = OffsetDateTime::now_utc();
    let id = control
        .create_user(user)
        .map_err(|e| anyhow::anyhow!("creating a new hire in the simulator: {e}"))?;
    Ok(ScenarioEvent {
        kind,
        user_id: id,
        user_principal_name: upn,
        at,
    })
}

/// Waits until every event has a protecting outcome and the queue is empty.
async fn wait_protected(stack: &LocalStack, events: &[ScenarioEvent], timeout: Duration) -> bool {
    wait_until(timeout, || {
        let records = stack.audit.records();
        stack.queue_idle()
            && events
                .iter()
                .all(|e| records.iter().any(|r| protects(e, r)))
    })
    .await
}

/// After the scenario: one more full reconcile round and an empty queue, so the state the
/// summary reads is the final one.
pub async fn quiesce(stack: &LocalStack, timeout: Duration) -> bool {
    let round = stack.reconcile_rounds();
    wait_until(timeout, || {
        stack.reconcile_rounds() > round && stack.queue_idle()
    })
    .await
}
