//! canary::score: every judged metric rolled up into one score and verdict, as Kayenta's
//! weighted-sum scorer and threshold classifier do — except that NoData is starved, never
//! a pass and never a fail. Pure.

use std::collections::BTreeMap;

use super::series::Classification;

/// One judged metric (a compared series or a counts check) as the score sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judged<'a> {
    pub name: &'a str,
    /// The groups it counts in; none makes it a group of its own, named after it.
    pub groups: &'a [String],
    pub classification: Classification,
    pub critical_failure: bool,
}

/// How the metrics roll up (Kayenta's `classifier.groupWeights` and score thresholds).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Scoring {
    /// Percent of the score each group carries; groups not named share what is left
    /// equally.
    pub group_weights: BTreeMap<String, f64>,
    /// A score at or above this passes.
    pub pass: f64,
    /// A score at or above this (and below `pass`) is marginal; below it fails.
    pub marginal: f64,
}

impl Default for Scoring {
    fn default() -> Self {
        Scoring {
            group_weights: BTreeMap::new(),
            pass: 95.0,
            marginal: 75.0,
        }
    }
}

/// A scoring setting that cannot be scored with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScoringError {
    #[error("group `{group}` weighs {weight}: a weight is a percent, 0 to 100")]
    Weight { group: String, weight: f64 },
    #[error("the group weights add up to {0}, over 100")]
    WeightsOver100(f64),
    #[error("thresholds pass {pass} and marginal {marginal}: need 0 ≤ marginal ≤ pass ≤ 100")]
    Thresholds { pass: f64, marginal: f64 },
}

impl Scoring {
    pub fn check(&self) -> Result<(), ScoringError> {
        for (group, &weight) in &self.group_weights {
            if !(0.0..=100.0).contains(&weight) {
                return Err(ScoringError::Weight {
                    group: group.clone(),
                    weight,
                });
            }
        }
        let sum: f64 = self.group_weights.values().sum();
        if sum > 100.0 + 1e-9 {
            return Err(ScoringError::WeightsOver100(sum));
        }
        let (pass, marginal) = (self.pass, self.marginal);
        if !(0.0 <= marginal && marginal <= pass && pass <= 100.0) {
            return Err(ScoringError::Thresholds { pass, marginal });
        }
        Ok(())
    }
}

/// What the canary's score says to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Marginal,
    Fail,
    /// A metric has too little data, and what is known does not already fail.
    Starved,
    /// The traffic split is not the configured one: no comparison can be trusted.
    Untrusted,
}

