//! The flight recorder end to end: the real binary records a headless run, and the
//! recording plays back — headless through the same engine (the same decisions at the
//! same sample times), and as the `replay` metrics source of a plan.

use std::path::{Path, PathBuf};

use shipdeck::engine::Input;
use shipdeck::engine::journal::{Entry, Verb};
use shipdeck::recording::{Player, Record, Recording, verify};

use crate::support::cli::{release, run};

/// Records a headless run of the incident fixture (it rolls back by itself).
fn recorded_incident() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let (dir, plan) = release("incident");
    // The original's pace varies with the machine's load (at 50000× a millisecond is most
    // of a minute), so the data's incident can come late; a long watch keeps the replays
    // of the recording live until it does.
    let text = std::fs::read_to_string(&plan).unwrap();
    assert!(text.contains("watch: 2h"));
    std::fs::write(&plan, text.replace("watch: 2h", "watch: 24h")).unwrap();
    let rec = dir.path().join("incident.jsonl");
    let (code, stdout, stderr) = run(&[
        "run",
        plan.to_str().unwrap(),
        "--headless",
        "--speed",
        "50000",
        "--record",
        rec.to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "stdout:\n{stdout}\nstderr:\n{stderr}");
    (dir, plan, rec)
}

/// The engine's own entries in the release's journal file.
fn journal_decisions(plan: &Path) -> Vec<Entry> {
    let path = plan
        .parent()
        .unwrap()
        .join(".shipdeck")
        .join("journal.jsonl");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Entry>(l).unwrap())
        // Who guarded the release is the controller's record, not the engine's.
        .filter(|e| {
            !matches!(
                e.action,
                Verb::ControlStart | Verb::ControlStop | Verb::Takeover | Verb::Unguarded
            )
        })
        .collect()
}

fn key(e: &Entry) -> (String, String, String, String) {
    (
        e.at.to_rfc3339(),
        e.operator.clone(),
        e.action.to_string(),
        e.reason.clone(),
    )
}

#[test]
fn a_replayed_recording_makes_the_same_decisions_at_the_same_sample_times() {
    let (_dir, plan, rec) = recorded_incident();
    let recording = Recording::read(&rec).unwrap();
    assert_eq!(recording.torn, None);
    assert!(recording.header.plan.text.contains("checkout-v2"));
    assert!(recording.header.plan.path.is_absolute());

    // The recorder saw exactly what the journal got from the engine.
    let journaled: Vec<_> = journal_decisions(&plan).iter().map(key).collect();
    let recorded: Vec<_> = recording.journal().map(key).collect();
    assert_eq!(recorded, journaled);
    assert!(
        recorded
            .iter()
            .any(|(_, _, action, _)| action == "rollback")
    );

    // A fresh engine fed the recorded inputs decides the same, entry for entry.
    let replayed: Vec<Entry> = Player::new(&recording)
        .unwrap()
        .flat_map(|step| step.replayed)
        .collect();
    assert_eq!(
        replayed.iter().map(key).collect::<Vec<_>>(),
        journaled,
        "replayed decisions differ from the journal"
    );
    let verdict = verify(&recording).unwrap();
    assert_eq!(verdict.divergence, None);
    assert_eq!(verdict.entries, journaled.len());

    // The trips happened at sample times, and the replay put them at the same ones.
    let sample_times: Vec<_> = recording
        .records
        .iter()
        .filter_map(|(_, r)| match r {
            Record::Input {
                input: Input::Samples { batch },
                ..
            } => Some(batch.at),
            _ => None,
        })
        .collect();
    let trips: Vec<&Entry> = replayed
        .iter()
        .filter(|e| e.action == "guardrail")
        .collect();
    assert!(!trips.is_empty());
    for t in trips {
        assert!(
            sample_times.contains(&t.at),
            "trip off the sample grid: {t:?}"
        );
    }

    let (code, stdout, stderr) = run(&["replay", rec.to_str().unwrap(), "--headless"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("the same"), "{stderr}");
    assert!(stdout.contains("rollback"), "{stdout}");

    let (code, stdout, _) = run(&["replay", rec.to_str().unwrap(), "--headless", "--json"]);
    assert_eq!(code, 0);
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["exit"], 0);
}

