//! engine::guardrail: judges one metric value against one rule. Pure; owns the meaning of
//! `above`, `below`, `above_baseline`, `degradation` and `for:` (sample time, never wall time).

use chrono::{DateTime, Utc};
use std::time::Duration;

use super::history::Point;
use crate::plan::{Action, Better, Condition, Rule, Unit};

/// Whole seconds as `2m 15s`: the one rendering in `support::fmt`, also named here because
/// the screen imports it from here.
pub(crate) use crate::support::fmt::secs as format_secs;

/// Where one rule stands, kept across samples (and across restarts, in `state.json`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RuleState {
    /// The sample time from which the condition has held without a break.
    pub holding_since: Option<DateTime<Utc>>,
    /// The rule fired and has not cleared since.
    pub tripped: bool,
    /// How many times the rule fired since the rollout started (a counter for
    /// `shipdeck_guardrail_trips_total`; the trips themselves are kept only lately).
    #[serde(default)]
    pub trips: u64,
}

/// What one sample did to a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    None,
    Tripped,
    Cleared,
}

/// The frozen record of a trip: everything needed to answer "why did it do that?".
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Explain {
    pub rule: usize,
    pub rule_text: String,
    pub metric: String,
    pub query: Option<String>,
    pub action: Action,
    pub unit: Unit,
    pub baseline: Option<f64>,
    /// The absolute value the metric was compared with.
    pub threshold: f64,
    /// First sample time at which the condition held.
    pub since: DateTime<Utc>,
    /// The sample time at which the rule fired.
    pub at: DateTime<Utc>,
    pub held_secs: i64,
    /// The samples in the rule's window, oldest first.
    pub samples: Vec<Point>,
}

/// Which trip a record is: a rule fires at most once at one sample time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TripId {
    pub rule: usize,
    pub at: DateTime<Utc>,
}

impl Explain {
    pub fn id(&self) -> TripId {
        TripId {
            rule: self.rule,
            at: self.at,
        }
    }

    pub fn value(&self) -> Option<f64> {
        self.samples.iter().rev().find_map(|p| p.value)
    }

    /// One line: `error_rate 6.10% > 5.00% for 2m 15s (baseline 0.10%) → rollback`.
    pub fn summary(&self) -> String {
        let value = self
            .value()
            .map(|v| format_value(v, self.unit))
            .unwrap_or_else(|| "no data".into());
        let baseline = self
            .baseline
            .map(|b| format!(" (baseline {})", format_value(b, self.unit)))
            .unwrap_or_default();
        let held = if self.held_secs > 0 {
            format!(" for {}", crate::support::fmt::secs(self.held_secs))
        } else {
            String::new()
        };
        format!(
            "{} {} vs threshold {}{}{} → {}",
            self.metric,
            value,
            format_value(self.threshold, self.unit),
            held,
            baseline,
            self.action.name()
        )
    }
}

/// The absolute threshold a rule compares with, or `None` when it needs a baseline that is missing.
pub fn threshold(condition: Condition, baseline: Option<f64>, better: Better) -> Option<f64> {
    match condition {
        Condition::Above(t) | Condition::Below(t) => Some(t),
        Condition::AboveBaseline(m) => baseline.map(|b| b * m),
        Condition::Degradation(f) => baseline.map(|b| match better {
            Better::Lower => b * (1.0 + f),
            Better::Higher => b * (1.0 - f),
        }),
    }
}

/// Whether `value` breaks the rule's condition against an absolute `threshold`.
pub(crate) fn breaks(condition: Condition, value: f64, threshold: f64, better: Better) -> bool {
    match condition {
        Condition::Above(_) | Condition::AboveBaseline(_) => value > threshold,
        Condition::Below(_) => value < threshold,
        Condition::Degradation(_) => match better {
            Better::Lower => value > threshold,
            Better::Higher => value < threshold,
        },
    }
}

