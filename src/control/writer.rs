//! control::writer: the store writer, on a thread of its own. Journal first, then state,
//! then (only once recorded) the flag write: nothing reaches the flag that the journal
//! does not hold. A write that fails is kept and tried again with backoff, so a store that
//! cannot be written loses nothing and never stops a guardrail: a flag write that lowers
//! exposure (a rollback) goes out at once, recorded or not.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

use super::message::{Adapter, Message};
use crate::engine::journal::Entry;
use crate::engine::values::DesiredFlag;
use crate::engine::{Event, Progress};
use crate::store::{InboxAnswer, ReleaseStore};
use crate::support::backoff::Backoff;

/// How long a closing writer keeps trying a store that fails before it gives up.
const CLOSING_GRACE: Duration = Duration::from_secs(5);

/// A flag write the engine asked for, with how many outside changes it had been told of
/// then: a write decided before the newest outside change was seen is not carried out.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Wish {
    pub flag: DesiredFlag,
    pub(crate) outside_seen: u64,
}

impl Wish {
    /// Lowers exposure or turns the flag off: safe to write before it is recorded.
    fn is_retreat(&self, live: Option<&DesiredFlag>) -> bool {
        !self.flag.enabled || live.is_some_and(|l| self.flag.percent < l.percent)
    }
}

pub(super) enum Job {
    Record {
        entries: Vec<Entry>,
        progress: Option<Box<Progress>>,
        flag: Option<Wish>,
        /// How many of this record's entries are in the journal already.
        appended: u64,
    },
    Answer(String, InboxAnswer),
    /// Events to announce, only if the record before them landed: people are never
    /// told of a decision the journal does not hold.
    Notify(Vec<Event>),
    /// The holder's heartbeat and samples for followers; the newest replaces the rest.
    Publish(Vec<u8>),
}

impl Job {
    pub(super) fn record(
        entries: Vec<Entry>,
        progress: Option<Box<Progress>>,
        flag: Option<Wish>,
    ) -> Job {
        Job::Record {
            entries,
            progress,
            flag,
            appended: 0,
        }
    }
}

/// Starts the writer thread. It ends once every sender is gone and its queue is written
/// (or the store has failed for [`CLOSING_GRACE`]).
pub(super) fn spawn_writer(
    store: Arc<dyn ReleaseStore>,
    flag: watch::Sender<Option<Wish>>,
    dispatch: Option<crate::notify::Dispatch>,
    tx: mpsc::Sender<Message>,
) -> (std::sync::mpsc::Sender<Job>, std::thread::JoinHandle<()>) {
    let (jobs, rx) = std::sync::mpsc::channel::<Job>();
    let thread = std::thread::spawn(move || {
        let mut writer = Writer {
            store,
            flag,
            dispatch,
            tx,
            queue: VecDeque::new(),
            failing: None,
            sent_ahead: None,
            fenced: false,
        };
        writer.run(rx);
    });
    (jobs, thread)
}

struct Writer {
    store: Arc<dyn ReleaseStore>,
    flag: watch::Sender<Option<Wish>>,
    dispatch: Option<crate::notify::Dispatch>,
    tx: mpsc::Sender<Message>,
    queue: VecDeque<Job>,
    /// The error of the write that is failing now.
    failing: Option<String>,
    /// A retreat sent to the flag before its record landed.
    sent_ahead: Option<Wish>,
    /// The store refused a write for a newer holder: this writer writes nothing more.
    fenced: bool,
}

