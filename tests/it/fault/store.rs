//! The store cannot be written (a full disk, a state directory turned read-only): no
//! guardrail stops. The engine judges on from memory and the writes are retried; a
//! rollback still reaches the flag, and headless exits 1 only once the rollout is safe
//! (rolled back or completed) with the store still failing. A store that heals loses
//! nothing: the run goes on and every step is recorded in order.

use std::time::Duration;

use super::common::*;

const STEPS: [&str; 5] = ["Internal", "Beta", "Gradual 25%", "Gradual 50%", "Full"];

#[test]
fn a_full_disk_never_stops_the_rollback() {
    // The journal fills up in the middle of the guardrail's pause, two minutes of engine
    // time before the rollback rule trips: nothing after the pause can be recorded.
    let limit = middle_of_first("incident", |e| e.action == "pause");
    let (_dir, plan) = release("incident");
    let Some(out) = run_with_file_size_limit(limit, &plan, "3000") else {
        return;
    };
    let (code, stdout, stderr) = output(out);
    // Rolled back, and ended 1 because the store still cannot be written.
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stderr.contains("rolled back") && stderr.contains("cannot record"),
        "says it rolled back and what failed: {stderr}"
    );
    assert!(stderr.contains("journal.jsonl"), "names the file: {stderr}");
    let flags = plan.parent().unwrap().join("flags.yaml");
    assert!(!flag_in(&flags).0, "the rollback reached the flag");
    assert!(
        std::fs::read(state_dir(&plan).join("journal.jsonl"))
            .unwrap()
            .len() as u64
            <= limit
    );
}

#[test]
fn a_store_that_heals_loses_nothing_and_the_run_goes_on() {
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
    // A live rollout is not safe: the run keeps guarding while the store fails.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        run_.exited(),
        None,
        "it gave up on a live rollout: {}",
        run_.stderr()
    );
    blocked.undo();
    let code = run_.wait(Duration::from_secs(120));
    assert_eq!(
        code,
        0,
        "stdout:\n{}\nstderr:\n{}",
        run_.stdout(),
        run_.stderr()
    );
    let journal = raw_journal(&plan);
    assert!(journal.torn_last.is_none());
    assert_eq!(
        last_decision(&journal).map(|e| e.action.as_str()),
        Some("completed")
    );
    let promoted: Vec<usize> = journal
        .entries
        .iter()
        .filter_map(|e| promoted_to(e, &STEPS))
        .collect();
    assert_eq!(promoted, [0, 1, 2, 3, 4], "a promote was lost or doubled");
    let flags = plan.parent().unwrap().join("flags.yaml");
    assert_eq!(flag_in(&flags), (true, 1.0));
}