#[test]
fn a_recording_whose_data_was_changed_diverges_and_says_where() {
    let (_dir, _plan, rec) = recorded_incident();
    let text = std::fs::read_to_string(&rec).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    // The samples line right before the first pause: the spike that caused it.
    let pause = lines
        .iter()
        .position(|l| l.contains("\"record\":\"journal\"") && l.contains("\"action\":\"pause\""))
        .expect("the recording holds the pause");
    let spike = (0..pause)
        .rev()
        .find(|i| lines[*i].contains("\"input\":\"samples\""))
        .unwrap();
    let mut record: serde_json::Value = serde_json::from_str(&lines[spike]).unwrap();
    for reading in record["input"]["batch"]["readings"].as_array_mut().unwrap() {
        if reading["series"] == "error_rate" {
            reading["outcome"]["detail"] = serde_json::json!(0.0001);
        }
    }
    lines[spike] = serde_json::to_string(&record).unwrap();
    std::fs::write(&rec, lines.join("\n") + "\n").unwrap();

    let (code, _, stderr) = run(&["replay", rec.to_str().unwrap(), "--headless"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("diverged"), "{stderr}");
    let place = format!("{}:{}", rec.display(), spike + 1);
    assert!(stderr.contains(&place), "expected {place} in:\n{stderr}");
    assert!(stderr.contains("pause"), "{stderr}");
}

#[test]
fn a_plan_plays_a_recording_as_its_metrics_source() {
    let (dir, _plan, rec) = recorded_incident();
    let recording = Recording::read(&rec).unwrap();
    let recorded_rollback = recording
        .journal()
        .find(|e| e.action == "rollback")
        .unwrap()
        .at;

    // The same release in another directory, its metrics from the recording.
    let other = tempfile::tempdir().unwrap();
    let plan_text = std::fs::read_to_string(dir.path().join("plan.yaml")).unwrap();
    let plan_text = plan_text.replace(
        "source: {kind: simulated, scenario: incident, seed: 7}",
        &format!("source: {{kind: replay, path: {}}}", rec.display()),
    );
    assert!(plan_text.contains("kind: replay"));
    let plan = other.path().join("plan.yaml");
    std::fs::write(&plan, plan_text).unwrap();
    std::fs::copy(
        dir.path().join("flags.yaml"),
        other.path().join("flags.yaml"),
    )
    .unwrap();

    let (code, stdout, stderr) = run(&["check", plan.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");

    // Slower than the recording: at 50000× the milliseconds spent opening the recording are
    // an hour of engine time, and the run would begin in the middle of the incident.
    let start = recording.header.clock.start.to_rfc3339();
    let (code, stdout, stderr) = run(&[
        "run",
        plan.to_str().unwrap(),
        "--headless",
        "--json",
        "--clock-start",
        &start,
        "--speed",
        "2000",
    ]);
    assert_eq!(code, 3, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let rollback = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Entry>(l).ok())
        .find(|e| e.action == "rollback")
        .unwrap_or_else(|| panic!("no rollback in:\n{stdout}"));
    assert_eq!(
        rollback.at, recorded_rollback,
        "the recorded data trips the rule at the same sample"
    );
}

#[test]
fn a_recording_is_never_written_over() {
    let (dir, plan) = release("incident");
    let rec = dir.path().join("taken.jsonl");
    std::fs::write(&rec, "precious\n").unwrap();
    let (code, _, stderr) = run(&[
        "run",
        plan.to_str().unwrap(),
        "--headless",
        "--speed",
        "50000",
        "--record",
        rec.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&rec).unwrap(), "precious\n");
}

#[test]
fn files_that_are_not_good_recordings_exit_2_with_their_place() {
    let dir = tempfile::tempdir().unwrap();
    let not = dir.path().join("journal.jsonl");
    std::fs::write(&not, "{\"at\":\"2024-01-01T00:00:00Z\"}\n").unwrap();
    let (code, _, stderr) = run(&["replay", not.to_str().unwrap(), "--headless"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not a shipdeck recording"), "{stderr}");
    assert!(stderr.contains("journal.jsonl:1"), "{stderr}");

    let (_d, _p, rec) = recorded_incident();
    let mut lines: Vec<String> = std::fs::read_to_string(&rec)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    lines[3] = "{\"record\":\"input\",\"at\":".into();
    std::fs::write(&rec, lines.join("\n") + "\n").unwrap();
    let (code, _, stderr) = run(&["replay", rec.to_str().unwrap(), "--headless"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!("{}:4:", rec.display())),
        "{stderr}"
    );

    let missing = dir.path().join("nope.jsonl");
    let (code, _, stderr) = run(&["replay", missing.to_str().unwrap(), "--headless"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("nope.jsonl"), "{stderr}");
}

#[tokio::test]
async fn the_screen_replay_plays_in_a_sandbox_and_touches_nothing_of_the_release() {
    let (dir, _plan, rec) = recorded_incident();
    let flags_before = std::fs::read_to_string(dir.path().join("flags.yaml")).unwrap();
    let state_before = std::fs::read(dir.path().join(".shipdeck").join("state.json")).unwrap();
    let recording = Recording::read(&rec).unwrap();
    let recorded_rollback = recording
        .journal()
        .find(|e| e.action == "rollback")
        .unwrap()
        .at;

    let (sandbox, session) =
        shipdeck::app::replay::sandbox(&recording, Some(2000.0), "viewer".into())
            .await
            .unwrap();
    assert!(session.controller.holds(), "the sandbox is its own release");
    assert!(
        session
            .controller
            .flag_description()
            .contains(&sandbox.path().display().to_string()),
        "the flag is a scratch file: {}",
        session.controller.flag_description()
    );
    // The screen's stand-in: the same controller loop with no terminal.
    let outcome = shipdeck::app::headless::run(
        session,
        shipdeck::app::headless::Options {
            json: true,
            once: false,
            wait_for_approval: true,
            standby: false,
            max_pause: std::time::Duration::from_secs(86_400),
        },
    )
    .await;
    assert_eq!(outcome.code, 3, "{outcome:?}");

    // The recorded data rolled the replay back at the recorded sample.
    let journal =
        std::fs::read_to_string(sandbox.path().join(".shipdeck").join("journal.jsonl")).unwrap();
    let rollback = journal
        .lines()
        .map(|l| serde_json::from_str::<Entry>(l).unwrap())
        .find(|e| e.action == "rollback")
        .unwrap();
    assert_eq!(rollback.at, recorded_rollback);

    assert_eq!(
        std::fs::read_to_string(dir.path().join("flags.yaml")).unwrap(),
        flags_before
    );
    assert_eq!(
        std::fs::read(dir.path().join(".shipdeck").join("state.json")).unwrap(),
        state_before
    );
}
