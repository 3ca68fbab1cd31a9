//! canary::counts: errors against requests per arm, judged by an anytime-valid sequential
//! test that may be checked at every interval without inflating false alarms, and the
//! sample-ratio-mismatch check that says when the comparison cannot be trusted. Pure; the
//! caller keeps the [`CountsState`] between checks and starts a new one with each step.
//!
//! The test is Lindon & Malek's (2022, "Anytime-valid inference for multinomial count
//! data"): counts split between the arms are multinomial; under the null each event lands
//! in the canary with the configured traffic share ρ. Against a Dirichlet(k·ρ, k·(1 − ρ))
//! mixture of alternatives the Bayes factor
//!
//!   E = B(α + x) / B(α) / Π θ0_i^x_i      (B the multivariate beta function)
//!
//! is a non-negative martingale under the null, so by Ville's inequality
//! P(E ever reaches 1/α) ≤ α: the sequential p-value min(1, 1 / max E) holds at every look.

use super::series::{Classification, Direction};

/// Cumulative counts per arm since the step began.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PerArm {
    pub canary: u64,
    pub baseline: u64,
}

impl PerArm {
    /// The canary's share of the two; None when both are 0.
    pub fn canary_share(self) -> Option<f64> {
        let total = self.canary as f64 + self.baseline as f64;
        (total > 0.0).then(|| self.canary as f64 / total)
    }
}

/// ln E for `counts` against the null `null` (summing to 1), with the prior
/// Dirichlet(concentration · null). 0 (E = 1) when there are no counts.
pub fn log_e_value(counts: &[u64], null: &[f64], concentration: f64) -> f64 {
    /// ln B(a) = Σ lnΓ(a_i) − lnΓ(Σ a_i).
    fn ln_beta(a: impl Iterator<Item = f64>) -> f64 {
        let (sum, ln) = a.fold((0.0, 0.0), |(s, l), v| (s + v, l + libm::lgamma(v)));
        ln - libm::lgamma(sum)
    }
    let alpha = || null.iter().map(|t| concentration * t);
    let posterior = alpha().zip(counts).map(|(a, &x)| a + x as f64);
    let likelihood: f64 = counts
        .iter()
        .zip(null)
        .filter(|(x, _)| **x > 0)
        .map(|(&x, t)| x as f64 * t.ln())
        .sum();
    ln_beta(posterior) - ln_beta(alpha()) - likelihood
}

/// Which way the evidence points: the canary's share of the events above or below ρ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Above,
    Below,
}

/// A sequential test's memory: the largest e-value seen since it began, and the side the
/// counts leaned to then.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Evidence {
    pub max_log_e: f64,
    pub side: Option<Side>,
}

impl Evidence {
    /// Takes in the counts as they stand now (cumulative, never per interval).
    pub fn observe(&mut self, counts: PerArm, share: f64, concentration: f64) {
        let log_e = log_e_value(
            &[counts.canary, counts.baseline],
            &[share, 1.0 - share],
            concentration,
        );
        if log_e > self.max_log_e {
            self.max_log_e = log_e;
            self.side = counts
                .canary_share()
                .map(|s| if s > share { Side::Above } else { Side::Below });
        }
    }

    /// The anytime-valid p-value, min(1, 1 / max E).
    pub fn p_value(&self) -> f64 {
        (-self.max_log_e).exp().min(1.0)
    }
}

/// What the caller keeps between checks of one step.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CountsState {
    pub requests: Evidence,
    pub errors: Evidence,
}

/// How errors against requests are judged.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CountsRule {
    /// The canary's configured share of the requests the two arms serve together, in
    /// (0, 1): 0.5 for a canary beside an equal baseline, p for a canary at p beside the
    /// rest of the fleet.
    pub canary_share: f64,
    /// Errors: a High or Low needs p ≤ 1 − confidence.
    pub confidence: f64,
    /// Requests: a sample-ratio mismatch needs p ≤ 1 − srm_confidence.
    pub srm_confidence: f64,
    /// k in the Dirichlet(k·ρ, k·(1 − ρ)) mixture: smaller finds large changes sooner,
    /// larger finds small ones at all. Lindon & Malek's examples use 100.
    pub concentration: f64,
    pub direction: Direction,
    /// A High or Low fails the whole canary.
    pub critical: bool,
    /// Fewer requests than this in either arm, with no evidence yet, is NoData.
    pub min_requests: u64,
}

impl Default for CountsRule {
    fn default() -> Self {
        CountsRule {
            canary_share: 0.5,
            confidence: 0.98,
            srm_confidence: 0.999,
            concentration: 100.0,
            direction: Direction::Increase,
            critical: false,
            min_requests: 100,
        }
    }
}

/// A counts rule's setting that cannot be judged with.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum CountsRuleError {
    #[error("the canary's share of traffic {0} is outside (0, 1): both arms must serve")]
    Share(f64),
    #[error("confidence {0} is outside (0, 1): use e.g. 0.98")]
    Confidence(f64),
    #[error("concentration {0} must be above 0: use e.g. 100")]
    Concentration(f64),
}

