//! engine::input: everything the engine is told — samples, ticks, operator commands and
//! what the flag backend, the pipeline and the checks report. Plain data; deciding what
//! an input means is the rest of the engine's job.

use chrono::{DateTime, Utc};

use crate::plan::{ListKind, StageStatus};

use super::values::{Batch, FlagState};

/// Operator commands, from keys, the CLI or the inbox: the same act either way.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    Start {
        force: bool,
    },
    Promote {
        force: bool,
    },
    Pause,
    Resume {
        force: bool,
    },
    Rollback,
    SetPercent {
        percent: u8,
    },
    Tick {
        list: ListKind,
        item: usize,
        done: bool,
    },
    /// A new attempt of a rolled-back release (the reference process's "fix and
    /// redeploy"), with the plan's version as it is now.
    Redeploy,
    /// An operator's note for the journal (what the room knows that the metrics do not):
    /// recorded, replayed and forwarded like every other command, and changes nothing.
    Note {
        text: String,
    },
}

/// The longest note the engine journals, in characters: a few sentences, so a journal line
/// stays readable in the pane, the terminal and the postmortem.
pub const MAX_NOTE_CHARS: usize = 1000;

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Start { .. } => "start",
            Command::Promote { .. } => "promote",
            Command::Pause => "pause",
            Command::Resume { .. } => "resume",
            Command::Rollback => "rollback",
            Command::SetPercent { .. } => "set-percent",
            Command::Tick { .. } => "tick",
            Command::Redeploy => "redeploy",
            Command::Note { .. } => "note",
        }
    }
}

/// What a flag backend reported.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum FlagEvent {
    /// Read back after shipdeck's own write.
    Confirmed { state: FlagState },
    /// A write failed; the adapter retries with backoff.
    Failed { error: String, attempt: u32 },
    /// Read at start-up.
    Loaded { state: FlagState },
    /// Did not exist; created disabled at 0.
    Created { state: FlagState },
    /// Changed by someone else.
    Outside { state: FlagState },
    /// Not in the backend: deleted by someone else (or never created, for a release that
    /// has not asked anything of it yet).
    Missing,
    /// The backend holds something shipdeck cannot read (a broken file); nothing is written over it.
    Unreadable { error: String },
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "input", rename_all = "snake_case")]
pub enum Input {
    Samples {
        batch: Batch,
    },
    /// Samples from before the engine clock (a range query at start): they fill the
    /// history and the baseline, and never move the clock or trip a rule.
    History {
        batches: Vec<Batch>,
    },
    /// What a cron run (`run --once`) finds since the last evaluation at `since`: the
    /// source's samples over that range, oldest first. Bake time over it is credited
    /// where the data was healthy; see `engine::catch_up`.
    CatchUp {
        since: DateTime<Utc>,
        batches: Vec<Batch>,
    },
    Tick,
    Command {
        command: Command,
        operator: String,
        reason: Option<String>,
    },
    Flag {
        event: FlagEvent,
    },
    /// A pipeline stage's status (command finished, status file changed).
    Stage {
        name: String,
        status: StageStatus,
        detail: String,
    },
    /// An automatic checklist item's command finished.
    Check {
        list: ListKind,
        item: usize,
        ok: bool,
        detail: String,
    },
}
