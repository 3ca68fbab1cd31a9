//! tui::rollout: the rollout slider — every step's stop on a 0..100 track, the live percent
//! the backend confirmed, and the slider's target while it differs. Draws only; the target
//! is applied by a confirmed command, never by moving the slider.
//!
//! ```text
//!  0    5              25                        50                                  100
//!  ━━━━━●━━━━━━━━━━━━━━●─────────────────────────○───────────────────────────────────○
//!                      ▲ live 25%                       △ target 55% · enter applies
//! ```

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::layout::Pane;
use super::{App, View, fit, pane_block, put_lines};
use crate::engine::{Engine, Phase};
use crate::plan::Approval;
use crate::support::fmt;

/// The column of `percent` on a track `width` cells wide.
pub fn column(percent: u8, width: usize) -> usize {
    if width == 0 {
        return 0;
    }
    (usize::from(percent.min(100)) * (width - 1) + 50) / 100
}

/// How many steps the rollout has reached (their stops drawn filled).
fn reached(engine: &Engine) -> usize {
    match engine.phase() {
        Phase::Completed | Phase::Watching => engine.plan().rollout.steps.len(),
        Phase::Ready | Phase::RollingBack { .. } | Phase::RolledBack { .. } => 0,
        _ => engine.step_index().map_or(0, |i| i + 1),
    }
}

type Cells = Vec<(char, Style)>;

fn track(app: &App, engine: &Engine, width: usize, target: Option<u8>) -> Cells {
    let theme = app.theme();
    let exposure = engine.exposure();
    let live = exposure.enabled.then(|| column(exposure.percent, width));
    let mut cells: Cells = (0..width)
        .map(|x| match live {
            Some(l) if x <= l => ('━', theme.accent),
            _ => ('─', theme.muted),
        })
        .collect();
    let reached = reached(engine);
    for (i, s) in engine.plan().rollout.steps.iter().enumerate() {
        let x = column(s.percent, width);
        if let Some(c) = cells.get_mut(x) {
            *c = if i < reached {
                ('●', theme.accent)
            } else {
                ('○', theme.text)
            };
        }
    }
    if let Some(t) = target
        && let Some(c) = cells.get_mut(column(t, width))
    {
        *c = ('◇', theme.warn);
    }
    cells
}

/// Step percents (and the two ends) written under their stops, skipping any that would collide.
fn labels(engine: &Engine, width: usize) -> String {
    let mut line = vec![' '; width];
    let mut marks: Vec<u8> = vec![0];
    marks.extend(engine.plan().rollout.steps.iter().map(|s| s.percent));
    marks.push(100);
    marks.sort_unstable();
    marks.dedup();
    let mut free_from = 0;
    for p in marks {
        let text: Vec<char> = p.to_string().chars().collect();
        let x = column(p, width);
        let start = x
            .saturating_sub(text.len() / 2)
            .min(width.saturating_sub(text.len()));
        if start < free_from || start + text.len() > width {
            continue;
        }
        line[start..start + text.len()].copy_from_slice(&text);
        free_from = start + text.len() + 1;
    }
    line.into_iter().collect()
}

fn cells_to_spans<'a>(cells: Cells) -> Vec<Span<'a>> {
    let mut spans = Vec::new();
    let mut run = String::new();
    let mut style = None;
    for (ch, s) in cells {
        if style.is_some_and(|st| st != s) {
            spans.push(Span::styled(
                std::mem::take(&mut run),
                style.unwrap_or_default(),
            ));
        }
        style = Some(s);
        run.push(ch);
    }
    if !run.is_empty() {
        spans.push(Span::styled(run, style.unwrap_or_default()));
    }
    spans
}

fn live_text(engine: &Engine) -> String {
    let e = engine.exposure();
    let mut text = if e.enabled {
        format!("live {}%", e.percent)
    } else {
        "live off".to_string()
    };
    if let Some(o) = engine.progress().overridden {
        text.push_str(&format!(" (override {o}%)"));
    }
    text
}

