//! A release picked up again: the plan edited while nobody ran it, engine time that
//! would go backwards after a fast run, and cron runs (`--once`) that must build up bake
//! time from the data between them. The real binary on copies of the healthy fixture.

use std::path::Path;
use std::time::Duration;

use super::common::*;
use shipdeck::engine::journal::{Entry, Kind, Verb};

/// Engine seconds per real second: the healthy plan's one-hour bakes take six seconds.
const SPEED: &str = "600";

fn confirmed(plan: &Path, summary: &str) -> bool {
    raw_journal(plan)
        .entries
        .iter()
        .any(|e| e.reason == format!("confirmed: {summary}"))
}

/// The entries a run journals in engine time (an unreadable inbox entry is stamped with
/// the wall clock).
fn engine_timed(journal: &[Entry]) -> impl Iterator<Item = &Entry> {
    journal.iter().filter(|e| e.action != Verb::Inbox)
}

/// A run at 600× real time is stopped an hour and more of engine time ahead of the wall
/// clock. The next run, at the same speed and without `--clock-start`, would start its
/// clock at the wall clock: it starts where the release's engine time stood instead, and
/// the journal says when it would have started.
#[test]
fn engine_time_never_goes_back_when_a_release_is_resumed() {
    let (_dir, plan) = release("healthy");
    let arg = plan.to_str().unwrap();
    let mut holder = Running::spawn(cmd(&["run", arg, "--headless", "--speed", SPEED]));
    wait_for(
        "the Beta step to be confirmed",
        Duration::from_secs(60),
        || confirmed(&plan, "on 5% +[internal, beta-testers]"),
    );
    holder.kill();
    let journal = raw_journal(&plan).entries;
    let before = journal.len();
    let last = engine_timed(&journal).map(|e| e.at).max().unwrap();
    assert!(last > chrono::Utc::now() + chrono::Duration::minutes(30));

    let mut again = Running::spawn(cmd(&["run", arg, "--headless", "--speed", SPEED]));
    wait_for(
        "the resumed run to journal its start",
        Duration::from_secs(30),
        || raw_journal(&plan).entries.len() > before + 1,
    );
    let journal = raw_journal(&plan).entries;
    let new: Vec<&Entry> = engine_timed(&journal[before..]).collect();
    assert!(
        new.iter().all(|e| e.at >= last),
        "engine time went back from {last}: {new:#?}"
    );
    let said = new
        .iter()
        .find(|e| e.action == "clock")
        .unwrap_or_else(|| panic!("no word about the clock: {new:#?}"));
    assert_eq!(said.kind, Kind::Note);
    let shown = last.format("%Y-%m-%dT%H:%M:%S").to_string();
    assert!(said.reason.contains(&shown), "{}", said.reason);
    let code = again.wait(Duration::from_secs(90));
    assert_eq!(code, 0, "{}\n{}", again.stdout(), again.stderr());
}

/// Cron mode: six `run --once` calls spread over three hours of engine time, against
/// one-hour bakes. Each call credits the time since the last one, on the healthy data
/// that covers it, so the release moves on.
#[test]
fn cron_runs_build_up_bake_time_between_calls() {
    let (_dir, plan) = release("healthy");
    let arg = plan.to_str().unwrap();
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    for k in 0..6 {
        let at = (t0 + chrono::Duration::minutes(36 * k)).to_rfc3339();
        let (code, stdout, stderr) =
            run(&["run", arg, "--headless", "--once", "--clock-start", &at]);
        assert_eq!(code, 0, "call {k} at {at}\n{stdout}\n{stderr}");
    }
    let status = status_json(&plan);
    let journal = raw_journal(&plan).entries;
    let steps: Vec<&str> = journal
        .iter()
        .filter(|e| e.action == "promote")
        .filter_map(|e| e.step.as_deref())
        .collect();
    assert_eq!(
        steps,
        ["Internal", "Beta", "Gradual 25%"],
        "{status:#}\n{journal:#?}"
    );
    let served = status["progress"]["served_ms"].as_u64().unwrap();
    assert!(
        (30 * 60_000..=37 * 60_000).contains(&served),
        "the last call credits the 36 minutes since the one before: {served} ms"
    );
}

/// The healthy release killed while Gradual 25% bakes at 25%.
fn killed_at_gradual(plan: &Path) {
    let arg = plan.to_str().unwrap();
    let mut holder = Running::spawn(cmd(&["run", arg, "--headless", "--speed", SPEED]));
    wait_for(
        "the Gradual 25% step to be confirmed",
        Duration::from_secs(90),
        || {
            raw_journal(plan)
                .entries
                .iter()
                .any(|e| e.reason.starts_with("confirmed: on 25%"))
        },
    );
    holder.kill();
}

fn edit_plan(plan: &Path, edit: impl Fn(String) -> String) {
    let text = std::fs::read_to_string(plan).unwrap();
    let edited = edit(text.clone());
    assert_ne!(edited, text, "the edit changed nothing");
    std::fs::write(plan, edited).unwrap();
}

const BETA: &str = "    - {name: Beta,        percent: 5,   groups: [beta-testers], bake: 1h}\n";
const HALF: &str = "    - {name: Gradual 50%, percent: 50,  bake: 1h}\n";

