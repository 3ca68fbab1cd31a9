//! recorder: the flight recorder. Owns the recording format — JSON lines: a header with the
//! plan, the clock and the engine's starting state, then every input the engine was fed
//! (sample batches, commands, flag answers, ticks), each at its engine time, and every
//! journal entry the engine produced in answer — its writer, its reader, and the player
//! that feeds a recording back to a fresh engine. It never decides anything, and the writer
//! never does I/O on the caller's path: a thread writes.

use chrono::{DateTime, Utc};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::engine::journal::Entry;
use crate::engine::values::{Batch, Outcome};
use crate::engine::{Effect, Engine, Input, Progress};
use crate::plan::Plan;

/// The format this shipdeck writes and reads.
pub const FORMAT: u32 = 1;

const CORRUPT_HINT: &str = "a recording is written once and never edited: restore that line from a copy, or cut the file before it (the rest then plays without it)";

/// The first line of a recording.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Header {
    pub format: u32,
    /// The shipdeck version that recorded.
    pub shipdeck: String,
    /// Wall-clock time the recording began.
    pub recorded_at: DateTime<Utc>,
    pub operator: String,
    /// `screen` or `headless`.
    pub mode: String,
    pub plan: RecordedPlan,
    pub clock: RecordedClock,
    /// The engine's state when recording began: a resumed release starts mid-way.
    pub progress: Progress,
}

/// The plan as it was on disk, so a recording plays without the plan file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RecordedPlan {
    /// Where it was; its folder anchors the plan's relative paths.
    pub path: PathBuf,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RecordedClock {
    /// The engine clock when recording began.
    pub start: DateTime<Utc>,
    /// Engine seconds per real second.
    pub speed: f64,
}

/// One line of a recording.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Record {
    /// Only ever the first line.
    Header(Box<Header>),
    /// The engine was fed `input` at engine time `at`.
    Input { at: DateTime<Utc>, input: Input },
    /// The engine journaled `entry` in answer to the input before it.
    Journal { entry: Entry },
}

/// Recording or reading a recording went wrong; each variant says where and what to do.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error(
        "{} already exists; the flight recorder never overwrites a recording\n  hint: give --record a new file name, or move the old recording away",
        path.display()
    )]
    Exists { path: PathBuf },
    #[error("cannot create the recording {}: {source}\n  hint: check that the folder exists and is writable", path.display())]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the recording {}: {message}", path.display())]
    Write { path: PathBuf, message: String },
    #[error("cannot read the plan {} to record it: {source}", path.display())]
    PlanText {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the recording {}: {source}\n  hint: check the path; a recording is made with `shipdeck run PLAN --headless --record FILE`", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is empty: it holds no recording header\n  hint: record with `shipdeck run PLAN --headless --record FILE` or `shipdeck open PLAN --record FILE`", path.display())]
    Empty { path: PathBuf },
    #[error("{}:1: not a shipdeck recording: {message}\n  hint: the first line of a recording is its header (`\"record\":\"header\"`)", path.display())]
    NotARecording { path: PathBuf, message: String },
    #[error("{} is in recording format {found}; this shipdeck reads format {FORMAT}\n  hint: play it with the shipdeck version that recorded it", path.display())]
    Format { path: PathBuf, found: u32 },
    #[error("{}:{line}:{column}: {message}\n  hint: {hint}", path.display())]
    Corrupt {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
        hint: &'static str,
    },
    #[error("the plan recorded in {} does not load with this shipdeck:\n{errors}", path.display())]
    Plan { path: PathBuf, errors: String },
    #[error("{} holds no metric samples to play\n  hint: a recording gets samples once the metrics source answers; record for longer", path.display())]
    NoSamples { path: PathBuf },
    #[error(
        "series `{series}` is not in the recording {} (it holds {found})\n  hint: remove `{series}` from the plan's metrics, or play a recording made with it",
        path.display()
    )]
    MissingSeries {
        path: PathBuf,
        series: String,
        found: String,
    },
    #[error("cannot set up the replay: {0}")]
    Sandbox(String),
}

