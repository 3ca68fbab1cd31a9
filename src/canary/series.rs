//! canary::series: one compared series judged as Kayenta's NetflixACAJudge judges a metric
//! — clean each arm, run the rank test, and classify the shift as High, Low, Pass or
//! NoData by direction, tolerance, effect size and criticality. Pure.

use super::clean::{self, Outliers, clean};
use super::rank_sum::{RankSum, rank_sum};

/// Which way a change counts against the canary (Kayenta's `direction`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Only a rise fails (latency, errors).
    Increase,
    /// Only a fall fails (throughput, success rate).
    Decrease,
    #[default]
    Either,
}

impl Direction {
    /// As a plan writes it.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Increase => "increase",
            Direction::Decrease => "decrease",
            Direction::Either => "either",
        }
    }
}

/// How big the change is, beside whether it is real (Kayenta's `effectSize.measure`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EffectMeasure {
    /// mean(canary) / mean(baseline); none when either mean is 0.
    #[default]
    MeanRatio,
    /// The common-language effect size: the share of (canary, baseline) pairs in which the
    /// canary is larger, ties counting one half (U / m·n; 0.5 is no effect).
    Cles,
}

/// The effect a High or Low must reach to count, and to count as a critical failure
/// (Kayenta's `allowedIncrease`, `allowedDecrease`, `criticalIncrease`, `criticalDecrease`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EffectSize {
    pub measure: EffectMeasure,
    pub allowed_increase: f64,
    pub allowed_decrease: f64,
    pub critical_increase: f64,
    pub critical_decrease: f64,
}

impl EffectSize {
    /// Every threshold at "no effect" (1 for a ratio, 0.5 for CLES), as Kayenta defaults:
    /// then the interval alone decides.
    pub fn neutral(measure: EffectMeasure) -> EffectSize {
        let none = match measure {
            EffectMeasure::MeanRatio => 1.0,
            EffectMeasure::Cles => 0.5,
        };
        EffectSize {
            measure,
            allowed_increase: none,
            allowed_decrease: none,
            critical_increase: none,
            critical_decrease: none,
        }
    }
}

impl Default for EffectSize {
    fn default() -> Self {
        EffectSize::neutral(EffectMeasure::MeanRatio)
    }
}

/// How one compared series is judged.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SeriesRule {
    pub direction: Direction,
    /// Of the shift's interval; Kayenta's judge uses 0.98.
    pub confidence: f64,
    /// The tolerance band is ±tolerance·|estimate|: a High needs the whole interval above
    /// it, a Low the whole interval below it. Kayenta's judge uses 0.25.
    pub tolerance: f64,
    pub effect: EffectSize,
    /// A High or Low that reaches the critical effect fails the whole canary.
    pub critical: bool,
    pub outliers: Outliers,
    /// Fewer samples than this in either arm (after cleaning) is NoData.
    pub min_samples: usize,
}

impl Default for SeriesRule {
    fn default() -> Self {
        SeriesRule {
            direction: Direction::Either,
            confidence: 0.98,
            tolerance: 0.25,
            effect: EffectSize::default(),
            critical: false,
            outliers: Outliers::Keep,
            min_samples: 10,
        }
    }
}

/// A rule's setting that cannot be judged with.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum RuleError {
    #[error("confidence {0} is outside (0, 1): use e.g. 0.98")]
    Confidence(f64),
    #[error("tolerance {0} is negative or not a number: use e.g. 0.25")]
    Tolerance(f64),
    #[error("outlier factor {0} must be above 0: Kayenta uses 3")]
    OutlierFactor(f64),
    #[error("min_samples must be at least 1")]
    MinSamples,
    #[error("effect size threshold {0} is not a finite number")]
    Effect(f64),
}

impl SeriesRule {
    pub fn check(&self) -> Result<(), RuleError> {
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(RuleError::Confidence(self.confidence));
        }
        if !(self.tolerance >= 0.0 && self.tolerance.is_finite()) {
            return Err(RuleError::Tolerance(self.tolerance));
        }
        if let Outliers::Remove { factor } = self.outliers
            && !(factor > 0.0 && factor.is_finite())
        {
            return Err(RuleError::OutlierFactor(factor));
        }
        if self.min_samples == 0 {
            return Err(RuleError::MinSamples);
        }
        let e = &self.effect;
        let thresholds = [
            e.allowed_increase,
            e.allowed_decrease,
            e.critical_increase,
            e.critical_decrease,
        ];
        match thresholds.into_iter().find(|t| !t.is_finite()) {
            Some(t) => Err(RuleError::Effect(t)),
            None => Ok(()),
        }
    }
}

