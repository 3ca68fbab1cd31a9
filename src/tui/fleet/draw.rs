//! tui::fleet::draw: the fleet screen drawn from a [`Fleet`] and the screen's state.
//! Pure: reads them and the clock it is given, writes the frame.
//!
//! ```text
//!  header: shipdeck ─ fleet ─ N releases ─ the database          as who ─ read age ─ clock
//!  situation: how many releases, how many guarded; what enter does
//!  banner (only when the last reading failed: why, and how old the list is)
//! ┏ Releases ──────────────────────────────────────────────────────────────┓
//! ┃ RELEASE  VERSION  STATE  PERCENT  HOLDER  HEARTBEAT  LAST TRIP  AGE     ┃  takes what is left;
//! ┃▸one row per release                                                     ┃  columns that do not
//! ┗━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┛  fit are left out
//! ┌ the selected release ───────────────────────────────────────────────────┐
//! │ holder in full, its heartbeat; the last trip in full; its plan here     │
//! └─────────────────────────────────────────────────────────────────────────┘
//!  keys or the answer to the last key
//! ```

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph};

use super::{Fleet, FleetScreen, HEADER, ago, cells, phase_of};
use crate::store::postgres::Release;
use crate::tui::header::{glyph, phase_style_in};
use crate::tui::layout::too_small as below_minimum;
use crate::tui::popup::{centered, wrap};
use crate::tui::{fit, put_line, put_lines, spans_width, too_small};

/// A heartbeat older than this is drawn as stale: the release screen calls such a holder
/// silent.
const SILENT_SECS: i64 = 5;

/// Every key, as `?` shows it.
const HELP: [(&str, &str); 7] = [
    ("j k / ↓ ↑", "move"),
    ("PgDn PgUp", "ten at a time"),
    ("g G / Home End", "the first, the last"),
    (
        "enter",
        "open the selected release (its plan must be on this machine)",
    ),
    ("?", "this help"),
    (
        "q",
        "quit (q on a release opened from here comes back here)",
    ),
    ("ctrl-c", "quit at once"),
];

/// Key hints for the bottom line.
const HINTS: [(&str, &str); 4] = [
    ("j/k", "move"),
    ("enter", "open"),
    ("?", "help"),
    ("q", "quit"),
];

/// Which columns go first when the screen is narrow: lowest first. Indexes into
/// [`HEADER`].
const DROP_ORDER: [usize; 6] = [7, 6, 1, 5, 3, 4];

/// Columns that give up width before any is left out, and the least each keeps.
const SHRINK: [(usize, usize); 3] = [(4, 12), (6, 16), (0, 12)];

/// Draws the fleet screen at `now`. Pure.
pub fn render(frame: &mut Frame, screen: &FleetScreen, fleet: &Fleet, now: DateTime<Utc>) {
    let area = frame.area();
    let theme = screen.theme();
    frame.render_widget(Block::new().style(theme.text), area);
    if below_minimum(area) {
        too_small(frame, theme, area, false);
        return;
    }
    let banner = fleet.error.is_some();
    let [header, situation, banner_area, list, details, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(u16::from(banner)),
        Constraint::Fill(1),
        Constraint::Length(5),
        Constraint::Length(1),
    ])
    .areas(area);
    render_header(frame, screen, fleet, now, header);
    render_situation(frame, screen, fleet, situation);
    if banner {
        render_banner(frame, screen, fleet, now, banner_area);
    }
    let rows = fleet.rows();
    let cursor = screen.cursor(&rows);
    render_list(frame, screen, fleet, &rows, cursor, now, list);
    render_details(frame, screen, fleet, cursor.map(|i| rows[i]), now, details);
    render_status(frame, screen, status);
    if screen.help_open() {
        render_help(frame, screen, area);
    }
}

fn render_header(
    frame: &mut Frame,
    screen: &FleetScreen,
    fleet: &Fleet,
    now: DateTime<Utc>,
    area: Rect,
) {
    let theme = screen.theme();
    let count = match fleet.releases.len() {
        1 => "1 release".to_string(),
        n => format!("{n} releases"),
    };
    let read = match fleet.read_at {
        Some(t) => format!("read {}", ago(now, t)),
        None => "reading…".to_string(),
    };
    let stale = fleet.error.is_some() || fleet.read_at.is_none();
    let right = vec![
        Span::styled(format!("as {} ─ ", screen.operator), theme.header),
        Span::styled(read, if stale { theme.stale } else { theme.header }),
        Span::styled(format!(" ─ {} ", now.format("%H:%M:%SZ")), theme.header),
    ];
    let width = usize::from(area.width);
    let room = width.saturating_sub(spans_width(&right) + 3);
    let mut left = format!(" shipdeck ─ fleet ─ {count} ─ {}", fleet.database);
    if left.chars().count() > room {
        left = format!(" shipdeck ─ fleet ─ {count}");
    }
    let left = fit(&left, room);
    let gap = width.saturating_sub(left.chars().count() + spans_width(&right));
    let mut spans = vec![Span::styled(left, theme.header), Span::raw(" ".repeat(gap))];
    spans.extend(right);
    put_line(frame, area, &Line::from(spans), theme.header);
}

