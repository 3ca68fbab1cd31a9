//! control: the one process that holds a release, and the one loop that drives it. It
//! feeds the engine from the adapters, carries out the engine's effects through them,
//! records everything and publishes what it knows for the screen, headless output and
//! followers. It never draws, and nothing it does on its loop waits on I/O: adapters run
//! as tokio tasks (the store writer on its own thread) and talk to it over channels.

pub(crate) mod actions;
pub mod driver;
pub mod exporter;
pub mod exposition;
pub mod follow;
pub mod message;
pub mod open;
pub mod pace;
pub mod snapshot;
mod tasks;
mod writer;

use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

use crate::clock::Clock;
use crate::engine::journal::{Entry, Kind, Verb};
use crate::engine::values::Exposure;
use crate::engine::{Command, Effect, Engine, FlagEvent, Input, Phase};
use crate::plan::ListKind;
use crate::store::{Holder, InboxAnswer, InboxRequest, Lease, ReleaseStore};
use follow::Published;
use tasks::inbox::await_answer;
use writer::{Job, Wish};

pub use actions::Stop;
pub use driver::Handle;
pub use message::{Adapter, Answer, Message, Notice, Refused};
pub(crate) use open::open_metrics;
pub use open::{ControllerError, Options, Session, Takeover, open};
pub use snapshot::{HolderState, Role, Snapshot};

/// How many journal entries the screen keeps at hand.
const RECENT: usize = 500;
/// How often served bake time is saved, and the heartbeat published, when nothing else
/// happens.
const SAVE_EVERY: Duration = Duration::from_secs(1);
/// How long an exiting process waits for queued notifications (a dead receiver must not
/// hold up the exit much).
const NOTIFY_GRACE: Duration = Duration::from_secs(3);
/// A holder silent this long is taken for gone or frozen.
pub const HEARTBEAT_LIMIT: Duration = Duration::from_secs(5);

/// What a follower knows of the holder.
#[derive(Debug)]
struct FollowerView {
    /// Who holds the lock; `None`: nobody does any more.
    holder: Option<Holder>,
    published: Option<Published>,
    opened: Instant,
}

pub struct Controller {
    engine: Engine,
    opts: Options,
    autopilot: bool,
    store: Arc<dyn ReleaseStore>,
    recent: VecDeque<Entry>,
    /// Entries ever added to `recent`, so a printer knows which are new.
    journal_total: u64,
    /// How many of those the writer has put into the store.
    journal_recorded: u64,
    /// Present while this process holds the release; `None` in follow mode.
    lease: Option<Lease>,
    follower: Option<FollowerView>,
    writer: Option<std::sync::mpsc::Sender<Job>>,
    writer_thread: Option<std::thread::JoinHandle<()>>,
    exposure: watch::Sender<Exposure>,
    tx: mpsc::Sender<Message>,
    newest_batch: Option<DateTime<Utc>>,
    metrics_alive: bool,
    interval: chrono::Duration,
    notice: Option<Notice>,
    /// The demo's pace, while it runs slow around an event.
    pace: Option<Notice>,
    /// The demo's fast pace, between events.
    demo_speed: f64,
    /// The store write that keeps failing; guardrails act on from memory meanwhile.
    store_fault: Option<String>,
    /// Why the store cannot confirm this process still holds the release.
    unconfirmed: Option<String>,
    /// Why this process lost the release: it acts no more, and its loop makes it a
    /// follower.
    fenced: Option<String>,
    /// The writer thread is gone: nothing can be recorded or written to the flag.
    writer_stopped: bool,
    last_save: Instant,
    last_publish: Instant,
    unsaved: bool,
    flag_description: String,
    notifiers: Option<crate::notify::Notifiers>,
    pipeline: crate::pipeline::Runner,
    /// Outside flag changes the engine has been told of (see [`Wish`]).
    outside_seen: u64,
    recorder: Option<crate::recording::Recorder>,
    samples_seen: u64,
    history_in: bool,
    /// `--metrics-listen`: started with the loop, which serves it its snapshots.
    exporter: Option<exporter::MetricsListener>,
}

