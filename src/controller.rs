//! controller: the one process that holds a release. It feeds the engine from the
//! adapters, carries out the engine's effects through them, and records everything.
//! It never draws, and nothing it does on the caller's path waits on I/O: adapters run as
//! tokio tasks (the store writer on its own thread) and talk to it over channels.

use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

use crate::clock::Clock;
use crate::engine::journal::{Entry, Kind};
use crate::engine::values::{Batch, DesiredFlag, Exposure, FlagState, Outcome, Reading};
use crate::engine::{Command, Effect, Engine, FlagEvent, Input, Phase, Progress};
use crate::flags::FlagBackend;
use crate::metrics::MetricsSource;
use crate::plan::{ListKind, Plan};
use crate::store::{Acquired, Holder, InboxAnswer, InboxRequest, Lease, ReleaseStore};

/// How many journal entries the screen keeps at hand.
const RECENT: usize = 500;
/// How often served bake time is saved when nothing else happens.
const SAVE_EVERY: Duration = Duration::from_secs(1);
/// How long an exiting process waits for queued notifications (a dead receiver must not
/// hold up the exit much).
const NOTIFY_GRACE: Duration = Duration::from_secs(3);

/// What adapters tell the controller.
#[derive(Debug)]
pub enum Message {
    Input(Input),
    /// A command from another terminal, through the inbox.
    Request(InboxRequest),
    /// The holder's answer to a command this follower sent.
    Answer(String, InboxAnswer),
    /// Writing the journal or the state failed: the engine stops advancing.
    StoreFailed(String),
    /// A follower's fresh copy of what the holder wrote.
    Followed(Box<Progress>, Vec<Entry>),
    /// An adapter task ended; the text says which and why.
    AdapterStopped(String),
    /// The writer put this many more journal entries on disk.
    Recorded(u64),
    /// A webhook or the deploy log could not be written.
    NotifyFailed(crate::notify::Failure),
}

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

pub struct Options {
    pub operator: String,
    pub clock: Clock,
    pub state_dir: Option<PathBuf>,
    /// `screen` or `headless`, shown to followers.
    pub mode: &'static str,
    /// The demo ticks its own checklist and approves its own steps.
    pub autopilot: bool,
    /// Poll the flag backend for outside changes this often.
    pub flag_poll: Duration,
    /// The flight recorder's file: every engine input and decision, for `shipdeck replay`.
    /// Only the holder records.
    pub record: Option<PathBuf>,
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
        }
    }
}

/// A controller and the channel its adapters report on.
pub struct Session {
    pub controller: Controller,
    pub messages: mpsc::Receiver<Message>,
}

/// A flag write the engine asked for, with how many outside changes it had been told of
/// then: a write decided before the newest outside change was seen is not carried out.
#[derive(Debug, Clone, PartialEq)]
struct Wish {
    flag: DesiredFlag,
    outside_seen: u64,
}

enum Job {
    Record {
        entries: Vec<Entry>,
        progress: Option<Box<Progress>>,
        flag: Option<Wish>,
    },
    Answer(String, InboxAnswer),
    /// Events to announce, only if the record before them landed: people are never
    /// told of a decision the journal does not hold.
    Notify(Vec<crate::engine::Event>),
}

pub struct Controller {
    engine: Engine,
    clock: Clock,
    operator: String,
    autopilot: bool,
    store: Arc<dyn ReleaseStore>,
    recent: VecDeque<Entry>,
    /// Entries ever added to `recent`, so a printer knows which are new.
    journal_total: u64,
    /// How many of those the writer has put on disk.
    journal_recorded: u64,
    /// Present while this process holds the release; `None` in follow mode.
    lease: Option<Lease>,
    follower_of: Option<String>,
    writer: Option<std::sync::mpsc::Sender<Job>>,
    writer_thread: Option<std::thread::JoinHandle<()>>,
    exposure: watch::Sender<Exposure>,
    tx: mpsc::Sender<Message>,
    newest_batch: Option<DateTime<Utc>>,
    metrics_alive: bool,
    interval: chrono::Duration,
    notice: Option<String>,
    halted: Option<String>,
    last_save: Instant,
    unsaved: bool,
    flag_description: String,
    notifiers: Option<crate::notify::Notifiers>,
    pipeline: crate::pipeline::Runner,
    /// Outside flag changes the engine has been told of (see [`Wish`]).
    outside_seen: u64,
    recorder: Option<crate::recorder::Recorder>,
}

