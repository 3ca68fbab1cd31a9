//! tui::journal::filter: `/` in the journal — text typed in the bottom line, applied by
//! enter, cleared by esc — and what it keeps: the entries whose time, verb, message, step
//! or operator hold the text, in any case. Changes only which rows the pane lists.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;

use crate::engine::journal::Entry;
use crate::tui::input::{self, Edit};
use crate::tui::keymap::Action;
use crate::tui::keys::Intent;
use crate::tui::{App, View};

/// The longest filter: more than any line of the journal needs.
const MAX_FILTER: usize = 200;

/// Text an entry must hold to be listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Filter {
    text: String,
    lower: String,
}

impl Filter {
    /// The filter for `text`; `None` for blank text, which keeps every entry.
    pub(crate) fn new(text: &str) -> Option<Filter> {
        let text = text.trim();
        (!text.is_empty()).then(|| Filter {
            text: text.to_string(),
            lower: text.to_lowercase(),
        })
    }

    /// The text as typed.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Whether the entry's time, verb and message (as the pane shows them), step or
    /// operator hold the text.
    pub(crate) fn matches(&self, e: &Entry) -> bool {
        let holds = |s: &str| s.to_lowercase().contains(&self.lower);
        holds(&e.headline())
            || holds(&e.operator)
            || e.step.as_deref().is_some_and(holds)
            || holds(&e.at.format("%Y-%m-%d %H:%M:%S").to_string())
    }
}

impl App {
    /// `/` with the journal focused: the filter line opens with the filter applied now.
    pub(in crate::tui) fn open_filter(&mut self) {
        let text = self
            .journal
            .filter
            .as_ref()
            .map(|f| f.text().to_string())
            .unwrap_or_default();
        self.journal.typing = Some(text);
    }

    /// A key while the filter is typed: enter applies it, esc clears it.
    pub(in crate::tui) fn on_filter_key(&mut self, key: KeyEvent, view: &View) -> Option<Intent> {
        let text = self.journal.typing.get_or_insert_with(String::new);
        match input::edit(text, key, MAX_FILTER) {
            Edit::Typed => None,
            Edit::Cancel => {
                self.journal.typing = None;
                self.clear_filter()
            }
            Edit::Done => {
                let text = self.journal.typing.take().unwrap_or_default();
                let Some(filter) = Filter::new(&text) else {
                    return self.clear_filter();
                };
                self.journal.set_filter(Some(filter));
                let total = view.journal.len();
                match self.journal.rows(view.journal).len() {
                    0 => self.say(&format!(
                        "no journal entry matches \"{}\"; {} edits the filter, {} clears it",
                        text.trim(),
                        self.keymap.label(Action::Filter),
                        self.keymap.label(Action::Close)
                    )),
                    n => {
                        self.status.set(
                            true,
                            format!("journal: {n} of {total} entries match \"{}\"", text.trim()),
                        );
                        None
                    }
                }
            }
        }
    }

    /// Every entry listed again.
    pub(in crate::tui) fn clear_filter(&mut self) -> Option<Intent> {
        let had = self.journal.filter.is_some();
        self.journal.set_filter(None);
        if had {
            self.status.set(true, "journal filter cleared: every entry");
        }
        None
    }
}

