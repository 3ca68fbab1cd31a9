//! tui::health: one row per metric series — name, value in its unit, a sparkline (`spark`)
//! against its limits, the tightest guardrail, and a state word — then every guardrail
//! with its standing or countdown. Never judges a value itself: the tightest guardrail,
//! the state words, each rule's standing and countdown come from the engine
//! (`engine::health`, `engine::next`). After a rollback the sparklines show the incident
//! the engine kept, and the rules that fired in it say when.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::layout::Pane;
use super::spark::{self, Window};
use super::{App, View, fit, pane_block, put_lines};
use crate::engine::Engine;
use crate::engine::guardrail::format_value;
use crate::engine::health::{RuleStanding, SeriesState};
use crate::plan::{Action, Condition, Series, StaleAction};
use crate::support::fmt;

/// Column widths of the health rows for a pane of `inner` columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Columns {
    name: usize,
    value: usize,
    spark: usize,
    guard: usize,
    state: usize,
}

const VALUE_W: usize = 8;
/// Wide enough for `TRIPPED`; grows to fit `starved 2/5` while a step is starved.
const STATE_MIN: usize = 7;

fn columns(view: &View, inner: usize) -> Columns {
    let engine = view.engine;
    let series = &engine.plan().metrics.series;
    let name = series
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 16);
    let guard = series
        .iter()
        .map(|s| guard_text(engine, s).chars().count())
        .max()
        .unwrap_or(0)
        .min(24);
    let state = series
        .iter()
        .map(|s| engine.series_state(s).word().chars().count())
        .max()
        .unwrap_or(0)
        .max(STATE_MIN);
    // " name value  spark  guard  state "
    let fixed = 1 + name + 1 + VALUE_W + 2 + 2 + state + 1;
    let with_guard = fixed + guard + 2;
    if guard > 0 && inner >= with_guard + 12 {
        Columns {
            name,
            value: VALUE_W,
            spark: inner - with_guard,
            guard,
            state,
        }
    } else {
        Columns {
            name,
            value: VALUE_W,
            spark: inner.saturating_sub(fixed),
            guard: 0,
            state,
        }
    }
}

/// How many lines the pane would like: a header, a row per series, and the guardrail list.
pub(crate) fn rows(view: &View) -> usize {
    let plan = view.engine.plan();
    let rules = plan.guardrails.rules.len();
    let judge = super::canary::health_rows(view.engine);
    1 + plan.metrics.series.len()
        + if judge > 0 { judge + 1 } else { 0 }
        + if rules > 0 { rules + 2 } else { 0 }
}

/// Whether every one of the `rules` not among `shown` stands ok.
fn left_out_ok(engine: &Engine, shown: &[usize], rules: usize) -> bool {
    (0..rules)
        .filter(|i| !shown.contains(i))
        .all(|i| engine.rule_standing(i) == RuleStanding::Ok)
}

/// How many cells the sparklines get in a health pane of `rect`.
pub(crate) fn spark_width(view: &View, rect: Rect) -> usize {
    columns(view, usize::from(rect.width.saturating_sub(2))).spark
}

/// `≤1.00% pause`, `≤360ms (5m) rollback`, `≥90.0/s rollback`, `≤3x base rollback`.
fn guard_text(engine: &Engine, series: &Series) -> String {
    let Some(g) = engine.tightest(series) else {
        return String::new();
    };
    let rule = &engine.plan().guardrails.rules[g.rule];
    let sign = if g.above { '≤' } else { '≥' };
    let limit = match (g.threshold, rule.condition) {
        (Some(t), _) => format_value(t, series.unit),
        (None, Condition::AboveBaseline(m)) => format!("{m}x base"),
        (None, Condition::Degradation(f)) if g.above => format!("+{:.0}% vs base", f * 100.0),
        (None, Condition::Degradation(f)) => format!("-{:.0}% vs base", f * 100.0),
        (None, _) => "?".into(),
    };
    let hold = if rule.hold.is_zero() {
        String::new()
    } else {
        format!(" ({})", fmt::duration(rule.hold))
    };
    format!("{sign}{limit}{hold} {}", rule.action.name())
}

