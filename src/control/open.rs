//! control::open: opening a release. Takes the lock (or follows the holder), restores
//! the state, journals who took control (and a predecessor that vanished without a
//! word), and starts the adapters' tasks.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

use super::follow::{Published, run_follow};
use super::message::{Adapter, Message};
use super::tasks::{self, flags::run_flags, inbox::run_inbox, metrics::run_metrics};
use super::writer::{Job, Wish, spawn_writer};
use super::{Controller, FollowerView, RECENT, actions};
use crate::clock::Clock;
use crate::engine::journal::Entry;
use crate::engine::{Engine, FlagEvent, Input};
use crate::flags::FlagBackend;
use crate::metrics::MetricsSource;
use crate::plan::Plan;
use crate::store::{Acquired, Holder, ReleaseStore};

#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Adapter(String),
    #[error(
        "{dir} holds the state of release `{found}`, not `{wanted}`\n  hint: give this plan its own --state-dir, or move {dir} away"
    )]
    OtherRelease {
        dir: String,
        found: String,
        wanted: String,
    },
    #[error(
        "{plan}: the rollout's steps changed since release `{release}` saved its state in {dir}\n{}\n  hint: put the steps back, or resume with --accept-plan-change to pause on the step the live flag ({}) falls on",
        .change.lines().join("\n"),
        .change.live.map_or("never read".to_string(), |p| format!("{p}%"))
    )]
    PlanChanged {
        plan: String,
        release: String,
        dir: String,
        change: Box<crate::engine::ladder::LadderChange>,
    },
}

/// The mode of a cron run (`run --once`).
pub const ONCE: &str = "once";

#[derive(Debug, Clone)]
pub struct Options {
    pub operator: String,
    pub clock: Clock,
    pub state_dir: Option<PathBuf>,
    /// `screen` or `headless`, shown to followers.
    pub mode: &'static str,
    /// The demo ticks its own checklist and approves its own steps.
    pub(crate) autopilot: bool,
    /// The demo slows its clock around what a person should watch ([`super::pace`]).
    pub(crate) paced: bool,
    /// Poll the flag backend for outside changes this often.
    pub(crate) flag_poll: Duration,
    /// The flight recorder's file: every engine input and decision, for `shipdeck replay`.
    /// Only the holder records.
    pub record: Option<PathBuf>,
    /// The plan as the user named it, for the commands shipdeck suggests.
    pub plan_path: Option<PathBuf>,
    /// Opening to take over from a holder that is gone: journaled as a takeover.
    pub takeover: Option<Takeover>,
    /// Follow without trying to hold the release: this process just lost it, and must
    /// not take it back by itself.
    pub(crate) follow_only: bool,
    /// Take a plan whose steps changed under the release: pause on the step the live
    /// percent falls on, and journal it (`--accept-plan-change`).
    pub accept_plan_change: bool,
}

/// Why this controller takes the release over, for the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Takeover {
    pub from: Holder,
    pub why: String,
}

impl Options {
    pub fn new(operator: String, clock: Clock, mode: &'static str) -> Self {
        Options {
            operator,
            clock,
            state_dir: None,
            mode,
            autopilot: false,
            paced: false,
            flag_poll: Duration::from_secs(1),
            record: None,
            plan_path: None,
            takeover: None,
            follow_only: false,
            accept_plan_change: false,
        }
    }
}

/// A controller and the channel its adapters report on.
pub struct Session {
    pub controller: Controller,
    pub messages: mpsc::Receiver<Message>,
}

