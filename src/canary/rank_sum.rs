//! canary::rank_sum: the Mann-Whitney U test (Wilcoxon rank sum) of canary against
//! baseline, and the Hodges-Lehmann estimate of their shift with its distribution-free
//! confidence interval. Pure arithmetic over sorted samples.
//!
//! The interval is the one Kayenta's `MannWhitney` and R's `wilcox.test(exact = FALSE,
//! correct = TRUE, conf.int = TRUE)` find by root-finding on the normal approximation;
//! here it is read off in closed form as two order statistics of the pairwise
//! differences (Moses' construction), found without materialising the m·n differences.

use super::normal;

/// The rank test of one canary arm against one baseline arm.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RankSum {
    /// Mann-Whitney U of the canary: the number of (canary, baseline) pairs in which the
    /// canary value is larger, ties counting one half (SciPy's `U1` with the canary first).
    pub u: f64,
    /// Two-sided p-value: normal approximation with tie and continuity correction.
    pub p_value: f64,
    /// Hodges-Lehmann estimate of the shift canary − baseline: the median of all
    /// pairwise differences.
    pub estimate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub confidence: f64,
    /// False when the samples are too small for an interval at `confidence`: the interval
    /// is then the whole range of differences, and says nothing at that confidence.
    pub reachable: bool,
}

/// Runs the test. `canary` and `baseline` are sorted ascending, finite and non-empty;
/// `confidence` is in (0, 1).
pub fn rank_sum(canary: &[f64], baseline: &[f64], confidence: f64) -> RankSum {
    let (x, y) = (canary, baseline);
    let (m, n) = (x.len() as f64, y.len() as f64);
    let big_n = m + n;
    let ties = Ties::count(x, y);
    let u = ties.rank_sum_x - m * (m + 1.0) / 2.0;
    let mn = m * n;
    let variance = |tie_term: f64| {
        // N ≥ 2 here, as both arms hold a value.
        mn / 12.0 * ((big_n + 1.0) - tie_term / (big_n * (big_n - 1.0)))
    };
    let sigma = variance(ties.across).max(0.0).sqrt();
    let p_value = if sigma > 0.0 {
        let z = ((u - mn / 2.0).abs() - 0.5) / sigma;
        (2.0 * normal::upper_tail(z)).min(1.0)
    } else {
        1.0
    };

    // Shifting the canary by μ moves U past one pairwise difference at a time; between
    // differences the only ties left are those within an arm, so the variance that bounds
    // the interval carries the within-arm tie term alone.
    let sigma_shift = variance(ties.within).max(0.0).sqrt();
    let z = -normal::quantile((1.0 - confidence) / 2.0);
    let pairs = x.len() as u64 * y.len() as u64;
    let k_real = (mn / 2.0 - 0.5 - z * sigma_shift).ceil();
    let reachable = k_real >= 1.0;
    // k_real ≤ ⌈mn/2⌉, so the cast cannot exceed the pair count.
    let k = if reachable { k_real as u64 } else { 1 };
    let differences = Differences { x, y };
    let estimate = if pairs % 2 == 1 {
        differences.kth(pairs / 2 + 1)
    } else {
        (differences.kth(pairs / 2) + differences.kth(pairs / 2 + 1)) / 2.0
    };
    RankSum {
        u,
        p_value,
        estimate,
        ci_low: differences.kth(k),
        ci_high: differences.kth(pairs + 1 - k),
        confidence,
        reachable,
    }
}

/// The pass over both sorted arms that ranks them together.
struct Ties {
    /// Sum of the canary's mid-ranks in the combined sample.
    rank_sum_x: f64,
    /// Σ(t³ − t) over groups of equal values in the combined sample.
    across: f64,
    /// The same sum over groups of equal values within each arm alone.
    within: f64,
}

impl Ties {
    fn count(x: &[f64], y: &[f64]) -> Ties {
        let cube = |t: usize| {
            let t = t as f64;
            t * t * t - t
        };
        let run =
            |s: &[f64], from: usize, v: f64| s[from..].iter().take_while(|&&a| a == v).count();
        let (mut i, mut j, mut rank) = (0, 0, 0.0);
        let mut out = Ties {
            rank_sum_x: 0.0,
            across: 0.0,
            within: 0.0,
        };
        while i < x.len() || j < y.len() {
            let v = match (x.get(i), y.get(j)) {
                (Some(&a), Some(&b)) => a.min(b),
                (Some(&a), None) => a,
                (None, Some(&b)) => b,
                (None, None) => break,
            };
            let (tx, ty) = (run(x, i, v), run(y, j, v));
            let t = tx + ty;
            let mid = rank + (t as f64 + 1.0) / 2.0;
            out.rank_sum_x += tx as f64 * mid;
            out.across += cube(t);
            out.within += cube(tx) + cube(ty);
            rank += t as f64;
            (i, j) = (i + tx, j + ty);
        }
        out
    }
}

