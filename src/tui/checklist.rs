//! tui::checklist: a progress gauge per checklist (pre-release, release day, post-release,
//! rollback) and the items of the list under the cursor. Reads ticks from the engine;
//! never ticks anything itself (`x` becomes a command).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::layout::Pane;
use super::{App, View, fit, pane_block, put_lines, spans_width};
use crate::engine::Engine;
use crate::plan::ListKind;

/// `(done, total)` of a list, counting items that tick themselves.
pub fn progress(engine: &Engine, list: ListKind) -> (usize, usize) {
    let total = engine.plan().checklists.list(list).len();
    let done = (0..total).filter(|i| engine.item_done(list, *i).0).count();
    (done, total)
}

/// `██████░░░░` for `done` of `total` in `width` cells; empty lists draw nothing.
pub(crate) fn bar(done: usize, total: usize, width: usize) -> (String, String) {
    if total == 0 || width == 0 {
        return (String::new(), String::new());
    }
    let filled = (done.min(total) * width).div_ceil(total).min(width);
    // A list that is not done never looks done.
    let filled = if done < total {
        filled.min(width - 1)
    } else {
        filled
    };
    ("█".repeat(filled), "░".repeat(width - filled))
}

pub fn render(frame: &mut Frame, app: &App, view: &View, area: Rect) {
    let engine = view.engine;
    let theme = app.theme();
    let lists = &engine.plan().checklists;
    let cursor = app.cursor(engine);
    let focused = app.focus() == Pane::Checklist;
    let detail = cursor.map(|(list, _)| {
        let title = list.title().to_lowercase();
        if lists.gates(list) {
            title
        } else {
            format!("{title} · suggested")
        }
    });
    let block = pane_block(app, Pane::Checklist, detail);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let mut lines: Vec<Line> = Vec::new();
    let shown: Vec<ListKind> = ListKind::ALL
        .iter()
        .copied()
        .filter(|k| !lists.list(*k).is_empty())
        .collect();
    if shown.is_empty() {
        lines.push(Line::styled(" no checklists in the plan", theme.muted));
    }
    let name_w = 13;
    for kind in &shown {
        let (done, total) = progress(engine, *kind);
        let count = format!("{done}/{total}");
        // A list the plan did not write says so after its bar (a suggestion, no gate),
        // where the bar keeps room to be read; the pane's title says it otherwise.
        let base = width.saturating_sub(1 + name_w + 6 + 1);
        let suggested = (!lists.gates(*kind) && base >= 6 + 10).then_some(" suggested");
        let bar_w = base.saturating_sub(suggested.map_or(0, str::len));
        let (full, empty) = bar(done, total, bar_w.min(24));
        let here = cursor.is_some_and(|(l, _)| l == *kind);
        let mark = if here { "▾" } else { " " };
        let name_style = if here { theme.title } else { theme.text };
        let count_style = if done == total { theme.ok } else { theme.text };
        let mut spans = vec![
            Span::styled(
                format!("{mark}{:<w$}", fit(kind.title(), name_w - 1), w = name_w),
                name_style,
            ),
            Span::styled(format!("{count:>5} "), count_style),
            Span::styled(full, theme.gauge_done),
            Span::styled(empty, theme.gauge_todo),
        ];
        if let Some(s) = suggested
            && width >= spans_width(&spans) + s.len()
        {
            spans.push(Span::styled(s, theme.muted));
        }
        lines.push(Line::from(spans));
    }
    if let Some((list, at)) = cursor {
        let items = lists.list(list);
        let room = usize::from(inner.height).saturating_sub(lines.len());
        if room > 0 && !items.is_empty() {
            // Keep the cursor in view: scroll just enough.
            let first = at.saturating_sub(room.saturating_sub(1));
            for (i, item) in items.iter().enumerate().skip(first).take(room) {
                let (done, why) = engine.item_done(list, i);
                let box_text = if done { "[x]" } else { "[ ]" };
                let pointer = if i == at { "▸" } else { " " };
                let mut text = format!("{pointer} {box_text} {}", item.text);
                let mut detail = String::new();
                if item.check.is_some() {
                    detail = format!("  auto: {}", why.unwrap_or_default());
                }
                let row_style = if i == at && focused {
                    theme.selected
                } else if done {
                    theme.muted
                } else {
                    theme.text
                };
                text = fit(&text, width);
                let left = width.saturating_sub(text.chars().count());
                let mut spans = vec![Span::styled(text, row_style)];
                if !detail.is_empty() && left > 8 {
                    spans.push(Span::styled(fit(&detail, left), theme.muted));
                }
                lines.push(Line::from(spans));
            }
        }
    }
    put_lines(frame, inner, &lines);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_never_shows_an_unfinished_list_as_full() {
        assert_eq!(bar(9, 10, 5), ("████".into(), "░".into()));
        assert_eq!(bar(10, 10, 5), ("█████".into(), String::new()));
        assert_eq!(bar(0, 10, 5), (String::new(), "░░░░░".into()));
        assert_eq!(bar(1, 10, 10), ("█".into(), "░░░░░░░░░".into()));
        assert_eq!(bar(3, 0, 10), (String::new(), String::new()));
        assert_eq!(bar(12, 10, 4), ("████".into(), String::new()));
    }
}
