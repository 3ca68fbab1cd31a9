//! Automatic checklist items through a real controller: command checks and stage items
//! tick and untick themselves and say why, the journal records each change, and a hand
//! tick of an automatic item is refused. Re-running a stage is journaled with its operator,
//! through the controller's loop as the screen's `r` sends it; a follower is refused.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use shipdeck::clock::Clock;
use shipdeck::control::{self as controller, Message, Session};
use shipdeck::engine::{Command, Input};
use shipdeck::plan::{ListKind, StageStatus};
use shipdeck::store::FileStore;

const PLAN: &str = r#"
release: {name: auto-items, version: 1.0.0, strategy: canary}
pipeline:
  - {name: PR, status: passed}
  - {name: QA, status_file: qa.json}
  - {name: Prod}
flag:
  name: new_checkout
  backend: {kind: file, path: flags.yaml}
rollout:
  steps:
    - {name: Beta, percent: 5, bake: 1m}
metrics:
  source: {kind: simulated, scenario: healthy}
checklists:
  pre_release:
    - Code reviewed
    - {item: Migrations applied, check: {command: [sh, -c, "test -f migrated || { echo 'migration 42 pending'; exit 1; }"], timeout: 10s}}
    - {item: QA signed off, stage: QA}
  release_day:
    - {item: Error rate normal, check: {metric: error_rate, below: 1%}}
"#;

async fn open(dir: &Path) -> Session {
    open_at(dir, Clock::live()).await
}

async fn open_at(dir: &Path, clock: Clock) -> Session {
    std::fs::write(dir.join("plan.yaml"), PLAN).unwrap();
    std::fs::write(
        dir.join("flags.yaml"),
        "flags:\n  new_checkout: {enabled: false, rollout: 0.0, userGroups: []}\n",
    )
    .unwrap();
    let plan = Arc::new(shipdeck::plan::load(&dir.join("plan.yaml")).unwrap());
    let store = Arc::new(FileStore::open(&dir.join(".shipdeck")).unwrap());
    let opts = controller::Options::new("carol".into(), clock, "screen");
    controller::open(plan, opts, store).await.unwrap()
}

/// Hands messages to the controller until `done` holds.
async fn pump(session: &mut Session, what: &str, mut done: impl FnMut(&Session) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done(session) {
        match tokio::time::timeout_at(deadline, session.messages.recv()).await {
            Ok(Some(m)) => {
                session.controller.handle(m);
            }
            _ => panic!("timed out waiting for {what}"),
        }
    }
}

/// Hands messages over until the next automatic check result has been applied.
async fn next_check(session: &mut Session) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, session.messages.recv()).await {
            Ok(Some(m)) => {
                let check = matches!(m, Message::Input(Input::Check { .. }));
                session.controller.handle(m);
                if check {
                    return;
                }
            }
            _ => panic!("no check result"),
        }
    }
}

