//! metrics::replay: a flight recording played back as a metrics source
//! (`metrics.source: {kind: replay, path}`). Owns finding the recorded batch for an engine
//! time; reads the file once when opened, never invents a value, and answers for times
//! the recording does not cover with "missing", never with a neighbour's value.

use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{MetricsError, MetricsSource};
use crate::engine::values::{Batch, Exposure, Outcome, Reading};
use crate::plan::Series;
use crate::recording::{Recording, RecordingError};

/// Recorded sample batches, looked up by engine time.
#[derive(Debug, Clone)]
pub(crate) struct Replay {
    path: PathBuf,
    /// The plan's series, in plan order: every batch answers exactly these.
    series: Vec<String>,
    /// Oldest first, one per time.
    batches: Vec<Batch>,
    /// How far before the asked time a recorded batch still answers for it.
    tolerance: chrono::Duration,
}

impl Replay {
    /// The recording at `path`, for a plan with these `series` polled every `interval`.
    pub fn open(
        path: &Path,
        series: &[Series],
        interval: Duration,
    ) -> Result<Replay, MetricsError> {
        let recording = Recording::read(path)?;
        Replay::from_recording(&recording, series, interval)
    }

    /// Every plan series must appear in the recording; a missing one is named.
    pub(crate) fn from_recording(
        recording: &Recording,
        series: &[Series],
        interval: Duration,
    ) -> Result<Replay, MetricsError> {
        let batches = recording.batches();
        if batches.is_empty() {
            return Err(RecordingError::NoSamples {
                path: recording.path.clone(),
            }
            .into());
        }
        let mut found: Vec<&str> = batches
            .iter()
            .flat_map(|b| b.readings.iter().map(|r| r.series.as_str()))
            .collect();
        found.sort_unstable();
        found.dedup();
        if let Some(missing) = series.iter().find(|s| !found.contains(&s.name.as_str())) {
            return Err(RecordingError::MissingSeries {
                path: recording.path.clone(),
                series: missing.name.clone(),
                found: found.join(", "),
            }
            .into());
        }
        Ok(Replay {
            path: recording.path.clone(),
            series: series.iter().map(|s| s.name.clone()).collect(),
            batches,
            tolerance: chrono::Duration::from_std(interval)
                .unwrap_or(chrono::Duration::seconds(15)),
        })
    }

    /// The first and last recorded sample times.
    pub fn span(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        Some((self.batches.first()?.at, self.batches.last()?.at))
    }

    /// The newest recorded batch at or before `at`, if it is less than `tolerance` older.
    fn lookup(&self, at: DateTime<Utc>, tolerance: chrono::Duration) -> Option<&Batch> {
        let after = self.batches.partition_point(|b| b.at <= at);
        let b = self.batches.get(after.checked_sub(1)?)?;
        (at - b.at < tolerance).then_some(b)
    }

    /// `found`'s readings of the plan's series, stamped `at`; a series the batch lacks is
    /// missing. The canary judge's readings per arm come as recorded.
    fn answer(&self, at: DateTime<Utc>, found: &Batch) -> Batch {
        Batch {
            arms: found.arms.clone(),
            at,
            readings: self
                .series
                .iter()
                .map(|name| Reading {
                    series: name.clone(),
                    outcome: found.outcome(name).cloned().unwrap_or(Outcome::NoData),
                })
                .collect(),
        }
    }

    fn every(&self, at: DateTime<Utc>, outcome: Outcome) -> Batch {
        Batch {
            arms: Vec::new(),
            at,
            readings: self
                .series
                .iter()
                .map(|name| Reading {
                    series: name.clone(),
                    outcome: outcome.clone(),
                })
                .collect(),
        }
    }
}

impl MetricsSource for Replay {
    fn describe(&self) -> String {
        format!(
            "replay {} ({} batches)",
            self.path.display(),
            self.batches.len()
        )
    }

