//! The canary judge end to end: the real binary, headless over past data, against a real
//! Prometheus holding two arms (`track="canary"` serving 5% of requests beside
//! `track="baseline"`). A 15% p95 regression on the canary is caught when the 5% step's
//! bake is served, while the fleet-wide threshold rules never fire; the same arms without
//! the regression pass and the release completes.

use std::path::PathBuf;
use std::time::Duration;

use super::prometheus_run::{Run, clock_start};
use crate::support::prometheus::{
    CANARY_FROM, ERROR_RATIO_QUERY, P95_QUERY, PrometheusServer, arms_openmetrics,
};
use shipdeck::canary::Classification;
use shipdeck::engine::journal::Entry;

/// Each arm's p95 over the last minute.
pub(super) const P95_ARM: &str =
    "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{$arm}[1m])))";
/// What each arm served in one poll interval.
pub(super) const ERRORS_ARM: &str = r#"sum(increase(http_requests_total{$arm,code=~"5.."}[15s]))"#;
pub(super) const REQUESTS_ARM: &str = "sum(increase(http_requests_total{$arm}[15s]))";
/// The 5% step's bake.
pub(super) const BAKE: Duration = Duration::from_secs(20 * 60);
/// 300×: the whole release (about 30 engine minutes) in a few real seconds.
const SPEED: &str = "300";

/// A canary release over the arms: 5% for a 20m bake, then everyone; threshold rules on
/// the fleet's error rate and p95 that a regression on 5% of requests cannot reach, and the
/// judge comparing the arms' p95 and error counts.
pub(super) fn release(url: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"release: {{name: checkout-v3, version: 3.1.0, strategy: canary}}
pipeline:
  - {{name: CI, status: passed}}
  - {{name: Prod}}
flag:
  name: new_checkout
  backend: {{kind: file, path: flags.yaml}}
rollout:
  steps:
    - {{name: Canary, percent: 5,   bake: 20m}}
    - {{name: Full,   percent: 100, bake: 5m}}
  watch: 5m
metrics:
  source: {{kind: prometheus, url: "{url}", timeout: 5s}}
  interval: 15s
  baseline_window: 20m
  stale_after: 3
  min_samples: 3
  series:
    error_rate: {{query: '{ERROR_RATIO_QUERY}', unit: ratio}}
    p95: {{query: '{P95_QUERY}', unit: seconds}}
guardrails:
  on_stale: pause
  rules:
    - {{metric: error_rate, above: 1%, action: pause}}
    - {{metric: p95, degradation: 20%, for: 2m, action: rollback}}
canary:
  arms: {{label: track, canary: canary, baseline: baseline}}
  compare:
    - {{metric: p95, direction: increase, allowed_increase: 1.05, critical: true,
       query: '{P95_ARM}'}}
  counts:
    errors: '{ERRORS_ARM}'
    requests: '{REQUESTS_ARM}'
    critical: true
checklists:
  pre_release: []
"#
    );
    let plan = dir.path().join("plan.yaml");
    std::fs::write(&plan, text).unwrap();
    std::fs::write(
        dir.path().join("flags.yaml"),
        "flags:\n  new_checkout: {enabled: false, rollout: 0.0, userGroups: [], kind: release}\n",
    )
    .unwrap();
    (dir, plan)
}

/// Runs the release over the arms from the moment the canary starts serving; the exit
/// code and the journal.
async fn run_over(canary_latency: f64) -> Option<(i32, Vec<Entry>)> {
    let prom = PrometheusServer::start_over(&arms_openmetrics(canary_latency)).await?;
    let (_dir, plan) = release(&prom.url());
    let run = Run::start(
        &plan,
        &["--clock-start", &clock_start(CANARY_FROM), "--speed", SPEED],
    );
    Some(run.finish(Duration::from_secs(180)))
}