impl CountsRule {
    pub fn check(&self) -> Result<(), CountsRuleError> {
        let inside = |v: f64| v > 0.0 && v < 1.0;
        if !inside(self.canary_share) {
            return Err(CountsRuleError::Share(self.canary_share));
        }
        if let Some(&c) = [self.confidence, self.srm_confidence]
            .iter()
            .find(|c| !inside(**c))
        {
            return Err(CountsRuleError::Confidence(c));
        }
        if !(self.concentration > 0.0 && self.concentration.is_finite()) {
            return Err(CountsRuleError::Concentration(self.concentration));
        }
        Ok(())
    }
}

/// Whether the arms got the traffic they were configured to get.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SplitCheck {
    /// False: a sample-ratio mismatch. The arms are not the populations the comparison
    /// assumes, so no verdict on them can be trusted: pause, and say so.
    pub trusted: bool,
    pub expected_share: f64,
    pub observed_share: Option<f64>,
    pub p_value: f64,
}

/// Why the error counts got their classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CountsReason {
    /// The canary's share of errors differs from its share of traffic beyond the
    /// confidence (High: more errors than its share, Low: fewer).
    Evidence,
    /// No evidence yet of a difference, on enough requests.
    NoEvidence,
    /// Evidence of a difference in a direction the rule does not judge.
    NotJudgedDirection,
    /// An arm has served fewer than `min_requests`, and there is no evidence yet.
    TooFewRequests,
}

/// The verdict on errors against requests, with everything that explains it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CountsVerdict {
    pub classification: Classification,
    pub critical_failure: bool,
    pub reason: CountsReason,
    pub requests: PerArm,
    pub errors: PerArm,
    /// errors / requests per arm; None with no requests.
    pub canary_rate: Option<f64>,
    pub baseline_rate: Option<f64>,
    /// The anytime-valid p-value of the errors' split.
    pub p_value: f64,
    pub split: SplitCheck,
}

