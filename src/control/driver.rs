//! control::driver: the one loop. A single task owns the controller (the engine, the
//! store and the adapters' channels), takes typed requests, and publishes a snapshot after
//! each turn plus every recorded journal entry in order. The screen, headless mode, the
//! CLI's commands and replay are its clients: none of them touches the controller.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{
    Answer, Controller, Message, Notice, Refused, Session, Snapshot, Stop, Takeover, open,
};
use crate::engine::journal::Entry;
use crate::engine::{Command, Input};
use crate::plan::ListKind;

/// How often the controller's clock ticks, in real time.
pub(crate) const TICK: Duration = Duration::from_secs(1);
/// The shortest time between two snapshots (about 30 a second): a burst of messages is
/// handled whole before anyone looks.
const PUBLISH_EVERY: Duration = Duration::from_millis(33);

/// What a client asks of the loop.
#[derive(Debug)]
pub(crate) enum Request {
    Command {
        command: Command,
        reason: Option<String>,
        reply: oneshot::Sender<Answer>,
    },
    /// Run an automatic checklist item's command now.
    Recheck {
        list: ListKind,
        item: usize,
        reply: oneshot::Sender<Answer>,
    },
    /// Run a stage again: its command, or a fresh read of its status file.
    Rerun {
        stage: String,
        reply: oneshot::Sender<Answer>,
    },
    /// Take the release over from a holder that is gone.
    TakeOver {
        why: String,
        reply: oneshot::Sender<Answer>,
    },
    /// Stop guarding: journal how, save, and end the loop. The reply carries what to tell
    /// the person leaving (guardrails that stop with a live rollout).
    Stop {
        how: Stop,
        reply: oneshot::Sender<Option<String>>,
    },
}

/// A client's end of the loop.
pub struct Handle {
    requests: mpsc::Sender<Request>,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    recorded: Option<mpsc::UnboundedReceiver<Entry>>,
    task: Option<JoinHandle<()>>,
}

/// Starts the loop on a controller just opened.
pub fn spawn(mut session: Session) -> Handle {
    let first = Arc::new(session.controller.snapshot());
    let (snap_tx, snapshots) = watch::channel(first);
    if let Some(listener) = session.controller.exporter.take() {
        tokio::spawn(super::exporter::serve(listener, snapshots.clone()));
    }
    let (requests, requests_rx) = mpsc::channel(64);
    let (recorded_tx, recorded) = mpsc::unbounded_channel();
    let task = tokio::spawn(drive(session, requests_rx, snap_tx, recorded_tx));
    Handle {
        requests,
        snapshots,
        recorded: Some(recorded),
        task: Some(task),
    }
}

impl Handle {
    /// The newest snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.snapshots.borrow())
    }

    /// A receiver that wakes on every new snapshot.
    pub fn watch(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.snapshots.clone()
    }

    /// Every journal entry once it is recorded, in order (for printing a log). Only the
    /// first caller gets them.
    pub fn recorded(&mut self) -> Option<mpsc::UnboundedReceiver<Entry>> {
        self.recorded.take()
    }

    /// Sends a command without waiting: the answer comes on the receiver. Safe on a
    /// screen's path: it never blocks.
    pub fn send(&self, command: Command, reason: Option<String>) -> oneshot::Receiver<Answer> {
        let (reply, answer) = oneshot::channel();
        let request = Request::Command {
            command,
            reason,
            reply,
        };
        self.try_request(request);
        answer
    }

    /// Sends a command and waits for its answer.
    pub async fn command(&self, command: Command, reason: Option<String>) -> Answer {
        self.send(command, reason)
            .await
            .unwrap_or_else(|_| Err(Refused::NotTaken("the controller has stopped".into())))
    }

    /// Runs an automatic checklist item's command now, without waiting.
    pub fn recheck(&self, list: ListKind, item: usize) -> oneshot::Receiver<Answer> {
        let (reply, answer) = oneshot::channel();
        self.try_request(Request::Recheck { list, item, reply });
        answer
    }

    /// Runs a stage again, without waiting. Journaled with the operator.
    pub fn rerun(&self, stage: String) -> oneshot::Receiver<Answer> {
        let (reply, answer) = oneshot::channel();
        self.try_request(Request::Rerun { stage, reply });
        answer
    }

    /// Asks to take the release over from a holder that is gone, without waiting.
    pub fn take_over(&self, why: String) -> oneshot::Receiver<Answer> {
        let (reply, answer) = oneshot::channel();
        self.try_request(Request::TakeOver { why, reply });
        answer
    }

    fn try_request(&self, request: Request) {
        // A full queue (64 requests unanswered) drops the request: its reply sender goes
        // with it, and the caller's receiver says the controller did not take it.
        let _ = self.requests.try_send(request);
    }

    /// Stops the loop: journals how, waits until everything is recorded, and returns what
    /// to tell the person leaving.
    pub async fn stop(mut self, how: Stop) -> Option<String> {
        let (reply, answer) = oneshot::channel();
        let warning = match self.requests.send(Request::Stop { how, reply }).await {
            Ok(()) => answer.await.ok().flatten(),
            Err(_) => None,
        };
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        warning
    }
}