/// Kayenta's metric classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    Pass,
    High,
    Low,
    /// Too little data to judge: starved, never a pass and never a fail.
    NoData,
}

/// Why a series got its classification: the screen, `status` and the journal word it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Both arms hold the same values.
    Identical,
    /// The interval reaches into the tolerance band.
    WithinTolerance,
    /// The interval clears the band, but the effect is within the allowed increase or
    /// decrease.
    SmallEffect,
    /// The interval clears the band in a direction the rule does not judge.
    NotJudgedDirection,
    /// The whole interval lies above (High) or below (Low) the band.
    OutsideTolerance,
    /// An arm holds fewer than `min_samples` usable values.
    TooFewSamples,
    /// The arms are too small for an interval at the rule's confidence.
    ConfidenceUnreachable,
}

impl Classification {
    /// The word every front-end shows.
    pub fn word(self) -> &'static str {
        match self {
            Classification::Pass => "pass",
            Classification::High => "high",
            Classification::Low => "low",
            Classification::NoData => "no data",
        }
    }
}

impl Reason {
    /// The reason in words, the same on the screen, in `status` and in the journal.
    pub fn text(self) -> &'static str {
        match self {
            Reason::Identical => "the arms hold the same values",
            Reason::WithinTolerance => "the interval reaches into the tolerance band",
            Reason::SmallEffect => {
                "the interval clears the band, but the effect is within the allowed size"
            }
            Reason::NotJudgedDirection => "the change is in a direction this series does not judge",
            Reason::OutsideTolerance => "the whole interval lies outside the tolerance band",
            Reason::TooFewSamples => "an arm has fewer samples than min_samples",
            Reason::ConfidenceUnreachable => "too few samples for an interval at this confidence",
        }
    }
}

/// One arm as the judge saw it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ArmSummary {
    /// Samples used, after cleaning.
    pub n: usize,
    pub dropped_missing: usize,
    pub dropped_outliers: usize,
    pub median: Option<f64>,
    pub mean: Option<f64>,
}

/// The verdict on one compared series, with everything that explains it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SeriesVerdict {
    pub classification: Classification,
    /// A critical series that went High or Low past its critical effect: the canary fails.
    pub critical_failure: bool,
    pub reason: Reason,
    pub canary: ArmSummary,
    pub baseline: ArmSummary,
    /// None when an arm is too small to test.
    pub test: Option<RankSum>,
    /// The tolerance band around 0, ±tolerance·|estimate|.
    pub band: Option<(f64, f64)>,
    /// The effect size by the rule's measure; None when it cannot be computed.
    pub effect: Option<f64>,
}

/// Judges one series: `canary` and `baseline` are the raw samples of each arm over the
/// same time range, in any order, NaN allowed.
pub fn judge_series(rule: &SeriesRule, canary: &[f64], baseline: &[f64]) -> SeriesVerdict {
    let (c, b) = (clean(canary, rule.outliers), clean(baseline, rule.outliers));
    let summary = |a: &clean::Cleaned| ArmSummary {
        n: a.sorted.len(),
        dropped_missing: a.dropped_missing,
        dropped_outliers: a.dropped_outliers,
        median: clean::median(&a.sorted),
        mean: clean::mean(&a.sorted),
    };
    let mut verdict = SeriesVerdict {
        classification: Classification::NoData,
        critical_failure: false,
        reason: Reason::TooFewSamples,
        canary: summary(&c),
        baseline: summary(&b),
        test: None,
        band: None,
        effect: None,
    };
    if c.sorted.len() < rule.min_samples.max(1) || b.sorted.len() < rule.min_samples.max(1) {
        return verdict;
    }
    let test = rank_sum(&c.sorted, &b.sorted, rule.confidence);
    let bound = rule.tolerance * test.estimate.abs();
    verdict.test = Some(test);
    verdict.band = Some((-bound, bound));
    verdict.effect = effect(rule.effect.measure, &test, &verdict);
    if c.sorted == b.sorted {
        verdict.classification = Classification::Pass;
        verdict.reason = Reason::Identical;
        return verdict;
    }
    if !test.reachable {
        verdict.reason = Reason::ConfidenceUnreachable;
        return verdict;
    }
    // An effect that cannot be computed does not hold a High or Low back (as Kayenta).
    let at_least = |t: f64| verdict.effect.is_none_or(|e| e >= t);
    let at_most = |t: f64| verdict.effect.is_none_or(|e| e <= t);
    let e = &rule.effect;
    let judged_up = matches!(rule.direction, Direction::Increase | Direction::Either);
    let judged_down = matches!(rule.direction, Direction::Decrease | Direction::Either);
    let (classification, reason, critical) = if test.ci_low > bound {
        match (judged_up, at_least(e.allowed_increase)) {
            (false, _) => (Classification::Pass, Reason::NotJudgedDirection, false),
            (true, false) => (Classification::Pass, Reason::SmallEffect, false),
            (true, true) => (
                Classification::High,
                Reason::OutsideTolerance,
                at_least(e.critical_increase),
            ),
        }
    } else if test.ci_high < -bound {
        match (judged_down, at_most(e.allowed_decrease)) {
            (false, _) => (Classification::Pass, Reason::NotJudgedDirection, false),
            (true, false) => (Classification::Pass, Reason::SmallEffect, false),
            (true, true) => (
                Classification::Low,
                Reason::OutsideTolerance,
                at_most(e.critical_decrease),
            ),
        }
    } else {
        (Classification::Pass, Reason::WithinTolerance, false)
    };
    verdict.classification = classification;
    verdict.reason = reason;
    verdict.critical_failure = rule.critical && critical;
    verdict
}

