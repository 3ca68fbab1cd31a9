//! backtest::trips: every guardrail judged on its own over the whole range, so a trip
//! counts even after the rollout has stopped; each trip is told by the engine's own
//! record, with how bad it got and when it cleared.

use std::collections::BTreeMap;

use crate::engine::explain;
use crate::engine::guardrail::{self, RuleState, Transition};
use crate::engine::health::breaks_above;
use crate::engine::history::Point;
use crate::engine::values::{Batch, Outcome, Reading};
use crate::plan::{Better, Condition, Plan};

use super::report::Trip;

/// Every guardrail evaluated on its own over the whole range, so a trip counts even after
/// the rollout has stopped (the engine's own record keeps only the latest few).
pub(super) struct Trips<'a> {
    plan: &'a Plan,
    states: Vec<RuleState>,
    /// The trip each rule is in, while it is.
    open: Vec<Option<usize>>,
    points: BTreeMap<&'a str, Vec<Point>>,
    pub(super) trips: Vec<Trip>,
}

impl<'a> Trips<'a> {
    pub(super) fn new(plan: &'a Plan) -> Trips<'a> {
        Trips {
            plan,
            states: vec![RuleState::default(); plan.guardrails.rules.len()],
            open: vec![None; plan.guardrails.rules.len()],
            points: plan
                .metrics
                .series
                .iter()
                .map(|s| (s.name.as_str(), Vec::new()))
                .collect(),
            trips: Vec::new(),
        }
    }

    pub(super) fn remember(&mut self, batch: &Batch) {
        for Reading { series, outcome } in &batch.readings {
            if let Some(points) = self.points.get_mut(series.as_str()) {
                points.push(Point {
                    at: batch.at,
                    value: finite(outcome),
                });
            }
        }
    }

    pub(super) fn observe(&mut self, baseline: &BTreeMap<String, f64>, batch: &Batch) {
        self.remember(batch);
        for (i, rule) in self.plan.guardrails.rules.iter().enumerate() {
            let (Some(series), Some(outcome)) = (
                self.plan.metrics.series(&rule.metric),
                batch.outcome(&rule.metric),
            ) else {
                continue;
            };
            let value = finite(outcome);
            let base = baseline.get(&rule.metric).copied();
            let threshold = guardrail::threshold(rule.condition, base, series.better);
            match guardrail::observe(
                &mut self.states[i],
                rule,
                batch.at,
                value,
                threshold,
                series.better,
            ) {
                Transition::Tripped => {
                    let explain = explain::trip(
                        self.plan,
                        i,
                        &self.states[i],
                        batch.at,
                        base,
                        threshold.unwrap_or(f64::NAN),
                        self.points.get(rule.metric.as_str()).into_iter().flatten(),
                    );
                    let held: Vec<f64> = explain
                        .samples
                        .iter()
                        .filter(|p| p.at >= explain.since)
                        .filter_map(|p| p.value)
                        .collect();
                    let worst = worst_of(held, rule.condition, series.better);
                    self.open[i] = Some(self.trips.len());
                    self.trips.push(Trip {
                        explain,
                        worst,
                        cleared: None,
                    });
                }
                Transition::Cleared => {
                    if let Some(t) = self.open[i].take() {
                        self.trips[t].cleared = Some(batch.at);
                    }
                }
                Transition::None => {
                    if let (Some(t), Some(v)) = (self.open[i], value) {
                        let trip = &mut self.trips[t];
                        trip.worst = worst_of(
                            trip.worst.into_iter().chain([v]).collect(),
                            rule.condition,
                            series.better,
                        );
                    }
                }
            }
        }
    }
}

fn finite(outcome: &Outcome) -> Option<f64> {
    match outcome {
        Outcome::Value(v) if v.is_finite() => Some(*v),
        _ => None,
    }
}

/// The value furthest past the rule's threshold.
fn worst_of(values: Vec<f64>, condition: Condition, better: Better) -> Option<f64> {
    // Past an upper limit the highest value is the worst; past a lower one, the lowest.
    let higher_is_worse = breaks_above(condition, better);
    values
        .into_iter()
        .reduce(|a, b| if (b > a) == higher_is_worse { b } else { a })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_value_follows_the_rule_direction() {
        assert_eq!(
            worst_of(vec![0.2, 0.5, 0.3], Condition::Above(0.1), Better::Lower),
            Some(0.5)
        );
        assert_eq!(
            worst_of(vec![0.2, 0.5, 0.1], Condition::Below(0.3), Better::Lower),
            Some(0.1)
        );
        assert_eq!(
            worst_of(
                vec![90.0, 70.0],
                Condition::Degradation(0.1),
                Better::Higher
            ),
            Some(70.0)
        );
        assert_eq!(worst_of(vec![], Condition::Above(0.1), Better::Lower), None);
    }
}
