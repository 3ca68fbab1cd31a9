//! `shipdeck backtest` and `shipdeck check`'s query probe against a real Prometheus
//! backfilled with an incident one hour into the data.

use std::path::{Path, PathBuf};

use crate::support::prometheus::{
    HEALTHY_ERROR_RATIO, INCIDENT_AT, P95_QUERY, PrometheusServer, SPAN, T0,
};
use chrono::{DateTime, Utc};

use crate::support::cli::run;

/// Over the last scrape only: the first sample after the incident's start shows it whole.
const ERROR_RATIO_30S: &str =
    r#"sum(rate(http_requests_total{code=~"5.."}[30s])) / sum(rate(http_requests_total[30s]))"#;

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap()
}

fn stamp(secs: i64) -> String {
    at(secs).to_rfc3339()
}

/// A release whose metrics come from `url`; `p95_query` lets a test break one series.
fn write_plan(dir: &Path, url: &str, p95_query: &str) -> PathBuf {
    let text = format!(
        r#"release: {{name: checkout-v2, version: 2.5.0, strategy: canary}}
pipeline:
  - {{name: CI, status: passed}}
  - {{name: Prod}}
flag:
  name: new_checkout
  backend: {{kind: file, path: flags.yaml}}
rollout:
  steps:
    - {{name: Internal,    percent: 0,   groups: [internal], bake: 10m}}
    - {{name: Beta,        percent: 5,   bake: 10m, approval: manual}}
    - {{name: Gradual 25%, percent: 25,  bake: 1h}}
    - {{name: Full,        percent: 100, bake: 1h}}
  watch: 1h
metrics:
  source: {{kind: prometheus, url: "{url}", timeout: 5s}}
  interval: 15s
  baseline_window: 20m
  series:
    error_rate: {{query: '{ERROR_RATIO_30S}', unit: ratio}}
    p95: {{query: '{p95_query}', unit: seconds}}
guardrails:
  rules:
    - {{metric: error_rate, above: 1%, action: pause}}
    - {{metric: error_rate, above: 5%, for: 2m, action: rollback}}
    - {{metric: p95, above_baseline: 3x, action: rollback}}
checklists:
  pre_release: []
"#
    );
    let path = dir.join("plan.yaml");
    std::fs::write(&path, text).unwrap();
    std::fs::write(
        dir.join("flags.yaml"),
        "flags:\n  new_checkout: {enabled: false, rollout: 0.0, userGroups: [], kind: release}\n",
    )
    .unwrap();
    path
}

