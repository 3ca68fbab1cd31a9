//! The simulated source: reproducible, reacting to exposure the way the reference
//! guardrails expect (pause at 1% errors, roll back above 5% held for 2m).

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use shipdeck::engine::values::{Batch, Exposure, Outcome};
use shipdeck::metrics::{MetricsSource, Simulated};
use shipdeck::plan::{Better, Scenario, Series, Unit};
use std::time::Duration;

const STEP: Duration = Duration::from_secs(15);

fn series(names: &[&str]) -> Vec<Series> {
    names
        .iter()
        .map(|n| Series {
            name: n.to_string(),
            query: None,
            unit: Unit::Ratio,
            better: Better::Lower,
        })
        .collect()
}

fn all() -> Vec<Series> {
    series(&["error_rate", "p95", "cpu", "memory"])
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 4, 12, 0, 0).unwrap()
}

fn at(secs: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(secs)
}

fn on(percent: u8) -> Exposure {
    Exposure {
        enabled: true,
        percent,
    }
}

const OFF: Exposure = Exposure {
    enabled: false,
    percent: 0,
};

fn value(batch: &Batch, name: &str) -> f64 {
    match batch.outcome(name) {
        Some(Outcome::Value(v)) => *v,
        other => panic!("{name} at {}: expected a value, got {other:?}", batch.at),
    }
}

fn mean(batches: &[Batch], name: &str) -> f64 {
    batches.iter().map(|b| value(b, name)).sum::<f64>() / batches.len() as f64
}

/// Polls every 15s over `[from, to)` seconds with one exposure.
async fn run(src: &mut Simulated, from: i64, to: i64, exposure: Exposure) -> Vec<Batch> {
    let mut out = Vec::new();
    let mut s = from;
    while s < to {
        out.push(src.poll(at(s), exposure).await);
        s += STEP.as_secs() as i64;
    }
    out
}

#[tokio::test]
async fn same_seed_same_values_other_seed_other_values() {
    for scenario in [
        Scenario::Healthy,
        Scenario::Incident,
        Scenario::SlowBurn,
        Scenario::Flaky,
    ] {
        let mut a = Simulated::new(scenario, 7, &all());
        let mut b = Simulated::new(scenario, 7, &all());
        let mut c = Simulated::new(scenario, 8, &all());
        let mut differ = 0;
        for (i, exposure) in [OFF, on(5), on(25), on(50), OFF].into_iter().enumerate() {
            let from = i as i64 * 600;
            let ra = run(&mut a, from, from + 600, exposure).await;
            let rb = run(&mut b, from, from + 600, exposure).await;
            let rc = run(&mut c, from, from + 600, exposure).await;
            assert_eq!(ra, rb, "{scenario:?}: same seed, same values");
            differ += ra.iter().zip(&rc).filter(|(x, y)| x != y).count();
        }
        assert!(
            differ > 100,
            "{scenario:?}: seeds 7 and 8 differ in only {differ} batches"
        );
    }
}

#[tokio::test]
async fn healthy_rollout_stays_clear_of_every_reference_guardrail() {
    let mut src = Simulated::new(Scenario::Healthy, 42, &all());
    let baseline = run(&mut src, 0, 1800, OFF).await;
    let base_p95 = mean(&baseline, "p95");
    let base_err = mean(&baseline, "error_rate");
    assert!(
        (0.0008..0.0012).contains(&base_err),
        "baseline error rate {base_err}"
    );
    assert!((0.28..0.32).contains(&base_p95), "baseline p95 {base_p95}");
    let mut s = 1800;
    for percent in [5, 25, 50, 100] {
        for b in run(&mut src, s, s + 6 * 3600, on(percent)).await {
            let (err, p95) = (value(&b, "error_rate"), value(&b, "p95"));
            assert!(err < 0.005, "{percent}%: error rate {err}");
            assert!(p95 < 2.0, "{percent}%: p95 {p95}");
            assert!(
                p95 < base_p95 * 1.15,
                "{percent}%: p95 {p95} vs baseline {base_p95}"
            );
            assert!(value(&b, "memory") < 0.8);
            assert!((0.3..0.5).contains(&value(&b, "cpu")));
        }
        s += 6 * 3600;
    }
}

#[tokio::test]
async fn new_code_costs_a_little_with_percent() {
    let mut low = Simulated::new(Scenario::Healthy, 3, &all());
    let mut high = Simulated::new(Scenario::Healthy, 3, &all());
    let l = run(&mut low, 0, 7200, OFF).await;
    let h = run(&mut high, 0, 7200, on(100)).await;
    assert!(mean(&h, "error_rate") > mean(&l, "error_rate"));
    assert!(mean(&h, "p95") > mean(&l, "p95"));
}

