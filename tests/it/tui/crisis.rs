//! The screen in a crisis: what happens next and when, and the trip that did it (not
//! the latest one).

use crossterm::event::KeyCode;

use super::common::*;
use shipdeck::engine::Next;
use shipdeck::plan::Action;
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

/// The first row that contains `needle`.
fn row<'a>(rows: &'a [String], needle: &str) -> &'a str {
    rows.iter()
        .find(|r| r.contains(needle))
        .unwrap_or_else(|| panic!("no row with {needle:?}:\n{}", rows.join("\n")))
}

#[test]
fn the_header_and_the_rule_row_count_down_to_the_rollback() {
    let world = rollback_coming();
    // The engine answers what happens next, as a value.
    let next = world.engine.next();
    assert!(
        matches!(
            next,
            Next::Fires {
                rule: 1,
                action: Action::Rollback,
                ..
            }
        ),
        "{next:?}"
    );
    assert_eq!(next.left(), Some(std::time::Duration::from_secs(75)));
    let mut app = App::default();
    let text = rows(&world, &mut app, 120, 40);
    let header = &text[0];
    assert!(
        header.contains("ROLLBACK in 1m 15s unless error_rate ≤ 5.00%"),
        "{header}"
    );
    assert!(
        text[2].contains("ROLLBACK in 1m 15s"),
        "the situation line says it too: {}",
        text[2]
    );
    let rule = row(&text, "error_rate above 5% for 2m");
    assert!(rule.contains("rollback in 1m 15s"), "{rule}");
    insta::assert_snapshot!(
        "rollback_coming_120x40",
        screen(&world, &mut App::default(), 120, 40).backend()
    );
}

#[test]
fn the_header_says_what_each_state_does_next() {
    let header = |world: &World| rows(world, &mut App::default(), 120, 40)[0].clone();
    let baking = header(&baking());
    assert!(baking.contains("● BAKING  promotes in 1h 19m"), "{baking}");
    let approval = header(&awaiting_approval());
    assert!(approval.contains("waits for approval"), "{approval}");
    let paused = header(&paused_by_guardrail());
    assert!(
        paused.contains("‖ PAUSED  by error_rate · resumes once clear"),
        "{paused}"
    );
    let rolling = header(&rolling_back());
    assert!(rolling.contains("waits for the backend"), "{rolling}");
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
