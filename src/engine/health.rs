//! engine::health: how each metric series and each guardrail stands right now — the
//! tightest guardrail on a series, whether its value is near the limit, and the one word
//! that says it (`TRIPPED`, `stale`, `warn`, `ok`, ...). Decided here once, so the screen,
//! `status` and every other reader agree; wording them with colour is the reader's job.

use crate::plan::{Action, Better, Condition, Series};

use super::Engine;
use super::guardrail::threshold;

/// The rule a series is nearest to breaking (or breaking), and its absolute threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Guard {
    pub rule: usize,
    pub threshold: Option<f64>,
    /// The rule breaks when the value goes above the threshold (else below).
    pub above: bool,
}

/// Where a series stands, most urgent first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SeriesState {
    Tripped,
    Stale,
    Error,
    Starved(u32, u32),
    Warn,
    NoData,
    Ok,
    /// No guardrail reads this series.
    Unwatched,
}

impl SeriesState {
    pub fn word(&self) -> String {
        match self {
            SeriesState::Tripped => "TRIPPED".into(),
            SeriesState::Stale => "stale".into(),
            SeriesState::Error => "error".into(),
            SeriesState::Starved(have, need) => format!("starved {have}/{need}"),
            SeriesState::Warn => "warn".into(),
            SeriesState::NoData => "no data".into(),
            SeriesState::Ok => "ok".into(),
            SeriesState::Unwatched => "–".into(),
        }
    }
}

/// Where one guardrail rule stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuleStanding {
    Tripped,
    /// The condition holds, for `held_secs` of sample time so far.
    Holding {
        held_secs: i64,
    },
    /// The rule compares with a baseline that is not known yet.
    NoBaseline,
    Ok,
}

impl RuleStanding {
    /// Breaking rules first: tripped, then holding, then the rest.
    pub(crate) fn urgency(&self) -> u8 {
        match self {
            RuleStanding::Tripped => 0,
            RuleStanding::Holding { .. } => 1,
            RuleStanding::NoBaseline | RuleStanding::Ok => 2,
        }
    }
}

/// Whether a rule's condition breaks upwards (the value going above the threshold) for a
/// series where `better` is the good direction.
pub(crate) fn breaks_above(condition: Condition, better: Better) -> bool {
    match condition {
        Condition::Above(_) | Condition::AboveBaseline(_) => true,
        Condition::Below(_) => false,
        Condition::Degradation(_) => better == Better::Lower,
    }
}

/// Past the halfway mark from the baseline to the threshold (or, with no baseline, within
/// 20% of an upper threshold or 5% of a lower one). A threshold set 20% above the
/// baseline must not make a healthy series look like a warning.
pub(crate) fn near_limit(value: f64, threshold: f64, above: bool, baseline: Option<f64>) -> bool {
    match baseline {
        Some(b) if (above && b < threshold) || (!above && b > threshold) => {
            let mid = b + (threshold - b) / 2.0;
            if above { value > mid } else { value < mid }
        }
        _ if above => value > threshold * 0.8,
        _ => value < threshold * 1.05,
    }
}

fn action_rank(action: Action) -> u8 {
    match action {
        Action::Alert => 0,
        Action::Pause => 1,
        Action::Rollback => 2,
    }
}

impl Engine {
    /// The newest sample's value; `None` when the newest sample is missing.
    fn latest(&self, series: &str) -> Option<f64> {
        self.history(series)?.last()?.value
    }

    /// The tightest guardrail on a series: a tripped or holding rule first (the most
    /// severe), else the one with the least room left at the current value.
    pub(crate) fn tightest(&self, series: &Series) -> Option<Guard> {
        let value = self.latest(&series.name);
        // Ranked by (urgency, then action before room when breaking, room before action when not).
        let mut best: Option<(Guard, (u8, f64, f64))> = None;
        for (i, rule) in self.plan.guardrails.rules.iter().enumerate() {
            if rule.metric != series.name {
                continue;
            }
            let t = threshold(
                rule.condition,
                self.progress.baseline.get(&series.name).copied(),
                series.better,
            )
            .filter(|t| t.is_finite());
            let above = breaks_above(rule.condition, series.better);
            let state = self.progress.rules.get(i);
            let urgency = match state {
                Some(s) if s.tripped => 3,
                Some(s) if s.holding_since.is_some() => 2,
                _ if t.is_some() => 1,
                _ => 0,
            };
            // How little room is left, as a fraction of the threshold: larger is tighter.
            let tight = match (t, value) {
                (Some(t), Some(v)) if t != 0.0 => {
                    if above {
                        (v - t) / t.abs()
                    } else {
                        (t - v) / t.abs()
                    }
                }
                _ => 0.0,
            };
            let severity = f64::from(action_rank(rule.action));
            let rank = if urgency >= 2 {
                (urgency, severity, tight)
            } else {
                (urgency, tight, severity)
            };
            let wins = best.as_ref().is_none_or(|(_, b)| {
                rank.0
                    .cmp(&b.0)
                    .then(rank.1.total_cmp(&b.1))
                    .then(rank.2.total_cmp(&b.2))
                    .is_gt()
            });
            if wins {
                best = Some((
                    Guard {
                        rule: i,
                        threshold: t,
                        above,
                    },
                    rank,
                ));
            }
        }
        best.map(|(g, _)| g)
    }

