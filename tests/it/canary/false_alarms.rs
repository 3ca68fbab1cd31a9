//! False alarms and power by seeded simulation (ChaCha8, fixed seeds: every run of these
//! tests draws the same numbers, so the rates below are exact for those draws).

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use shipdeck::canary::{
    Classification, CountsRule, CountsState, Direction, PerArm, SeriesRule, judge_counts,
    judge_series,
};

const RUNS: usize = 1_000;
const INTERVALS: usize = 60;

/// A binomial draw by inverting its distribution function: one uniform and about n·p
/// steps, which keeps these simulations quick in a debug build.
fn binomial(rng: &mut ChaCha8Rng, n: u64, p: f64) -> u64 {
    if p > 0.5 {
        return n - binomial(rng, n, 1.0 - p);
    }
    let u: f64 = rng.random();
    let ratio = p / (1.0 - p);
    let (mut k, mut pmf) = (0, (1.0 - p).powf(n as f64));
    let mut cdf = pmf;
    while cdf < u && k < n {
        pmf *= ratio * (n - k) as f64 / (k + 1) as f64;
        k += 1;
        cdf += pmf;
    }
    k
}

/// One interval of traffic: each request goes to the canary with probability `share` and
/// fails with the probability of the arm it went to.
fn interval(
    rng: &mut ChaCha8Rng,
    requests: u64,
    share: f64,
    rates: (f64, f64),
) -> (PerArm, PerArm) {
    let canary = binomial(rng, requests, share);
    let req = PerArm {
        canary,
        baseline: requests - canary,
    };
    let err = PerArm {
        canary: binomial(rng, req.canary, rates.0),
        baseline: binomial(rng, req.baseline, rates.1),
    };
    (req, err)
}

fn add(a: PerArm, b: PerArm) -> PerArm {
    PerArm {
        canary: a.canary + b.canary,
        baseline: a.baseline + b.baseline,
    }
}

/// How many of `RUNS` rollouts raised each alarm at any of `INTERVALS` looks: the
/// sequential errors test, its split check, and a fixed-sample z-test on the canary's
/// share of errors that peeks at every look.
struct Alarms {
    errors: usize,
    split: usize,
    peeking: usize,
    /// The interval of each errors alarm, counted from 1.
    first_at: Vec<usize>,
}

fn simulate(seed: u64, rule: &CountsRule, requests: u64, rates: (f64, f64)) -> Alarms {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let z_crit = 2.326_347_874_040_841; // two-sided 2%, as the rule's 98%
    let mut alarms = Alarms {
        errors: 0,
        split: 0,
        peeking: 0,
        first_at: Vec::new(),
    };
    for _ in 0..RUNS {
        let mut state = CountsState::default();
        let (mut req, mut err) = (PerArm::default(), PerArm::default());
        let (mut errors, mut split, mut peeking) = (None, false, false);
        for look in 1..=INTERVALS {
            let (r, e) = interval(&mut rng, requests, rule.canary_share, rates);
            (req, err) = (add(req, r), add(err, e));
            let v = judge_counts(rule, &mut state, req, err);
            if errors.is_none()
                && matches!(v.classification, Classification::High | Classification::Low)
            {
                errors = Some(look);
            }
            split |= !v.split.trusted;
            let n = (err.canary + err.baseline) as f64;
            let p = rule.canary_share;
            if n > 0.0 {
                let z = (err.canary as f64 - n * p) / (n * p * (1.0 - p)).sqrt();
                peeking |= z.abs() > z_crit;
            }
        }
        if let Some(at) = errors {
            alarms.errors += 1;
            alarms.first_at.push(at);
        }
        alarms.split += usize::from(split);
        alarms.peeking += usize::from(peeking);
    }
    alarms
}

fn null_rule(share: f64) -> CountsRule {
    CountsRule {
        canary_share: share,
        direction: Direction::Either,
        srm_confidence: 0.98,
        ..CountsRule::default()
    }
}

/// Under the null (the same error rate in both arms, traffic split as configured), checking
/// at every one of 60 intervals keeps each alarm's rate at or below α = 2%, where a
/// fixed-sample test that peeks as often raises far more.
#[test]
fn sequential_counts_keep_false_alarms_at_alpha_over_every_interval() {
    for (seed, share) in [(1, 0.05), (2, 0.5)] {
        let a = simulate(seed, &null_rule(share), 400, (0.02, 0.02));
        let alpha = (RUNS as f64 * 0.02) as usize;
        assert!(
            a.errors <= alpha,
            "share {share}: {} of {RUNS} runs alarmed on errors",
            a.errors
        );
        assert!(
            a.split <= alpha,
            "share {share}: {} of {RUNS} runs alarmed on the split",
            a.split
        );
        assert!(
            a.peeking > 2 * alpha,
            "share {share}: the peeking z-test alarmed in only {} runs; the simulation shows nothing",
            a.peeking
        );
    }
}