fn follower_label(h: &Holder) -> String {
    format!(
        "{} ({} on {}, pid {}, since {})",
        h.operator,
        h.mode,
        h.host,
        h.pid,
        h.since.format("%H:%M:%SZ")
    )
}

/// `alice (screen on build-01, pid 4242, since 14:02:11Z)`.
pub(crate) fn describe_holder(h: &Holder) -> String {
    follower_label(h)
}

impl Controller {
    fn new(
        engine: Engine,
        opts: Options,
        store: Arc<dyn ReleaseStore>,
        tx: mpsc::Sender<Message>,
        exposure: watch::Sender<Exposure>,
        flag_description: String,
        pipeline: crate::pipeline::Runner,
    ) -> Controller {
        let interval = chrono::Duration::from_std(engine.plan().metrics.interval)
            .unwrap_or(chrono::Duration::seconds(15));
        Controller {
            engine,
            opts,
            autopilot: false,
            store,
            recent: VecDeque::new(),
            journal_total: 0,
            journal_recorded: 0,
            lease: None,
            follower: None,
            writer: None,
            writer_thread: None,
            exposure,
            tx,
            newest_batch: None,
            metrics_alive: true,
            interval,
            notice: None,
            pace: None,
            demo_speed: 1.0,
            store_fault: None,
            unconfirmed: None,
            fenced: None,
            writer_stopped: false,
            last_save: Instant::now(),
            last_publish: Instant::now(),
            unsaved: false,
            flag_description,
            notifiers: None,
            pipeline,
            outside_seen: 0,
            recorder: None,
            samples_seen: 0,
            history_in: false,
            exporter: None,
        }
    }

    /// Serves `/metrics` from `listener` once the loop runs (`driver::spawn`).
    pub fn serve_metrics(&mut self, listener: exporter::MetricsListener) {
        self.exporter = Some(listener);
    }

    pub(crate) fn options(&self) -> &Options {
        &self.opts
    }

    /// A follower's view of its holder: live, silent past the heartbeat limit, or gone.
    /// `None` for the holder itself.
    pub fn holder_state(&self) -> Option<HolderState> {
        let f = self.follower.as_ref()?;
        if f.holder.is_none() {
            return Some(HolderState::Gone);
        }
        let limit = chrono::Duration::from_std(HEARTBEAT_LIMIT).unwrap_or_default();
        let silent = match &f.published {
            Some(p) => {
                let age = Utc::now() - p.heartbeat;
                (age > limit).then_some(age)
            }
            None => (f.opened.elapsed() > HEARTBEAT_LIMIT)
                .then(|| chrono::Duration::from_std(f.opened.elapsed()).unwrap_or_default()),
        };
        Some(match silent {
            Some(age) => HolderState::Silent {
                secs: age.num_seconds().max(0) as u64,
            },
            None => HolderState::Live,
        })
    }

    /// The holder's last heartbeat, as a follower last read it.
    pub fn heartbeat(&self) -> Option<DateTime<Utc>> {
        self.follower
            .as_ref()
            .and_then(|f| f.published.as_ref())
            .map(|p| p.heartbeat)
    }

    /// The holder who vanished, for a takeover's record.
    pub(crate) fn departed_holder(&self) -> Option<Holder> {
        let f = self.follower.as_ref()?;
        f.holder
            .clone()
            .or_else(|| f.published.as_ref().map(|p| p.holder.clone()))
    }

    pub fn samples_seen(&self) -> u64 {
        self.samples_seen
    }