pub fn render(frame: &mut Frame, app: &App, view: &View, area: Rect) {
    let engine = view.engine;
    let theme = app.theme();
    let plan = engine.plan();
    let flag = if view.flag.is_empty() {
        format!("flag {}", plan.flag.name)
    } else {
        format!("flag {} · {}", plan.flag.name, view.flag)
    };
    let block = pane_block(app, Pane::Rollout, Some(flag));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let height = usize::from(inner.height);
    if width < 4 || height == 0 {
        return;
    }
    let target = app.slider();
    let live_style = if engine.exposure().enabled {
        theme.accent
    } else {
        theme.bad
    };
    let target_text = target.map(|t| format!("△ target {t}% · enter applies"));
    let mut lines: Vec<Line> = Vec::new();
    if height >= 3 {
        let tw = width.saturating_sub(2);
        lines.push(Line::styled(
            format!(" {}", labels(engine, tw)),
            theme.muted,
        ));
        let mut spans = vec![Span::raw(" ")];
        spans.extend(cells_to_spans(track(app, engine, tw, target)));
        lines.push(Line::from(spans));
        // Markers under the track: live first, then the target where it fits.
        let mut marks: Vec<(usize, String, Style)> = Vec::new();
        let e = engine.exposure();
        let live_x = column(if e.enabled { e.percent } else { 0 }, tw);
        marks.push((live_x, format!("▲ {}", live_text(engine)), live_style));
        if let (Some(t), Some(text)) = (target, &target_text) {
            marks.push((column(t, tw), text.clone(), theme.warn));
        }
        let mut row: Vec<(char, Style)> = vec![(' ', theme.text); tw];
        let mut free_from = 0;
        for (x, text, style) in marks {
            let chars: Vec<char> = text.chars().collect();
            // Text runs right of the glyph, or ends at it when there is no room on the right.
            let start = if x + chars.len() <= tw {
                x
            } else {
                (x + 1).saturating_sub(chars.len())
            };
            let start = start.max(free_from);
            if start + chars.len() > tw {
                if let Some(c) = row.get_mut(x) {
                    *c = (chars[0], style);
                }
                continue;
            }
            for (i, ch) in chars.iter().enumerate() {
                row[start + i] = (*ch, style);
            }
            free_from = start + chars.len() + 2;
        }
        let mut spans = vec![Span::raw(" ")];
        spans.extend(cells_to_spans(row));
        lines.push(Line::from(spans));
        if height >= 6 {
            lines.push(Line::raw(""));
            lines.extend(step_lines(app, engine, width, height - lines.len()));
        }
    } else {
        let info = live_text(engine);
        let info_w = info
            .chars()
            .count()
            .max(target_text.as_ref().map_or(0, |t| t.chars().count()))
            + 2;
        let tw = width.saturating_sub(info_w + 2);
        let mut spans = vec![Span::raw(" ")];
        spans.extend(cells_to_spans(track(app, engine, tw, target)));
        spans.push(Span::styled(format!("  {info}"), live_style));
        lines.push(Line::from(spans));
        if height >= 2 {
            let mut spans = vec![Span::styled(
                format!(" {}", labels(engine, tw)),
                theme.muted,
            )];
            if let Some(t) = &target_text {
                spans.push(Span::styled(format!("  {t}"), theme.warn));
            }
            lines.push(Line::from(spans));
        }
    }
    put_lines(frame, inner, &lines);
}

/// The plan's steps, one a line (shown when the pane is zoomed).
fn step_lines<'a>(app: &App, engine: &Engine, width: usize, room: usize) -> Vec<Line<'a>> {
    let theme = app.theme();
    let reached = reached(engine);
    let current = engine.step_index();
    let steps = &engine.plan().rollout.steps;
    let name_w = steps
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(4);
    steps
        .iter()
        .enumerate()
        .take(room)
        .map(|(i, s)| {
            let here = current == Some(i) && reached > 0;
            let glyph = if i < reached { '●' } else { '○' };
            let groups = if s.groups.is_empty() {
                String::new()
            } else {
                format!(" + {}", s.groups.join(", "))
            };
            let approval = match s.approval {
                Approval::Manual => " · approval: manual",
                Approval::Auto => "",
            };
            let text = format!(
                "{} {glyph} {}/{} {:<w$}  {:>3}%{groups} · bake {}{approval}",
                if here { "▸" } else { " " },
                i + 1,
                steps.len(),
                s.name,
                s.percent,
                fmt::duration(s.bake),
                w = name_w
            );
            let style = if here { theme.title } else { theme.text };
            Line::styled(fit(&text, width), style)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_span_the_track() {
        assert_eq!(column(0, 101), 0);
        assert_eq!(column(100, 101), 100);
        assert_eq!(column(50, 11), 5);
        assert_eq!(column(200, 11), 10);
        assert_eq!(column(50, 0), 0);
        assert_eq!(column(50, 1), 0);
    }
}