/// Judges the counts as they stand (cumulative since the step began), adding them to the
/// evidence in `state`.
pub fn judge_counts(
    rule: &CountsRule,
    state: &mut CountsState,
    requests: PerArm,
    errors: PerArm,
) -> CountsVerdict {
    let share = rule.canary_share;
    let valid = rule.check().is_ok();
    if valid {
        state.requests.observe(requests, share, rule.concentration);
        state.errors.observe(errors, share, rule.concentration);
    }
    let rate = |e: u64, r: u64| (r > 0).then(|| e as f64 / r as f64);
    let split_p = state.requests.p_value();
    let mut verdict = CountsVerdict {
        classification: Classification::NoData,
        critical_failure: false,
        reason: CountsReason::TooFewRequests,
        requests,
        errors,
        canary_rate: rate(errors.canary, requests.canary),
        baseline_rate: rate(errors.baseline, requests.baseline),
        p_value: state.errors.p_value(),
        split: SplitCheck {
            trusted: split_p > 1.0 - rule.srm_confidence,
            expected_share: share,
            observed_share: requests.canary_share(),
            p_value: split_p,
        },
    };
    if !valid {
        return verdict;
    }
    let evidence = verdict.p_value <= 1.0 - rule.confidence;
    let judged = |side| match (side, rule.direction) {
        (_, Direction::Either) => true,
        (Side::Above, d) => d == Direction::Increase,
        (Side::Below, d) => d == Direction::Decrease,
    };
    let enough = requests.canary.min(requests.baseline) >= rule.min_requests;
    (verdict.classification, verdict.reason) = match (evidence, state.errors.side) {
        (true, Some(side)) if judged(side) => {
            verdict.critical_failure = rule.critical;
            let class = match side {
                Side::Above => Classification::High,
                Side::Below => Classification::Low,
            };
            (class, CountsReason::Evidence)
        }
        // A pass, either way, only on enough traffic.
        (true, Some(_)) if enough => (Classification::Pass, CountsReason::NotJudgedDirection),
        (false, _) if enough => (Classification::Pass, CountsReason::NoEvidence),
        _ => (Classification::NoData, CountsReason::TooFewRequests),
    };
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference: the ratio of SciPy 1.17.1's `dirichlet_multinomial(k·θ0, n).logpmf(x)`
    /// to `multinomial(n, θ0).logpmf(x)`, which is the mixture's Bayes factor.
    #[test]
    fn log_e_value_matches_scipy() {
        let cases: [(&[u64], &[f64], f64, f64); 9] = [
            (&[0, 0], &[0.5, 0.5], 100.0, 0.0),
            (&[3, 7], &[0.5, 0.5], 100.0, 0.025526563581847128),
            (&[30, 70], &[0.05, 0.95], 100.0, 19.65210012985432),
            (&[120, 880], &[0.05, 0.95], 100.0, 33.43046020433468),
            (&[52, 948], &[0.05, 0.95], 100.0, -1.1932254538568259),
            (&[5000, 95000], &[0.05, 0.95], 100.0, -3.4710492462909315),
            (&[5200, 94800], &[0.05, 0.95], 100.0, 0.6646910615527304),
            (&[10, 0], &[0.3, 0.7], 1.0, 9.321554261504128),
            (&[40, 60], &[0.5, 0.5], 10.0, 0.6236123462332444),
        ];
        for (x, null, k, want) in cases {
            let got = log_e_value(x, null, k);
            assert!(
                (got - want).abs() < 1e-8,
                "{x:?} {null:?} k={k}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn evidence_keeps_its_largest_value() {
        let mut e = Evidence::default();
        assert_eq!(e.p_value(), 1.0);
        e.observe(
            PerArm {
                canary: 30,
                baseline: 70,
            },
            0.05,
            100.0,
        );
        let p = e.p_value();
        assert!(p < 1e-8, "{p}");
        assert_eq!(e.side, Some(Side::Above));
        // Later counts that look like the null do not take the evidence back.
        e.observe(
            PerArm {
                canary: 5000,
                baseline: 95000,
            },
            0.05,
            100.0,
        );
        assert_eq!(e.p_value(), p);
    }

    fn rule() -> CountsRule {
        CountsRule {
            canary_share: 0.05,
            ..CountsRule::default()
        }
    }

    #[test]
    fn errors_that_double_in_the_canary_are_high() {
        let mut state = CountsState::default();
        // 5% of traffic, 1% errors in the baseline, 2% in the canary.
        let requests = PerArm {
            canary: 5_000,
            baseline: 95_000,
        };
        let errors = PerArm {
            canary: 100,
            baseline: 950,
        };
        let v = judge_counts(&rule(), &mut state, requests, errors);
        assert_eq!(
            (v.classification, v.reason),
            (Classification::High, CountsReason::Evidence)
        );
        assert!(
            v.split.trusted,
            "the traffic split is as configured: {:?}",
            v.split
        );
        assert_eq!((v.canary_rate, v.baseline_rate), (Some(0.02), Some(0.01)));
        assert!(!v.critical_failure);
        let critical = CountsRule {
            critical: true,
            ..rule()
        };
        let v = judge_counts(&critical, &mut CountsState::default(), requests, errors);
        assert!(v.critical_failure);
    }

    #[test]
    fn fewer_errors_pass_when_only_an_increase_is_judged() {
        let requests = PerArm {
            canary: 5_000,
            baseline: 95_000,
        };
        let errors = PerArm {
            canary: 10,
            baseline: 950,
        };
        let v = judge_counts(&rule(), &mut CountsState::default(), requests, errors);
        assert_eq!(
            (v.classification, v.reason),
            (Classification::Pass, CountsReason::NotJudgedDirection)
        );
        let either = CountsRule {
            direction: Direction::Either,
            ..rule()
        };
        let v = judge_counts(&either, &mut CountsState::default(), requests, errors);
        assert_eq!(v.classification, Classification::Low);
    }

    #[test]
    fn a_skewed_split_cannot_be_trusted() {
        // Configured 5%, served 6%.
        let requests = PerArm {
            canary: 6_000,
            baseline: 94_000,
        };
        let errors = PerArm {
            canary: 60,
            baseline: 940,
        };
        let v = judge_counts(&rule(), &mut CountsState::default(), requests, errors);
        assert!(!v.split.trusted, "{:?}", v.split);
        assert_eq!(v.split.observed_share, Some(0.06));
        assert!(v.split.p_value < 0.001);
    }

    #[test]
    fn little_traffic_and_no_evidence_is_no_data() {
        let requests = PerArm {
            canary: 50,
            baseline: 950,
        };
        let errors = PerArm {
            canary: 1,
            baseline: 10,
        };
        let v = judge_counts(&rule(), &mut CountsState::default(), requests, errors);
        assert_eq!(
            (v.classification, v.reason),
            (Classification::NoData, CountsReason::TooFewRequests)
        );
        // Overwhelming evidence does not wait for the minimum: it is valid at any look.
        let errors = PerArm {
            canary: 40,
            baseline: 10,
        };
        let v = judge_counts(&rule(), &mut CountsState::default(), requests, errors);
        assert_eq!(v.classification, Classification::High);
    }

    #[test]
    fn a_rule_without_two_arms_is_refused_and_judges_nothing() {
        let bad = CountsRule {
            canary_share: 1.0,
            ..rule()
        };
        assert_eq!(bad.check(), Err(CountsRuleError::Share(1.0)));
        let requests = PerArm {
            canary: 5_000,
            baseline: 0,
        };
        let v = judge_counts(&bad, &mut CountsState::default(), requests, requests);
        assert_eq!(v.classification, Classification::NoData);
        assert_eq!(rule().check(), Ok(()));
    }
}
