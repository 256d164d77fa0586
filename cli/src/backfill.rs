//! `plan` and `apply`: every user of the tenant (or only directory-role members), streamed
//! page by page from `GET /users`, through the enroll function's own [`Enroller`] —
//! `plan_user` for the dry run, `enroll_user` for the real thing. There is no second copy of
//! the enrollment logic here: this module only walks users, bounds concurrency, shows
//! progress, stops cleanly on Ctrl-C and collects report rows.
//!
//! Pacing: every Graph call goes through the client's pacer, which keeps this process under
//! the tenant's write quota (3,000 per 150 s) and resource-unit budget; `--concurrency` only
//! bounds how many users are in progress at once.
//!
//! Group mode: the users in progress share the enroller's group batcher, so their MFA group
//! adds go to Graph up to 20 per write (autoenroll_core::group_batch); the run's write count
//! counts those shared writes, not one per user.
//!
//! Resuming: a rerun re-reads and re-plans every user; users already done plan to nothing and
//! cost reads only (idempotence through `plan`, not through a checkpoint file that could lie).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use autoenroll_core::delivery::{Contacts, choose_recipient};
use autoenroll_core::engine::{Enroller, PlannedUser, Settle, UserReport, UserResult};
use autoenroll_core::failure::{Cause, Disposition};
use autoenroll_core::outcome::Outcome;
use autoenroll_core::phone;
use autoenroll_core::plan::{Action, Plan, UserView};
use autoenroll_core::policy::{BootstrapEffect, Policy};
use autoenroll_core::ports::{AuditSink, MemoryStore, Trigger};
use autoenroll_graph::model::User;
use autoenroll_graph::{GraphError, UserQuery};
use futures::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::report::{Decision, UserRow};

/// Dry run or the real thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Plan,
    Apply,
}

#[derive(Debug, Clone)]
pub struct BackfillOptions {
    pub mode: Mode,
    /// Only members of directory roles (administrators).
    pub only_admins: bool,
    /// Users in progress at once.
    pub concurrency: usize,
    /// Draw a progress bar on stderr (only drawn when stderr is a terminal).
    pub progress: bool,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct BackfillRun {
    pub rows: Vec<UserRow>,
    /// Stopped by Ctrl-C before every user was handled.
    pub interrupted: bool,
    /// Stopped because Graph refused us (401/403): the message says why.
    pub aborted: Option<String>,
    /// Graph writes carried out: completed actions, with group adds counted per batched write.
    pub writes: u64,
    pub elapsed: Duration,
}

/// Set by Ctrl-C (or a fatal error): no new user is started; users in progress finish.
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// First Ctrl-C: stop after the users in progress. Second: exit at once (status 130).
    pub fn on_ctrl_c(&self) {
        let flag = self.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nStopping after the users in progress (Ctrl-C again to quit at once)…");
                flag.stop();
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
    }
}

/// Page size for `GET /users` (Graph's maximum is 999).
const PAGE_SIZE: u32 = 999;
/// Attempts per user for failures a fresh read may fix (the user changed under us).
const USER_ATTEMPTS: u32 = 3;

/// Runs `plan` or `apply` over the tenant.
pub async fn run<M: MemoryStore, A: AuditSink>(
    enroller: &Enroller<M, A>,
    options: &BackfillOptions,
    stop: &StopFlag,
) -> anyhow::Result<BackfillRun> {
    let started = Instant::now();
    let group_writes_before = enroller.group_writes();
    let bar = progress_bar(options);
    let writes = AtomicU64::new(0);
    let abort = FatalSlot::default();
    let mut rows = Vec::new();
    let worker = Worker {
        enroller,
        mode: options.mode,
        writes: &writes,
        bar: &bar,
        started,
        stop,
        abort: &abort,
    };

    if options.only_admins {
        let ids = directory_role_members(enroller).await?;
        bar.inc_length(ids.len() as u64);
        rows.extend(worker.handle_all(ids, options.concurrency).await);
    } else {
        let query = UserQuery::select(&["id", "userPrincipalName"]).with_top(PAGE_SIZE);
        let pages = enroller.graph().users().list_pages(&query);
        futures::pin_mut!(pages);
        while !stop.is_stopped() {
            let Some(page) = pages.try_next().await? else {
                break;
            };
            let ids: Vec<String> = page.value.into_iter().map(|u: User| u.id).collect();
            bar.inc_length(ids.len() as u64);
            rows.extend(worker.handle_all(ids, options.concurrency).await);
        }
    }
    bar.finish_and_clear();
    rows.sort_by(|a, b| {
        a.user_principal_name
            .to_lowercase()
            .cmp(&b.user_principal_name.to_lowercase())
    });
    let aborted = abort.take();
    Ok(BackfillRun {
        interrupted: stop.is_stopped() && aborted.is_none(),
        aborted,
        rows,
        writes: writes.load(Ordering::SeqCst) + enroller.group_writes() - group_writes_before,
        elapsed: started.elapsed(),
    })
}