    /// An adapter message; true if anything visible changed.
    pub fn handle(&mut self, message: Message) -> bool {
        match message {
            Message::Input(input) => self.on_input(input),
            Message::Request(req) => {
                let who = req.who();
                let answer = match self.command_as(req.command, &who, req.reason) {
                    Ok(m) => InboxAnswer {
                        ok: true,
                        message: m,
                    },
                    Err(m) => InboxAnswer {
                        ok: false,
                        message: m.to_string(),
                    },
                };
                self.send(Job::Answer(req.id, answer));
            }
            Message::Answer(_, answer) => {
                self.notice = Some(Notice::Answered {
                    ok: answer.ok,
                    message: answer.message,
                });
            }
            Message::StoreFailing(error) => self.store_fault = Some(error),
            Message::StoreRecovered => self.store_fault = None,
            Message::Tenure(t) => match t {
                crate::store::Tenure::Held => self.unconfirmed = None,
                crate::store::Tenure::Unconfirmed { why } => self.unconfirmed = Some(why),
                crate::store::Tenure::Lost { why } => self.fenced = Some(why),
            },
            Message::Followed(f) => self.on_followed(*f),
            Message::NotifyFailed(f) => self.record_failure(f),
            Message::Recorded(n) => self.journal_recorded += n,
            Message::AdapterStopped(adapter, why) => {
                match adapter {
                    Adapter::Metrics => self.metrics_alive = false,
                    Adapter::Writer => self.writer_stopped = true,
                    _ => {}
                }
                self.notice = Some(Notice::AdapterStopped { adapter, why });
            }
        }
        true
    }

    fn on_input(&mut self, input: Input) {
        let newest = match &input {
            Input::Samples { batch } => Some(batch.at),
            Input::History { batches } | Input::CatchUp { batches, .. } => {
                batches.last().map(|b| b.at)
            }
            _ => None,
        };
        if let Some(at) = newest {
            self.newest_batch = Some(self.newest_batch.map_or(at, |b| b.max(at)));
        }
        match &input {
            Input::Samples { .. } => self.samples_seen += 1,
            Input::History { .. } => self.history_in = true,
            _ => {}
        }
        if let Input::Flag { event } = &input {
            if matches!(event, FlagEvent::Outside { .. } | FlagEvent::Missing) {
                self.outside_seen += 1;
            }
            let unreadable = matches!(self.notice, Some(Notice::FlagUnreadable { .. }));
            match event {
                FlagEvent::Failed { error, attempt } => {
                    self.notice = Some(Notice::FlagWriteFailing {
                        attempt: *attempt,
                        error: error.clone(),
                    });
                }
                FlagEvent::Confirmed { .. } => self.notice = None,
                FlagEvent::Unreadable { error } => {
                    self.notice = Some(Notice::FlagUnreadable {
                        error: error.clone(),
                    });
                }
                FlagEvent::Loaded { .. } | FlagEvent::Outside { .. } | FlagEvent::Missing
                    if unreadable =>
                {
                    self.notice = None;
                }
                _ => {}
            }
        }
        if self.writer_stopped && matches!(input, Input::Samples { .. } | Input::Tick) {
            // Nothing can be recorded or written to the flag; samples still show.
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
            return;
        }
        if let Some((action, reason)) = crate::pipeline::journal_note(&self.engine, &input) {
            self.record(Kind::Note, crate::engine::ENGINE, action, reason);
        }
        self.pipeline.told(&input);
        self.apply(input);
    }

    /// The controller stops: journals how (with what that leaves unguarded), saves what
    /// is unsaved, and returns what to tell the person leaving.
    pub fn stop(&mut self, how: Stop) -> Option<String> {
        if self.lease.is_none() || !actions::journaled(self.opts.mode) {
            return None;
        }
        let plan_path = self
            .opts
            .plan_path
            .as_ref()
            .map_or_else(|| "PLAN".to_string(), |p| p.display().to_string());
        let live = self.engine.progress().live.as_ref().map(|l| {
            if l.enabled {
                (l.rollout * 100.0).round() as u8
            } else {
                0
            }
        });
        let here = self.lease.as_ref().map(|l| l.holder().clone())?;
        let (entry, warning) = actions::closing(
            &here,
            self.now(),
            how,
            self.engine.phase(),
            live,
            &plan_path,
        );
        self.push_recent(entry.clone());
        self.send(Job::record(vec![entry], None, None));
        warning
    }
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

    pub(crate) fn journal_total(&self) -> u64 {
        self.journal_total
    }

    /// Journal entries known to be on disk since `seen` (a count of recorded entries),
    /// oldest first, and the new count. A log of decisions shows only recorded ones.
    pub(crate) fn recorded_since(&self, seen: u64) -> (Vec<&Entry>, u64) {
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
        &self.opts.operator
    }

