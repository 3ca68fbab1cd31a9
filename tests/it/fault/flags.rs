//! The flag backend refuses writes in the middle of a rollback: the release holds in
//! RollingBack (nothing is "rolled back" until the backend confirms), every attempt is
//! journaled, retries back off, and the rollback lands as soon as the file is writable.
//! `shipdeck rollback` says so and exits 4 until the flag reads back off, through a
//! holder or acting alone.
//!
//! What blocks the write: as root (which ignores mode bits) the flag file's folder is
//! marked immutable with `chattr +i`, so creating the temporary file of the atomic write
//! fails with EPERM; as any other user the folder loses its write bits.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::common::*;
use shipdeck::engine::journal::Entry;

/// The write failures journaled so far: `(attempt, entry)`.
fn failed_attempts(plan: &Path) -> Vec<(u32, Entry)> {
    raw_journal(plan)
        .entries
        .into_iter()
        .filter(|e| e.action == "flag")
        .filter_map(|e| {
            let n = e
                .reason
                .strip_prefix("write failed (attempt ")?
                .split(')')
                .next()?
                .parse()
                .ok()?;
            Some((n, e))
        })
        .collect()
}

/// The healthy fixture with its flag file moved into `flagdir/`, a folder the test can
/// make unwritable: `(dir, plan, flagdir, flag file)`.
fn release_with_flag_folder() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let (dir, plan) = release("healthy");
    let folder = dir.path().join("flagdir");
    std::fs::create_dir(&folder).unwrap();
    std::fs::rename(dir.path().join("flags.yaml"), folder.join("flags.yaml")).unwrap();
    let text = std::fs::read_to_string(&plan).unwrap();
    std::fs::write(
        &plan,
        text.replace("path: flags.yaml", "path: flagdir/flags.yaml"),
    )
    .unwrap();
    let flags = folder.join("flags.yaml");
    (dir, plan, folder, flags)
}

/// A headless run held by alice, its first step's flag write confirmed.
fn held_by_alice(plan: &Path) -> Running {
    let holder = Running::spawn(cmd(&[
        "run",
        plan.to_str().unwrap(),
        "--headless",
        "--operator",
        "alice",
    ]));
    wait_for(
        "the first step's flag write to be confirmed",
        Duration::from_secs(30),
        || {
            raw_journal(plan)
                .entries
                .iter()
                .any(|e| e.reason.starts_with("confirmed: on 0%"))
        },
    );
    holder
}

#[test]
fn a_rollback_into_an_unwritable_flag_file_is_held_retried_and_lands_later() {
    let (_dir, plan, folder, flags) = release_with_flag_folder();
    let plan_arg = plan.to_str().unwrap();

    let mut holder = held_by_alice(&plan);
    let before = std::fs::read(&flags).unwrap();
    let Some(mut blocked) = Unwritable::make(&folder) else {
        return;
    };

    // The holder took the command, but the flag is not off: the command says so and
    // exits 4 (a human is needed), never 0.
    let (code, stdout, stderr) = run(&[
        "rollback",
        plan_arg,
        "--reason",
        "bad data",
        "--operator",
        "bob",
    ]);
    assert_eq!(code, 4, "{stdout}{stderr}");
    assert!(
        stderr.contains("rollback requested; the flag is not yet confirmed off (")
            && stderr.contains("flagdir"),
        "says what is true, and why: {stdout}{stderr}"
    );
    assert!(
        stderr.contains("alice"),
        "names the holder that keeps retrying: {stderr}"
    );
    // Asked again meanwhile: the same rollback, still not confirmed (not a refusal).
    let (code, stdout, stderr) = run(&["rollback", plan_arg, "--wait", "1s"]);
    assert_eq!(code, 4, "{stdout}{stderr}");
    assert!(
        stderr.contains("rollback requested; the flag is not yet confirmed off ("),
        "{stderr}"
    );

    wait_for(
        "five journaled write attempts",
        Duration::from_secs(20),
        || failed_attempts(&plan).len() >= 5,
    );
    let status = status_json(&plan);
    assert_eq!(
        phase(&status),
        "rolling_back",
        "held until the backend confirms ({}): {status:#}",
        blocked.how()
    );
    assert!(status["progress"]["flag_failures"].as_u64().unwrap_or(0) >= 5);
    assert_eq!(
        std::fs::read(&flags).unwrap(),
        before,
        "the refused file is untouched"
    );
    assert_eq!(holder.exited(), None, "the holder keeps retrying");

    let attempts = failed_attempts(&plan);
    let numbers: Vec<u32> = attempts.iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, (1..=numbers.len() as u32).collect::<Vec<_>>());
    assert!(
        attempts[0].1.reason.contains("flagdir"),
        "the failure names where: {}",
        attempts[0].1.reason
    );
    // Backoff: each wait at least as long as the one before (200 ms doubling, at real
    // speed), never a hot loop.
    let gaps: Vec<i64> = attempts
        .windows(2)
        .map(|w| (w[1].1.at - w[0].1.at).num_milliseconds())
        .collect();
    assert!(
        gaps.windows(2).all(|g| g[1] + 50 >= g[0]) && gaps[gaps.len() - 1] >= 1_000,
        "retries back off: gaps {gaps:?} ms"
    );
    assert!(
        holder.stdout().contains("write failed (attempt 3)"),
        "the holder says so loudly:\n{}",
        holder.stdout()
    );

    blocked.undo();
    let unblocked = Instant::now();
    let code = holder.wait(Duration::from_secs(30));
    assert_eq!(
        code,
        3,
        "rolled back once writable\nstdout:\n{}\nstderr:\n{}",
        holder.stdout(),
        holder.stderr()
    );
    assert!(
        unblocked.elapsed() < Duration::from_secs(8),
        "the next retry comes within the 5 s backoff cap: {:?}",
        unblocked.elapsed()
    );
    assert_eq!(flag_in(&flags), (false, 0.0));
    let journal = raw_journal(&plan).entries;
    let rollback = journal.iter().position(|e| e.action == "rollback").unwrap();
    assert_eq!(journal[rollback].operator, journaled_as("bob"));
    assert!(journal[rollback].reason.contains("bad data"));
    let done = journal
        .iter()
        .position(|e| e.action == "rolled back")
        .unwrap_or_else(|| panic!("no confirmation journaled: {journal:#?}"));
    let last_failure = journal
        .iter()
        .rposition(|e| e.reason.starts_with("write failed"))
        .unwrap();
    assert!(rollback < last_failure && last_failure < done);
}