/// The role that styles a series' state word.
pub(crate) fn state_style(state: &SeriesState, app: &App) -> Style {
    let t = app.theme();
    match state {
        SeriesState::Tripped | SeriesState::Error => t.bad,
        SeriesState::Stale | SeriesState::NoData => t.stale,
        SeriesState::Starved(..) | SeriesState::Warn => t.warn,
        SeriesState::Ok => t.ok,
        SeriesState::Unwatched => t.muted,
    }
}

/// The time the sparklines of an incident cover: `(from, to)`; `None` for the live window.
pub(crate) fn incident_span(
    view: &View,
    window: Window,
    width: usize,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let Window::Incident { right, per_cell } = window else {
        return None;
    };
    let ms = spark::interval_ms(view.engine);
    let cells = i64::try_from(width).unwrap_or(i64::MAX);
    let from = spark::slot_start(right.saturating_sub(cells.saturating_mul(per_cell)) + 1, ms)?;
    Some((from, spark::slot_start(right + 1, ms)?))
}

/// When rule `i` last fired within `span`, the incident on screen.
fn fired_within(
    engine: &Engine,
    span: Option<(DateTime<Utc>, DateTime<Utc>)>,
    i: usize,
) -> Option<DateTime<Utc>> {
    let (from, to) = span?;
    engine
        .progress()
        .trips
        .iter()
        .rev()
        .find(|t| t.rule == i && t.at >= from && t.at < to)
        .map(|t| t.at)
}

/// Where a rule stands as the screen tells it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Standing {
    /// It fired at this time, within the incident on screen (clear or not now).
    Fired(DateTime<Utc>),
    Tripped,
    /// Its condition holds, for `held_secs` so far; it fires in `left` unless it clears.
    Holding {
        held_secs: i64,
        left: Option<std::time::Duration>,
    },
    NoBaseline,
    Ok,
}

impl Standing {
    /// Where rule `i` stands, with the incident on screen covering `span`.
    pub(crate) fn of(
        engine: &Engine,
        span: Option<(DateTime<Utc>, DateTime<Utc>)>,
        i: usize,
    ) -> Standing {
        if let Some(at) = fired_within(engine, span, i) {
            return Standing::Fired(at);
        }
        match engine.rule_standing(i) {
            RuleStanding::Tripped => Standing::Tripped,
            RuleStanding::Holding { held_secs } => Standing::Holding {
                held_secs,
                left: engine.fires_in(i),
            },
            RuleStanding::NoBaseline => Standing::NoBaseline,
            RuleStanding::Ok => Standing::Ok,
        }
    }

    /// Its glyph: ✗ fired or tripped, ◐ holding, ○ waiting for a baseline, ✓ ok.
    pub(crate) fn glyph(self) -> char {
        match self {
            Standing::Fired(_) | Standing::Tripped => '✗',
            Standing::Holding { .. } => '◐',
            Standing::NoBaseline => '○',
            Standing::Ok => '✓',
        }
    }

    /// Its style, for a rule that does `action`: a rollback's trouble in the breach
    /// colour, the rest in the warning colour.
    pub(crate) fn style(self, app: &App, action: Action) -> Style {
        let theme = app.theme();
        let severe = if action == Action::Rollback {
            theme.bad
        } else {
            theme.warn
        };
        match self {
            Standing::Fired(_) => severe,
            Standing::Tripped => theme.bad,
            Standing::Holding { left: Some(_), .. } => severe,
            Standing::Holding { left: None, .. } => theme.warn,
            Standing::NoBaseline => theme.stale,
            Standing::Ok => theme.ok,
        }
    }

    /// Its words in the rule list: `TRIPPED`, `held 1m · rollback in 51s`, `fired 11:53:15`.
    fn words(self, action: Action) -> String {
        match self {
            Standing::Fired(at) => format!("fired {}", at.format("%H:%M:%S")),
            Standing::Tripped => "TRIPPED".to_string(),
            Standing::Holding {
                held_secs,
                left: Some(left),
            } => format!(
                "held {} · {} in {}",
                fmt::secs(held_secs),
                action.name(),
                fmt::duration(left)
            ),
            Standing::Holding { held_secs, .. } => format!("holding {}", fmt::secs(held_secs)),
            Standing::NoBaseline => "no baseline yet".to_string(),
            Standing::Ok => "ok".to_string(),
        }
    }
}

