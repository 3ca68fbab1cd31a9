//! The canary judge over past data: the Prometheus source's range queries read both arms
//! as its polls do, and `shipdeck backtest` over the two arms of `canary_arms` says the
//! judge would have rolled back a canary 15% slower at 5% (no guardrail tripping), and
//! would have passed the same arms without the regression.

use std::time::Duration;

use super::canary_arms::{BAKE, ERRORS_ARM, P95_ARM, release};
use super::{at, series};
use crate::support::cli::run;
use crate::support::prometheus::{
    CANARY_FROM, P95_QUERY, PrometheusServer, SPAN, T0, arms_openmetrics,
};
use chrono::{DateTime, Utc};
use shipdeck::engine::values::{ArmKey, ArmReading, Exposure, Outcome};
use shipdeck::metrics::{Access, MetricsSource, Prometheus};
use shipdeck::plan::ArmSeries;

/// The backtest's range: its first 20 minutes (the plan's `baseline_window`) end when the
/// canary starts serving, so the rollout starts there.
const FROM: i64 = CANARY_FROM - 20 * 60;
const TO: i64 = T0 + SPAN;

fn arm(template: &str, track: &str) -> Option<String> {
    Some(template.replace("$arm", &format!("track=\"{track}\"")))
}

fn reading(arms: &[ArmReading], key: &ArmKey) -> ArmReading {
    arms.iter()
        .find(|r| &r.key == key)
        .unwrap_or_else(|| panic!("no {key:?} in {arms:?}"))
        .clone()
}

#[tokio::test]
async fn range_queries_read_each_arm_as_a_poll_does() {
    let Some(prom) = PrometheusServer::start_over(&arms_openmetrics(1.15)).await else {
        return;
    };
    let p95 = ArmKey::Series("p95".into());
    let mut src = Prometheus::new(
        &prom.url(),
        Access::default(),
        Duration::from_secs(5),
        &[series("p95", P95_QUERY)],
    )
    .unwrap()
    .with_arms(&[
        ArmSeries {
            key: p95.clone(),
            canary: arm(P95_ARM, "canary"),
            baseline: arm(P95_ARM, "baseline"),
        },
        // The baseline's query has a typo: it fails at every instant, the canary's does not.
        ArmSeries {
            key: ArmKey::Errors,
            canary: arm(ERRORS_ARM, "canary"),
            baseline: arm(&ERRORS_ARM.replace("))", ")"), "baseline"),
        },
    ])
    .unwrap();
    let step = Duration::from_secs(15);
    let history = src.history(at(FROM), at(TO), step).await;
    assert_eq!(history.len(), ((TO - FROM) / 15) as usize);
    for b in &history {
        let t = b.at.timestamp();
        let p = reading(&b.arms, &p95);
        assert!(matches!(p.baseline, Outcome::Value(_)), "{t}: {p:?}");
        if t < CANARY_FROM {
            // The canary has no series before it serves: missing, never zero.
            assert_eq!(p.canary, Outcome::NoData, "{t}");
        } else if t >= CANARY_FROM + 60 {
            assert!(matches!(p.canary, Outcome::Value(_)), "{t}: {p:?}");
        }
        let errors = reading(&b.arms, &ArmKey::Errors);
        assert!(
            matches!(&errors.baseline, Outcome::Error(text) if text.contains("bad_data")),
            "{t}: {errors:?}"
        );
        if t >= CANARY_FROM + 15 {
            assert!(
                matches!(errors.canary, Outcome::Value(_)),
                "{t}: {errors:?}"
            );
        }
    }
    // The same instants asked one by one give the same answers.
    for i in [10, 85, 200] {
        let polled = src.poll(history[i].at, Exposure::default()).await;
        let (a, b) = (reading(&polled.arms, &p95), reading(&history[i].arms, &p95));
        for (x, y) in [(&a.canary, &b.canary), (&a.baseline, &b.baseline)] {
            match (x, y) {
                (Outcome::Value(x), Outcome::Value(y)) => {
                    assert!((x - y).abs() <= 1e-9 * x.abs().max(1.0), "{x} vs {y}");
                }
                _ => assert_eq!(x, y, "at {}", history[i].at),
            }
        }
    }
}