#[test]
fn a_rollback_with_nobody_holding_exits_4_until_the_flag_reads_back_off() {
    let (_dir, plan, folder, flags) = release_with_flag_folder();
    let plan_arg = plan.to_str().unwrap();
    let mut holder = held_by_alice(&plan);
    holder.kill();
    let before = std::fs::read(&flags).unwrap();
    let Some(mut blocked) = Unwritable::make(&folder) else {
        return;
    };

    let (code, stdout, stderr) = run(&[
        "rollback",
        plan_arg,
        "--reason",
        "bad data",
        "--operator",
        "bob",
    ]);
    assert_eq!(
        code,
        4,
        "not confirmed within its wait ({}): {stdout}{stderr}",
        blocked.how()
    );
    assert!(
        stderr.contains("rollback requested; the flag is not yet confirmed off (")
            && stderr.contains("flagdir"),
        "says what is true, and why: {stdout}{stderr}"
    );
    assert!(
        !stdout.contains("rolled back"),
        "claims no success: {stdout}"
    );
    assert_eq!(
        std::fs::read(&flags).unwrap(),
        before,
        "the flag is still on"
    );
    assert_eq!(phase(&status_json(&plan)), "rolling_back");

    // Writable again: asking again carries the rollback through, and only the read-back
    // makes it a success.
    blocked.undo();
    let (code, stdout, stderr) = run(&["rollback", plan_arg, "--operator", "bob"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("confirmed off"), "{stdout}");
    assert_eq!(flag_in(&flags), (false, 0.0));
    assert_eq!(phase(&status_json(&plan)), "rolled_back");
}

/// The flag file without the flag `new_checkout`: its whole block taken out, the other
/// flags left as they were.
fn without_new_checkout(text: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        if line.trim_start().starts_with("new_checkout:") {
            inside = true;
            continue;
        }
        if inside && line.starts_with("    ") {
            continue;
        }
        inside = false;
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Someone deletes the flag from the flag file in the middle of a bake. That is a change
/// made outside shipdeck: the rollout pauses for a person (exit 4 headless), the journal
/// says the flag is gone, no bake completes on it and nothing puts the flag back. The
/// operator's explicit resume writes it again at the step's percent.
#[test]
fn a_flag_deleted_during_a_run_pauses_the_rollout_and_is_not_recreated() {
    let (dir, plan) = release("healthy");
    let flags = dir.path().join("flags.yaml");
    let plan_arg = plan.to_str().unwrap();
    let mut holder = Running::spawn(cmd(&["run", plan_arg, "--headless", "--speed", "600"]));
    wait_for(
        "the Beta step's flag write to be confirmed",
        Duration::from_secs(60),
        || {
            raw_journal(&plan)
                .entries
                .iter()
                .any(|e| e.reason.starts_with("confirmed: on 5%"))
        },
    );
    let text = std::fs::read_to_string(&flags).unwrap();
    std::fs::write(&flags, without_new_checkout(&text)).unwrap();
    let left = shipdeck::flags::list_flags(&flags).unwrap();
    assert_eq!(left.len(), 1, "only the other flag is left: {left:?}");

    let code = holder.wait(Duration::from_secs(30));
    assert_eq!(
        code,
        4,
        "a person must decide\nstdout:\n{}\nstderr:\n{}",
        holder.stdout(),
        holder.stderr()
    );
    let journal = raw_journal(&plan).entries;
    let found = journal
        .iter()
        .position(|e| e.kind == shipdeck::engine::journal::Kind::Outside)
        .unwrap_or_else(|| panic!("no outside entry: {journal:#?}"));
    assert!(
        journal[found].reason.contains("new_checkout") && journal[found].reason.contains("gone"),
        "says what was found: {}",
        journal[found].reason
    );
    assert!(
        !journal[found..]
            .iter()
            .any(|e| e.action == "bake complete" || e.action == "promote"),
        "nothing baked on a missing flag: {:#?}",
        &journal[found..]
    );
    assert_eq!(
        shipdeck::flags::read_file_flag(&flags, "new_checkout").unwrap(),
        None,
        "the flag was put back without a word"
    );
    let status = status_json(&plan);
    assert_eq!(phase(&status), "paused", "{status:#}");

    // The operator's explicit resume re-creates it at the step's percent, journaled.
    let (code, stdout, stderr) = run(&["resume", plan_arg, "--operator", "bob"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(flag_in(&flags), (true, 0.05));
    let journal = raw_journal(&plan).entries;
    let resumed = journal
        .iter()
        .rposition(|e| e.action == "resume")
        .expect("the resume is journaled");
    assert!(
        journal[resumed..]
            .iter()
            .any(|e| e.reason.contains("re-creat") && e.reason.contains("5%")),
        "the re-creation is journaled: {:#?}",
        &journal[resumed..]
    );
}