fn effect(measure: EffectMeasure, test: &RankSum, v: &SeriesVerdict) -> Option<f64> {
    match measure {
        EffectMeasure::MeanRatio => {
            let (c, b) = (v.canary.mean?, v.baseline.mean?);
            (c != 0.0 && b != 0.0).then(|| c / b)
        }
        EffectMeasure::Cles => Some(test.u / (v.canary.n as f64 * v.baseline.n as f64)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<f64> {
        let path = format!("{}/fixtures/judge/{name}.txt", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        text.split_whitespace()
            .map(|s| s.parse().unwrap_or_else(|e| panic!("{path}: {s}: {e}")))
            .collect()
    }

    fn p95() -> (Vec<f64>, Vec<f64>) {
        (fixture("p95-canary"), fixture("p95-baseline"))
    }

    #[test]
    fn a_15_percent_p95_regression_is_high() {
        let (c, b) = p95();
        let v = judge_series(&SeriesRule::default(), &c, &b);
        assert_eq!(v.classification, Classification::High);
        assert_eq!(v.reason, Reason::OutsideTolerance);
        assert!(!v.critical_failure, "not a critical series");
        let t = v.test.expect("tested");
        // 27.1 > 0.25 × 43.85: the interval clears the band.
        assert!(t.ci_low > v.band.expect("band").1);
        assert_eq!((v.canary.n, v.baseline.n), (240, 240));
        let ratio = v.effect.expect("means are positive");
        assert!((1.10..1.20).contains(&ratio), "mean ratio {ratio}");
    }

    #[test]
    fn direction_decides_which_side_can_fail() {
        let (c, b) = p95();
        let rule = |direction| SeriesRule {
            direction,
            ..SeriesRule::default()
        };
        let v = judge_series(&rule(Direction::Decrease), &c, &b);
        assert_eq!(
            (v.classification, v.reason),
            (Classification::Pass, Reason::NotJudgedDirection)
        );
        let v = judge_series(&rule(Direction::Increase), &c, &b);
        assert_eq!(v.classification, Classification::High);
        // The same arms the other way round: the canary got faster.
        let v = judge_series(&rule(Direction::Either), &b, &c);
        assert_eq!(v.classification, Classification::Low);
        let v = judge_series(&rule(Direction::Increase), &b, &c);
        assert_eq!(v.reason, Reason::NotJudgedDirection);
    }

    #[test]
    fn the_effect_size_must_reach_the_allowed_increase() {
        let (c, b) = p95();
        let mut rule = SeriesRule::default();
        rule.effect.allowed_increase = 1.25;
        let v = judge_series(&rule, &c, &b);
        assert_eq!(
            (v.classification, v.reason),
            (Classification::Pass, Reason::SmallEffect)
        );
        rule.effect = EffectSize {
            allowed_increase: 0.55,
            ..EffectSize::neutral(EffectMeasure::Cles)
        };
        let v = judge_series(&rule, &c, &b);
        assert_eq!(v.classification, Classification::High);
        let cles = v.effect.expect("cles");
        assert!((cles - 37606.5 / 57600.0).abs() < 1e-12, "cles {cles}");
    }

    #[test]
    fn critical_fails_only_past_the_critical_effect() {
        let (c, b) = p95();
        let mut rule = SeriesRule {
            critical: true,
            ..SeriesRule::default()
        };
        rule.effect.critical_increase = 1.10;
        let v = judge_series(&rule, &c, &b);
        assert!(v.critical_failure);
        rule.effect.critical_increase = 1.30;
        let v = judge_series(&rule, &c, &b);
        assert_eq!(v.classification, Classification::High);
        assert!(
            !v.critical_failure,
            "High, but short of the critical effect"
        );
    }

    #[test]
    fn an_interval_that_clears_zero_but_not_the_band_passes() {
        // Two evenly spread arms over 0..100, the canary 15 higher: the 98% interval is
        // about [1.9, 28.1], clear of 0 but not of ±0.25 × 15.
        let spread = |offset: f64| -> Vec<f64> {
            let phi = (5f64.sqrt() - 1.0) / 2.0;
            (0..60)
                .map(|i| (f64::from(i) * phi + offset).fract() * 100.0)
                .collect()
        };
        let b = spread(0.0);
        let c: Vec<f64> = spread(0.5).iter().map(|v| v + 15.0).collect();
        let v = judge_series(&SeriesRule::default(), &c, &b);
        let t = v.test.expect("tested");
        assert!(t.ci_low > 0.0, "the rank test alone would flag it: {t:?}");
        assert_eq!(
            (v.classification, v.reason),
            (Classification::Pass, Reason::WithinTolerance)
        );
        let strict = SeriesRule {
            tolerance: 0.0,
            ..SeriesRule::default()
        };
        assert_eq!(
            judge_series(&strict, &c, &b).classification,
            Classification::High
        );
    }

    #[test]
    fn too_little_data_is_no_data() {
        let rule = SeriesRule::default();
        let nan = [f64::NAN; 30];
        let v = judge_series(&rule, &nan, &[1.0; 30]);
        assert_eq!(
            (v.classification, v.reason),
            (Classification::NoData, Reason::TooFewSamples)
        );
        assert_eq!((v.canary.n, v.canary.dropped_missing), (0, 30));
        assert_eq!(v.test, None);
        // Enough samples for `min_samples: 1`, but not for a 98% interval.
        let rule = SeriesRule {
            min_samples: 1,
            ..SeriesRule::default()
        };
        let v = judge_series(&rule, &[10.0, 11.0, 12.0, 13.0], &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(
            (v.classification, v.reason),
            (Classification::NoData, Reason::ConfidenceUnreachable)
        );
    }

    #[test]
    fn identical_arms_pass_as_identical() {
        let b = fixture("p95-baseline");
        let mut c = b.clone();
        c.reverse();
        let v = judge_series(&SeriesRule::default(), &c, &b);
        assert_eq!(
            (v.classification, v.reason),
            (Classification::Pass, Reason::Identical)
        );
    }

    #[test]
    fn outliers_go_only_when_asked() {
        let b: Vec<f64> = (0..50).map(|i| 100.0 + f64::from(i % 7)).collect();
        let mut c = b.clone();
        c.push(1e6);
        let keep = judge_series(&SeriesRule::default(), &c, &b);
        assert_eq!(keep.canary.dropped_outliers, 0);
        let rule = SeriesRule {
            outliers: Outliers::Remove { factor: 3.0 },
            ..SeriesRule::default()
        };
        let v = judge_series(&rule, &c, &b);
        assert_eq!((v.canary.dropped_outliers, v.canary.n), (1, 50));
        assert_eq!(v.reason, Reason::Identical);
    }

    #[test]
    fn rules_outside_their_range_are_refused() {
        let bad = [
            SeriesRule {
                confidence: 1.0,
                ..SeriesRule::default()
            },
            SeriesRule {
                tolerance: -0.1,
                ..SeriesRule::default()
            },
            SeriesRule {
                outliers: Outliers::Remove { factor: 0.0 },
                ..SeriesRule::default()
            },
            SeriesRule {
                min_samples: 0,
                ..SeriesRule::default()
            },
        ];
        for rule in bad {
            assert!(rule.check().is_err(), "{rule:?}");
        }
        assert_eq!(SeriesRule::default().check(), Ok(()));
    }
}