struct Loop {
    controller: Controller,
    messages: mpsc::Receiver<Message>,
    snapshots: watch::Sender<Arc<Snapshot>>,
    recorded: mpsc::UnboundedSender<Entry>,
    printed: u64,
    /// Lost the release and could not open it again as a follower.
    stuck: bool,
}

async fn drive(
    session: Session,
    mut requests: mpsc::Receiver<Request>,
    snapshots: watch::Sender<Arc<Snapshot>>,
    recorded: mpsc::UnboundedSender<Entry>,
) {
    let printed = session.controller.journal_total();
    let mut l = Loop {
        controller: session.controller,
        messages: session.messages,
        snapshots,
        recorded,
        printed,
        stuck: false,
    };
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut batch: Vec<Message> = Vec::with_capacity(256);
    let mut messages_open = true;
    let mut last_tick = Instant::now();
    let mut dirty = false;
    let mut last_publish = Instant::now();
    loop {
        let publish_at = dirty.then(|| last_publish + PUBLISH_EVERY);
        tokio::select! {
            biased;
            request = requests.recv() => {
                let Some(request) = request else {
                    l.finish(Stop::Finished).await;
                    return;
                };
                match request {
                    Request::Stop { how, reply } => {
                        let warning = l.finish(how).await;
                        let _ = reply.send(warning);
                        return;
                    }
                    Request::Command { command, reason, reply } => {
                        let answer = l.command(command, reason).await;
                        l.publish();
                        let _ = reply.send(answer);
                        dirty = false;
                        last_publish = Instant::now();
                        continue;
                    }
                    Request::Recheck { list, item, reply } => {
                        let answer = l.controller.recheck(list, item);
                        let _ = reply.send(answer);
                        continue;
                    }
                    Request::Rerun { stage, reply } => {
                        let answer = l.controller.rerun_stage(&stage);
                        // Journaled: the snapshot shows it along with the answer.
                        l.publish();
                        let _ = reply.send(answer);
                        dirty = false;
                        last_publish = Instant::now();
                        continue;
                    }
                    Request::TakeOver { why, reply } => {
                        let answer = l.take_over(why).await;
                        l.publish();
                        let _ = reply.send(answer);
                        dirty = false;
                        last_publish = Instant::now();
                        continue;
                    }
                }
            }
            n = l.messages.recv_many(&mut batch, 256), if messages_open => {
                if n == 0 {
                    messages_open = false;
                }
                // Everything queued is handled before anyone looks.
                let mut sampled = false;
                for m in batch.drain(..) {
                    sampled |= matches!(m, Message::Input(Input::Samples { .. }));
                    dirty |= l.controller.handle(m);
                }
                // Samples bring the clock's tick with them and push the next one back, so
                // that metrics every second and the clock make one change a second, not
                // two out of step. Without samples the ticker runs on its own.
                if sampled {
                    if last_tick.elapsed() >= TICK / 2 {
                        dirty |= l.controller.tick();
                        last_tick = Instant::now();
                    }
                    ticker.reset_after(TICK + TICK / 10);
                }
            }
            _ = ticker.tick() => {
                dirty |= l.controller.tick();
                last_tick = Instant::now();
            }
            () = tokio::time::sleep_until(publish_at.unwrap_or_else(Instant::now)), if publish_at.is_some() => {}
        }
        l.pass_on_recorded();
        if l.controller.fenced().is_some() && !l.stuck {
            l.demote().await;
            l.publish();
            dirty = false;
            last_publish = Instant::now();
            continue;
        }
        if dirty && last_publish.elapsed() >= PUBLISH_EVERY {
            l.publish();
            dirty = false;
            last_publish = Instant::now();
        }
    }
}

impl Loop {
    fn publish(&mut self) {
        self.pass_on_recorded();
        self.snapshots
            .send_replace(Arc::new(self.controller.snapshot()));
    }

    /// Hands on the entries recorded since the last look, in order.
    fn pass_on_recorded(&mut self) {
        let (entries, seen) = self.controller.recorded_since(self.printed);
        for e in entries {
            let _ = self.recorded.send(e.clone());
        }
        self.printed = seen;
    }

