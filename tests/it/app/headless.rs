//! The real binary driving a real flag file with no screen: completion, automatic
//! rollback, bad input, crashes and a second controller.

use std::process::Stdio;
use std::time::Duration;

use crate::support::accounts::journaled_as;
use crate::support::cli::{Running, bin, cmd, release, run, status_json, wait_for};

fn flag_block(flags: &str) -> String {
    // The lines of the `new_checkout` flag, for assertions.
    let mut out = String::new();
    let mut inside = false;
    for line in flags.lines() {
        if line.trim_start().starts_with("new_checkout:") {
            inside = true;
        } else if inside && line.starts_with("  ") && !line.starts_with("    ") {
            break;
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Every line of `before` that does not belong to the rolled-out flag is still there.
fn assert_rest_untouched(before: &str, after: &str) {
    let ours = flag_block(before);
    for line in before.lines() {
        if ours.lines().any(|l| l == line) {
            continue;
        }
        assert!(
            after.lines().any(|l| l == line),
            "line lost from the flag file: {line:?}\n--- after ---\n{after}"
        );
    }
}

#[test]
fn a_healthy_release_runs_to_completion_with_the_flag_at_100() {
    let (dir, plan) = release("healthy");
    let before = std::fs::read_to_string(dir.path().join("flags.yaml")).unwrap();
    let (code, stdout, stderr) = run(&[
        "run",
        plan.to_str().unwrap(),
        "--headless",
        "--speed",
        "50000",
    ]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("completed"), "{stderr}");
    let after = std::fs::read_to_string(dir.path().join("flags.yaml")).unwrap();
    let block = flag_block(&after);
    assert!(block.contains("enabled: true"), "{block}");
    assert!(block.contains("rollout: 1"), "{block}");
    assert_rest_untouched(&before, &after);
    assert!(stdout.contains("promote"), "{stdout}");
}

/// A plan that declares no pipeline and no checklists starts and completes: nothing it
/// did not ask for gates it, and `check` says so and how to make them gate.
#[test]
fn a_plan_with_no_pipeline_and_no_checklists_runs_to_completion() {
    let (dir, plan) = release("minimal");
    let arg = plan.to_str().unwrap();
    let (code, stdout, stderr) = run(&["check", arg]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("not tracked: none gates the start (declare `pipeline:` to gate on them)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "suggested, gating nothing: pre-release, release day, post-release, rollback"
        ) && stdout.contains("write them under `checklists:` to make them gate"),
        "{stdout}"
    );
    let (code, stdout, stderr) = run(&["run", arg, "--headless", "--speed", "50000"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("completed"), "{stderr}");
    let flags = std::fs::read_to_string(dir.path().join("flags.yaml")).unwrap();
    assert!(
        flags.contains("enabled: true") && flags.contains("rollout: 1"),
        "{flags}"
    );
    let status = status_json(&plan);
    assert_eq!(
        status["progress"]["phase"]["state"], "completed",
        "{status:#}"
    );
}

#[test]
fn an_incident_rolls_back_by_itself_and_the_journal_says_why() {
    let (dir, plan) = release("incident");
    let before = std::fs::read_to_string(dir.path().join("flags.yaml")).unwrap();
    let (code, stdout, stderr) = run(&[
        "run",
        plan.to_str().unwrap(),
        "--headless",
        "--speed",
        "50000",
        "--json",
    ]);
    assert_eq!(code, 3, "stdout:\n{stdout}\nstderr:\n{stderr}");
    for line in stdout.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not JSON: {line}: {e}"));
    }
    let after = std::fs::read_to_string(dir.path().join("flags.yaml")).unwrap();
    assert!(flag_block(&after).contains("enabled: false"), "{after}");
    assert_rest_untouched(&before, &after);

    let (code, journal, _) = run(&["journal", plan.to_str().unwrap()]);
    assert_eq!(code, 0);
    let trip = journal
        .lines()
        .find(|l| l.contains("guardrail") && l.contains("rollback"))
        .unwrap_or_else(|| panic!("no rollback trip in:\n{journal}"));
    assert!(trip.contains("error_rate"), "{trip}");
    assert!(journal.contains("why: error_rate"), "{journal}");
    assert!(journal.contains("rolled back"), "{journal}");

    let (_, md, _) = run(&["journal", plan.to_str().unwrap(), "--markdown"]);
    assert!(md.contains("## Guardrail trips"), "{md}");
    assert!(md.contains("| time (UTC) |"), "{md}");
}

#[test]
fn a_bad_plan_exits_2_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.yaml");
    std::fs::write(&plan, "release:\n  name: x\n  version: 1\n  strategy: canary\nflag:\n  name: f\n  backend: {kind: file, path: flags.yaml}\nrollout:\n  steps:\n    - {name: A, percent: 120, bake: 1h}\n").unwrap();
    let (code, _, stderr) = run(&["run", plan.to_str().unwrap(), "--headless"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("plan.yaml:10:"), "{stderr}");
    let (code, _, stderr) = run(&["check", plan.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn a_flag_file_that_is_not_yaml_is_a_clear_error_and_is_left_alone() {
    let (dir, plan) = release("healthy");
    let broken = "flags:\n  new_checkout: {enabled: true\n  # unclosed\n";
    std::fs::write(dir.path().join("flags.yaml"), broken).unwrap();
    let (code, _, stderr) = run(&[
        "run",
        plan.to_str().unwrap(),
        "--headless",
        "--speed",
        "50000",
    ]);
    assert_ne!(code, 0);
    assert!(stderr.contains("flags.yaml"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("flags.yaml")).unwrap(),
        broken
    );
}

#[test]
fn a_state_directory_that_cannot_be_written_is_a_clear_error() {
    let (dir, plan) = release("healthy");
    let blocked = dir.path().join("blocked");
    std::fs::write(&blocked, "a file, not a directory").unwrap();
    let state = blocked.join("state");
    let (code, _, stderr) = run(&[
        "run",
        plan.to_str().unwrap(),
        "--headless",
        "--state-dir",
        state.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("state"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&blocked).unwrap(),
        "a file, not a directory"
    );
}

#[test]
fn a_killed_run_resumes_the_same_step_with_its_bake_time_kept() {
    let (_dir, plan) = release("healthy");
    let mut child = Running::spawn(cmd(&[
        "run",
        plan.to_str().unwrap(),
        "--headless",
        "--speed",
        "600",
    ]));
    wait_for("some bake time served", Duration::from_secs(30), || {
        let s = status_json(&plan);
        s["progress"]["served_ms"].as_u64().unwrap_or(0) > 120_000
    });
    child.kill();
    let before = status_json(&plan);
    let phase = before["progress"]["phase"].clone();
    let served = before["progress"]["served_ms"].as_u64().unwrap();

    let mut again = Running::spawn(cmd(&[
        "run",
        plan.to_str().unwrap(),
        "--headless",
        "--speed",
        "600",
    ]));
    wait_for("the restarted run to save", Duration::from_secs(30), || {
        let s = status_json(&plan);
        s["progress"]["served_ms"].as_u64().unwrap_or(0) > served && s["holder"].is_object()
    });
    let after = status_json(&plan);
    again.kill();
    assert_eq!(
        after["progress"]["phase"]["step"], phase["step"],
        "same step after restart"
    );
    assert!(after["progress"]["served_ms"].as_u64().unwrap() >= served);
}

#[test]
fn a_second_controller_refuses_and_commands_reach_the_holder() {
    let (dir, plan) = release("healthy");
    let mut holder = Running::spawn(cmd(&[
        "run",
        plan.to_str().unwrap(),
        "--headless",
        "--operator",
        "alice",
    ]));
    wait_for(
        "the holder to start the rollout",
        Duration::from_secs(20),
        || status_json(&plan)["holder"].is_object(),
    );

    let (code, _, stderr) = run(&["run", plan.to_str().unwrap(), "--headless"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("alice"),
        "the refusal names the holder: {stderr}"
    );

    let (code, stdout, stderr) = run(&[
        "rollback",
        plan.to_str().unwrap(),
        "--reason",
        "bad data",
        "--operator",
        "bob",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("alice"), "{stdout}");
    let code = holder.wait(Duration::from_secs(60));
    assert_eq!(code, 3, "the holder rolled back");
    let flags = std::fs::read_to_string(dir.path().join("flags.yaml")).unwrap();
    assert!(flag_block(&flags).contains("enabled: false"), "{flags}");
    let (_, journal, _) = run(&["journal", plan.to_str().unwrap()]);
    assert!(
        journal.lines().any(|l| l.contains("rollback")
            && l.contains("bad data")
            && l.contains(&format!("({})", journaled_as("bob")))),
        "{journal}"
    );
}

/// Runs the binary with its output read by nobody (`| head` after it quit).
fn run_into_closed_pipe(args: &[&str]) -> (i32, String) {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn output_into_a_closed_pipe_ends_a_command_quietly() {
    let (_dir, plan) = release("healthy");
    let (code, stderr) = run_into_closed_pipe(&["check", plan.to_str().unwrap(), "--no-probe"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_closed_pipe_does_not_stop_a_release_half_way() {
    let (dir, plan) = release("healthy");
    let (code, stderr) = run_into_closed_pipe(&[
        "run",
        plan.to_str().unwrap(),
        "--headless",
        "--speed",
        "50000",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("completed"), "{stderr}");
    let after = std::fs::read_to_string(dir.path().join("flags.yaml")).unwrap();
    assert!(flag_block(&after).contains("rollout: 1"), "{after}");
}

/// `--speed` that makes no sense is refused with a message, never run at real time or
/// capped without a word: zero, negative, NaN, infinite, or beyond the fastest clock.
#[test]
fn a_speed_that_makes_no_sense_is_refused_with_a_message() {
    let (_dir, plan) = release("healthy");
    let plan = plan.to_str().unwrap();
    for speed in ["0", "-3", "NaN", "inf", "-inf", "1e12", "fast"] {
        let (code, stdout, stderr) = run(&["run", plan, "--headless", "--once", "--speed", speed]);
        assert_eq!(code, 2, "--speed {speed}: {stdout}{stderr}");
        assert!(
            stderr.contains("--speed") && stderr.contains(speed),
            "--speed {speed}: names the option and the value: {stderr}"
        );
    }
    let (code, _, stderr) = run(&["run", plan, "--headless", "--once", "--speed", "1e12"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("1000000"),
        "says what the fastest clock is: {stderr}"
    );
    for args in [
        &["demo", "--speed", "0"][..],
        &["open", plan, "--speed", "nan"][..],
        &["replay", "missing.jsonl", "--speed", "inf"][..],
    ] {
        let (code, stdout, stderr) = run(args);
        assert_eq!(code, 2, "{args:?}: {stdout}{stderr}");
        assert!(stderr.contains("--speed"), "{args:?}: {stderr}");
    }
    // The fastest clock itself is fine.
    let (code, stdout, stderr) = run(&["run", plan, "--headless", "--once", "--speed", "1e6"]);
    assert_ne!(code, 2, "{stdout}{stderr}");
}

/// The reference process after a rollback: fix and redeploy. Promote is refused with the
/// way forward; `redeploy` starts attempt 2 with the plan's new version, the journal
/// keeps attempt 1, and the fixed build runs to completion.
#[test]
fn after_a_rollback_a_new_attempt_runs_the_fixed_build() {
    let (_dir, plan) = release("incident");
    let arg = plan.to_str().unwrap();
    let (code, stdout, stderr) = run(&["run", arg, "--headless", "--speed", "50000"]);
    assert_eq!(code, 3, "{stdout}{stderr}");

    let (code, stdout, stderr) = run(&["promote", arg]);
    assert_ne!(code, 0, "{stdout}");
    assert!(
        stderr.contains("once it is fixed, start a new attempt (`shipdeck redeploy PLAN`"),
        "{stderr}"
    );
    let (_fresh_dir, fresh) = release("healthy");
    let (code, _, stderr) = run(&["redeploy", fresh.to_str().unwrap()]);
    assert_ne!(code, 0, "a rolled-back release only");
    assert!(
        stderr.contains("a new attempt starts from a rolled-back release, not while ready"),
        "{stderr}"
    );
    let text = std::fs::read_to_string(&plan).unwrap();
    let fixed = text
        .replace("version: 2.5.0", "version: 2.5.1")
        .replace("scenario: incident", "scenario: healthy");
    assert_ne!(fixed, text);
    std::fs::write(&plan, fixed).unwrap();

    let (code, stdout, stderr) = run(&["redeploy", arg, "--reason", "fixed the pool size"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let status = status_json(&plan);
    assert_eq!(status["progress"]["phase"]["state"], "ready", "{status:#}");
    assert_eq!(status["progress"]["attempt"], 2, "{status:#}");
    assert_eq!(status["progress"]["version"], "2.5.1", "{status:#}");

    let (code, stdout, stderr) = run(&["run", arg, "--headless", "--speed", "50000"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, journal, _) = run(&["journal", arg]);
    assert_eq!(code, 0);
    let rolled = journal.find("rolled back").expect("attempt 1 is kept");
    let again = journal
        .find("attempt 2 of checkout-v2: 2.5.1 (after 2.5.0); attempt 1 was rolled back")
        .unwrap_or_else(|| panic!("{journal}"));
    let done = journal.rfind("completed").expect("attempt 2 completes");
    assert!(rolled < again && again < done, "{journal}");
    assert!(journal.contains("fixed the pool size"), "{journal}");
}
