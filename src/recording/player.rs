//! recording::player: a recording fed back to a fresh engine. Owns `Player`, the step
//! by step comparison of what was journaled then and what is journaled now, `verify`,
//! and the paced and headless players. It only compares; it never changes a recording.

use chrono::{DateTime, Utc};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::format::{Record, Recording, RecordingError};
use crate::clock::Clock;
use crate::engine::journal::Entry;
use crate::engine::{Effect, Engine, Input};

/// The short name of an input, for messages.
fn input_name(input: &Input) -> &'static str {
    match input {
        Input::Samples { .. } => "samples",
        Input::History { .. } => "history",
        Input::CatchUp { .. } => "catch-up",
        Input::Tick => "tick",
        Input::Command { .. } => "command",
        Input::Flag { .. } => "flag",
        Input::Stage { .. } => "stage",
        Input::Check { .. } => "check",
    }
}

/// One recorded input played again: what the recording says the engine journaled in
/// answer, and what this engine journals now.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The input's line in the recording.
    pub line: usize,
    pub at: DateTime<Utc>,
    pub input: &'static str,
    pub recorded: Vec<Entry>,
    pub replayed: Vec<Entry>,
}

impl Step {
    /// The same decisions, with the same reasons and values, at the same times.
    pub(crate) fn agrees(&self) -> bool {
        self.recorded == self.replayed
    }
}

/// Feeds a recording's inputs, at their recorded engine times, to a fresh engine that
/// starts where the recorded one started.
pub struct Player<'a> {
    engine: Engine,
    records: &'a [(usize, Record)],
    next: usize,
}

