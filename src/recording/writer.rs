//! recording::writer: the flight recorder's writing side. Owns `Recorder` — the file
//! created fresh (never over another), the header written at once, then every input and
//! journal entry handed over, written by a thread of its own. It never does I/O on the
//! caller's path and never decides anything.

use chrono::{DateTime, Utc};
use std::io::{BufWriter, Write};
use std::path::Path;

use super::format::{Header, Record, RecordingError};
use crate::engine::Input;
use crate::engine::journal::Entry;
use crate::engine::values::{ArmReading, Batch, Outcome};

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

pub(super) fn write_line(out: &mut impl Write, record: &Record) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, record).map_err(std::io::Error::other)?;
    out.write_all(b"\n")
}

/// JSON has no NaN: a non-finite value is stored as the missing value it means to the
/// engine (which treats both alike), so every line reads back. The canary judge's readings
/// per arm are recorded with the series', so that a replay judges what the run judged.
pub(super) fn normalized(input: &Input) -> Input {
    let finite = |o: &Outcome| match o {
        Outcome::Value(v) if !v.is_finite() => Outcome::NoData,
        other => other.clone(),
    };
    let clean = |b: &Batch| Batch {
        arms: b
            .arms
            .iter()
            .map(|a| ArmReading {
                key: a.key.clone(),
                canary: finite(&a.canary),
                baseline: finite(&a.baseline),
            })
            .collect(),
        at: b.at,
        readings: b
            .readings
            .iter()
            .map(|r| crate::engine::values::Reading {
                series: r.series.clone(),
                outcome: finite(&r.outcome),
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
        Input::CatchUp { since, batches } => Input::CatchUp {
            since: *since,
            batches: batches.iter().map(clean).collect(),
        },
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::values::{ArmKey, Outcome};
    use crate::recording::Recording;
    use crate::recording::fixtures::{at, batch, header, session};

    #[test]
    fn non_finite_values_are_recorded_as_missing() {
        let mut b = batch(0, f64::NAN);
        b.arms = vec![ArmReading {
            key: ArmKey::Series("p95".into()),
            canary: Outcome::Value(f64::INFINITY),
            baseline: Outcome::Value(0.3),
        }];
        let input = Input::Samples { batch: b };
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
        // The arms are recorded too, the judge's readings as the engine took them.
        assert_eq!(
            batch.arms,
            [ArmReading {
                key: ArmKey::Series("p95".into()),
                canary: Outcome::NoData,
                baseline: Outcome::Value(0.3),
            }]
        );
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