#[tokio::test]
async fn incident_does_not_fire_at_five_percent() {
    let mut src = Simulated::new(Scenario::Incident, 7, &all());
    for b in run(&mut src, 0, 6 * 3600, on(5)).await {
        assert!(value(&b, "error_rate") < 0.005, "at 5%: {b:?}");
    }
    assert_eq!(src.onset(), None);
}

#[tokio::test]
async fn incident_fires_at_25_percent_pause_then_rollback_then_recovers() {
    let mut src = Simulated::new(Scenario::Incident, 7, &all());
    run(&mut src, 0, 600, on(5)).await;
    let before = value(&src.poll(at(600), on(5)).await, "p95");
    let exposed = run(&mut src, 615, 615 + 15 * 60, on(25)).await;
    assert_eq!(src.onset(), Some(at(615)), "onset is the first poll at 25%");

    let secs = |b: &Batch| (b.at - at(615)).num_seconds();
    let first_above = |limit: f64| {
        exposed
            .iter()
            .find(|b| value(b, "error_rate") > limit)
            .map(secs)
            .unwrap()
    };
    let pause_at = first_above(0.01);
    let rollback_at = first_above(0.05);
    assert!(
        pause_at < rollback_at,
        "1% ({pause_at}s) comes before 5% ({rollback_at}s)"
    );
    assert!(
        rollback_at <= 180,
        "above 5% within 3 minutes, got {rollback_at}s"
    );
    // Once above 5% it stays there (6–8%) while the exposure holds: a `for: 2m` rule fires.
    for b in exposed.iter().filter(|b| secs(b) >= rollback_at) {
        let err = value(b, "error_rate");
        assert!((0.05..0.09).contains(&err), "{}s: {err}", secs(b));
    }
    let peak_p95 = value(exposed.last().unwrap(), "p95");
    assert!(
        peak_p95 > 2.0 * before && peak_p95 < 3.0 * before,
        "{before} → {peak_p95}"
    );

    // Disabled: back to baseline within about two minutes, and it stays there.
    let off_at = 615 + 15 * 60;
    for b in run(&mut src, off_at, off_at + 3600, OFF).await {
        if (b.at - at(off_at)).num_seconds() >= 120 {
            assert!(value(&b, "error_rate") < 0.002, "recovered: {b:?}");
            assert!(value(&b, "p95") < 1.1 * before, "recovered: {b:?}");
        }
    }
}

#[tokio::test]
async fn incident_recovers_when_the_percent_drops_below_25() {
    let mut src = Simulated::new(Scenario::Incident, 11, &all());
    run(&mut src, 0, 600, on(50)).await;
    let held = run(&mut src, 600, 1200, on(50)).await;
    assert!(held.iter().all(|b| value(b, "error_rate") > 0.05));
    let after = run(&mut src, 1200, 1800, on(5)).await;
    assert!(value(after.last().unwrap(), "error_rate") < 0.002);
    // Exposed again: the bug is still in the code, so it comes back.
    let again = run(&mut src, 1800, 2400, on(25)).await;
    assert!(value(again.last().unwrap(), "error_rate") > 0.05);
}

#[tokio::test]
async fn slow_burn_passes_twenty_percent_in_hours_not_minutes() {
    let mut src = Simulated::new(Scenario::SlowBurn, 5, &all());
    let baseline = run(&mut src, 0, 1800, OFF).await;
    let base = mean(&baseline, "p95");
    let exposed = run(&mut src, 1800, 1800 + 5 * 3600, on(5)).await;
    // A 5-minute mean smooths the noise the way a `for: 5m` rule does.
    let first_over = exposed
        .windows(20)
        .find(|w| mean(w, "p95") > 1.2 * base)
        .map(|w| (w[19].at - at(1800)).num_minutes())
        .unwrap();
    assert!(
        (90..=180).contains(&first_over),
        "passes +20% after {first_over} minutes"
    );
    for b in &exposed {
        assert!(value(b, "error_rate") < 0.005, "error rate stays healthy");
    }
}