    /// Past either end of the recording every series reports an error saying so, so the
    /// data goes stale the way a dead source's would.
    fn poll(&mut self, at: DateTime<Utc>, _exposure: Exposure) -> BoxFuture<'_, Batch> {
        let batch = match (self.lookup(at, self.tolerance), self.span()) {
            (Some(found), _) => self.answer(at, found),
            (None, Some((first, _))) if at < first => self.every(
                at,
                Outcome::Error(format!(
                    "the recording {} starts at {}",
                    self.path.display(),
                    first.format("%Y-%m-%dT%H:%M:%SZ")
                )),
            ),
            (None, Some((_, last))) if at > last => self.every(
                at,
                Outcome::Error(format!(
                    "the recording {} ended at {}",
                    self.path.display(),
                    last.format("%Y-%m-%dT%H:%M:%SZ")
                )),
            ),
            (None, _) => self.every(
                at,
                Outcome::Error(format!(
                    "the recording {} has no sample at {}",
                    self.path.display(),
                    at.format("%Y-%m-%dT%H:%M:%SZ")
                )),
            ),
        };
        async move { batch }.boxed()
    }

    fn history(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        step: Duration,
    ) -> BoxFuture<'_, Vec<Batch>> {
        let step = chrono::Duration::from_std(step)
            .unwrap_or(chrono::Duration::seconds(15))
            .max(chrono::Duration::milliseconds(1));
        let mut out = Vec::new();
        let mut t = from;
        while t < to {
            // Before or after what was recorded, the source "answered with nothing".
            out.push(match self.lookup(t, step) {
                Some(found) => self.answer(t, found),
                None => self.every(t, Outcome::NoData),
            });
            t += step;
        }
        async move { out }.boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Engine, Input};
    use crate::plan::{Better, Unit};
    use crate::recording::{FORMAT, Header, Record, RecordedClock, RecordedPlan};
    use chrono::TimeZone;
    use std::sync::Arc;

    const PLAN: &str = "release: {name: r, version: '1', strategy: canary}\nflag: {name: f, backend: {kind: file, path: flags.yaml}}\nrollout:\n  steps:\n    - {name: A, percent: 10, bake: 1m}\nmetrics:\n  source: {kind: simulated, scenario: healthy}\n  interval: 15s\n";

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).single().unwrap()
    }

    fn series(name: &str) -> Series {
        Series {
            name: name.into(),
            query: None,
            unit: Unit::Ratio,
            better: Better::Lower,
        }
    }

    fn batch(s: i64, v: f64) -> Batch {
        Batch {
            arms: Vec::new(),
            at: at(s),
            readings: vec![
                Reading {
                    series: "error_rate".into(),
                    outcome: Outcome::Value(v),
                },
                Reading {
                    series: "cpu".into(),
                    outcome: Outcome::Value(0.4),
                },
            ],
        }
    }

    fn recording() -> Recording {
        let plan = crate::plan::parse(PLAN, Path::new("/x/plan.yaml")).unwrap();
        let engine = Engine::new(Arc::new(plan));
        let header = Header {
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
                speed: 1.0,
            },
            progress: engine.progress().clone(),
        };
        Recording {
            path: "rec.jsonl".into(),
            header,
            records: vec![
                (
                    2,
                    Record::Input {
                        at: at(0),
                        input: Input::History {
                            batches: vec![batch(-30, 0.01), batch(-15, 0.02)],
                        },
                    },
                ),
                (
                    3,
                    Record::Input {
                        at: at(15),
                        input: Input::Samples {
                            batch: batch(15, 0.03),
                        },
                    },
                ),
                (
                    4,
                    Record::Input {
                        at: at(30),
                        input: Input::Samples {
                            batch: batch(30, 0.04),
                        },
                    },
                ),
            ],
            torn: None,
        }
    }

    fn source() -> Replay {
        Replay::from_recording(
            &recording(),
            &[series("error_rate"), series("cpu")],
            Duration::from_secs(15),
        )
        .unwrap()
    }

    fn value(b: &Batch, name: &str) -> Option<f64> {
        match b.outcome(name) {
            Some(Outcome::Value(v)) => Some(*v),
            _ => None,
        }
    }

    #[tokio::test]
    async fn answers_with_the_recorded_batch_at_or_just_before_the_time() {
        let mut src = source();
        let b = src.poll(at(15), Exposure::default()).await;
        assert_eq!(b.at, at(15));
        assert_eq!(value(&b, "error_rate"), Some(0.03));
        // Asked between two samples: the older one still answers, stamped with the asked time.
        let b = src.poll(at(20), Exposure::default()).await;
        assert_eq!((b.at, value(&b, "error_rate")), (at(20), Some(0.03)));
        let names: Vec<&str> = b.readings.iter().map(|r| r.series.as_str()).collect();
        assert_eq!(names, ["error_rate", "cpu"], "plan order");
        assert!(src.describe().contains("rec.jsonl"));
        assert_eq!(src.span(), Some((at(-30), at(30))));
    }

    #[tokio::test]
    async fn past_the_end_and_before_the_start_every_series_says_why() {
        let mut src = source();
        let b = src.poll(at(60), Exposure::default()).await;
        for r in &b.readings {
            assert!(
                matches!(&r.outcome, Outcome::Error(t) if t.contains("ended at")),
                "{r:?}"
            );
        }
        let b = src.poll(at(-600), Exposure::default()).await;
        assert!(matches!(b.outcome("cpu"), Some(Outcome::Error(t)) if t.contains("starts at")));
    }

    #[tokio::test]
    async fn history_is_missing_where_nothing_was_recorded() {
        let mut src = source();
        let h = src.history(at(-60), at(45), Duration::from_secs(15)).await;
        let got: Vec<(i64, Option<f64>)> = h
            .iter()
            .map(|b| (b.at.timestamp() - 1_700_000_000, value(b, "error_rate")))
            .collect();
        assert_eq!(
            got,
            [
                (-60, None),
                (-45, None),
                (-30, Some(0.01)),
                (-15, Some(0.02)),
                (0, None),
                (15, Some(0.03)),
                (30, Some(0.04)),
            ]
        );
        assert_eq!(h[0].outcome("cpu"), Some(&Outcome::NoData));
    }

    #[test]
    fn a_series_the_recording_lacks_is_named() {
        let err = Replay::from_recording(
            &recording(),
            &[series("error_rate"), series("p95")],
            Duration::from_secs(15),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`p95`"), "{err}");
        assert!(err.contains("cpu, error_rate"), "{err}");
    }

    #[test]
    fn a_recording_without_samples_is_refused() {
        let mut r = recording();
        r.records.clear();
        let err = Replay::from_recording(&r, &[series("cpu")], Duration::from_secs(15))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no metric samples"), "{err}");
    }
}
