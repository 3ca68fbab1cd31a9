//! The keys as people read them: the `?` popup drawn from the one key table, readable at
//! 80×24 (every word whole, every row reachable by scrolling), with the user's own keys,
//! and the README's key table, which must be that same table.

use crossterm::event::KeyCode;
use std::path::Path;

use super::common::*;
use shipdeck::tui::keymap::{self, KEYS};
use shipdeck::tui::{App, help};

/// The popup's text rows (inside its frame) on a `w`×`h` screen.
fn popup_rows(world: &World, app: &mut App, w: u16, h: u16) -> Vec<String> {
    let text = screen(world, app, w, h).backend().to_string();
    text.lines()
        .filter_map(|l| {
            let l = l.trim_matches('"');
            let start = l.find('║')?;
            let end = l.rfind('║')?;
            (end > start).then(|| l[start + '║'.len_utf8()..end].trim().to_string())
        })
        .collect()
}

#[test]
fn at_80x24_the_help_pages_through_every_key_without_cutting_a_word() {
    let mut world = baking();
    let mut app = App::default();
    screen(&world, &mut app, 80, 24);
    key(&mut world, &mut app, KeyCode::Char('?'));
    insta::assert_snapshot!("help_80x24", screen(&world, &mut app, 80, 24).backend());

    // Scroll to the end, a line at a time, gathering every row shown.
    let mut seen: Vec<String> = Vec::new();
    for _ in 0..80 {
        for row in popup_rows(&world, &mut app, 80, 24) {
            if !seen.contains(&row) {
                seen.push(row);
            }
        }
        key(&mut world, &mut app, KeyCode::Char('j'));
    }
    let last = popup_rows(&world, &mut app, 80, 24);
    assert!(
        last.iter()
            .any(|r| r.contains("force past what is in the way")),
        "the last row is reachable: {last:#?}"
    );
    insta::assert_snapshot!("help_80x24_end", screen(&world, &mut app, 80, 24).backend());
    // Every word of every row is there whole: nothing is cut at the frame.
    let words: Vec<&str> = seen.iter().flat_map(|r| r.split_whitespace()).collect();
    for row in KEYS {
        for word in row.does.split_whitespace() {
            assert!(
                words.contains(&word),
                "`{word}` of {:?} is cut or missing",
                row.action
            );
        }
    }
    // Any other key closes it.
    key(&mut world, &mut app, KeyCode::Char('x'));
    assert!(app.popup().is_none());
}

#[test]
fn the_help_shows_the_users_own_keys() {
    let mut world = baking();
    let keys = keymap::parse(
        Path::new("keymap.yaml"),
        "rollback: X\nnote: [N, ctrl-n]\ntick: v\n",
    )
    .unwrap();
    let mut app = App::default().with_keymap(keys);
    screen(&world, &mut app, 120, 40);
    key(&mut world, &mut app, KeyCode::Char('?'));
    let rows = popup_rows(&world, &mut app, 120, 40);
    assert!(
        rows.iter()
            .any(|r| r.starts_with("X ") && r.contains("roll back")),
        "{rows:#?}"
    );
    assert!(
        rows.iter()
            .any(|r| r.starts_with("N ctrl-n ") && r.contains("note")),
        "{rows:#?}"
    );
    assert!(!rows.iter().any(|r| r.starts_with("R ")), "{rows:#?}");
    // The bottom line hints the rebound key too.
    key(&mut world, &mut app, KeyCode::Esc);
    let text = screen(&world, &mut app, 120, 40).backend().to_string();
    let bottom = text.lines().last().unwrap_or_default();
    assert!(bottom.contains("X rollback"), "{bottom}");
    // So do the popups' own hints.
    key(&mut world, &mut app, KeyCode::Char('b'));
    let text = screen(&world, &mut app, 120, 40).backend().to_string();
    assert!(text.contains("j/k move · v tick · esc close"), "{text}");
}

/// The README's key table is this one, with the default keys: paste the printed table in
/// its place when the keys change.
#[test]
fn the_readme_key_table_is_the_key_table_in_the_code() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let table: String = readme
        .split("\n## Keys\n")
        .nth(1)
        .expect("the README has a `## Keys` section")
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .map(|l| format!("{l}\n"))
        .collect();
    let wanted = help::readme_table();
    assert!(
        table == wanted,
        "the README's key table differs from tui::keymap::KEYS; put this in its place:\n\n{wanted}"
    );
}
