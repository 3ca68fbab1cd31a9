//! Followers anywhere: a screen on another machine sees the holder's changes within a
//! second, its commands reach the holder within a second, and its cost does not grow with
//! the journal.

use std::sync::Arc;
use std::time::{Duration, Instant};

use shipdeck::clock::Clock;
use shipdeck::control::{self, driver};
use shipdeck::engine::Command;
use shipdeck::plan::ListKind;
use shipdeck::store::postgres::DbUrl;
use shipdeck::store::{PgStore, ReleaseStore};

use super::{Machine, Room, plan};
use crate::support::postgres::shared;

const LIMIT: Duration = Duration::from_secs(1);

/// A follower on `machine`: the release opened in this process, on a store of its own.
async fn follow(room: &Room<'_>, machine: &Machine, operator: &str) -> driver::Handle {
    let plan = Arc::new(shipdeck::plan::load(&machine.plan()).unwrap());
    let store: Arc<dyn ReleaseStore> = Arc::new(
        PgStore::open(
            DbUrl::parse(&room.url).unwrap(),
            &plan.release.name,
            &plan.release.version,
        )
        .unwrap(),
    );
    let opts = control::Options::new(operator.into(), Clock::live(), "screen");
    let session = control::open(plan, opts, store).await.unwrap();
    assert!(session.controller.follower_of().is_some(), "it follows");
    driver::spawn(session)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_sees_each_promote_within_1s_and_its_pause_reaches_the_holder_within_1s() {
    let Some(pg) = shared() else { return };
    let room = Room::new(pg);
    // Four quick promotes, then a long watch for the commands: ticks of a release-day
    // item (a headless holder runs on through them), and a pause last.
    let plan = plan("2s").replace("watch: 2s", "watch: 1h").replace(
        "  pre_release: []\n",
        "  pre_release: []\n  release_day: [Announce the release]\n",
    );
    let (a, b) = (room.machine(&plan), room.machine(&plan));
    let holder = a.spawn("alice", &["run", "plan.yaml", "--headless"]);
    room.until("alice to guard the release", Duration::from_secs(30), |r| {
        r.holder().0 == "alice" && r.step() >= 0
    });
    let follower = follow(&room, &b, "bob").await;
    let mut snapshots = follower.watch();

    // Each promote of the holder's, as the follower's screen shows it.
    let mut seen = Vec::new();
    let mut step = snapshots.borrow().engine.step_index();
    while seen.len() < 4 {
        tokio::time::timeout(Duration::from_secs(30), snapshots.changed())
            .await
            .expect("the follower saw no change")
            .unwrap();
        let s = snapshots.borrow_and_update().clone();
        if s.engine.step_index() != step {
            step = s.engine.step_index();
            let promoted = s
                .journal
                .iter()
                .rev()
                .find(|e| e.action.as_str() == "promote")
                .expect("the promote is in the follower's journal");
            let late = (chrono::Utc::now() - promoted.at)
                .to_std()
                .unwrap_or_default();
            seen.push(late);
        }
    }

    // Pauses and resumes sent from the follower, until the holder journals them.
    let mut sent = Vec::new();
    for round in 0..11 {
        let (command, word) = match round {
            10 => (Command::Pause, "pause"),
            r => {
                let done = r % 2 == 0;
                let command = Command::Tick {
                    list: ListKind::ReleaseDay,
                    item: 0,
                    done,
                };
                (command, if done { "tick" } else { "untick" })
            }
        };
        let before = room
            .journal()
            .iter()
            .filter(|l| l.starts_with(word))
            .count();
        let start = Instant::now();
        let at = chrono::Utc::now();
        if let Err(e) = follower
            .command(command, Some(format!("round {round}")))
            .await
        {
            panic!(
                "round {round}: {e:?}\nholder: {:?} {}\njournal: {:#?}\nalice: {}",
                room.holder(),
                room.sql("SELECT lease_until, now(), holder_backend FROM shipdeck_releases"),
                room.journal(),
                holder.stderr()
            );
        }
        loop {
            let s = snapshots.borrow_and_update().clone();
            let done = s
                .journal
                .iter()
                .rfind(|e| e.action.as_str() == word && e.at >= at)
                .cloned();
            if let Some(e) = done {
                assert!(e.operator.starts_with("bob"), "{e:?}");
                sent.push((e.at - at).to_std().unwrap_or_default());
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "round {round}: no {word}"
            );
            let _ = tokio::time::timeout(Duration::from_millis(200), snapshots.changed()).await;
        }
        assert!(
            room.journal()
                .iter()
                .filter(|l| l.starts_with(word))
                .count()
                > before
        );
    }
    seen.sort();
    sent.sort();
    let (f50, f95) = (percentile(&seen, 0.5), percentile(&seen, 0.95));
    let (c50, c95) = (percentile(&sent, 0.5), percentile(&sent, 0.95));
    eprintln!(
        "follower latency (holder change -> follower snapshot): p50 {f50:?} p95 {f95:?}; command latency (follower command -> holder journal): p50 {c50:?} p95 {c95:?}"
    );
    assert!(f95 < LIMIT, "follower latency {seen:?}");
    assert!(c95 < LIMIT, "command latency {sent:?}");
    follower.stop(control::Stop::Quit).await;
}

/// CPU seconds a process has used (user + system), from /proc.
fn cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

#[test]
fn a_followers_cost_stays_flat_with_a_100000_entry_journal() {
    let Some(pg) = shared() else { return };
    let mut costs = Vec::new();
    for entries in [10u32, 100_000] {
        let room = Room::new(pg);
        let plan = plan("1h");
        let (a, b) = (room.machine(&plan), room.machine(&plan));
        // The release exists before its holder: give it a long journal first.
        drop(PgStore::open(DbUrl::parse(&room.url).unwrap(), "checkout-v2", "2.5.0").unwrap());
        let entry = r#"{"at":"2026-01-01T00:00:00Z","operator":"alice","kind":"note","action":"tick","reason":"an old entry"}"#;
        room.sql(&format!(
            "INSERT INTO shipdeck_journal (release_id, epoch, entry)
             SELECT r.id, 0, '{entry}'::jsonb FROM shipdeck_releases r, generate_series(1, {entries})"
        ));
        let _holder = a.spawn("alice", &["run", "plan.yaml", "--headless"]);
        room.until("alice to guard the release", Duration::from_secs(60), |r| {
            r.holder().0 == "alice" && r.step() >= 0
        });
        let follower = b.spawn("bob", &["run", "plan.yaml", "--headless", "--standby"]);
        let start = Instant::now();
        while !follower.stderr().contains("standing by") {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{}",
                follower.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // Opening reads the newest entries only; then each look reads what is new.
        let opened = cpu(follower.child.id());
        std::thread::sleep(Duration::from_secs(8));
        let following = cpu(follower.child.id()) - opened;
        eprintln!(
            "follower with {entries} journal entries: {opened:.2}s CPU to open, {following:.2}s CPU over 8s"
        );
        costs.push((opened, following));
    }
    let (small, large) = (costs[0], costs[1]);
    assert!(
        large.0 < small.0 * 2.0 + 0.3,
        "opening grew with the journal: {costs:?}"
    );
    assert!(
        large.1 < small.1 * 2.0 + 0.3,
        "following grew with the journal: {costs:?}"
    );
}
