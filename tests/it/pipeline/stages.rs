//! Pipeline stages through the runner the controller starts: command stages (run, re-run,
//! killed at their timeout), status files written, rewritten, corrupted and removed while
//! a real notify watcher looks on, and what the screen is given about each.

use std::path::Path;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

use shipdeck::engine::{Input, Phase};
use shipdeck::pipeline::{Mode, Runner, SourceKind, StageDetail};
use shipdeck::plan::{Plan, StageStatus};

const PLAN_REST: &str = r#"
flag:
  name: new_checkout
  backend: {kind: file, path: flags.yaml}
rollout:
  steps:
    - {name: Beta, percent: 5, bake: 1m}
metrics:
  source: {kind: simulated, scenario: healthy}
"#;

fn plan(dir: &Path, pipeline: &str, checklists: &str) -> Plan {
    let text = format!(
        "release: {{name: pipe, version: 1.0.0, strategy: canary}}\npipeline:\n{pipeline}{PLAN_REST}{checklists}"
    );
    shipdeck::plan::parse(&text, &dir.join("plan.yaml")).unwrap_or_else(|e| panic!("{e}"))
}

/// One stage as the controller's snapshot carries it (Prod's status follows `phase`).
fn stage_detail(runner: &Runner, name: &str, phase: &Phase) -> Option<StageDetail> {
    runner.details(phase).into_iter().find(|d| d.name == name)
}

/// The next `Input::Stage` for `name` within `limit`.
async fn next_stage(
    rx: &mut mpsc::Receiver<Input>,
    name: &str,
    limit: Duration,
) -> (StageStatus, String) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(Input::Stage {
                name: n,
                status,
                detail,
            })) if n == name => return (status, detail),
            Ok(Some(_)) => {}
            Ok(None) => panic!("the runner's channel closed"),
            Err(_) => panic!("no report for stage {name} within {limit:?}"),
        }
    }
}

/// Reports for `name` until one has `want`; panics after `limit`.
async fn stage_becomes(
    rx: &mut mpsc::Receiver<Input>,
    name: &str,
    want: StageStatus,
    limit: Duration,
) -> String {
    let start = Instant::now();
    loop {
        let left = limit.saturating_sub(start.elapsed());
        let (status, detail) = next_stage(rx, name, left).await;
        if status == want {
            return detail;
        }
    }
}

fn write_atomic(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[tokio::test]
async fn a_command_stage_runs_at_start_and_again_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("runs");
    let script = format!("echo run >> {0}; wc -l < {0}; echo ok", counter.display());
    let p = plan(
        dir.path(),
        &format!("  - {{name: CI, command: [sh, -c, \"{script}\"], timeout: 10s}}\n  - Prod\n"),
        "",
    );
    let (tx, mut rx) = mpsc::channel(64);
    let (mut runner, first) = Runner::start(&p, Mode::Run, tx).await;
    assert!(
        first.is_empty(),
        "commands report from their task, not at start"
    );
    assert!(!runner.settled());

    let (status, detail) = next_stage(&mut rx, "CI", Duration::from_secs(10)).await;
    assert_eq!(status, StageStatus::Running);
    assert!(detail.starts_with("running since "), "{detail}");
    runner.told(&Input::Stage {
        name: "CI".into(),
        status,
        detail,
    });
    assert!(!runner.settled(), "a running command is not settled");
    let detail = stage_becomes(&mut rx, "CI", StageStatus::Passed, Duration::from_secs(10)).await;
    assert!(detail.starts_with("passed in "), "{detail}");
    runner.told(&Input::Stage {
        name: "CI".into(),
        status: StageStatus::Passed,
        detail,
    });
    assert!(runner.settled());

    let ci = stage_detail(&runner, "CI", &Phase::Ready).unwrap();
    assert_eq!(ci.kind, SourceKind::Command);
    assert!(ci.rerunnable());
    assert!(ci.source.starts_with("sh -c "), "{}", ci.source);
    assert!(ci.source.ends_with("(timeout 10s)"), "{}", ci.source);
    assert_eq!(ci.runs, 1);
    let run = ci.last_run.unwrap();
    assert!(run.elapsed.is_some());
    assert_eq!(run.output.lines().collect::<Vec<_>>(), ["1", "ok"]);

    let answer = runner.rerun("CI").unwrap();
    assert!(answer.starts_with("running CI again"), "{answer}");
    stage_becomes(&mut rx, "CI", StageStatus::Passed, Duration::from_secs(10)).await;
    let ci = stage_detail(&runner, "CI", &Phase::Ready).unwrap();
    assert_eq!(ci.runs, 2);
    assert_eq!(
        ci.last_run.unwrap().output.lines().collect::<Vec<_>>(),
        ["2", "ok"]
    );
}