impl Header {
    /// The header of a recording that begins now; reads the plan's text from its file.
    pub fn new(
        plan: &Plan,
        operator: &str,
        mode: &str,
        clock: &Clock,
        progress: &Progress,
    ) -> Result<Header, RecordingError> {
        let text =
            std::fs::read_to_string(&plan.path).map_err(|source| RecordingError::PlanText {
                path: plan.path.clone(),
                source,
            })?;
        Ok(Header {
            format: FORMAT,
            shipdeck: env!("CARGO_PKG_VERSION").to_string(),
            recorded_at: Utc::now(),
            operator: operator.to_string(),
            mode: mode.to_string(),
            plan: RecordedPlan {
                // Absolute, so the recording means the same from any directory.
                path: std::path::absolute(&plan.path).unwrap_or_else(|_| plan.path.clone()),
                text,
            },
            clock: RecordedClock {
                start: clock.now(),
                speed: clock.speed(),
            },
            progress: progress.clone(),
        })
    }
}

/// Writes a recording from a thread of its own; dropping it without `finish` loses
/// nothing already handed over except what the process exit cuts short.
pub struct Recorder {
    tx: Option<std::sync::mpsc::Sender<Record>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Recorder {
    /// Creates `path` (never over an existing file), writes the header at once so a bad
    /// path fails here, and starts the writer. `on_error` hears about the first failed
    /// write; after it, the rest of the session goes unrecorded rather than half-recorded.
    pub fn start(
        path: &Path,
        header: Header,
        on_error: impl FnOnce(String) + Send + 'static,
    ) -> Result<Recorder, RecordingError> {
        let file = create_new(path)?;
        let mut out = BufWriter::new(file);
        let write_error = |e: std::io::Error| RecordingError::Write {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        write_line(&mut out, &Record::Header(Box::new(header))).map_err(write_error)?;
        out.flush().map_err(write_error)?;
        let (tx, rx) = std::sync::mpsc::channel::<Record>();
        let shown = path.display().to_string();
        let thread = std::thread::spawn(move || {
            let mut on_error = Some(on_error);
            let mut broken = false;
            while let Ok(first) = rx.recv() {
                if broken {
                    continue;
                }
                let mut result = write_line(&mut out, &first);
                // Whatever queued meanwhile goes out with the same flush.
                while result.is_ok()
                    && let Ok(next) = rx.try_recv()
                {
                    result = write_line(&mut out, &next);
                }
                if let Err(e) = result.and_then(|()| out.flush()) {
                    broken = true;
                    if let Some(tell) = on_error.take() {
                        tell(format!(
                            "cannot write {shown}: {e}; the rest of this session is not recorded"
                        ));
                    }
                }
            }
        });
        Ok(Recorder {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// The engine is fed `input` at engine time `at`.
    pub fn input(&self, at: DateTime<Utc>, input: &Input) {
        self.send(Record::Input {
            at,
            input: normalized(input),
        });
    }

    /// The engine journaled these in answer to the last input.
    pub fn journal(&self, entries: &[Entry]) {
        for entry in entries {
            self.send(Record::Journal {
                entry: entry.clone(),
            });
        }
    }

    fn send(&self, record: Record) {
        if let Some(tx) = &self.tx {
            // The writer only stops after reporting why; nothing more to say here.
            let _ = tx.send(record);
        }
    }

    /// Writes out everything handed over and waits for it (blocks: call off the async path).
    pub fn finish(mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn create_new(path: &Path) -> Result<std::fs::File, RecordingError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // It holds the plan and every value seen: private, like the state files.
        options.mode(0o600);
    }
    options.open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            RecordingError::Exists {
                path: path.to_path_buf(),
            }
        } else {
            RecordingError::Create {
                path: path.to_path_buf(),
                source,
            }
        }
    })
}

fn write_line(out: &mut impl Write, record: &Record) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, record).map_err(std::io::Error::other)?;
    out.write_all(b"\n")
}

