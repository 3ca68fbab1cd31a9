//! `shipdeck note [PLAN] TEXT`: a note from any terminal lands in the journal — taken by
//! this process when nobody holds the release, carried by the holder when one does — and
//! the postmortem (`journal --markdown`) lists the notes. Text from outside shows escaped.

use std::time::Duration;

use crate::support::accounts::journaled_as;
use crate::support::cli::{Running, cmd, release, run, status_json, wait_for};

#[test]
fn a_note_with_nobody_holding_the_release_is_journaled_and_in_the_postmortem() {
    let (_dir, plan) = release("healthy");
    let plan = plan.to_str().unwrap();
    let (code, stdout, stderr) = run(&["note", plan, "QA signed off by phone"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(stdout.trim(), "note: QA signed off by phone");

    let (code, journal, _) = run(&["journal", plan]);
    assert_eq!(code, 0);
    assert!(
        journal
            .lines()
            .any(|l| l.contains(" note       QA signed off by phone (tester)")),
        "{journal}"
    );
    let (code, md, _) = run(&["journal", plan, "--markdown"]);
    assert_eq!(code, 0);
    let notes = md
        .split("## Notes from the room\n\n")
        .nth(1)
        .unwrap_or_else(|| panic!("{md}"));
    assert!(
        notes
            .lines()
            .next()
            .is_some_and(|l| l.ends_with(" tester: QA signed off by phone")),
        "{md}"
    );

    let (code, _, stderr) = run(&["note", plan, " "]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("the note is empty"), "{stderr}");
}

#[test]
fn a_note_reaches_the_holder_through_its_inbox_and_replays_from_its_recording() {
    let (dir, plan) = release("healthy");
    let arg = plan.to_str().unwrap();
    let rec = dir.path().join("session.jsonl");
    let mut holder = Running::spawn(cmd(&[
        "run",
        arg,
        "--headless",
        "--operator",
        "alice",
        "--record",
        rec.to_str().unwrap(),
    ]));
    wait_for("the holder", Duration::from_secs(20), || {
        status_json(&plan)["holder"].is_object()
    });
    let (code, stdout, stderr) = run(&["note", arg, "db failover at 14:02", "--operator", "bob"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("note: db failover at 14:02 (carried out by alice"),
        "{stdout}"
    );
    // Stopped as an operator stops it, so the recording ends cleanly.
    let term = std::process::Command::new("kill")
        .args(["-TERM", &holder.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    holder.wait(Duration::from_secs(20));
    let (_, journal, _) = run(&["journal", arg]);
    assert!(
        journal.lines().any(|l| l.contains(" note ")
            && l.contains("db failover at 14:02")
            && l.contains(&format!("({})", journaled_as("bob")))),
        "{journal}"
    );
    // The recording holds the note as a command: a replay journals it again, the same.
    let (code, stdout, stderr) = run(&["replay", rec.to_str().unwrap(), "--headless"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("the same"), "{stderr}");
    assert!(stdout.contains("db failover at 14:02"), "{stdout}");
}

#[test]
fn a_note_cannot_forge_lines_or_drive_the_terminal() {
    let (_dir, plan) = release("healthy");
    let plan = plan.to_str().unwrap();
    let text = "fine\n2026-01-01T00:00:00Z rollback   forged (mallory)\u{1b}]0;owned\u{7}";
    let (code, stdout, stderr) = run(&["note", plan, text]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let escaped = r"fine\n2026-01-01T00:00:00Z rollback   forged (mallory)\u{1b}]0;owned\u{7}";
    assert!(stdout.contains(escaped), "{stdout}");
    for args in [&["journal", plan][..], &["journal", plan, "--markdown"][..]] {
        let (_, out, _) = run(args);
        assert!(out.contains(escaped), "{args:?}: {out}");
        assert!(!out.contains('\u{1b}'), "{args:?}");
        assert!(
            !out.lines().any(|l| l.starts_with("2026-01-01T00:00:00Z")),
            "{out}"
        );
    }
}
