//! One controller per release across machines: a standby takes over when the holder dies,
//! loses its connection or freezes, and the one that lost the release writes nothing more.

use std::time::{Duration, Instant};

use super::{Room, flag_field, plan};
use crate::support::postgres::shared;

/// How soon a standby must guard the release after its holder stops.
const TAKEOVER_LIMIT: Duration = Duration::from_secs(5);

fn standing_by(p: &super::Proc) {
    let start = Instant::now();
    while !p.stderr().contains("standing by") {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no standby: {}",
            p.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The percents of the flag writes the journal confirms, in order.
fn confirmed(room: &Room) -> Vec<String> {
    room.journal()
        .iter()
        .filter(|l| l.starts_with("flag|confirmed: on "))
        .map(|l| l.split(' ').nth(2).unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_standby_takes_over_within_5s_of_a_kill_9_in_each_of_10_rounds_and_never_goes_back() {
    let Some(pg) = shared() else { return };
    let room = Room::new(pg);
    let plan = plan("20s");
    let machines: Vec<_> = (0..3).map(|_| room.machine(&plan)).collect();
    let args = ["run", "plan.yaml", "--headless"];
    let standby_args = ["run", "plan.yaml", "--headless", "--standby"];
    let mut holder = machines[0].spawn("op0", &args);
    room.until("op0 to guard the release", Duration::from_secs(30), |r| {
        r.holder().0 == "op0" && r.step() >= 0
    });
    let mut standby = machines[1].spawn("op1", &standby_args);
    standing_by(&standby);
    let mut took = Vec::new();
    for round in 0..10 {
        let (_, epoch) = room.holder();
        let step = room.step();
        let flags = confirmed(&room);
        holder.signal("-9");
        let t = room.until("the standby to take over", Duration::from_secs(10), |r| {
            r.holder().1 > epoch
        });
        assert!(t < TAKEOVER_LIMIT, "round {round}: took {t:?}");
        took.push(t);
        let next = format!("op{}", round + 1);
        assert_eq!(room.holder(), (next.clone(), epoch + 1), "round {round}");
        assert!(room.step() >= step, "round {round}: went back a step");
        let now = confirmed(&room);
        assert_eq!(
            now[..flags.len()],
            flags[..],
            "round {round}: the record changed"
        );
        holder = standby;
        let m = &machines[(round + 2) % 3];
        standby = m.spawn(&format!("op{}", round + 2), &standby_args);
        standing_by(&standby);
    }
    // Every flag write the journal confirms moved forward: none was repeated or undone.
    let percents: Vec<u32> = confirmed(&room)
        .iter()
        .map(|p| p.trim_end_matches('%').parse().unwrap())
        .collect();
    assert!(percents.windows(2).all(|w| w[0] < w[1]), "{percents:?}");
    let takeovers = room
        .journal()
        .iter()
        .filter(|l| l.starts_with("takeover|"))
        .count();
    assert_eq!(takeovers, 10);
    took.sort();
    eprintln!(
        "takeover after kill -9: fastest {:?}, slowest {:?}",
        took[0], took[9]
    );
}

#[test]
fn a_holder_whose_connection_is_killed_is_fenced_and_the_standby_takes_over() {
    let Some(pg) = shared() else { return };
    let room = Room::new(pg);
    let plan = plan("4s");
    let (a, b) = (room.machine(&plan), room.machine(&plan));
    let mut holder = a.spawn("alice", &["run", "plan.yaml", "--headless"]);
    room.until("alice to guard the release", Duration::from_secs(30), |r| {
        r.holder().0 == "alice" && r.step() >= 0
    });
    let standby = b.spawn("bob", &["run", "plan.yaml", "--headless", "--standby"]);
    standing_by(&standby);
    let (_, epoch) = room.holder();
    room.sql("SELECT pg_terminate_backend(holder_backend) FROM shipdeck_releases");
    let start = Instant::now();
    while room.holder() != ("bob".into(), epoch + 1) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "bob did not take over: {:?}\nalice: {}\nbob: {}",
            room.holder(),
            holder.stderr(),
            standby.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let t = start.elapsed();
    assert!(t < TAKEOVER_LIMIT, "took {t:?}");
    // Alice stops: she lost the release and is no standby.
    let start = Instant::now();
    let status = loop {
        if let Some(s) = holder.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "alice still runs"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(1));
    // She saw her connection go and left the release to the waiting standby, or found
    // it already taken: either way she says she stopped guarding, and why.
    let said = holder.stderr();
    assert!(
        said.contains(
            "stopped guarding: lost the database connection, and a standby waits to take over"
        ) || said.contains("stopped guarding: another controller took over"),
        "{said}"
    );
    // Nothing of alice's landed after bob's takeover, and the release goes on under bob.
    room.until("bob to promote", Duration::from_secs(30), |r| {
        let j = r.journal();
        let taken = j
            .iter()
            .position(|l| l.starts_with("takeover|bob"))
            .unwrap();
        j[taken..].iter().any(|l| l.starts_with("promote|"))
    });
    let j = room.journal();
    let taken = j
        .iter()
        .position(|l| l.starts_with("takeover|bob"))
        .unwrap();
    assert!(
        j[taken..]
            .iter()
            .all(|l| l.ends_with(&format!("|{}", epoch + 1))),
        "{j:#?}"
    );
}

#[test]
fn a_holder_frozen_past_its_lease_writes_nothing_once_it_thaws() {
    let Some(pg) = shared() else { return };
    let room = Room::new(pg);
    let plan = plan("3s");
    let (a, b) = (room.machine(&plan), room.machine(&plan));
    let holder = a.spawn("alice", &["run", "plan.yaml", "--headless"]);
    room.until("alice to guard the release", Duration::from_secs(30), |r| {
        r.holder().0 == "alice" && r.step() >= 0
    });
    let standby = b.spawn("bob", &["run", "plan.yaml", "--headless", "--standby"]);
    standing_by(&standby);
    let (_, epoch) = room.holder();
    holder.signal("-STOP");
    let t = room.until("bob to take over", Duration::from_secs(10), |r| {
        r.holder() == ("bob".into(), epoch + 1)
    });
    assert!(t < TAKEOVER_LIMIT, "took {t:?}");
    // Frozen well past her bake: thawed, alice would promote at once if she still could.
    std::thread::sleep(Duration::from_secs(4));
    let entries = room.journal().len();
    let flag = flag_field(&room, "rollout");
    holder.signal("-CONT");
    std::thread::sleep(Duration::from_secs(3));
    let j = room.journal();
    assert!(
        j.iter().all(|l| !l.ends_with(&format!("|{epoch}"))
            || j.iter().position(|x| x == l).unwrap() < entries),
        "alice wrote after thawing: {j:#?}"
    );
    let after: Vec<&String> = j[entries..].iter().collect();
    assert!(
        after
            .iter()
            .all(|l| l.ends_with(&format!("|{}", epoch + 1))),
        "{after:#?}"
    );
    // Any flag change since is bob's: his journal confirms it.
    if flag_field(&room, "rollout") != flag {
        assert!(
            after.iter().any(|l| l.starts_with("flag|confirmed")),
            "{after:#?}"
        );
    }
    assert!(
        holder.stderr().contains("stopped guarding"),
        "{}",
        holder.stderr()
    );
}
