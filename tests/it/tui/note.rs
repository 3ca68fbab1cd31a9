//! A note from the room: `n` opens a line at the bottom of the screen, enter journals
//! it with the operator's name and engine time, esc drops it; whatever a note holds is
//! shown escaped.

use crossterm::event::KeyCode;

use super::common::*;
use shipdeck::engine::Command;
use shipdeck::engine::journal::{Kind, Verb};
use shipdeck::tui::{App, Intent};

fn type_in(world: &mut World, app: &mut App, text: &str) {
    for c in text.chars() {
        assert_eq!(key(world, app, KeyCode::Char(c)), None, "{c:?} acted");
    }
}

#[test]
fn n_writes_a_note_into_the_journal() {
    let mut world = baking();
    let mut app = App::default();
    screen(&world, &mut app, 120, 40);
    key(&mut world, &mut app, KeyCode::Char('n'));
    // Keys that act elsewhere are letters here: R asks nothing, q does not quit.
    type_in(&mut world, &mut app, "Rq");
    key(&mut world, &mut app, KeyCode::Backspace);
    key(&mut world, &mut app, KeyCode::Backspace);
    type_in(
        &mut world,
        &mut app,
        "payments saw a spike in 502s; DB failover at 11:50",
    );
    let typing = screen(&world, &mut app, 120, 40);
    insta::assert_snapshot!("note_typing_120x40", typing.backend());
    assert!(app.popup().is_none());

    let intent = key(&mut world, &mut app, KeyCode::Enter);
    assert!(matches!(
        intent,
        Some(Intent::Command {
            command: Command::Note { .. },
            ..
        })
    ));
    let entry = world.journal.back().unwrap();
    assert_eq!(entry.action, Verb::Note);
    assert_eq!(entry.kind, Kind::Action);
    assert_eq!(entry.operator, OPERATOR);
    assert_eq!(entry.at, world.now);
    assert_eq!(
        entry.reason,
        "payments saw a spike in 502s; DB failover at 11:50"
    );
    assert_eq!(world.badge(), "BAKING", "a note changes nothing else");
    let text = screen(&world, &mut app, 120, 40).backend().to_string();
    assert!(
        text.contains("note: payments saw a spike in 502s; DB failover at 11:50 (alice)"),
        "{text}"
    );
}

#[test]
fn esc_drops_the_note_and_journals_nothing() {
    let mut world = baking();
    let mut app = App::default();
    let before = world.journal.len();
    key(&mut world, &mut app, KeyCode::Char('n'));
    type_in(&mut world, &mut app, "not this");
    assert_eq!(key(&mut world, &mut app, KeyCode::Esc), None);
    assert_eq!(world.journal.len(), before);
    let text = screen(&world, &mut app, 120, 40).backend().to_string();
    let bottom = text.lines().last().unwrap_or_default();
    assert!(
        bottom.contains("note dropped; nothing was journaled"),
        "{bottom}"
    );
}

#[test]
fn a_note_from_outside_is_shown_escaped() {
    let mut world = baking();
    world.must(Command::Note {
        text: "all good\n11:52:00 rollback: forged (mallory)\u{1b}]0;owned\u{7}".into(),
    });
    let mut app = App::default();
    let text = screen(&world, &mut app, 120, 40).backend().to_string();
    assert!(
        text.contains(r"note: all good\n11:52:00 rollback: forged (mallory)\u{1b}]0;owned\u{7}"),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'));
}