/// `shipdeck backtest --json` of the `canary_arms` release over the arms, and its text.
async fn backtest_over(canary_latency: f64) -> Option<(serde_json::Value, String)> {
    let prom = PrometheusServer::start_over(&arms_openmetrics(canary_latency)).await?;
    let (dir, plan) = release(&prom.url());
    let flags_before = std::fs::read_to_string(dir.path().join("flags.yaml")).unwrap();
    let stamp = |secs: i64| at(secs).to_rfc3339();
    let args = [
        "backtest",
        plan.to_str().unwrap(),
        "--from",
        &stamp(FROM),
        "--to",
        &stamp(TO),
    ];
    let (code, stdout, stderr) = run(&[&args[..], &["--json"]].concat());
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let (code, text, stderr) = run(&args);
    assert_eq!(code, 0, "stdout:\n{text}\nstderr:\n{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("flags.yaml")).unwrap(),
        flags_before
    );
    assert!(!dir.path().join(".shipdeck").exists(), "no state written");
    Some((report, text))
}

fn time(v: &serde_json::Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

fn verdicts(report: &serde_json::Value) -> &Vec<serde_json::Value> {
    report["judge"]["verdicts"]
        .as_array()
        .unwrap_or_else(|| panic!("no judge section: {report:#}"))
}

#[tokio::test]
async fn a_backtest_says_the_judge_would_have_rolled_back_a_15_percent_p95_regression() {
    let Some((report, text)) = backtest_over(1.15).await else {
        return;
    };
    assert_eq!(time(&report["start"]), at(CANARY_FROM));
    // The fleet moved too little for the threshold rules: only the judge saw it.
    assert_eq!(report["trips"], serde_json::json!([]), "{text}");
    let stops = report["stops"].as_array().unwrap();
    let [stop] = &stops[..] else {
        panic!("one stop: {text}");
    };
    assert_eq!(stop["kind"], "rolled_back", "{text}");
    assert_eq!(stop["by_judge"], true, "{text}");
    assert_eq!(stop["step"], "Canary");
    assert_eq!(
        stop["reason"], "canary FAIL 0 at Canary 5%: critical p95 failed",
        "{text}"
    );
    // The judge acts when the bake is served, not before.
    let baked = (time(&stop["at"]) - at(CANARY_FROM)).to_std().unwrap();
    assert!(
        baked >= BAKE && baked <= BAKE + Duration::from_secs(120),
        "rolled back {baked:?} into the step:\n{text}"
    );
    assert_eq!(report["end"]["state"], "ROLLED BACK");

    // The verdict it acted on is listed with what it judged: p95 higher, errors judged too.
    let acted = verdicts(&report)
        .iter()
        .find(|v| v["at"] == stop["at"] && v["verdict"] == "fail")
        .unwrap_or_else(|| panic!("no verdict at the rollback: {text}"));
    assert_eq!(acted["headline"], stop["reason"]);
    let lines: Vec<&str> = acted["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("p95: canary") && l.contains("→ HIGH")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("errors: canary")),
        "{lines:?}"
    );
    assert!(
        verdicts(&report).iter().all(|v| v["verdict"] != "pass"),
        "{text}"
    );
    assert_eq!(report["judge"]["gaps"], serde_json::json!([]), "{text}");

    let when = time(&stop["at"]).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    for want in [
        "no guardrail tripped".to_string(),
        "the canary judge: ".to_string(),
        "canary FAIL 0 at Canary 5%: critical p95 failed → rolled back".to_string(),
        format!("would have stopped at {when} on Canary: rolled back by the canary judge"),
    ] {
        assert!(text.contains(&want), "{want:?} in:\n{text}");
    }
}

#[tokio::test]
async fn a_backtest_over_healthy_arms_says_the_judge_would_have_passed() {
    let Some((report, text)) = backtest_over(1.0).await else {
        return;
    };
    assert_eq!(report["trips"], serde_json::json!([]), "{text}");
    assert_eq!(report["stops"], serde_json::json!([]), "{text}");
    let verdicts = verdicts(&report);
    // The pass that let the bake complete, once it was served.
    let pass = verdicts
        .iter()
        .rfind(|v| v["verdict"] == "pass")
        .unwrap_or_else(|| panic!("no passing verdict: {text}"));
    assert_eq!(pass["step"], "Canary");
    assert!(
        (time(&pass["at"]) - at(CANARY_FROM)).to_std().unwrap() >= BAKE,
        "passed before the bake was served: {text}"
    );
    assert!(
        verdicts
            .iter()
            .all(|v| v["verdict"] != "fail" && v["verdict"] != "marginal"),
        "{text}"
    );
    assert_eq!(report["end"]["state"], "COMPLETED", "{text}");
    assert!(text.contains("canary PASS"), "{text}");
    assert!(
        text.contains("neither a guardrail nor the canary judge would have stopped the rollout"),
        "{text}"
    );
}
