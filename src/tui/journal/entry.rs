//! tui::journal::entry: what enter shows of the journal entry under ▸ — every field of
//! it, the message in full and wrapped (the pane cuts it to one row), its values in their
//! units and the guardrail trip behind it — and the keys that walk on to the next entry
//! or scroll a long one. Lines only: the popup frames them.

use ratatui::layout::Rect;
use ratatui::text::Line;

use crate::engine::guardrail::format_value;
use crate::engine::journal::{Entry, Kind};
use crate::support::escape::shown;
use crate::support::fmt;
use crate::tui::app::Popup;
use crate::tui::keymap::Action;
use crate::tui::keys::{Flow, Intent};
use crate::tui::popup::{Draft, LABEL, bound_keys_line, frame_width};
use crate::tui::{App, View, kind_style};

impl App {
    /// Enter in the journal: the entry under ▸, in full.
    pub(in crate::tui) fn open_entry(&mut self, view: &View) -> Option<Intent> {
        let Some(e) = self.journal.selected(view.journal) else {
            return self.say("the journal lists no entry to open");
        };
        self.popup = Some(Popup::Entry {
            entry: Box::new(e.clone()),
            scroll: 0,
        });
        None
    }

    /// A key while an entry is open: `j`/`k` (and `g`/`G`) walk on to the entry listed
    /// below or above it, the page keys scroll one too long for the screen, the closing
    /// keys close it; any other key acts on the screen as if it were not open.
    pub(in crate::tui) fn on_entry_key(
        &mut self,
        entry: Entry,
        scroll: usize,
        action: Option<Action>,
        view: &View,
    ) -> Flow {
        let walk = |app: &mut App| {
            app.popup = app.journal.selected(view.journal).map(|e| Popup::Entry {
                entry: Box::new(e.clone()),
                scroll: 0,
            });
        };
        match action {
            Some(a @ (Action::Down | Action::Up)) => {
                self.journal.step(view.journal, a == Action::Down, 1);
                walk(self);
            }
            Some(a @ (Action::First | Action::Last)) => {
                self.journal.jump(view.journal, a == Action::First);
                walk(self);
            }
            Some(a @ (Action::PageDown | Action::PageUp)) => {
                let page = self.area().map_or(10, |r| window(r).1);
                let max = self.area().map_or(0, |r| max_scroll(self, view, &entry, r));
                let scroll = if a == Action::PageDown {
                    scroll.saturating_add(page).min(max)
                } else {
                    scroll.saturating_sub(page)
                };
                self.popup = Some(Popup::Entry {
                    entry: Box::new(entry),
                    scroll,
                });
            }
            Some(Action::Close | Action::Apply | Action::Quit) => {}
            _ => return Flow::Pass,
        }
        Flow::Done(None)
    }
}

/// What kind of entry it is, in words.
fn kind_words(kind: Kind) -> &'static str {
    match kind {
        Kind::Action => "a person's command",
        Kind::Decision => "the engine's decision",
        Kind::Outside => "a change made outside shipdeck",
        Kind::Error => "an adapter failure",
        Kind::Note => "information",
    }
}

/// Every field of the entry, wrapped to `width`.
fn body<'a>(app: &App, view: &View, e: &Entry, width: usize) -> Vec<Line<'a>> {
    let theme = app.theme();
    let mut d = Draft::new(app, width);
    d.field(
        "time",
        &e.at
            .format("%Y-%m-%d %H:%M:%S UTC (engine clock)")
            .to_string(),
        theme.popup,
    );
    let who = match &e.origin {
        Some(o) => format!("{} ({o})", shown(&e.operator)),
        None => shown(&e.operator).into_owned(),
    };
    d.field("who", &who, theme.popup);
    d.field(
        "what",
        &format!("{} · {}", shown(e.action.as_str()), kind_words(e.kind)),
        kind_style(theme, e.kind),
    );
    if let Some(step) = &e.step {
        d.field("step", &shown(step), theme.popup);
    }
    d.field("message", &shown(&e.reason), theme.popup);
    if !e.values.is_empty() {
        let values = e.values_text(&view.engine.plan().metrics);
        d.field("values", &values, theme.popup);
    }
    if let Some(x) = &e.explain {
        d.field("rule", &shown(&x.rule_text), theme.title);
        let trip = shown(&x.summary()).into_owned();
        if trip != shown(&e.reason) {
            d.field("trip", &trip, theme.bad);
        }
        if x.held_secs > 0 {
            let held = format!(
                "{} from {}",
                fmt::secs(x.held_secs),
                x.since.format("%H:%M:%S")
            );
            d.field("held", &held, theme.popup);
        }
        // Whole samples to a line: a time is never parted from its value.
        let room = width.saturating_sub(LABEL);
        let mut rows: Vec<String> = vec![String::new()];
        for p in &x.samples {
            let v = p
                .value
                .map_or_else(|| "missing".into(), |v| format_value(v, x.unit));
            let sample = format!("{} {v}", p.at.format("%H:%M:%S"));
            let line = rows
                .last_mut()
                .filter(|l| l.is_empty() || l.chars().count() + 3 + sample.chars().count() <= room);
            match line {
                Some(l) if l.is_empty() => l.push_str(&sample),
                Some(l) => l.push_str(&format!(" · {sample}")),
                None => rows.push(sample),
            }
        }
        for (i, row) in rows.iter().filter(|r| !r.is_empty()).enumerate() {
            d.field(if i == 0 { "samples" } else { "" }, row, theme.popup);
        }
        let query = x.query.as_deref().map_or_else(
            || "(simulated source: no query)".to_string(),
            |q| shown(q).into_owned(),
        );
        d.field("query", &query, theme.muted);
    }
    d.lines
}

