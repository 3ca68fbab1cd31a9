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
use crate::engine::Engine;
use crate::engine::journal::{Entry, Kind, Verb};
use crate::flags::FlagBackend;
use crate::metrics::MetricsSource;
use crate::plan::Plan;
use crate::store::{Acquired, Holder, ReleaseStore};

/// How much of the journal's end a follower reads when it opens (its recent rows).
const FOLLOW_TAIL_BYTES: u64 = 256 * 1024;

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
}

#[derive(Debug, Clone)]
pub struct Options {
    pub operator: String,
    pub clock: Clock,
    pub state_dir: Option<PathBuf>,
    /// `screen` or `headless`, shown to followers.
    pub mode: &'static str,
    /// The demo ticks its own checklist and approves its own steps.
    pub(crate) autopilot: bool,
    /// Poll the flag backend for outside changes this often.
    pub(crate) flag_poll: Duration,
    /// The flight recorder's file: every engine input and decision, for `shipdeck replay`.
    /// Only the holder records.
    pub record: Option<PathBuf>,
    /// The plan as the user named it, for the commands shipdeck suggests.
    pub plan_path: Option<PathBuf>,
    /// Opening to take over from a holder that is gone: journaled as a takeover.
    pub takeover: Option<Takeover>,
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
            flag_poll: Duration::from_secs(1),
            record: None,
            plan_path: None,
            takeover: None,
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
    let (lease, holder) = match store.acquire(&here)? {
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
    let engine = match progress {
        Some(p) => Engine::restore(Arc::clone(&plan), p),
        None => Engine::new(Arc::clone(&plan)),
    };
    let read = store.journal()?;
    let mut opening = Vec::new();
    if let Some(t) = &read.torn {
        opening.push(engine_entry(
            &opts,
            Kind::Error,
            Verb::Journal,
            format!(
                "line {} was torn by a crash and is skipped: {}",
                t.line, t.text
            ),
        ));
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
        &opts,
    ));
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
    let names = plan.metrics.series.iter().map(|s| s.name.clone()).collect();
    tasks::spawn(
        Adapter::Metrics,
        run_metrics(
            source,
            names,
            opts.clock,
            plan.metrics.interval,
            backfill,
            exposure_rx,
            tx.clone(),
        ),
        tx.clone(),
    );

    let mut backend = open_flags(&plan)?;
    let flag_description = backend.describe();
    // A flag that cannot be read is the user's to fix before anything is written over it.
    backend
        .read()
        .await
        .map_err(|e| ControllerError::Adapter(e.to_string()))?;
    let (failures, mut failed) = mpsc::channel(64);
    let label = format!("{} {}", plan.release.name, plan.release.version);
    let notifiers = crate::notify::Notifiers::start(&plan.notify, &label, failures)
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
        run_flags(backend, flag_rx, opts.flag_poll, tx.clone()),
        tx.clone(),
    );
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
    controller.writer = Some(writer);
    controller.writer_thread = Some(writer_thread);
    controller.notifiers = Some(notifiers);
    controller.recorder = recorder;
    for input in first_stages {
        controller.pipeline.told(&input);
        controller.apply(input);
    }
    if !opening.is_empty() {
        controller.send(Job::record(opening, None, None));
    }
    // A write the last run asked for and never saw confirmed (killed mid-rollback) is sent again.
    if let Some(d) = controller
        .engine
        .progress()
        .desired
        .clone()
        .filter(|_| !controller.engine.progress().confirmed)
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
    let end = store.journal_end()?;
    let tail = store.journal_since(end.saturating_sub(FOLLOW_TAIL_BYTES))?;
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

fn engine_entry(opts: &Options, kind: Kind, action: Verb, reason: String) -> Entry {
    Entry::plain(
        opts.clock.now(),
        crate::engine::ENGINE,
        kind,
        action,
        reason,
    )
}

/// The metrics source a plan names.
pub(crate) fn open_metrics(plan: &Plan) -> Result<Box<dyn MetricsSource>, ControllerError> {
    crate::metrics::open(&plan.metrics).map_err(|e| ControllerError::Adapter(e.to_string()))
}

/// The flag backend a plan names.
pub(crate) fn open_flags(plan: &Plan) -> Result<Box<dyn FlagBackend>, ControllerError> {
    crate::flags::open(&plan.flag).map_err(|e| ControllerError::Adapter(e.to_string()))
}
