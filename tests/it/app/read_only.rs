//! Commands that only read (`status`, `journal`) write nothing: no state directory made
//! where there was none, no file created, removed or touched in one that exists, and they
//! work where they cannot write. A torn journal line is reported once, not twice.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::fault::common::{raw_journal, state_dir};
use crate::support::accounts::{NOBODY, euid};
use crate::support::cli::{cmd, output, release, run};

/// Every way to read a release without acting on it.
const READERS: [&[&str]; 4] = [
    &["status"],
    &["status", "--json"],
    &["journal"],
    &["journal", "--markdown"],
];

fn read_with(plan: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all = vec![args[0], plan.to_str().unwrap()];
    all.extend(&args[1..]);
    run(&all)
}

/// A release that has run once: a state, a journal, a lock.
fn used_release() -> (tempfile::TempDir, PathBuf) {
    let (dir, plan) = release("healthy");
    let (code, _, stderr) = run(&["run", plan.to_str().unwrap(), "--headless", "--once"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(state_dir(&plan).join("state.json").exists());
    (dir, plan)
}

/// Name, length and modification time of everything in `dir`, and of `dir` itself (whose
/// time moves when an entry is created or removed, even one removed again at once).
fn snapshot(dir: &Path) -> Vec<(String, u64, SystemTime)> {
    let mut all = vec![(
        ".".to_string(),
        0,
        fs::metadata(dir).unwrap().modified().unwrap(),
    )];
    for sub in [dir.to_path_buf(), dir.join("inbox")] {
        for e in fs::read_dir(&sub).unwrap() {
            let e = e.unwrap();
            let m = fs::symlink_metadata(e.path()).unwrap();
            all.push((
                e.path().display().to_string(),
                m.len(),
                m.modified().unwrap(),
            ));
        }
    }
    all.sort();
    all
}

/// Sets the modification time of `dir` an hour back, so a change shows even within the
/// file system's time resolution.
fn age(dir: &Path) {
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    for path in [dir.to_path_buf(), dir.join("inbox")] {
        fs::File::open(&path)
            .unwrap()
            .set_modified(hour_ago)
            .unwrap();
    }
}

#[test]
fn reading_a_release_never_started_makes_no_state_dir() {
    let (_dir, plan) = release("healthy");
    for args in READERS {
        let (code, stdout, stderr) = read_with(&plan, args);
        assert_eq!(code, 0, "{args:?}: {stdout}{stderr}");
        assert!(
            !state_dir(&plan).exists(),
            "{args:?} created {}",
            state_dir(&plan).display()
        );
    }
}

#[test]
fn reading_a_release_touches_nothing_in_its_state_dir() {
    let (_dir, plan) = used_release();
    let dir = state_dir(&plan);
    age(&dir);
    let before = snapshot(&dir);
    for args in READERS {
        let (code, stdout, stderr) = read_with(&plan, args);
        assert_eq!(code, 0, "{args:?}: {stdout}{stderr}");
        assert_eq!(
            snapshot(&dir),
            before,
            "{args:?} changed the state directory"
        );
    }
}

/// A state directory this user may read but not write: as root, root's directory read by
/// `nobody`; otherwise the user's own, made read-only.
#[test]
fn reading_works_in_a_state_dir_that_cannot_be_written() {
    let (tmp, plan) = used_release();
    let dir = state_dir(&plan);
    let as_nobody = euid() == Some(0);
    if as_nobody {
        // Root's files, readable by everyone and writable by root alone: trusted.
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
        for path in [&dir, &dir.join("inbox")] {
            fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
        }
        for e in fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_file() {
                fs::set_permissions(e.path(), fs::Permissions::from_mode(0o644)).unwrap();
            }
        }
    } else {
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o555)).unwrap();
    }
    for args in READERS {
        let mut all = vec![args[0], plan.to_str().unwrap()];
        all.extend(&args[1..]);
        let mut command = cmd(&all);
        if as_nobody {
            command.uid(NOBODY).gid(NOBODY);
        }
        let (code, stdout, stderr) = output(command.output().unwrap());
        assert_eq!(code, 0, "{args:?}: {stdout}{stderr}");
        assert!(!stdout.is_empty(), "{args:?}");
    }
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
}

#[test]
fn reading_refuses_a_state_dir_others_can_write() {
    let (_dir, plan) = used_release();
    let dir = state_dir(&plan);
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    let (code, stdout, stderr) = read_with(&plan, &["status"]);
    assert_ne!(code, 0, "{stdout}");
    assert!(stderr.contains("chmod go-w"), "{stderr}");
}

#[test]
fn a_torn_journal_line_is_journaled_once() {
    let (_dir, plan) = used_release();
    let journal = state_dir(&plan).join("journal.jsonl");
    let torn = "{\"at\":\"2024-05-01T14:0";
    let mut bytes = fs::read(&journal).unwrap();
    bytes.extend_from_slice(torn.as_bytes());
    fs::write(&journal, bytes).unwrap();

    let (code, _, stderr) = run(&["run", plan.to_str().unwrap(), "--headless", "--once"]);
    assert_eq!(code, 0, "{stderr}");
    let mentions: Vec<_> = raw_journal(&plan)
        .entries
        .into_iter()
        .filter(|e| e.reason.contains(torn))
        .collect();
    assert_eq!(mentions.len(), 1, "{mentions:#?}");
    assert_eq!(mentions[0].action, "journal");
    assert!(
        mentions[0].reason.contains("torn by a crash"),
        "{mentions:?}"
    );
}