/// Feeds one sample to a rule. A missing value neither confirms nor clears: unknown is
/// not healthy, and staleness is judged elsewhere.
pub(crate) fn observe(
    state: &mut RuleState,
    rule: &Rule,
    at: DateTime<Utc>,
    value: Option<f64>,
    threshold: Option<f64>,
    better: Better,
) -> Transition {
    let (Some(value), Some(threshold)) = (value, threshold) else {
        return Transition::None;
    };
    if breaks(rule.condition, value, threshold, better) {
        let since = *state.holding_since.get_or_insert(at);
        let held = (at - since).to_std().unwrap_or(Duration::ZERO);
        if !state.tripped && held >= rule.hold {
            state.tripped = true;
            return Transition::Tripped;
        }
        Transition::None
    } else {
        state.holding_since = None;
        if state.tripped {
            state.tripped = false;
            return Transition::Cleared;
        }
        Transition::None
    }
}

/// From this magnitude on (in the unit shown), a value is written with an exponent.
const EXPONENT_FROM: f64 = 1e6;

/// A value in its unit, as people read it: `0.42%`, `320ms`, `1.25s`, `12.0/s`; an
/// absurd magnitude with an exponent (`1.00e310%`), never as hundreds of digits.
pub(crate) fn format_value(value: f64, unit: Unit) -> String {
    if !value.is_finite() {
        return "n/a".into();
    }
    let (shown, shift, suffix) = match unit {
        Unit::Ratio => (value * 100.0, 2, "%"),
        Unit::Seconds => (value, 0, "s"),
        Unit::PerSecond => (value, 0, "/s"),
        Unit::Count => (value, 0, ""),
    };
    // `shown` overflows to infinity for a ratio near f64::MAX.
    if !shown.is_finite() || shown.abs() >= EXPONENT_FROM {
        return format!("{}{suffix}", with_exponent(value, shift));
    }
    match unit {
        Unit::Ratio => {
            let pct = value * 100.0;
            if pct.abs() >= 10.0 {
                format!("{pct:.0}%")
            } else {
                format!("{pct:.2}%")
            }
        }
        Unit::Seconds => {
            if value.abs() < 1.0 {
                format!("{:.0}ms", value * 1000.0)
            } else {
                format!("{value:.2}s")
            }
        }
        Unit::PerSecond => format!("{value:.1}/s"),
        Unit::Count => {
            if value.fract() == 0.0 {
                format!("{value:.0}")
            } else {
                format!("{value:.2}")
            }
        }
    }
}

