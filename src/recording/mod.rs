//! recording: the flight recorder. Owns the recording format and reading it back
//! (`format`), the writer that records a session from a thread of its own (`writer`), the
//! player that feeds a recording back to a fresh engine and compares what it journals
//! (`player`), and the sandbox that replays one through a controller for the screen
//! (`sandbox`). It never decides anything, and the writer never does I/O on the caller's
//! path.

mod format;
mod player;
mod writer;

// The format's version tag is read only by the replay tests outside this module.
#[cfg(test)]
pub(crate) use format::FORMAT;
pub use format::{Header, Record, RecordedClock, RecordedPlan, Recording, RecordingError};
pub(crate) use player::play;
pub use player::{Player, Step, Verdict, verify};
pub use writer::Recorder;

/// A recorded session for the unit tests beside each part: the header, sample batches,
/// and the bytes a controller would have written.
#[cfg(test)]
mod fixtures {
    use chrono::{DateTime, TimeZone, Utc};
    use std::path::Path;
    use std::sync::Arc;

    use super::format::{FORMAT, Header, Record, RecordedClock, RecordedPlan};
    use super::writer::{normalized, write_line};
    use crate::engine::values::{Batch, Outcome, Reading};
    use crate::engine::{Command, Effect, Engine, Input};

    const PLAN: &str = "release: {name: r, version: '1', strategy: canary}\nflag: {name: f, backend: {kind: file, path: flags.yaml}}\nrollout:\n  steps:\n    - {name: A, percent: 10, bake: 1m}\nmetrics:\n  source: {kind: simulated, scenario: healthy}\n  interval: 15s\nguardrails:\n  rules:\n    - {metric: error_rate, above: 1%, action: pause}\n";

    pub(super) fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).single().unwrap()
    }

    pub(super) fn header() -> Header {
        let plan = crate::plan::parse(PLAN, Path::new("/x/plan.yaml")).unwrap();
        let engine = Engine::new(Arc::new(plan));
        Header {
            format: FORMAT,
            shipdeck: "test".into(),
            recorded_at: at(0),
            operator: "alice".into(),
            mode: "headless".into(),
            plan: RecordedPlan {
                path: "/x/plan.yaml".into(),
                text: PLAN.into(),
            },
            clock: RecordedClock {
                start: at(0),
                speed: 60.0,
            },
            progress: engine.progress().clone(),
        }
    }

    pub(super) fn batch(s: i64, v: f64) -> Batch {
        Batch {
            arms: Vec::new(),
            at: at(s),
            readings: vec![Reading {
                series: "error_rate".into(),
                outcome: Outcome::Value(v),
            }],
        }
    }

    /// What a controller would write: each input, then the engine's journal entries.
    pub(super) fn record(inputs: Vec<(i64, Input)>) -> Vec<u8> {
        let h = header();
        let plan = Arc::new(crate::plan::parse(PLAN, Path::new("/x/plan.yaml")).unwrap());
        let mut engine = Engine::restore(plan, h.progress.clone());
        let mut out = Vec::new();
        write_line(&mut out, &Record::Header(Box::new(h))).unwrap();
        for (s, input) in inputs {
            write_line(
                &mut out,
                &Record::Input {
                    at: at(s),
                    input: normalized(&input),
                },
            )
            .unwrap();
            for e in engine.handle(at(s), input) {
                if let Effect::Journal(entry) = e {
                    write_line(&mut out, &Record::Journal { entry }).unwrap();
                }
            }
        }
        out
    }

    pub(super) fn session() -> Vec<(i64, Input)> {
        vec![
            (
                0,
                Input::History {
                    batches: vec![batch(-30, 0.001), batch(-15, 0.002)],
                },
            ),
            (
                0,
                Input::Command {
                    command: Command::Start { force: true },
                    operator: "alice".into(),
                    reason: None,
                },
            ),
            (
                15,
                Input::Samples {
                    batch: batch(15, 0.003),
                },
            ),
            (
                30,
                Input::Samples {
                    batch: batch(30, 0.05),
                },
            ),
            (31, Input::Tick),
            (
                45,
                Input::Samples {
                    batch: batch(45, 0.004),
                },
            ),
        ]
    }
}
