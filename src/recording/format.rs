//! recording::format: the flight recorder's format — JSON lines: a header with the plan,
//! the clock and the engine's starting state, then every input the engine was fed (sample
//! batches, commands, flag answers, ticks), each at its engine time, and every journal
//! entry the engine produced in answer. Owns the record types and reading a recording
//! back; it never writes a file and never feeds an engine.

use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};

use crate::clock::Clock;
use crate::engine::journal::Entry;
use crate::engine::values::Batch;
use crate::engine::{Input, Progress};
use crate::plan::Plan;
use crate::support::jsonl::{self, Line};

/// The format this shipdeck writes and reads.
pub(crate) const FORMAT: u32 = 1;

const CORRUPT_HINT: &str = "a recording is written once and never edited: restore that line from a copy, or cut the file before it (the rest then plays without it)";

/// The first line of a recording.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Header {
    pub format: u32,
    /// The shipdeck version that recorded.
    pub shipdeck: String,
    /// Wall-clock time the recording began.
    pub(crate) recorded_at: DateTime<Utc>,
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

impl Record {
    /// The engine time of an input line; other lines have none.
    pub(super) fn input_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Record::Input { at, .. } => Some(*at),
            _ => None,
        }
    }
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
        // A recording is passed around: the password of a URL in the plan stays behind.
        let text = crate::support::escape::passwords(&text).into_owned();
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
        let (first, rest) = match bytes.iter().position(|b| *b == b'\n') {
            Some(end) => (&bytes[..end], &bytes[end + 1..]),
            None => (bytes, &[][..]),
        };
        let header = match serde_json::from_slice::<Record>(first) {
            Ok(Record::Header(h)) => *h,
            Ok(_) => {
                return Err(RecordingError::NotARecording {
                    path: path.to_path_buf(),
                    message: "the first line is not the header".into(),
                });
            }
            Err(e) => {
                // A newer format may not parse as this one's header: say so before anything else.
                if let Ok(v) = serde_json::from_slice::<serde_json::Value>(first)
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
                    message: jsonl::error_text(&e),
                });
            }
        };
        if header.format != FORMAT {
            return Err(RecordingError::Format {
                path: path.to_path_buf(),
                found: header.format,
            });
        }
        let mut records = Vec::new();
        let mut torn = None;
        for line in jsonl::lines::<Record>(rest, 2) {
            match line {
                Ok(Line::Whole(number, Record::Header(_))) => {
                    return Err(RecordingError::Corrupt {
                        path: path.to_path_buf(),
                        line: number,
                        column: 1,
                        message: "a second header: two recordings were joined into one file".into(),
                        hint: "split the file where the second header starts",
                    });
                }
                Ok(Line::Whole(number, record)) => records.push((number, record)),
                Ok(Line::Torn(t)) => torn = Some(t.line),
                Err(bad) => {
                    return Err(RecordingError::Corrupt {
                        path: path.to_path_buf(),
                        line: bad.line,
                        column: bad.column,
                        message: bad.message,
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
        let mut times = self.records.iter().filter_map(|(_, r)| r.input_at());
        let first = times.next()?;
        let last = times.next_back().unwrap_or(first);
        Some((first, last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::fixtures::{record, session};

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
}