impl<'a> Player<'a> {
    pub fn new(recording: &'a Recording) -> Result<Player<'a>, RecordingError> {
        let plan = Arc::new(recording.plan()?);
        let engine = Engine::restore(plan, recording.header.progress.clone());
        Ok(Player {
            engine,
            records: &recording.records,
            next: 0,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Engine time of the next input, if any is left.
    pub(crate) fn next_at(&self) -> Option<DateTime<Utc>> {
        self.records[self.next..]
            .iter()
            .find_map(|(_, r)| r.input_at())
    }
}

impl Iterator for Player<'_> {
    type Item = Step;

    fn next(&mut self) -> Option<Step> {
        let (line, record) = self.records.get(self.next)?;
        self.next += 1;
        let (at, input, replayed) = match record {
            Record::Input { at, input } => {
                let name = input_name(input);
                let replayed = self
                    .engine
                    .handle(*at, input.clone())
                    .into_iter()
                    .filter_map(|e| match e {
                        Effect::Journal(entry) => Some(entry),
                        _ => None,
                    })
                    .collect();
                (*at, name, replayed)
            }
            // Journal lines with no input before them: nothing replays them.
            Record::Journal { entry } => (entry.at, "none", Vec::new()),
            Record::Header(_) => (self.engine.now().unwrap_or_default(), "header", Vec::new()),
        };
        let mut recorded = Vec::new();
        if let Record::Journal { entry } = record {
            recorded.push(entry.clone());
        }
        while let Some((_, Record::Journal { entry })) = self.records.get(self.next) {
            recorded.push(entry.clone());
            self.next += 1;
        }
        Some(Step {
            line: *line,
            at,
            input,
            recorded,
            replayed,
        })
    }
}

/// How a replay compared with its recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Inputs played.
    pub inputs: usize,
    /// Journal entries that came out the same.
    pub entries: usize,
    /// The first input whose answer differs; playing stops there.
    pub divergence: Option<Step>,
}

impl Verdict {
    fn new() -> Verdict {
        Verdict {
            inputs: 0,
            entries: 0,
            divergence: None,
        }
    }

    /// Counts a step that agrees, or keeps the first that does not; false once playing
    /// must stop (`verify` and `play` stop at the same step).
    fn count(&mut self, step: Step) -> bool {
        if !step.agrees() {
            self.divergence = Some(step);
            return false;
        }
        self.inputs += 1;
        self.entries += step.replayed.len();
        true
    }

    pub fn summary(&self, path: &Path) -> String {
        match &self.divergence {
            None => format!(
                "replayed {} inputs from {}: the same {} journal entries at the same times",
                self.inputs,
                path.display(),
                self.entries
            ),
            Some(step) => {
                let show = |es: &[Entry]| {
                    if es.is_empty() {
                        "    (nothing)".to_string()
                    } else {
                        es.iter()
                            .map(|e| format!("    {}", e.line()))
                            .collect::<Vec<_>>()
                            .join("\n")
                    }
                };
                format!(
                    "the replay diverged at {} ({}:{}, {} input) after {} inputs:\n  recorded:\n{}\n  replayed:\n{}",
                    step.at.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                    path.display(),
                    step.line,
                    step.input,
                    self.inputs,
                    show(&step.recorded),
                    show(&step.replayed)
                )
            }
        }
    }
}

/// Plays a whole recording as fast as it goes and compares every answer.
pub fn verify(recording: &Recording) -> Result<Verdict, RecordingError> {
    let mut verdict = Verdict::new();
    for step in Player::new(recording)? {
        if !verdict.count(step) {
            break;
        }
    }
    Ok(verdict)
}

/// Plays a recording, pacing the inputs at `speed` times their recorded engine time
/// (as fast as it goes when `None`); `each` sees every step as it is played.
pub(crate) async fn play(
    recording: &Recording,
    speed: Option<f64>,
    mut each: impl FnMut(&Step),
) -> Result<Verdict, RecordingError> {
    let mut player = Player::new(recording)?;
    let clock = match (speed, recording.span()) {
        (Some(s), Some((first, _))) => Some(Clock::starting(first, s)),
        _ => None,
    };
    let mut verdict = Verdict::new();
    loop {
        if let (Some(c), Some(at)) = (&clock, player.next_at()) {
            let wait = c.real_until(at);
            if wait > Duration::ZERO {
                tokio::time::sleep(wait).await;
            }
        }
        let Some(step) = player.next() else { break };
        each(&step);
        if !verdict.count(step) {
            break;
        }
    }
    Ok(verdict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::values::Batch;
    use crate::recording::fixtures::{at, batch, header, record, session};

    #[test]
    fn a_recording_reads_back_and_replays_the_same() {
        let bytes = record(session());
        let rec = Recording::parse(Path::new("r.jsonl"), &bytes).unwrap();
        assert_eq!(rec.header, header());
        assert_eq!(rec.torn, None);
        assert_eq!(rec.records[0].0, 2, "line numbers count the header");
        assert!(rec.journal().any(|e| e.action == "pause"), "{rec:?}");
        assert_eq!(rec.span(), Some((at(0), at(45))));
        assert_eq!(rec.batches().len(), 5);
        let verdict = verify(&rec).unwrap();
        assert_eq!(verdict.divergence, None);
        assert_eq!(verdict.inputs, 6);
        assert_eq!(verdict.entries, rec.journal().count());
    }

    fn calm(s: i64) -> Batch {
        batch(s, 0.002)
    }

    #[test]
    fn a_changed_sample_is_caught_as_a_divergence() {
        let bytes = record(session());
        let mut rec = Recording::parse(Path::new("r.jsonl"), &bytes).unwrap();
        // The spike that paused the rollout is taken out of the data.
        for (_, r) in &mut rec.records {
            if let Record::Input {
                input: Input::Samples { batch },
                ..
            } = r
                && batch.at == at(30)
            {
                *batch = calm(30);
            }
        }
        let verdict = verify(&rec).unwrap();
        let step = verdict.divergence.clone().expect("a divergence");
        assert_eq!(step.at, at(30));
        assert_eq!(step.input, "samples");
        assert!(step.recorded.iter().any(|e| e.action == "pause"));
        assert!(step.replayed.iter().all(|e| e.action != "pause"));
        let text = verdict.summary(Path::new("r.jsonl"));
        assert!(text.contains("r.jsonl:"), "{text}");
        assert!(text.contains("(nothing)"), "{text}");
    }
}