#[tokio::test]
async fn flaky_has_gaps_long_enough_to_go_stale() {
    let mut src = Simulated::new(Scenario::Flaky, 9, &all());
    let batches = run(&mut src, 0, 24 * 3600, on(5)).await;
    let mut gaps = Vec::new();
    let mut current = 0;
    let (mut no_data, mut errors) = (0, 0);
    for b in &batches {
        let missing =
            |r: &shipdeck::engine::values::Reading| !matches!(r.outcome, Outcome::Value(_));
        let all_missing = b.readings.iter().all(missing);
        assert_eq!(
            all_missing,
            b.readings.iter().any(missing),
            "a gap hits every series at once"
        );
        match b.outcome("p95") {
            Some(Outcome::NoData) => no_data += 1,
            Some(Outcome::Error(e)) => {
                assert_eq!(e, "connection reset");
                errors += 1;
            }
            _ => {}
        }
        if all_missing {
            current += 1;
        } else if current > 0 {
            gaps.push(current);
            current = 0;
        }
    }
    assert!(
        gaps.len() >= 100,
        "a gap about every 40 intervals: {} in 5760",
        gaps.len()
    );
    assert!(
        gaps.iter().all(|&g| g >= 3),
        "every gap spans ≥ 3 intervals: {gaps:?}"
    );
    assert!(
        no_data > 0 && errors > 0,
        "both missing data ({no_data}) and errors ({errors})"
    );
    let present = batches.len() - gaps.iter().sum::<usize>();
    assert!(present as f64 > 0.8 * batches.len() as f64);
}

#[tokio::test]
async fn flaky_gaps_follow_the_plan_interval() {
    let mut src = Simulated::new(Scenario::Flaky, 9, &all()).with_interval(Duration::from_secs(60));
    let mut run_len = 0;
    let mut longest = 0;
    for i in 0..2000 {
        let b = src.poll(at(i * 60), OFF).await;
        if matches!(b.outcome("cpu"), Some(Outcome::Value(_))) {
            run_len = 0;
        } else {
            run_len += 1;
            longest = longest.max(run_len);
        }
    }
    assert!(longest >= 6, "gaps span intervals of 60s too: {longest}");
}

#[tokio::test]
async fn unknown_series_is_an_error_naming_the_known_ones() {
    let mut src = Simulated::new(Scenario::Healthy, 1, &series(&["checkouts", "p95"]));
    let b = src.poll(at(0), OFF).await;
    assert_eq!(
        b.outcome("checkouts"),
        Some(&Outcome::Error(
            "the simulated source knows error_rate, p95, cpu, memory".into()
        ))
    );
    assert!(matches!(b.outcome("p95"), Some(Outcome::Value(_))));
    assert_eq!(b.readings.len(), 2, "one reading per series, in plan order");
    assert_eq!(b.readings[0].series, "checkouts");
}

#[tokio::test]
async fn history_equals_polls_at_the_same_instants() {
    for scenario in [
        Scenario::Healthy,
        Scenario::Flaky,
        Scenario::Incident,
        Scenario::SlowBurn,
    ] {
        for exposure in [OFF, on(5)] {
            if exposure.enabled && scenario == Scenario::SlowBurn {
                // Polling at 5% starts the slow burn at the first poll; history has no onset.
                continue;
            }
            let mut a = Simulated::new(scenario, 21, &all());
            let mut b = Simulated::new(scenario, 21, &all());
            a.poll(at(-1), exposure).await;
            let history = a.history(at(0), at(3 * 3600), STEP).await;
            let polled = run(&mut b, 0, 3 * 3600, exposure).await;
            assert_eq!(history.len(), 720);
            assert_eq!(history, polled, "{scenario:?} {exposure:?}");
        }
    }
}

#[tokio::test]
async fn history_is_half_open_and_survives_a_zero_step() {
    let mut src = Simulated::new(Scenario::Healthy, 1, &all());
    let h = src.history(at(0), at(60), STEP).await;
    let times: Vec<_> = h.iter().map(|b| b.at).collect();
    assert_eq!(times, vec![at(0), at(15), at(30), at(45)]);
    assert!(src.history(at(0), at(60), Duration::ZERO).await.is_empty());
    assert!(src.history(at(60), at(0), STEP).await.is_empty());
}

proptest! {
    #[test]
    fn healthy_values_are_plausible_for_any_seed_time_and_exposure(
        seed in any::<u64>(),
        secs in -4_000_000_000i64..4_000_000_000,
        enabled in any::<bool>(),
        percent in 0u8..=255,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let mut src = Simulated::new(Scenario::Healthy, seed, &all());
        let b = rt.block_on(src.poll(at(secs), Exposure { enabled, percent }));
        let (err, p95) = (value(&b, "error_rate"), value(&b, "p95"));
        prop_assert!((0.0..0.002).contains(&err), "error rate {}", err);
        prop_assert!((0.25..0.35).contains(&p95), "p95 {}", p95);
        prop_assert!((0.3..0.5).contains(&value(&b, "cpu")));
        prop_assert!((0.5..0.7).contains(&value(&b, "memory")));
    }
}