/// Why the score came out as it did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "why")]
pub enum ScoreReason {
    /// The score against the thresholds.
    Thresholds,
    /// A critical metric failed: the score is 0.
    Critical {
        metric: String,
    },
    /// Some metrics have no data, but even were they all to pass the score is below
    /// `marginal`.
    FailsRegardless {
        starved: Vec<String>,
    },
    Starved {
        starved: Vec<String>,
    },
    SampleRatioMismatch,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GroupScore {
    pub name: String,
    /// Percent of its judged metrics that passed; None when none has data.
    pub score: Option<f64>,
    pub weight: f64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Score {
    /// Kayenta's summary score, 0 to 100 to two decimals: each group's pass percent
    /// (100 for a group with no data) times its weight.
    pub value: f64,
    pub verdict: Verdict,
    pub reason: ScoreReason,
    pub groups: Vec<GroupScore>,
}

/// Rolls the metrics up. `split_trusted` is the counts' sample-ratio check (true when
/// there is no counts check).
pub fn score(scoring: &Scoring, metrics: &[Judged], split_trusted: bool) -> Score {
    let starved: Vec<String> = metrics
        .iter()
        .filter(|m| m.classification == Classification::NoData)
        .map(|m| m.name.to_string())
        .collect();
    let groups = group_scores(scoring, metrics, |c| c);
    let value = summary(&groups);
    let (verdict, reason) = if !split_trusted {
        (Verdict::Untrusted, ScoreReason::SampleRatioMismatch)
    } else if let Some(m) = metrics.iter().find(|m| m.critical_failure) {
        let metric = m.name.to_string();
        (Verdict::Fail, ScoreReason::Critical { metric })
    } else if !starved.is_empty() {
        // The best the starved metrics could do is pass.
        let best = summary(&group_scores(scoring, metrics, |c| match c {
            Classification::NoData => Classification::Pass,
            c => c,
        }));
        if best < scoring.marginal {
            (Verdict::Fail, ScoreReason::FailsRegardless { starved })
        } else {
            (Verdict::Starved, ScoreReason::Starved { starved })
        }
    } else if value >= scoring.pass {
        (Verdict::Pass, ScoreReason::Thresholds)
    } else if value >= scoring.marginal {
        (Verdict::Marginal, ScoreReason::Thresholds)
    } else {
        (Verdict::Fail, ScoreReason::Thresholds)
    };
    let critical = matches!(reason, ScoreReason::Critical { .. });
    Score {
        value: if critical { 0.0 } else { value },
        verdict,
        reason,
        groups,
    }
}

/// Each group's pass percent and weight, with each classification seen through `as_if`.
fn group_scores(
    scoring: &Scoring,
    metrics: &[Judged],
    as_if: impl Fn(Classification) -> Classification,
) -> Vec<GroupScore> {
    // (passed, judged) per group, in name order.
    let mut counts: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    for m in metrics {
        let own = [m.name.to_string()];
        let groups = if m.groups.is_empty() {
            &own[..]
        } else {
            m.groups
        };
        for name in groups {
            let (passed, judged) = counts.entry(name.clone()).or_default();
            match as_if(m.classification) {
                Classification::Pass => (*passed, *judged) = (*passed + 1, *judged + 1),
                Classification::High | Classification::Low => *judged += 1,
                Classification::NoData => {}
            }
        }
    }
    let named: f64 = scoring.group_weights.values().sum();
    let unnamed = counts
        .keys()
        .filter(|g| !scoring.group_weights.contains_key(*g))
        .count();
    let share = if unnamed > 0 {
        (100.0 - named) / unnamed as f64
    } else {
        0.0
    };
    counts
        .into_iter()
        .map(|(name, (passed, judged))| GroupScore {
            score: (judged > 0).then(|| f64::from(passed) / f64::from(judged) * 100.0),
            weight: scoring.group_weights.get(&name).copied().unwrap_or(share),
            name,
        })
        .collect()
}

fn summary(groups: &[GroupScore]) -> f64 {
    let sum: f64 = groups
        .iter()
        .map(|g| g.score.unwrap_or(100.0) * g.weight / 100.0)
        .sum();
    (sum * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use Classification::{High, Low, NoData, Pass};

    fn metric<'a>(name: &'a str, groups: &'a [String], c: Classification) -> Judged<'a> {
        Judged {
            name,
            groups,
            classification: c,
            critical_failure: false,
        }
    }

    fn groups(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn weights(w: &[(&str, f64)]) -> Scoring {
        Scoring {
            group_weights: w.iter().map(|(g, v)| (g.to_string(), *v)).collect(),
            ..Scoring::default()
        }
    }

    #[test]
    fn every_metric_passing_scores_100() {
        let none = groups(&[]);
        let m = [metric("p95", &none, Pass), metric("errors", &none, Pass)];
        let s = score(&Scoring::default(), &m, true);
        assert_eq!((s.value, s.verdict), (100.0, Verdict::Pass));
        // Ungrouped metrics are groups of their own, sharing the weight equally.
        assert_eq!(s.groups.len(), 2);
        assert!(s.groups.iter().all(|g| g.weight == 50.0));
    }

    #[test]
    fn groups_carry_their_weights() {
        let (lat, err) = (groups(&["latency"]), groups(&["errors"]));
        let m = [
            metric("p95", &lat, Pass),
            metric("p99", &lat, High),
            metric("error rate", &err, Pass),
        ];
        let scoring = weights(&[("latency", 60.0), ("errors", 40.0)]);
        let s = score(&scoring, &m, true);
        // latency 50% × 0.6 + errors 100% × 0.4 = 70 < 75.
        assert_eq!((s.value, s.verdict), (70.0, Verdict::Fail));
        assert_eq!(s.reason, ScoreReason::Thresholds);
        let scoring = Scoring {
            marginal: 70.0,
            ..scoring
        };
        assert_eq!(score(&scoring, &m, true).verdict, Verdict::Marginal);
    }

    #[test]
    fn unnamed_groups_share_what_the_named_leave() {
        let (a, b, c) = (groups(&["a"]), groups(&["b"]), groups(&["c"]));
        let m = [
            metric("x", &a, Pass),
            metric("y", &b, Low),
            metric("z", &c, Pass),
        ];
        let s = score(&weights(&[("a", 50.0)]), &m, true);
        let w: Vec<f64> = s.groups.iter().map(|g| g.weight).collect();
        assert_eq!(w, vec![50.0, 25.0, 25.0]);
        assert_eq!(s.value, 75.0);
        // Three equal groups, one failing: 66.666… to two decimals.
        let s = score(&Scoring::default(), &m, true);
        assert_eq!(s.value, 66.67);
    }

    #[test]
    fn a_metric_in_two_groups_counts_in_both() {
        let both = groups(&["latency", "checkout"]);
        let lat = groups(&["latency"]);
        let m = [metric("p95", &both, High), metric("p50", &lat, Pass)];
        let s = score(&Scoring::default(), &m, true);
        let by_name: Vec<(&str, Option<f64>)> = s
            .groups
            .iter()
            .map(|g| (g.name.as_str(), g.score))
            .collect();
        assert_eq!(
            by_name,
            vec![("checkout", Some(0.0)), ("latency", Some(50.0))]
        );
    }

    #[test]
    fn a_failing_critical_metric_forces_zero() {
        let none = groups(&[]);
        let mut m = vec![metric("p95", &none, Pass); 9];
        m.push(Judged {
            critical_failure: true,
            ..metric("errors", &none, High)
        });
        let s = score(&Scoring::default(), &m, true);
        assert_eq!((s.value, s.verdict), (0.0, Verdict::Fail));
        assert_eq!(
            s.reason,
            ScoreReason::Critical {
                metric: "errors".into()
            }
        );
    }

    #[test]
    fn no_data_is_never_a_pass() {
        let none = groups(&[]);
        let mut m = vec![metric("p95", &none, Pass); 9];
        m.push(metric("p99", &none, NoData));
        let s = score(&Scoring::default(), &m, true);
        assert_eq!(s.verdict, Verdict::Starved);
        assert_eq!(
            s.reason,
            ScoreReason::Starved {
                starved: vec!["p99".into()]
            }
        );
        // Kayenta counts a group with no data as 100.
        assert_eq!(s.value, 100.0);
        // Every metric starved: still not a fail.
        let m = [metric("p95", &none, NoData), metric("p99", &none, NoData)];
        assert_eq!(
            score(&Scoring::default(), &m, true).verdict,
            Verdict::Starved
        );
    }

    #[test]
    fn no_data_is_never_a_fail_but_does_not_hide_one() {
        let none = groups(&[]);
        // Half the metrics fail: even if the starved one passed, 66.67 < 75.
        let m = [
            metric("p95", &none, High),
            metric("p99", &none, Pass),
            metric("cpu", &none, NoData),
        ];
        let s = score(&Scoring::default(), &m, true);
        assert_eq!(s.verdict, Verdict::Fail);
        assert!(matches!(s.reason, ScoreReason::FailsRegardless { .. }));
        // One failure in four: were the starved one to pass, 75 would be marginal, so wait.
        let m = [
            metric("p95", &none, High),
            metric("p99", &none, Pass),
            metric("p50", &none, Pass),
            metric("cpu", &none, NoData),
        ];
        assert_eq!(
            score(&Scoring::default(), &m, true).verdict,
            Verdict::Starved
        );
    }

    #[test]
    fn a_sample_ratio_mismatch_trusts_nothing() {
        let none = groups(&[]);
        let m = [Judged {
            critical_failure: true,
            ..metric("errors", &none, High)
        }];
        let s = score(&Scoring::default(), &m, false);
        assert_eq!(
            (s.verdict, s.reason),
            (Verdict::Untrusted, ScoreReason::SampleRatioMismatch)
        );
    }

    #[test]
    fn scoring_outside_its_range_is_refused() {
        assert!(weights(&[("a", 70.0), ("b", 40.0)]).check().is_err());
        assert!(weights(&[("a", -1.0)]).check().is_err());
        let upside_down = Scoring {
            pass: 50.0,
            marginal: 75.0,
            ..Scoring::default()
        };
        assert!(upside_down.check().is_err());
        assert_eq!(weights(&[("a", 60.0), ("b", 40.0)]).check(), Ok(()));
    }
}
