//! The pipeline gating a real headless run: the rollout starts only once every stage
//! before Prod has passed; a failing or hanging stage stops it with the reason, and a
//! forced start from another terminal is journaled as forced.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_shipdeck"));
    c.env("SHIPDECK_OPERATOR", "tester");
    c
}

fn release(ci: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let plan = format!(
        r#"
release: {{name: gated, version: 1.0.0, strategy: canary}}
pipeline:
  - {{name: PR, status: passed}}
  - {{name: CI, command: {ci}, timeout: 1s}}
  - {{name: QA, status_file: qa.json}}
  - {{name: Prod}}
flag:
  name: new_checkout
  backend: {{kind: file, path: flags.yaml}}
rollout:
  steps:
    - {{name: Beta, percent: 5, bake: 1m}}
    - {{name: Full, percent: 100, bake: 1m}}
  watch: 1m
metrics:
  source: {{kind: simulated, scenario: healthy}}
checklists:
  pre_release:
    - {{item: CI green, stage: CI}}
    - {{item: Lint clean, check: {{command: [sh, -c, "echo lint ok"]}}}}
"#
    );
    std::fs::write(dir.path().join("plan.yaml"), plan).unwrap();
    std::fs::write(
        dir.path().join("flags.yaml"),
        "flags:\n  new_checkout: {enabled: false, rollout: 0.0, userGroups: []}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("qa.json"),
        r#"{"status": "passed", "detail": "QA sign-off"}"#,
    )
    .unwrap();
    let plan = dir.path().join("plan.yaml");
    (dir, plan)
}

fn run(args: &[&str]) -> (i32, String, String, Duration) {
    let start = Instant::now();
    let out = bin().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        start.elapsed(),
    )
}

#[test]
fn a_passing_pipeline_lets_the_rollout_start_and_complete() {
    let (_dir, plan) = release(r#"[sh, -c, "echo compiled; echo 12 tests passed"]"#);
    let p = plan.to_str().unwrap();
    let (code, out, err, _) = run(&["run", p, "--headless", "--speed", "5000"]);
    assert_eq!(code, 0, "{out}{err}");
    let stage = out.find("CI passed in ").unwrap_or_else(|| panic!("{out}"));
    let check = out
        .find("Lint clean ticked itself")
        .unwrap_or_else(|| panic!("{out}"));
    let promote = out.find("promote").unwrap_or_else(|| panic!("{out}"));
    assert!(stage < promote && check < promote, "{out}");
}

#[test]
fn a_failing_stage_keeps_the_rollout_from_starting_and_says_why() {
    let (dir, plan) = release(r#"[sh, -c, "echo 'error[E0308]: mismatched types'; exit 101"]"#);
    let p = plan.to_str().unwrap();
    let (code, out, err, _) = run(&["run", p, "--headless", "--speed", "5000"]);
    assert_eq!(code, 4, "{out}{err}");
    assert!(err.contains("stage CI not passed"), "{err}");
    assert!(err.contains("pre-release: CI green"), "{err}");
    assert!(
        out.contains("CI failed: exit code 101 after ")
            && out.contains(": error[E0308]: mismatched types"),
        "{out}"
    );
    let flags = std::fs::read_to_string(dir.path().join("flags.yaml")).unwrap();
    assert!(flags.contains("enabled: false"), "{flags}");

    // Forced from another terminal: it starts, and the journal says it was forced.
    let (code, out, err, _) = run(&[
        "promote",
        p,
        "--force",
        "--reason",
        "CI flake, verified by hand",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let (_, journal, _, _) = run(&["journal", p]);
    let start = journal
        .lines()
        .find(|l| l.contains("→ Beta"))
        .unwrap_or_else(|| panic!("{journal}"));
    assert!(start.contains("forced"), "{start}");
}

#[test]
fn a_hanging_stage_is_killed_at_its_timeout_and_the_run_stops_quickly() {
    let (_dir, plan) = release(r#"[sleep, "600"]"#);
    let p = plan.to_str().unwrap();
    let (code, out, err, took) = run(&["run", p, "--headless", "--speed", "5000"]);
    assert_eq!(code, 4, "{out}{err}");
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert!(
        out.contains("CI failed: still running at its 1s timeout; killed"),
        "{out}"
    );
    assert!(err.contains("stage CI not passed"), "{err}");
}
