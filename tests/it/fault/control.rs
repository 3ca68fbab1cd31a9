//! One controller per release, seen from a second terminal: `status` shows who holds it
//! without taking it, `rollback` is carried out by the holder within a second and names
//! who asked, and with the holder killed the command takes the release and acts itself.

use std::path::Path;
use std::time::{Duration, Instant};

use super::common::*;

/// A headless run held by alice at real speed, its first step's flag write confirmed.
fn held_by_alice(plan: &Path) -> Running {
    let holder = Running::spawn(cmd(&[
        "run",
        plan.to_str().unwrap(),
        "--headless",
        "--operator",
        "alice",
    ]));
    wait_for(
        "alice's run to confirm its first step",
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
fn status_names_the_holder_without_taking_the_release() {
    let (_dir, plan) = release("healthy");
    let plan_arg = plan.to_str().unwrap();
    let mut holder = held_by_alice(&plan);

    let (code, text, stderr) = run(&["status", plan_arg]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        text.contains("held by alice (headless") && text.contains(&format!("pid {}", holder.id())),
        "{text}"
    );
    assert!(
        text.contains("BAKING") && text.contains("Internal"),
        "{text}"
    );
    let first = status_json(&plan);
    assert_eq!(first["holder"]["operator"], "alice");
    assert_eq!(first["holder"]["mode"], "headless");
    assert_eq!(first["holder"]["pid"], holder.id());

    // A second controller follows instead: it refuses to drive and names the holder.
    let (code, _, stderr) = run(&["run", plan_arg, "--headless", "--operator", "carol"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("alice"), "{stderr}");

    // Looking took nothing: alice still runs and still writes the state.
    let before = first["progress"]["now"].as_str().unwrap().to_string();
    wait_for("alice to save again", Duration::from_secs(10), || {
        status_json(&plan)["progress"]["now"]
            .as_str()
            .is_some_and(|now| now > before.as_str())
    });
    assert_eq!(holder.exited(), None, "the holder was not disturbed");
    assert_eq!(status_json(&plan)["holder"]["pid"], holder.id());

    holder.kill();
    let (code, text, _) = run(&["status", plan_arg]);
    assert_eq!(code, 0);
    assert!(text.contains("no controller running"), "{text}");
    assert!(status_json(&plan)["holder"].is_null());
}

#[test]
fn a_rollback_from_another_terminal_lands_within_a_second_and_names_who_asked() {
    let (dir, plan) = release("healthy");
    let flags = dir.path().join("flags.yaml");
    let mut holder = held_by_alice(&plan);

    let asked = Instant::now();
    let asked_at = chrono::Utc::now();
    let mut command = Running::spawn(cmd(&[
        "rollback",
        plan.to_str().unwrap(),
        "--reason",
        "data integrity",
        "--operator",
        "bob",
    ]));
    while flag_in(&flags).0 {
        assert!(
            asked.elapsed() < Duration::from_secs(10),
            "the flag is still on\nholder:\n{}\ncommand:\n{}{}",
            holder.stdout(),
            command.stdout(),
            command.stderr()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let off_after = asked.elapsed();
    assert_eq!(
        command.wait(Duration::from_secs(15)),
        0,
        "{}",
        command.stderr()
    );
    assert!(
        command.stdout().contains("carried out by alice"),
        "{}",
        command.stdout()
    );
    assert_eq!(holder.wait(Duration::from_secs(10)), 3);
    assert!(
        off_after < Duration::from_secs(1),
        "the flag went off {off_after:?} after the command was typed"
    );
    eprintln!("flag off {off_after:?} after `shipdeck rollback` was started");

    // The holder's own output shows who asked.
    let shown = holder.stdout();
    assert!(
        shown.lines().any(|l| l.contains("rollback")
            && l.contains("data integrity")
            && l.contains(&format!("({})", journaled_as("bob")))),
        "{shown}"
    );
    let journal = raw_journal(&plan).entries;
    let rollback = journal.iter().find(|e| e.action == "rollback").unwrap();
    assert_eq!(rollback.operator, journaled_as("bob"));
    // Journaled at the time it happened (the engine runs at real speed here).
    let skew = (rollback.at - asked_at).num_milliseconds().abs();
    assert!(
        skew < 2_000,
        "journaled {skew} ms away from when it was asked"
    );
    assert_eq!(flag_in(&flags), (false, 0.0));
}

#[test]
fn with_the_holder_killed_a_rollback_acts_directly() {
    let (dir, plan) = release("healthy");
    let plan_arg = plan.to_str().unwrap();
    let mut holder = held_by_alice(&plan);
    holder.kill();

    let (code, stdout, stderr) = run(&[
        "rollback",
        plan_arg,
        "--reason",
        "security issue",
        "--operator",
        "bob",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        !stdout.contains("carried out by"),
        "nobody else holds it: {stdout}"
    );
    assert_eq!(flag_in(&dir.path().join("flags.yaml")), (false, 0.0));
    let status = status_json(&plan);
    assert_eq!(phase(&status), "rolled_back", "{status:#}");
    assert!(status["holder"].is_null(), "the command let go: {status:#}");
    let journal = raw_journal(&plan).entries;
    let rollback = journal.iter().position(|e| e.action == "rollback").unwrap();
    assert_eq!(journal[rollback].operator, "bob");
    assert!(journal[rollback].reason.contains("security issue"));
    assert!(
        journal[rollback..]
            .iter()
            .any(|e| e.action == "rolled back"),
        "the backend confirmed it: {journal:#?}"
    );
}