fn render_situation(frame: &mut Frame, screen: &FleetScreen, fleet: &Fleet, area: Rect) {
    let theme = screen.theme();
    let guarded = fleet.releases.iter().filter(|r| r.holder.is_some()).count();
    let (lead, rest) = if fleet.read_at.is_none() {
        match fleet.error {
            Some(_) => (
                "The database does not answer.".to_string(),
                " Retrying every second.".to_string(),
            ),
            None => ("Reading the releases…".to_string(), String::new()),
        }
    } else if fleet.releases.is_empty() {
        (
            "No releases yet.".to_string(),
            " Start one with `shipdeck --store postgres run PLAN --headless`.".to_string(),
        )
    } else {
        (
            format!("{guarded} of {} guarded.", fleet.releases.len()),
            " enter opens the selected release (its plan must be here).".to_string(),
        )
    };
    let width = usize::from(area.width);
    let lead = fit(&format!(" {lead}"), width);
    let rest = fit(&rest, width.saturating_sub(lead.chars().count()));
    put_lines(
        frame,
        area,
        &[Line::from(vec![
            Span::styled(lead, theme.title),
            Span::styled(rest, theme.text),
        ])],
    );
}

fn render_banner(
    frame: &mut Frame,
    screen: &FleetScreen,
    fleet: &Fleet,
    now: DateTime<Utc>,
    area: Rect,
) {
    // Why first: it is what the narrowest screen must still show.
    let why = fleet.error.as_deref().unwrap_or_default();
    let text = match fleet.read_at {
        Some(t) => format!(" ⚠ {why} · the list below was read {}", ago(now, t)),
        None => format!(" ⚠ {why}"),
    };
    put_line(
        frame,
        area,
        &Line::from(fit(&text, usize::from(area.width))),
        screen.theme().bad,
    );
}

/// The columns that fit in `width` and how wide each is: every column as wide as its
/// widest cell; columns are left out, least needed first, until the rest fit with the long
/// ones cut down to a floor; then those give up only as much width as they must.
fn columns(natural: [usize; 8], width: usize) -> Vec<(usize, usize)> {
    let floor = |c: usize| {
        SHRINK
            .iter()
            .find(|(s, _)| *s == c)
            .map_or(natural[c], |(_, f)| natural[c].min(*f))
    };
    let total = |shown: &[usize], w: &dyn Fn(usize) -> usize| {
        shown.iter().map(|&c| w(c)).sum::<usize>() + 2 * shown.len().saturating_sub(1)
    };
    let mut shown: Vec<usize> = (0..HEADER.len()).collect();
    for c in DROP_ORDER {
        if total(&shown, &floor) <= width {
            break;
        }
        shown.retain(|s| *s != c);
    }
    let mut widths = natural;
    loop {
        let used = total(&shown, &|c| widths[c]);
        if used <= width {
            break;
        }
        let Some(&(c, f)) = SHRINK
            .iter()
            .filter(|(c, f)| shown.contains(c) && widths[*c] > *f)
            .max_by_key(|(c, f)| widths[*c] - f)
        else {
            break;
        };
        widths[c] -= (used - width).min(widths[c] - f);
    }
    shown.into_iter().map(|c| (c, widths[c])).collect()
}