/// The filter being typed, in the bottom line, with how many entries it would keep.
pub(in crate::tui) fn render_input(
    frame: &mut Frame,
    app: &App,
    view: &View,
    text: &str,
    area: Rect,
) {
    let keys = match Filter::new(text) {
        Some(f) => {
            let n = view.journal.iter().filter(|e| f.matches(e)).count();
            format!(
                " {n} of {} match · enter applies · esc clears ",
                view.journal.len()
            )
        }
        None => " enter applies · esc clears ".to_string(),
    };
    input::render(frame, app, " filter the journal: ", text, &keys, area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::journal::{Kind, Verb};
    use chrono::{TimeZone, Utc};

    #[test]
    fn a_filter_holds_in_any_case_in_any_field() {
        let at = Utc.with_ymd_and_hms(2025, 3, 15, 11, 53, 15).unwrap();
        let mut e = Entry::plain(
            at,
            "alice",
            Kind::Decision,
            Verb::Pause,
            "error_rate 1.36% vs threshold 1.00%".into(),
        );
        e.step = Some("Gradual 25%".into());
        for hit in [
            "PAUSE",
            "threshold 1.00",
            "Alice",
            "gradual",
            "11:53",
            "pause: error",
        ] {
            assert!(Filter::new(hit).unwrap().matches(&e), "{hit}");
        }
        for miss in ["rollback", "bob", "12:00"] {
            assert!(!Filter::new(miss).unwrap().matches(&e), "{miss}");
        }
        assert_eq!(Filter::new("  "), None, "blank keeps every entry");
        assert_eq!(Filter::new(" p95 ").unwrap().text(), "p95");
    }
}

#[cfg(test)]
mod key_tests {
    use crate::tui::Pane;
    use crate::tui::rig::Rig;
    use crossterm::event::KeyCode;

    fn type_in(r: &mut Rig, text: &str) {
        for c in text.chars() {
            assert_eq!(r.press(KeyCode::Char(c)), None, "{c:?} acted");
        }
    }

    fn said(r: &Rig) -> String {
        r.app.status().map(|s| s.text.clone()).unwrap_or_default()
    }

    #[test]
    fn slash_types_a_filter_that_enter_applies_and_esc_clears() {
        let mut r = Rig::baking();
        r.focus(Pane::Journal);
        let total = r.journal.len();
        r.press(KeyCode::Char('/'));
        assert_eq!(r.app.journal().typing.as_deref(), Some(""));
        // Keys that act elsewhere are letters here: P asks nothing, q does not quit.
        type_in(&mut r, "FLAG q");
        assert!(r.app.popup().is_none());
        r.press(KeyCode::Backspace);
        r.press(KeyCode::Backspace);
        assert!(r.app.journal().filter.is_none(), "applied only by enter");
        assert_eq!(r.press(KeyCode::Enter), None);
        assert_eq!(r.app.journal().filter.as_ref().unwrap().text(), "FLAG");
        let rows = r.app.journal().rows(&r.journal);
        assert!(!rows.is_empty() && rows.len() < total, "{rows:?}");
        assert!(rows.iter().all(|e| e.headline().contains("flag")));
        assert_eq!(
            said(&r),
            format!("journal: {} of {total} entries match \"FLAG\"", rows.len())
        );

        // / again edits the filter applied.
        r.press(KeyCode::Char('/'));
        assert_eq!(r.app.journal().typing.as_deref(), Some("FLAG"));
        r.press(KeyCode::Enter);

        // esc on the screen takes the filter away first, and only that.
        r.press(KeyCode::Char('z'));
        r.press(KeyCode::Esc);
        assert!(r.app.journal().filter.is_none());
        assert!(r.app.zoomed().is_some(), "the zoom stays for the next esc");
        assert_eq!(said(&r), "journal filter cleared: every entry");
        r.press(KeyCode::Esc);
        assert!(r.app.zoomed().is_none());

        // No match says so, and keeps the filter to edit.
        r.press(KeyCode::Char('/'));
        type_in(&mut r, "zzz");
        r.press(KeyCode::Enter);
        assert!(r.app.journal().rows(&r.journal).is_empty());
        assert_eq!(
            said(&r),
            "no journal entry matches \"zzz\"; / edits the filter, esc clears it"
        );
        // esc while typing clears it too; a blank filter is no filter.
        r.press(KeyCode::Char('/'));
        r.press(KeyCode::Esc);
        assert!(r.app.journal().filter.is_none() && r.app.journal().typing.is_none());
        r.press(KeyCode::Char('/'));
        type_in(&mut r, "  ");
        r.press(KeyCode::Enter);
        assert!(r.app.journal().filter.is_none());
    }
}
