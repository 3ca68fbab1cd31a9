//! Invariants of the rank test and the series judge, for any samples.

use proptest::prelude::*;
use shipdeck::canary::{Classification, SeriesRule, judge_series, rank_sum};

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

/// Eighths between −128 and 128: sums and differences of these are exact in f64, so the
/// invariants below hold to the last bit. Few distinct values, so ties are common.
fn arm(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec((-1024i32..1024).prop_map(|k| f64::from(k) / 8.0), len)
}

proptest! {
    #[test]
    fn swapping_the_arms_mirrors_the_shift(x in arm(1..40), y in arm(1..40), conf in 0.5f64..0.999) {
        let (x, y) = (sorted(x), sorted(y));
        let a = rank_sum(&x, &y, conf);
        let b = rank_sum(&y, &x, conf);
        prop_assert_eq!(b.estimate, -a.estimate);
        prop_assert_eq!((b.ci_low, b.ci_high), (-a.ci_high, -a.ci_low));
        prop_assert_eq!(b.u, (x.len() * y.len()) as f64 - a.u);
        prop_assert_eq!(b.p_value, a.p_value);
        prop_assert_eq!(b.reachable, a.reachable);
    }

    #[test]
    fn shifting_the_canary_by_c_shifts_the_estimate_by_c(
        x in arm(1..40), y in arm(1..40), c in -64i32..64,
    ) {
        let (x, y) = (sorted(x), sorted(y));
        let c = f64::from(c);
        let shifted: Vec<f64> = x.iter().map(|v| v + c).collect();
        let a = rank_sum(&x, &y, 0.98);
        let b = rank_sum(&shifted, &y, 0.98);
        prop_assert_eq!(b.estimate, a.estimate + c);
        prop_assert_eq!((b.ci_low, b.ci_high), (a.ci_low + c, a.ci_high + c));
    }

    #[test]
    fn the_interval_holds_the_estimate(x in arm(1..60), y in arm(1..60), conf in 0.5f64..0.999) {
        let r = rank_sum(&sorted(x), &sorted(y), conf);
        prop_assert!(r.ci_low <= r.estimate && r.estimate <= r.ci_high, "{:?}", r);
        prop_assert!((0.0..=1.0).contains(&r.p_value));
    }

    #[test]
    fn a_wider_confidence_never_narrows_the_interval(x in arm(5..60), y in arm(5..60)) {
        let (x, y) = (sorted(x), sorted(y));
        let narrow = rank_sum(&x, &y, 0.90);
        let wide = rank_sum(&x, &y, 0.99);
        prop_assert!(wide.ci_low <= narrow.ci_low && narrow.ci_high <= wide.ci_high);
    }

    #[test]
    fn identical_arms_never_fail(x in arm(0..80), seed in any::<u64>()) {
        // The same values in another order.
        let mut y = x.clone();
        let len = y.len().max(1);
        y.rotate_left((seed as usize) % len);
        y.reverse();
        let v = judge_series(&SeriesRule::default(), &y, &x);
        prop_assert!(
            matches!(v.classification, Classification::Pass | Classification::NoData),
            "{:?}", v
        );
    }

    #[test]
    fn swapping_the_arms_swaps_high_and_low(x in arm(10..60), y in arm(10..60)) {
        // Positive values, so the mean ratio's side agrees with the shift's.
        let lift = |v: Vec<f64>| -> Vec<f64> { v.into_iter().map(|a| a + 200.0).collect() };
        let (x, y) = (lift(x), lift(y));
        let rule = SeriesRule::default();
        let a = judge_series(&rule, &x, &y).classification;
        let b = judge_series(&rule, &y, &x).classification;
        let mirrored = match a {
            Classification::High => Classification::Low,
            Classification::Low => Classification::High,
            other => other,
        };
        prop_assert_eq!(b, mirrored);
    }
}