fn journal_has(session: &Session, needle: &str) -> bool {
    session
        .controller
        .journal()
        .iter()
        .any(|e| e.headline().contains(needle))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_item_ticks_and_unticks_itself_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open(dir.path()).await;
    next_check(&mut s).await;
    let (done, why) = s.controller.engine().item_done(ListKind::PreRelease, 1);
    assert!(!done);
    let why = why.unwrap();
    assert!(why.starts_with("exit code 1 after "), "{why}");
    assert!(why.ends_with(": migration 42 pending"), "{why}");
    // What the screen's details popup shows, as the controller publishes it.
    let snapshot = s.controller.snapshot();
    let detail = snapshot
        .checks
        .iter()
        .find(|c| (c.list, c.item) == (ListKind::PreRelease, 1))
        .unwrap();
    assert_eq!(detail.ok, Some(false));
    assert_eq!(detail.runs, 1);
    assert!(detail.source.starts_with("sh -c "), "{}", detail.source);
    assert_eq!(
        detail.last_run.as_ref().unwrap().output.last(),
        Some("migration 42 pending")
    );

    // A hand tick of an automatic item is refused, with the reason.
    let refused = s
        .controller
        .command(
            Command::Tick {
                list: ListKind::PreRelease,
                item: 1,
                done: true,
            },
            None,
        )
        .unwrap_err()
        .to_string();
    assert!(refused.contains("ticks itself"), "{refused}");

    std::fs::write(dir.path().join("migrated"), "").unwrap();
    s.controller.recheck(ListKind::PreRelease, 1).unwrap();
    next_check(&mut s).await;
    let (done, why) = s.controller.engine().item_done(ListKind::PreRelease, 1);
    assert!(done);
    assert!(why.unwrap().starts_with("passed in "));
    assert!(journal_has(
        &s,
        "check: Pre-release: Migrations applied ticked itself (passed in"
    ));

    std::fs::remove_file(dir.path().join("migrated")).unwrap();
    s.controller.recheck(ListKind::PreRelease, 1).unwrap();
    next_check(&mut s).await;
    assert!(!s.controller.engine().item_done(ListKind::PreRelease, 1).0);
    assert!(journal_has(
        &s,
        "Migrations applied unticked itself (exit code 1"
    ));
    s.controller.settle().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_item_follows_its_status_file_and_a_rerun_is_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open(dir.path()).await;
    let (done, why) = s.controller.engine().item_done(ListKind::PreRelease, 2);
    assert!(!done);
    assert_eq!(why.as_deref(), Some("stage QA: pending"));
    let snapshot = s.controller.snapshot();
    let qa = snapshot.stages.iter().find(|s| s.name == "QA").unwrap();
    assert!(qa.detail.contains("not written yet"), "{}", qa.detail);

    std::fs::write(
        dir.path().join("qa.json"),
        r#"{"status": "passed", "detail": "signed off by dana"}"#,
    )
    .unwrap();
    pump(&mut s, "QA to pass", |s| {
        s.controller.engine().item_done(ListKind::PreRelease, 2).0
    })
    .await;
    assert!(journal_has(&s, "stage: QA passed: signed off by dana"));
    assert_eq!(
        s.controller.engine().stage("QA").unwrap().status,
        StageStatus::Passed
    );

    std::fs::write(dir.path().join("qa.json"), "{\"status\": \"passed\"").unwrap();
    pump(&mut s, "QA to fail on a broken file", |s| {
        !s.controller.engine().item_done(ListKind::PreRelease, 2).0
    })
    .await;
    let qa = s.controller.engine().stage("QA").unwrap();
    assert_eq!(qa.status, StageStatus::Failed);
    assert!(
        qa.detail.contains("qa.json:1:19: not JSON"),
        "{}",
        qa.detail
    );

    let answer = s.controller.rerun_stage("QA").unwrap();
    assert!(answer.starts_with("re-reading status file"), "{answer}");
    let rerun = s
        .controller
        .journal()
        .iter()
        .find(|e| e.action == "rerun")
        .unwrap();
    assert_eq!(rerun.operator, "carol");
    assert_eq!(rerun.reason, "stage QA");
    assert!(s.controller.rerun_stage("PR").is_err());
    s.controller.settle().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metric_item_ticks_itself_from_the_samples() {
    let dir = tempfile::tempdir().unwrap();
    // A fast clock: a sample every quarter of a second.
    let mut s = open_at(dir.path(), Clock::starting(chrono::Utc::now(), 60.0)).await;
    let (done, why) = s.controller.engine().item_done(ListKind::ReleaseDay, 0);
    assert!(!done, "no sample yet: {why:?}");
    pump(&mut s, "samples", |s| {
        s.controller.engine().item_done(ListKind::ReleaseDay, 0).0
    })
    .await;
    let why = s
        .controller
        .engine()
        .item_done(ListKind::ReleaseDay, 0)
        .1
        .unwrap();
    assert!(why.starts_with("error_rate "), "{why}");
    s.controller.settle().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_shows_what_the_holders_stages_and_checks_said() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("qa.json"),
        r#"{"status": "passed", "detail": "signed off by dana"}"#,
    )
    .unwrap();
    let mut holder = open(dir.path()).await;
    pump(
        &mut holder,
        "the holder's QA stage and migration check",
        |s| {
            let e = s.controller.engine();
            e.item_done(ListKind::PreRelease, 2).0
                && e.item_done(ListKind::PreRelease, 1).1.as_deref() != Some("not run yet")
        },
    )
    .await;

    // The follower runs no stage and no check: it shows what the holder's said.
    let mut follower = open(dir.path()).await;
    assert!(follower.controller.follower_of().is_some());
    pump(&mut follower, "the holder's reports in the follower", |s| {
        let e = s.controller.engine();
        e.stage("QA")
            .is_some_and(|r| r.status == StageStatus::Passed)
            && e.item_done(ListKind::PreRelease, 1).1.as_deref() != Some("not run yet")
    })
    .await;
    let e = follower.controller.engine();
    assert_eq!(e.stage("QA").unwrap().detail, "signed off by dana");
    assert!(e.item_done(ListKind::PreRelease, 2).0);
    let (done, why) = e.item_done(ListKind::PreRelease, 1);
    assert!(!done);
    assert!(why.unwrap_or_default().contains("migration 42 pending"));
    follower.controller.settle().await;
    holder.controller.settle().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_on_a_stage_item_goes_through_the_loop_and_a_follower_is_refused() {
    use shipdeck::control::driver;
    use shipdeck::control::{Refused, Stop};
    use shipdeck::pipeline::SourceKind;

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("qa.json"),
        r#"{"status": "passed", "url": "https://qa.example.com/runs/318"}"#,
    )
    .unwrap();
    let holder = driver::spawn(open(dir.path()).await);
    // The snapshot carries what the details popup shows about the stage.
    let snapshot = holder.snapshot();
    let qa = snapshot.stages.iter().find(|s| s.name == "QA").unwrap();
    assert_eq!(qa.kind, SourceKind::StatusFile);
    assert_eq!(qa.url.as_deref(), Some("https://qa.example.com/runs/318"));
    assert!(qa.runs >= 1);

    let answer = holder.rerun("QA".into()).await.unwrap().unwrap();
    assert!(answer.starts_with("re-reading status file"), "{answer}");
    let snapshot = holder.snapshot();
    let rerun = snapshot
        .journal
        .iter()
        .find(|e| e.action == "rerun")
        .expect("the rerun is in the snapshot with its answer");
    assert_eq!(
        (rerun.operator.as_str(), rerun.reason.as_str()),
        ("carol", "stage QA")
    );
    let refused = holder.rerun("PR".into()).await.unwrap().unwrap_err();
    assert!(
        matches!(&refused, Refused::CannotRun(m) if m.contains("static status")),
        "{refused:?}"
    );

    // A follower runs no stage: the controller says who does.
    let follower = driver::spawn(open(dir.path()).await);
    assert!(follower.snapshot().follower_of().is_some());
    let refused = follower.rerun("QA".into()).await.unwrap().unwrap_err();
    assert!(
        matches!(&refused, Refused::CannotRun(m) if m.contains("holds the release and runs its stages")),
        "{refused:?}"
    );
    follower.stop(Stop::Quit).await;
    holder.stop(Stop::Quit).await;
}
