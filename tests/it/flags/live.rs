//! The live flag file, with real files and a real watcher: an outside edit reaches the
//! engine within a second and pauses the rollout without being undone (the real binary,
//! headless); a file that turns invalid is reported with line:column, keeps the last good
//! state, and is never written over, not even by a rollback, until it is fixed; and an
//! outside edit racing shipdeck's own write is never written over.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shipdeck::clock::Clock;
use shipdeck::control::{self as controller, Session};
use shipdeck::engine::values::DesiredFlag;
use shipdeck::engine::{Command as Op, PauseCause, Phase};
use shipdeck::flags::{FileBackend, FlagBackend};
use shipdeck::plan::FlagKind;
use shipdeck::store::FileStore;
use shipdeck::watch::FileWatch;

const FLAGS: &str = "# Flags of the checkout team; shipdeck owns only `new_checkout`.\n\
flags:\n\
\x20 new_checkout:\n\
\x20   enabled: false\n\
\x20   rollout: 0.0\n\
\x20   userGroups: []\n\
\x20   kind: release\n\
\x20 enable_rate_limiting: {enabled: true, rollout: 1.0, userGroups: [], kind: ops}\n";

const PLAN: &str = "release: {name: checkout-v2, version: 2.5.0, strategy: canary}\n\
pipeline:\n  - {name: CI, status: passed}\n  - {name: Prod}\n\
flag:\n  name: new_checkout\n  backend: {kind: file, path: flags.yaml}\n\
rollout:\n  steps:\n\
\x20   - {name: Beta, percent: 5, groups: [beta-testers], bake: 1d}\n\
\x20   - {name: Gradual, percent: 25, bake: 1d}\n\
\x20   - {name: Full, percent: 100, bake: 1d}\n\
metrics:\n  source: {kind: simulated, scenario: healthy, seed: 7}\n  interval: 15s\n\
checklists:\n  pre_release: []\n";

fn release() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flags.yaml"), FLAGS).unwrap();
    let plan = dir.path().join("plan.yaml");
    std::fs::write(&plan, PLAN).unwrap();
    let flags = dir.path().join("flags.yaml");
    (dir, plan, flags)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// Replaces `from` with `to` in the file the way an editor saves: a new file renamed over it.
fn edit_by_hand(path: &Path, from: &str, to: &str) {
    let text = read(path);
    assert!(text.contains(from), "`{from}` not in:\n{text}");
    let temp = path.with_extension("swp");
    std::fs::write(&temp, text.replacen(from, to, 1)).unwrap();
    std::fs::rename(&temp, path).unwrap();
}

fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
    start.elapsed()
}

#[test]
fn an_outside_edit_pauses_the_rollout_within_a_second_and_is_never_undone() {
    let (dir, plan, flags) = release();
    let mut run = Command::new(env!("CARGO_BIN_EXE_shipdeck"))
        .env("SHIPDECK_OPERATOR", "tester")
        .args(["run", "--headless"])
        .arg(&plan)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the first step on disk", Duration::from_secs(20), || {
        read(&flags).contains("rollout: 0.05")
    });
    // Let the read-back land before someone edits by hand.
    std::thread::sleep(Duration::from_millis(300));

    // Someone sets 80% by hand.
    edit_by_hand(&flags, "rollout: 0.05", "rollout: 0.8");
    let journal = dir.path().join(".shipdeck/journal.jsonl");
    let took = wait_until(
        "the outside change in the journal",
        Duration::from_secs(5),
        || std::fs::read_to_string(&journal).is_ok_and(|j| j.contains("\"outside\"")),
    );
    assert!(took < Duration::from_secs(1), "seen after {took:?}");

    // The run stops for a human (exit 4) and says why.
    let start = Instant::now();
    let status = loop {
        if let Some(status) = run.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the run did not stop"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(run.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("changed outside shipdeck"), "{stderr}");

    // Never undone: the hand-set 80% is what the file says, and `status` tells why.
    assert!(read(&flags).contains("rollout: 0.8\n"), "{}", read(&flags));
    let out = Command::new(env!("CARGO_BIN_EXE_shipdeck"))
        .arg("status")
        .arg(&plan)
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("changed outside shipdeck: on 80%"),
        "{shown}"
    );
    assert!(shown.contains("flag new_checkout: on 80%"), "{shown}");
}

/// A controller on the plan, started, with its first step confirmed on disk.
async fn started(plan: &Path, dir: &Path) -> Session {
    let plan = Arc::new(shipdeck::plan::load(plan).unwrap());
    let store = Arc::new(FileStore::open(&dir.join(".shipdeck")).unwrap());
    let opts = controller::Options::new("tester".into(), Clock::live(), "headless");
    let mut session = controller::open(plan, opts, store).await.unwrap();
    let mut started = false;
    pump(
        &mut session,
        "the first step confirmed",
        Duration::from_secs(20),
        |s| {
            if !started {
                started = s
                    .controller
                    .command(Op::Start { force: false }, None)
                    .is_ok();
            }
            started && s.controller.engine().progress().confirmed
        },
    )
    .await;
    session
}

/// Handles adapter messages until `ok` holds; how long that took.
async fn pump(
    session: &mut Session,
    what: &str,
    limit: Duration,
    mut ok: impl FnMut(&mut Session) -> bool,
) -> Duration {
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if ok(session) {
            return start.elapsed();
        }
        match tokio::time::timeout_at(deadline, session.messages.recv()).await {
            Ok(Some(message)) => {
                session.controller.handle(message);
            }
            Ok(None) => panic!("every adapter stopped while waiting for {what}"),
            Err(_) => panic!(
                "timed out waiting for {what}; phase {:?}, notice {:?}",
                session.controller.engine().phase(),
                session.controller.notice()
            ),
        }
    }
}