/// The first fatal error of a run (std mutex: never held across an await).
#[derive(Debug, Default)]
struct FatalSlot(std::sync::Mutex<Option<String>>);

impl FatalSlot {
    fn set_once(&self, message: String) {
        if let Ok(mut slot) = self.0.lock() {
            slot.get_or_insert(message);
        }
    }

    fn take(&self) -> Option<String> {
        self.0.lock().ok().and_then(|mut s| s.take())
    }
}

struct Worker<'a, M, A> {
    enroller: &'a Enroller<M, A>,
    mode: Mode,
    writes: &'a AtomicU64,
    bar: &'a ProgressBar,
    started: Instant,
    stop: &'a StopFlag,
    abort: &'a FatalSlot,
}

impl<M: MemoryStore, A: AuditSink> Worker<'_, M, A> {
    async fn handle_all(&self, ids: Vec<String>, concurrency: usize) -> Vec<UserRow> {
        futures::stream::iter(ids)
            .map(|id| self.handle(id))
            .buffer_unordered(concurrency.max(1))
            .filter_map(|row| async move { row })
            .collect()
            .await
    }

    async fn handle(&self, user_id: String) -> Option<UserRow> {
        if self.stop.is_stopped() {
            return None;
        }
        let row = match self.mode {
            Mode::Plan => self.plan(&user_id).await,
            Mode::Apply => self.apply(&user_id).await,
        };
        self.bar.inc(1);
        if self.mode == Mode::Apply {
            let writes = self.writes.load(Ordering::SeqCst) + self.enroller.group_writes();
            let secs = self.started.elapsed().as_secs_f64().max(0.001);
            self.bar
                .set_message(format!("{writes} writes, {:.1}/s", writes as f64 / secs));
        }
        Some(row)
    }

    async fn plan(&self, user_id: &str) -> UserRow {
        match self.enroller.plan_user(user_id).await {
            Ok(PlannedUser::Skip {
                reason,
                user_principal_name,
            }) => UserRow {
                user_principal_name: user_principal_name.unwrap_or_default(),
                user_id: user_id.to_owned(),
                masked_number: String::new(),
                decision: Decision::Skipped,
                actions: vec![],
                reasons: vec![reason.code()],
                error: None,
            },
            Ok(PlannedUser::Planned { view, plan }) => {
                let (decision, actions) = match &plan {
                    Plan::Skip(_) => (Decision::Skipped, vec![]),
                    Plan::Enroll { actions, .. } if actions.is_empty() => {
                        (Decision::AlreadyEnrolled, vec![])
                    }
                    Plan::Enroll { actions, .. } => (
                        Decision::WouldEnroll,
                        actions.iter().map(|a| a.label()).collect(),
                    ),
                };
                UserRow {
                    user_principal_name: view.user.user_principal_name.clone().unwrap_or_default(),
                    user_id: view.user.id.clone(),
                    masked_number: masked_pass_recipient(&view, &plan, self.enroller.policy())
                        .unwrap_or_else(|| masked_mobile(&view.user, self.enroller.policy())),
                    decision,
                    actions,
                    reasons: plan.reasons().iter().map(|r| r.code()).collect(),
                    error: None,
                }
            }
            Err(e) => {
                let cause = e.cause();
                self.stop_if_systemic(&cause);
                failed_row(user_id, None, cause.to_string())
            }
        }
    }

    async fn apply(&self, user_id: &str) -> UserRow {
        let mut attempt = 1;
        loop {
            let report = self.enroller.enroll_user(user_id, &Trigger::Backfill).await;
            let row = self.row_of(&report);
            if let UserResult::Finished(
                Outcome::Done { actions: done, .. }
                | Outcome::Failed {
                    completed: done, ..
                },
            ) = &report.result
            {
                self.writes.fetch_add(own_writes(done), Ordering::SeqCst);
            }
            if report.disposition() == Some(Disposition::Systemic) {
                self.fatal(row.error.as_deref().unwrap_or_default());
            }
            let retry = report.settle() == Settle::Retry
                && attempt < USER_ATTEMPTS
                && !self.stop.is_stopped();
            if !retry {
                return row;
            }
            tokio::time::sleep(Duration::from_millis(500) * attempt).await;
            attempt += 1;
        }
    }

    fn row_of(&self, report: &UserReport) -> UserRow {
        let upn = report.user_principal_name.clone();
        let masked = report
            .plan
            .as_ref()
            .and_then(|p| p.actions().iter().find_map(|a| a.number()))
            .map(|n| n.masked())
            .unwrap_or_default();
        let labels = |actions: &[autoenroll_core::plan::Action]| {
            actions.iter().map(|a| a.label()).collect::<Vec<_>>()
        };
        let codes = |notes: &[autoenroll_core::plan::SkipReason]| {
            notes.iter().map(|n| n.code()).collect::<Vec<_>>()
        };
        let error = report.error_text();
        let (decision, actions, reasons) = match &report.result {
            UserResult::Finished(Outcome::Done { actions, notes }) if actions.is_empty() => {
                (Decision::AlreadyEnrolled, vec![], codes(notes))
            }
            UserResult::Finished(Outcome::Done { actions, notes }) => {
                (Decision::Enrolled, labels(actions), codes(notes))
            }
            UserResult::Finished(Outcome::Skipped(reason)) => {
                (Decision::Skipped, vec![], vec![reason.code()])
            }
            UserResult::Finished(Outcome::Failed {
                completed, notes, ..
            }) => (Decision::Failed, labels(completed), codes(notes)),
            UserResult::ReadFailed(_) => (Decision::Failed, vec![], vec![]),
        };
        UserRow {
            user_principal_name: upn.unwrap_or_default(),
            user_id: report.user_id.clone(),
            masked_number: masked,
            decision,
            actions,
            reasons,
            error,
        }
    }

    fn stop_if_systemic(&self, cause: &Cause) {
        if cause.disposition() == Disposition::Systemic {
            self.fatal(&cause.to_string());
        }
    }

    /// A systemic failure (credential, permissions, configuration, the store refusing us)
    /// would fail every other user the same way: no point going on.
    fn fatal(&self, error: &str) {
        self.abort.set_once(format!(
            "stopped: a failure that is not about one user ({error}); check the app's \
             credential and permissions with `autoenroll doctor`"
        ));
        self.stop.stop();
    }
}