/// JSON has no NaN: a non-finite value is stored as the missing value it means to the
/// engine (which treats both alike), so every line reads back.
fn normalized(input: &Input) -> Input {
    let clean = |b: &Batch| Batch {
        at: b.at,
        readings: b
            .readings
            .iter()
            .map(|r| crate::engine::values::Reading {
                series: r.series.clone(),
                outcome: match r.outcome {
                    Outcome::Value(v) if !v.is_finite() => Outcome::NoData,
                    ref other => other.clone(),
                },
            })
            .collect(),
    };
    match input {
        Input::Samples { batch } => Input::Samples {
            batch: clean(batch),
        },
        Input::History { batches } => Input::History {
            batches: batches.iter().map(clean).collect(),
        },
        other => other.clone(),
    }
}

/// A recording as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    pub path: PathBuf,
    pub header: Header,
    /// Inputs and journal entries in recorded order, each with its 1-based line number.
    pub records: Vec<(usize, Record)>,
    /// A last line cut short (the recording process was killed), skipped.
    pub torn: Option<usize>,
}

impl Recording {
    pub fn read(path: &Path) -> Result<Recording, RecordingError> {
        let bytes = std::fs::read(path).map_err(|source| RecordingError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Recording::parse(path, &bytes)
    }

    /// Reads recording `bytes`; `path` names it in errors. A bad last line is tolerated
    /// (a recording process killed mid-write); a bad line before it is an error.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Recording, RecordingError> {
        let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(RecordingError::Empty {
                path: path.to_path_buf(),
            });
        }
        let lines: Vec<&[u8]> = body.split(|b| *b == b'\n').collect();
        let header = match serde_json::from_slice::<Record>(lines[0]) {
            Ok(Record::Header(h)) => *h,
            Ok(_) => {
                return Err(RecordingError::NotARecording {
                    path: path.to_path_buf(),
                    message: "the first line is not the header".into(),
                });
            }
            Err(e) => {
                // A newer format may not parse as this one's header: say so before anything else.
                if let Ok(v) = serde_json::from_slice::<serde_json::Value>(lines[0])
                    && v["record"] == "header"
                    && let Some(found) = v["format"].as_u64()
                    && found != u64::from(FORMAT)
                {
                    return Err(RecordingError::Format {
                        path: path.to_path_buf(),
                        found: u32::try_from(found).unwrap_or(u32::MAX),
                    });
                }
                return Err(RecordingError::NotARecording {
                    path: path.to_path_buf(),
                    message: without_position(&e),
                });
            }
        };
        if header.format != FORMAT {
            return Err(RecordingError::Format {
                path: path.to_path_buf(),
                found: header.format,
            });
        }
        let mut records = Vec::with_capacity(lines.len());
        let mut torn = None;
        let last = lines.len();
        for (i, line) in lines.iter().enumerate().skip(1) {
            let number = i + 1;
            match serde_json::from_slice::<Record>(line) {
                Ok(Record::Header(_)) => {
                    return Err(RecordingError::Corrupt {
                        path: path.to_path_buf(),
                        line: number,
                        column: 1,
                        message: "a second header: two recordings were joined into one file".into(),
                        hint: "split the file where the second header starts",
                    });
                }
                Ok(record) => records.push((number, record)),
                Err(_) if number == last => torn = Some(number),
                Err(e) => {
                    return Err(RecordingError::Corrupt {
                        path: path.to_path_buf(),
                        line: number,
                        column: e.column(),
                        message: without_position(&e),
                        hint: CORRUPT_HINT,
                    });
                }
            }
        }
        Ok(Recording {
            path: path.to_path_buf(),
            header,
            records,
            torn,
        })
    }

    /// The recorded plan, validated again by this shipdeck.
    pub fn plan(&self) -> Result<Plan, RecordingError> {
        crate::plan::parse(&self.header.plan.text, &self.header.plan.path).map_err(|e| {
            RecordingError::Plan {
                path: self.path.clone(),
                errors: e.to_string(),
            }
        })
    }

    /// Every recorded sample batch (backfilled history and live samples) by time, oldest
    /// first; where two share a time, the later record wins.
    pub fn batches(&self) -> Vec<Batch> {
        let mut by_time = std::collections::BTreeMap::new();
        for (_, record) in &self.records {
            match record {
                Record::Input {
                    input: Input::Samples { batch },
                    ..
                } => {
                    by_time.insert(batch.at, batch.clone());
                }
                Record::Input {
                    input: Input::History { batches },
                    ..
                } => {
                    for b in batches {
                        by_time.insert(b.at, b.clone());
                    }
                }
                _ => {}
            }
        }
        by_time.into_values().collect()
    }

    /// The journal entries the engine produced, in order.
    pub fn journal(&self) -> impl Iterator<Item = &Entry> {
        self.records.iter().filter_map(|(_, r)| match r {
            Record::Journal { entry } => Some(entry),
            _ => None,
        })
    }

    /// Engine time of the first and the last input.
    pub fn span(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let mut times = self.records.iter().filter_map(|(_, r)| match r {
            Record::Input { at, .. } => Some(*at),
            _ => None,
        });
        let first = times.next()?;
        let last = times.next_back().unwrap_or(first);
        Some((first, last))
    }
}

