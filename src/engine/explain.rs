//! engine::explain: the frozen record of a guardrail trip — the rule, its threshold and
//! baseline, how long it held, and the samples around it. The live engine and the backtest
//! both build it here, so a trip reads the same wherever it is told.

use chrono::{DateTime, Utc};

use crate::plan::{Plan, Unit};

use super::guardrail::{Explain, RuleState};
use super::history::Point;

/// How many metric intervals before the condition began a record reaches back.
const LEAD_INTERVALS: i32 = 4;
/// The most samples a record keeps (the newest).
const SAMPLES_KEPT: usize = 60;

/// The record of rule `rule` tripping at `at`, held since `state` says, against `threshold`
/// (NaN when it had none). `points` is the series' history, oldest first; the record
/// keeps those from a few intervals before the hold began up to `at`.
pub fn trip<'a>(
    plan: &Plan,
    rule: usize,
    state: &RuleState,
    at: DateTime<Utc>,
    baseline: Option<f64>,
    threshold: f64,
    points: impl IntoIterator<Item = &'a Point>,
) -> Explain {
    let r = &plan.guardrails.rules[rule];
    let series = plan.metrics.series(&r.metric);
    let since = state.holding_since.unwrap_or(at);
    let interval = chrono::Duration::from_std(plan.metrics.interval).unwrap_or_default();
    let from = since
        .checked_sub_signed(interval * LEAD_INTERVALS)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let mut samples: Vec<Point> = points
        .into_iter()
        .filter(|p| p.at >= from && p.at <= at)
        .copied()
        .collect();
    if samples.len() > SAMPLES_KEPT {
        samples.drain(..samples.len() - SAMPLES_KEPT);
    }
    Explain {
        rule,
        rule_text: r.text.clone(),
        metric: r.metric.clone(),
        query: series.and_then(|s| s.query.clone()),
        action: r.action,
        unit: series.map_or(Unit::Count, |s| s.unit),
        baseline,
        threshold,
        since,
        at,
        held_secs: (at - since).num_seconds(),
        samples,
    }
}