/// The m·n differences x_i − y_j of two ascending arms, never built: an order statistic
/// is found by bisecting over the floating-point numbers between the smallest and the
/// largest difference, counting in O(m + n) how many differences lie at or below each.
struct Differences<'a> {
    x: &'a [f64],
    y: &'a [f64],
}

impl Differences<'_> {
    /// How many differences are ≤ t. x_i − y_j falls as j rises and grows with i (rounding
    /// keeps both orders), so the first j with x_i − y_j ≤ t only moves forward.
    fn at_most(&self, t: f64) -> u64 {
        let (mut j, mut count) = (0, 0);
        for &a in self.x {
            while j < self.y.len() && a - self.y[j] > t {
                j += 1;
            }
            count += (self.y.len() - j) as u64;
        }
        count
    }

    /// The k-th smallest difference, 1 ≤ k ≤ m·n: the smallest float t with at least k
    /// differences ≤ t, which is always one of the differences as computed.
    fn kth(&self, k: u64) -> f64 {
        let (Some(&x0), Some(&xl), Some(&y0), Some(&yl)) =
            (self.x.first(), self.x.last(), self.y.first(), self.y.last())
        else {
            return f64::NAN;
        };
        let (mut lo, mut hi) = (key(x0 - yl), key(xl - y0));
        while lo < hi {
            let mid = ((i128::from(lo) + i128::from(hi)) >> 1) as i64;
            if self.at_most(unkey(mid)) >= k {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        // −0 and +0 count the same; report +0.
        unkey(lo) + 0.0
    }
}

/// Maps floats to integers in the same order (−∞ < … < −0 < +0 < … < +∞), so that
/// bisection can step through every float between two others.
fn key(f: f64) -> i64 {
    let bits = f.to_bits() as i64;
    if bits < 0 { bits ^ i64::MAX } else { bits }
}

fn unkey(k: i64) -> f64 {
    let bits = if k < 0 { k ^ i64::MAX } else { k };
    f64::from_bits(bits as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(v: &[f64]) -> Vec<f64> {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v
    }

    #[test]
    fn key_keeps_the_order_of_floats() {
        let floats = [
            f64::NEG_INFINITY,
            -1e300,
            -1.0,
            -f64::MIN_POSITIVE,
            -0.0,
            0.0,
            f64::MIN_POSITIVE,
            1.0,
            1e300,
            f64::INFINITY,
        ];
        for w in floats.windows(2) {
            assert!(key(w[0]) < key(w[1]), "{} !< {}", w[0], w[1]);
        }
        for f in floats {
            assert_eq!(unkey(key(f)).to_bits(), f.to_bits());
        }
    }

    /// Every order statistic of the differences, against sorting them all.
    #[test]
    fn kth_difference_matches_sorting_every_pair() {
        let x = sorted(&[0.1, 0.7, 0.7, 2.5, -3.0, 1e-3, 4.0]);
        let y = sorted(&[0.2, 0.7, -1.25, 3.5, 0.0]);
        let mut all: Vec<f64> = x
            .iter()
            .flat_map(|a| y.iter().map(move |b| a - b))
            .collect();
        all.sort_by(f64::total_cmp);
        let d = Differences { x: &x, y: &y };
        for (i, want) in all.iter().enumerate() {
            assert_eq!(d.kth(i as u64 + 1), *want, "k = {}", i + 1);
        }
    }

    #[test]
    fn constant_arms_give_the_one_difference() {
        let r = rank_sum(&[5.0; 12], &[3.0; 12], 0.98);
        assert_eq!((r.estimate, r.ci_low, r.ci_high), (2.0, 2.0, 2.0));
        assert_eq!(r.u, 144.0);
        let r = rank_sum(&[3.0; 12], &[3.0; 12], 0.98);
        assert_eq!(
            (r.estimate, r.ci_low, r.ci_high, r.p_value),
            (0.0, 0.0, 0.0, 1.0)
        );
    }

    #[test]
    fn tiny_samples_cannot_reach_98_percent() {
        // With 4 and 4 the most extreme split has p = 2/70 ≈ 0.029 exactly: no 98% interval.
        let r = rank_sum(&[5.0, 6.0, 7.0, 8.0], &[1.0, 2.0, 3.0, 4.0], 0.98);
        assert!(!r.reachable);
        assert_eq!((r.ci_low, r.ci_high), (1.0, 7.0));
        let r = rank_sum(&[5.0, 6.0, 7.0, 8.0], &[1.0, 2.0, 3.0, 4.0], 0.90);
        assert!(r.reachable);
    }
}

/// Pinned to values computed independently by `scripts/judge-reference.py` over the
/// samples in `fixtures/judge/`: U and p from SciPy 1.17.1 `mannwhitneyu(canary, baseline,
/// method="asymptotic", use_continuity=True)`, the estimate as NumPy 2.4.6's median of
/// every pairwise difference, and the interval from R's `wilcox.test` root-finding
/// (continuity-corrected, ranks recomputed at each shift) solved with SciPy's `brentq`.
#[cfg(test)]
mod reference {
    use super::*;

    fn fixture(name: &str) -> Vec<f64> {
        let path = format!("{}/fixtures/judge/{name}.txt", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut v: Vec<f64> = text
            .split_whitespace()
            .map(|s| s.parse().unwrap_or_else(|e| panic!("{path}: {s}: {e}")))
            .collect();
        v.sort_by(f64::total_cmp);
        v
    }

    struct Want {
        u: f64,
        p: f64,
        hl: f64,
        ci98: (f64, f64),
        ci95: (f64, f64),
    }

    fn close(got: f64, want: f64, tol: f64) -> bool {
        (got - want).abs() <= tol * want.abs().max(1.0)
    }

    fn check(name: &str, want: Want) {
        let (x, y) = (
            fixture(&format!("{name}-canary")),
            fixture(&format!("{name}-baseline")),
        );
        let r = rank_sum(&x, &y, 0.98);
        assert_eq!(r.u, want.u, "{name}: U");
        assert!(
            close(r.p_value, want.p, 1e-12),
            "{name}: p {} vs {}",
            r.p_value,
            want.p
        );
        assert!(
            close(r.estimate, want.hl, 1e-12),
            "{name}: HL {} vs {}",
            r.estimate,
            want.hl
        );
        // brentq stops within 1e-12 of the step it finds.
        for (conf, (lo, hi)) in [(0.98, want.ci98), (0.95, want.ci95)] {
            let r = rank_sum(&x, &y, conf);
            assert!(r.reachable, "{name}: {conf} reachable");
            assert!(
                close(r.ci_low, lo, 1e-9),
                "{name}: {conf} low {} vs {lo}",
                r.ci_low
            );
            assert!(
                close(r.ci_high, hi, 1e-9),
                "{name}: {conf} high {} vs {hi}",
                r.ci_high
            );
        }
    }

    #[test]
    fn small_with_ties_in_the_baseline() {
        check(
            "depression",
            Want {
                u: 58.0,
                p: 0.13291945818531892,
                hl: 0.56,
                ci98: (-0.5599999999992951, 1.2329999999999952),
                ci95: (-0.36999999999965444, 1.1829999999993457),
            },
        );
    }

    #[test]
    fn small_without_ties() {
        check(
            "small",
            Want {
                u: 43.0,
                p: 0.46421431277103153,
                hl: 1.1556235000000004,
                ci98: (-1.9576999999998104, 3.8117699999994863),
                ci95: (-1.2425400000003226, 3.175936000000294),
            },
        );
    }

    #[test]
    fn whole_numbers_tied_within_and_across_arms() {
        check(
            "ties",
            Want {
                u: 486.0,
                p: 0.058905691210282614,
                hl: 1.0,
                ci98: (-2.9940291752648475e-13, 2.0000000000000764),
                ci95: (-5.22115349127405e-13, 2.0000000000004086),
            },
        );
    }

    #[test]
    fn an_hour_of_p95_with_a_15_percent_regression() {
        check(
            "p95",
            Want {
                u: 37606.5,
                p: 6.814442723170114e-09,
                hl: 43.849999999999994,
                ci98: (27.09999999999977, 60.50000000000053),
                ci95: (29.999999999999893, 57.69999999999945),
            },
        );
    }

    #[test]
    fn unequal_arms_without_a_shift() {
        check(
            "null",
            Want {
                u: 10122.0,
                p: 0.05054709503662909,
                hl: -3.5573565772966163,
                ci98: (-7.785231086831673, 0.6883977869739664),
                ci95: (-7.137659520178965, 0.005342216168657677),
            },
        );
    }
}
