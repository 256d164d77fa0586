//! `autoenroll local --date 2027-03-01`: the simulated person and the second era.
//!
//! With bootstrap on, whoever has no usable method gets a Temporary Access Pass through the
//! outbox (the SES/SNS twin). [`redeem`] plays the people receiving them: each signs in with
//! the pass and registers a passkey (graph-sim's `sign_in_with_tap`), after which the
//! reconcile schedule's follow-up closes the bootstrap. [`play`] moves the simulator's clock to
//! the date — after 2027-02-01 and with no telecom provider, SMS and voice no longer reach
//! anyone — and hires new people: their phones are no longer a usable method, so each gets a
//! pass instead. One of them lets the pass expire; the follow-up re-issues it, and that one is
//! redeemed too.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{Context, bail};
use graph_sim::{Control, PasskeyFlavour, Registration};

use super::demo::DemoRng;
use super::scenario::{EventKind, Progress, ScenarioEvent, hire, wait_until};
use super::stack::LocalStack;

/// How long the follow-up waits between two checks of one bootstrap (its de-duplication
/// slot): the clock is moved on by this much for the next check to come.
const FOLLOW_UP_SLOT: time::Duration = time::Duration::minutes(10);

/// What the people did with the passes they received (per era).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassUse {
    /// Passes signed in with (a passkey was registered).
    pub redeemed: usize,
    /// Passes held back until they expired.
    pub expired: usize,
    /// Message ids of the outbox handled so far (redeemed or held back).
    pub handled: BTreeSet<String>,
}

fn control(stack: &LocalStack) -> anyhow::Result<Control> {
    stack.control().context("the local stack has no simulator")
}

/// Every pass in the outbox not handled yet is redeemed by its user — except those of
/// `hold_back` (UPNs), who keep theirs unused. Returns the passes redeemed now.
pub fn redeem(
    stack: &LocalStack,
    uses: &mut PassUse,
    hold_back: &BTreeSet<String>,
) -> anyhow::Result<usize> {
    let control = control(stack)?;
    let mut redeemed = 0;
    for sent in stack.outbox.sent() {
        if uses.handled.contains(&sent.message_id)
            || hold_back.contains(&sent.user_principal_name.to_ascii_lowercase())
        {
            continue;
        }
        uses.handled.insert(sent.message_id.clone());
        // A pass replaced before its holder got to it (a delivery retried) no longer works.
        match control.sign_in_with_tap(
            &sent.user_principal_name,
            sent.pass().expose(),
            Registration::Passkey {
                passkey: PasskeyFlavour::Authenticator,
            },
        ) {
            Ok(_) => redeemed += 1,
            Err(e) => tracing::info!(
                user = %sent.user_principal_name,
                reason = e.reason(),
                "a pass from the outbox did not sign in"
            ),
        }
    }
    uses.redeemed += redeemed;
    Ok(redeemed)
}

/// Moves the clock to the follow-up's next slot and waits until no bootstrap is open but
/// those of `still_open` (user ids).
pub async fn follow_up_closes(
    stack: &LocalStack,
    still_open: &BTreeSet<String>,
    timeout: Duration,
) -> anyhow::Result<bool> {
    control(stack)?.advance_clock(FOLLOW_UP_SLOT.unsigned_abs());
    Ok(wait_until(timeout, || {
        stack.queue_idle()
            && stack
                .bootstraps
                .open()
                .iter()
                .all(|b| still_open.contains(&b.user_id))
    })
    .await)
}

/// The second era: the clock moves to `date` (09:00 UTC), `new_hires` people arrive; all but
/// the first redeem their pass; the first lets it expire, gets a new one and redeems that.
pub async fn play(
    stack: &LocalStack,
    date: time::Date,
    new_hires: usize,
    uses: &mut PassUse,
    progress: &dyn Progress,
) -> anyhow::Result<Vec<ScenarioEvent>> {
    let control = control(stack)?;
    let target = date
        .with_hms(9, 0, 0)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .assume_utc();
    if target <= control.now() {
        bail!("--date {date} is not after the simulator's today");
    }
    control.advance_clock_to(target);
    progress.step(&format!(
        "passkey era: the clock moves to {date}; Microsoft no longer delivers SMS or voice \
         (retired 2027-02-01) and the tenant has no telecom provider"
    ));
    // The subscription made at start expired on the way; the schedule makes a new one.
    let renewed = stack.run_subscription_schedule().await?;
    if renewed.created {
        progress.step("passkey era: the expired /users subscription was created again");
    }

    progress.step(&format!(
        "passkey era: {new_hires} new hires arrive; their phones no longer count, each gets a \
         Temporary Access Pass"
    ));
    let mut rng = DemoRng::new(0x9A55_C0DE);
    let mut events = Vec::new();
    for i in 0..new_hires.max(1) {
        events.push(hire(&control, &mut rng, 1_000 + i, EventKind::NewHire)?);
    }
    let delivered = wait_until(Duration::from_secs(30), || {
        stack.queue_idle()
            && events
                .iter()
                .all(|e| !stack.outbox.sent_to_user(&e.user_principal_name).is_empty())
    })
    .await;
    if !delivered {
        progress.step("passkey era: warning: not every new hire's pass was delivered in time");
    }
    for line in stack.outbox.listing().iter().rev().take(3).rev() {
        progress.step(&format!("outbox: {line}"));
    }

    // The first hire keeps the pass unused; everyone else registers a passkey with theirs.
    let late = &events[0];
    let hold: BTreeSet<String> = [late.user_principal_name.to_ascii_lowercase()].into();
    let now_redeemed = redeem(stack, uses, &hold)?;
    progress.step(&format!(
        "passkey era: {now_redeemed} people sign in with their pass and register a passkey"
    ));
    let open_late: BTreeSet<String> = [late.user_id.clone()].into();
    if !follow_up_closes(stack, &open_late, Duration::from_secs(30)).await? {
        progress.step("passkey era: warning: the follow-up did not close every bootstrap");
    }
    progress.step("passkey era: the follow-up found the passkeys and closed those bootstraps");

    // The late one's pass runs out; the follow-up replaces it.
    let first = stack.outbox.sent_to_user(&late.user_principal_name).len();
    let ends = stack
        .bootstraps
        .open()
        .into_iter()
        .find(|b| b.user_id == late.user_id)
        .map(|b| b.valid_until);
    if let Some(ends) = ends {
        control.advance_clock_to(ends + time::Duration::minutes(1));
        progress.step(&format!(
            "passkey era: {}'s pass expires unused",
            late.user_principal_name
        ));
        let reissued = wait_until(Duration::from_secs(30), || {
            stack.queue_idle() && stack.outbox.sent_to_user(&late.user_principal_name).len() > first
        })
        .await;
        uses.expired += 1;
        if reissued {
            progress.step("passkey era: the follow-up issued a new pass; this time it is used");
            redeem(stack, uses, &BTreeSet::new())?;
        } else {
            progress.step("passkey era: warning: no new pass was issued");
        }
        if !follow_up_closes(stack, &BTreeSet::new(), Duration::from_secs(30)).await? {
            progress.step("passkey era: warning: a bootstrap is still open");
        }
    }
    Ok(events)
}