fn journal_text(session: &Session) -> String {
    session
        .controller
        .journal()
        .iter()
        .map(|e| format!("{} {}\n", e.action, e.reason))
        .collect()
}

#[tokio::test]
async fn a_broken_file_is_reported_where_it_breaks_and_never_written_over() {
    let (dir, plan, flags) = release();
    let mut session = started(&plan, dir.path()).await;
    let good = session.controller.engine().progress().live.clone().unwrap();
    assert_eq!(good.percent(), 5);

    // Someone saves a typo: line 4, column 14 is the bad value.
    edit_by_hand(&flags, "    enabled: true", "    enabled: maybe");
    let broken = read(&flags);
    let took = pump(
        &mut session,
        "the broken file reported",
        Duration::from_secs(5),
        |s| {
            s.controller
                .notice()
                .is_some_and(|n| n.to_string().contains("flags.yaml:4:14"))
        },
    )
    .await;
    assert!(took < Duration::from_secs(1), "reported after {took:?}");
    let notice = session.controller.notice().unwrap().to_string();
    assert!(notice.contains("true or false"), "{notice}");
    // The screen keeps the last good state.
    assert_eq!(
        session.controller.engine().progress().live.as_ref(),
        Some(&good)
    );

    // A rollback now cannot be written: retried loudly, the file left exactly as it is.
    session
        .controller
        .command(Op::Rollback, Some("critical bug".into()))
        .unwrap();
    pump(
        &mut session,
        "two failed attempts",
        Duration::from_secs(5),
        |s| journal_text(s).contains("attempt 2"),
    )
    .await;
    assert!(matches!(
        session.controller.engine().phase(),
        Phase::RollingBack { .. }
    ));
    assert_eq!(read(&flags), broken);
    assert!(
        journal_text(&session).contains("flags.yaml:4:14"),
        "{}",
        journal_text(&session)
    );

    // Fixed by hand: the rollback lands and is confirmed.
    edit_by_hand(&flags, "    enabled: maybe", "    enabled: true");
    pump(
        &mut session,
        "the rollback confirmed",
        Duration::from_secs(10),
        |s| matches!(s.controller.engine().phase(), Phase::RolledBack { .. }),
    )
    .await;
    let after = read(&flags);
    assert!(after.contains("    enabled: false\n"), "{after}");
    assert!(
        after.contains("enable_rate_limiting: {enabled: true"),
        "{after}"
    );
    session.controller.settle().await;
}

#[tokio::test]
async fn an_outside_edit_racing_shipdecks_own_write_is_never_written_over() {
    // The hand edit lands just before, during and just after shipdeck writes 25%.
    for delay_ms in [0u64, 2, 5, 20, 60] {
        let (dir, plan, flags) = release();
        let mut session = started(&plan, dir.path()).await;
        let path = flags.clone();
        let hand = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(delay_ms));
            edit_by_hand(&path, "rollout: 0.05", "rollout: 0.8");
        });
        session
            .controller
            .command(Op::SetPercent { percent: 25 }, None)
            .unwrap();
        hand.join().unwrap();
        pump(
            &mut session,
            "the outside pause",
            Duration::from_secs(5),
            |s| {
                matches!(
                    s.controller.engine().phase(),
                    Phase::Paused {
                        by: PauseCause::Outside,
                        ..
                    }
                )
            },
        )
        .await;
        // Give shipdeck every chance to (wrongly) write again.
        let settle = tokio::time::Instant::now() + Duration::from_millis(700);
        while let Ok(Some(m)) = tokio::time::timeout_at(settle, session.messages.recv()).await {
            session.controller.handle(m);
        }
        let text = read(&flags);
        assert!(
            text.contains("rollout: 0.8\n"),
            "delay {delay_ms}ms: the hand edit was written over:\n{text}\n{}",
            journal_text(&session)
        );
        let live = session.controller.engine().progress().live.clone().unwrap();
        assert_eq!(live.percent(), 80, "delay {delay_ms}ms");
        session.controller.settle().await;
    }
}

#[tokio::test]
async fn the_watcher_tells_outside_edits_from_shipdecks_own_writes() {
    let (_dir, _plan, flags) = release();
    let mut backend = FileBackend::new(flags.clone(), "new_checkout".into(), FlagKind::Release);
    backend.read().await.unwrap();
    let mut watch = FileWatch::start(backend.watched_file().unwrap()).unwrap();

    // shipdeck's own write wakes the watcher, and the backend knows it was its own.
    let desired = DesiredFlag {
        enabled: true,
        percent: 5,
        groups: vec![],
    };
    backend.write(&desired).await.unwrap();
    let woke = tokio::time::timeout(Duration::from_secs(1), watch.changed()).await;
    assert_eq!(woke, Ok(true));
    assert!(!backend.changed_outside().unwrap());

    // An outside edit wakes it within a second, and is one.
    let start = Instant::now();
    edit_by_hand(&flags, "rollout: 0.05", "rollout: 0.3");
    let woke = tokio::time::timeout(Duration::from_secs(1), watch.changed()).await;
    assert_eq!(woke, Ok(true), "no wake-up within a second");
    assert!(start.elapsed() < Duration::from_secs(1));
    assert!(backend.changed_outside().unwrap());
    assert_eq!(backend.read().await.unwrap().unwrap().percent(), 30);
}