    pub fn clock(&self) -> &Clock {
        &self.opts.clock
    }

    /// Some(holder) when another process holds the release and this one only follows.
    pub fn follower_of(&self) -> Option<String> {
        let f = self.follower.as_ref()?;
        Some(
            f.holder
                .as_ref()
                .or(f.published.as_ref().map(|p| &p.holder))
                .map_or_else(|| "nobody".to_string(), follower_label),
        )
    }

    /// The loudest condition people must see now, if any.
    pub fn notice(&self) -> Option<Notice> {
        if let Some(why) = &self.fenced {
            return Some(Notice::Fenced { why: why.clone() });
        }
        if self.writer_stopped {
            return Some(Notice::WriterStopped);
        }
        if let Some(error) = &self.store_fault {
            return Some(Notice::StoreFailing {
                error: error.clone(),
            });
        }
        if let Some(why) = &self.unconfirmed {
            return Some(Notice::Unconfirmed { why: why.clone() });
        }
        self.notice.clone().or_else(|| self.pace.clone())
    }

    /// Why this process lost the release, once it has: it must stop acting on it.
    pub(crate) fn fenced(&self) -> Option<&str> {
        self.fenced.as_deref()
    }

    /// Shows why this follower is one (it was the holder until another took over).
    pub(crate) fn tell(&mut self, notice: Notice) {
        self.notice = Some(notice);
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
        if let Some(p) = self.follower.as_ref().and_then(|f| f.published.as_ref()) {
            return p.engine_now();
        }
        let now = self.opts.clock.now();
        match self.newest_batch {
            Some(b) if self.metrics_alive => now.min(b + self.interval),
            _ => now,
        }
    }

    /// Age of the newest sample with a value, at the engine clock.
    pub fn data_age(&self) -> Option<chrono::Duration> {
        self.engine.data_age(self.now())
    }

    /// An operator command: `Ok(what happened)` or `Err(why it cannot act now)`.
    pub fn command(&mut self, command: Command, reason: Option<String>) -> Answer {
        let operator = self.opts.operator.clone();
        self.command_as(command, &operator, reason)
    }

    fn command_as(&mut self, command: Command, operator: &str, reason: Option<String>) -> Answer {
        if self.lease.is_none() {
            return self.forward(command, reason);
        }
        if self.writer_stopped && command != Command::Rollback {
            return Err(Refused::WriterStopped);
        }
        let before = self.recent.len();
        let input = Input::Command {
            command,
            operator: operator.to_string(),
            reason,
        };
        let refused = self.apply(input);
        if let Some(r) = refused {
            return Err(Refused::Engine(r));
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
    fn forward(&mut self, command: Command, reason: Option<String>) -> Answer {
        if let Some(HolderState::Gone) = self.holder_state() {
            return Err(Refused::HolderGone);
        }
        let request = InboxRequest {
            id: crate::store::new_request_id(),
            command,
            operator: self.opts.operator.clone(),
            reason,
            at: self.opts.clock.now(),
            host: Some(crate::support::host::name()),
            role: None,
            posted_by: None,
        };
        let store = Arc::clone(&self.store);
        let tx = self.tx.clone();
        // The post is file I/O: it happens on the task, never on the caller's path.
        tokio::spawn(async move {
            let id = request.id.clone();
            let posting = Arc::clone(&store);
            let posted = tokio::task::spawn_blocking(move || posting.post(&request)).await;
            let answer = match posted {
                Ok(Ok(())) => await_answer(store, &id, Duration::from_secs(10)).await,
                Ok(Err(e)) => InboxAnswer {
                    ok: false,
                    message: e.to_string(),
                },
                Err(e) => InboxAnswer {
                    ok: false,
                    message: e.to_string(),
                },
            };
            let _ = tx.send(Message::Answer(id, answer)).await;
        });
        Ok(format!(
            "sent to {}; waiting for its answer",
            self.follower_of().unwrap_or_else(|| "the holder".into())
        ))
    }

    /// Time passes (about once a second of real time).
    pub fn tick(&mut self) -> bool {
        if self.lease.is_none() {
            return true;
        }
        if !self.writer_stopped {
            self.apply(Input::Tick);
        }
        if self.last_publish.elapsed() >= SAVE_EVERY {
            self.publish();
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
                // The line already says `approved (demo autopilot)`: a reason would repeat it.
                let _ = self.command_as(Command::Promote { force: false }, PILOT, None);
            }
            _ => {}
        }
    }

    /// Runs one input through the engine and carries out its effects. Returns a refusal.
    fn apply(&mut self, input: Input) -> Option<crate::engine::Refusal> {
        // A process that lost the release decides nothing more: another one guards it.
        if self.fenced.is_some() {
            return None;
        }
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
            self.send(Job::record(entries, progress, flag));
            self.last_save = Instant::now();
            self.unsaved = false;
        }
        if !events.is_empty() {
            self.send(Job::Notify(events));
        }
        // Each input may begin what the demo slows down for: at its fast pace, a tick
        // comes only every 40 engine minutes.
        if self.opts.paced {
            self.pace_demo();
        }
        refused
    }