fn render_list(
    frame: &mut Frame,
    screen: &FleetScreen,
    fleet: &Fleet,
    rows: &[&Release],
    cursor: Option<usize>,
    now: DateTime<Utc>,
    area: Rect,
) {
    let theme = screen.theme();
    let block = Block::new()
        .borders(Borders::ALL)
        .border_type(BorderType::Thick)
        .border_style(theme.border_focus)
        .title(Line::from(vec![
            Span::styled(" Releases ", theme.title),
            Span::styled("guarded first, then by name ", theme.muted),
        ]));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if rows.is_empty() {
        let text = match (fleet.read_at, &fleet.error) {
            (Some(_), _) => {
                "no releases in the database yet: start one with `shipdeck --store postgres run PLAN --headless`"
            }
            (None, Some(_)) => "no list yet: the database has not answered",
            (None, None) => "reading the releases…",
        };
        let line = Line::styled(
            fit(&format!(" {text}"), usize::from(inner.width)),
            theme.muted,
        );
        put_lines(frame, inner, &[line]);
        return;
    }
    let texts: Vec<[String; 8]> = rows.iter().map(|r| cells(r, now)).collect();
    let mut natural = HEADER.map(|h| h.chars().count());
    for row in &texts {
        for (c, cell) in row.iter().enumerate() {
            // The state is drawn with its glyph.
            let extra = if c == 2 { 2 } else { 0 };
            natural[c] = natural[c].max(cell.chars().count() + extra);
        }
    }
    // One column for the cursor mark, one kept clear at the right.
    let columns = columns(natural, usize::from(inner.width).saturating_sub(2));
    let line = |cells: Vec<(String, Style)>, mark: &str, style: Style| {
        let mut spans = vec![Span::styled(mark.to_string(), style)];
        for (i, ((text, cell_style), (_, w))) in cells.into_iter().zip(&columns).enumerate() {
            if i > 0 {
                spans.push(Span::styled("  ", style));
            }
            spans.push(Span::styled(
                format!("{:<w$}", fit(&text, *w)),
                style.patch(cell_style),
            ));
        }
        Line::from(spans).style(style)
    };
    let head: Vec<(String, Style)> = columns
        .iter()
        .map(|(c, _)| (HEADER[*c].to_string(), Style::default()))
        .collect();
    let mut lines = vec![line(head, " ", theme.muted)];
    let height = usize::from(inner.height).saturating_sub(1);
    // Keep the cursor in view.
    let first = cursor.map_or(0, |c| (c + 1).saturating_sub(height));
    if let Some(c) = cursor.filter(|_| height > 0) {
        // The cursor row is marked across the whole pane, not only where its text is.
        let y = inner.y + 1 + u16::try_from(c - first).unwrap_or(0);
        frame.buffer_mut().set_style(
            Rect {
                y,
                height: 1,
                ..inner
            },
            theme.selected,
        );
    }
    for (i, (release, text)) in rows.iter().zip(&texts).enumerate().skip(first).take(height) {
        let selected = cursor == Some(i);
        let row_style = if selected { theme.selected } else { theme.text };
        let styled: Vec<(String, Style)> = columns
            .iter()
            .map(|(c, _)| cell(screen, release, &text[*c], *c, now, selected))
            .collect();
        lines.push(line(styled, if selected { "▸" } else { " " }, row_style));
    }
    put_lines(frame, inner, &lines);
}

/// One cell's text and style. The state reads as on the release screen; a live release
/// nobody guards, and a silent holder, stand out.
fn cell(
    screen: &FleetScreen,
    r: &Release,
    text: &str,
    column: usize,
    now: DateTime<Utc>,
    selected: bool,
) -> (String, Style) {
    let theme = screen.theme();
    let phase = r.state.as_deref().and_then(phase_of);
    let live = phase.as_ref().is_some_and(|p| p.is_live());
    let plain = Style::default();
    match column {
        2 => match &phase {
            // On the cursor row the row's own colours keep the text readable.
            Some(p) if !selected => (format!("{} {text}", glyph(p)), phase_style_in(theme, p)),
            Some(p) => (format!("{} {text}", glyph(p)), plain),
            None => (format!("  {text}"), theme.muted),
        },
        4 if r.holder.is_none() && live => (text.to_string(), theme.bad),
        4 if r.holder.is_none() => (text.to_string(), theme.muted),
        5 if r.holder.is_some() && silent(r, now) => (text.to_string(), theme.stale),
        6 if r.last_trip.is_some() => (text.to_string(), theme.warn),
        _ => (text.to_string(), plain),
    }
}

fn silent(r: &Release, now: DateTime<Utc>) -> bool {
    r.heartbeat
        .is_none_or(|t| (now - t).num_seconds() > SILENT_SECS)
}

