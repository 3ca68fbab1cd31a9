//! The commands on machines that share only the database: status, the fleet, commands
//! sent from afar, and moving a release from its files into the database.

use std::time::Duration;

use super::{Room, plan};
use crate::support::postgres::shared;

#[test]
fn status_releases_and_commands_work_from_a_machine_that_shares_only_the_database() {
    let Some(pg) = shared() else { return };
    let room = Room::new(pg);
    let plan = plan("1h");
    let (a, b) = (room.machine(&plan), room.machine(&plan));
    let _holder = a.spawn(
        "alice",
        &["run", "plan.yaml", "--headless", "--wait-for-approval"],
    );
    room.until("alice to guard the release", Duration::from_secs(30), |r| {
        r.holder().0 == "alice" && r.step() >= 0
    });

    let (code, out, err) = b.run("bob", &["status", "plan.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("BAKING step 1/5 Internal (0%)"), "{out}");
    assert!(out.contains("held by alice (headless"), "{out}");

    let (code, out, err) = b.run("bob", &["--store", "postgres", "releases"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("RELEASE"), "{out}");
    assert!(
        lines[1].starts_with("checkout-v2  2.5.0    BAKING  0%       alice (headless"),
        "{out}"
    );
    let (code, out, _) = b.run("bob", &["releases", "--json"]);
    assert_eq!(code, 0);
    let all: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(all[0]["holder"]["operator"], "alice");
    assert_eq!(all[0]["state"], "BAKING");

    let (code, out, err) = b.run("bob", &["pause", "plan.yaml", "--reason", "checking logs"]);
    assert_eq!(code, 0, "{out}{err}");
    let pause = room
        .journal()
        .into_iter()
        .find(|l| l.starts_with("pause|"))
        .unwrap();
    assert!(pause.contains("checking logs"), "{pause}");
    let by = room
        .sql("SELECT entry->>'operator' FROM shipdeck_journal WHERE entry->>'action' = 'pause'");
    assert_eq!(by, "bob (role shipdeck)");
}

#[test]
fn store_copy_moves_a_release_into_the_database_and_refuses_while_it_is_held() {
    let Some(pg) = shared() else { return };
    let room = Room::new(pg);
    // The same release, kept in files beside the plan at first.
    let plan = plan("1h").replace("store: {kind: postgres}\n", "");
    let a = room.machine(&plan);
    let mut holder = a.spawn("alice", &["run", "plan.yaml", "--headless"]);
    let state = a.dir.path().join(".shipdeck/state.json");
    let start = std::time::Instant::now();
    while !std::fs::read_to_string(&state)
        .unwrap_or_default()
        .contains("baking")
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{}",
            holder.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, _, err) = a.run("alice", &["store", "copy", "plan.yaml", "--to", "postgres"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("holds the release in state directory"),
        "{err}"
    );
    assert!(err.contains("stop it first"), "{err}");

    holder.signal("-TERM");
    holder.child.wait().unwrap();
    let (_, before, _) = a.run("alice", &["journal", "plan.yaml"]);
    let (code, out, err) = a.run("alice", &["store", "copy", "plan.yaml", "--to", "postgres"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("copied"), "{out}");
    assert!(
        out.contains("and the state into release checkout-v2 2.5.0 in the database"),
        "{out}"
    );

    let (code, status, err) = a.run("alice", &["--store", "postgres", "status", "plan.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert!(status.contains("step 1/5 Internal (0%)"), "{status}");
    let (_, after, _) = a.run("alice", &["--store", "postgres", "journal", "plan.yaml"]);
    assert!(
        after.starts_with(before.trim_end()),
        "the database's journal starts with the files' own:\n{before}\n---\n{after}"
    );
    assert!(after.contains("moved in from state directory"), "{after}");
    // A second copy would overwrite the database's record: refused.
    let (code, _, err) = a.run("alice", &["store", "copy", "plan.yaml", "--to", "postgres"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("already has a state or a journal; nothing was copied"),
        "{err}"
    );
}

#[test]
fn reading_a_release_the_database_does_not_hold_creates_nothing_and_says_how_to_start_it() {
    let Some(pg) = shared() else { return };
    let room = Room::new(pg);
    let b = room.machine(&plan("1h"));
    let (code, _, err) = b.run("bob", &["status", "plan.yaml"]);
    assert_eq!(code, 1);
    assert!(
        err.contains(
            "release checkout-v2 2.5.0 is not in the database at postgres://shipdeck@127.0.0.1:"
        ) && err.contains(
            "it has not started there: `shipdeck --store postgres run PLAN --headless` starts it"
        ),
        "{err}"
    );
    let (code, _, _) = b.run("bob", &["journal", "plan.yaml"]);
    assert_eq!(code, 1);
    assert_eq!(
        room.sql("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'shipdeck%'"),
        "0",
        "a reader made tables"
    );
}