    /// A command. On a follower whose holder is gone, a rollback takes over first: in a
    /// crisis, rollback never waits for a dead process.
    async fn command(&mut self, command: Command, reason: Option<String>) -> Answer {
        let unguarded = self
            .controller
            .holder_state()
            .is_some_and(|s| s.unguarded());
        if command == Command::Rollback && unguarded {
            let why = format!(
                "roll back with nobody guarding{}",
                reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            );
            self.take_over(why).await?;
        }
        self.controller.command(command, reason)
    }

    /// Opens the release again as its holder, when the one holding it is gone.
    async fn take_over(&mut self, why: String) -> Answer {
        if self.controller.holds() {
            return Err(Refused::TakeOver(
                "this process already guards the release".into(),
            ));
        }
        let state = self.controller.holder_state();
        if !state.is_some_and(|s| s.unguarded()) {
            return Err(Refused::TakeOver(format!(
                "{} is alive and guards the release; send it commands instead",
                self.controller
                    .follower_of()
                    .unwrap_or_else(|| "the holder".into())
            )));
        }
        let Some(from) = self.controller.departed_holder() else {
            return Err(Refused::TakeOver(
                "nobody is known to have held this release".into(),
            ));
        };
        let mut opts = self.controller.options().clone();
        opts.takeover = Some(Takeover { from, why });
        opts.follow_only = false;
        let plan = Arc::clone(self.controller.engine().plan());
        let store = Arc::clone(self.controller.store());
        match open(plan, opts, store).await {
            Ok(session) if session.controller.holds() => {
                self.printed = session.controller.journal_total();
                self.controller = session.controller;
                self.messages = session.messages;
                Ok("took over: this process now guards the release".into())
            }
            Ok(_) => Err(Refused::TakeOver(format!(
                "the holder's process still holds the lock ({}); it may be frozen: stop it, then take over",
                self.controller
                    .follower_of()
                    .unwrap_or_else(|| "unknown".into())
            ))),
            Err(e) => Err(Refused::TakeOver(format!("cannot take over: {e}"))),
        }
    }

    /// This process lost the release to another controller: it stops guarding (its
    /// adapters and writer go with the old controller) and opens the release again, as a
    /// follower of the new holder, saying why.
    async fn demote(&mut self) {
        let Some(why) = self.controller.fenced().map(str::to_string) else {
            return;
        };
        let mut opts = self.controller.options().clone();
        opts.takeover = None;
        opts.follow_only = true;
        let plan = Arc::clone(self.controller.engine().plan());
        let store = Arc::clone(self.controller.store());
        // Its writer holds nothing worth waiting for: the store refuses its writes now.
        drop(self.controller.close_writer());
        match open(plan, opts, store).await {
            Ok(session) => {
                self.printed = session.controller.journal_total();
                self.controller = session.controller;
                self.messages = session.messages;
            }
            // The store cannot be read either: stay as this, deciding nothing, and say so.
            Err(e) => {
                self.stuck = true;
                self.controller.tell(Notice::AdapterStopped {
                    adapter: super::Adapter::Follow,
                    why: format!("cannot follow the release: {e}"),
                });
                return;
            }
        }
        self.controller.tell(Notice::Fenced { why });
    }

    /// Journals the stop, records everything still queued, and publishes the last state.
    async fn finish(&mut self, how: Stop) -> Option<String> {
        let warning = self.controller.stop(how);
        if let Some(thread) = self.controller.close_writer() {
            // The writer reports what it recorded on the message channel: drain it while
            // waiting, or a full channel would hold the writer and this wait forever.
            let join = tokio::task::spawn_blocking(move || thread.join());
            tokio::pin!(join);
            loop {
                tokio::select! {
                    _ = &mut join => break,
                    message = self.messages.recv() => match message {
                        Some(m) => self.take_closing(m),
                        None => {
                            let _ = (&mut join).await;
                            break;
                        }
                    },
                }
            }
        }
        self.controller.settle_rest().await;
        while let Ok(message) = self.messages.try_recv() {
            self.take_closing(message);
        }
        self.publish();
        warning
    }

    /// While closing, only what the writer says still counts: nothing new is decided.
    fn take_closing(&mut self, message: Message) {
        if matches!(
            message,
            Message::Recorded(_)
                | Message::StoreFailing(_)
                | Message::StoreRecovered
                | Message::AdapterStopped(super::Adapter::Writer, _)
        ) {
            self.controller.handle(message);
        }
    }
}
