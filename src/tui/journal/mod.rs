//! tui::journal: the release's record, newest first — every action and decision with who
//! and why — and the operator's place in it: the row under ▸ (`j`/`k`, `g`/`G`), the
//! filter (`/`, in `filter`) and the whole entry under ▸ (enter, in `entry`). Reads the
//! controller's bounded journal; never writes it.

mod entry;
mod filter;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use std::collections::VecDeque;

use super::keymap::Action;
use super::layout::Pane;
use super::{App, View, fit, kind_style, pane_block, put_lines};
use crate::engine::journal::Entry;

pub(super) use entry::lines as entry_lines;
pub(crate) use filter::Filter;
pub(super) use filter::render_input;

/// Where the operator is in the journal.
#[derive(Debug, Clone, Default)]
pub(crate) struct Reading {
    /// The row under ▸, counted from the newest row listed (0).
    pub(crate) cursor: usize,
    /// The first row drawn.
    pub(crate) top: usize,
    /// The filter applied; every entry is listed without one.
    pub(crate) filter: Option<Filter>,
    /// The filter being typed (`/`), applied by enter.
    pub(crate) typing: Option<String>,
    /// The newest entry when the journal was last seen: as newer ones arrive, ▸ stays on
    /// the entry it is on, so what someone is reading does not slide away under them.
    newest: Option<Entry>,
}

impl Reading {
    /// The rows the pane lists, newest first: every entry, or those the filter keeps.
    pub(crate) fn rows<'a>(&self, journal: &'a VecDeque<Entry>) -> Vec<&'a Entry> {
        journal.iter().rev().filter(|e| self.keeps(e)).collect()
    }

    fn keeps(&self, e: &Entry) -> bool {
        self.filter.as_ref().is_none_or(|f| f.matches(e))
    }

    /// How many rows the pane lists.
    fn count(&self, journal: &VecDeque<Entry>) -> usize {
        match &self.filter {
            None => journal.len(),
            Some(f) => journal.iter().filter(|e| f.matches(e)).count(),
        }
    }

    /// The entry under ▸.
    pub(crate) fn selected<'a>(&self, journal: &'a VecDeque<Entry>) -> Option<&'a Entry> {
        journal
            .iter()
            .rev()
            .filter(|e| self.keeps(e))
            .nth(self.cursor)
    }

    /// ▸ moves `by` rows towards older entries (`older`) or newer ones, stopping at the ends.
    pub(crate) fn step(&mut self, journal: &VecDeque<Entry>, older: bool, by: usize) {
        let last = self.count(journal).saturating_sub(1);
        self.cursor = if older {
            self.cursor.saturating_add(by).min(last)
        } else {
            self.cursor.saturating_sub(by)
        };
    }

    /// ▸ on the newest row listed (`newest`), or on the oldest.
    pub(crate) fn jump(&mut self, journal: &VecDeque<Entry>, newest: bool) {
        self.cursor = if newest {
            0
        } else {
            self.count(journal).saturating_sub(1)
        };
    }

    /// Lists only the entries `filter` keeps (every entry with `None`), from the newest.
    pub(crate) fn set_filter(&mut self, filter: Option<Filter>) {
        self.filter = filter;
        self.cursor = 0;
        self.top = 0;
    }

    /// The journal as a frame is about to show it, in `height` rows when the pane is on
    /// screen. Entries that arrived since the last frame push ▸ down with its entry,
    /// unless it is on the newest and not `pinned` there (its entry open in full): then it
    /// follows the newest. The first row shown moves just enough to keep ▸ in view.
    pub(crate) fn follow(
        &mut self,
        journal: &VecDeque<Entry>,
        height: Option<usize>,
        pinned: bool,
    ) {
        if journal.back() != self.newest.as_ref() {
            if self.cursor > 0 || self.top > 0 || pinned {
                let arrived = journal
                    .iter()
                    .rev()
                    .take_while(|e| Some(*e) != self.newest.as_ref())
                    .filter(|e| self.keeps(e))
                    .count();
                self.cursor += arrived;
                self.top += arrived;
            }
            self.newest = journal.back().cloned();
        }
        let count = self.count(journal);
        self.cursor = self.cursor.min(count.saturating_sub(1));
        if let Some(height) = height {
            self.top = shown_from(self.top, self.cursor, height);
        }
        self.top = self.top.min(self.cursor);
    }
}

/// The first row to draw so that row `cursor` shows in `height` rows, moving `top` as
/// little as it takes.
fn shown_from(top: usize, cursor: usize, height: usize) -> usize {
    let lowest = cursor.saturating_sub(height.saturating_sub(1));
    top.clamp(lowest, cursor.max(lowest))
}