/// `value × 10^shift` as `1.23e8`, computed on the text so no multiplication overflows.
fn with_exponent(value: f64, shift: i32) -> String {
    let text = format!("{value:.2e}");
    match text.split_once('e') {
        Some((mantissa, exp)) => match exp.parse::<i32>() {
            Ok(exp) => format!("{mantissa}e{}", exp + shift),
            Err(_) => text,
        },
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).single().unwrap()
    }

    fn rule(condition: Condition, hold_secs: u64, action: Action) -> Rule {
        Rule {
            metric: "error_rate".into(),
            condition,
            hold: Duration::from_secs(hold_secs),
            action,
            text: "test rule".into(),
        }
    }

    /// Feeds values every 15 s and returns the index of the sample that tripped the rule.
    fn trips_at(r: &Rule, baseline: Option<f64>, better: Better, values: &[f64]) -> Option<usize> {
        let mut state = RuleState::default();
        let t = threshold(r.condition, baseline, better);
        values
            .iter()
            .enumerate()
            .find(|(i, v)| {
                observe(&mut state, r, at(*i as i64 * 15), Some(**v), t, better)
                    == Transition::Tripped
            })
            .map(|(i, _)| i)
    }

    #[test]
    fn error_rate_above_one_percent_pauses_at_once() {
        let r = rule(Condition::Above(0.01), 0, Action::Pause);
        assert_eq!(
            trips_at(&r, None, Better::Lower, &[0.001, 0.009, 0.011]),
            Some(2)
        );
        assert_eq!(
            trips_at(&r, None, Better::Lower, &[0.001, 0.01, 0.0099]),
            None
        );
    }

    #[test]
    fn error_rate_above_five_percent_for_two_minutes_rolls_back() {
        // Baseline 0.1%: the reference process's automatic rollback trigger.
        let r = rule(Condition::Above(0.05), 120, Action::Rollback);
        let mut values = vec![0.001; 4];
        values.extend([0.06; 9]);
        // Held from sample 4 (t=60s); 120 s later is sample 12.
        assert_eq!(trips_at(&r, Some(0.001), Better::Lower, &values), Some(12));
    }

    #[test]
    fn a_break_in_the_condition_restarts_the_hold() {
        let r = rule(Condition::Above(0.05), 60, Action::Rollback);
        let values = [0.06, 0.06, 0.06, 0.01, 0.06, 0.06, 0.06, 0.06, 0.06];
        assert_eq!(trips_at(&r, None, Better::Lower, &values), Some(8));
    }

    #[test]
    fn missing_values_neither_trip_nor_clear() {
        let r = rule(Condition::Above(0.01), 0, Action::Pause);
        let mut s = RuleState::default();
        let t = Some(0.01);
        assert_eq!(
            observe(&mut s, &r, at(0), Some(0.02), t, Better::Lower),
            Transition::Tripped
        );
        assert_eq!(
            observe(&mut s, &r, at(15), None, t, Better::Lower),
            Transition::None
        );
        assert!(s.tripped);
        assert_eq!(
            observe(&mut s, &r, at(30), Some(0.001), t, Better::Lower),
            Transition::Cleared
        );
        assert!(!s.tripped);
    }

    #[test]
    fn p95_over_two_seconds_alerts() {
        let r = rule(Condition::Above(2.0), 0, Action::Alert);
        assert_eq!(trips_at(&r, None, Better::Lower, &[0.3, 1.9, 2.1]), Some(2));
    }

    #[test]
    fn latency_three_times_baseline_rolls_back() {
        let r = rule(Condition::AboveBaseline(3.0), 0, Action::Rollback);
        assert_eq!(
            trips_at(&r, Some(0.3), Better::Lower, &[0.5, 0.89, 0.91]),
            Some(2)
        );
        assert_eq!(
            trips_at(&r, None, Better::Lower, &[5.0]),
            None,
            "no baseline, no verdict"
        );
    }

    #[test]
    fn performance_degradation_over_twenty_percent_rolls_back() {
        let r = rule(Condition::Degradation(0.2), 300, Action::Rollback);
        let mut values = vec![0.35; 20];
        values.extend([0.37; 21]);
        // 0.3 * 1.2 = 0.36: held from sample 20, five minutes later is sample 40.
        assert_eq!(trips_at(&r, Some(0.3), Better::Lower, &values), Some(40));
    }

    #[test]
    fn memory_over_ninety_percent_rolls_back() {
        let r = rule(Condition::Above(0.9), 0, Action::Rollback);
        assert_eq!(
            trips_at(&r, None, Better::Lower, &[0.6, 0.85, 0.91]),
            Some(2)
        );
    }

    #[test]
    fn business_metric_drop_over_ten_percent_follows_better_higher() {
        let r = rule(Condition::Degradation(0.1), 0, Action::Rollback);
        // checkouts: higher is better; baseline 100/s, threshold 90/s.
        assert_eq!(
            trips_at(&r, Some(100.0), Better::Higher, &[120.0, 91.0, 89.0]),
            Some(2)
        );
    }

    #[test]
    fn health_checks_failing_is_a_below_rule() {
        // Health check success ratio below 100%.
        let r = rule(Condition::Below(1.0), 0, Action::Rollback);
        assert_eq!(
            trips_at(&r, None, Better::Higher, &[1.0, 1.0, 0.5]),
            Some(2)
        );
    }

    #[test]
    fn formats_values_in_their_unit() {
        // Absurd magnitudes read as numbers, not as hundreds of digits or `inf%`.
        assert_eq!(format_value(1e308, Unit::Count), "1.00e308");
        assert_eq!(format_value(1e308, Unit::Ratio), "1.00e310%");
        assert_eq!(format_value(-1e308, Unit::Seconds), "-1.00e308s");
        assert_eq!(format_value(1e308, Unit::PerSecond), "1.00e308/s");
        assert_eq!(format_value(123_456_789.0, Unit::Count), "1.23e8");
        assert_eq!(format_value(0.004, Unit::Ratio), "0.40%");
        assert_eq!(format_value(0.42, Unit::Ratio), "42%");
        assert_eq!(format_value(0.32, Unit::Seconds), "320ms");
        assert_eq!(format_value(2.5, Unit::Seconds), "2.50s");
        assert_eq!(format_secs(135), "2m 15s");
        assert_eq!(format_secs(13 * 3600), "13h");
        assert_eq!(format_secs(0), "0s");
    }
}