#[tokio::test]
async fn a_hanging_stage_is_killed_at_its_timeout_and_shown_failed_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let p = plan(
        dir.path(),
        "  - {name: Stage, command: [sh, -c, \"echo probing; sleep 60\"], timeout: 1s}\n  - Prod\n",
        "",
    );
    let (tx, mut rx) = mpsc::channel(64);
    let (runner, _) = Runner::start(&p, Mode::Run, tx).await;
    let (status, _) = next_stage(&mut rx, "Stage", Duration::from_secs(5)).await;
    assert_eq!(status, StageStatus::Running);
    // While it runs, `r` is refused and the output so far is visible.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        runner.rerun("Stage").unwrap_err(),
        "Stage is already running"
    );
    let live = stage_detail(&runner, "Stage", &Phase::Ready).unwrap();
    assert_eq!(live.status, StageStatus::Running);
    let run = live.last_run.unwrap();
    assert!(run.elapsed.is_none());
    assert_eq!(run.output.last(), Some("probing"));

    let started = Instant::now();
    let detail = stage_becomes(
        &mut rx,
        "Stage",
        StageStatus::Failed,
        Duration::from_secs(10),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        detail, "still running at its 1s timeout; killed: probing",
        "the why names the timeout"
    );
    let after = stage_detail(&runner, "Stage", &Phase::Ready).unwrap();
    assert_eq!(after.status, StageStatus::Failed);
    assert_eq!(after.detail, detail);
}

#[tokio::test]
async fn static_stages_and_prod_cannot_be_rerun_and_prod_follows_the_phase() {
    let dir = tempfile::tempdir().unwrap();
    let p = plan(dir.path(), "  - {name: PR, status: passed}\n  - Prod\n", "");
    let (tx, _rx) = mpsc::channel(64);
    let (runner, _) = Runner::start(&p, Mode::Run, tx).await;
    assert!(runner.settled(), "nothing to wait for");
    assert!(runner.rerun("PR").unwrap_err().contains("static status"));
    assert!(
        runner
            .rerun("Prod")
            .unwrap_err()
            .contains("the rollout itself")
    );
    assert!(
        runner
            .rerun("QA")
            .unwrap_err()
            .contains("the pipeline has PR, Prod")
    );

    let all = runner.details(&Phase::Baking { step: 0 });
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].status, StageStatus::Passed);
    assert_eq!(all[1].kind, SourceKind::Rollout);
    assert_eq!(all[1].status, StageStatus::Running);
    let done = stage_detail(&runner, "Prod", &Phase::Completed).unwrap();
    assert_eq!(done.status, StageStatus::Passed);
    let back = stage_detail(
        &runner,
        "Prod",
        &Phase::RolledBack {
            reason: "x".into(),
            trip: None,
        },
    )
    .unwrap();
    assert_eq!(back.status, StageStatus::Failed);
}

#[tokio::test]
async fn a_one_off_command_reads_status_files_but_never_runs_commands() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    std::fs::write(dir.path().join("qa.json"), r#"{"status": "passed"}"#).unwrap();
    let p = plan(
        dir.path(),
        &format!(
            "  - {{name: CI, command: [touch, {}]}}\n  - {{name: QA, status_file: qa.json}}\n  - Prod\n",
            marker.display()
        ),
        "checklists:\n  pre_release:\n    - {item: Tests, check: {command: [touch, ran2]}}\n",
    );
    let (tx, _rx) = mpsc::channel(64);
    let (runner, first) = Runner::start(&p, Mode::StatusFilesOnly, tx).await;
    assert_eq!(
        first,
        [Input::Stage {
            name: "QA".into(),
            status: StageStatus::Passed,
            detail: String::new()
        }]
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!marker.exists() && !dir.path().join("ran2").exists());
    let ci = stage_detail(&runner, "CI", &Phase::Ready).unwrap();
    assert_eq!(ci.status, StageStatus::Pending);
    assert!(
        ci.detail.contains("only under `shipdeck open`"),
        "{}",
        ci.detail
    );
    assert!(runner.rerun("CI").is_err());
    assert!(runner.settled());

    let (tx, _rx) = mpsc::channel(64);
    let (follower, first) = Runner::start(&p, Mode::Follow, tx).await;
    assert!(first.is_empty());
    let qa = stage_detail(&follower, "QA", &Phase::Ready).unwrap();
    assert_eq!(qa.detail, "run by the controller holding the release");
}

