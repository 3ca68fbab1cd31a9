//! No terminal size panics the screen: every width up to 400 and height up to 120, the
//! edges in every state with every popup, random sizes in between, and a thousand resizes
//! in a row.

use crossterm::event::KeyCode;
use proptest::prelude::*;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::sync::OnceLock;

use super::common::*;
use shipdeck::tui::{self, App};

/// Worlds are built once: each is a few thousand engine steps.
fn worlds() -> &'static Vec<World> {
    static WORLDS: OnceLock<Vec<World>> = OnceLock::new();
    WORLDS.get_or_init(|| vec![World::new(), baking(), paused_by_guardrail(), rolled_back()])
}

/// Keys that open each kind of popup, the zoom, the slider, a journal entry and the
/// journal's filter (typed, and applied with no match).
const OPENERS: [&[KeyCode]; 10] = [
    &[],
    &[KeyCode::Char('?')],
    &[KeyCode::Char('R')],
    &[KeyCode::Char('w')],
    &[KeyCode::Char('b')],
    &[KeyCode::Char('z')],
    &[KeyCode::Right, KeyCode::Right],
    &[KeyCode::Esc, KeyCode::BackTab, KeyCode::Enter],
    &[
        KeyCode::Esc,
        KeyCode::BackTab,
        KeyCode::Char('/'),
        KeyCode::Char('x'),
    ],
    &[
        KeyCode::Esc,
        KeyCode::BackTab,
        KeyCode::Char('/'),
        KeyCode::Char('~'),
        KeyCode::Enter,
    ],
];

fn app_with(world: &World, keys: &[KeyCode]) -> App {
    let mut app = App::default();
    let view = world.view();
    for k in keys {
        app.on_key(crossterm::event::KeyEvent::from(*k), &view);
    }
    app
}

fn draw(world: &World, app: &mut App, w: u16, h: u16) {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    let view = world.view();
    t.draw(|f| tui::draw(f, app, &view)).unwrap();
}

#[test]
fn every_width_and_every_height() {
    // Full sweeps on the busiest screen, with and without a popup over it.
    let world = &worlds()[2];
    for keys in [&[][..], &[KeyCode::Char('w')][..]] {
        let mut app = app_with(world, keys);
        for w in 1..=400 {
            draw(world, &mut app, w, 24);
        }
        for h in 1..=120 {
            draw(world, &mut app, 80, h);
        }
    }
}

#[test]
fn edge_sizes_in_every_state_with_every_popup() {
    let edges = [
        (1, 1),
        (1, 120),
        (400, 1),
        (2, 2),
        (79, 23),
        (79, 24),
        (80, 23),
        (80, 24),
        (81, 25),
        (100, 30),
        (400, 24),
        (80, 120),
        (400, 120),
    ];
    for world in worlds() {
        for keys in OPENERS {
            let mut app = app_with(world, keys);
            for (w, h) in edges {
                draw(world, &mut app, w, h);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]
    #[test]
    fn any_size_with_any_popup(
        w in 1u16..=400,
        h in 1u16..=120,
        world in 0usize..4,
        opener in 0usize..OPENERS.len(),
    ) {
        let world = &worlds()[world];
        let mut app = app_with(world, OPENERS[opener]);
        draw(world, &mut app, w, h);
    }
}

#[test]
fn a_thousand_rapid_resizes() {
    let world = &worlds()[2];
    let mut app = app_with(world, &[KeyCode::Char('w')]);
    let mut t = Terminal::new(TestBackend::new(120, 40)).unwrap();
    let view = world.view();
    let mut seed: u32 = 7;
    for _ in 0..1000 {
        // A small LCG: deterministic sizes across the whole range.
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let w = 1 + (seed >> 8) as u16 % 400;
        let h = 1 + (seed >> 20) as u16 % 120;
        t.backend_mut().resize(w, h);
        t.draw(|f| tui::draw(f, &mut app, &view)).unwrap();
        assert_eq!(t.backend().buffer().area.width, w);
    }
}