    /// Runs a stage again (the screen's `r` on a stage's checklist item): its command, or
    /// a fresh read of its status file. Journaled with the operator. A follower runs no
    /// stage: it says who does.
    pub fn rerun_stage(&mut self, name: &str) -> Answer {
        if let Some(h) = self.follower_of() {
            return Err(Refused::CannotRun(format!(
                "{h} holds the release and runs its stages"
            )));
        }
        let answer = self.pipeline.rerun(name).map_err(Refused::CannotRun)?;
        let operator = self.opts.operator.clone();
        self.record(
            Kind::Action,
            &operator,
            Verb::Rerun,
            format!("stage {name}"),
        );
        Ok(answer)
    }

    /// Runs an automatic checklist item's command now (instead of at its next minute).
    pub fn recheck(&mut self, list: ListKind, item: usize) -> Answer {
        self.pipeline
            .checks()
            .rerun(list, item)
            .map_err(Refused::CannotRun)
    }

    /// Journals what a person or an adapter did that the engine does not decide.
    fn record(&mut self, kind: Kind, operator: &str, action: Verb, reason: String) {
        let entry = Entry::plain(self.now(), operator, kind, action, reason);
        self.push_recent(entry.clone());
        self.send(Job::record(vec![entry], None, None));
    }

    /// Journals an adapter's failure; it changes no decision.
    fn record_failure(&mut self, f: crate::notify::Failure) {
        let reason = format!("{}: {}", f.notifier, f.message);
        self.record(Kind::Error, crate::engine::ENGINE, Verb::Notify, reason);
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
            self.send(Job::record(vec![], progress, None));
            self.unsaved = false;
        }
    }

    fn send(&mut self, job: Job) {
        if let Some(w) = &self.writer
            && w.send(job).is_err()
        {
            self.writer_stopped = true;
        }
    }

    /// Waits until everything sent to the writer is on disk (for exits), after giving
    /// queued notifications a moment to go out. The caller must not leave the message
    /// channel full meanwhile: the writer reports what it recorded there (the loop's
    /// `finish` drains it while it waits).
    pub async fn settle(&mut self) {
        if let Some(t) = self.close_writer() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        self.settle_rest().await;
    }

    /// Saves what is unsaved and lets the writer finish its queue: it ends once its
    /// sender is gone. Returns its thread, to wait for.
    pub(crate) fn close_writer(&mut self) -> Option<std::thread::JoinHandle<()>> {
        self.flush();
        self.writer = None;
        self.writer_thread.take()
    }

    /// After the writer: the notifiers get their grace to deliver, the recorder closes.
    pub(crate) async fn settle_rest(&mut self) {
        if let Some(n) = self.notifiers.take() {
            n.close(NOTIFY_GRACE).await;
        }
        if let Some(r) = self.recorder.take() {
            let _ = tokio::task::spawn_blocking(move || r.finish()).await;
        }
    }
}
