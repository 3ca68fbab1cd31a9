//! engine::incident: the metrics around a rollback, kept with the release. The history
//! is a ring that a fast clock empties within minutes; the incident stays, so the screen
//! and `status` still show what the rollback was about long after. Pure data, filled by
//! the engine when it rolls back and for a few intervals after.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

use super::Engine;
use super::guardrail::Explain;
use super::history::Point;
use super::values::{Batch, Outcome};

/// Intervals before the causing rule began to hold that the incident reaches back.
const LEAD_INTERVALS: i32 = 4;
/// Samples each series keeps from before the rollback: enough to fill a wide pane.
const KEPT_BEFORE: usize = 160;
/// Intervals after the rollback still added: the recovery, once the flag is off.
const AFTER_INTERVALS: i32 = 8;

/// The samples around a rollback.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Incident {
    /// The sample time the rollback was decided at.
    pub at: DateTime<Utc>,
    /// Where the incident starts: a few intervals before the causing rule began to hold
    /// (or before `at`, for a rollback no guardrail made).
    pub from: DateTime<Utc>,
    /// Until when samples are still added to it.
    pub until: DateTime<Utc>,
    /// Every series' samples from before `from` to `until`, oldest first.
    pub samples: BTreeMap<String, Vec<Point>>,
}

impl Incident {
    /// The newest sample time kept.
    pub fn end(&self) -> DateTime<Utc> {
        self.samples
            .values()
            .filter_map(|p| p.last())
            .map(|p| p.at)
            .max()
            .unwrap_or(self.at)
    }
}

impl Engine {
    /// Keeps the samples around a rollback decided at `now` (`trip`, when a guardrail
    /// made it).
    pub(super) fn keep_incident(&mut self, now: DateTime<Utc>, trip: Option<&Explain>) {
        let interval = chrono::Duration::from_std(self.plan.metrics.interval).unwrap_or_default();
        let at = trip.map_or_else(
            || {
                self.history
                    .values()
                    .filter_map(|h| h.last())
                    .map(|p| p.at)
                    .max()
                    .unwrap_or(now)
                    .min(now)
            },
            |t| t.at,
        );
        let began = trip.map_or(at, |t| t.since);
        let from = began
            .checked_sub_signed(interval * LEAD_INTERVALS)
            .unwrap_or(began);
        let until = at
            .checked_add_signed(interval * AFTER_INTERVALS)
            .unwrap_or(at);
        let samples = self
            .history
            .iter()
            .map(|(name, h)| {
                let before: Vec<Point> = h.iter().filter(|p| p.at <= at).copied().collect();
                let skip = before.len().saturating_sub(KEPT_BEFORE);
                (name.clone(), before[skip..].to_vec())
            })
            .collect();
        self.progress.incident = Some(Incident {
            at,
            from,
            until,
            samples,
        });
    }

    /// Adds a batch's samples to the incident while it is still being followed.
    pub(super) fn follow_incident(&mut self, batch: &Batch) {
        let Some(incident) = self.progress.incident.as_mut() else {
            return;
        };
        if batch.at <= incident.at || batch.at > incident.until {
            return;
        }
        for reading in &batch.readings {
            let Some(points) = incident.samples.get_mut(&reading.series) else {
                continue;
            };
            if points.last().is_some_and(|p| p.at >= batch.at) {
                continue;
            }
            let value = match reading.outcome {
                Outcome::Value(v) if v.is_finite() => Some(v),
                _ => None,
            };
            points.push(Point {
                at: batch.at,
                value,
            });
        }
    }
}
