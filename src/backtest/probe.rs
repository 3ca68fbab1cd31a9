//! backtest::probe: `shipdeck check`'s one poll of every query of the plan's source, and
//! how each answer reads. Writes nothing.

use chrono::{DateTime, Utc};
use std::fmt::Write as _;

use crate::engine::guardrail::format_value;
use crate::engine::values::{Outcome, Reading};
use crate::metrics::MetricsError;
use crate::plan::{Plan, SourceSpec, Unit};
use crate::support::escape::shown;

use super::stamp;

/// One poll of every query, for `shipdeck check`.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub source: String,
    pub at: DateTime<Utc>,
    pub readings: Vec<Reading>,
}

impl Probe {
    /// Series whose query failed (an error, not an empty answer).
    pub fn failures(&self) -> usize {
        self.readings
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Error(_)))
            .count()
    }

    pub fn text(&self, plan: &Plan) -> String {
        let mut out = format!("probed {} at {}:\n", self.source, stamp(self.at));
        let width = self
            .readings
            .iter()
            .map(|r| r.series.len())
            .max()
            .unwrap_or(0);
        for r in &self.readings {
            let unit = plan
                .metrics
                .series(&r.series)
                .map(|s| s.unit)
                .unwrap_or(Unit::Count);
            let what = match &r.outcome {
                Outcome::Value(v) => format!("ok {}", format_value(*v, unit)),
                Outcome::NoData => {
                    "no data: the query matched nothing at that time; check its labels".into()
                }
                Outcome::Error(e) => format!("error: {e}"),
            };
            let _ = writeln!(out, "  {:<width$}  {}", r.series, shown(&what));
        }
        out
    }
}

/// Runs every query of the plan's source once at `at`. Sources with nothing to ask
/// (simulated) give `None`; a replay source is opened, which checks the recording.
pub async fn probe(plan: &Plan, at: DateTime<Utc>) -> Result<Option<Probe>, MetricsError> {
    let mut source = crate::metrics::open(&plan.metrics)?;
    if !matches!(plan.metrics.source, SourceSpec::Prometheus { .. }) {
        return Ok(None);
    }
    // Judged as the engine would: a value no reading of its unit can have is an error.
    let batch = source
        .poll(at, Default::default())
        .await
        .checked(&plan.metrics);
    Ok(Some(Probe {
        source: source.describe(),
        at,
        readings: batch.readings,
    }))
}
