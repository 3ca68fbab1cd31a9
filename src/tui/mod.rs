//! tui: the control room screen. Owns drawing, keys and the terminal; never decides
//! anything about the release (the engine does) and never waits on I/O (the controller's
//! adapters run elsewhere and talk over channels).
//!
//! The screen is a pure function of the engine, the journal and the UI state:
//! [`render`] draws a [`View`] (borrowed engine state) with an [`App`] (focus, popups,
//! slider, theme, keymap). [`App::on_key`] turns a key into an [`Intent`] without side
//! effects, through the user's [`keymap::Keymap`].
//! [`run`] owns the terminal and the event loop.

pub mod alert;
pub mod app;
mod big;
mod canary;
mod chart;
pub mod checklist;
pub mod confirm;
pub mod cursor;
mod details;
pub mod fleet;
pub mod header;
pub mod health;
pub mod help;
mod input;
pub mod journal;
pub mod keymap;
pub mod keys;
pub mod layout;
pub(crate) mod lines;
mod note;
pub mod pipeline;
pub mod popup;
mod popup_keys;
#[cfg(test)]
mod rig;
pub mod rollout;
pub mod run;
pub mod settings;
pub mod spark;
pub mod status;
pub mod theme;
mod war_room;
mod why;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph, Wrap};
use std::collections::VecDeque;

use crate::engine::Engine;
use crate::engine::journal::Entry;
use crate::pipeline::StageDetail;
use crate::pipeline::checks::CheckDetail;
use crate::support::escape::shown;

pub use app::App;
pub use keys::Intent;
pub use layout::Pane;
pub(crate) use layout::{MIN_HEIGHT, MIN_WIDTH};
pub(crate) use run::signals;
pub use run::{Bell, Ending, Flow, Screen, Tty, TuiOptions, run, run_loop, screen, stop_for};
pub use theme::{Theme, ThemeError};

/// Everything the screen shows that is not UI state, borrowed for one frame.
#[derive(Debug, Clone)]
pub struct View<'a> {
    pub engine: &'a Engine,
    /// Newest last, bounded by the controller.
    pub journal: &'a VecDeque<Entry>,
    /// The engine clock (it may run fast, or in the past).
    pub now: DateTime<Utc>,
    pub operator: &'a str,
    /// `Some(holder)` when another controller holds the release and this screen only follows.
    pub follower_of: Option<&'a str>,
    /// A loud adapter condition: flag writes failing, the store unwritable.
    pub notice: Option<String>,
    /// The notice means guarding is impaired or a record is at risk: shown in red.
    pub(crate) alarm: bool,
    /// On a follower: whether the holder still guards the release.
    pub holder_state: Option<crate::control::HolderState>,
    /// Where the flag lives: `file fixtures/demo/flags.yaml`.
    pub flag: String,
    /// Age of the newest sample at the engine clock; `None` before any sample.
    pub data_age: Option<chrono::Duration>,
    /// Every stage and command check as the pipeline knows it (sources, runs, output),
    /// for the details popup.
    pub stages: &'a [StageDetail],
    pub checks: &'a [CheckDetail],
}

impl<'a> View<'a> {
    /// A view with no follower, no notice, no pipeline details and data age taken from the
    /// engine's history.
    pub fn new(
        engine: &'a Engine,
        journal: &'a VecDeque<Entry>,
        now: DateTime<Utc>,
        operator: &'a str,
    ) -> Self {
        View {
            engine,
            journal,
            now,
            operator,
            follower_of: None,
            notice: None,
            alarm: false,
            holder_state: None,
            flag: String::new(),
            data_age: engine.data_age(now),
            stages: &[],
            checks: &[],
        }
    }

    pub(crate) fn banner(&self) -> bool {
        self.notice.is_some() || self.follower_of.is_some()
    }
}

/// Brings the UI state up to date with the view, then draws it. This is what the event loop
/// calls; [`render`] alone draws whatever [`App::sync`] last prepared.
pub fn draw(frame: &mut Frame, app: &mut App, view: &View) {
    app.sync(view, frame.area());
    render(frame, app, view);
}

