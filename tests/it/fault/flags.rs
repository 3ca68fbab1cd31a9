//! The flag backend refuses writes in the middle of a rollback: the release holds in
//! RollingBack (nothing is "rolled back" until the backend confirms), every attempt is
//! journaled, retries back off, and the rollback lands as soon as the file is writable.
//!
//! What blocks the write: as root (which ignores mode bits) the flag file's folder is
//! marked immutable with `chattr +i`, so creating the temporary file of the atomic write
//! fails with EPERM; as any other user the folder loses its write bits.

use std::path::Path;
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

#[test]
fn a_rollback_into_an_unwritable_flag_file_is_held_retried_and_lands_later() {
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
    let plan_arg = plan.to_str().unwrap();

    let mut holder = Running::spawn(cmd(&["run", plan_arg, "--headless", "--operator", "alice"]));
    wait_for(
        "the first step's flag write to be confirmed",
        Duration::from_secs(30),
        || {
            raw_journal(&plan)
                .entries
                .iter()
                .any(|e| e.reason.starts_with("confirmed: on 0%"))
        },
    );
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
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("alice"),
        "carried out by the holder: {stdout}"
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
    assert_eq!(journal[rollback].operator, "bob");
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