/// Opens a release: takes the lock (or follows the holder), restores the state, and
/// starts the adapters.
pub async fn open(
    plan: Arc<Plan>,
    opts: Options,
    store: Arc<dyn ReleaseStore>,
) -> Result<Session, ControllerError> {
    let (tx, messages) = mpsc::channel(256);
    let here = Holder::here(&opts.operator, opts.mode);
    let acquired = if opts.follow_only {
        Acquired::HeldBy(store.holder()?.unwrap_or_else(Holder::unknown))
    } else {
        store.acquire(&here)?
    };
    let (lease, holder) = match acquired {
        Acquired::Controller(lease) => (Some(lease), None),
        Acquired::HeldBy(h) => (None, Some(h)),
    };
    let progress = store.load()?;
    if let Some(p) = progress.as_ref().filter(|p| p.release != plan.release.name) {
        return Err(ControllerError::OtherRelease {
            dir: store.describe(),
            found: p.release.clone(),
            wanted: plan.release.name.clone(),
        });
    }
    let Some(lease) = lease else {
        let holder = holder.unwrap_or_else(Holder::unknown);
        return open_follower(plan, opts, store, progress, holder, tx, messages).await;
    };
    let saved_now = progress.as_ref().and_then(|p| p.now);
    let mut progress = progress;
    let replanned = match progress.as_mut() {
        Some(p) => replan(p, &plan, &opts, store.as_ref())?,
        None => None,
    };
    let engine = match progress {
        Some(p) => Engine::restore(Arc::clone(&plan), p),
        None => Engine::new(Arc::clone(&plan)),
    };
    let read = store.journal()?;
    let mut opts = opts;
    let held = hold_engine_time(&mut opts, saved_now, &read.entries);
    let mut opening = Vec::new();
    // The entry the store puts in the torn line's place, keeping its text: shown now, and
    // written once when the opening entries are appended.
    if let Some(t) = &read.torn {
        opening.push(crate::store::torn_line_entry(t, opts.clock.now()));
    }
    let previous = store
        .published()
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice::<Published>(&b).ok());
    opening.extend(actions::opening(
        &read.entries,
        previous.as_ref(),
        &here,
        lease.epoch(),
        &opts,
    ));
    opening.extend(held);
    // A release moved onto the plan's new steps is saved with the entry that says so.
    let save_now = replanned.is_some();
    opening.extend(replanned);
    let mut recent: VecDeque<Entry> = read.entries.into_iter().rev().take(RECENT).rev().collect();
    let recorded = recent.len() as u64;

    let recorder = match &opts.record {
        Some(path) => {
            let header = crate::recording::Header::new(
                &plan,
                &opts.operator,
                opts.mode,
                &opts.clock,
                engine.progress(),
            )
            .map_err(|e| ControllerError::Adapter(e.to_string()))?;
            let tell = tx.clone();
            Some(
                crate::recording::Recorder::start(path, header, move |e| {
                    let _ = tell
                        .blocking_send(Message::AdapterStopped(Adapter::Recorder, e.to_string()));
                })
                .map_err(|e| ControllerError::Adapter(e.to_string()))?,
            )
        }
        None => None,
    };
    let (exposure, exposure_rx) = watch::channel(engine.exposure());
    let source = open_metrics(&plan)?;
    let backfill = plan.metrics.baseline_window.max(Duration::from_secs(3600));
    // A cron run picks up from its last evaluation; any other run does not bake the time
    // nobody guarded the release.
    let catch_up = saved_now.filter(|_| opts.mode == ONCE);
    let names = plan.metrics.series.iter().map(|s| s.name.clone()).collect();
    tasks::spawn(
        Adapter::Metrics,
        run_metrics(
            source,
            names,
            opts.clock.clone(),
            plan.metrics.interval,
            backfill,
            catch_up,
            exposure_rx,
            tx.clone(),
        ),
        tx.clone(),
    );

    let mut backend = open_flags(&plan)?;
    let flag_description = backend.describe();
    // A flag that cannot be read is the user's to fix before anything is written over it.
    let initial = backend
        .read()
        .await
        .map_err(|e| ControllerError::Adapter(e.to_string()))?;
    // A missing flag is created only for a release that never asked anything of it.
    let create = engine.progress().desired.is_none();
    let (failures, mut failed) = mpsc::channel(64);
    let release = crate::notify::Release::of(&plan, opts.plan_path.as_deref());
    let notifiers = crate::notify::Notifiers::start(&plan.notify, &release, failures)
        .map_err(|e| ControllerError::Adapter(e.to_string()))?;
    let forward = tx.clone();
    tokio::spawn(async move {
        while let Some(f) = failed.recv().await {
            if forward.send(Message::NotifyFailed(f)).await.is_err() {
                return;
            }
        }
    });
    let (flag_tx, flag_rx) = watch::channel(None);
    tasks::spawn(
        Adapter::Flags,
        run_flags(
            backend,
            initial.clone(),
            create,
            flag_rx,
            opts.flag_poll,
            tx.clone(),
        ),
        tx.clone(),
    );
    let mut tenure = lease.tenure();
    let tell = tx.clone();
    tokio::spawn(async move {
        while tenure.changed().await.is_ok() {
            let now = tenure.borrow_and_update().clone();
            if tell.send(Message::Tenure(now)).await.is_err() {
                return;
            }
        }
    });
    let dispatch = Some(notifiers.dispatch());
    let (writer, writer_thread) = spawn_writer(Arc::clone(&store), flag_tx, dispatch, tx.clone());
    tasks::spawn(
        Adapter::Inbox,
        run_inbox(Arc::clone(&store), tx.clone()),
        tx.clone(),
    );

    // Stages and checklist commands run only in the holder; a one-off command (`shipdeck
    // promote`) reads status files but never runs CI.
    let mode = match opts.mode {
        "command" => crate::pipeline::Mode::StatusFilesOnly,
        _ => crate::pipeline::Mode::Run,
    };
    let (pipeline, first_stages) = crate::pipeline::Runner::start(&plan, mode, inputs(&tx)).await;

    for e in &opening {
        recent.push_back(e.clone());
    }
    while recent.len() > RECENT {
        recent.pop_front();
    }
    let mut controller = Controller::new(
        engine,
        opts,
        store,
        tx,
        exposure,
        flag_description,
        pipeline,
    );
    controller.recent = recent;
    controller.journal_total = controller.recent.len() as u64;
    controller.journal_recorded = recorded.min(controller.journal_total);
    controller.lease = Some(lease);
    controller.autopilot = controller.opts.autopilot;
    controller.demo_speed = controller.opts.clock.speed();
    controller.writer = Some(writer);
    controller.writer_thread = Some(writer_thread);
    controller.notifiers = Some(notifiers);
    controller.recorder = recorder;
    // The flag as read now, before anything else reaches the engine: no bake counts until
    // the engine has seen the flag's live value.
    let read = match initial {
        Some(state) => Some(FlagEvent::Loaded { state }),
        None if !create => Some(FlagEvent::Missing),
        None => None,
    };
    if !opening.is_empty() {
        let progress = save_now.then(|| Box::new(controller.engine.progress().clone()));
        controller.send(Job::record(opening, progress, None));
    }
    if let Some(event) = read {
        controller.apply(Input::Flag { event });
    }
    for input in first_stages {
        controller.pipeline.told(&input);
        controller.apply(input);
    }
    // A write the last run asked for and never saw confirmed (killed mid-rollback) is sent
    // again, unless the flag was found changed or gone meanwhile: then it is a person's call.
    let outside = matches!(
        controller.engine.phase(),
        crate::engine::Phase::Paused {
            by: crate::engine::PauseCause::Outside,
            ..
        }
    );
    if let Some(d) = controller
        .engine
        .progress()
        .desired
        .clone()
        .filter(|d| !controller.engine.progress().confirmed && (!d.enabled || !outside))
    {
        let wish = Wish {
            flag: d,
            outside_seen: 0,
        };
        controller.send(Job::record(vec![], None, Some(wish)));
    }
    controller.publish();
    Ok(Session {
        controller,
        messages,
    })
}

