//! Headless runs of the real binary against a real Prometheus over past data
//! (`--clock-start`, `--speed`): the engine walks the data at N× real time and asks every
//! query at its own clock. It rolls back when the data says so; a Prometheus that stops
//! makes the data stale and pauses (never promotes) until it comes back; a server that
//! never answers times out into the same.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::at;
use crate::support::prometheus::{INCIDENT_AT, P95_QUERY, PrometheusServer, T0};
use shipdeck::engine::journal::Entry;

/// Over the last scrape: the rate reacts within two intervals of the incident.
const ERROR_RATIO_30S: &str =
    r#"sum(rate(http_requests_total{code=~"5.."}[30s])) / sum(rate(http_requests_total[30s]))"#;
const INTERVAL: i64 = 15;
/// The rollback rule's `for:`.
const FOR: i64 = 120;

/// A release over the test data: short first steps so the rollout is live well before
/// the incident, absolute rules (and, with `baseline`, one against the baseline).
fn release(url: &str, timeout: &str, baseline: bool) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p95_rule = if baseline {
        "    - {metric: p95, above_baseline: 3x, action: rollback}\n"
    } else {
        ""
    };
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
    - {{name: Internal,    percent: 0,   groups: [internal], bake: 3m}}
    - {{name: Beta,        percent: 5,   bake: 3m}}
    - {{name: Gradual 25%, percent: 25,  bake: 2h}}
    - {{name: Full,        percent: 100, bake: 2h}}
  watch: 1h
metrics:
  source: {{kind: prometheus, url: "{url}", timeout: {timeout}}}
  interval: {INTERVAL}s
  baseline_window: 20m
  stale_after: 3
  min_samples: 3
  series:
    error_rate: {{query: '{ERROR_RATIO_30S}', unit: ratio}}
    p95: {{query: '{P95_QUERY}', unit: seconds}}
guardrails:
  on_stale: pause
  rules:
    - {{metric: error_rate, above: 1%, action: pause}}
    - {{metric: error_rate, above: 5%, for: {FOR}s, action: rollback}}
{p95_rule}checklists:
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

/// A headless run whose journal lines (JSON) arrive on a channel as they are printed.
pub(super) struct Run {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<Entry>,
}

