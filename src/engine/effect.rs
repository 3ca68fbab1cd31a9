//! engine::effect: what the engine asks the shell to do — write the flag, notify, journal,
//! refuse a command. Plain data; the shell performs them, the engine never does.

use chrono::{DateTime, Utc};

use super::guardrail::Explain;
use super::journal::Entry;
use super::values::DesiredFlag;

/// Release communication events (webhooks, deploy log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Started,
    Promoted,
    Paused,
    Resumed,
    Alert,
    RollbackStarted,
    RollbackConfirmed,
    Completed,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    pub kind: EventKind,
    pub at: DateTime<Utc>,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explain: Option<Box<Explain>>,
    /// Where the release stands once the event happened.
    #[serde(default)]
    pub situation: Situation,
}

/// The release as an event leaves it, for receivers that act on it (a pager, a bot).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Situation {
    /// The phase, as `state.json` spells it (`paused`, `rolling_back`, ...).
    pub state: String,
    /// The step's title (`Gradual 25%`), once the rollout has started.
    pub step: Option<String>,
    /// The percent the backend last confirmed.
    pub percent: u8,
    /// Why the release is paused or rolled back.
    pub reason: Option<String>,
    /// A person must look now: a rollback, a guardrail alert, or a pause shipdeck made
    /// (a guardrail, stale data, an outside change).
    pub needs_human: bool,
}

/// What the shell must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Write the flag and read it back (answer with `FlagEvent::Confirmed`).
    SetFlag(DesiredFlag),
    Notify(Event),
    Journal(Entry),
    /// A command that cannot act now, and why.
    Refused(super::refusal::Refusal),
}