/// One guardrail rule as the list under the rows shows it.
fn rule_line<'a>(
    app: &App,
    engine: &Engine,
    span: Option<(DateTime<Utc>, DateTime<Utc>)>,
    i: usize,
    width: usize,
) -> Line<'a> {
    let theme = app.theme();
    let plan = engine.plan();
    let rule = &plan.guardrails.rules[i];
    let limit = engine.rule_limit(i).and_then(|t| {
        let unit = plan.metrics.series(&rule.metric)?.unit;
        Some(format_value(t, unit))
    });
    let standing = Standing::of(engine, span, i);
    let limit = limit.map(|l| format!(" · limit {l}")).unwrap_or_default();
    let right = format!(" {} ", standing.words(rule.action));
    let left = format!("  {} {}{limit}", standing.glyph(), rule.text);
    let room = width.saturating_sub(right.chars().count());
    let left = fit(&left, room);
    let gap = room.saturating_sub(left.chars().count());
    Line::from(vec![
        Span::styled(left, theme.text),
        Span::raw(" ".repeat(gap)),
        Span::styled(right, standing.style(app, rule.action)),
    ])
}

/// A series now: its newest value in its unit (`—` without one) and the style it is
/// shown in.
pub(crate) fn now(app: &App, engine: &Engine, s: &Series) -> (String, Style) {
    let theme = app.theme();
    let value = match engine.history(&s.name).and_then(|h| h.last()) {
        Some(p) => p
            .value
            .map(|v| format_value(v, s.unit))
            .unwrap_or_else(|| "—".into()),
        None => "—".into(),
    };
    let style = match engine.series_state(s) {
        SeriesState::Tripped => theme.bad,
        SeriesState::Stale | SeriesState::NoData | SeriesState::Error => theme.stale,
        _ => theme.text,
    };
    (value, style)
}

/// What the pane's title says of its cells: the time `cells` of them cover and one
/// cell's span, or the incident around the rollback they show.
pub(crate) fn window_title(
    view: &View,
    window: Window,
    span: Option<(DateTime<Utc>, DateTime<Utc>)>,
    cells: usize,
) -> String {
    let engine = view.engine;
    let interval = engine.plan().metrics.interval;
    let cells = u32::try_from(cells).unwrap_or(u32::MAX);
    match (window, span) {
        (Window::Incident { per_cell, .. }, Some((from, to))) => {
            let at = engine
                .progress()
                .incident
                .as_ref()
                .map(|i| format!(" at {}", i.at.format("%H:%M:%S")))
                .unwrap_or_default();
            format!(
                "around the rollback{at} · {}–{} · {}/cell",
                from.format("%H:%M"),
                to.format("%H:%M"),
                fmt::duration(interval.saturating_mul(u32::try_from(per_cell).unwrap_or(1)))
            )
        }
        _ => format!(
            "last {} · {}/cell",
            fmt::duration(interval.saturating_mul(cells)),
            fmt::duration(interval)
        ),
    }
}

