//! The canary judge over a flight recording: a headless run of the `canary-judge` fixture
//! (a simulated canary 15% slower than its baseline at 5%) is recorded; played back by
//! `shipdeck replay` the engine journals the very same verdicts, and a backtest of the
//! release with the recording as its metrics source reaches the same verdict, from the
//! same first judgement to the rollback.

use chrono::{DateTime, Utc};
use std::path::PathBuf;

use shipdeck::engine::canary_report::CanaryReport;
use shipdeck::engine::journal::{Entry, Verb};
use shipdeck::recording::Recording;

use crate::support::cli::{release, run};

/// The fixture's metrics source, and the plan's poll interval and (default) baseline
/// window.
const SIMULATED: &str =
    "source: {kind: simulated, scenario: healthy, seed: 11, arms: p95-regression}";
const INTERVAL: i64 = 15;
const BASELINE_WINDOW: i64 = 30 * 60;
/// The 5% step's bake, shortened from the fixture's hour so that the run can go slowly.
const CANARY_STEP: &str = "{name: Canary, percent: 5,   bake: 1h}";
const SHORTER: &str = "{name: Canary, percent: 5,   bake: 20m}";
const BAKE: i64 = 20 * 60;

/// Records a headless run of the judge fixture; it rolls back on the judge by itself.
/// Slow enough that the flag write is confirmed before the next poll: at a higher speed the
/// engine clock waits at the next sample's instant, the confirmation is stamped with it,
/// and the judge takes that sample, polled before the change, for the canary's first (a
/// traffic split mismatch, which pauses).
fn recorded_canary() -> (tempfile::TempDir, PathBuf) {
    let (dir, plan) = release("canary-judge");
    let text = std::fs::read_to_string(&plan).unwrap();
    assert!(text.contains(CANARY_STEP), "{text}");
    std::fs::write(&plan, text.replace(CANARY_STEP, SHORTER)).unwrap();
    let rec = dir.path().join("canary.jsonl");
    let (code, stdout, stderr) = run(&[
        "run",
        plan.to_str().unwrap(),
        "--headless",
        "--speed",
        "1000",
        "--record",
        rec.to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "stdout:\n{stdout}\nstderr:\n{stderr}");
    (dir, rec)
}

fn judged(entries: &[Entry]) -> Vec<&Entry> {
    entries
        .iter()
        .filter(|e| e.action == Verb::Canary)
        .collect()
}

fn report(e: &Entry) -> &CanaryReport {
    e.canary
        .as_deref()
        .expect("a canary entry carries its report")
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339()
}

#[test]
fn a_recorded_canary_run_replays_and_backtests_to_the_same_verdict() {
    let (dir, rec) = recorded_canary();
    let recording = Recording::read(&rec).unwrap();
    let recorded: Vec<Entry> = recording.journal().cloned().collect();
    let recorded_judged = judged(&recorded);
    let acted = *recorded_judged.last().expect("the judge journaled");
    assert_eq!(
        acted.reason, "canary FAIL 0 at Canary 5%: critical p95 failed",
        "{recorded:#?}"
    );
    let rollback = recorded
        .iter()
        .find(|e| e.action == Verb::Rollback)
        .expect("the recorded run rolled back");
    assert_eq!(rollback.reason, acted.reason);

    // Played back, the engine journals the same verdicts with the same reports.
    let (code, stdout, stderr) = run(&["replay", rec.to_str().unwrap(), "--headless", "--json"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let replayed: Vec<Entry> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Entry>(l).ok())
        .collect();
    assert_eq!(judged(&replayed), recorded_judged);

    // The same release with the recording as its metrics source, backtested so that its
    // judge reads the arms from the sample the recorded judge read first: the rollout
    // starts one interval before it (the backtest's judge skips the start's own sample).
    let first = report(recorded_judged[0]).at;
    let start = first - chrono::Duration::seconds(INTERVAL);
    let from = start - chrono::Duration::seconds(BASELINE_WINDOW);
    let to = rollback.at + chrono::Duration::minutes(10);
    let other = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(dir.path().join("plan.yaml")).unwrap();
    assert!(text.contains(SIMULATED), "{text}");
    let text = text.replace(
        SIMULATED,
        &format!("source: {{kind: replay, path: {}}}", rec.display()),
    );
    let plan = other.path().join("plan.yaml");
    std::fs::write(&plan, text).unwrap();
    std::fs::copy(
        dir.path().join("flags.yaml"),
        other.path().join("flags.yaml"),
    )
    .unwrap();
    let args = [
        "backtest",
        plan.to_str().unwrap(),
        "--from",
        &stamp(from),
        "--to",
        &stamp(to),
    ];
    let (code, stdout, stderr) = run(&[&args[..], &["--json"]].concat());
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let backtest: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let timeline: Vec<Entry> = serde_json::from_value(backtest["timeline"].clone()).unwrap();
    let backtest_judged = judged(&timeline);

    // Its first judgement is the recorded one, to the last digit: the same samples, the
    // same judge.
    let first_backtested = report(backtest_judged[0]);
    assert_eq!(first_backtested.at, first);
    assert_eq!(
        first_backtested,
        report(recorded_judged[0]),
        "the first judgement differs"
    );

    // It rolls back on the same verdict when the bake is served. Its bake began at the
    // start, the recorded one when the flag write was confirmed, after that instant and
    // at the latest at the first judged sample: the recorded rollback comes up to one
    // interval later (two, should the recorded run's poll after the bake have been late).
    let last = *backtest_judged.last().unwrap();
    assert_eq!(last.reason, acted.reason);
    let stops = backtest["stops"].as_array().unwrap();
    let [stop] = &stops[..] else {
        panic!("one stop: {backtest:#}");
    };
    assert_eq!(stop["kind"], "rolled_back");
    assert_eq!(stop["by_judge"], true);
    assert_eq!(stop["reason"], rollback.reason.as_str());
    assert_eq!(stop["step"], "Canary");
    let at: DateTime<Utc> = stop["at"].as_str().unwrap().parse().unwrap();
    assert_eq!(at, start + chrono::Duration::seconds(BAKE));
    let later = (rollback.at - at).num_milliseconds();
    assert!(
        later > 0 && later <= 2 * INTERVAL * 1000,
        "backtest rolled back at {at}, the recorded run at {}",
        rollback.at
    );
    assert_eq!(backtest["trips"], serde_json::json!([]));
    let verdicts = backtest["judge"]["verdicts"].as_array().unwrap();
    assert_eq!(verdicts.len(), backtest_judged.len());
    assert_eq!(
        verdicts.last().unwrap()["stopped"],
        "rolled_back",
        "{backtest:#}"
    );

    let (code, text, stderr) = run(&args);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        text.contains("canary FAIL 0 at Canary 5%: critical p95 failed → rolled back"),
        "{text}"
    );
    assert!(text.contains("rolled back by the canary judge"), "{text}");
}