/// Draws the whole screen. Pure: reads the app and the view, writes the frame.
pub fn render(frame: &mut Frame, app: &App, view: &View) {
    let area = frame.area();
    let theme = app.theme();
    frame.render_widget(Block::new().style(theme.text), area);
    let Some(areas) = areas(app, view, area) else {
        let asking_quit =
            matches!(app.popup(), Some(app::Popup::Confirm(c)) if c.ask == confirm::Ask::Quit);
        too_small(frame, app.theme(), area, asking_quit);
        return;
    };
    header::render(frame, app, view, areas.header);
    pipeline::render(frame, app, view, areas.pipeline);
    lines::render_situation(frame, app, view, areas.situation);
    if let Some(banner) = areas.banner {
        lines::render_banner(frame, app, view, banner);
    }
    if let Some(r) = areas.health {
        if app.war_room() {
            war_room::render(frame, app, view, r);
        } else {
            health::render(frame, app, view, r);
        }
    }
    if let Some(r) = areas.checklist {
        checklist::render(frame, app, view, r);
    }
    if let Some(r) = areas.rollout {
        rollout::render(frame, app, view, r);
    }
    if let Some(r) = areas.journal {
        journal::render(frame, app, view, r);
    }
    if let Some(r) = areas.why {
        why::render(frame, app, view, r);
    }
    if let Some(text) = app.note() {
        note::render(frame, app, text, areas.status);
    } else if let Some(text) = &app.journal().typing {
        journal::render_input(frame, app, view, text, areas.status);
    } else {
        lines::render_status(frame, app, view, areas.status);
    }
    popup::render(frame, app, view, area);
}

/// Where each pane goes on a screen of `area`, with the panes this app shows; `None`
/// below the minimum size. The frame and the app's own bookkeeping (the sparklines'
/// widths, the journal's rows) read the same answer.
pub(crate) fn areas(app: &App, view: &View, area: Rect) -> Option<layout::Areas> {
    let why_rows = app.why_open().then(|| why::rows(app, view, area.width));
    layout::areas(
        area,
        view.banner(),
        app.zoomed(),
        health::rows(view),
        why_rows,
    )
}

/// What the screens draw below 80×24 instead of a cramped layout. Only quitting acts
/// there; `asking_quit` shows the question `q` put while the rollout is live, since the
/// popup that usually asks it cannot be drawn.
pub(crate) fn too_small(frame: &mut Frame, theme: &Theme, area: Rect, asking_quit: bool) {
    let mut text = vec![
        Line::from(Span::styled(
            format!("terminal too small (need {MIN_WIDTH}×{MIN_HEIGHT})"),
            theme.warn,
        )),
        Line::from(Span::styled(
            format!(
                "now {}×{} · q quits · other keys wait",
                area.width, area.height
            ),
            theme.muted,
        )),
    ];
    if asking_quit {
        text.push(Line::raw(""));
        text.push(Line::styled(
            "Quit while the rollout is live? Guardrails stop watching.",
            theme.bad,
        ));
        text.push(Line::styled("y quits · any other key stays", theme.key));
    }
    let used = u16::try_from(text.len()).unwrap_or(u16::MAX);
    let top = area.height.saturating_sub(used) / 2;
    let rect = Rect {
        y: area.y + top,
        height: area.height - top,
        ..area
    };
    frame.render_widget(
        Paragraph::new(text)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        rect,
    );
}

/// A pane's frame, titled with its name and `detail`: thick and in the focus colour when
/// focused, so focus shows without colour.
pub(crate) fn pane_block<'a>(app: &App, pane: Pane, detail: Option<String>) -> Block<'a> {
    pane_block_titled(app, pane.title(), detail, app.focus() == pane)
}

/// A frame titled `name` and `detail`, thick when `focused`.
pub(crate) fn pane_block_titled<'a>(
    app: &App,
    name: &'a str,
    detail: Option<String>,
    focused: bool,
) -> Block<'a> {
    let theme = app.theme();
    let (border, kind) = if focused {
        (theme.border_focus, BorderType::Thick)
    } else {
        (theme.border, BorderType::Plain)
    };
    Block::new()
        .borders(Borders::ALL)
        .border_type(kind)
        .border_style(border)
        .title(title(app, name, detail))
}