pub fn render(frame: &mut Frame, app: &App, view: &View, area: Rect) {
    let theme = app.theme();
    let reading = app.journal();
    let rows = reading.rows(view.journal);
    let focused = app.focus() == Pane::Journal;
    let block_inner = pane_block(app, Pane::Journal, None).inner(area);
    let height = usize::from(block_inner.height);
    let cursor = reading.cursor.min(rows.len().saturating_sub(1));
    let top = shown_from(reading.top.min(cursor), cursor, height);
    let mut detail = "newest first".to_string();
    if let Some(f) = &reading.filter {
        let total = view.journal.len();
        match rows.len() {
            0 => detail.push_str(&format!(" · \"{}\": none of {total}", f.text())),
            n => detail.push_str(&format!(" · \"{}\": {n} of {total}", f.text())),
        }
    }
    if top > 0 {
        let up = app.keymap().label(Action::Up);
        detail.push_str(&format!(" · {top} newer above ({up})"));
    }
    let block = pane_block(app, Pane::Journal, Some(detail));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    if rows.is_empty() {
        let text = match &reading.filter {
            Some(f) => format!(
                " no entry matches \"{}\": {} edits the filter, {} clears it",
                f.text(),
                app.keymap().label(Action::Filter),
                app.keymap().label(Action::Close)
            ),
            None => " nothing yet: every action and decision will be recorded here".to_string(),
        };
        put_lines(
            frame,
            inner,
            &[Line::styled(fit(&text, width), theme.muted)],
        );
        return;
    }
    let shown: Vec<&Entry> = rows.iter().skip(top).take(height).copied().collect();
    // Times of day alone, while everything shown happened today; once anything shown is
    // from another day (a long release, or a fast clock), every row names its day, so the
    // column stays aligned and nobody reads yesterday's rollback as this morning's.
    let today = view.now.date_naive();
    let stamp = if shown.iter().all(|e| e.at.date_naive() == today) {
        "%H:%M:%S"
    } else {
        "%m-%d %H:%M"
    };
    let lines: Vec<Line> = shown
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let here = focused && top + i == cursor;
            let pointer = if here { "▸" } else { " " };
            let time = format!("{pointer}{} ", e.at.format(stamp));
            let who = format!(" ({})", e.operator);
            let room = width.saturating_sub(time.chars().count() + who.chars().count());
            let headline = fit(&e.headline(), room);
            let pad = room.saturating_sub(headline.chars().count());
            let line = Line::from(vec![
                Span::styled(time, theme.muted),
                Span::styled(headline, kind_style(theme, e.kind)),
                Span::styled(who, theme.muted),
                Span::raw(" ".repeat(pad)),
            ]);
            if here {
                line.style(theme.selected)
            } else {
                line
            }
        })
        .collect();
    put_lines(frame, inner, &lines);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::journal::{Kind, Verb};
    use chrono::{TimeZone, Utc};

    fn journal(n: i64) -> VecDeque<Entry> {
        (0..n)
            .map(|i| {
                let at = Utc.timestamp_opt(1_700_000_000 + i * 60, 0).unwrap();
                let verb = if i % 3 == 0 { Verb::Pause } else { Verb::Tick };
                Entry::plain(at, "alice", Kind::Action, verb, format!("entry {i}"))
            })
            .collect()
    }

    #[test]
    fn the_cursor_stays_on_its_entry_as_newer_ones_arrive() {
        let mut j = journal(10);
        let mut r = Reading::default();
        r.follow(&j, Some(4), false);
        r.step(&j, true, 5);
        r.follow(&j, Some(4), false);
        assert_eq!(r.selected(&j).unwrap().reason, "entry 4");
        assert_eq!(r.top, 2, "scrolled just enough to show it");
        let more = journal(13);
        j.extend(more.into_iter().skip(10));
        r.follow(&j, Some(4), false);
        assert_eq!(r.selected(&j).unwrap().reason, "entry 4");
        assert_eq!(r.top, 5);
        // On the newest, it follows the newest.
        r.jump(&j, true);
        r.follow(&j, Some(4), false);
        j.push_back(journal(14).pop_back().unwrap());
        r.follow(&j, Some(4), false);
        assert_eq!(r.selected(&j).unwrap().reason, "entry 13");
        r.jump(&j, false);
        r.follow(&j, Some(4), false);
        assert_eq!(r.selected(&j).unwrap().reason, "entry 0");
        assert_eq!(r.top, 10);
    }

    #[test]
    fn a_filter_lists_what_it_keeps_and_counts_only_those_arriving() {
        let mut j = journal(10);
        let mut r = Reading::default();
        r.set_filter(Filter::new("PAUSE"));
        let rows: Vec<&str> = r.rows(&j).iter().map(|e| e.reason.as_str()).collect();
        assert_eq!(rows, ["entry 9", "entry 6", "entry 3", "entry 0"]);
        r.follow(&j, Some(3), false);
        r.step(&j, true, 1);
        r.follow(&j, Some(3), false);
        assert_eq!(r.selected(&j).unwrap().reason, "entry 6");
        j.extend(journal(13).into_iter().skip(10));
        r.follow(&j, Some(3), false);
        assert_eq!(r.cursor, 2, "one of the three new entries is a pause");
        assert_eq!(r.selected(&j).unwrap().reason, "entry 6");
    }

    #[test]
    fn shown_from_moves_the_window_as_little_as_it_takes() {
        assert_eq!(shown_from(0, 3, 5), 0);
        assert_eq!(shown_from(0, 7, 5), 3);
        assert_eq!(shown_from(3, 2, 5), 2);
        assert_eq!(shown_from(3, 5, 5), 3);
        assert_eq!(shown_from(9, 0, 0), 0);
    }
}