/// The text width and the rows the fields get in a popup on a screen of `area`: two rows
/// of the screen stay clear, two are the frame, two the blank line and the keys.
fn window(area: Rect) -> (usize, usize) {
    let width = usize::from(frame_width(area).saturating_sub(4));
    (width, usize::from(area.height.saturating_sub(6)).max(1))
}

/// How far the entry's fields scroll on a screen of `area`.
fn max_scroll(app: &App, view: &View, e: &Entry, area: Rect) -> usize {
    let (width, rows) = window(area);
    body(app, view, e, width).len().saturating_sub(rows)
}

/// The popup's title and lines for entry `e`, `scroll` lines down, on a screen of `area`;
/// `at` is where it stands among the `of` rows listed, newest first.
pub(in crate::tui) fn lines<'a>(
    app: &App,
    view: &View,
    e: &Entry,
    scroll: usize,
    (at, of): (usize, usize),
    area: Rect,
) -> (String, Vec<Line<'a>>) {
    let (width, rows) = window(area);
    let all = body(app, view, e, width);
    let total = all.len();
    let from = scroll.min(total.saturating_sub(rows));
    let mut lines: Vec<Line> = all.into_iter().skip(from).take(rows).collect();
    let title = format!(
        " {} at {} · {at} of {of}, newest first ",
        shown(e.action.as_str()),
        e.at.format("%H:%M:%S")
    );
    let mut keys: Vec<(&[Action], &str)> = vec![(&[Action::Down, Action::Up], "older/newer")];
    let more = format!("lines {}–{} of {total}", from + 1, (from + rows).min(total));
    if total > rows {
        keys.push((&[Action::PageDown, Action::PageUp], &more));
    }
    keys.push((&[Action::Close], "close"));
    lines.push(Line::raw(""));
    lines.push(bound_keys_line(app, &keys));
    (title, lines)
}

#[cfg(test)]
mod tests {
    use crate::engine::Command;
    use crate::tui::Pane;
    use crate::tui::app::Popup;
    use crate::tui::rig::Rig;
    use crossterm::event::KeyCode;

    fn open(r: &Rig) -> Option<String> {
        match r.app.popup() {
            Some(Popup::Entry { entry, .. }) => Some(entry.reason.clone()),
            _ => None,
        }
    }

    #[test]
    fn enter_opens_the_entry_under_the_cursor_and_j_k_walk_on() {
        let mut r = Rig::baking();
        let long = "payments saw 502s from the new checkout;".repeat(8);
        r.run(Command::Note { text: long.clone() });
        // Elsewhere enter does not open it.
        r.press(KeyCode::Enter);
        assert_eq!(open(&r), None);
        r.focus(Pane::Journal);
        assert_eq!(r.press(KeyCode::Enter), None);
        assert_eq!(open(&r), Some(long.clone()), "the whole message");
        let older = r.journal[r.journal.len() - 2].reason.clone();
        r.press(KeyCode::Char('j'));
        assert_eq!(open(&r), Some(older));
        r.press(KeyCode::Char('k'));
        assert_eq!(open(&r), Some(long.clone()));
        // What is read stays while newer entries arrive, and so does ▸.
        r.samples(4, 0.002);
        r.sync();
        assert_eq!(open(&r), Some(long.clone()));
        assert_eq!(r.app.journal().selected(&r.journal).unwrap().reason, long);
        assert_eq!(r.press(KeyCode::Esc), None);
        assert_eq!(open(&r), None);
        // A slider target waiting: enter applies it, as anywhere.
        r.press(KeyCode::Right);
        r.press(KeyCode::Enter);
        assert!(matches!(r.app.popup(), Some(Popup::Confirm(_))));
    }
}