#[tokio::test]
async fn the_backtest_finds_the_incident_and_where_the_rollout_stops() {
    let Some(prom) = PrometheusServer::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path(), &prom.url(), P95_QUERY);
    let flags_before = std::fs::read_to_string(dir.path().join("flags.yaml")).unwrap();
    let (code, stdout, stderr) = run(&[
        "backtest",
        plan.to_str().unwrap(),
        "--from",
        &stamp(T0),
        "--to",
        &stamp(T0 + SPAN),
        "--json",
    ]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let time = |v: &serde_json::Value| v.as_str().unwrap().parse::<DateTime<Utc>>().unwrap();

    assert_eq!(time(&report["start"]), at(T0 + 20 * 60));
    let baseline = report["baseline"]["error_rate"].as_f64().unwrap();
    assert!(
        (baseline - HEALTHY_ERROR_RATIO).abs() < 1e-6,
        "baseline {baseline}"
    );

    // Every trip is on error_rate, none before the incident; the rollback rule's first
    // breaching sample is within two intervals of it (the rate window still holds a
    // healthy scrape at the first), and it fired 2m later.
    let trips = report["trips"].as_array().unwrap();
    assert!(!trips.is_empty(), "{report:#}");
    for t in trips {
        assert_eq!(t["metric"], "error_rate", "{t:#}");
        assert!(time(&t["since"]) >= at(INCIDENT_AT), "{t:#}");
    }
    let rollback = trips
        .iter()
        .find(|t| t["action"] == "rollback")
        .expect("the rollback rule trips");
    let since = time(&rollback["since"]);
    assert!(since <= at(INCIDENT_AT + 2 * 15), "since {since}");
    assert_eq!(time(&rollback["at"]), since + chrono::Duration::minutes(2));
    assert!(rollback["worst"].as_f64().unwrap() > 0.05);
    assert!(
        rollback["cleared"].is_null(),
        "the incident lasts to the end"
    );
    assert!(!rollback["samples"].as_array().unwrap().is_empty());
    assert_eq!(rollback["baseline"].as_f64(), Some(baseline));

    let stops = report["stops"].as_array().unwrap();
    let last = stops.last().unwrap();
    assert_eq!(last["kind"], "rolled_back");
    assert_eq!(last["step"], "Gradual 25%");
    assert_eq!(time(&last["at"]), time(&rollback["at"]));
    assert_eq!(report["end"]["state"], "ROLLED BACK");
    // The manual approval of Beta was granted by the backtest, not a person.
    assert!(
        report["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["operator"] == "backtest" && e["step"] == "Gradual 25%"),
        "{report:#}"
    );

    // The text says the same, and nothing was written anywhere.
    let (code, text, _) = run(&[
        "backtest",
        plan.to_str().unwrap(),
        "--from",
        &stamp(T0),
        "--to",
        &stamp(T0 + SPAN),
    ]);
    assert_eq!(code, 0);
    let when = time(&rollback["at"])
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    assert!(
        text.contains(&format!(
            "would have stopped at {when} on Gradual 25%: rolled back"
        )),
        "{text}"
    );
    assert!(text.contains("error_rate above 5% for 2m"), "{text}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("flags.yaml")).unwrap(),
        flags_before
    );
    assert!(!dir.path().join(".shipdeck").exists(), "no state written");
}

#[tokio::test]
async fn a_backtest_before_the_incident_stops_nowhere_and_a_broken_query_exits_2() {
    let Some(prom) = PrometheusServer::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path(), &prom.url(), P95_QUERY);
    let (code, text, stderr) = run(&[
        "backtest",
        plan.to_str().unwrap(),
        "--from",
        &stamp(T0),
        "--to",
        &stamp(INCIDENT_AT),
    ]);
    assert_eq!(code, 0, "{text}{stderr}");
    assert!(text.contains("no guardrail tripped"), "{text}");
    assert!(text.contains("no guardrail would have stopped"), "{text}");

    // A typo in one query: Prometheus' own message, and exit 2.
    let broken = tempfile::tempdir().unwrap();
    let plan = plan_with_typo(broken.path(), &prom.url());
    let (code, text, stderr) = run(&[
        "backtest",
        plan.to_str().unwrap(),
        "--from",
        &stamp(T0),
        "--to",
        &stamp(T0 + SPAN),
    ]);
    assert_eq!(code, 2, "{text}{stderr}");
    assert!(text.contains("p95: 0 values"), "{text}");
    assert!(text.contains("bad_data"), "{text}");

    // A range too short for the baseline says how long it must be.
    let (code, _, stderr) = run(&[
        "backtest",
        plan.to_str().unwrap(),
        "--from",
        &stamp(T0),
        "--to",
        &stamp(T0 + 600),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("baseline_window"), "{stderr}");
}

fn plan_with_typo(dir: &Path, url: &str) -> PathBuf {
    write_plan(
        dir,
        url,
        "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m]))",
    )
}

#[tokio::test]
async fn check_runs_every_query_once_and_reports_each_series() {
    let Some(prom) = PrometheusServer::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path(), &prom.url(), P95_QUERY);
    let (code, stdout, stderr) = run(&["check", plan.to_str().unwrap(), "--at", &stamp(T0 + 1800)]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("error_rate  ok 0.20%"), "{stdout}");
    assert!(stdout.contains("p95         ok 812ms"), "{stdout}");

    // At a time with no data the queries answer empty: said, but not a failure.
    let (code, stdout, _) = run(&["check", plan.to_str().unwrap(), "--at", &stamp(T0 - 86_400)]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("error_rate  no data"), "{stdout}");

    let broken = tempfile::tempdir().unwrap();
    let bad = plan_with_typo(broken.path(), &prom.url());
    let (code, stdout, stderr) = run(&["check", bad.to_str().unwrap(), "--at", &stamp(T0 + 1800)]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    let probed = stdout.split("probed ").nth(1).expect("the probe's report");
    let line = probed
        .lines()
        .find(|l| l.trim_start().starts_with("p95"))
        .unwrap();
    assert!(
        line.contains("error: Prometheus refused the query"),
        "{line}"
    );
    assert!(line.contains("bad_data"), "{line}");
    assert!(
        stdout.contains("error_rate  ok"),
        "the good series still answers: {stdout}"
    );
    assert!(stderr.contains("1 of 2 series failed"), "{stderr}");

    // A server that is not there: exit 2 naming it, unless asked not to probe.
    let gone = tempfile::tempdir().unwrap();
    let url = format!(
        "http://127.0.0.1:{}",
        crate::support::prometheus::free_port()
    );
    let plan = write_plan(gone.path(), &url, P95_QUERY);
    let (code, stdout, _) = run(&["check", plan.to_str().unwrap()]);
    assert_eq!(code, 2, "{stdout}");
    assert!(stdout.contains("connection refused"), "{stdout}");
    let (code, _, stderr) = run(&["check", plan.to_str().unwrap(), "--no-probe"]);
    assert_eq!(code, 0, "{stderr}");
}