pub fn render(frame: &mut Frame, app: &App, view: &View, area: Rect) {
    let engine = view.engine;
    let plan = engine.plan();
    let theme = app.theme();
    let inner_w = usize::from(area.width.saturating_sub(2));
    let cols = columns(view, inner_w);
    let window = spark::window(view, cols.spark);
    let span = incident_span(view, window, cols.spark);
    let detail = (cols.spark > 0).then(|| {
        let mut d = window_title(view, window, span, cols.spark);
        // The legend only where it fits whole.
        if window == Window::Live && inner_w >= 80 {
            d.push_str(" · bars up to the next limit, · = missing, ◆ = trip");
        }
        d
    });
    let block = pane_block(app, Pane::Health, detail);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let height = usize::from(inner.height);
    let series = &plan.metrics.series;
    let mut lines: Vec<Line> = Vec::new();
    if series.is_empty() {
        lines.push(Line::styled(
            " no metric series in the plan: guardrails have nothing to read",
            theme.warn,
        ));
    }
    if !series.is_empty() && height > series.len() + 1 {
        let mut head = format!(
            " {:<nw$} {:>vw$}  ",
            "series",
            "now",
            nw = cols.name,
            vw = cols.value
        );
        if cols.spark > 0 {
            head.push_str(&format!("{:<w$}  ", "history", w = cols.spark));
        }
        if cols.guard > 0 {
            let label = if cols.guard >= 18 {
                "tightest guardrail"
            } else {
                "guardrail"
            };
            head.push_str(&format!("{:<w$}  ", fit(label, cols.guard), w = cols.guard));
        }
        head.push_str("state");
        lines.push(Line::styled(fit(&head, inner_w), theme.muted));
    }
    for s in series {
        let state = engine.series_state(s);
        let (value, value_style) = now(app, engine, s);
        let mut spans = vec![
            Span::styled(
                format!(" {:<w$} ", fit(&s.name, cols.name), w = cols.name),
                theme.text,
            ),
            Span::styled(format!("{value:>w$}  ", w = cols.value), value_style),
        ];
        if cols.spark > 0 {
            let limits = spark::limits(engine, &s.name);
            spans.extend(spark::spans(
                app,
                app.spark(&s.name),
                cols.spark,
                &limits,
                s.unit,
            ));
            spans.push(Span::raw("  "));
        }
        if cols.guard > 0 {
            let text = guard_text(engine, s);
            spans.push(Span::styled(
                format!("{:<w$}  ", fit(&text, cols.guard), w = cols.guard),
                theme.muted,
            ));
        }
        spans.push(Span::styled(
            format!("{:<w$}", state.word(), w = cols.state),
            state_style(&state, app),
        ));
        lines.push(Line::from(spans));
    }
    // What to fix first: source errors and starvation, while they last.
    let mut notes: Vec<Line> = Vec::new();
    for s in series {
        if let Some(err) = engine.series_error(&s.name) {
            notes.push(Line::styled(
                fit(&format!(" {}: {err}", s.name), inner_w),
                theme.bad,
            ));
        }
    }
    if let Some((have, need)) = engine.starved() {
        notes.push(Line::styled(
            fit(
                &format!(
                    " starved: {have}/{need} fresh samples; the bake cannot complete until there are {need}"
                ),
                inner_w,
            ),
            theme.warn,
        ));
    }
    for n in notes {
        if lines.len() < height {
            lines.push(n);
        }
    }
    // The canary judge, before the rules: when it speaks, it decides the bake.
    let why = app.keymap().hint(&[super::keymap::Action::Why]);
    let judge = super::canary::health_lines(theme, engine, why.as_deref(), inner_w);
    if !judge.is_empty() && height >= lines.len() + 2 {
        lines.push(Line::raw(""));
        let room = height - lines.len();
        lines.extend(judge.into_iter().take(room));
    }
    // Every guardrail with its state, when there is room for the whole list's title and a rule.
    let rules = plan.guardrails.rules.len();
    if rules > 0 && height >= lines.len() + 3 {
        lines.push(Line::raw(""));
        let room = height - lines.len() - 1;
        // Breaking rules first, so a short pane still shows what matters; the title counts
        // the rows that do not fit, never dropping them silently.
        let mut order: Vec<usize> = (0..rules).collect();
        order.sort_by_key(|i| engine.rule_standing(*i).urgency());
        let shown: Vec<usize> = if room >= rules {
            (0..rules).collect()
        } else {
            order.into_iter().take(room).collect()
        };
        let hidden = rules - shown.len();
        let stale = match plan.guardrails.on_stale {
            StaleAction::Alert => "alert",
            StaleAction::Pause => "pause",
            StaleAction::Rollback => "rollback",
        };
        let mut title = format!(" guardrails (stale data: {stale})");
        if hidden > 0 {
            // The rows left out are the least urgent; when they are all fine, saying so
            // is all anyone needs of them. The war-room view (zoom) names every rule
            // that is not.
            let all_ok = left_out_ok(engine, &shown, rules);
            let more = if all_ok {
                format!(" +{hidden} more, all ok")
            } else {
                format!(" +{hidden} more")
            };
            let zoom = app
                .keymap()
                .hint(&[super::keymap::Action::Zoom])
                .filter(|_| !all_ok)
                .map(|k| format!("{more} ({k} zooms)"))
                .filter(|long| title.chars().count() + long.chars().count() <= inner_w);
            title.push_str(&zoom.unwrap_or(more));
        }
        lines.push(Line::styled(fit(&title, inner_w), theme.muted));
        for i in shown {
            lines.push(rule_line(app, engine, span, i, inner_w));
        }
    }
    put_lines(frame, inner, &lines);
}
