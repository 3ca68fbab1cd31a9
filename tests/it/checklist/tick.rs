//! `shipdeck tick` with the real binary: matching the item (any case, unique prefix,
//! across lists), acting directly when nobody holds the release and through the inbox
//! when a controller does, and refusing what cannot be ticked by hand.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::accounts::journaled_as;
use crate::support::cli::{Running, cmd, run};

const PLAN: &str = r#"
release: {name: tick-test, version: 1.0.0, strategy: canary}
pipeline:
  - {name: PR, status: passed}
  - {name: Prod}
flag:
  name: new_checkout
  backend: {kind: file, path: flags.yaml}
rollout:
  steps:
    - {name: Internal, percent: 0, groups: [internal], bake: 1m, approval: manual}
    - {name: Full, percent: 100, bake: 1m}
metrics:
  source: {kind: simulated, scenario: healthy}
checklists:
  pre_release: []
  release_day:
    - Announce release window to team
    - Monitor error rates for 15 minutes
    - {item: Tests passing, check: {command: [sh, -c, "exit 0"]}}
  post_release:
    - Monitor for 24 hours
"#;

fn release() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plan.yaml"), PLAN).unwrap();
    std::fs::write(
        dir.path().join("flags.yaml"),
        "flags:\n  new_checkout: {enabled: false, rollout: 0.0, userGroups: []}\n",
    )
    .unwrap();
    let plan = dir.path().join("plan.yaml");
    (dir, plan)
}

fn journal(plan: &Path) -> String {
    run(&["journal", plan.to_str().unwrap()]).1
}

#[test]
fn a_unique_prefix_in_any_case_ticks_directly_and_undo_unticks() {
    let (_dir, plan) = release();
    let p = plan.to_str().unwrap();
    let (code, out, err) = run(&["tick", p, "ANNOUNCE", "--reason", "posted in #releases"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out.trim(),
        "tick: Release day: Announce release window to team"
    );
    let j = journal(&plan);
    assert!(
        j.lines().any(|l| l.contains("tick")
            && l.contains("Announce release window")
            && l.ends_with("(tester)")),
        "{j}"
    );

    let (code, out, err) = run(&["tick", p, "announce release window to team", "--undo"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out.trim(),
        "untick: Release day: Announce release window to team"
    );
}

#[test]
fn what_matches_several_items_or_none_is_refused_with_help() {
    let (_dir, plan) = release();
    let p = plan.to_str().unwrap();
    let (code, _, err) = run(&["tick", p, "monitor"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("\"monitor\" matches 2 items"), "{err}");
    assert!(
        err.contains("\"Monitor for 24 hours\" (post-release)"),
        "{err}"
    );
    assert!(err.contains("--list"), "{err}");

    let (code, out, err) = run(&["tick", p, "monitor", "--list", "post-release"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Post-release: Monitor for 24 hours"), "{out}");

    let (code, _, err) = run(&["tick", p, "Anounce release"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("did you mean \"Announce release window to team\" (release day)?"),
        "{err}"
    );
    let (code, _, err) = run(&["tick", p, "x", "--list", "someday"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown checklist `someday`"), "{err}");
    let j = journal(&plan);
    assert_eq!(
        j.lines().filter(|l| l.contains(" tick ")).count(),
        1,
        "only the --list tick acted: {j}"
    );
}

#[test]
fn an_automatic_item_cannot_be_ticked_by_hand() {
    let (_dir, plan) = release();
    let (code, _, err) = run(&["tick", plan.to_str().unwrap(), "tests"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        err.trim(),
        "\"Tests passing\" ticks itself (command `sh -c 'exit 0'`); it cannot be ticked by hand"
    );
}

#[test]
fn with_a_controller_running_the_tick_goes_through_its_inbox() {
    let (_dir, plan) = release();
    let p = plan.to_str().unwrap();
    // The first step waits for approval, so the holder keeps running.
    let mut holder = Running::spawn(cmd(&[
        "run",
        p,
        "--headless",
        "--wait-for-approval",
        "--operator",
        "alice",
    ]));
    let start = Instant::now();
    loop {
        let (_, out, _) = run(&["status", p, "--json"]);
        let s: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
        if s["holder"].is_object() && s["progress"]["phase"]["state"] != "ready" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the holder did not start: {out}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, out, err) = run(&["tick", p, "monitor error", "--operator", "bob"]);
    holder.kill();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Monitor error rates for 15 minutes"), "{out}");
    assert!(out.contains("carried out by alice"), "{out}");
    let j = journal(&plan);
    assert!(
        j.lines().any(|l| l.contains("tick")
            && l.contains("Monitor error rates")
            && l.ends_with(&format!("({})", journaled_as("bob")))),
        "{j}"
    );
}