/// Engine time is monotonic for each release: a clock that would start before the last
/// recorded engine time (a run at another `--speed`, without `--clock-start`, or a standby
/// taking over from a holder that ran faster) starts there instead, and the journal says
/// when it would have started. The floor is the saved state's time and the journal's last
/// entry; an unreadable inbox entry is stamped by the wall clock, so it does not count.
/// A plan whose steps changed under a release in the middle of its rollout: refused, or
/// taken on `--accept-plan-change` (the release pauses on the step its live percent falls
/// on, and the returned entry journals it).
fn replan(
    progress: &mut crate::engine::Progress,
    plan: &Plan,
    opts: &Options,
    store: &dyn ReleaseStore,
) -> Result<Option<Entry>, ControllerError> {
    let Some(change) = crate::engine::ladder::change(progress, plan) else {
        return Ok(None);
    };
    if !opts.accept_plan_change {
        return Err(ControllerError::PlanChanged {
            plan: opts
                .plan_path
                .as_ref()
                .map_or_else(|| "the plan".to_string(), |p| p.display().to_string()),
            release: plan.release.name.clone(),
            dir: store.describe(),
            change: Box::new(change),
        });
    }
    let at = progress.now.unwrap_or_else(|| opts.clock.now());
    Ok(Some(crate::engine::ladder::accept(
        progress,
        &change,
        plan,
        &opts.operator,
        at,
    )))
}