fn text(journal: &[Entry]) -> String {
    journal
        .iter()
        .map(|e| format!("{} {} {}: {}", e.at, e.operator, e.action, e.reason))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The journal's first entry that `ok` accepts, or a failure showing the whole journal.
fn first<'a>(journal: &'a [Entry], what: &str, ok: impl Fn(&Entry) -> bool) -> &'a Entry {
    journal
        .iter()
        .find(|e| ok(e))
        .unwrap_or_else(|| panic!("no {what} in the journal:\n{}", text(journal)))
}

/// When the 5% step went live.
fn canary_step_start(journal: &[Entry]) -> &Entry {
    first(journal, "start of the 5% step", |e| {
        e.action == "promote" && e.reason.contains("Canary")
    })
}

#[tokio::test]
async fn a_15_percent_p95_regression_at_5_percent_rolls_back_before_any_threshold_fires() {
    let Some((code, journal)) = run_over(1.15).await else {
        return;
    };
    assert_eq!(code, 3, "rolled back:\n{}", text(&journal));
    let started = canary_step_start(&journal);
    let verdict = first(&journal, "failing canary verdict", |e| {
        e.action == "canary" && e.reason.starts_with("canary FAIL")
    });
    let judged = verdict
        .canary
        .as_deref()
        .expect("the entry carries the report");
    let p95 = judged
        .series
        .iter()
        .find(|s| s.name == "p95")
        .expect("p95 judged");
    assert_eq!(
        p95.verdict.classification,
        Classification::High,
        "{judged:?}"
    );
    assert!(judged.counts.is_some(), "errors judged too: {judged:?}");
    let rollback = first(&journal, "rollback by the judge", |e| {
        e.action == "rollback" && e.operator == "shipdeck"
    });
    assert!(
        rollback.reason.contains("critical p95 failed"),
        "{}",
        rollback.reason
    );
    // The series' score decides when the bake is served, not before.
    let baked = (rollback.at - started.at).to_std().unwrap();
    assert!(
        baked >= BAKE && baked <= BAKE + Duration::from_secs(120),
        "rolled back {baked:?} into the step:\n{}",
        text(&journal)
    );
    // The fleet moved too little for the threshold rules: only the judge saw it.
    assert!(
        journal.iter().all(|e| e.action != "guardrail"),
        "{}",
        text(&journal)
    );
    assert!(
        journal.iter().all(|e| !e.reason.starts_with("canary PASS")),
        "{}",
        text(&journal)
    );
    first(&journal, "end of the rollback", |e| {
        e.action == "rolled back"
    });
}

#[tokio::test]
async fn a_healthy_canary_passes_and_the_release_completes() {
    let Some((code, journal)) = run_over(1.0).await else {
        return;
    };
    assert_eq!(code, 0, "completed:\n{}", text(&journal));
    let started = canary_step_start(&journal);
    let pass = first(&journal, "passing canary verdict", |e| {
        e.action == "canary" && e.reason.starts_with("canary PASS")
    });
    let judged = pass
        .canary
        .as_deref()
        .expect("the entry carries the report");
    let p95 = judged
        .series
        .iter()
        .find(|s| s.name == "p95")
        .expect("p95 judged");
    assert_eq!(
        p95.verdict.classification,
        Classification::Pass,
        "{judged:?}"
    );
    assert!(judged.counts.is_some(), "errors judged too: {judged:?}");
    assert!(pass.at >= started.at, "{}", text(&journal));
    let full = first(&journal, "promotion to everyone", |e| {
        e.action == "promote" && e.reason.contains("Full")
    });
    assert!(
        (full.at - started.at).to_std().unwrap() >= BAKE,
        "promoted before the bake was served:\n{}",
        text(&journal)
    );
    assert!(
        journal
            .iter()
            .all(|e| e.action != "guardrail" && e.action != "rollback" && e.action != "pause"),
        "{}",
        text(&journal)
    );
    first(&journal, "completion", |e| e.action == "completed");
}
