//! control::message: what the controller's tasks tell it, and the conditions it shows
//! people. Every kind is a variant, so no check ever matches the wording of a message.

use crate::engine::{Input, Refusal};
use crate::store::{InboxAnswer, InboxRequest};

use super::follow::Followed;

/// What the controller's tasks and adapters tell it.
#[derive(Debug)]
pub enum Message {
    Input(Input),
    /// A command from another terminal, through the inbox.
    Request(InboxRequest),
    /// The holder's answer to a command this follower sent.
    Answer(String, InboxAnswer),
    /// A store write failed; the writer keeps the record and tries again.
    StoreFailing(String),
    /// Every write that had failed is now in the store.
    StoreRecovered,
    /// What the holder published since the follower last looked.
    Followed(Box<Followed>),
    /// A task ended: nothing more comes from it.
    AdapterStopped(Adapter, String),
    /// The writer put this many more journal entries into the store.
    Recorded(u64),
    /// A webhook or the deploy log could not be written.
    NotifyFailed(crate::notify::Failure),
    /// Whether this process still holds the release, as the store sees it.
    Tenure(crate::store::Tenure),
}

/// The controller's tasks, by what they do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Adapter {
    Metrics,
    Flags,
    FlagWatcher,
    Inbox,
    Follow,
    Writer,
    Recorder,
    Pipeline,
}

impl Adapter {
    pub fn name(self) -> &'static str {
        match self {
            Adapter::Metrics => "metrics",
            Adapter::Flags => "flag backend",
            Adapter::FlagWatcher => "flag watcher",
            Adapter::Inbox => "command inbox",
            Adapter::Follow => "follower",
            Adapter::Writer => "store writer",
            Adapter::Recorder => "recorder",
            Adapter::Pipeline => "pipeline",
        }
    }
}

/// A condition people must see while it lasts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum Notice {
    /// The backend refuses the flag write; it is retried with backoff.
    FlagWriteFailing { attempt: u32, error: String },
    /// The flag cannot be read; its last good state shows and nothing is written over it.
    FlagUnreadable { error: String },
    /// The store cannot be written. Guardrails still act from memory; writes are retried.
    StoreFailing { error: String },
    /// The store writer is gone: nothing more can be recorded.
    WriterStopped,
    /// A task ended.
    AdapterStopped { adapter: Adapter, why: String },
    /// The holder's answer to a command sent from this follower.
    Answered { ok: bool, message: String },
    /// The store cannot confirm that this process still holds the release: it guards
    /// from memory and advances nothing until the store answers.
    Unconfirmed { why: String },
    /// Another controller holds the release now: this process stopped guarding it and
    /// follows.
    Fenced { why: String },
    /// The demo's clock runs slow around an event, so a person can watch it.
    DemoPace {
        /// Engine seconds per real second, before and now.
        from: u32,
        to: u32,
        why: super::pace::Moment,
    },
}

impl Notice {
    /// The flag backend does not take or show what shipdeck asked for: why a flag change
    /// is not confirmed.
    pub fn is_flag_trouble(&self) -> bool {
        matches!(
            self,
            Notice::FlagWriteFailing { .. } | Notice::FlagUnreadable { .. }
        )
    }

    /// Worth a red banner: guarding is impaired or a record is at risk.
    pub(crate) fn is_alarm(&self) -> bool {
        matches!(
            self,
            Notice::StoreFailing { .. }
                | Notice::WriterStopped
                | Notice::FlagWriteFailing { .. }
                | Notice::Unconfirmed { .. }
                | Notice::Fenced { .. }
        )
    }
}

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Notice::FlagWriteFailing { attempt, error } => {
                write!(
                    f,
                    "flag write failing (attempt {attempt}), retrying: {error}"
                )
            }
            Notice::FlagUnreadable { error } => write!(
                f,
                "flag unreadable, showing its last good state; nothing is written over it: {error}"
            ),
            Notice::StoreFailing { error } => {
                write!(f, "cannot record, retrying; guardrails still act: {error}")
            }
            Notice::WriterStopped => write!(
                f,
                "the store writer stopped: nothing more is recorded and the flag is not written"
            ),
            Notice::AdapterStopped { adapter, why } => write!(f, "{}: {why}", adapter.name()),
            Notice::Answered { ok: true, message } => write!(f, "done: {message}"),
            Notice::Answered { ok: false, message } => write!(f, "refused: {message}"),
            Notice::Unconfirmed { why } => write!(
                f,
                "cannot confirm this process still holds the release ({why}); guardrails still act, nothing advances until the store answers"
            ),
            Notice::Fenced { why } => write!(f, "stopped guarding: {why}; following now"),
            Notice::DemoPace { from, to, why } => {
                write!(f, "demo clock ×{from} → ×{to}: {}", why.words())
            }
        }
    }
}

/// What a command came to: what happened, or why it did not act.
pub type Answer = Result<String, Refused>;

/// Why a command did not act.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The engine will not, now; it says why (and what forcing would pass).
    Engine(Refusal),
    /// The store writer is gone: only a rollback still acts.
    WriterStopped,
    /// This screen follows a holder that is gone: take over first.
    HolderGone,
    /// The holder refused, or did not answer (its words, through the inbox).
    Holder(String),
    /// Taking the release over did not work.
    TakeOver(String),
    /// The controller did not take the request (it stopped, or its queue is full).
    NotTaken(String),
    /// A stage or check cannot run now (it has no command, it is running, this screen
    /// follows); the words say which.
    CannotRun(String),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Engine(r) => write!(f, "{r}"),
            Refused::WriterStopped => {
                write!(f, "{}; only rollback still acts", Notice::WriterStopped)
            }
            Refused::HolderGone => write!(
                f,
                "the controller that held this release is gone: take over first (T on the screen)"
            ),
            Refused::Holder(m)
            | Refused::TakeOver(m)
            | Refused::NotTaken(m)
            | Refused::CannotRun(m) => write!(f, "{m}"),
        }
    }
}
