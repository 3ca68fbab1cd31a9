//! tui::journal: the release's record, newest first — every action and decision with who
//! and why. Scrolls with `j`/`k` when focused. Reads the controller's bounded journal;
//! never writes it.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::layout::Pane;
use super::{App, View, fit, kind_style, pane_block, put_lines};

pub fn render(frame: &mut Frame, app: &App, view: &View, area: Rect) {
    let theme = app.theme();
    let total = view.journal.len();
    let scroll = app.journal_scroll().min(total.saturating_sub(1));
    let detail = if scroll > 0 {
        format!("newest first · {scroll} newer above (k)")
    } else {
        "newest first".to_string()
    };
    let block = pane_block(app, Pane::Journal, Some(detail));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    if total == 0 {
        put_lines(
            frame,
            inner,
            &[Line::styled(
                " nothing yet: every action and decision will be recorded here",
                theme.muted,
            )],
        );
        return;
    }
    let shown: Vec<_> = view
        .journal
        .iter()
        .rev()
        .skip(scroll)
        .take(usize::from(inner.height))
        .collect();
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
        .map(|e| {
            let time = format!(" {} ", e.at.format(stamp));
            let who = format!(" ({})", e.operator);
            let room = width.saturating_sub(time.chars().count() + who.chars().count());
            let headline = e.headline();
            Line::from(vec![
                Span::styled(time, theme.muted),
                Span::styled(fit(&headline, room), kind_style(theme, e.kind)),
                Span::styled(who, theme.muted),
            ])
        })
        .collect();
    put_lines(frame, inner, &lines);
}