fn render_details(
    frame: &mut Frame,
    screen: &FleetScreen,
    fleet: &Fleet,
    release: Option<&Release>,
    now: DateTime<Utc>,
    area: Rect,
) {
    let theme = screen.theme();
    let title = release.map_or_else(
        || " Selected ".to_string(),
        |r| format!(" {} {} ", r.name, r.version),
    );
    let block = Block::new()
        .borders(Borders::ALL)
        .border_type(BorderType::Plain)
        .border_style(theme.border)
        .title(Line::styled(title, theme.title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(r) = release else {
        return;
    };
    let width = usize::from(inner.width).saturating_sub(1);
    let row = |label: &str, text: String, style: Style| {
        Line::from(vec![
            Span::styled(format!(" {label:<10}"), theme.muted),
            Span::styled(fit(&text, width.saturating_sub(11)), style),
        ])
    };
    let holder = match &r.holder {
        Some(h) => {
            let beat = r.heartbeat.map_or_else(
                || "no heartbeat yet".to_string(),
                |t| format!("heartbeat {}", ago(now, t)),
            );
            let style = if silent(r, now) {
                theme.stale
            } else {
                theme.text
            };
            row(
                "holder",
                format!("{} · {beat}", crate::control::describe_holder(h)),
                style,
            )
        }
        None => row("holder", "nobody guards this release".into(), theme.muted),
    };
    let trip = match &r.last_trip {
        Some(t) => row("last trip", t.clone(), theme.warn),
        None => row("last trip", "no guardrail has fired".into(), theme.muted),
    };
    let plan = match fleet.plan_for(r) {
        Some(p) => row(
            "plan",
            format!("{} · enter opens it", p.display()),
            theme.ok,
        ),
        None => row(
            "plan",
            format!(
                "none here (looked in {}); enter says how to open it",
                fleet.looked_in()
            ),
            theme.muted,
        ),
    };
    put_lines(frame, inner, &[holder, trip, plan]);
}

fn render_status(frame: &mut Frame, screen: &FleetScreen, area: Rect) {
    let theme = screen.theme();
    let width = usize::from(area.width);
    if let Some(status) = screen.status() {
        put_lines(frame, area, &[status.line(theme, width)]);
        return;
    }
    let mut spans = vec![Span::raw(" ")];
    for (i, (k, label)) in HINTS.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", theme.muted));
        }
        spans.push(Span::styled(*k, theme.key));
        spans.push(Span::styled(format!(" {label}"), theme.muted));
    }
    put_lines(frame, area, &[Line::from(spans)]);
}

fn render_help(frame: &mut Frame, screen: &FleetScreen, area: Rect) {
    let theme = screen.theme();
    let mut lines: Vec<Line> = HELP
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!("{k:<16}"), theme.key),
                Span::styled(*what, theme.popup),
            ])
        })
        .collect();
    let width = area.width.saturating_sub(4).min(96);
    lines.push(Line::raw(""));
    let note = "Enter opens a release as `shipdeck --store postgres open PLAN` would: following its holder, or guarding it when nobody does.";
    for l in wrap(note, usize::from(width.saturating_sub(4))) {
        lines.push(Line::styled(l, theme.muted));
    }
    lines.push(Line::from(vec![
        Span::styled("any key", theme.key),
        Span::styled(" closes", theme.muted),
    ]));
    let height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let rect = centered(area, width, height);
    frame.render_widget(Clear, rect);
    let block = Block::new()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(theme.border_focus)
        .style(theme.popup)
        .title(Line::styled(" Keys ", theme.title));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let padded = Rect {
        x: inner.x.saturating_add(1),
        width: inner.width.saturating_sub(2),
        ..inner
    };
    frame.render_widget(Paragraph::new(lines).style(theme.popup), padded);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_screens_shrink_the_long_columns_then_leave_columns_out() {
        let natural = [12, 7, 19, 7, 50, 9, 60, 6];
        let all: Vec<usize> = (0..8).collect();
        let wide = columns(natural, 300);
        assert_eq!(wide.iter().map(|c| c.0).collect::<Vec<_>>(), all);
        assert_eq!(wide[4].1, 50);
        let mid = columns(natural, 120);
        assert_eq!(mid.iter().map(|c| c.0).collect::<Vec<_>>(), all);
        assert!(mid.iter().map(|c| c.1).sum::<usize>() + 14 <= 120);
        let narrow = columns(natural, 76);
        let shown: Vec<usize> = narrow.iter().map(|c| c.0).collect();
        assert!(shown.starts_with(&[0]) && shown.contains(&2) && shown.contains(&4));
        assert!(!shown.contains(&7), "age goes first: {shown:?}");
        assert!(narrow.iter().map(|c| c.1).sum::<usize>() + 2 * (shown.len() - 1) <= 76);
    }
}
