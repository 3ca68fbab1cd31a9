//! The screen in a crisis: what happens next and when, sparklines that keep their
//! scale, the incident still on screen after the rollback, a why that covers nothing,
//! the trip that did it (not the latest one), and a header that keeps still.

use crossterm::event::KeyCode;
use ratatui::style::Color;

use super::common::*;
use shipdeck::engine::Next;
use shipdeck::plan::Action;
use shipdeck::tui::{App, Theme, View};

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

/// The health row of `series`.
fn series_row<'a>(rows: &'a [String], series: &str) -> &'a str {
    row(rows, &format!("┃ {series} "))
}

/// The part of a row inside the health pane (the checklist beside it has bars too).
fn in_health(row: &str) -> String {
    row.split("┃│").next().unwrap_or(row).to_string()
}

/// The bars of a health row, oldest first.
fn bars(row: &str) -> String {
    in_health(row)
        .chars()
        .filter(|c| "▁▂▃▄▅▆▇█◆·".contains(*c))
        .collect()
}

#[test]
fn a_climb_towards_the_rollback_limit_shows_on_the_sparkline() {
    let world = climbing();
    let mut app = App::default();
    let t = screen(&world, &mut app, 120, 40);
    let text: Vec<String> = t
        .backend()
        .to_string()
        .lines()
        .map(|l| l.trim_matches('"').to_string())
        .collect();
    let y = text
        .iter()
        .position(|r| r.starts_with("┃ error_rate "))
        .unwrap();
    let line = series_row(&text, "error_rate");
    let drawn = bars(line);
    let climb: String = drawn
        .chars()
        .rev()
        .take(6)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    // 1.99% → 6.60%: every step up shows; nothing is cut off flat at a limit.
    assert_eq!(climb, "▃▄▅▆▇█", "{line}");
    // The limits are marked: past the pause limit in its colour, past the rollback limit
    // in the rollback's.
    let theme = Theme::dark();
    let health = in_health(line);
    let last = health.chars().count() - health.chars().rev().position(|c| c == '█').unwrap() - 1;
    let buffer = t.backend().buffer();
    let fg = |x: usize| buffer[(x as u16, y as u16)].fg;
    let warn = theme.warn.fg.unwrap_or(Color::Reset);
    let breach = theme.spark_breach.fg.unwrap_or(Color::Reset);
    assert_eq!(fg(last - 5), warn, "1.99%");
    assert_eq!(fg(last - 2), warn, "4.70%");
    assert_eq!(fg(last - 1), breach, "5.60%");
    assert_eq!(fg(last), breach, "6.60%");
    insta::assert_snapshot!("climb_120x40", t.backend());
}

#[test]
fn after_a_rollback_health_still_shows_the_incident() {
    let mut world = rolled_back();
    let trip = world.engine.cause().unwrap().clone();
    // Three healthy hours: the history ring has long let the incident go.
    world.healthy(mins(180));
    let oldest = world
        .engine
        .history("error_rate")
        .unwrap()
        .iter()
        .next()
        .unwrap()
        .at;
    assert!(oldest > trip.at, "the history still holds the trip");
    let mut app = App::default();
    screen(&world, &mut app, 120, 40);
    key(&mut world, &mut app, KeyCode::Esc);
    let t = screen(&world, &mut app, 120, 40);
    let text: Vec<String> = t
        .backend()
        .to_string()
        .lines()
        .map(|l| l.trim_matches('"').to_string())
        .collect();
    let title = row(&text, "Health");
    assert!(title.contains("around the rollback at 11:56:15"), "{title}");
    let error_rate = bars(series_row(&text, "error_rate"));
    assert!(error_rate.contains('◆'), "the trip is marked: {error_rate}");
    assert!(
        error_rate.contains('█'),
        "the incident is drawn: {error_rate}"
    );
    let rule = row(&text, "error_rate above 5% for 2m");
    assert!(rule.contains("fired 11:56:15"), "{rule}");
    let pause = row(&text, "error_rate above 1% → pause");
    assert!(pause.contains("fired 11:53:15"), "{pause}");
    // The values now are live.
    assert!(series_row(&text, "error_rate").contains("0.2"), "{text:?}");
    insta::assert_snapshot!("incident_kept_120x40", t.backend());
}

#[test]
fn the_incident_survives_a_restart() {
    let world = rolled_back();
    let plan = world.engine.plan().clone();
    let json = serde_json::to_string(world.engine.progress()).unwrap();
    let restored = shipdeck::engine::Engine::restore(plan, serde_json::from_str(&json).unwrap());
    let kept = restored.progress().incident.as_ref().unwrap();
    assert!(
        kept.samples["error_rate"]
            .iter()
            .any(|p| p.value > Some(0.05))
    );
    assert!(
        kept.end() > kept.at,
        "the recovery after the rollback is kept too"
    );
}

