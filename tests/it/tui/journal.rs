//! Reading everything at 80×24: the journal's rows end in `…`, so enter opens the entry
//! under ▸ whole; `/` narrows the journal to what holds a text, the title counting what
//! matches; `g`/`G` jump to the newest and the oldest entry.

use crossterm::event::KeyCode;

use super::common::*;
use shipdeck::tui::{App, Pane};

/// The screen as text, one string per row.
fn rows(world: &World, app: &mut App, width: u16, height: u16) -> Vec<String> {
    screen(world, app, width, height)
        .backend()
        .to_string()
        .lines()
        .map(|l| l.trim_matches('"').to_string())
        .collect()
}

/// The journal focused, on a screen of `width`×`height` drawn once.
fn journal_focused(world: &mut World, width: u16, height: u16) -> App {
    let mut app = App::default();
    screen(world, &mut app, width, height);
    while app.focus() != Pane::Journal {
        key(world, &mut app, KeyCode::Tab);
    }
    app
}

fn type_in(world: &mut World, app: &mut App, text: &str) {
    for c in text.chars() {
        assert_eq!(key(world, app, KeyCode::Char(c)), None, "{c:?} acted");
    }
}

/// The row of the screen that holds `needle`.
fn row<'a>(rows: &'a [String], needle: &str) -> &'a str {
    rows.iter()
        .find(|r| r.contains(needle))
        .unwrap_or_else(|| panic!("no row with {needle:?}:\n{}", rows.join("\n")))
}

/// The journal pane's entry rows (inside its frame).
fn journal_rows(rows: &[String]) -> Vec<String> {
    rows.iter()
        .skip_while(|r| !r.contains("Journal"))
        .skip(1)
        .take_while(|r| !r.starts_with('┗') && !r.starts_with('└'))
        .map(|r| r.trim_matches(|c| c == '┃' || c == '│').to_string())
        .collect()
}

#[test]
fn enter_on_a_journal_row_opens_the_whole_entry_at_80x24() {
    let mut world = paused_by_guardrail();
    let mut app = journal_focused(&mut world, 80, 24);
    let pause = world.journal.back().unwrap().clone();
    assert_eq!(pause.action.as_str(), "pause");
    // The row is cut: the message does not fit 80 columns.
    let before = rows(&world, &mut app, 80, 24);
    let cut = row(&before, "pause: error_rate");
    assert!(cut.contains('…'), "{cut}");

    key(&mut world, &mut app, KeyCode::Enter);
    let t = screen(&world, &mut app, 80, 24);
    let text = t.backend().to_string();
    insta::assert_snapshot!("entry_80x24", t.backend());
    // Every field: the time, who, the verb, the step, and every word of the message.
    assert!(text.contains("2025-03-15 11:53:15 UTC"), "{text}");
    assert!(text.contains("shipdeck"), "{text}");
    assert!(text.contains("pause · the engine's decision"), "{text}");
    assert!(text.contains("Gradual 25%"), "{text}");
    let words: Vec<&str> = text.split_whitespace().collect();
    for word in pause.reason.split_whitespace() {
        assert!(
            words.contains(&word),
            "`{word}` of the message is missing:\n{text}"
        );
    }
    // j walks on to the entry below: the guardrail's own, with the trip behind it.
    key(&mut world, &mut app, KeyCode::Char('j'));
    let older = world.journal[world.journal.len() - 2].clone();
    assert_eq!(older.action.as_str(), "guardrail");
    let t = screen(&world, &mut app, 80, 24);
    insta::assert_snapshot!("entry_trip_80x24", t.backend());
    let text = t.backend().to_string();
    assert!(text.contains("guardrail at 11:53:15 · 2 of"), "{text}");
    assert!(
        text.contains("rule     error_rate above 1% → pause"),
        "{text}"
    );
    key(&mut world, &mut app, KeyCode::Esc);
    assert!(app.popup().is_none());
}

#[test]
fn slash_filters_the_journal_and_the_title_counts_the_matches() {
    let mut world = rolled_back();
    let mut app = journal_focused(&mut world, 120, 40);
    key(&mut world, &mut app, KeyCode::Esc);
    let total = world.journal.len();
    key(&mut world, &mut app, KeyCode::Char('/'));
    type_in(&mut world, &mut app, "Guardrail");
    let typing = rows(&world, &mut app, 120, 40);
    let bottom = typing.last().unwrap();
    assert!(
        bottom.contains("filter the journal: Guardrail█"),
        "{bottom}"
    );
    let wanted = world
        .journal
        .iter()
        .filter(|e| e.headline().to_lowercase().contains("guardrail"))
        .count();
    assert!(wanted > 1 && wanted < total, "{wanted} of {total}");
    assert!(
        bottom.contains(&format!("{wanted} of {total} match")),
        "{bottom}"
    );

    key(&mut world, &mut app, KeyCode::Enter);
    let t = screen(&world, &mut app, 120, 40);
    insta::assert_snapshot!("filtered_120x40", t.backend());
    let text: Vec<String> = t
        .backend()
        .to_string()
        .lines()
        .map(|l| l.trim_matches('"').to_string())
        .collect();
    let title = row(&text, "Journal");
    assert!(
        title.contains(&format!("\"Guardrail\": {wanted} of {total}")),
        "{title}"
    );
    for r in journal_rows(&text).iter().filter(|r| !r.trim().is_empty()) {
        assert!(r.to_lowercase().contains("guardrail"), "{r}");
    }

    // No match: the title and the pane say so.
    key(&mut world, &mut app, KeyCode::Char('/'));
    key(&mut world, &mut app, KeyCode::Esc);
    key(&mut world, &mut app, KeyCode::Char('/'));
    type_in(&mut world, &mut app, "db failover");
    key(&mut world, &mut app, KeyCode::Enter);
    let t = screen(&world, &mut app, 80, 24);
    insta::assert_snapshot!("filtered_no_match_80x24", t.backend());
    let text = t.backend().to_string();
    assert!(
        text.contains(&format!("\"db failover\": none of {total}")),
        "{text}"
    );
    assert!(text.contains("no entry matches \"db failover\""), "{text}");
    // esc clears it: every entry again.
    key(&mut world, &mut app, KeyCode::Esc);
    let text = rows(&world, &mut app, 120, 40);
    assert!(!row(&text, "Journal").contains("of"), "{text:?}");
}

#[test]
fn g_and_shift_g_jump_to_the_newest_and_the_oldest_entry() {
    let mut world = rolled_back();
    let mut app = journal_focused(&mut world, 120, 40);
    key(&mut world, &mut app, KeyCode::Esc);
    let oldest = world.journal.front().unwrap().clone();
    let newest = world.journal.back().unwrap().clone();
    key(&mut world, &mut app, KeyCode::Char('G'));
    let text = rows(&world, &mut app, 120, 40);
    let listed = journal_rows(&text);
    let cursor = row(&listed, "▸");
    assert!(cursor.contains(&oldest.headline()), "{cursor}");
    let shown = listed.len();
    assert!(
        row(&text, "Journal").contains(&format!("{} newer above (k)", world.journal.len() - shown)),
        "{text:?}"
    );
    key(&mut world, &mut app, KeyCode::Char('g'));
    let text = rows(&world, &mut app, 120, 40);
    let listed = journal_rows(&text);
    let cursor = row(&listed, "▸");
    assert!(
        cursor.contains(&newest.headline()[..20]),
        "{cursor}\n{}",
        newest.headline()
    );
    assert!(!row(&text, "Journal").contains("newer above"));
}
