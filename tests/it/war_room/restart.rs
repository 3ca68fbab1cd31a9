//! The database is not a single point of failure for safety: it restarts mid-run, the
//! holder keeps guarding from memory, and once it is back the journal holds everything.

use std::time::Duration;

use super::{Room, flag_field};
use crate::support::postgres::Postgres;

/// The incident: the bug shows at 25%, the error rate passes 1% (pause) and then 5% for
/// two minutes (rollback), at 30 times real time.
const PLAN: &str = "release: {name: checkout-v2, version: 2.5.0, strategy: canary}
pipeline: [{name: PR, status: passed}, {name: CI, status: passed}, {name: QA, status: passed}, {name: Stage, status: passed}, {name: Prod}]
flag: {name: new_checkout, backend: {kind: file, path: FLAGS}}
rollout:
  steps:
    - {name: Gradual 25%, percent: 25, bake: 1h}
    - {name: Full, percent: 100, bake: 1h}
metrics:
  source: {kind: simulated, scenario: incident, seed: 7}
  interval: 15s
guardrails:
  rules:
    - {metric: error_rate, above: 1%, action: pause}
    - {metric: error_rate, above: 5%, for: 2m, action: rollback}
checklists:
  pre_release: []
store: {kind: postgres}
";

#[test]
fn the_database_restarts_mid_run_guardrails_keep_acting_and_the_journal_loses_nothing() {
    // A cluster of its own: this test stops it.
    let Some(pg) = Postgres::start() else { return };
    let room = Room::new(&pg);
    let m = room.machine(PLAN);
    let mut holder = m.spawn(
        "alice",
        &["run", "plan.yaml", "--headless", "--speed", "30"],
    );
    room.until("the flag at 25%", Duration::from_secs(60), |r| {
        r.journal()
            .iter()
            .any(|l| l.starts_with("flag|confirmed: on 25%"))
    });
    assert!(
        !room.journal().iter().any(|l| l.starts_with("rollback|")),
        "the incident came before the outage"
    );
    let down = std::thread::scope(|s| {
        let outage = s.spawn(|| pg.restart(Duration::from_secs(15)));
        // While the database is down, the guardrail rolls the flag back all the same.
        let start = std::time::Instant::now();
        while flag_field(&room, "enabled") != "false" {
            assert!(
                start.elapsed() < Duration::from_secs(14),
                "no rollback while the database was down: {}",
                holder.stderr()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let rolled_back_in = start.elapsed();
        outage.join().unwrap();
        rolled_back_in
    });
    eprintln!("rolled back {down:?} into the outage");
    // Back up: the holder catches up, and the journal has every decision, in order.
    room.until("the journal to catch up", Duration::from_secs(60), |r| {
        r.journal().iter().any(|l| l.starts_with("rolled back|"))
    });
    let j = room.journal();
    let order = [
        "control-start|",
        "promote|→ Gradual 25%",
        "flag|confirmed: on 25%",
        "guardrail|",
        "pause|",
        "guardrail|",
        "rollback|",
        "rolled back|the backend confirmed the flag is off",
    ];
    let mut at = 0;
    for want in order {
        let found = j[at..]
            .iter()
            .position(|l| l.starts_with(want))
            .unwrap_or_else(|| panic!("no {want} after entry {at}: {j:#?}"));
        at += found + 1;
    }
    assert!(
        j.iter().all(|l| l.ends_with("|1")),
        "one holder throughout: {j:#?}"
    );
    let status = holder.child.wait().unwrap();
    assert_eq!(status.code(), Some(3), "{}", holder.stderr());
}
