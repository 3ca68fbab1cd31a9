//! metrics::prometheus::history: a past range read with range queries — every series of
//! the plan and, for the canary judge, each arm's canary and baseline query — laid out as
//! one batch per instant, as polls at those instants would have answered. A point the
//! server has no value for is missing; a query that failed fails at every instant.

use chrono::{DateTime, Utc};
use futures::future::join_all;
use std::collections::HashMap;
use std::time::Duration;

use super::answer::range_answer;
use super::{Prometheus, Query, unix_seconds};
use crate::engine::values::{ArmReading, Batch, Outcome, Reading};

/// Prometheus refuses range queries above 11,000 points per series; stay under it.
const MAX_POINTS_PER_RANGE: usize = 10_000;

/// One query's points over the range, keyed by epoch ms; `Err` says why the query failed.
type Points = Result<HashMap<i64, Outcome>, String>;

impl Prometheus {
    /// One batch every `step` over `[from, to)`, oldest first.
    pub(super) async fn range_batches(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        step: Duration,
    ) -> Vec<Batch> {
        let step_ms = i64::try_from(step.as_millis()).unwrap_or(i64::MAX).max(1);
        let instants = instants(from.timestamp_millis(), to.timestamp_millis(), step_ms);
        if instants.is_empty() {
            return Vec::new();
        }
        let series = join_all(
            self.series
                .iter()
                .map(|q| self.range(q, &instants, step_ms)),
        );
        let arms = join_all(self.arms.iter().map(|a| async {
            futures::join!(
                self.range(&a.canary, &instants, step_ms),
                self.range(&a.baseline, &instants, step_ms)
            )
        }));
        let (series, arms) = futures::join!(series, arms);
        instants
            .iter()
            .filter_map(|&t| {
                Some(Batch {
                    at: DateTime::<Utc>::from_timestamp_millis(t)?,
                    readings: self
                        .series
                        .iter()
                        .zip(&series)
                        .map(|(q, points)| Reading {
                            series: q.name.clone(),
                            outcome: at_instant(points, t),
                        })
                        .collect(),
                    arms: self
                        .arms
                        .iter()
                        .zip(&arms)
                        .map(|(a, (canary, baseline))| ArmReading {
                            key: a.key.clone(),
                            canary: at_instant(canary, t),
                            baseline: at_instant(baseline, t),
                        })
                        .collect(),
                })
            })
            .collect()
    }

    /// Every point of `query` at `instants` (epoch ms, evenly `step_ms` apart), keyed by time.
    async fn range(&self, query: &Query, instants: &[i64], step_ms: i64) -> Points {
        let mut points = HashMap::new();
        for chunk in instants.chunks(MAX_POINTS_PER_RANGE) {
            let (Some(first), Some(last)) = (chunk.first(), chunk.last()) else {
                continue;
            };
            let mut url = self.range_url.clone();
            url.query_pairs_mut()
                .append_pair("query", &query.promql)
                .append_pair("start", &unix_seconds(*first))
                .append_pair("end", &unix_seconds(*last))
                .append_pair("step", &unix_seconds(step_ms));
            let (status, body) = self.fetch(url).await?;
            points.extend(range_answer(&query.name, status, &body, &self.origin())?);
        }
        Ok(points)
    }
}

/// `[from_ms, to_ms)` every `step_ms`.
fn instants(from_ms: i64, to_ms: i64, step_ms: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let mut t = from_ms;
    while t < to_ms {
        out.push(t);
        match t.checked_add(step_ms) {
            Some(next) => t = next,
            None => break,
        }
    }
    out
}

/// What one query answered for instant `t`: its point, missing, or the query's failure.
fn at_instant(points: &Points, t: i64) -> Outcome {
    match points {
        Ok(points) => points.get(&t).cloned().unwrap_or(Outcome::NoData),
        Err(text) => Outcome::Error(text.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_cover_the_half_open_range() {
        assert_eq!(instants(0, 45_000, 15_000), [0, 15_000, 30_000]);
        assert_eq!(instants(0, 45_001, 15_000), [0, 15_000, 30_000, 45_000]);
        assert!(instants(10, 10, 1).is_empty());
        assert_eq!(instants(i64::MAX - 1, i64::MAX, 5), [i64::MAX - 1]);
    }

    #[test]
    fn a_missing_point_is_no_data_and_a_failed_query_fails_everywhere() {
        let points: Points = Ok(HashMap::from([(15_000, Outcome::Value(0.5))]));
        assert_eq!(at_instant(&points, 15_000), Outcome::Value(0.5));
        assert_eq!(at_instant(&points, 30_000), Outcome::NoData);
        let failed: Points = Err("bad_data".into());
        assert_eq!(
            at_instant(&failed, 15_000),
            Outcome::Error("bad_data".into())
        );
    }
}
