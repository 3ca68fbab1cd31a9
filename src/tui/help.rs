//! tui::help: the keys, drawn from the one key table ([`KEYS`]) — as the `?` popup shows
//! them with the user's own keys, scrolled when they do not fit, and as the README's key
//! table with the default keys. Draws and writes text only.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::App;
use super::keymap::{Action, KEYS, Key, Keymap, Scope};
use super::popup::{frame_width, wrap};

/// How wide the popup's key column is.
const KEY_COLUMN: usize = 14;

/// The whole help, at `width` columns: a heading for each place keys act, then a row per
/// action (its keys, and what it does wrapped under itself).
fn body<'a>(app: &App, width: usize) -> Vec<Line<'a>> {
    let theme = app.theme();
    let keymap = app.keymap();
    let mut lines = Vec::new();
    let mut scope: Option<Scope> = None;
    for row in KEYS {
        if scope != Some(row.scope) {
            if scope.is_some() {
                lines.push(Line::raw(""));
            }
            lines.push(Line::styled(heading(row.scope), theme.title));
            scope = Some(row.scope);
        }
        let keys = names(keymap.keys(row.action), " ");
        let keys = if keys.is_empty() {
            "–".to_string()
        } else {
            keys
        };
        let wide = keys.chars().count() >= KEY_COLUMN;
        let text = wrap(row.does, width.saturating_sub(KEY_COLUMN).max(10));
        if wide {
            lines.push(Line::styled(keys.clone(), theme.key));
        }
        for (i, part) in text.into_iter().enumerate() {
            let lead = if i == 0 && !wide {
                format!("{keys:<KEY_COLUMN$}")
            } else {
                " ".repeat(KEY_COLUMN)
            };
            lines.push(Line::from(vec![
                Span::styled(lead, theme.key),
                Span::styled(part, theme.popup),
            ]));
        }
    }
    lines
}

/// `Checklist or journal focused`: the scope's words as a heading.
fn heading(scope: Scope) -> String {
    let words = scope.words();
    let mut chars = words.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn names(keys: &[Key], between: &str) -> String {
    keys.iter().map(Key::name).collect::<Vec<_>>().join(between)
}

/// The popup's text width and body rows for a screen of `area`: what `popup` draws in.
fn window(area: Rect) -> (usize, usize) {
    let width = usize::from(frame_width(area).saturating_sub(4));
    // Two rows of the screen stay clear, two are the frame, two the footer.
    let rows = usize::from(area.height.saturating_sub(6)).max(1);
    (width, rows)
}

/// How far the help can scroll on the screen as last drawn.
fn max_scroll(app: &App) -> usize {
    let Some(area) = app.area() else {
        return 0;
    };
    let (width, rows) = window(area);
    body(app, width).len().saturating_sub(rows)
}

impl App {
    /// A scroll key in the help.
    pub(super) fn scroll_help(&mut self, action: Action) {
        let page = self.area().map_or(10, |a| window(a).1);
        let at = self.help_scroll;
        self.help_scroll = match action {
            Action::Down => at + 1,
            Action::Up => at.saturating_sub(1),
            Action::PageDown => at + page,
            Action::PageUp => at.saturating_sub(page),
            Action::Last => usize::MAX,
            _ => 0,
        }
        .min(max_scroll(self));
    }
}

/// The help's lines for a popup on a screen of `area`: the rows that fit from the scroll
/// position, then how to scroll and close.
pub(super) fn lines<'a>(app: &App, area: Rect) -> Vec<Line<'a>> {
    let (width, rows) = window(area);
    let all = body(app, width);
    let total = all.len();
    let from = app.help_scroll().min(total.saturating_sub(rows));
    let mut lines: Vec<Line> = all.into_iter().skip(from).take(rows).collect();
    let theme = app.theme();
    let keymap = app.keymap();
    let label = |a: Action| keymap.label(a);
    let sep = || Span::styled(" · ", theme.muted);
    lines.push(Line::raw(""));
    let mut footer = Vec::new();
    if total > rows {
        footer.extend([
            Span::styled(
                format!(
                    "{}/{} {}/{}",
                    label(Action::Down),
                    label(Action::Up),
                    label(Action::PageDown),
                    label(Action::PageUp)
                ),
                theme.key,
            ),
            Span::styled(" scroll", theme.muted),
            sep(),
            Span::styled(
                format!("lines {}–{} of {total}", from + 1, (from + rows).min(total)),
                theme.muted,
            ),
            sep(),
            Span::styled("any other key", theme.key),
        ]);
    } else {
        footer.push(Span::styled("any key", theme.key));
    }
    footer.push(Span::styled(" closes", theme.muted));
    lines.push(Line::from(footer));
    lines
}

/// The README's key table: every key with its default binding, what it does and where.
pub fn readme_table() -> String {
    let keymap = Keymap::default();
    let mut out = String::from("| key | does | where |\n|---|---|---|\n");
    for row in KEYS {
        let keys = keymap
            .keys(row.action)
            .iter()
            .map(|k| format!("`{}`", k.name()))
            .collect::<Vec<_>>()
            .join(" ");
        out.push_str(&format!(
            "| {keys} | {} | {} |\n",
            row.does,
            row.scope.words()
        ));
    }
    out
}