/// Steps taken out of the plan while the release stood on its third: resuming on the
/// saved index would put it on "step 3/3 Full" with the flag at 25%. It is refused with
/// the steps side by side, and nothing is written; `--accept-plan-change` pauses it on
/// the step the live 25% falls on, journals that, and saves it, so the next command
/// opens it without asking again.
#[test]
fn a_plan_whose_steps_were_removed_is_refused_until_the_change_is_accepted() {
    let (dir, plan) = release("healthy");
    let arg = plan.to_str().unwrap();
    killed_at_gradual(&plan);
    let before = status_json(&plan);
    assert_eq!(phase(&before), "baking", "{before:#}");
    assert_eq!(before["progress"]["phase"]["step"], 2, "{before:#}");
    let entries = raw_journal(&plan).entries.len();
    edit_plan(&plan, |t| t.replace(BETA, "").replace(HALF, ""));

    for args in [
        vec!["run", arg, "--headless", "--speed", SPEED],
        vec!["run", arg, "--headless", "--once"],
        vec!["promote", arg],
    ] {
        let (code, stdout, stderr) = run(&args);
        assert_eq!(code, 2, "{args:?}\n{stdout}\n{stderr}");
        assert!(
            stderr.contains("the rollout's steps changed"),
            "{args:?}: {stderr}"
        );
        assert!(
            stderr.contains("≠  2. Beta (5% + beta-testers)")
                && stderr.contains("Gradual 25% (25%)"),
            "the steps, saved against now: {stderr}"
        );
        assert!(
            stderr.contains("◀ the release is here") && stderr.contains("--accept-plan-change"),
            "{stderr}"
        );
    }
    let after = status_json(&plan);
    assert_eq!(
        after["progress"], before["progress"],
        "a refusal writes nothing"
    );
    assert_eq!(raw_journal(&plan).entries.len(), entries);
    assert_eq!(flag_in(&dir.path().join("flags.yaml")), (true, 0.25));

    let (code, stdout, stderr) = run(&["run", arg, "--headless", "--once", "--accept-plan-change"]);
    assert_eq!(code, 4, "paused: a person resumes\n{stdout}\n{stderr}");
    let status = status_json(&plan);
    assert_eq!(phase(&status), "paused", "{status:#}");
    assert_eq!(
        status["progress"]["phase"]["step"], 1,
        "Gradual 25% is now step 2/3"
    );
    assert_eq!(status["progress"]["served_ms"], 0, "no bake carries over");
    let journal = raw_journal(&plan).entries;
    let change = journal
        .iter()
        .find(|e| e.action == Verb::PlanChange)
        .expect("the change is journaled");
    assert_eq!(change.kind, Kind::Action);
    assert_eq!(change.operator, "tester");
    assert_eq!(change.step.as_deref(), Some("Gradual 25%"));
    assert!(
        change
            .reason
            .contains("live 25% mapped to step 2/3 Gradual 25%"),
        "{change:#?}"
    );
    assert_eq!(flag_in(&dir.path().join("flags.yaml")), (true, 0.25));

    let (code, stdout, stderr) = run(&["resume", arg]);
    assert_eq!(code, 0, "accepted once, opened again\n{stdout}\n{stderr}");
    let status = status_json(&plan);
    assert_eq!(phase(&status), "baking", "{status:#}");
    assert_eq!(status["progress"]["phase"]["step"], 1, "{status:#}");
}

/// A step's percent changed under the release: baking on would count bake time at a
/// percent the flag never served. Refused, and accepted onto the highest step not above
/// the live 25%.
#[test]
fn a_plan_whose_current_step_changed_percent_is_refused_until_accepted() {
    let (_dir, plan) = release("healthy");
    let arg = plan.to_str().unwrap();
    killed_at_gradual(&plan);
    edit_plan(&plan, |t| {
        t.replace(
            "{name: Gradual 25%, percent: 25,",
            "{name: Gradual 30%, percent: 30,",
        )
    });
    let (code, _, stderr) = run(&["run", arg, "--headless", "--once"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("≠  3. Gradual 25% (25%)") && stderr.contains("Gradual 30% (30%)"),
        "{stderr}"
    );

    let (code, _, stderr) = run(&["run", arg, "--headless", "--once", "--accept-plan-change"]);
    assert_eq!(code, 4, "{stderr}");
    let status = status_json(&plan);
    assert_eq!(phase(&status), "paused", "{status:#}");
    assert_eq!(
        status["progress"]["phase"]["step"], 1,
        "25% falls on Beta (5%): never above what was served"
    );
}

/// An edit that leaves the steps alone (a guardrail, a bake) needs no acceptance.
#[test]
fn a_plan_edited_elsewhere_resumes_as_before() {
    let (_dir, plan) = release("healthy");
    let arg = plan.to_str().unwrap();
    killed_at_gradual(&plan);
    edit_plan(&plan, |t| {
        t.replace(
            "{name: Gradual 25%, percent: 25,  bake: 1h}",
            "{name: Gradual 25%, percent: 25,  bake: 2h}",
        )
    });
    let (code, stdout, stderr) = run(&["run", arg, "--headless", "--once"]);
    assert_ne!(code, 2, "{stdout}\n{stderr}");
    let status = status_json(&plan);
    assert_eq!(status["progress"]["phase"]["step"], 2, "{status:#}");
    assert!(
        !raw_journal(&plan)
            .entries
            .iter()
            .any(|e| e.action == Verb::PlanChange)
    );
}
