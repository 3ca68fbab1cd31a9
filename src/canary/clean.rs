//! canary::clean: what the judge does to an arm's samples before comparing them — drops
//! NaN and ±∞, and optionally outliers by Kayenta's IQR fences. Pure.

/// Whether an arm's outliers are dropped before the comparison.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "strategy")]
pub enum Outliers {
    #[default]
    Keep,
    /// Drop values outside `min(p1, Q1 − factor·IQR) ..= max(p99, Q3 + factor·IQR)`:
    /// Kayenta's IQR detector with reduced sensitivity (its default factor is 3).
    Remove { factor: f64 },
}

/// One arm's samples, ready for the rank test: finite, sorted ascending.
#[derive(Debug, Clone, PartialEq)]
pub struct Cleaned {
    pub sorted: Vec<f64>,
    /// NaN and ±∞ samples dropped (a missing scrape, a division by zero in a query).
    pub dropped_missing: usize,
    pub dropped_outliers: usize,
}

pub fn clean(raw: &[f64], outliers: Outliers) -> Cleaned {
    let mut sorted: Vec<f64> = raw.iter().copied().filter(|v| v.is_finite()).collect();
    let dropped_missing = raw.len() - sorted.len();
    sorted.sort_by(f64::total_cmp);
    let before = sorted.len();
    if let Outliers::Remove { factor } = outliers
        && !sorted.is_empty()
    {
        let q1 = percentile(&sorted, 0.25);
        let q3 = percentile(&sorted, 0.75);
        let iqr = q3 - q1;
        let low = percentile(&sorted, 0.01).min(q1 - factor * iqr);
        let high = percentile(&sorted, 0.99).max(q3 + factor * iqr);
        sorted.retain(|v| (low..=high).contains(v));
    }
    Cleaned {
        dropped_outliers: before - sorted.len(),
        sorted,
        dropped_missing,
    }
}

/// The `p` quantile (0 ≤ p ≤ 1) of ascending, non-empty `sorted` by linear interpolation
/// between order statistics: Hyndman and Fan's type 7, the default of R, NumPy and the
/// Apache Commons `Percentile` (R_7) that Kayenta uses.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let Some(&last) = sorted.last() else {
        return f64::NAN;
    };
    let h = (sorted.len() - 1) as f64 * p.clamp(0.0, 1.0);
    let below = h.floor();
    // `h` is at most len − 1, so `below` is a valid index; `above` may be one past it.
    let i = below as usize;
    match sorted.get(i + 1) {
        Some(&next) => sorted[i] + (h - below) * (next - sorted[i]),
        None => last,
    }
}

pub fn median(sorted: &[f64]) -> Option<f64> {
    (!sorted.is_empty()).then(|| percentile(sorted, 0.5))
}

pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference: `numpy.percentile(x, q)` (method 'linear', type 7), NumPy 2.4.6.
    #[test]
    fn percentile_is_type_7() {
        let x = [1.0, 2.0, 4.0, 8.0, 16.0];
        let cases = [
            (0.0, 1.0),
            (0.01, 1.04),
            (0.25, 2.0),
            (0.5, 4.0),
            (0.75, 8.0),
            (0.99, 15.68),
            (1.0, 16.0),
        ];
        for (p, want) in cases {
            let got = percentile(&x, p);
            assert!((got - want).abs() < 1e-12, "p{p}: {got} != {want}");
        }
        assert_eq!(percentile(&[3.0], 0.3), 3.0);
        assert!(percentile(&[], 0.5).is_nan());
    }

    #[test]
    fn drops_nan_and_infinities_and_sorts() {
        let c = clean(
            &[3.0, f64::NAN, 1.0, f64::INFINITY, 2.0, f64::NEG_INFINITY],
            Outliers::Keep,
        );
        assert_eq!(c.sorted, vec![1.0, 2.0, 3.0]);
        assert_eq!((c.dropped_missing, c.dropped_outliers), (3, 0));
    }

    #[test]
    fn removes_only_values_beyond_the_fences() {
        // 100 values 1..=100 and one at 10,000: Q1 = 26, Q3 = 76 (type 7 over 101 values),
        // so the upper fence is max(p99, 76 + 3·50) = 226 and only 10,000 goes.
        let mut raw: Vec<f64> = (1..=100).map(f64::from).collect();
        raw.push(10_000.0);
        let c = clean(&raw, Outliers::Remove { factor: 3.0 });
        assert_eq!(c.dropped_outliers, 1);
        assert_eq!(c.sorted.len(), 100);
        assert_eq!(c.sorted.last(), Some(&100.0));
        // A value inside the fences stays however far it is from the median.
        raw.pop();
        raw.push(220.0);
        let c = clean(&raw, Outliers::Remove { factor: 3.0 });
        assert_eq!(c.dropped_outliers, 0);
    }
}
