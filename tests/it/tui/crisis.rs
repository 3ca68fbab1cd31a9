//! The screen in a crisis: what happens next and when, and the trip that did it (not
//! the latest one).

use crossterm::event::KeyCode;

use super::common::*;
use shipdeck::tui::App;

/// The screen as text, one string per row.
fn rows(world: &World, app: &mut App, width: u16, height: u16) -> Vec<String> {
    let t = screen(world, app, width, height);
    t.backend()
        .to_string()
        .lines()
        .map(|l| l.trim_matches('"').to_string())
        .collect()
}

/// After a rollback on error_rate, p95 trips too. `w` and `status` tell the error_rate
/// trip: it is the one that rolled the release back.
fn rolled_back_then_p95_trips() -> World {
    let mut world = rolled_back();
    world.run(mins(1), |s| s.p95 = Some(3.0));
    let newest = world.engine.progress().trips.last().unwrap();
    assert_eq!(
        newest.metric, "p95",
        "the newest trip is after the rollback"
    );
    world
}

#[test]
fn w_tells_the_trip_that_rolled_back_not_the_latest() {
    let mut world = rolled_back_then_p95_trips();
    let cause = world.engine.cause().unwrap();
    assert_eq!(cause.rule_text, "error_rate above 5% for 2m → rollback");
    let mut app = App::default();
    screen(&world, &mut app, 120, 40);
    key(&mut world, &mut app, KeyCode::Esc);
    key(&mut world, &mut app, KeyCode::Char('w'));
    let text = rows(&world, &mut app, 120, 40);
    let rule = text
        .iter()
        .find(|r| r.contains("║ rule"))
        .unwrap_or_else(|| panic!("{text:?}"));
    assert!(
        rule.contains("error_rate above 5% for 2m → rollback"),
        "{text:?}"
    );
}

/// `shipdeck status` on the world's saved state.
fn status(world: &World) -> String {
    use crate::support::cli::run;
    use shipdeck::store::{FileStore, ReleaseStore};
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.yaml");
    let source =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/tui/common/plan.yaml");
    std::fs::copy(source, &plan).unwrap();
    let store = FileStore::open(&dir.path().join(".shipdeck")).unwrap();
    store.save(world.engine.progress()).unwrap();
    let (code, stdout, stderr) = run(&["status", plan.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    stdout
}

#[test]
fn status_says_what_happens_next() {
    let stdout = status(&rollback_coming());
    assert!(
        stdout.contains("next (at 11:55:00): ROLLBACK in 1m 15s unless error_rate ≤ 5.00%"),
        "{stdout}"
    );
}

#[test]
fn status_tells_the_trip_that_rolled_back_not_the_latest() {
    let stdout = status(&rolled_back_then_p95_trips());
    let line = stdout
        .lines()
        .find(|l| l.contains("the trip that did it"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.contains("error_rate 6.10%"), "{line}");
    assert!(!stdout.contains("p95 3.00s"), "{stdout}");
}