    /// Where a series stands: the most urgent of tripped, stale, erroring, starved,
    /// holding or near its limit, without data, ok, or read by no guardrail.
    pub(crate) fn series_state(&self, series: &Series) -> SeriesState {
        let progress = &self.progress;
        let rules: Vec<usize> = self
            .plan
            .guardrails
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.metric == series.name)
            .map(|(i, _)| i)
            .collect();
        let watched = self.watched().contains(&series.name.as_str());
        if rules
            .iter()
            .any(|i| progress.rules.get(*i).is_some_and(|s| s.tripped))
        {
            return SeriesState::Tripped;
        }
        if progress.stale.contains(&series.name) {
            return SeriesState::Stale;
        }
        if self.series_error(&series.name).is_some() {
            return SeriesState::Error;
        }
        if watched && let Some((_, need)) = self.starved() {
            let have = progress.fresh.get(&series.name).copied().unwrap_or(0);
            if have < need {
                return SeriesState::Starved(have, need);
            }
        }
        let holding = rules.iter().any(|i| {
            progress
                .rules
                .get(*i)
                .is_some_and(|s| s.holding_since.is_some())
        });
        let value = self.latest(&series.name);
        let near = match (self.tightest(series), value) {
            (
                Some(Guard {
                    threshold: Some(t),
                    above,
                    ..
                }),
                Some(v),
            ) => near_limit(v, t, above, progress.baseline.get(&series.name).copied()),
            _ => false,
        };
        if holding || near {
            return SeriesState::Warn;
        }
        if value.is_none() {
            return SeriesState::NoData;
        }
        if watched {
            SeriesState::Ok
        } else {
            SeriesState::Unwatched
        }
    }

    /// The absolute threshold rule `rule` compares with now, when it has one.
    pub(crate) fn rule_limit(&self, rule: usize) -> Option<f64> {
        let r = self.plan.guardrails.rules.get(rule)?;
        let series = self.plan.metrics.series(&r.metric)?;
        threshold(
            r.condition,
            self.progress.baseline.get(&series.name).copied(),
            series.better,
        )
        .filter(|t| t.is_finite())
    }

    /// Whether rule `rule` breaks upwards (see [`breaks_above`]).
    pub(crate) fn rule_breaks_above(&self, rule: usize) -> bool {
        self.plan.guardrails.rules.get(rule).is_none_or(|r| {
            let better = self
                .plan
                .metrics
                .series(&r.metric)
                .map_or(Better::Lower, |s| s.better);
            breaks_above(r.condition, better)
        })
    }

    /// Where rule `rule` stands: tripped, holding (for how long, in sample time), waiting
    /// for a baseline, or ok.
    pub(crate) fn rule_standing(&self, rule: usize) -> RuleStanding {
        let state = self.progress.rules.get(rule).cloned().unwrap_or_default();
        if state.tripped {
            RuleStanding::Tripped
        } else if let Some(since) = state.holding_since {
            let held_secs = self
                .plan
                .guardrails
                .rules
                .get(rule)
                .and_then(|r| self.history(&r.metric))
                .and_then(|h| h.last())
                .map_or(0, |p| (p.at - since).num_seconds());
            RuleStanding::Holding { held_secs }
        } else if self.rule_limit(rule).is_none() {
            RuleStanding::NoBaseline
        } else {
            RuleStanding::Ok
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_breaks_in_the_direction_its_condition_says() {
        assert!(breaks_above(Condition::Above(0.01), Better::Higher));
        assert!(breaks_above(Condition::AboveBaseline(3.0), Better::Lower));
        assert!(!breaks_above(Condition::Below(1.0), Better::Lower));
        assert!(breaks_above(Condition::Degradation(0.2), Better::Lower));
        assert!(!breaks_above(Condition::Degradation(0.1), Better::Higher));
    }

    #[test]
    fn near_the_limit_is_past_halfway_from_the_baseline() {
        // Baseline 100ms, limit 120ms: warn past 110ms, not at 105ms.
        assert!(!near_limit(0.105, 0.12, true, Some(0.1)));
        assert!(near_limit(0.111, 0.12, true, Some(0.1)));
        // A lower limit: baseline 100/s, limit 90/s, warn below 95/s.
        assert!(near_limit(94.0, 90.0, false, Some(100.0)));
        assert!(!near_limit(96.0, 90.0, false, Some(100.0)));
    }

    #[test]
    fn without_a_baseline_near_is_a_margin_of_the_limit() {
        assert!(near_limit(0.0081, 0.01, true, None));
        assert!(!near_limit(0.0079, 0.01, true, None));
        assert!(near_limit(1.04, 1.0, false, None));
        assert!(!near_limit(1.06, 1.0, false, None));
        // A baseline already past the limit cannot set a halfway mark: the margin applies.
        assert!(!near_limit(0.0079, 0.01, true, Some(0.02)));
    }
}
