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
