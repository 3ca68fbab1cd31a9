//! SIGKILL at seeded random points of a headless run: every restart resumes where the
//! last one left off, `state.json` always parses, and the journal never holds a torn line
//! except possibly the last, which is reported and set aside.

use std::path::Path;
use std::time::Duration;

use super::common::*;
use shipdeck::engine::Progress;

const STEPS: [&str; 5] = ["Internal", "Beta", "Gradual 25%", "Gradual 50%", "Full"];
/// The healthy fixture bakes 5 × 1h and watches 2h: about 13 s at this speed, so ten
/// kills land all over the rollout and the run is still unfinished after most of them.
const SPEED: &str = "2000";

/// How far a release has got, comparable across restarts: phase, step, bake served.
fn progress_rank(status: &serde_json::Value) -> (u32, u64, u64) {
    let p = &status["progress"];
    let step = p["phase"]["step"].as_u64().unwrap_or(0);
    let served = p["served_ms"].as_u64().unwrap_or(0);
    match phase(status).as_str() {
        "none" => (0, 0, 0),
        "ready" => (1, 0, 0),
        "baking" | "awaiting_approval" | "paused" => (2, step, served),
        "watching" => (3, 0, served),
        "completed" => (4, 0, 0),
        other => panic!("a healthy release must never be {other}: {status:#}"),
    }
}

/// `state.json` exists only as a whole `Progress`; a crash never leaves half of one.
fn assert_state_parses(plan: &Path) {
    let path = state_dir(plan).join("state.json");
    if let Ok(bytes) = std::fs::read(&path)
        && let Err(e) = serde_json::from_slice::<Progress>(&bytes)
    {
        panic!(
            "state.json does not parse after a kill: {e}\n{}",
            String::from_utf8_lossy(&bytes)
        );
    }
}

/// Steps are entered in order: a restart never goes back to an earlier step. (A kill
/// between the journal append and the state save may repeat the same step's entry.)
fn assert_steps_never_go_back(journal: &RawJournal) {
    let entered: Vec<usize> = journal
        .entries
        .iter()
        .filter_map(|e| promoted_to(e, &STEPS))
        .collect();
    assert!(
        entered.windows(2).all(|w| w[0] <= w[1]),
        "steps entered out of order across restarts: {entered:?}"
    );
}

/// A crash in the middle of an append: the first half of the last line, no newline. A
/// SIGKILL cannot tear one small `write(2)` to a regular file, so this is made by hand.
fn tear_the_last_line(plan: &Path) {
    let path = state_dir(plan).join("journal.jsonl");
    let bytes = std::fs::read(&path).unwrap();
    let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    let start = body.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let half = &body[start..start + (body.len() - start) / 2];
    let mut torn = bytes.clone();
    torn.extend_from_slice(half);
    std::fs::write(&path, torn).unwrap();
}

#[test]
fn sigkill_at_seeded_random_points_never_loses_the_release() {
    let (dir, plan) = release("healthy");
    let plan_arg = plan.to_str().unwrap();
    let flags = dir.path().join("flags.yaml");
    let mut rng = Seeded::from_env(0x5eed_0007);
    let tear_in_round = rng.between(2, 8);
    let mut best = (0, 0, 0);
    let mut tore = false;
    let mut finished = false;

    for round in 0..10 {
        let mut child = Running::spawn(cmd(&["run", plan_arg, "--headless", "--speed", SPEED]));
        let delay = Duration::from_millis(rng.between(30, 2000));
        std::thread::sleep(delay);
        if let Some(code) = child.exited() {
            assert_eq!(
                code,
                0,
                "round {round}: the restarted run failed\nstdout:\n{}\nstderr:\n{}",
                child.stdout(),
                child.stderr()
            );
            finished = true;
        }
        child.kill();

        assert_state_parses(&plan);
        let journal = raw_journal(&plan);
        assert_steps_never_go_back(&journal);
        assert!(
            shipdeck::flags::read_file_flag(&flags, "new_checkout").is_ok(),
            "round {round}: the flag file does not read after a kill"
        );
        let status = status_json(&plan);
        let rank = progress_rank(&status);
        assert!(
            rank >= best,
            "round {round} (killed after {delay:?}): progress went back from {best:?} to {rank:?}"
        );
        best = rank;
        eprintln!(
            "round {round}: killed after {delay:?} at {} {rank:?}",
            phase(&status)
        );

        if round == tear_in_round && journal.torn_last.is_none() && !journal.entries.is_empty() {
            tear_the_last_line(&plan);
            tore = true;
        }
        if let Some(torn) = raw_journal(&plan).torn_last {
            let (code, _, stderr) = run(&["journal", plan_arg]);
            assert_eq!(
                code, 0,
                "a torn last line must not make the journal unreadable"
            );
            assert!(
                stderr.contains("torn") && stderr.contains(&torn),
                "the torn line is reported: {stderr}"
            );
        }
        if finished {
            break;
        }
    }

    let mut last = Running::spawn(cmd(&["run", plan_arg, "--headless", "--speed", SPEED]));
    let code = last.wait(Duration::from_secs(90));
    assert_eq!(
        code,
        0,
        "stdout:\n{}\nstderr:\n{}",
        last.stdout(),
        last.stderr()
    );
    assert_eq!(flag_in(&flags), (true, 1.0));
    let journal = raw_journal(&plan);
    assert!(
        journal.torn_last.is_none(),
        "the finished run left a torn line"
    );
    assert_steps_never_go_back(&journal);
    assert_eq!(
        last_decision(&journal).map(|e| e.action.as_str()),
        Some("completed")
    );
    if tore {
        assert!(
            journal
                .entries
                .iter()
                .any(|e| e.action == "journal" && e.reason.contains("torn by a crash")),
            "the restart reports the torn line in the journal"
        );
    }
    let leftovers: Vec<String> = std::fs::read_dir(state_dir(&plan))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "half-written files left: {leftovers:?}"
    );
}

#[test]
fn a_clock_absurdly_slow_or_fast_never_crashes_the_run() {
    let (_dir, plan) = release("healthy");
    let plan_arg = plan.to_str().unwrap();
    // Far below any useful speed: the next poll is further off than a Duration holds.
    let mut slow = Running::spawn(cmd(&["run", plan_arg, "--headless", "--speed", "1e-30"]));
    wait_for("the slow run to start", Duration::from_secs(20), || {
        phase(&status_json(&plan)) == "baking"
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(slow.exited(), None, "stderr:\n{}", slow.stderr());
    assert!(!slow.stderr().contains("panicked"), "{}", slow.stderr());
    slow.kill();

    // Far above: the engine clock would leave chrono's range, so it is refused, saying
    // how fast it may go; the fastest allowed runs without a crash.
    let refused = cmd(&["run", plan_arg, "--headless", "--speed", "1e300"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{said}");
    assert!(said.contains("at most 1000000"), "{said}");
    let mut fast = Running::spawn(cmd(&["run", plan_arg, "--headless", "--speed", "1e6"]));
    wait_for("the fast run to start", Duration::from_secs(20), || {
        status_json(&plan)["progress"]["started_at"].is_string()
    });
    std::thread::sleep(Duration::from_secs(3));
    assert!(!fast.stderr().contains("panicked"), "{}", fast.stderr());
    assert!(
        matches!(fast.exited(), None | Some(0)),
        "stdout:\n{}\nstderr:\n{}",
        fast.stdout(),
        fast.stderr()
    );
    fast.kill();
}