/// Opens a release: takes the lock (or follows the holder), restores the state, and
/// starts the adapters.
pub async fn open(
    plan: Arc<Plan>,
    opts: Options,
    store: Arc<dyn ReleaseStore>,
) -> Result<Session, ControllerError> {
    let (tx, messages) = mpsc::channel(256);
    let holder = Holder {
        operator: opts.operator.clone(),
        pid: std::process::id(),
        host: hostname(),
        mode: opts.mode.to_string(),
        since: Utc::now(),
    };
    let (lease, follower_of) = match store.acquire(&holder)? {
        Acquired::Controller(lease) => (Some(lease), None),
        Acquired::HeldBy(h) => (None, Some(describe_holder(&h))),
    };
    let engine = match store.load()? {
        Some(p) if p.release != plan.release.name => {
            return Err(ControllerError::OtherRelease {
                dir: store.describe(),
                found: p.release,
                wanted: plan.release.name.clone(),
            });
        }
        Some(p) => Engine::restore(Arc::clone(&plan), p),
        None => Engine::new(Arc::clone(&plan)),
    };
    let read = store.journal()?;
    let mut recent: VecDeque<Entry> = read.entries.into_iter().rev().take(RECENT).rev().collect();
    let mut torn_note = None;
    if let Some(t) = read.torn {
        let e = Entry {
            at: opts.clock.now(),
            operator: crate::engine::ENGINE.into(),
            kind: Kind::Error,
            action: "journal".into(),
            reason: format!(
                "line {} was torn by a crash and is skipped: {}",
                t.line, t.text
            ),
            step: None,
            values: Default::default(),
            explain: None,
        };
        recent.push_back(e.clone());
        torn_note = Some(e);
    }

    let recorder = match (&opts.record, &lease) {
        (Some(path), Some(_)) => {
            let header = crate::recorder::Header::new(
                &plan,
                &opts.operator,
                opts.mode,
                &opts.clock,
                engine.progress(),
            )
            .map_err(|e| ControllerError::Adapter(e.to_string()))?;
            let tell = tx.clone();
            Some(
                crate::recorder::Recorder::start(path, header, move |e| {
                    let _ = tell.blocking_send(Message::AdapterStopped(format!("recorder: {e}")));
                })
                .map_err(|e| ControllerError::Adapter(e.to_string()))?,
            )
        }
        _ => None,
    };
    let (exposure, exposure_rx) = watch::channel(engine.exposure());
    let source = open_metrics(&plan)?;
    let backfill = plan.metrics.baseline_window.max(Duration::from_secs(3600));
    let names = plan.metrics.series.iter().map(|s| s.name.clone()).collect();
    tokio::spawn(run_metrics(
        source,
        names,
        opts.clock,
        plan.metrics.interval,
        backfill,
        exposure_rx,
        tx.clone(),
    ));

    let mut backend = open_flags(&plan)?;
    let flag_description = backend.describe();
    if lease.is_some() {
        // A flag that cannot be read is the user's to fix before anything is written over it.
        backend
            .read()
            .await
            .map_err(|e| ControllerError::Adapter(e.to_string()))?;
    }
    let (mut writer, mut writer_thread, mut notifiers) = (None, None, None);
    if lease.is_some() {
        let (failures, mut failed) = mpsc::channel(64);
        let label = format!("{} {}", plan.release.name, plan.release.version);
        notifiers = Some(
            crate::notify::Notifiers::start(&plan.notify, &label, failures)
                .map_err(|e| ControllerError::Adapter(e.to_string()))?,
        );
        let forward = tx.clone();
        tokio::spawn(async move {
            while let Some(f) = failed.recv().await {
                if forward.send(Message::NotifyFailed(f)).await.is_err() {
                    return;
                }
            }
        });
        let (flag_tx, flag_rx) = watch::channel(None);
        tokio::spawn(run_flags(backend, flag_rx, opts.flag_poll, tx.clone()));
        let dispatch = notifiers.as_ref().map(crate::notify::Notifiers::dispatch);
        let (jobs, thread) = spawn_writer(Arc::clone(&store), flag_tx, dispatch, tx.clone());
        writer = Some(jobs);
        writer_thread = Some(thread);
        tokio::spawn(run_inbox(Arc::clone(&store), tx.clone()));
    } else {
        tokio::spawn(run_follow(Arc::clone(&store), tx.clone()));
    }

    // Stages and checklist commands run only in the holder; a one-off command (`shipdeck
    // promote`) reads status files but never runs CI.
    let mode = match (lease.is_some(), opts.mode) {
        (false, _) => crate::pipeline::Mode::Follow,
        (true, "command") => crate::pipeline::Mode::StatusFilesOnly,
        (true, _) => crate::pipeline::Mode::Run,
    };
    let (pipeline, first_stages) = crate::pipeline::Runner::start(&plan, mode, tx.clone()).await;

    let mut controller = Controller {
        interval: chrono::Duration::from_std(plan.metrics.interval)
            .unwrap_or(chrono::Duration::seconds(15)),
        engine,
        clock: opts.clock,
        operator: opts.operator,
        autopilot: opts.autopilot && lease.is_some(),
        store,
        journal_total: recent.len() as u64,
        journal_recorded: recent.len() as u64 - u64::from(torn_note.is_some()),
        recent,
        lease,
        follower_of,
        writer,
        writer_thread,
        exposure,
        tx,
        newest_batch: None,
        metrics_alive: true,
        notice: None,
        halted: None,
        last_save: Instant::now(),
        unsaved: false,
        flag_description,
        notifiers,
        pipeline,
        outside_seen: 0,
        recorder,
    };
    for input in first_stages {
        controller.pipeline.told(&input);
        controller.apply(input);
    }
    if let Some(e) = torn_note {
        controller.send(Job::Record {
            entries: vec![e],
            progress: None,
            flag: None,
        });
    }
    // A write the last run asked for and never saw confirmed (killed mid-rollback) is sent again.
    if let Some(d) = controller
        .engine
        .progress()
        .desired
        .clone()
        .filter(|_| !controller.engine.progress().confirmed)
    {
        controller.send(Job::Record {
            entries: vec![],
            progress: None,
            flag: Some(Wish {
                flag: d,
                outside_seen: 0,
            }),
        });
    }
    Ok(Session {
        controller,
        messages,
    })
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

pub fn describe_holder(h: &Holder) -> String {
    format!(
        "{} ({} on {}, pid {}, since {})",
        h.operator,
        h.mode,
        h.host,
        h.pid,
        h.since.format("%H:%M:%SZ")
    )
}

/// The metrics source a plan names.
pub fn open_metrics(plan: &Plan) -> Result<Box<dyn MetricsSource>, ControllerError> {
    crate::metrics::open(&plan.metrics).map_err(|e| ControllerError::Adapter(e.to_string()))
}

/// The flag backend a plan names.
pub fn open_flags(plan: &Plan) -> Result<Box<dyn FlagBackend>, ControllerError> {
    crate::flags::open(&plan.flag).map_err(|e| ControllerError::Adapter(e.to_string()))
}

impl Controller {
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Recent journal entries, newest last.
    pub fn journal(&self) -> &VecDeque<Entry> {
        &self.recent
    }

    /// Journal entries added since `seen` (a value of `journal_total`), oldest first.
    pub fn journal_since(&self, seen: u64) -> impl Iterator<Item = &Entry> {
        let new = (self.journal_total.saturating_sub(seen) as usize).min(self.recent.len());
        self.recent.iter().skip(self.recent.len() - new)
    }

    pub fn journal_total(&self) -> u64 {
        self.journal_total
    }

    /// Journal entries known to be on disk since `seen` (a count of recorded entries),
    /// oldest first, and the new count. A log of decisions shows only recorded ones.
    pub fn recorded_since(&self, seen: u64) -> (Vec<&Entry>, u64) {
        let first = self.journal_total - self.recent.len() as u64;
        let entries = self
            .recent
            .iter()
            .enumerate()
            .map(|(i, e)| (first + i as u64, e))
            .filter(|(n, _)| *n >= seen && *n < self.journal_recorded)
            .map(|(_, e)| e)
            .collect();
        (entries, self.journal_recorded.max(seen))
    }

    /// True while this process holds the release (not following another).
    pub fn holds(&self) -> bool {
        self.lease.is_some()
    }

    pub fn operator(&self) -> &str {
        &self.operator
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Some(holder) when another process holds the release and this one only follows.
    pub fn follower_of(&self) -> Option<&str> {
        self.follower_of.as_deref()
    }

    /// A loud adapter condition, while it lasts.
    pub fn notice(&self) -> Option<&str> {
        self.halted.as_deref().or(self.notice.as_deref())
    }

    pub fn flag_description(&self) -> String {
        self.flag_description.clone()
    }

    pub fn store(&self) -> &Arc<dyn ReleaseStore> {
        &self.store
    }

    /// The engine clock. While the metrics source delivers, time never runs more than one
    /// interval ahead of the newest sample, so a fast clock cannot outrun the data and call
    /// it stale; a source that stops delivering lets the clock run on and the data go stale.
    pub fn now(&self) -> DateTime<Utc> {
        let now = self.clock.now();
        match self.newest_batch {
            Some(b) if self.metrics_alive => now.min(b + self.interval),
            _ => now,
        }
    }

    /// Age of the newest sample with a value, at the engine clock.
    pub fn data_age(&self) -> Option<chrono::Duration> {
        let newest = self
            .engine
            .plan()
            .metrics
            .series
            .iter()
            .filter_map(|s| {
                self.engine
                    .history(&s.name)
                    .and_then(|h| h.last_value())
                    .map(|p| p.at)
            })
            .max()?;
        Some(self.now() - newest)
    }

    /// An operator command: `Ok(what happened)` or `Err(why it cannot act now)`.
    pub fn command(&mut self, command: Command, reason: Option<String>) -> Result<String, String> {
        let operator = self.operator.clone();
        self.command_as(command, &operator, reason)
    }

    fn command_as(
        &mut self,
        command: Command,
        operator: &str,
        reason: Option<String>,
    ) -> Result<String, String> {
        if self.lease.is_none() {
            return self.forward(command, reason);
        }
        if let Some(h) = &self.halted
            && command != Command::Rollback
        {
            return Err(format!("halted: {h}; only rollback still acts"));
        }
        let before = self.recent.len();
        let input = Input::Command {
            command,
            operator: operator.to_string(),
            reason,
        };
        let refused = self.apply(input);
        if let Some(r) = refused {
            return Err(r);
        }
        Ok(self
            .recent
            .iter()
            .skip(before.min(self.recent.len()))
            .find(|e| e.kind == Kind::Action)
            .map(|e| e.headline())
            .unwrap_or_else(|| "done".into()))
    }

    /// A follower hands the command to the holder through the inbox.
    fn forward(&mut self, command: Command, reason: Option<String>) -> Result<String, String> {
        let request = InboxRequest {
            id: crate::store::new_request_id(),
            command,
            operator: self.operator.clone(),
            reason,
            at: self.clock.now(),
        };
        self.store.post(&request).map_err(|e| e.to_string())?;
        let store = Arc::clone(&self.store);
        let tx = self.tx.clone();
        let id = request.id.clone();
        tokio::spawn(async move {
            let answer = await_answer(store, &id, Duration::from_secs(10)).await;
            let _ = tx.send(Message::Answer(id, answer)).await;
        });
        Ok(format!(
            "sent to {}; waiting for its answer",
            self.follower_of.as_deref().unwrap_or("the holder")
        ))
    }

    /// Time passes (about once a second of real time).
    pub fn tick(&mut self) -> bool {
        if self.lease.is_none() {
            return true;
        }
        if self.halted.is_none() {
            self.apply(Input::Tick);
        }
        if self.autopilot {
            self.autopilot_step();
        }
        true
    }

    /// The demo plays its own release manager: ticks the pre-release list one item a
    /// second, starts, and approves manual steps, so the story runs with nobody at the keys.
    fn autopilot_step(&mut self) {
        const PILOT: &str = "demo autopilot";
        match self.engine.phase().clone() {
            Phase::Ready => {
                let open = (0..self.engine.plan().checklists.pre_release.len()).find(|i| {
                    !self.engine.item_done(ListKind::PreRelease, *i).0
                        && self.engine.plan().checklists.pre_release[*i]
                            .check
                            .is_none()
                });
                let command = match open {
                    Some(item) => Command::Tick {
                        list: ListKind::PreRelease,
                        item,
                        done: true,
                    },
                    None => Command::Start { force: true },
                };
                let _ = self.command_as(command, PILOT, None);
            }
            Phase::AwaitingApproval { .. } => {
                let _ = self.command_as(
                    Command::Promote { force: false },
                    PILOT,
                    Some("approved by the demo".into()),
                );
            }
            _ => {}
        }
    }

    /// An adapter message; true if anything visible changed.
    pub fn handle(&mut self, message: Message) -> bool {
        match message {
            Message::Input(input) => {
                let newest = match &input {
                    Input::Samples { batch } => Some(batch.at),
                    Input::History { batches } => batches.last().map(|b| b.at),
                    _ => None,
                };
                if let Some(at) = newest {
                    self.newest_batch = Some(self.newest_batch.map_or(at, |b| b.max(at)));
                }
                if let Input::Flag { event } = &input {
                    if matches!(event, FlagEvent::Outside { .. }) {
                        self.outside_seen += 1;
                    }
                    match event {
                        FlagEvent::Failed { error, attempt } => {
                            self.notice = Some(format!(
                                "flag write failing (attempt {attempt}), retrying: {error}"
                            ));
                        }
                        FlagEvent::Confirmed { .. } => self.notice = None,
                        FlagEvent::Unreadable { error } => {
                            self.notice = Some(format!(
                                "flag unreadable, showing its last good state; nothing is written over it: {error}"
                            ));
                        }
                        FlagEvent::Loaded { .. } | FlagEvent::Outside { .. }
                            if self
                                .notice
                                .as_deref()
                                .is_some_and(|n| n.starts_with("flag unreadable")) =>
                        {
                            self.notice = None;
                        }
                        _ => {}
                    }
                }
                if self.halted.is_some() && matches!(input, Input::Samples { .. } | Input::Tick) {
                    // Nothing new is decided without a record; samples still show.
                    if let Input::Samples { batch } = input {
                        let at = batch.at;
                        let input = Input::History {
                            batches: vec![batch],
                        };
                        if let Some(r) = &self.recorder {
                            r.input(at, &input);
                        }
                        self.engine.handle(at, input);
                    }
                    return true;
                }
                if let Some((action, reason)) = crate::pipeline::journal_note(&self.engine, &input)
                {
                    self.record(Kind::Note, crate::engine::ENGINE, action, reason);
                }
                self.pipeline.told(&input);
                self.apply(input);
            }
            Message::Request(req) => {
                let who = req.operator.clone();
                let answer = match self.command_as(req.command, &who, req.reason) {
                    Ok(m) => InboxAnswer {
                        ok: true,
                        message: m,
                    },
                    Err(m) => InboxAnswer {
                        ok: false,
                        message: m,
                    },
                };
                self.send(Job::Answer(req.id, answer));
            }
            Message::Answer(_, answer) => {
                let word = if answer.ok { "done" } else { "refused" };
                self.notice = Some(format!("{word}: {}", answer.message));
            }
            Message::StoreFailed(e) => {
                self.halted = Some(format!(
                    "the journal cannot be written, so nothing new is decided: {e}"
                ));
            }
            Message::Followed(progress, journal) => {
                self.engine = follow_engine(&self.engine, *progress);
                self.journal_total = journal.len() as u64;
                self.journal_recorded = self.journal_total;
                self.recent = journal.into_iter().rev().take(RECENT).rev().collect();
            }
            Message::NotifyFailed(f) => self.record_failure(f),
            Message::Recorded(n) => self.journal_recorded += n,
            Message::AdapterStopped(why) => {
                if why.starts_with("metrics") {
                    self.metrics_alive = false;
                }
                self.notice = Some(why);
            }
        }
        true
    }

    /// Runs one input through the engine and carries out its effects. Returns a refusal.
    fn apply(&mut self, input: Input) -> Option<String> {
        let now = match &input {
            Input::Samples { batch } => batch.at,
            _ => self.now(),
        };
        if let Some(r) = &self.recorder {
            r.input(now, &input);
        }
        // A stage or check result is saved at once: followers show it from the state.
        let report = matches!(input, Input::Stage { .. } | Input::Check { .. });
        let effects = self.engine.handle(now, input);
        let mut entries = Vec::new();
        let mut flag = None;
        let mut refused = None;
        let mut events = Vec::new();
        for effect in effects {
            match effect {
                Effect::Journal(e) => entries.push(e),
                Effect::SetFlag(d) => flag = Some(d),
                Effect::Notify(event) => events.push(event),
                Effect::Refused(r) => refused = Some(r),
            }
        }
        if let Some(r) = &self.recorder {
            r.journal(&entries);
        }
        let _ = self.exposure.send(self.engine.exposure());
        self.unsaved = true;
        if !entries.is_empty() || flag.is_some() || report || self.last_save.elapsed() >= SAVE_EVERY
        {
            for e in &entries {
                self.push_recent(e.clone());
            }
            let progress = Some(Box::new(self.engine.progress().clone()));
            let flag = flag.map(|flag| Wish {
                flag,
                outside_seen: self.outside_seen,
            });
            self.send(Job::Record {
                entries,
                progress,
                flag,
            });
            self.last_save = Instant::now();
            self.unsaved = false;
        }
        if !events.is_empty() {
            self.send(Job::Notify(events));
        }
        refused
    }

    /// Pipeline stages in plan order, with what the screen shows about each (status, why,
    /// output tail); Prod follows the engine's phase.
    pub fn stage_details(&self) -> Vec<crate::pipeline::StageDetail> {
        self.pipeline.details(self.engine.phase())
    }

    pub fn stage_detail(&self, name: &str) -> Option<crate::pipeline::StageDetail> {
        self.pipeline.detail(name, self.engine.phase())
    }

    /// The command behind an automatic checklist item (`check: {command}`), if it has one.
    pub fn check_detail(
        &self,
        list: ListKind,
        item: usize,
    ) -> Option<crate::checklist::CheckDetail> {
        self.pipeline.checks().detail(list, item)
    }

    /// Runs a stage again (the screen's `r`): its command, or a fresh read of its status
    /// file. Journaled with the operator. `Ok(what happens)` or `Err(why not)`.
    pub fn rerun_stage(&mut self, name: &str) -> Result<String, String> {
        if let Some(h) = &self.follower_of {
            return Err(format!("{h} holds the release and runs its stages"));
        }
        let answer = self.pipeline.rerun(name)?;
        let operator = self.operator.clone();
        self.record(Kind::Action, &operator, "rerun", format!("stage {name}"));
        Ok(answer)
    }

    /// Runs an automatic checklist item's command now (instead of at its next minute).
    pub fn recheck(&mut self, list: ListKind, item: usize) -> Result<String, String> {
        self.pipeline.checks().rerun(list, item)
    }

    /// Every stage and check command has a first result and no stage is running: asking
    /// to start now gets a fair answer.
    pub fn pipeline_settled(&self) -> bool {
        self.pipeline.settled()
    }

    /// Journals what a person or an adapter did that the engine does not decide.
    fn record(&mut self, kind: Kind, operator: &str, action: &str, reason: String) {
        let entry = Entry {
            at: self.now(),
            operator: operator.to_string(),
            kind,
            action: action.to_string(),
            reason,
            step: None,
            values: Default::default(),
            explain: None,
        };
        self.push_recent(entry.clone());
        self.send(Job::Record {
            entries: vec![entry],
            progress: None,
            flag: None,
        });
    }

    /// Journals an adapter's failure; it changes no decision.
    fn record_failure(&mut self, f: crate::notify::Failure) {
        let entry = Entry {
            at: self.now(),
            operator: crate::engine::ENGINE.into(),
            kind: Kind::Error,
            action: "notify".into(),
            reason: format!("{}: {}", f.notifier, f.message),
            step: None,
            values: Default::default(),
            explain: None,
        };
        self.push_recent(entry.clone());
        self.send(Job::Record {
            entries: vec![entry],
            progress: None,
            flag: None,
        });
    }

    fn push_recent(&mut self, e: Entry) {
        self.journal_total += 1;
        self.recent.push_back(e);
        if self.recent.len() > RECENT {
            self.recent.pop_front();
        }
    }

    /// Saves what is not saved yet (served bake time); call before exiting.
    pub fn flush(&mut self) {
        if self.unsaved {
            let progress = Some(Box::new(self.engine.progress().clone()));
            self.send(Job::Record {
                entries: vec![],
                progress,
                flag: None,
            });
            self.unsaved = false;
        }
    }

    fn send(&mut self, job: Job) {
        if let Some(w) = &self.writer
            && w.send(job).is_err()
        {
            self.halted = Some("the journal writer stopped".into());
        }
    }

    /// Waits until everything sent to the writer is on disk (for exits), after giving
    /// queued notifications a moment to go out.
    pub async fn settle(&mut self) {
        self.flush();
        // The writer thread drains its queue (announcing what it recorded) and exits once
        // its sender is gone; then the notifiers get their grace to deliver.
        self.writer = None;
        if let Some(t) = self.writer_thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        if let Some(n) = self.notifiers.take() {
            n.close(NOTIFY_GRACE).await;
        }
        if let Some(r) = self.recorder.take() {
            let _ = tokio::task::spawn_blocking(move || r.finish()).await;
        }
    }
}

fn follow_engine(current: &Engine, progress: Progress) -> Engine {
    let mut e = Engine::follow(Arc::clone(current.plan()), progress);
    // A follower keeps its own metric history: it polls the same source.
    e.adopt_history(current);
    e
}

async fn await_answer(store: Arc<dyn ReleaseStore>, id: &str, limit: Duration) -> InboxAnswer {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(a)) = store.take_answer(id) {
            return a;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let message = match store.withdraw(id) {
        Ok(true) => format!(
            "no answer from the holder within {}s; the request is withdrawn and will not run (is the holder stopped?)",
            limit.as_secs()
        ),
        _ => format!(
            "the holder took the request but has not answered within {}s; it may still act on it",
            limit.as_secs()
        ),
    };
    InboxAnswer { ok: false, message }
}

/// Polls the metrics source at the engine clock, one batch per interval.
async fn run_metrics(
    mut source: Box<dyn MetricsSource>,
    names: Vec<String>,
    clock: Clock,
    interval: Duration,
    backfill: Duration,
    exposure: watch::Receiver<Exposure>,
    tx: mpsc::Sender<Message>,
) {
    let step = chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::seconds(15));
    let now = clock.now();
    let from = now - chrono::Duration::from_std(backfill).unwrap_or_default();
    let batches = source.history(from, now, interval).await;
    if tx
        .send(Message::Input(Input::History { batches }))
        .await
        .is_err()
    {
        return;
    }
    // The first poll is at once, at the last instant on the interval grid: waiting for the
    // next one would hold the engine clock (capped one interval past the newest batch)
    // still for up to an interval, and a grid shared by every run lets a replay ask for
    // exactly the instants a recording holds.
    let mut next = align(now, step);
    // A hung source must still produce a batch (of errors) so the data can go stale.
    let limit = (interval * 2).clamp(Duration::from_secs(2), Duration::from_secs(30));
    loop {
        let wait = clock.real_until(next);
        if wait >= Duration::from_millis(1) {
            tokio::time::sleep(wait).await;
        } else {
            tokio::task::yield_now().await;
        }
        let exp = *exposure.borrow();
        let batch = match tokio::time::timeout(limit, source.poll(next, exp)).await {
            Ok(b) => b,
            Err(_) => failed_batch(
                &names,
                next,
                &format!("no answer within {}s", limit.as_secs()),
            ),
        };
        if tx
            .send(Message::Input(Input::Samples { batch }))
            .await
            .is_err()
        {
            return;
        }
        next += step;
        // Far behind (a suspended laptop): skip ahead instead of replaying hours at once.
        let now = clock.now();
        if now - next > step * 1000 {
            next = align(now, step);
        }
    }
}

fn failed_batch(names: &[String], at: DateTime<Utc>, why: &str) -> Batch {
    Batch {
        at,
        readings: names
            .iter()
            .map(|series| Reading {
                series: series.clone(),
                outcome: Outcome::Error(why.to_string()),
            })
            .collect(),
    }
}

fn align(t: DateTime<Utc>, step: chrono::Duration) -> DateTime<Utc> {
    let ms = step.num_milliseconds().max(1);
    let floored = t.timestamp_millis().div_euclid(ms) * ms;
    DateTime::from_timestamp_millis(floored).unwrap_or(t)
}

/// Writes the flag when the engine asks, retrying loudly with backoff until the backend
/// confirms; in between, watches for changes made outside shipdeck: a file backend through
/// a file watcher (the poll stays as a slower fallback), any other by polling.
async fn run_flags(
    mut backend: Box<dyn FlagBackend>,
    mut desired: watch::Receiver<Option<Wish>>,
    poll: Duration,
    tx: mpsc::Sender<Message>,
) {
    let mut seen: Option<FlagState> = None;
    let mut last_error: Option<String> = None;
    // Outside changes reported to the engine, to tell stale wishes from fresh ones.
    let mut outside_sent = 0u64;
    match backend.read().await {
        Ok(Some(state)) => {
            seen = Some(state.clone());
            send_flag(&tx, FlagEvent::Loaded { state }).await;
        }
        Ok(None) => {
            let create = DesiredFlag {
                enabled: false,
                percent: 0,
                groups: vec![],
            };
            match backend.write(&create).await {
                Ok(state) => {
                    seen = Some(state.clone());
                    send_flag(&tx, FlagEvent::Created { state }).await;
                }
                Err(e) => {
                    last_error = Some(e.to_string());
                    let error = e.to_string();
                    send_flag(&tx, FlagEvent::Unreadable { error }).await;
                }
            }
        }
        Err(e) => {
            last_error = Some(e.to_string());
            let error = e.to_string();
            send_flag(&tx, FlagEvent::Unreadable { error }).await;
        }
    }
    let mut watcher = match backend.watched_file().map(crate::watch::FileWatch::start) {
        Some(Ok(w)) => Some(w),
        Some(Err(e)) => {
            let _ = tx
                .send(Message::AdapterStopped(format!("flag watcher: {e}")))
                .await;
            None
        }
        None => None,
    };
    let fallback = if watcher.is_some() { poll * 5 } else { poll };
    loop {
        tokio::select! {
            changed = desired.changed() => {
                if changed.is_err() {
                    return;
                }
                let Some(wish) = desired.borrow_and_update().clone() else { continue };
                // Decided before the engine heard of the newest outside change: writing it
                // would undo that change blindly. A rollback is always written.
                if wish.flag.enabled && wish.outside_seen < outside_sent {
                    continue;
                }
                let want = wish.flag.clone();
                let mut attempt = 0u32;
                let mut backoff = Duration::from_millis(200);
                loop {
                    // Refused because the flag changed outside since shipdeck last saw it:
                    // nothing was written, and that change is reported like any other.
                    let written = match backend.write(&want).await {
                        Ok(state) => Ok(state),
                        Err(crate::flags::FlagError::ChangedOutside { found, .. }) => Ok(*found),
                        Err(e) => Err(e.to_string()),
                    };
                    let failure = match written {
                        Ok(state) if want.is_met_by(&state) => {
                            seen = Some(state.clone());
                            last_error = None;
                            if !send_flag(&tx, FlagEvent::Confirmed { state }).await {
                                return;
                            }
                            break;
                        }
                        // Turned back on right after shipdeck turned it off: the rollback
                        // wins, so it is written again.
                        Ok(state) if !want.enabled => {
                            seen = Some(state);
                            "the flag read back on right after it was turned off".to_string()
                        }
                        // An outside edit landed before the write or between the write and
                        // the read-back: not written over; the engine decides what it means.
                        Ok(state) => {
                            seen = Some(state.clone());
                            last_error = None;
                            outside_sent += 1;
                            if !send_flag(&tx, FlagEvent::Outside { state }).await {
                                return;
                            }
                            break;
                        }
                        Err(e) => e,
                    };
                    attempt += 1;
                    if !send_flag(&tx, FlagEvent::Failed { error: failure, attempt }).await {
                        return;
                    }
                    // A newer wish (a rollback after a promote) replaces this one at once.
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        c = desired.changed() => if c.is_err() { return },
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    if desired.has_changed().unwrap_or(false) || desired.borrow().as_ref() != Some(&wish) {
                        break;
                    }
                }
                if desired.borrow().as_ref() != Some(&wish) {
                    desired.mark_changed();
                }
            }
            woke = file_changed(&mut watcher) => {
                if !woke {
                    watcher = None;
                }
                if !check_flag(backend.as_mut(), &mut seen, &mut last_error, &mut outside_sent, &tx).await {
                    return;
                }
            }
            _ = tokio::time::sleep(fallback) => {
                if !check_flag(backend.as_mut(), &mut seen, &mut last_error, &mut outside_sent, &tx).await {
                    return;
                }
            }
        }
    }
}

async fn send_flag(tx: &mpsc::Sender<Message>, event: FlagEvent) -> bool {
    tx.send(Message::Input(Input::Flag { event })).await.is_ok()
}

/// The next change a watcher saw; never, without one. `false` when it stopped.
async fn file_changed(watcher: &mut Option<crate::watch::FileWatch>) -> bool {
    match watcher {
        Some(w) => w.changed().await,
        None => std::future::pending().await,
    }
}

/// Reads the flag and reports what is new since `seen`: an outside change, a flag gone
/// unreadable (the last good state stays), or readable again. `false` once nobody listens.
async fn check_flag(
    backend: &mut dyn FlagBackend,
    seen: &mut Option<FlagState>,
    last_error: &mut Option<String>,
    outside_sent: &mut u64,
    tx: &mpsc::Sender<Message>,
) -> bool {
    match backend.read().await {
        Ok(Some(state)) => {
            let recovered = last_error.take().is_some();
            if seen.as_ref() != Some(&state) {
                *seen = Some(state.clone());
                *outside_sent += 1;
                return send_flag(tx, FlagEvent::Outside { state }).await;
            }
            if recovered {
                return send_flag(tx, FlagEvent::Loaded { state }).await;
            }
            true
        }
        Ok(None) => true,
        Err(e) => {
            let error = e.to_string();
            if last_error.as_deref() == Some(error.as_str()) {
                return true;
            }
            *last_error = Some(error.clone());
            send_flag(tx, FlagEvent::Unreadable { error }).await
        }
    }
}

/// The store writer: journal first, then state, then (only if recorded) the flag write.
/// A rollback goes out even when the record cannot be written: safety before bookkeeping.
fn spawn_writer(
    store: Arc<dyn ReleaseStore>,
    flag: watch::Sender<Option<Wish>>,
    dispatch: Option<crate::notify::Dispatch>,
    tx: mpsc::Sender<Message>,
) -> (std::sync::mpsc::Sender<Job>, std::thread::JoinHandle<()>) {
    let (jobs, rx) = std::sync::mpsc::channel::<Job>();
    let thread = std::thread::spawn(move || {
        let mut recorded = true;
        for job in rx {
            match job {
                Job::Record {
                    entries,
                    progress,
                    flag: want,
                } => {
                    let mut result = if entries.is_empty() {
                        Ok(())
                    } else {
                        store.append(&entries)
                    };
                    if result.is_ok()
                        && let Some(p) = &progress
                    {
                        result = store.save(p);
                    }
                    recorded = result.is_ok();
                    if recorded && !entries.is_empty() {
                        let _ = tx.blocking_send(Message::Recorded(entries.len() as u64));
                    }
                    if let Err(e) = &result {
                        let _ = tx.blocking_send(Message::StoreFailed(e.to_string()));
                    }
                    if let Some(w) = want
                        && (result.is_ok() || !w.flag.enabled)
                    {
                        let _ = flag.send(Some(w));
                    }
                }
                Job::Notify(events) => {
                    let Some(d) = dispatch.as_ref().filter(|_| recorded) else {
                        continue;
                    };
                    for f in events.iter().flat_map(|e| d.send(e)) {
                        let _ = tx.blocking_send(Message::NotifyFailed(f));
                    }
                }
                Job::Answer(id, answer) => {
                    if let Err(e) = store.answer(&id, &answer) {
                        let _ = tx.blocking_send(Message::StoreFailed(e.to_string()));
                    }
                }
            }
        }
    });
    (jobs, thread)
}

/// Hands commands from other terminals to the controller: at once when the store can wake
/// it, and by polling, fast without a wake-up and slowly beside one in case it misses.
async fn run_inbox(store: Arc<dyn ReleaseStore>, tx: mpsc::Sender<Message>) {
    let mut wakes = store.request_wakes();
    loop {
        let every = if wakes.is_some() {
            Duration::from_secs(2)
        } else {
            Duration::from_millis(200)
        };
        tokio::select! {
            woke = file_changed(&mut wakes) => if !woke {
                wakes = None;
            },
            _ = tokio::time::sleep(every) => {}
        }
        let s = Arc::clone(&store);
        let taken = tokio::task::spawn_blocking(move || s.take_requests()).await;
        if let Ok(Ok(requests)) = taken {
            for r in requests {
                if tx.send(Message::Request(r)).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// A follower re-reads what the holder wrote.
async fn run_follow(store: Arc<dyn ReleaseStore>, tx: mpsc::Sender<Message>) {
    let mut last: Option<(Progress, usize)> = None;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let s = Arc::clone(&store);
        let read = tokio::task::spawn_blocking(move || {
            Ok::<_, crate::store::StoreError>((s.load()?, s.journal()?))
        })
        .await;
        let Ok(Ok((Some(progress), journal))) = read else {
            continue;
        };
        // Unchanged since the last read: nothing to redraw.
        let seen = (progress, journal.entries.len());
        if last.as_ref() == Some(&seen) {
            continue;
        }
        let (progress, _) = &seen;
        let followed = Message::Followed(Box::new(progress.clone()), journal.entries);
        if tx.send(followed).await.is_err() {
            return;
        }
        last = Some(seen);
    }
}
