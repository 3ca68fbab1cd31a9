//! The canary judge's pass over a release: 8 series × 2 arms × 1 h of 15 s samples (240
//! per arm), each judged (cleaning, Mann-Whitney U, Hodges-Lehmann interval, verdict),
//! then the score. The judge runs every interval, so this is its cost per interval.
//!
//! `cargo bench --bench judge`

use criterion::{Criterion, criterion_group, criterion_main};
use shipdeck::canary::{Judged, Outliers, Scoring, SeriesRule, judge_series, score};
use std::hint::black_box;

const SERIES: usize = 8;
/// One hour of 15 s samples.
const SAMPLES: usize = 240;

/// A deterministic, noisy arm: `level` with ±10% wobble and, in the canary, `shift` more.
fn arm(series: usize, level: f64, shift: f64) -> Vec<f64> {
    (0..SAMPLES)
        .map(|i| {
            let k = (i * 7919 + series * 104_729) % 1000;
            level * (1.0 + shift) * (0.9 + 0.2 * k as f64 / 1000.0)
        })
        .collect()
}

fn one_pass(c: &mut Criterion) {
    let arms: Vec<(Vec<f64>, Vec<f64>)> = (0..SERIES)
        .map(|s| {
            let level = 0.1 + s as f64;
            // Half the series regress by 15%: every branch of the verdict is exercised.
            let shift = if s % 2 == 0 { 0.15 } else { 0.0 };
            (arm(s, level, shift), arm(s + 100, level, 0.0))
        })
        .collect();
    let names: Vec<String> = (0..SERIES).map(|s| format!("series_{s}")).collect();
    let rule = SeriesRule {
        outliers: Outliers::Remove { factor: 3.0 },
        ..SeriesRule::default()
    };
    let scoring = Scoring::default();
    c.bench_function("judge: 8 series × 2 arms × 240 samples, scored", |b| {
        b.iter(|| {
            let verdicts: Vec<_> = arms
                .iter()
                .map(|(canary, baseline)| {
                    judge_series(&rule, black_box(canary), black_box(baseline))
                })
                .collect();
            let judged: Vec<Judged> = verdicts
                .iter()
                .zip(&names)
                .map(|(v, name)| Judged {
                    name,
                    groups: &[],
                    classification: v.classification,
                    critical_failure: v.critical_failure,
                })
                .collect();
            black_box(score(&scoring, &judged, true))
        })
    });
}

criterion_group!(benches, one_pass);
criterion_main!(benches);
