//! metrics::simulated::arms: the canary and the baseline measured apart, for the canary
//! judge. Both arms share the fleet's slow wander (same load, same time) and differ by
//! their own jitter and by what the arm scenario makes the canary do. Counts are drawn
//! per interval: requests split by the live percent, errors by each arm's error rate.

use super::{Known, Simulated, hash3, noise, unit};
use crate::engine::values::{ArmKey, ArmReading, Outcome};
use crate::plan::{Arm, ArmScenario};

/// Requests per second the whole fleet serves.
const FLEET_RPS: f64 = 200.0;
/// The baseline's error rate, as in the aggregate's healthy state.
const BASE_ERROR_RATE: f64 = 0.001;
const CANARY_SALT: u64 = 0x6361_6e61_7279;
const BASELINE_SALT: u64 = 0x6261_7365_6c69_6e65;
const REQUESTS_SALT: u64 = 0x7265_7175_6573_7473;
const ERRORS_SALT: u64 = 0x6572_726f_7273;

/// Keeps each arm's jitter independent of the other's.
fn salt(arm: Arm) -> u64 {
    match arm {
        Arm::Canary => CANARY_SALT,
        Arm::Baseline => BASELINE_SALT,
    }
}

/// How much larger the canary's mean is than the baseline's for `known`.
pub(super) fn factor(scenario: ArmScenario, known: Known) -> f64 {
    match (scenario, known) {
        // The new code costs a little, well inside any effect size a plan allows.
        (ArmScenario::Healthy, Known::P95 | Known::Cpu) => 1.005,
        (ArmScenario::P95Regression, Known::P95) => 1.15,
        (ArmScenario::ErrorDoubling, Known::ErrorRate) => 2.0,
        _ => 1.0,
    }
}

impl Simulated {
    pub(super) fn arm_readings(&self, t: i64) -> Vec<ArmReading> {
        if self.arms.is_empty() {
            return Vec::new();
        }
        let share = self.share();
        // The canary serves while the flag is on for some users; the baseline while some
        // users are left on the old code.
        let serves = |arm| match arm {
            Arm::Canary => share > 0.0,
            Arm::Baseline => share < 1.0,
        };
        let (requests, errors) = self.counts(t, share);
        self.arms
            .iter()
            .map(|key| {
                let outcome = |arm: Arm| -> Outcome {
                    if !serves(arm) {
                        return Outcome::NoData;
                    }
                    let i = usize::from(arm == Arm::Baseline);
                    match key {
                        ArmKey::Requests => Outcome::Value(requests[i] as f64),
                        ArmKey::Errors => Outcome::Value(errors[i] as f64),
                        ArmKey::Series(name) => match Known::from_name(name) {
                            Some(known) => Outcome::Value(self.arm_value(known, arm, t)),
                            None => Outcome::Error(super::UNKNOWN_SERIES.to_string()),
                        },
                    }
                };
                ArmReading {
                    key: key.clone(),
                    canary: outcome(Arm::Canary),
                    baseline: outcome(Arm::Baseline),
                }
            })
            .collect()
    }

    fn arm_value(&self, known: Known, arm: Arm, t: i64) -> f64 {
        // The shared wander, plus jitter of the arm's own.
        let shared = noise(self.seed, known.salt(), t);
        let own = unit(hash3(self.seed, known.salt() ^ salt(arm), t as u64));
        let n = 0.5 * shared + 0.5 * own;
        let (incident, _, burn_hours) = match arm {
            Arm::Canary => self.levels(t),
            Arm::Baseline => (0.0, 0, 0.0),
        };
        let f = match arm {
            Arm::Canary => factor(self.arm_scenario, known),
            Arm::Baseline => 1.0,
        };
        match known {
            Known::ErrorRate => {
                let mean = BASE_ERROR_RATE * f + incident * (0.065 - BASE_ERROR_RATE * f);
                (mean + n * (0.0003 + 0.003 * incident)).max(0.0)
            }
            Known::P95 => {
                let mean = 0.300
                    * f
                    * (1.0 + 1.5 * incident)
                    * (1.0 + super::SLOW_BURN_PER_HOUR * burn_hours);
                (mean * (1.0 + 0.04 * n)).max(0.0)
            }
            Known::Cpu => (0.40 * f + 0.05 * incident + 0.02 * n).clamp(0.0, 1.0),
            Known::Memory => (0.60 * f + 0.01 * n).clamp(0.0, 1.0),
        }
    }

    /// ([canary, baseline] requests, [canary, baseline] errors) in the interval ending at `t`.
    fn counts(&self, t: i64, share: f64) -> ([u64; 2], [u64; 2]) {
        let total = FLEET_RPS * self.interval_ms as f64 / 1000.0;
        let draw = |salt: u64, i: u64| hash3(self.seed, salt ^ i, t as u64);
        let expected = total * share;
        let spread = (total * share * (1.0 - share)).sqrt();
        let canary = (expected + spread * normal(draw(REQUESTS_SALT, 1), draw(REQUESTS_SALT, 2)))
            .round()
            .clamp(0.0, total);
        let requests = [canary as u64, (total - canary).round().max(0.0) as u64];
        let (incident, _, _) = self.levels(t);
        let canary_rate = BASE_ERROR_RATE * factor(self.arm_scenario, Known::ErrorRate)
            + incident * (0.065 - BASE_ERROR_RATE);
        let errors = [
            poisson(requests[0] as f64 * canary_rate, draw(ERRORS_SALT, 1)),
            poisson(requests[1] as f64 * BASE_ERROR_RATE, draw(ERRORS_SALT, 2)),
        ];
        (requests, errors)
    }
}

/// A standard normal deviate from two hashes (Box-Muller).
fn normal(a: u64, b: u64) -> f64 {
    let u1 = ((a >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let u2 = (b >> 11) as f64 / (1u64 << 53) as f64;
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A Poisson deviate with mean `lambda` from one hash: inversion for small means, the
/// normal approximation beyond.
fn poisson(lambda: f64, h: u64) -> u64 {
    if lambda.is_nan() || lambda <= 0.0 {
        return 0;
    }
    if lambda > 50.0 {
        let z = normal(h, h.rotate_left(29) ^ 0x9e37_79b9_7f4a_7c15);
        return (lambda + lambda.sqrt() * z).round().max(0.0) as u64;
    }
    let u = (h >> 11) as f64 / (1u64 << 53) as f64;
    let mut k = 0u64;
    let mut p = (-lambda).exp();
    let mut cumulative = p;
    while u > cumulative && k < 1_000 {
        k += 1;
        p *= lambda / k as f64;
        cumulative += p;
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_has_its_mean() {
        for lambda in [0.3, 4.0, 120.0] {
            let n = 20_000u64;
            let sum: u64 = (0..n).map(|i| poisson(lambda, hash3(1, 2, i))).sum();
            let mean = sum as f64 / n as f64;
            assert!(
                (mean - lambda).abs() < 0.05 * lambda + 0.02,
                "{lambda}: {mean}"
            );
        }
    }

    #[test]
    fn normal_is_standard() {
        let n = 20_000u64;
        let xs: Vec<f64> = (0..n)
            .map(|i| normal(hash3(3, 4, i), hash3(5, 6, i)))
            .collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(
            mean.abs() < 0.03 && (var - 1.0).abs() < 0.05,
            "{mean} {var}"
        );
    }
}