/// Writes of this user's own; a group add shares a batched write, counted by the enroller
/// ([`Enroller::group_writes`]).
fn own_writes(actions: &[autoenroll_core::plan::Action]) -> u64 {
    actions
        .iter()
        .filter(|a| !matches!(a, autoenroll_core::plan::Action::AddToGroup { .. }))
        .count() as u64
}

fn failed_row(user_id: &str, upn: Option<String>, error: String) -> UserRow {
    UserRow {
        user_principal_name: upn.unwrap_or_default(),
        user_id: user_id.to_owned(),
        masked_number: String::new(),
        decision: Decision::Failed,
        actions: vec![],
        reasons: vec![],
        error: Some(error),
    }
}

/// The user's mobile number as the report shows it: normalised then masked, or the raw value
/// masked (all but its last two digits) when it cannot be read.
pub fn masked_mobile(user: &User, policy: &Policy) -> String {
    let raw = user.mobile_phone.as_deref().unwrap_or_default().trim();
    if raw.is_empty() {
        return String::new();
    }
    match phone::normalize(raw, policy.default_region) {
        Ok(n) => n.masked(),
        Err(_) => phone::mask(raw),
    }
}

/// For a plan that issues a Temporary Access Pass: its recipient (the manager's e-mail or the
/// directory mobile), chosen as apply will choose it, masked.
fn masked_pass_recipient(view: &UserView, plan: &Plan, policy: &Policy) -> Option<String> {
    if !plan
        .actions()
        .iter()
        .any(|a| matches!(a, Action::IssueTap { .. }))
    {
        return None;
    }
    let BootstrapEffect::On { delivery, .. } = policy.bootstrap_effect() else {
        return None;
    };
    let contacts = Contacts {
        manager_mail: view
            .bootstrap
            .as_ref()?
            .manager_mail
            .as_ref()
            .map(Option::as_deref),
        mobile_phone: view.user.mobile_phone.as_deref(),
        default_region: policy.default_region,
    };
    choose_recipient(delivery, &contacts)
        .ok()
        .map(|r| r.masked())
}

/// Object ids of the users holding any activated directory role.
async fn directory_role_members<M: MemoryStore, A: AuditSink>(
    enroller: &Enroller<M, A>,
) -> Result<Vec<String>, GraphError> {
    let roles = enroller.graph().directory_roles().list().await?;
    let mut ids = BTreeSet::new();
    for role in roles {
        for member in enroller.graph().directory_roles().members(&role.id).await? {
            let is_user = member
                .odata_type
                .as_deref()
                .is_none_or(|t| t.eq_ignore_ascii_case("#microsoft.graph.user"));
            if is_user {
                ids.insert(member.id);
            }
        }
    }
    Ok(ids.into_iter().collect())
}

fn progress_bar(options: &BackfillOptions) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    if !options.progress {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let template = match options.mode {
        Mode::Plan => {
            "{spinner} planning [{elapsed_precise}] {wide_bar} {pos}/{len} users  ETA {eta}"
        }
        Mode::Apply => {
            "{spinner} applying [{elapsed_precise}] {wide_bar} {pos}/{len} users  {msg}  ETA {eta}"
        }
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