/// An error rate that doubles (1% → 2%) in a canary with 5% of traffic is caught in most
/// rollouts within the hour (1,000 requests an interval: the canary serves about 3 a
/// second and fails once a minute).
#[test]
fn errors_that_double_at_low_traffic_are_caught() {
    let rule = CountsRule {
        canary_share: 0.05,
        ..CountsRule::default()
    };
    let a = simulate(3, &rule, 1_000, (0.02, 0.01));
    assert!(
        a.errors * 100 >= RUNS * 80,
        "caught in {} of {RUNS} runs",
        a.errors
    );
    let mut at = a.first_at.clone();
    at.sort_unstable();
    let median = at[at.len() / 2];
    assert!(
        median <= 40,
        "caught at interval {median} in the median run"
    );
    assert!(
        a.split * 100 <= RUNS,
        "the split held; it alarmed {} times",
        a.split
    );
}

/// Log-normal samples, as latencies are: exp(μ + σ·Z) with Z from Box-Muller.
fn lognormal(rng: &mut ChaCha8Rng, n: usize, median: f64, sigma: f64) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let (u1, u2): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random());
            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            median * (sigma * z).exp()
        })
        .collect()
}

fn flagged(seed: u64, runs: usize, rule: &SeriesRule, n: usize, shift: f64) -> usize {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..runs)
        .filter(|_| {
            let b = lognormal(&mut rng, n, 320.0, 0.25);
            let c = lognormal(&mut rng, n, 320.0 * shift, 0.25);
            let v = judge_series(rule, &c, &b);
            matches!(v.classification, Classification::High | Classification::Low)
        })
        .count()
}

/// With noise only, the rank test at 98% with no tolerance band flags about 2% of
/// comparisons (2,000 of them: 1.2%–2.9% is within three standard errors); Kayenta's
/// band of ±0.25·|estimate| only ever flags fewer.
#[test]
fn rank_judge_flags_about_two_percent_of_noise() {
    let runs = 2_000;
    let bare = SeriesRule {
        tolerance: 0.0,
        ..SeriesRule::default()
    };
    let n = flagged(4, runs, &bare, 60, 1.0);
    assert!((24..=58).contains(&n), "flagged {n} of {runs}");
    let banded = flagged(4, runs, &SeriesRule::default(), 60, 1.0);
    assert!(
        banded <= n,
        "the band flagged {banded}, more than {n} without it"
    );
}

/// A 15% p95 regression over an hour of 15 s samples is High nearly every time.
#[test]
fn a_15_percent_regression_is_flagged() {
    let rule = SeriesRule {
        direction: Direction::Increase,
        ..SeriesRule::default()
    };
    let runs = 200;
    let n = flagged(5, runs, &rule, 240, 1.15);
    assert!(n >= runs * 99 / 100, "flagged {n} of {runs}");
}

/// Normal samples: μ + σ·Z.
fn normal(rng: &mut ChaCha8Rng, n: usize, mu: f64) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let (u1, u2): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random());
            mu + (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        })
        .collect()
}

/// Φ, the standard normal distribution function.
fn phi(x: f64) -> f64 {
    0.5 * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
}

/// The stated rate: a shift Δ fails when its interval clears the band ±t·|Δ|, so with
/// the interval's half-width z·se the rate is Φ((1 − t)·Δ/se − z), where se is the
/// Hodges-Lehmann shift's standard error, σ·√(2/n)/√(3/π) for normal samples (the rank
/// test's efficiency 3/π against the t-test). With the estimate Δ̂ ~ N(Δ, se), the rate is
/// P(Δ̂·(1 − t) > z·se) = Φ(Δ/se − z/(1 − t)). For a shift k standard errors beyond the
/// critical one (k = 0.5, 1, 2), 1,000 seeded comparisons of 100 samples against 100
/// (σ = 1 around 100, so the mean ratio only ever helps) fail at Φ(k) ± 4 points.
#[test]
fn a_shift_beyond_the_band_fails_at_the_stated_rate() {
    let rule = SeriesRule {
        direction: Direction::Increase,
        ..SeriesRule::default()
    };
    let (n, runs) = (100, 1_000);
    let se = (2.0 / n as f64).sqrt() / (3.0 / std::f64::consts::PI).sqrt();
    let z = 2.326_347_874; // the 99th percentile: a 98% two-sided interval
    for (k, seed) in [(0.5, 11), (1.0, 12), (2.0, 13)] {
        let shift = (k + z / (1.0 - rule.tolerance)) * se;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let failed = (0..runs)
            .filter(|_| {
                let b = normal(&mut rng, n, 100.0);
                let c = normal(&mut rng, n, 100.0 + shift);
                judge_series(&rule, &c, &b).classification == Classification::High
            })
            .count();
        let rate = failed as f64 / runs as f64;
        let want = phi(k);
        assert!(
            (rate - want).abs() <= 0.04,
            "k = {k}: failed {rate:.3}, stated {want:.3}"
        );
    }
}
