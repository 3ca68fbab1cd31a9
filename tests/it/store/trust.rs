//! Who may write the state directory: a directory or state file that group or others can
//! write, or that another user owns, is refused with the command that fixes it; a state
//! file is never opened through a symbolic link someone planted; and a command from the
//! inbox is journaled with the account that wrote it as well as the name it claims.

use chrono::{TimeZone, Utc};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use crate::fault::common::raw_journal;
use crate::support::accounts::{NOBODY, as_root, give, journaled_as};
use crate::support::cli::{Running, cmd, phase, release, run, status_json, wait_for};
use shipdeck::engine::journal::{Entry, Kind};
use shipdeck::store::{FileStore, ReleaseStore};

fn entry(reason: &str) -> Entry {
    Entry {
        at: Utc.timestamp_opt(1_700_000_000, 0).single().unwrap(),
        operator: "alice".into(),
        kind: Kind::Action,
        action: "promote".into(),
        reason: reason.into(),
        step: None,
        values: BTreeMap::new(),
        explain: None,
        canary: None,
        origin: None,
    }
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Opening `dir` fails with a message naming `path` and containing `fix`.
fn refused(dir: &Path, path: &Path, fix: &str) -> String {
    let err = FileStore::open(dir).expect_err("an untrusted state directory was used");
    let text = err.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains(fix), "{text}");
    text
}

/// A release's state directory with a saved journal and state.
fn used_dir() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(".shipdeck");
    let store = FileStore::open(&dir).unwrap();
    store.append(&[entry("one")]).unwrap();
    (tmp, dir)
}

#[test]
fn a_state_dir_others_can_write_is_refused_with_the_chmod_that_fixes_it() {
    for mode in [0o777, 0o770, 0o1777, 0o720] {
        let (_tmp, dir) = used_dir();
        chmod(&dir, mode);
        let text = refused(&dir, &dir, &format!("chmod go-w {}", dir.display()));
        assert!(text.contains(&format!("{mode:04o}")), "{text}");
        chmod(&dir, 0o700);
        FileStore::open(&dir).expect("fixed as the message said");
    }
}

#[test]
fn a_fresh_state_dir_in_a_world_writable_folder_is_private() {
    // The folder holding it may be /tmp-like; the state directory itself is 0700.
    let tmp = tempfile::tempdir().unwrap();
    chmod(tmp.path(), 0o1777);
    let dir = tmp.path().join(".shipdeck");
    FileStore::open(&dir).unwrap();
    assert_eq!(
        fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
}

#[test]
fn a_state_file_or_inbox_others_can_write_is_refused() {
    for name in ["journal.jsonl", "state.json", "lock", "inbox"] {
        let (_tmp, dir) = used_dir();
        let store = FileStore::open(&dir).unwrap();
        if name == "state.json" {
            fs::write(dir.join(name), "{}").unwrap();
        }
        if name == "lock" {
            drop(
                store
                    .acquire(&shipdeck::store::Holder::here("a", "cli"))
                    .unwrap(),
            );
        }
        let path = dir.join(name);
        let mode = if name == "inbox" { 0o733 } else { 0o666 };
        chmod(&path, mode);
        refused(&dir, &path, "chmod go-w");
        if name == "journal.jsonl" {
            // Found after opening, too: nothing is appended to a file others could have
            // rewritten.
            assert!(store.append(&[entry("two")]).is_err(), "{name}");
        }
    }
}

#[test]
fn a_state_dir_or_file_another_user_owns_is_refused_with_the_chown_that_fixes_it() {
    if !as_root("a state directory owned by another user") {
        return;
    }
    let (_tmp, dir) = used_dir();
    give(&dir, NOBODY);
    refused(&dir, &dir, &format!("chown -R root {}", dir.display()));
    give(&dir, 0);
    FileStore::open(&dir).expect("fixed as the message said");

    let journal = dir.join("journal.jsonl");
    let store = FileStore::open(&dir).unwrap();
    give(&journal, NOBODY);
    refused(&dir, &journal, &format!("chown root {}", journal.display()));
    assert!(store.append(&[entry("two")]).is_err());
    give(&journal, 0);
    store.append(&[entry("two")]).unwrap();
}

#[test]
fn a_planted_journal_link_never_truncates_or_writes_its_target() {
    let (tmp, dir) = used_dir();
    let store = FileStore::open(&dir).unwrap();
    // Not JSON and no newline at the end: followed, it would be taken for a torn line and
    // cut off.
    let victim = tmp.path().join("victim");
    fs::write(&victim, "precious, and not a journal").unwrap();
    fs::remove_file(dir.join("journal.jsonl")).unwrap();
    std::os::unix::fs::symlink(&victim, dir.join("journal.jsonl")).unwrap();

    assert!(store.append(&[entry("two")]).is_err());
    assert!(store.journal().is_err());
    assert_eq!(
        fs::read_to_string(&victim).unwrap(),
        "precious, and not a journal"
    );
    let text = refused(&dir, &dir.join("journal.jsonl"), "rm ");
    assert!(text.contains("symbolic link"), "{text}");
}

#[test]
fn a_planted_lock_or_state_link_is_never_written_through() {
    let (tmp, dir) = used_dir();
    let store = FileStore::open(&dir).unwrap();
    let victim = tmp.path().join("victim");
    fs::write(&victim, "precious").unwrap();
    chmod(&victim, 0o600);
    for name in ["lock", "state.json", "holder.json"] {
        std::os::unix::fs::symlink(&victim, dir.join(name)).unwrap();
    }
    assert!(
        store
            .acquire(&shipdeck::store::Holder::here("a", "cli"))
            .is_err()
    );
    assert!(store.load().is_err(), "state.json read through a link");
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(
        fs::metadata(&victim).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

/// A command handed to the holder through the inbox is journaled with the operator it
/// names and, when that is not who wrote it, the account that did.
#[test]
fn a_command_from_another_terminal_is_journaled_with_who_posted_it() {
    let (_dir, plan) = release("healthy");
    let p = plan.to_str().unwrap();
    let mut holder = Running::spawn(cmd(&[
        "run",
        p,
        "--headless",
        "--operator",
        "alice",
        "--speed",
        "600",
    ]));
    wait_for("the rollout to start", Duration::from_secs(30), || {
        phase(&status_json(&plan)) == "baking"
    });
    let (code, stdout, stderr) = run(&["pause", p, "--operator", "mallory"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    holder.kill();

    let pause = raw_journal(&plan)
        .entries
        .into_iter()
        .find(|e| e.action == "pause")
        .expect("the pause is journaled");
    // As root (as CI runs), exactly `mallory, posted by root (uid 0)`.
    assert_eq!(pause.operator, journaled_as("mallory"));
    assert!(pause.operator.starts_with("mallory, posted by "));
}