fn hold_engine_time(
    opts: &mut Options,
    saved_now: Option<chrono::DateTime<chrono::Utc>>,
    journal: &[Entry],
) -> Option<Entry> {
    use crate::engine::journal::{Kind, Verb};
    let journaled = journal
        .iter()
        .filter(|e| e.action != Verb::Inbox)
        .map(|e| e.at)
        .max();
    let last = saved_now.max(journaled)?;
    let would = opts.clock.now();
    if would >= last {
        return None;
    }
    opts.clock = opts.clock.clone().not_before(last);
    let stamp = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let reason = format!(
        "engine time would have started at {}, before the last recorded {}; it goes on from {} at {}× real time",
        stamp(would),
        stamp(last),
        stamp(last),
        opts.clock.speed()
    );
    Some(Entry::plain(
        last,
        crate::engine::ENGINE,
        Kind::Note,
        Verb::Clock,
        reason,
    ))
}

/// A follower shows the holder's state and runs nothing of its own but the reading.
async fn open_follower(
    plan: Arc<Plan>,
    opts: Options,
    store: Arc<dyn ReleaseStore>,
    progress: Option<crate::engine::Progress>,
    holder: Holder,
    tx: mpsc::Sender<Message>,
    messages: mpsc::Receiver<Message>,
) -> Result<Session, ControllerError> {
    let engine = match progress {
        Some(p) => Engine::follow(Arc::clone(&plan), p),
        None => Engine::new(Arc::clone(&plan)),
    };
    let tail = store.journal_recent(RECENT)?;
    let (exposure, _) = watch::channel(engine.exposure());
    let mode = crate::pipeline::Mode::Follow;
    let (pipeline, _) = crate::pipeline::Runner::start(&plan, mode, inputs(&tx)).await;
    let mut controller = Controller::new(
        engine,
        opts,
        Arc::clone(&store),
        tx.clone(),
        exposure,
        String::new(),
        pipeline,
    );
    let recent: VecDeque<Entry> = tail.entries.into_iter().rev().take(RECENT).rev().collect();
    controller.journal_total = recent.len() as u64;
    controller.journal_recorded = controller.journal_total;
    controller.recent = recent;
    controller.follower = Some(FollowerView {
        holder: Some(holder),
        published: None,
        opened: Instant::now(),
    });
    tasks::spawn(
        Adapter::Follow,
        run_follow(store, tail.cursor, tx.clone()),
        tx,
    );
    Ok(Session {
        controller,
        messages,
    })
}

/// A channel for an adapter that reports engine inputs in the engine's own types; what
/// it sends reaches the controller as messages.
fn inputs(tx: &mpsc::Sender<Message>) -> mpsc::Sender<crate::engine::Input> {
    let (inputs, mut rx) = mpsc::channel(64);
    let forward = tx.clone();
    tokio::spawn(async move {
        while let Some(input) = rx.recv().await {
            if forward.send(Message::Input(input)).await.is_err() {
                return;
            }
        }
    });
    inputs
}

/// The metrics source a plan names.
pub(crate) fn open_metrics(plan: &Plan) -> Result<Box<dyn MetricsSource>, ControllerError> {
    crate::metrics::open(&plan.metrics).map_err(|e| ControllerError::Adapter(e.to_string()))
}

/// The flag backend a plan names.
pub(crate) fn open_flags(plan: &Plan) -> Result<Box<dyn FlagBackend>, ControllerError> {
    crate::flags::open(&plan.flag).map_err(|e| ControllerError::Adapter(e.to_string()))
}