impl Writer {
    fn run(&mut self, rx: Receiver<Job>) {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
        let mut closing: Option<Instant> = None;
        loop {
            if self.queue.is_empty() {
                match rx.recv() {
                    Ok(job) => self.queue.push_back(job),
                    Err(_) => return,
                }
            }
            while let Ok(job) = rx.try_recv() {
                self.queue.push_back(job);
            }
            if self.fenced {
                self.queue.clear();
                continue;
            }
            self.merge_front();
            self.send_retreats_ahead();
            if self.write_front() {
                backoff.reset();
                continue;
            }
            // Failing: wait, taking new jobs meanwhile, then try again.
            match rx.recv_timeout(backoff.next_delay()) {
                Ok(job) => self.queue.push_back(job),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    // No sender is left to wake the wait: pause between tries all the same.
                    std::thread::sleep(backoff.next_delay());
                    let since = *closing.get_or_insert_with(Instant::now);
                    if since.elapsed() >= CLOSING_GRACE {
                        let _ = self.tx.blocking_send(Message::AdapterStopped(
                            Adapter::Writer,
                            format!(
                                "gave up on {} unwritten record(s) at exit: {}",
                                self.queue.len(),
                                self.failing.as_deref().unwrap_or("the store failed")
                            ),
                        ));
                        return;
                    }
                }
            }
        }
    }

    /// Records waiting side by side become one: a retry then writes every entry in order
    /// and only the newest state and flag wish.
    fn merge_front(&mut self) {
        while self.queue.len() > 1 {
            let (Some(Job::Record { .. }), Some(Job::Record { .. })) =
                (self.queue.front(), self.queue.get(1))
            else {
                break;
            };
            let Some(Job::Record {
                entries: more,
                progress: newer,
                flag: wish,
                appended: already,
            }) = self.queue.remove(1)
            else {
                break;
            };
            if let Some(Job::Record {
                entries,
                progress,
                flag,
                appended,
            }) = self.queue.front_mut()
            {
                *appended += already;
                entries.extend(more);
                if newer.is_some() {
                    *progress = newer;
                }
                if wish.is_some() {
                    *flag = wish;
                }
            }
        }
        // Only the newest heartbeat matters.
        let publishes = self
            .queue
            .iter()
            .filter(|j| matches!(j, Job::Publish(_)))
            .count();
        if publishes > 1 {
            let mut skip = publishes - 1;
            self.queue.retain(|j| {
                if matches!(j, Job::Publish(_)) && skip > 0 {
                    skip -= 1;
                    return false;
                }
                true
            });
        }
    }

    /// While records wait on a failing store, a flag write that lowers exposure goes out
    /// anyway: safety before bookkeeping.
    fn send_retreats_ahead(&mut self) {
        if self.failing.is_none() {
            return;
        }
        let live = self.flag.borrow().as_ref().map(|w| w.flag.clone());
        let retreat = self.queue.iter().rev().find_map(|j| match j {
            Job::Record { flag: Some(w), .. } if w.is_retreat(live.as_ref()) => Some(w.clone()),
            _ => None,
        });
        if let Some(w) = retreat
            && self.sent_ahead.as_ref() != Some(&w)
        {
            let _ = self.flag.send(Some(w.clone()));
            self.sent_ahead = Some(w);
        }
    }

    /// Writes the first job; `true` when it is done (written, or nothing to write).
    fn write_front(&mut self) -> bool {
        let Some(job) = self.queue.front_mut() else {
            return true;
        };
        let result = match job {
            Job::Record {
                entries,
                progress,
                appended,
                ..
            } => {
                let mut result = if entries.is_empty() {
                    Ok(())
                } else {
                    self.store.append(entries)
                };
                if result.is_ok() {
                    // In the journal now: a retry of the state save must not add them again.
                    *appended += entries.len() as u64;
                    entries.clear();
                    if let Some(p) = progress {
                        result = self.store.save(p);
                    }
                }
                result
            }
            Job::Answer(id, answer) => self.store.answer(id, answer),
            Job::Publish(document) => self.store.publish(document),
            Job::Notify(_) => Ok(()),
        };
        let job = &*job;
        if let Err(crate::store::StoreError::Fenced { .. }) = &result {
            // Another controller holds the release: nothing of this one's may land. The
            // store has told the controller, which stops.
            self.queue.clear();
            self.fenced = true;
            return true;
        }
        if let Err(e) = result {
            // A heartbeat that cannot be written is not worth holding the queue for.
            if matches!(job, Job::Publish(_)) {
                self.queue.pop_front();
                return true;
            }
            let error = e.to_string();
            if self.failing.as_ref() != Some(&error) {
                let _ = self.tx.blocking_send(Message::StoreFailing(error.clone()));
                self.failing = Some(error);
            }
            return false;
        }
        let Some(job) = self.queue.pop_front() else {
            return true;
        };
        if self.failing.take().is_some() {
            let _ = self.tx.blocking_send(Message::StoreRecovered);
        }
        match job {
            Job::Record { appended, flag, .. } => {
                if appended > 0 {
                    let _ = self.tx.blocking_send(Message::Recorded(appended));
                }
                if let Some(w) = flag
                    && self.sent_ahead.take().as_ref() != Some(&w)
                {
                    let _ = self.flag.send(Some(w));
                }
            }
            Job::Notify(events) => {
                if let Some(d) = &self.dispatch {
                    for f in events.iter().flat_map(|e| d.send(e)) {
                        let _ = self.tx.blocking_send(Message::NotifyFailed(f));
                    }
                }
            }
            Job::Answer(..) | Job::Publish(_) => {}
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Engine;
    use crate::engine::journal::Kind;
    use crate::store::FileStore;

    fn entry() -> Entry {
        Entry {
            at: chrono::Utc::now(),
            operator: "alice".into(),
            kind: Kind::Action,
            action: "pause".into(),
            reason: "by hand".into(),
            step: None,
            values: Default::default(),
            explain: None,
            canary: None,
            origin: None,
        }
    }

    #[test]
    fn a_failed_state_save_is_retried_without_adding_the_entries_twice() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(FileStore::open(dir.path()).unwrap());
        let plan = crate::plan::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/healthy/plan.yaml"),
        )
        .unwrap();
        let progress = Engine::new(Arc::new(plan)).progress().clone();
        // A folder where state.json goes: the save cannot replace it.
        std::fs::create_dir_all(dir.path().join("state.json/blocked")).unwrap();
        let (flag, _flags) = watch::channel(None);
        let (tx, mut rx) = mpsc::channel(64);
        let (jobs, thread) = spawn_writer(store.clone(), flag, None, tx);
        jobs.send(Job::record(vec![entry()], Some(Box::new(progress)), None))
            .unwrap();
        assert!(
            matches!(rx.blocking_recv(), Some(Message::StoreFailing(e)) if e.contains("state.json"))
        );
        // Retried a few times while failing, then the store heals.
        std::thread::sleep(Duration::from_millis(700));
        std::fs::remove_dir_all(dir.path().join("state.json")).unwrap();
        drop(jobs);
        thread.join().unwrap();
        let mut recorded = 0;
        while let Ok(m) = rx.try_recv() {
            if let Message::Recorded(n) = m {
                recorded += n;
            }
        }
        assert_eq!(recorded, 1);
        assert_eq!(store.journal().unwrap().entries.len(), 1, "appended twice");
        assert!(
            store.load().unwrap().is_some(),
            "the state was saved once it could be"
        );
    }
}
