//! Per-era figures of `autoenroll local --date`: the phone era (the run's own date) and the
//! passkey era (the simulator's clock on `--date`, after the SMS/voice retirement).

use std::collections::{BTreeSet, HashSet};

use autoenroll_core::policy::Policy;
use autoenroll_core::ports::{AuditOutcome, AuditRecord};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Percentiles;
use crate::local::scenario::ScenarioEvent;

/// What happened in one era.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EraSummary {
    /// `phone era` / `passkey era`.
    pub era: String,
    /// The simulator's date at the end of the era (YYYY-MM-DD).
    pub date: String,
    pub new_hires: usize,
    /// Phones autoenroll registered.
    pub phones_registered: usize,
    /// Temporary Access Passes created and handed over.
    pub taps_issued: usize,
    /// Messages the outbox took (one per issued pass).
    pub taps_delivered: usize,
    /// Passes a person signed in with (then registered a passkey).
    pub taps_redeemed: usize,
    /// Passes that replaced an earlier one of the same user.
    pub taps_reissued: usize,
    /// Passes left unused until they expired.
    pub taps_expired: usize,
    /// Users autoenroll required MFA from (or gave a phone) whose only way to complete it at
    /// the end of the era is a phone Entra no longer delivers to. Must be 0.
    pub relying_on_undeliverable_phone: usize,
    /// New hire → protected (phone registered, or pass delivered), from the outcomes.
    pub time_to_protection: Percentiles,
}

/// What [`era`] reads.
pub struct EraInputs<'a> {
    pub era: &'a str,
    pub policy: &'a Policy,
    /// The outcomes written during the era.
    pub records: &'a [AuditRecord],
    /// The simulator at the end of the era.
    pub dump: &'a Value,
    pub events: &'a [ScenarioEvent],
    /// Outbox messages of the era.
    pub delivered: usize,
    pub redeemed: usize,
    pub expired: usize,
    /// Users who were issued a pass in an earlier era.
    pub earlier_tap_users: &'a BTreeSet<String>,
}

/// The users an era's outcomes issued a pass to.
pub fn tap_users(records: &[AuditRecord]) -> BTreeSet<String> {
    done_actions(records)
        .filter(|(_, a)| is_tap(a))
        .map(|(r, _)| r.user_id.clone())
        .collect()
}

fn done_actions(records: &[AuditRecord]) -> impl Iterator<Item = (&AuditRecord, &String)> {
    records
        .iter()
        .filter(|r| r.outcome == AuditOutcome::Done)
        .flat_map(|r| r.actions.iter().map(move |a| (r, a)))
}

fn is_tap(action: &str) -> bool {
    action.starts_with("issueTap")
}

pub fn era(inputs: &EraInputs<'_>) -> EraSummary {
    let mut s = EraSummary {
        era: inputs.era.to_owned(),
        date: inputs.dump["now"]
            .as_str()
            .map(|n| n.chars().take(10).collect())
            .unwrap_or_default(),
        new_hires: inputs.events.len(),
        taps_delivered: inputs.delivered,
        taps_redeemed: inputs.redeemed,
        taps_expired: inputs.expired,
        ..EraSummary::default()
    };
    let mut tap_users = HashSet::new();
    let mut raised = BTreeSet::new();
    for (record, action) in done_actions(inputs.records) {
        if action == "addMobile" {
            s.phones_registered += 1;
        }
        if is_tap(action) {
            s.taps_issued += 1;
            // A second pass for a user — in this era or after one in an earlier era.
            let again = !tap_users.insert(record.user_id.as_str())
                || inputs.earlier_tap_users.contains(&record.user_id);
            if again {
                s.taps_reissued += 1;
            }
        }
        if action == "addMobile" || action.starts_with("setPerUserMfa") || action == "addToGroup" {
            raised.insert(record.user_id.as_str());
        }
    }
    s.relying_on_undeliverable_phone = raised
        .into_iter()
        .filter(|id| relies_on_undeliverable_phone(inputs.policy, inputs.dump, id))
        .count();
    let mut ttp = Vec::new();
    for event in inputs.events {
        let first = done_actions(inputs.records)
            .find(|(r, a)| r.user_id == event.user_id && (a.as_str() == "addMobile" || is_tap(a)));
        if let Some((record, _)) = first
            && let Ok(at) = OffsetDateTime::parse(&record.at, &Rfc3339)
        {
            let ms = (at - event.at).whole_milliseconds().max(0);
            ttp.push(u64::try_from(ms).unwrap_or(u64::MAX));
        }
    }
    s.time_to_protection = Percentiles::of(ttp);
    s
}

/// MFA required (as the policy means it), no lasting method, no live pass, and the phones it
/// has are delivered by neither SMS nor voice on the dump's date.
fn relies_on_undeliverable_phone(policy: &Policy, dump: &Value, id: &str) -> bool {
    let auth = &dump["users"][id]["authentication"];
    let required = super::mfa_required(policy, dump, id, auth).unwrap_or(false);
    let lasting = auth["other"].as_array().is_some_and(|o| !o.is_empty());
    let phones = auth["phones"].as_object().is_some_and(|p| !p.is_empty());
    let telephony = &dump["telephony"][id];
    let delivered =
        telephony["sms"]["delivered"] == true || telephony["voice"]["delivered"] == true;
    required && !lasting && !live_tap(dump, auth) && phones && !delivered
}

fn live_tap(dump: &Value, auth: &Value) -> bool {
    let tap = &auth["tap"];
    let now = dump["now"]
        .as_str()
        .and_then(|n| OffsetDateTime::parse(n, &Rfc3339).ok());
    let start = tap["start"]
        .as_str()
        .and_then(|n| OffsetDateTime::parse(n, &Rfc3339).ok());
    let minutes = tap["lifetimeInMinutes"].as_i64();
    match (now, start, minutes) {
        (Some(now), Some(start), Some(minutes)) => {
            tap["usedAt"].is_null() && now < start + time::Duration::minutes(minutes)
        }
        _ => false,
    }
}
