//! The fleet screen (`shipdeck --store postgres`, no command): the list drawn from
//! releases built here, at two sizes, with its help and a database that stopped
//! answering; and the real binary in tmux against a real PostgreSQL, listing a release a
//! headless run started in a fresh database, opening it with enter and coming back.

use chrono::{DateTime, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::tmux::Tmux;
use crate::support::postgres::shared;
use crate::war_room::{Room, plan};
use shipdeck::store::Holder;
use shipdeck::store::postgres::Release;
use shipdeck::tui::Theme;
use shipdeck::tui::fleet::{Fleet, FleetScreen, render};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 15, 14, 30, 0).unwrap()
}

fn holder() -> Holder {
    serde_json::from_value(serde_json::json!({
        "operator": "alice",
        "pid": 4242,
        "host": "build-01",
        "mode": "headless",
        "since": "2025-03-15T12:00:00Z",
    }))
    .unwrap()
}

/// Two releases: one baking under a controller, one rolled back with nobody at it.
fn fleet() -> Fleet {
    let at = |h, m, s| Utc.with_ymd_and_hms(2025, 3, 15, h, m, s).unwrap();
    let mut f = Fleet {
        releases: vec![
            Release {
                name: "search".into(),
                version: "1.4.0".into(),
                state: Some("ROLLED BACK".into()),
                percent: Some(0),
                holder: None,
                heartbeat: None,
                last_trip: Some(
                    "error_rate above 5% for 2m (rollback) at 2025-03-15 09:12:40Z".into(),
                ),
                created_at: at(8, 0, 0) - chrono::Duration::days(1),
                updated_at: at(9, 12, 41),
            },
            Release {
                name: "checkout-v2".into(),
                version: "2.5.0".into(),
                state: Some("BAKING".into()),
                percent: Some(25),
                holder: Some(holder()),
                heartbeat: Some(at(14, 29, 59)),
                last_trip: None,
                created_at: at(12, 0, 0),
                updated_at: at(14, 29, 59),
            },
        ],
        read_at: Some(at(14, 29, 59)),
        error: None,
        plan_dirs: vec![PathBuf::from(".")],
        database: "postgres://shipdeck:***@db.internal:5432/releases".into(),
        ..Fleet::default()
    };
    f.plans.insert(
        ("checkout-v2".into(), "2.5.0".into()),
        PathBuf::from("deploy/checkout/plan.yaml"),
    );
    f
}

fn draw(screen: &FleetScreen, fleet: &Fleet, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| render(f, screen, fleet, now())).unwrap();
    t
}

fn press(screen: &mut FleetScreen, fleet: &Fleet, code: KeyCode) {
    screen.on_key(KeyEvent::new(code, KeyModifiers::NONE), fleet);
}

#[test]
fn two_releases_at_120x40_and_80x24() {
    let f = fleet();
    let screen = FleetScreen::new(Theme::dark(), "bob");
    for (w, h) in [(120, 40), (80, 24)] {
        let t = draw(&screen, &f, w, h);
        insta::assert_snapshot!(format!("fleet_{w}x{h}"), t.backend());
    }
    let text = draw(&screen, &f, 120, 40).backend().to_string();
    assert!(text.contains("● BAKING"), "{text}");
    assert!(text.contains("✗ ROLLED BACK"), "{text}");
    assert!(
        text.contains("deploy/checkout/plan.yaml · enter opens it"),
        "{text}"
    );
}

#[test]
fn the_help_a_missing_plan_and_a_database_that_stopped_answering() {
    let mut f = fleet();
    let mut screen = FleetScreen::new(Theme::dark(), "bob");
    press(&mut screen, &f, KeyCode::Char('j'));
    press(&mut screen, &f, KeyCode::Enter);
    f.error = Some("cannot reach the database at postgres://shipdeck:***@db.internal:5432/releases: connection refused".into());
    insta::assert_snapshot!(
        "fleet_no_plan_and_no_database",
        draw(&screen, &f, 120, 40).backend()
    );
    press(&mut screen, &f, KeyCode::Char('?'));
    insta::assert_snapshot!("fleet_help", draw(&screen, &f, 120, 40).backend());
    // A database that never answered: no list, and no "no releases yet" either.
    let never = Fleet {
        releases: Vec::new(),
        read_at: None,
        ..f.clone()
    };
    press(&mut screen, &never, KeyCode::Esc);
    let text = draw(&screen, &never, 120, 40).backend().to_string();
    assert!(text.contains("The database does not answer."), "{text}");
    assert!(
        text.contains("no list yet: the database has not answered"),
        "{text}"
    );
    assert!(!text.contains("No releases yet"), "{text}");
    let small = draw(&screen, &f, 79, 24).backend().to_string();
    assert!(small.contains("terminal too small (need 80×24)"), "{small}");
}

#[test]
fn the_real_binary_lists_a_release_started_in_a_fresh_database_and_opens_it() {
    if !Tmux::installed() {
        return;
    }
    let Some(pg) = shared() else { return };
    let room = Room::new(pg);
    let holder = room.machine(&plan("10m"));
    let _run = holder.spawn("alice", &["run", "plan.yaml", "--headless"]);
    let start = Instant::now();
    while room.sql("SELECT count(*) FROM shipdeck_releases WHERE state IS NOT NULL") != "1" {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the headless run never saved its state"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Another machine, with its own copy of the plan.
    let viewer = room.machine(&plan("10m"));
    let command = format!(
        "cd {} && SHIPDECK_DATABASE_URL={} {} --store postgres --operator bob; echo SHIPDECK-EXITED-$?; sleep 60",
        viewer.plan().parent().unwrap().display(),
        room.url,
        env!("CARGO_BIN_EXE_shipdeck")
    );
    let tmux = Tmux::start("fleet", &command);
    let list = tmux.wait_for("the release in the list", |s| {
        s.contains("checkout-v2") && s.contains("BAKING") && s.contains("alice (headless")
    });
    assert!(list.contains("1 of 1 guarded"), "{list}");
    assert!(list.contains("plan.yaml · enter opens it"), "{list}");

    // Enter opens it: this machine follows the headless holder.
    tmux.keys(&["Enter"]);
    tmux.wait_for("the release screen, following", |s| {
        s.contains("READ-ONLY") && s.contains("Pipeline")
    });
    // q closes it and comes back to the list; q again quits.
    tmux.keys(&["q"]);
    tmux.wait_for("the list again", |s| {
        s.contains("Releases") && s.contains("closed checkout-v2 2.5.0")
    });
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("the exit", |s| s.contains("SHIPDECK-EXITED-"));
    assert!(screen.contains("SHIPDECK-EXITED-0"), "{screen}");
    assert_eq!(
        tmux.run(&["display-message", "-p", "-t", "e2e", "#{alternate_on}"])
            .trim(),
        "0"
    );
}