/// serde_json appends " at line L column C"; the caller names the position itself.
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// The short name of an input, for messages.
pub fn input_name(input: &Input) -> &'static str {
    match input {
        Input::Samples { .. } => "samples",
        Input::History { .. } => "history",
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
    pub fn agrees(&self) -> bool {
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
    pub fn next_at(&self) -> Option<DateTime<Utc>> {
        self.records[self.next..].iter().find_map(|(_, r)| match r {
            Record::Input { at, .. } => Some(*at),
            _ => None,
        })
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
    let mut verdict = Verdict {
        inputs: 0,
        entries: 0,
        divergence: None,
    };
    for step in Player::new(recording)? {
        if !step.agrees() {
            verdict.divergence = Some(step);
            break;
        }
        verdict.inputs += 1;
        verdict.entries += step.replayed.len();
    }
    Ok(verdict)
}

/// Plays a recording, pacing the inputs at `speed` times their recorded engine time
/// (as fast as it goes when `None`); `each` sees every step as it is played.
pub async fn play(
    recording: &Recording,
    speed: Option<f64>,
    mut each: impl FnMut(&Step),
) -> Result<Verdict, RecordingError> {
    let mut player = Player::new(recording)?;
    let clock = match (speed, recording.span()) {
        (Some(s), Some((first, _))) => Some(Clock::starting(first, s)),
        _ => None,
    };
    let mut verdict = Verdict {
        inputs: 0,
        entries: 0,
        divergence: None,
    };
    loop {
        if let (Some(c), Some(at)) = (&clock, player.next_at()) {
            let wait = c.real_until(at);
            if wait > Duration::ZERO {
                tokio::time::sleep(wait).await;
            }
        }
        let Some(step) = player.next() else { break };
        each(&step);
        if !step.agrees() {
            verdict.divergence = Some(step);
            break;
        }
        verdict.inputs += 1;
        verdict.entries += step.replayed.len();
    }
    Ok(verdict)
}

/// Plays a recording with no screen, printing what the engine journals (JSON lines with
/// `json`) and, last, whether it decided as recorded: 0 the same, 1 it diverged.
pub async fn play_headless(recording: &Recording, speed: Option<f64>, json: bool) -> u8 {
    let printed = play(recording, speed, |step| {
        for e in &step.replayed {
            if json {
                match serde_json::to_string(e) {
                    Ok(line) => out!("{line}"),
                    Err(err) => out!("{{\"error\":\"{err}\"}}"),
                }
            } else {
                out!(
                    "{} {:<10} {} ({})",
                    e.at.format("%Y-%m-%dT%H:%M:%SZ"),
                    e.action,
                    e.reason,
                    e.operator
                );
            }
        }
    })
    .await;
    let (code, why) = match printed {
        Ok(v) => (u8::from(v.divergence.is_some()), v.summary(&recording.path)),
        Err(e) => (1, e.to_string()),
    };
    if json {
        out!("{}", serde_json::json!({"exit": code, "why": why}));
    } else {
        eprintln!("{why}");
    }
    code
}

/// A recording played on the screen: the recorded plan in a temporary directory of its
/// own — the flag in a scratch flag file, the metrics from the recording (the `replay`
/// source), no notifications, no pipeline commands — with the recorded operators'
/// commands, stage results and check results handed to the controller at their recorded
/// engine times. The directory lives as long as the returned `TempDir`.
pub async fn sandbox(
    recording: &Recording,
    speed: Option<f64>,
    operator: String,
) -> Result<(tempfile::TempDir, crate::controller::Session), RecordingError> {
    use crate::plan::{BackendSpec, SourceSpec, StageSource, StageStatus};
    use crate::store::ReleaseStore;
    let fail =
        |what: &str, e: &dyn std::fmt::Display| RecordingError::Sandbox(format!("{what}: {e}"));
    let mut plan = recording.plan()?;
    let dir = tempfile::Builder::new()
        .prefix("shipdeck-replay-")
        .tempdir()
        .map_err(|e| fail("cannot create a temporary directory", &e))?;
    let flags = dir.path().join("flags.yaml");
    let name = serde_json::to_string(&plan.flag.name).map_err(|e| fail("flag name", &e))?;
    std::fs::write(
        &flags,
        format!(
            "flags:\n  {name}: {{enabled: false, rollout: 0.0, userGroups: [], kind: {}}}\n",
            plan.flag.kind.name()
        ),
    )
    .map_err(|e| fail("cannot write the scratch flag file", &e))?;
    plan.flag.backend = BackendSpec::File { path: flags };
    plan.metrics.source = SourceSpec::Replay {
        path: recording.path.clone(),
    };
    plan.notify.clear();
    for stage in &mut plan.pipeline {
        if matches!(
            stage.source,
            StageSource::Command { .. } | StageSource::StatusFile(_)
        ) {
            stage.source = StageSource::Static(StageStatus::Pending);
        }
    }
    let store = crate::store::FileStore::open(&dir.path().join(".shipdeck"))
        .map_err(|e| fail("cannot open the scratch state directory", &e))?;
    store
        .save(&recording.header.progress)
        .map_err(|e| fail("cannot write the starting state", &e))?;
    let clock = Clock::starting(
        recording.header.clock.start,
        speed.unwrap_or(recording.header.clock.speed),
    );
    let opts = crate::controller::Options::new(operator, clock, "replay");
    let session = crate::controller::open(Arc::new(plan), opts, Arc::new(store))
        .await
        .map_err(|e| fail("cannot open the recorded release", &e))?;
    let crate::controller::Session {
        controller,
        mut messages,
    } = session;
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    let forward = tx.clone();
    tokio::spawn(async move {
        while let Some(m) = messages.recv().await {
            if forward.send(m).await.is_err() {
                return;
            }
        }
    });
    let cues = cues(recording);
    tokio::spawn(async move {
        for (at, message) in cues {
            tokio::time::sleep(clock.real_until(at)).await;
            if tx.send(message).await.is_err() {
                return;
            }
        }
    });
    Ok((
        dir,
        crate::controller::Session {
            controller,
            messages: rx,
        },
    ))
}

/// What people and the pipeline did during the recording, as the messages that carry it
/// to a controller; samples and flag answers come from the sandbox's own adapters.
fn cues(recording: &Recording) -> Vec<(DateTime<Utc>, crate::controller::Message)> {
    use crate::controller::Message;
    recording
        .records
        .iter()
        .filter_map(|(_, r)| match r {
            Record::Input {
                at,
                input:
                    Input::Command {
                        command,
                        operator,
                        reason,
                    },
            } => Some((
                *at,
                Message::Request(crate::store::InboxRequest {
                    id: crate::store::new_request_id(),
                    command: command.clone(),
                    operator: operator.clone(),
                    reason: reason.clone(),
                    at: *at,
                }),
            )),
            Record::Input {
                at,
                input: input @ (Input::Stage { .. } | Input::Check { .. }),
            } => Some((*at, Message::Input(input.clone()))),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Command;
    use crate::engine::values::Reading;
    use chrono::TimeZone;

    const PLAN: &str = "release: {name: r, version: '1', strategy: canary}\nflag: {name: f, backend: {kind: file, path: flags.yaml}}\nrollout:\n  steps:\n    - {name: A, percent: 10, bake: 1m}\nmetrics:\n  source: {kind: simulated, scenario: healthy}\n  interval: 15s\nguardrails:\n  rules:\n    - {metric: error_rate, above: 1%, action: pause}\n";

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).single().unwrap()
    }

    fn header() -> Header {
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

    fn batch(s: i64, v: f64) -> Batch {
        Batch {
            at: at(s),
            readings: vec![Reading {
                series: "error_rate".into(),
                outcome: Outcome::Value(v),
            }],
        }
    }

    /// What a controller would write: each input, then the engine's journal entries.
    fn record(inputs: Vec<(i64, Input)>) -> Vec<u8> {
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

    fn session() -> Vec<(i64, Input)> {
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

    #[test]
    fn non_finite_values_are_recorded_as_missing() {
        let input = Input::Samples {
            batch: batch(0, f64::NAN),
        };
        let mut out = Vec::new();
        write_line(
            &mut out,
            &Record::Input {
                at: at(0),
                input: normalized(&input),
            },
        )
        .unwrap();
        let back: Record = serde_json::from_slice(&out).unwrap();
        let Record::Input {
            input: Input::Samples { batch },
            ..
        } = back
        else {
            panic!("not samples: {back:?}");
        };
        assert_eq!(batch.readings[0].outcome, Outcome::NoData);
    }

    #[test]
    fn values_survive_the_round_trip_bit_for_bit() {
        let v = 0.1 + 0.2;
        let mut out = Vec::new();
        write_line(
            &mut out,
            &Record::Input {
                at: at(0),
                input: Input::Samples { batch: batch(0, v) },
            },
        )
        .unwrap();
        let back: Record = serde_json::from_slice(&out).unwrap();
        assert!(
            matches!(back, Record::Input { input: Input::Samples { ref batch }, .. }
                if batch.readings[0].outcome == Outcome::Value(v)),
            "{back:?}"
        );
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_a_torn_middle_line_is_an_error() {
        let mut bytes = record(session());
        bytes.extend_from_slice(b"{\"record\":\"input\",\"at\":\"20");
        let rec = Recording::parse(Path::new("r.jsonl"), &bytes).unwrap();
        let lines = bytes.iter().filter(|b| **b == b'\n').count() + 1;
        assert_eq!(rec.torn, Some(lines));

        let mut bytes = record(session());
        let good = record(session());
        let second_line_end = good.iter().position(|b| *b == b'\n').unwrap() + 1;
        bytes.splice(
            second_line_end..second_line_end,
            b"{nope}\n".iter().copied(),
        );
        match Recording::parse(Path::new("/r.jsonl"), &bytes) {
            Err(e @ RecordingError::Corrupt { line: 2, .. }) => {
                assert!(e.to_string().starts_with("/r.jsonl:2:"), "{e}");
            }
            other => panic!("expected line 2 to be corrupt, got {other:?}"),
        }
    }

    #[test]
    fn files_that_are_not_recordings_say_so() {
        let p = Path::new("x.jsonl");
        assert!(matches!(
            Recording::parse(p, b""),
            Err(RecordingError::Empty { .. })
        ));
        assert!(matches!(
            Recording::parse(p, b"{\"at\":\"2024-01-01T00:00:00Z\"}\n"),
            Err(RecordingError::NotARecording { .. })
        ));
        assert!(matches!(
            Recording::parse(p, b"{\"record\":\"header\",\"format\":99}\n"),
            Err(RecordingError::Format { found: 99, .. })
        ));
        let bytes = record(session());
        let mut doubled = bytes.clone();
        doubled.extend_from_slice(&bytes);
        assert!(matches!(
            Recording::parse(p, &doubled),
            Err(RecordingError::Corrupt { .. })
        ));
    }

    #[test]
    fn the_writer_refuses_to_overwrite_and_writes_everything_handed_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.jsonl");
        let rec = Recorder::start(&path, header(), |e| panic!("{e}")).unwrap();
        for (s, input) in session() {
            rec.input(at(s), &input);
        }
        rec.journal(&[]);
        rec.finish();
        let read = Recording::read(&path).unwrap();
        assert_eq!(read.records.len(), session().len());
        assert!(matches!(
            Recorder::start(&path, header(), |_| {}),
            Err(RecordingError::Exists { .. })
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "private: {mode:o}");
        }
    }
}
