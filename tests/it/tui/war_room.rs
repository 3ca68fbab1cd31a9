//! The war-room view: `z` on Health gives the pane the whole screen and uses it — the
//! state in large letters, what the engine does next in large letters, a tall chart per
//! series with every limit drawn across it; a new trip flashes the badge and rings the
//! bell once.

use crossterm::event::KeyCode;
use ratatui::style::Modifier;
use std::time::{Duration, Instant};

use super::common::*;
use shipdeck::tui::alert::FLASH_FOR;
use shipdeck::tui::settings::{Settings, WarRoom};
use shipdeck::tui::{App, Theme};

/// The screen as text, one string per row.
fn rows(world: &World, app: &mut App, width: u16, height: u16) -> Vec<String> {
    screen(world, app, width, height)
        .backend()
        .to_string()
        .lines()
        .map(|l| l.trim_matches('"').to_string())
        .collect()
}

/// The war-room view of `world`, drawn once at `width`×`height` before `z`.
fn war_room(world: &mut World, mut app: App, width: u16, height: u16) -> App {
    screen(world, &mut app, width, height);
    key(world, &mut app, KeyCode::Esc);
    key(world, &mut app, KeyCode::Char('z'));
    assert!(app.war_room());
    app
}

#[test]
fn at_120x40_the_war_room_uses_the_screen() {
    let mut world = rollback_coming();
    let mut app = war_room(&mut world, App::default(), 120, 40);
    let t = screen(&world, &mut app, 120, 40);
    insta::assert_snapshot!("paused_rollback_coming_120x40", t.backend());
    let text = rows(&world, &mut app, 120, 40);
    let all = text.join("\n");
    // The state in large letters: five rows of blocks.
    let letters = text[4..12].iter().filter(|r| r.contains("██")).count();
    assert_eq!(letters, 5, "{all}");
    assert!(row(&text, "‖ PAUSED by error_rate").contains("██"), "{all}");
    // What comes next, from the engine's own words, in letters and with its condition.
    let next = text.iter().position(|r| r.contains("NEXT")).unwrap();
    assert!(
        text[next + 3].contains("unless error_rate ≤ 5.00%"),
        "{all}"
    );
    // A chart per series, each limit on it; every row used.
    for title in ["error_rate 6.00%", "p95 ", "cpu ", "memory ", "checkouts "] {
        row(&text, &format!("┃  {title}"));
    }
    assert!(
        row(&text, "error_rate 6.00%").contains("above 5% for 2m → rollback in 1m 15s"),
        "{all}"
    );
    for limit in ["╌ rollback 5.00%", "╌ pause 1.00%", "╌ rollback 90%"] {
        row(&text, limit);
    }
    let last = &text[text.len() - 3];
    assert!(
        !last.trim_matches(|c| c == '┃' || c == ' ').is_empty(),
        "the bottom row is used:\n{all}"
    );
}

/// The first row that holds `needle`.
fn row<'a>(rows: &'a [String], needle: &str) -> &'a str {
    rows.iter()
        .find(|r| r.contains(needle))
        .unwrap_or_else(|| panic!("no row with {needle:?}:\n{}", rows.join("\n")))
}

#[test]
fn at_80x24_the_war_room_still_reads() {
    let mut world = rollback_coming();
    let mut app = war_room(&mut world, App::default(), 80, 24);
    let t = screen(&world, &mut app, 80, 24);
    insta::assert_snapshot!("paused_rollback_coming_80x24", t.backend());
}

#[test]
fn at_200x50_in_every_state() {
    for (name, mut world) in [
        ("baking", baking()),
        ("rolled_back", rolled_back()),
        ("awaiting_approval", awaiting_approval()),
    ] {
        let mut app = war_room(&mut world, App::default(), 200, 50);
        let t = screen(&world, &mut app, 200, 50);
        insta::assert_snapshot!(format!("{name}_200x50"), t.backend());
    }
}

/// Whether the war-room badge's cells are drawn the other way round: the first cell of
/// its letters, on the row under the box's top.
fn badge_reversed(world: &World, app: &mut App) -> bool {
    let t = screen(world, app, 120, 40);
    let buffer = t.backend().buffer();
    let y = 5;
    let x = (0..120)
        .find(|x| buffer[(*x, y)].symbol() == "█")
        .expect("the badge's letters");
    buffer[(x, y)].modifier.contains(Modifier::REVERSED)
}

#[test]
fn a_new_trip_flashes_the_badge_and_rings_the_bell_once() {
    let mut world = baking();
    let mut app = war_room(&mut world, App::default(), 120, 40);
    screen(&world, &mut app, 120, 40);
    assert!(!app.take_bell(), "nothing tripped since the view opened");
    assert!(!app.flash_due());
    // The error rate goes past 1%: the pause rule trips.
    world.run(mins(1), |s| s.error_rate = Some(0.02));
    assert_eq!(world.badge(), "PAUSED");
    let t0 = Instant::now();
    screen(&world, &mut app, 120, 40);
    assert!(app.take_bell(), "the trip rings");
    assert!(app.flash_due());
    // The loop starts the flash with the next frame: lit, then unlit, then over.
    assert_eq!(app.flash(t0), Some(t0 + Duration::from_millis(500)));
    assert!(badge_reversed(&world, &mut app), "lit");
    for _ in 0..5 {
        screen(&world, &mut app, 120, 40);
        assert!(!app.take_bell(), "once, not every frame");
    }
    app.flash(t0 + Duration::from_millis(600));
    assert!(!badge_reversed(&world, &mut app), "unlit");
    assert_eq!(app.flash(t0 + FLASH_FOR), None);
    assert!(!badge_reversed(&world, &mut app), "the flash is over");
    // The same trip again, a minute on, is no new trip.
    world.run(mins(1), |s| s.error_rate = Some(0.02));
    screen(&world, &mut app, 120, 40);
    assert!(!app.take_bell());
}

#[test]
fn the_users_settings_turn_the_flash_and_the_bell_off() {
    let mut world = baking();
    let settings = Settings {
        war_room: WarRoom {
            flash: false,
            bell: false,
        },
    };
    let mut app = war_room(&mut world, App::default().with_settings(settings), 120, 40);
    screen(&world, &mut app, 120, 40);
    world.run(mins(1), |s| s.error_rate = Some(0.02));
    screen(&world, &mut app, 120, 40);
    assert!(!app.take_bell() && !app.flash_due());
    // Away from the war room a trip neither rings nor flashes.
    let mut world = baking();
    let mut app = App::default();
    screen(&world, &mut app, 120, 40);
    world.run(mins(1), |s| s.error_rate = Some(0.02));
    screen(&world, &mut app, 120, 40);
    assert!(!app.take_bell() && !app.flash_due());
}

#[test]
fn without_colour_the_war_room_still_reads() {
    let mut world = rollback_coming();
    let mut app = war_room(&mut world, App::new(Theme::dark(), true), 120, 40);
    let t = screen(&world, &mut app, 120, 40);
    let buffer = t.backend().buffer();
    for cell in buffer.content() {
        assert_eq!(cell.fg, ratatui::style::Color::Reset, "{cell:?}");
        assert_eq!(cell.bg, ratatui::style::Color::Reset, "{cell:?}");
    }
    // The badge is a box in reverse video with the state in letters, and in words.
    let text = rows(&world, &mut app, 120, 40);
    assert!(text[5].contains("██"), "{}", text.join("\n"));
    assert!(buffer[(3, 5)].modifier.contains(Modifier::REVERSED));
    assert!(row(&text, "‖ PAUSED by error_rate").contains("██"));
    row(&text, "╌ rollback 5.00%");
}
