//! The end of `autoenroll local`: the figures an administrator asks for, computed from the
//! outcomes (the audit trail the enroll function wrote) — and then checked, user by user,
//! against the simulator's own final state. If the two tell different stories, the run fails.

use std::collections::{BTreeMap, HashMap};

use autoenroll_core::failure::Disposition;
use autoenroll_core::phone;
use autoenroll_core::policy::{MfaMode, Policy};
use autoenroll_core::ports::{AuditOutcome, AuditRecord, Trigger};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::scenario::{EventKind, ScenarioEvent, protects};

pub mod era;
mod render;

pub use era::EraSummary;
pub use render::render;

/// How many scenario events of a kind ended protected, and by which trigger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScenarioCount {
    pub total: usize,
    pub protected: usize,
    pub by_notification: usize,
    pub by_reconcile: usize,
}

/// Nearest-rank percentiles of time to protection, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Percentiles {
    pub samples: usize,
    pub p50_ms: u64,
    pub p99_ms: u64,
    pub max_ms: u64,
}

impl Percentiles {
    pub fn of(mut values: Vec<u64>) -> Self {
        values.sort_unstable();
        let rank = |p: f64| -> u64 {
            if values.is_empty() {
                return 0;
            }
            let index = ((p * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1;
            values[index]
        };
        Self {
            samples: values.len(),
            p50_ms: rank(0.50),
            p99_ms: rank(0.99),
            max_ms: values.last().copied().unwrap_or(0),
        }
    }
}

/// The simulator's view, compared with the outcomes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CrossCheck {
    pub agrees: bool,
    pub users_checked: usize,
    /// Users the simulator shows protected by autoenroll (their methods or MFA changed).
    pub protected_in_simulator: usize,
    /// Successful Graph writes the simulator counted.
    pub simulator_writes: u64,
    /// Writes the outcomes account for (actions + the subscription).
    pub outcome_writes: u64,
    pub mismatches: Vec<String>,
}

/// Everything `autoenroll local` reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalSummary {
    pub tenant: String,
    pub users: usize,
    /// Phone registered and/or MFA switched on by autoenroll.
    pub enrolled: usize,
    /// Already had everything the policy asks for.
    pub already_protected: usize,
    pub skipped: usize,
    pub skipped_by_reason: BTreeMap<String, usize>,
    /// Users whose own phone differs from AD's number (left alone, reported).
    pub conflicts: usize,
    pub failed: usize,
    /// Failed users by what happens next (the last outcome of each).
    pub failed_by_disposition: BTreeMap<Disposition, usize>,
    pub dead_letters: usize,
    pub new_hires: ScenarioCount,
    pub number_changes: ScenarioCount,
    pub dropped_notifications: ScenarioCount,
    /// Writes per action kind, from the outcomes.
    pub writes_by_action: BTreeMap<String, u64>,
    pub graph_writes: u64,
    pub time_to_protection: Percentiles,
    pub notifications_delivered: u64,
    pub notifications_dropped: u64,
    pub wall_time_ms: u64,
    pub cross_check: CrossCheck,
    /// `--date`: the phone era and the passkey era, each with its own figures.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub eras: Vec<EraSummary>,
}

impl LocalSummary {
    /// Whether the run did what it promises: every scenario user protected, nothing failed,
    /// and the simulator agrees with the outcomes.
    pub fn ok(&self) -> bool {
        self.cross_check.agrees
            && self.failed == 0
            && self.dead_letters == 0
            && self.new_hires.protected == self.new_hires.total
            && self.number_changes.protected == self.number_changes.total
            && self.dropped_notifications.protected == self.dropped_notifications.total
            && self
                .eras
                .iter()
                .all(|e| e.relying_on_undeliverable_phone == 0)
    }
}