/// `line` cut to `width` columns, its last span ending in `…` when cut.
pub(crate) fn fit_line(line: Line<'_>, width: usize) -> Line<'static> {
    let mut left = width;
    let mut spans = Vec::new();
    for s in line.spans {
        if left == 0 {
            break;
        }
        let text = fit(&s.content, left);
        left = left.saturating_sub(text.chars().count());
        spans.push(Span::styled(text, s.style));
    }
    Line::from(spans).style(line.style)
}

/// ` Title ` in the title style, with optional muted detail after it.
pub(crate) fn title<'a>(app: &App, name: &'a str, detail: Option<String>) -> Line<'a> {
    let mut spans = vec![Span::styled(format!(" {name} "), app.theme().title)];
    if let Some(d) = detail {
        spans.push(Span::styled(format!("{d} "), app.theme().muted));
    }
    Line::from(spans)
}

/// Cuts `text` to `width` columns, ending in `…` when cut. Counts chars, which is what
/// every string shipdeck writes itself is made of.
/// Control characters in it are shown escaped first ([`shown`]), and counted as shown.
pub(crate) fn fit(text: &str, width: usize) -> String {
    let text = shown(text);
    if text.chars().count() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// Writes `lines` into `area`, one per row, clipped to it. Straight into the buffer: the
/// panes cut and pad their own lines, so a `Paragraph`'s layout pass would be pure cost.
pub(crate) fn put_lines(frame: &mut Frame, area: Rect, lines: &[Line]) {
    let buf = frame.buffer_mut();
    for (line, y) in lines.iter().zip(area.top()..area.bottom()) {
        let mut x = area.x;
        for span in &line.spans {
            let left = area.right().saturating_sub(x);
            if left == 0 {
                break;
            }
            let style = line.style.patch(span.style);
            // Unstyled padding: the cells are blank already, only the position moves.
            if style == Style::default() && span.content.bytes().all(|b| b == b' ') {
                let n = u16::try_from(span.content.len()).unwrap_or(u16::MAX);
                x = x.saturating_add(n.min(left));
                continue;
            }
            // Every text on the screen passes here or through `shown_lines`: whatever came
            // from outside shows its control characters as escapes.
            x = buf
                .set_stringn(x, y, shown(&span.content), usize::from(left), style)
                .0;
        }
    }
}

/// `lines` with every span's control characters shown escaped, for a widget that draws
/// them itself (a popup's paragraph).
pub(crate) fn shown_lines(lines: Vec<Line<'_>>) -> Vec<Line<'_>> {
    lines
        .into_iter()
        .map(|mut line| {
            for span in &mut line.spans {
                if let std::borrow::Cow::Owned(s) = shown(&span.content) {
                    span.content = s.into();
                }
            }
            line
        })
        .collect()
}

/// Fills `area` with `style` and writes one line into it.
pub(crate) fn put_line(frame: &mut Frame, area: Rect, line: &Line, style: Style) {
    frame.buffer_mut().set_style(area, style);
    put_lines(frame, area, std::slice::from_ref(line));
}

/// The width a span list takes.
pub(crate) fn spans_width(spans: &[Span]) -> usize {
    spans.iter().map(|s| s.content.chars().count()).sum()
}

/// `Style` for a journal entry's kind.
pub(crate) fn kind_style(theme: &Theme, kind: crate::engine::journal::Kind) -> Style {
    use crate::engine::journal::Kind;
    match kind {
        Kind::Action => theme.journal_action,
        Kind::Decision => theme.journal_decision,
        Kind::Outside => theme.journal_outside,
        Kind::Error => theme.journal_error,
        Kind::Note => theme.journal_note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_cuts_with_an_ellipsis() {
        assert_eq!(fit("checkout", 20), "checkout");
        assert_eq!(fit("checkout", 5), "chec…");
        assert_eq!(fit("checkout", 1), "…");
        assert_eq!(fit("checkout", 0), "");
    }
}