/// Rows of the screen outside the why pane and the journal below it.
fn above_the_journal(screen: &[String]) -> Vec<String> {
    screen
        .iter()
        .take_while(|r| !r.starts_with("┌ Why") && !r.starts_with("┌ Journal"))
        .cloned()
        .collect()
}

#[test]
fn the_why_pane_covers_no_live_data() {
    let world = paused_by_guardrail();
    let mut app = App::default();
    let open = rows(&world, &mut app, 120, 40);
    assert!(app.why_open(), "a guardrail pause opens it by itself");
    let mut closed_app = App::default();
    rows(&world, &mut closed_app, 120, 40);
    let mut w = world;
    key(&mut w, &mut closed_app, KeyCode::Char('w'));
    assert!(!closed_app.why_open());
    let closed = rows(&w, &mut closed_app, 120, 40);
    // Health, the rules, the checklist and the slider are the same with it open.
    assert_eq!(above_the_journal(&open), above_the_journal(&closed));
    // The newest journal entries still show.
    let journal = open
        .iter()
        .position(|r| r.starts_with("┌ Journal"))
        .unwrap();
    assert!(open[journal + 1].contains("11:53:15 pause:"), "{open:?}");
    // Its values say when they were taken; the series now is beside them.
    assert!(row(&open, "fired").contains("pause at 11:53:15: error_rate 1.05%"));
    assert!(row(&open, "│ now").contains("error_rate 1.44% at 11:54:00"));
}

#[test]
fn the_why_pane_keeps_the_value_now_live() {
    let mut world = paused_by_guardrail();
    world.run(mins(1), |s| s.error_rate = Some(0.0515));
    let text = rows(&world, &mut App::default(), 120, 40);
    assert!(row(&text, "fired").contains("1.05%"));
    assert!(row(&text, "│ now").contains("error_rate 5.15% at 11:55:00"));
}

#[test]
fn on_a_small_screen_the_why_waits_for_w() {
    let mut world = paused_by_guardrail();
    let mut app = App::default();
    let text = rows(&world, &mut app, 80, 24);
    assert!(!app.why_open(), "{text:?}");
    assert!(!text.iter().any(|r| r.contains("Why")));
    key(&mut world, &mut app, KeyCode::Char('w'));
    let asked = rows(&world, &mut app, 80, 24);
    assert!(asked.iter().any(|r| r.starts_with("┌ Why")), "{asked:?}");
}

/// Frames a second apart and across samples: the same segments, each where it was.
#[test]
fn the_header_keeps_still_between_frames() {
    let mut world = baking();
    let mut headers = Vec::new();
    for _ in 0..6 {
        let start = world.now;
        for s in [0, 1, 5, 9, 14] {
            world.now = start + chrono::Duration::seconds(s);
            headers.push(rows(&world, &mut App::default(), 120, 40)[0].clone());
        }
        world.now = start;
        // A bake countdown of another width: `1h 19m`, `1h 5m`, `1h`, `59m 45s`.
        world.healthy(mins(7));
    }
    let at = |h: &str, needle: &str| h.find(needle).map(|i| h[..i].chars().count());
    let first = &headers[0];
    for h in &headers {
        for needle in ["shipdeck", "checkout-v2", "2.5.0", "canary", "as alice"] {
            assert_eq!(
                h.contains(needle),
                first.contains(needle),
                "{needle} comes and goes:\n{first}\n{h}"
            );
        }
        for needle in ["data", "Z "] {
            assert_eq!(
                at(h, needle),
                at(first, needle),
                "{needle} moved:\n{first}\n{h}"
            );
        }
    }
    // Samples every 15 s came on time: the data's age says so, and does not count.
    assert!(
        headers.iter().all(|h| h.contains("data ≤15s old")),
        "{headers:#?}"
    );
}

#[test]
fn the_data_age_is_the_newest_samples_own() {
    let mut world = baking();
    // Within the interval the newest sample is as fresh as samples come.
    world.now += chrono::Duration::seconds(14);
    let header = rows(&world, &mut App::default(), 120, 40)[0].clone();
    assert!(header.contains("data ≤15s old"), "{header}");
    // Past it, the age is counted from the sample's own time.
    world.silence(std::time::Duration::from_secs(46));
    let header = rows(&world, &mut App::default(), 120, 40)[0].clone();
    assert!(header.contains("data 1m old"), "{header}");
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
    let why = row(&text, "┌ Why");
    assert!(
        why.contains("the trip that rolled the release back"),
        "{why}"
    );
    assert!(
        row(&text, "│ rule").contains("error_rate above 5% for 2m → rollback"),
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

/// One reading of the data's age, the engine's, for the screen and the controller.
#[test]
fn the_view_takes_the_data_age_from_the_engine() {
    let world = baking();
    let view = View::new(&world.engine, &world.journal, world.now, OPERATOR);
    assert_eq!(view.data_age, world.engine.data_age(world.now));
    assert_eq!(view.data_age, Some(chrono::Duration::zero()));
}
