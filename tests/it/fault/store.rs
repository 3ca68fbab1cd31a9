//! The journal cannot be written (a full disk, a state directory turned read-only): the
//! engine stops advancing rather than act without a record. Headless exits 1 and says
//! what and where; no flag change goes out that the journal does not hold; the next run,
//! with the disk fixed, picks the release up and finishes it.

use std::path::Path;
use std::time::{Duration, Instant};

use super::common::*;

const STEPS: [&str; 5] = ["Internal", "Beta", "Gradual 25%", "Gradual 50%", "Full"];
const PERCENTS: [f64; 5] = [0.0, 0.05, 0.25, 0.5, 1.0];

/// The flag holds what the last whole `promote` in the journal asked for: no write went
/// out for a decision the journal does not hold.
fn assert_flag_matches_the_journal(plan: &Path) -> usize {
    let journal = raw_journal(plan);
    let last = journal
        .entries
        .iter()
        .filter_map(|e| promoted_to(e, &STEPS))
        .next_back()
        .expect("at least the first step was journaled");
    let flags = plan.parent().unwrap().join("flags.yaml");
    assert_eq!(
        flag_in(&flags),
        (true, PERCENTS[last]),
        "the flag must be what the journal last recorded ({}); torn last line: {:?}",
        STEPS[last],
        journal.torn_last
    );
    last
}

/// With the fault gone, the next run resumes (reporting a torn last line if the fault
/// left one) and completes with every journal line whole.
fn assert_next_run_completes(plan: &Path, torn: bool) {
    let (code, stdout, stderr) = run(&[
        "run",
        plan.to_str().unwrap(),
        "--headless",
        "--speed",
        "50000",
    ]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let journal = raw_journal(plan);
    assert!(journal.torn_last.is_none());
    assert_eq!(
        journal.entries.last().map(|e| e.action.as_str()),
        Some("completed")
    );
    if torn {
        assert!(
            journal
                .entries
                .iter()
                .any(|e| e.action == "journal" && e.reason.contains("torn by a crash")),
            "the torn line is reported on restart"
        );
    }
    let flags = plan.parent().unwrap().join("flags.yaml");
    assert_eq!(flag_in(&flags), (true, 1.0));
}

#[test]
fn a_full_disk_halts_the_run_with_the_flag_where_the_journal_says() {
    // The journal fills up in the middle of the promote to 50%; state.json and the flag
    // file stay far below the cap.
    let limit = middle_of_promote(&STEPS, 3);
    let (_dir, plan) = release("healthy");
    let Some(out) = run_with_file_size_limit(limit, &plan, "3000") else {
        return;
    };
    let (code, stdout, stderr) = output(out);
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stderr.contains("cannot be written") && stderr.contains("journal.jsonl"),
        "says what and where: {stderr}"
    );
    let journal = raw_journal(&plan);
    let torn = journal
        .torn_last
        .clone()
        .expect("the full disk cut the last line short");
    assert!(torn.contains("Gradual 50%"), "{torn}");
    assert_eq!(assert_flag_matches_the_journal(&plan), 2, "held at 25%");
    assert!(
        std::fs::read(state_dir(&plan).join("journal.jsonl"))
            .unwrap()
            .len() as u64
            <= limit
    );
    assert_next_run_completes(&plan, true);
}

#[test]
fn a_state_directory_turned_read_only_mid_run_halts_it() {
    let (_dir, plan) = release("healthy");
    let plan_arg = plan.to_str().unwrap();
    let mut run_ = Running::spawn(cmd(&["run", plan_arg, "--headless", "--speed", "600"]));
    wait_for("the rollout to reach Beta", Duration::from_secs(60), || {
        let s = status_json(&plan);
        s["progress"]["phase"]["step"].as_u64().unwrap_or(0) >= 1
    });
    let Some(mut blocked) = Unwritable::make(&state_dir(&plan)) else {
        return;
    };
    let since = Instant::now();
    let code = run_.wait(Duration::from_secs(20));
    assert_eq!(
        code,
        1,
        "stdout:\n{}\nstderr:\n{}",
        run_.stdout(),
        run_.stderr()
    );
    assert!(
        since.elapsed() < Duration::from_secs(5),
        "the run stops within a save interval or two, not at the end: {:?}",
        since.elapsed()
    );
    let stderr = run_.stderr();
    assert!(
        stderr.contains("cannot be written") && stderr.contains(".shipdeck"),
        "says what and where ({}): {stderr}",
        blocked.how()
    );
    let step = assert_flag_matches_the_journal(&plan);
    assert!(
        (1..4).contains(&step),
        "it stopped mid-rollout: {}",
        STEPS[step]
    );
    let saved: shipdeck::engine::Progress =
        serde_json::from_slice(&std::fs::read(state_dir(&plan).join("state.json")).unwrap())
            .unwrap();
    assert!(!matches!(saved.phase, shipdeck::engine::Phase::Completed));

    blocked.undo();
    assert_next_run_completes(&plan, false);
}