/// Inputs of [`compute`].
pub struct Inputs<'a> {
    pub tenant: String,
    pub policy: &'a Policy,
    pub initial: &'a Value,
    pub final_dump: &'a Value,
    pub records: &'a [AuditRecord],
    pub events: &'a [ScenarioEvent],
    pub simulator_writes: u64,
    /// Writes the subscriptions function made (create, renew, delete).
    pub subscription_writes: u64,
    pub notifications_delivered: u64,
    pub notifications_dropped: u64,
    pub dead_letters: usize,
    pub wall_time_ms: u64,
}

pub fn compute(inputs: &Inputs<'_>) -> LocalSummary {
    let mut by_user: HashMap<&str, Vec<&AuditRecord>> = HashMap::new();
    for r in inputs.records {
        by_user.entry(r.user_id.as_str()).or_default().push(r);
    }
    let mut s = LocalSummary {
        tenant: inputs.tenant.clone(),
        notifications_delivered: inputs.notifications_delivered,
        notifications_dropped: inputs.notifications_dropped,
        dead_letters: inputs.dead_letters,
        wall_time_ms: inputs.wall_time_ms,
        ..LocalSummary::default()
    };
    let users = inputs.final_dump["users"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    s.users = users.len();
    for r in inputs.records {
        if matches!(r.outcome, AuditOutcome::Done | AuditOutcome::Failed(_)) {
            for a in &r.actions {
                let kind = a.split(':').next().unwrap_or(a).to_owned();
                *s.writes_by_action.entry(kind).or_default() += 1;
            }
        }
    }
    let mut check = CrossCheck {
        simulator_writes: inputs.simulator_writes,
        outcome_writes: s.writes_by_action.values().sum::<u64>() + inputs.subscription_writes,
        ..CrossCheck::default()
    };
    for (id, user) in &users {
        check.users_checked += 1;
        let upn = user["properties"]["userPrincipalName"]
            .as_str()
            .unwrap_or(id);
        let before = &inputs.initial["users"][id.as_str()]["authentication"];
        let after = &user["authentication"];
        let Some(records) = by_user.get(id.as_str()) else {
            if inputs.policy.exclusion(Some(upn), &[]).is_some() {
                // Excluded by UPN: the reconcile sweep never queues such an account.
                s.skipped += 1;
                *s.skipped_by_reason
                    .entry("excluded:upn".into())
                    .or_default() += 1;
                if before != after {
                    check.mismatches.push(format!(
                        "{upn}: excluded, yet its methods or MFA state changed in the simulator"
                    ));
                }
            } else {
                check
                    .mismatches
                    .push(format!("{upn}: in the tenant but no outcome was recorded"));
            }
            continue;
        };
        let last = records[records.len() - 1];
        let acted = records
            .iter()
            .any(|r| r.outcome == AuditOutcome::Done && !r.actions.is_empty());
        match last.outcome {
            AuditOutcome::Done if acted => s.enrolled += 1,
            AuditOutcome::Done => s.already_protected += 1,
            AuditOutcome::Skipped => {
                s.skipped += 1;
                let reason = last.reasons.first().cloned().unwrap_or_default();
                *s.skipped_by_reason.entry(reason).or_default() += 1;
            }
            AuditOutcome::Failed(disposition) => {
                s.failed += 1;
                *s.failed_by_disposition.entry(disposition).or_default() += 1;
            }
        }
        if last
            .reasons
            .iter()
            .any(|r| r == "selfRegisteredPhoneDiffers")
        {
            s.conflicts += 1;
        }
        let changed = before.is_null() && has_any_method_or_mfa(after)
            || !before.is_null() && before != after;
        if changed {
            check.protected_in_simulator += 1;
        }
        match last.outcome {
            AuditOutcome::Done => {
                if !protected(inputs.policy, inputs.final_dump, id, after) {
                    check.mismatches.push(format!(
                        "{upn}: outcome says protected, the simulator shows no usable method or MFA off"
                    ));
                }
                if acted != changed {
                    check.mismatches.push(format!(
                        "{upn}: outcome says {}, the simulator says {}",
                        if acted {
                            "changed by autoenroll"
                        } else {
                            "left as it was"
                        },
                        if changed { "changed" } else { "unchanged" }
                    ));
                }
                let last_phone = records.iter().rev().find_map(|r| {
                    r.actions
                        .iter()
                        .any(|a| a == "addMobile" || a == "updateManagedMobile")
                        .then(|| r.masked_number.clone())
                        .flatten()
                });
                if let Some(masked) = last_phone {
                    let shown = after["phones"]["mobile"]["phoneNumber"]
                        .as_str()
                        .map(phone::mask)
                        .unwrap_or_default();
                    if shown != masked {
                        check.mismatches.push(format!(
                            "{upn}: outcome registered {masked}, the simulator holds {shown}"
                        ));
                    }
                }
            }
            AuditOutcome::Skipped if changed && !acted => check.mismatches.push(format!(
                "{upn}: skipped, yet its methods or MFA state changed in the simulator"
            )),
            _ => {}
        }
    }
    let enrolled_total = s.enrolled;
    if check.protected_in_simulator != enrolled_total {
        check.mismatches.push(format!(
            "{enrolled_total} users enrolled by the outcomes, {} changed in the simulator",
            check.protected_in_simulator
        ));
    }
    if check.simulator_writes != check.outcome_writes {
        check.mismatches.push(format!(
            "the simulator counted {} writes, the outcomes account for {}",
            check.simulator_writes, check.outcome_writes
        ));
    }
    s.graph_writes = inputs.simulator_writes;

    let mut ttp = Vec::new();
    for event in inputs.events {
        let count = match event.kind {
            EventKind::NewHire => &mut s.new_hires,
            EventKind::NumberChange => &mut s.number_changes,
            EventKind::DroppedNotification => &mut s.dropped_notifications,
        };
        count.total += 1;
        let first = inputs.records.iter().find(|r| protects(event, r));
        if let Some(record) = first {
            count.protected += 1;
            match record.trigger {
                Some(Trigger::Notification { .. }) => count.by_notification += 1,
                Some(Trigger::Reconcile) => count.by_reconcile += 1,
                _ => {}
            }
            if let Ok(at) = OffsetDateTime::parse(&record.at, &Rfc3339) {
                let ms = (at - event.at).whole_milliseconds().max(0);
                ttp.push(u64::try_from(ms).unwrap_or(u64::MAX));
            }
        }
    }
    s.time_to_protection = Percentiles::of(ttp);
    check.agrees = check.mismatches.is_empty();
    s.cross_check = check;
    s
}

fn has_any_method_or_mfa(auth: &Value) -> bool {
    auth["phones"].as_object().is_some_and(|p| !p.is_empty())
        || auth["perUserMfaState"]
            .as_str()
            .is_some_and(|m| m != "disabled")
}

/// Whether the simulator shows the user able to do MFA and required to (as the policy means it).
fn protected(policy: &Policy, dump: &Value, id: &str, auth: &Value) -> bool {
    let has_method = auth["phones"].as_object().is_some_and(|p| !p.is_empty())
        || auth["other"].as_array().is_some_and(|o| !o.is_empty());
    // With no MFA mode, nothing is required, so a method alone protects.
    let mfa_on = mfa_required(policy, dump, id, auth).unwrap_or(true);
    has_method && mfa_on
}

/// Whether the simulator shows MFA required of the user as the policy's mode means it
/// (per-user state raised, or member of the Conditional Access group); `None` without a mode.
fn mfa_required(policy: &Policy, dump: &Value, id: &str, auth: &Value) -> Option<bool> {
    match &policy.mfa_mode {
        MfaMode::PerUserEnabled | MfaMode::PerUserEnforced => Some(
            auth["perUserMfaState"]
                .as_str()
                .is_some_and(|m| m == "enabled" || m == "enforced"),
        ),
        MfaMode::Group(group) => Some(
            dump["groups"][group.as_str()]["members"]
                .as_array()
                .is_some_and(|m| m.iter().any(|x| x.as_str() == Some(id))),
        ),
        MfaMode::None => None,
    }
}

#[cfg(test)]
mod tests;