#[tokio::test]
async fn a_status_file_is_followed_through_writes_rewrites_corruption_and_removal() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("status").join("qa.json");
    std::fs::create_dir(dir.path().join("status")).unwrap();
    let p = plan(
        dir.path(),
        "  - {name: QA, status_file: status/qa.json}\n  - Prod\n",
        "",
    );
    let (tx, mut rx) = mpsc::channel(64);
    let (runner, first) = Runner::start(&p, Mode::Run, tx).await;
    // Missing: pending, and it says what it waits for.
    let Input::Stage { status, detail, .. } = &first[0] else {
        panic!("{first:?}")
    };
    assert_eq!(*status, StageStatus::Pending);
    assert!(detail.starts_with("waiting for ") && detail.ends_with("qa.json: not written yet"));
    let qa = stage_detail(&runner, "QA", &Phase::Ready).unwrap();
    assert_eq!(qa.kind, SourceKind::StatusFile);
    assert!(qa.source.starts_with("status file "));

    // Let the watcher settle in, so the changes below reach it as events.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = Duration::from_millis(1500);
    // Written in place.
    std::fs::write(
        &file,
        r#"{"status": "running", "detail": "QA in progress"}"#,
    )
    .unwrap();
    let (status, detail) = next_stage(&mut rx, "QA", second).await;
    assert_eq!(
        (status, detail.as_str()),
        (StageStatus::Running, "QA in progress")
    );

    // Replaced atomically (temp file and rename), with a link.
    write_atomic(
        &file,
        r#"{"status": "passed", "detail": "QA sign-off for 1.0.0", "url": "http://qa.example/1"}"#,
    );
    let (status, detail) = next_stage(&mut rx, "QA", second).await;
    assert_eq!(
        (status, detail.as_str()),
        (StageStatus::Passed, "QA sign-off for 1.0.0")
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let qa = stage_detail(&runner, "QA", &Phase::Ready).unwrap();
    assert_eq!(qa.url.as_deref(), Some("http://qa.example/1"));

    // Corrupted: failed, with where and what.
    std::fs::write(&file, "{\"status\": \"passed\",\n  \"detail\": oops}").unwrap();
    let (status, detail) = next_stage(&mut rx, "QA", second).await;
    assert_eq!(status, StageStatus::Failed);
    assert!(detail.contains("qa.json:2:13: not JSON"), "{detail}");

    // An unknown status: failed, with a suggestion.
    std::fs::write(&file, r#"{"status": "pased"}"#).unwrap();
    let (status, detail) = next_stage(&mut rx, "QA", second).await;
    assert_eq!(status, StageStatus::Failed);
    assert!(
        detail.contains("qa.json:1:18: unknown status `pased`; did you mean `passed`?"),
        "{detail}"
    );

    // Removed: pending again.
    std::fs::remove_file(&file).unwrap();
    let (status, detail) = next_stage(&mut rx, "QA", second).await;
    assert_eq!(status, StageStatus::Pending);
    assert!(detail.contains("not written yet"), "{detail}");

    // `r` re-reads and reports even when nothing changed.
    runner.rerun("QA").unwrap();
    let (status, _) = next_stage(&mut rx, "QA", second).await;
    assert_eq!(status, StageStatus::Pending);
}

#[tokio::test]
async fn an_unchanged_rewrite_is_not_reported_again() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("qa.json");
    std::fs::write(&file, r#"{"status": "passed"}"#).unwrap();
    let p = plan(
        dir.path(),
        "  - {name: QA, status_file: qa.json}\n  - Prod\n",
        "",
    );
    let (tx, mut rx) = mpsc::channel(64);
    let (_runner, _) = Runner::start(&p, Mode::Run, tx).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    std::fs::write(&file, r#"{"status":"passed"}"#).unwrap();
    std::fs::write(
        &file,
        r#"{"status": "failed", "detail": "regression in search"}"#,
    )
    .unwrap();
    let (status, detail) = next_stage(&mut rx, "QA", Duration::from_millis(1500)).await;
    assert_eq!(
        status,
        StageStatus::Failed,
        "the same reading is not sent twice"
    );
    assert_eq!(detail, "regression in search");
}

#[tokio::test]
async fn a_status_file_in_a_folder_made_later_is_still_picked_up() {
    let dir = tempfile::tempdir().unwrap();
    let p = plan(
        dir.path(),
        "  - {name: QA, status_file: later/qa.json}\n  - Prod\n",
        "",
    );
    let (tx, mut rx) = mpsc::channel(64);
    let (_runner, _) = Runner::start(&p, Mode::Run, tx).await;
    // The watcher cannot be set up on a missing folder; the runner polls until it can.
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::fs::create_dir(dir.path().join("later")).unwrap();
    std::fs::write(dir.path().join("later/qa.json"), r#"{"status": "passed"}"#).unwrap();
    let (status, _) = next_stage(&mut rx, "QA", Duration::from_secs(3)).await;
    assert_eq!(status, StageStatus::Passed);
}
