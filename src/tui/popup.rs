//! tui::popup: what is drawn over the panes — help (every key, from `help`),
//! confirmations (promote, rollback, slider apply, forced resume, quit), the rollback
//! runbook and a checklist item's details (`details`). Draws only; which popup is open is
//! `app`'s, what its keys do `popup_keys`'. The why of a trip is a pane of its own
//! (`why`): it must not cover live data.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph};

use super::app::Popup;
use super::confirm::{Ask, Confirm};
use super::details::details;
use super::keymap::Action;
use super::{App, View, fit};
use crate::engine::Phase;
use crate::engine::journal::Verb;
use crate::plan::ListKind;

pub fn render(frame: &mut Frame, app: &App, view: &View, area: Rect) {
    let Some(popup) = app.popup() else {
        return;
    };
    let theme = app.theme();
    let width = frame_width(area);
    let inner_w = usize::from(width.saturating_sub(4));
    let (title, title_style, lines) = match popup {
        Popup::Help => (
            " Keys ".to_string(),
            theme.title,
            super::help::lines(app, area),
        ),
        Popup::Confirm(c) => {
            let style = if c.ask == Ask::Rollback {
                theme.bad
            } else {
                theme.title
            };
            (format!(" {} ", c.title), style, confirm(app, c, inner_w))
        }
        Popup::Runbook => (
            " Rollback runbook ".to_string(),
            theme.bad,
            runbook(app, view, inner_w),
        ),
        Popup::Details { list, item } => {
            // Inside the frame, two rows of the screen stay clear of it.
            let rows = usize::from(area.height.saturating_sub(4));
            let (title, lines) = details(app, view, *list, *item, inner_w, rows);
            (title, theme.title, lines)
        }
        Popup::Entry { entry, scroll } => {
            let reading = app.journal();
            let at = (reading.cursor + 1, reading.rows(view.journal).len());
            let (title, lines) = super::journal::entry_lines(app, view, entry, *scroll, at, area);
            (title, theme.title, lines)
        }
    };
    let height = u16::try_from(lines.len() + 2)
        .unwrap_or(u16::MAX)
        .min(area.height.saturating_sub(2));
    let rect = centered(area, width, height);
    frame.render_widget(Clear, rect);
    let block = Block::new()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(theme.border_focus)
        .style(theme.popup)
        .title(Line::styled(
            fit(&title, usize::from(width.saturating_sub(2))),
            title_style,
        ));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let padded = Rect {
        x: inner.x.saturating_add(1),
        width: inner.width.saturating_sub(2),
        ..inner
    };
    frame.render_widget(
        Paragraph::new(super::shown_lines(lines)).style(theme.popup),
        padded,
    );
}

/// How wide a popup is on a screen of `area`: its text is four columns narrower (the
/// frame and a column of padding each side).
pub(super) fn frame_width(area: Rect) -> u16 {
    area.width.saturating_sub(4).min(96)
}

pub(super) fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

/// Greedy word wrap; a word longer than the width is cut.
pub(super) fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > width {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
        while line.chars().count() > width {
            let head: String = line.chars().take(width).collect();
            line = line.chars().skip(width).collect();
            out.push(head);
        }
    }
    if !line.is_empty() || out.is_empty() {
        out.push(line);
    }
    out
}

/// A popup's key hints with the keys as the user bound them: each names the actions whose
/// keys it shows (`j/k`) and what they do there; an action without a key is left out.
pub(super) fn bound_keys_line(app: &App, keys: &[(&[Action], &str)]) -> Line<'static> {
    let named: Vec<(String, &str)> = keys
        .iter()
        .filter_map(|(actions, label)| Some((app.keymap().hint(actions)?, *label)))
        .collect();
    let named: Vec<(&str, &str)> = named.iter().map(|(k, l)| (k.as_str(), *l)).collect();
    keys_line(app, &named)
}

pub(super) fn keys_line(app: &App, keys: &[(&str, &str)]) -> Line<'static> {
    let theme = app.theme();
    let mut spans = Vec::new();
    for (i, (k, label)) in keys.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", theme.muted));
        }
        spans.push(Span::styled(k.to_string(), theme.key));
        spans.push(Span::styled(format!(" {label}"), theme.muted));
    }
    Line::from(spans)
}

fn confirm<'a>(app: &App, c: &Confirm, width: usize) -> Vec<Line<'a>> {
    let theme = app.theme();
    let mut lines: Vec<Line> = c
        .lines
        .iter()
        .flat_map(|l| wrap(l, width))
        .map(|l| Line::styled(l, theme.popup))
        .collect();
    if !c.blockers.is_empty() {
        lines.push(Line::raw(""));
        lines.push(Line::styled("In the way:", theme.warn));
        for b in &c.blockers {
            for (i, l) in wrap(b, width.saturating_sub(2)).into_iter().enumerate() {
                let lead = if i == 0 { "• " } else { "  " };
                lines.push(Line::styled(format!("{lead}{l}"), theme.warn));
            }
        }
    }
    lines.push(Line::raw(""));
    if c.yes.is_none() {
        lines.push(Line::styled(
            "y is not offered: the engine refuses this while anything is in the way.",
            theme.muted,
        ));
    }
    let mut keys: Vec<(&str, String)> = Vec::new();
    if let Some(yes) = c.yes {
        keys.push(("y", yes.to_string()));
    }
    if let Some(force) = c.force {
        keys.push(("f", format!("{force} (journaled as forced)")));
    }
    keys.push(("any other key", "cancels".to_string()));
    let keys: Vec<(&str, &str)> = keys.iter().map(|(k, l)| (*k, l.as_str())).collect();
    lines.push(keys_line(app, &keys));
    lines
}