impl Run {
    pub(super) fn start(plan: &Path, extra: &[&str]) -> Run {
        let mut child = Command::new(env!("CARGO_BIN_EXE_shipdeck"))
            .env("SHIPDECK_OPERATOR", "tester")
            .args(["run", plan.to_str().unwrap(), "--headless", "--json"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Run {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads journal entries until one matches; panics with everything seen after `limit`.
    fn until(&mut self, what: &str, limit: Duration, ok: impl Fn(&Entry) -> bool) -> Entry {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Ok(e) = serde_json::from_str::<Entry>(&line) {
                        self.seen.push(e.clone());
                        if ok(&e) {
                            return e;
                        }
                    }
                }
                Err(_) => panic!(
                    "no {what} within {limit:?}; journal so far:\n{}",
                    self.dump()
                ),
            }
        }
    }

    /// Waits for the process to end; its exit code.
    pub(super) fn finish(mut self, limit: Duration) -> (i32, Vec<Entry>) {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Whatever was printed before the exit.
                while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    if let Ok(e) = serde_json::from_str::<Entry>(&line) {
                        self.seen.push(e);
                    }
                }
                return (status.code().unwrap_or(-1), std::mem::take(&mut self.seen));
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the run did not end within {limit:?}:\n{}", self.dump());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn dump(&self) -> String {
        self.seen
            .iter()
            .map(|e| format!("{} {} {}: {}", e.at, e.operator, e.action, e.reason))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(super) fn clock_start(secs: i64) -> String {
    at(secs).to_rfc3339()
}

#[tokio::test]
async fn a_run_over_history_rolls_back_when_the_data_says_so() {
    let Some(prom) = PrometheusServer::start().await else {
        return;
    };
    let (_dir, plan) = release(&prom.url(), "5s", true);
    // Half an hour before the incident, at 200×: ten seconds of real time to reach it.
    let run = Run::start(
        &plan,
        &["--clock-start", &clock_start(T0 + 1800), "--speed", "200"],
    );
    let (code, journal) = run.finish(Duration::from_secs(120));
    assert_eq!(code, 3, "rolled back");
    let find = |action: &str| {
        journal
            .iter()
            .find(|e| e.action == action && e.operator == "shipdeck")
            .unwrap_or_else(|| panic!("no {action} in {journal:#?}"))
    };

    // The rollout was live and promoting on healthy data before the incident.
    let promoted = journal
        .iter()
        .filter(|e| e.action == "promote" && e.at < at(INCIDENT_AT))
        .count();
    assert!(promoted >= 2, "{journal:#?}");

    let rollback = find("rollback");
    let earliest = at(INCIDENT_AT + FOR);
    let latest = at(INCIDENT_AT + FOR + 2 * INTERVAL);
    assert!(
        rollback.at >= earliest && rollback.at <= latest,
        "rollback at {} is not within [{earliest}, {latest}]: the data's incident starts at {} and the rule needs {FOR}s",
        rollback.at,
        at(INCIDENT_AT)
    );
    let explain = journal
        .iter()
        .find(|e| e.action == "guardrail" && e.at == rollback.at)
        .and_then(|e| e.explain.as_ref())
        .expect("the trip is explained");
    assert_eq!(explain.metric, "error_rate");
    assert!(explain.value().unwrap() > 0.05, "{explain:?}");
    assert!(explain.since >= at(INCIDENT_AT));
    // The pause rule tripped first, on the first sample that showed the incident.
    let pause = find("pause");
    assert!(pause.at >= at(INCIDENT_AT) && pause.at <= at(INCIDENT_AT + 2 * INTERVAL));
    assert!(
        !journal
            .iter()
            .any(|e| e.action == "promote" && e.at >= pause.at)
    );
    find("rolled back");
}

#[tokio::test]
async fn a_stopped_prometheus_pauses_the_rollout_until_it_returns() {
    let Some(mut prom) = PrometheusServer::start().await else {
        return;
    };
    let (_dir, plan) = release(&prom.url(), "2s", false);
    // 60×: a real second is an engine minute; the incident is 30 s away.
    let mut run = Run::start(
        &plan,
        &["--clock-start", &clock_start(T0 + 1800), "--speed", "60"],
    );
    run.until("the promotion to Beta", Duration::from_secs(60), |e| {
        e.action == "promote" && e.reason.contains("Beta")
    });
    prom.kill();
    let stale = run.until("a stale pause", Duration::from_secs(30), |e| {
        e.action == "pause" && e.reason.contains("stale")
    });
    // Longer than Beta's whole bake, in engine time, while Prometheus is down.
    tokio::time::sleep(Duration::from_secs(5)).await;
    prom.restart().await;
    let resumed = run.until("the resume", Duration::from_secs(60), |e| {
        e.action == "resume"
    });
    assert!(resumed.at > stale.at);
    assert!(
        (resumed.at - stale.at).num_seconds() > 180,
        "paused longer than Beta's bake: {} → {}",
        stale.at,
        resumed.at
    );
    let promoted = run.until("the promotion after Beta", Duration::from_secs(60), |e| {
        e.action == "promote" && e.reason.contains("Gradual 25%")
    });
    assert!(promoted.at > resumed.at);
    let (code, journal) = run.finish(Duration::from_secs(120));
    assert_eq!(
        code, 3,
        "the incident still rolls it back once the data is back"
    );

    let between: Vec<&Entry> = journal
        .iter()
        .filter(|e| e.at >= stale.at && e.at < resumed.at)
        .collect();
    assert!(
        between.iter().all(|e| e.action != "promote"),
        "promoted on stale data: {between:#?}"
    );
    assert!(
        journal
            .iter()
            .any(|e| e.action == "fresh" && e.at <= resumed.at),
        "{journal:#?}"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_goes_stale_and_never_promotes() {
    // Accepts connections and never says a word.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            match stream {
                Ok(s) => held.push(s),
                Err(_) => return,
            }
        }
    });
    let (dir, plan) = release(&url, "1s", false);
    let record = dir.path().join("hang.jsonl");
    let run = Run::start(
        &plan,
        &[
            "--clock-start",
            &clock_start(T0 + 1800),
            "--speed",
            "600",
            "--max-pause",
            "1m",
            "--record",
            record.to_str().unwrap(),
        ],
    );
    let (code, journal) = run.finish(Duration::from_secs(60));
    // Either the start is refused for want of fresh data, or the rollout starts and
    // pauses as stale; a human is needed either way, and nothing is ever promoted.
    assert_eq!(code, 4, "a human is needed: {journal:#?}");
    let promotes = journal.iter().filter(|e| e.action == "promote").count();
    assert!(
        promotes <= 1,
        "only the start, never a promotion: {journal:#?}"
    );
    if promotes == 1 {
        let pause = journal
            .iter()
            .find(|e| e.action == "pause")
            .unwrap_or_else(|| panic!("no pause in {journal:#?}"));
        assert!(pause.reason.contains("stale"), "{pause:?}");
    }

    // Why it went stale is in the recording: every poll timed out.
    let recording = shipdeck::recording::Recording::read(&record).unwrap();
    let batches = recording.batches();
    assert!(batches.len() >= 4, "{}", batches.len());
    let timeouts = batches
        .iter()
        .flat_map(|b| &b.readings)
        .filter(|r| {
            matches!(&r.outcome, shipdeck::engine::values::Outcome::Error(t)
                if t.contains(&url) && t.contains("within 1s"))
        })
        .count();
    assert!(
        timeouts >= 8,
        "expected the polls to time out: {:?}",
        batches.last()
    );
}
