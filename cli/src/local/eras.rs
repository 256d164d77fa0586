//! `--date`: the two eras of one run and their figures. The phone era is the scenario already
//! played (its passes, for users without a usable number, are redeemed and followed up now);
//! the passkey era is [`passkey_era::play`] on the simulator's clock at `--date`.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::Context;

use super::passkey_era::{self, PassUse};
use super::scenario::{self, EventKind, Progress, ScenarioEvent};
use super::stack::LocalStack;
use super::summary::era::{EraInputs, EraSummary, era, tap_users};

pub(super) async fn play(
    stack: &LocalStack,
    progress: &dyn Progress,
    date: time::Date,
    phone_era_events: &[ScenarioEvent],
    new_hires: usize,
) -> anyhow::Result<Vec<EraSummary>> {
    let control = stack
        .control()
        .context("the local stack has no simulator")?;
    let none = BTreeSet::new();
    let mut uses = PassUse::default();
    let redeemed = passkey_era::redeem(stack, &mut uses, &none)?;
    if redeemed > 0 {
        progress.step(&format!(
            "phone era: {redeemed} people without a usable number sign in with the pass their \
             manager received and register a passkey"
        ));
        if !passkey_era::follow_up_closes(stack, &none, Duration::from_secs(30)).await? {
            progress.step("phone era: warning: the follow-up did not close every bootstrap");
        }
    }
    // Hires only: a number change is not an arrival.
    let hires: Vec<_> = phone_era_events
        .iter()
        .filter(|e| e.kind != EventKind::NumberChange)
        .cloned()
        .collect();
    let phone_records = stack.audit.records();
    let phone_delivered = stack.outbox.sent().len();
    let phone = era(&EraInputs {
        era: "phone era",
        policy: &stack.policy,
        records: &phone_records,
        dump: &control.dump(),
        events: &hires,
        delivered: phone_delivered,
        redeemed: uses.redeemed,
        expired: uses.expired,
        earlier_tap_users: &none,
    });

    let before = uses.clone();
    let events = passkey_era::play(stack, date, new_hires, &mut uses, progress).await?;
    if !scenario::quiesce(stack, Duration::from_secs(20)).await {
        progress.step("passkey era: warning: the pipeline did not settle");
    }
    let records = stack.audit.records();
    let passkey = era(&EraInputs {
        era: "passkey era",
        policy: &stack.policy,
        records: records.get(phone_records.len()..).unwrap_or_default(),
        dump: &control.dump(),
        events: &events,
        delivered: stack.outbox.sent().len() - phone_delivered,
        redeemed: uses.redeemed - before.redeemed,
        expired: uses.expired - before.expired,
        earlier_tap_users: &tap_users(&phone_records),
    });
    Ok(vec![phone, passkey])
}