fn runbook<'a>(app: &App, view: &View, width: usize) -> Vec<Line<'a>> {
    let theme = app.theme();
    let engine = view.engine;
    let mut lines: Vec<Line> = Vec::new();
    let (state, reason) = match engine.phase() {
        Phase::RollingBack { reason, .. } => (
            "Rolling back: the flag disable is sent; waiting for the backend to confirm it.",
            Some(reason.clone()),
        ),
        Phase::RolledBack { reason, .. } => (
            "Rolled back: the backend confirmed the flag is off.",
            Some(reason.clone()),
        ),
        _ => (
            "The release is not rolled back; this is the runbook for when it is.",
            None,
        ),
    };
    for l in wrap(state, width) {
        lines.push(Line::styled(l, theme.bad));
    }
    if let Some(reason) = reason {
        let by = view
            .journal
            .iter()
            .rev()
            .find(|e| e.action == Verb::Rollback)
            .map(|e| format!(" ({} at {})", e.operator, e.at.format("%H:%M:%S")))
            .unwrap_or_default();
        for l in wrap(&format!("Why: {reason}{by}"), width) {
            lines.push(Line::styled(l, theme.popup));
        }
    }
    lines.push(Line::raw(""));
    let items = &engine.plan().checklists.rollback;
    if items.is_empty() {
        lines.push(Line::styled(
            "The plan has no rollback checklist. The reference runbook: disable the flag, notify the team, verify error rate and health checks, investigate, fix and redeploy.",
            theme.warn,
        ));
    }
    for (i, item) in items.iter().enumerate() {
        let (done, why) = engine.item_done(ListKind::Rollback, i);
        let pointer = if i == app.runbook_cursor() {
            "▸"
        } else {
            " "
        };
        let auto = if item.check.is_some() {
            format!("  auto: {}", why.unwrap_or_default())
        } else {
            String::new()
        };
        let text = format!(
            "{pointer} {} {}. {}{auto}",
            if done { "[x]" } else { "[ ]" },
            i + 1,
            item.text
        );
        let style = if i == app.runbook_cursor() {
            theme.selected
        } else if done {
            theme.muted
        } else {
            theme.popup
        };
        lines.push(Line::styled(fit(&text, width), style));
    }
    lines.push(Line::raw(""));
    let mut keys: Vec<(&[Action], &str)> = vec![
        (&[Action::Down, Action::Up], "move"),
        (&[Action::Tick], "tick"),
    ];
    if !engine.progress().trips.is_empty() {
        keys.push((&[Action::Why], "why"));
    }
    keys.push((&[Action::Close], "close"));
    lines.push(bound_keys_line(app, &keys));
    lines
}

/// Width of a field's label in the popups that list fields (an item's details, a journal
/// entry).
pub(super) const LABEL: usize = 9;

/// Label-and-value lines, each value wrapped under its value column.
pub(super) struct Draft<'a, 'b> {
    pub(super) app: &'b App,
    width: usize,
    pub(super) lines: Vec<Line<'a>>,
}

impl<'a, 'b> Draft<'a, 'b> {
    pub(super) fn new(app: &'b App, width: usize) -> Self {
        Draft {
            app,
            width,
            lines: Vec::new(),
        }
    }

    pub(super) fn field(&mut self, label: &str, value: &str, style: Style) {
        let value = if value.is_empty() { "—" } else { value };
        let muted = self.app.theme().muted;
        for (i, l) in wrap(value, self.width.saturating_sub(LABEL))
            .into_iter()
            .enumerate()
        {
            let label = if i == 0 { label } else { "" };
            self.lines.push(Line::from(vec![
                Span::styled(format!("{label:<LABEL$}"), muted),
                Span::styled(l, style),
            ]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_words_and_width() {
        assert_eq!(wrap("a bb ccc dddd", 6), ["a bb", "ccc", "dddd"]);
        assert_eq!(wrap("abcdefgh", 3), ["abc", "def", "gh"]);
        assert_eq!(wrap("", 5), [""]);
        for l in wrap(
            "sum(rate(http_requests_total{code=~\"5..\"}[1m])) / sum(rate(x[1m]))",
            20,
        ) {
            assert!(l.chars().count() <= 20, "{l}");
        }
    }

    #[test]
    fn centered_stays_inside() {
        let area = Rect::new(0, 0, 80, 24);
        assert_eq!(centered(area, 200, 50), area);
        assert_eq!(centered(area, 40, 10), Rect::new(20, 7, 40, 10));
    }
}
