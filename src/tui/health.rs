//! tui::health: one row per metric series — name, value in its unit, a sparkline against
//! the tightest guardrail, that guardrail, and a state word. Owns the sparkline's
//! downsampling (done when data arrives, from `App::sync`) and its glyphs; never judges a
//! value itself: tripped, holding, stale and starved come from the engine.
//!
//! A missing sample is drawn as `·`, never as a zero bar; a guardrail trip is marked `◆`
//! in the cell where it fired. A bar at full height `█` means the value is past the
//! guardrail: the scale runs from zero to the tightest threshold.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::layout::Pane;
use super::{App, View, fit, pane_block, put_lines};
use crate::engine::Engine;
use crate::engine::guardrail::{format_secs, format_value, threshold};
use crate::plan::{Action, Better, Condition, Series, StaleAction, Unit};

const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
const MISSING: char = '·';
const TRIP: char = '◆';

/// What a downsampled series was computed from: when this matches, the cache is current.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparkKey {
    len: usize,
    last: Option<DateTime<Utc>>,
    width: usize,
    /// The interval the right edge stands for (the engine clock moves the window).
    slot: i64,
    last_trip: Option<DateTime<Utc>>,
}

/// One sparkline cell: one metrics interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell {
    /// Before the oldest sample kept: nothing to show.
    Blank,
    /// A sample was due and none came, or it carried no value.
    Missing,
    /// The worst value of the samples in the interval (the one nearest the guardrail).
    Value(f64),
}

/// A series downsampled to its sparkline's width, oldest cell first.
#[derive(Debug, Clone, PartialEq)]
pub struct Spark {
    pub key: SparkKey,
    pub cells: Vec<Cell>,
    /// Cells where a guardrail on this series fired.
    pub trips: Vec<usize>,
}

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
        .map(|s| state(engine, s).word().chars().count())
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
pub fn rows(view: &View) -> usize {
    let plan = view.engine.plan();
    let rules = plan.guardrails.rules.len();
    1 + plan.metrics.series.len() + if rules > 0 { rules + 2 } else { 0 }
}

/// How many cells the sparklines get in a health pane of `rect`.
pub fn spark_width(view: &View, rect: Rect) -> usize {
    columns(view, usize::from(rect.width.saturating_sub(2))).spark
}

fn interval_ms(engine: &Engine) -> i64 {
    i64::try_from(engine.plan().metrics.interval.as_millis())
        .unwrap_or(i64::MAX)
        .max(1)
}

fn slot(at: DateTime<Utc>, interval: i64) -> i64 {
    at.timestamp_millis().div_euclid(interval)
}

pub fn spark_key(view: &View, series: &str, width: usize) -> SparkKey {
    let engine = view.engine;
    let history = engine.history(series);
    let interval = interval_ms(engine);
    let last = history.and_then(|h| h.last()).map(|p| p.at);
    // The interval under way is not missing until it is over: the right edge is the newest
    // sample's interval, or the last one that has ended.
    let ended = slot(view.now, interval) - 1;
    SparkKey {
        len: history.map_or(0, |h| h.len()),
        last,
        width,
        slot: last.map_or(ended, |t| ended.max(slot(t, interval))),
        last_trip: engine
            .progress()
            .trips
            .iter()
            .rev()
            .find(|t| t.metric == series)
            .map(|t| t.at),
    }
}

/// The newest `width` intervals of a series, one cell each, aligned to the engine clock so
/// that a dead source shows as missing cells up to now. O(width): it walks back from the
/// newest sample and stops at the left edge.
pub fn downsample(view: &View, series: &str, key: SparkKey) -> Spark {
    let engine = view.engine;
    let width = key.width;
    let interval = interval_ms(engine);
    let right = key.slot;
    let mut cells = vec![Cell::Missing; width];
    let better = engine
        .plan()
        .metrics
        .series(series)
        .map_or(Better::Lower, |s| s.better);
    let mut oldest_cell = None;
    if let Some(history) = engine.history(series) {
        for p in history.iter().rev() {
            let back = (right - slot(p.at, interval)).max(0);
            let Ok(back) = usize::try_from(back) else {
                break;
            };
            if back >= width {
                break;
            }
            let i = width - 1 - back;
            oldest_cell = Some(i);
            cells[i] = match (cells[i], p.value) {
                (Cell::Value(a), Some(b)) => Cell::Value(match better {
                    Better::Lower => a.max(b),
                    Better::Higher => a.min(b),
                }),
                (Cell::Value(a), None) => Cell::Value(a),
                (_, Some(b)) => Cell::Value(b),
                (_, None) => Cell::Missing,
            };
        }
        // Cells older than everything kept were never sampled by this session: blank, not missing.
        let full = history.len() >= history.capacity();
        let first = oldest_cell.unwrap_or(width);
        if !full || oldest_cell.is_none() {
            for c in cells.iter_mut().take(first) {
                *c = Cell::Blank;
            }
        }
    } else {
        cells.fill(Cell::Blank);
    }
    let trips = engine
        .progress()
        .trips
        .iter()
        .filter(|t| t.metric == series)
        .filter_map(|t| {
            let back = usize::try_from(right - slot(t.at, interval)).ok()?;
            (back < width).then(|| width - 1 - back)
        })
        .collect();
    Spark { key, cells, trips }
}

/// The rule a series is nearest to breaking (or breaking), and its absolute threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Guard {
    pub rule: usize,
    pub threshold: Option<f64>,
    /// The rule breaks when the value goes above the threshold (else below).
    pub above: bool,
}

fn breaks_above(condition: Condition, better: Better) -> bool {
    match condition {
        Condition::Above(_) | Condition::AboveBaseline(_) => true,
        Condition::Below(_) => false,
        Condition::Degradation(_) => better == Better::Lower,
    }
}

/// The tightest guardrail on a series: a tripped or holding rule first (the most severe),
/// else the one with the least room left at the current value.
pub fn tightest(engine: &Engine, series: &Series) -> Option<Guard> {
    let plan = engine.plan();
    let progress = engine.progress();
    let value = latest(engine, &series.name);
    // Ranked by (urgency, then action before room when breaking, room before action when not).
    let mut best: Option<(Guard, (u8, f64, f64))> = None;
    for (i, rule) in plan.guardrails.rules.iter().enumerate() {
        if rule.metric != series.name {
            continue;
        }
        let t = threshold(
            rule.condition,
            progress.baseline.get(&series.name).copied(),
            series.better,
        )
        .filter(|t| t.is_finite());
        let above = breaks_above(rule.condition, series.better);
        let state = progress.rules.get(i);
        let urgency = match state {
            Some(s) if s.tripped => 3,
            Some(s) if s.holding_since.is_some() => 2,
            _ if t.is_some() => 1,
            _ => 0,
        };
        // How little room is left, as a fraction of the threshold: larger is tighter.
        let tight = match (t, value) {
            (Some(t), Some(v)) if t != 0.0 => {
                if above {
                    (v - t) / t.abs()
                } else {
                    (t - v) / t.abs()
                }
            }
            _ => 0.0,
        };
        let severity = f64::from(action_rank(rule.action));
        let rank = if urgency >= 2 {
            (urgency, severity, tight)
        } else {
            (urgency, tight, severity)
        };
        let wins = best.as_ref().is_none_or(|(_, b)| {
            rank.0
                .cmp(&b.0)
                .then(rank.1.total_cmp(&b.1))
                .then(rank.2.total_cmp(&b.2))
                .is_gt()
        });
        if wins {
            best = Some((
                Guard {
                    rule: i,
                    threshold: t,
                    above,
                },
                rank,
            ));
        }
    }
    best.map(|(g, _)| g)
}

fn action_rank(action: Action) -> u8 {
    match action {
        Action::Alert => 0,
        Action::Pause => 1,
        Action::Rollback => 2,
    }
}

/// The newest sample's value; `None` when the newest sample is missing.
fn latest(engine: &Engine, series: &str) -> Option<f64> {
    engine.history(series)?.last()?.value
}

/// `≤1.00% pause`, `≤360ms (5m) rollback`, `≥90.0/s rollback`, `≤3x base rollback`.
fn guard_text(engine: &Engine, series: &Series) -> String {
    let Some(g) = tightest(engine, series) else {
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
        format!(" ({})", format_secs(rule.hold.as_secs() as i64))
    };
    format!("{sign}{limit}{hold} {}", rule.action.name())
}

/// The state word of a series and the role that styles it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Tripped,
    Stale,
    Error,
    Starved(u32, u32),
    Warn,
    NoData,
    Ok,
    /// No guardrail reads this series.
    Unwatched,
}

impl State {
    pub fn word(&self) -> String {
        match self {
            State::Tripped => "TRIPPED".into(),
            State::Stale => "stale".into(),
            State::Error => "error".into(),
            State::Starved(have, need) => format!("starved {have}/{need}"),
            State::Warn => "warn".into(),
            State::NoData => "no data".into(),
            State::Ok => "ok".into(),
            State::Unwatched => "–".into(),
        }
    }

    fn style(&self, app: &App) -> Style {
        let t = app.theme();
        match self {
            State::Tripped | State::Error => t.bad,
            State::Stale | State::NoData => t.stale,
            State::Starved(..) | State::Warn => t.warn,
            State::Ok => t.ok,
            State::Unwatched => t.muted,
        }
    }
}

/// Past the halfway mark from the baseline to the threshold (or, with no baseline, within
/// 20% of an upper threshold or 5% of a lower one). A threshold set 20% above the
/// baseline must not make a healthy series look like a warning.
fn near_limit(value: f64, threshold: f64, above: bool, baseline: Option<f64>) -> bool {
    match baseline {
        Some(b) if (above && b < threshold) || (!above && b > threshold) => {
            let mid = b + (threshold - b) / 2.0;
            if above { value > mid } else { value < mid }
        }
        _ if above => value > threshold * 0.8,
        _ => value < threshold * 1.05,
    }
}

pub fn state(engine: &Engine, series: &Series) -> State {
    let plan = engine.plan();
    let progress = engine.progress();
    let rules: Vec<usize> = plan
        .guardrails
        .rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.metric == series.name)
        .map(|(i, _)| i)
        .collect();
    let watched = engine.watched().contains(&series.name.as_str());
    if rules
        .iter()
        .any(|i| progress.rules.get(*i).is_some_and(|s| s.tripped))
    {
        return State::Tripped;
    }
    if progress.stale.contains(&series.name) {
        return State::Stale;
    }
    if engine.series_error(&series.name).is_some() {
        return State::Error;
    }
    if watched && let Some((_, need)) = engine.starved() {
        let have = progress.fresh.get(&series.name).copied().unwrap_or(0);
        if have < need {
            return State::Starved(have, need);
        }
    }
    let holding = rules.iter().any(|i| {
        progress
            .rules
            .get(*i)
            .is_some_and(|s| s.holding_since.is_some())
    });
    let value = latest(engine, &series.name);
    let near = match (tightest(engine, series), value) {
        (
            Some(Guard {
                threshold: Some(t),
                above,
                ..
            }),
            Some(v),
        ) => near_limit(v, t, above, progress.baseline.get(&series.name).copied()),
        _ => false,
    };
    if holding || near {
        return State::Warn;
    }
    if value.is_none() {
        return State::NoData;
    }
    if watched { State::Ok } else { State::Unwatched }
}

/// The sparkline's glyphs, scaled from zero to the guardrail's threshold (or, with no
/// threshold, to the largest value shown).
fn spark_spans<'a>(
    app: &App,
    spark: Option<&Spark>,
    width: usize,
    guard: Option<Guard>,
    unit: Unit,
) -> Vec<Span<'a>> {
    let theme = app.theme();
    let cells: Vec<Cell> = match spark {
        Some(s) => {
            let mut c: Vec<Cell> = s.cells.iter().rev().take(width).rev().copied().collect();
            while c.len() < width {
                c.insert(0, Cell::Blank);
            }
            c
        }
        None => vec![Cell::Blank; width],
    };
    let shift = spark.map_or(0, |s| s.cells.len().saturating_sub(width));
    let trips: Vec<usize> = spark
        .map(|s| {
            s.trips
                .iter()
                .filter_map(|i| i.checked_sub(shift))
                .collect()
        })
        .unwrap_or_default();
    let max_seen = cells
        .iter()
        .filter_map(|c| match c {
            Cell::Value(v) => Some(*v),
            _ => None,
        })
        .fold(0.0_f64, f64::max);
    let threshold = guard.and_then(|g| g.threshold).filter(|t| *t > 0.0);
    let above = guard.is_none_or(|g| g.above);
    // Upper guardrail: 0..threshold, so a full bar means past it. Lower guardrail: from half
    // the threshold up, so the room above it shows. No guardrail: ratios 0..100%, the rest
    // up to a little over the largest value shown.
    let (bottom, top) = match threshold {
        Some(t) if above => (0.0, t),
        Some(t) => (t * 0.5, t.max(max_seen) * 1.1),
        None if unit == Unit::Ratio => (0.0, max_seen.max(1.0)),
        None => (0.0, max_seen * 1.2),
    };
    let mut spans: Vec<Span> = Vec::with_capacity(width);
    let mut run = String::new();
    let mut run_style = theme.spark;
    let mut push = |spans: &mut Vec<Span<'a>>, ch: char, style: Style| {
        if style != run_style && !run.is_empty() {
            spans.push(Span::styled(std::mem::take(&mut run), run_style));
        }
        run_style = style;
        run.push(ch);
    };
    for (i, cell) in cells.iter().enumerate() {
        let (ch, style) = match cell {
            Cell::Blank => (' ', theme.text),
            Cell::Missing => (MISSING, theme.spark_missing),
            Cell::Value(v) => {
                let breach = match threshold {
                    Some(t) if above => *v > t,
                    Some(t) => *v < t,
                    None => false,
                };
                let share = if top > bottom && v.is_finite() {
                    ((v - bottom) / (top - bottom)).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let level = if above && threshold.is_some() {
                    // Within the guardrail: ▁..▇; past it: █.
                    if breach {
                        7
                    } else {
                        (share * 7.0).floor().min(6.0) as usize
                    }
                } else {
                    (share * 7.0).round() as usize
                };
                let style = if breach {
                    theme.spark_breach
                } else {
                    theme.spark
                };
                (LEVELS[level.min(7)], style)
            }
        };
        if trips.contains(&i) {
            push(&mut spans, TRIP, theme.marker);
        } else {
            push(&mut spans, ch, style);
        }
    }
    if !run.is_empty() {
        spans.push(Span::styled(run, run_style));
    }
    spans
}

/// One guardrail rule as the list under the rows shows it.
fn rule_line<'a>(app: &App, engine: &Engine, i: usize, width: usize) -> Line<'a> {
    let theme = app.theme();
    let plan = engine.plan();
    let rule = &plan.guardrails.rules[i];
    let state = engine.progress().rules.get(i).cloned().unwrap_or_default();
    let series = plan.metrics.series(&rule.metric);
    let limit = series.and_then(|s| {
        threshold(
            rule.condition,
            engine.progress().baseline.get(&s.name).copied(),
            s.better,
        )
        .filter(|t| t.is_finite())
        .map(|t| format_value(t, s.unit))
    });
    let (glyph, word, style) = if state.tripped {
        ('✗', "TRIPPED".to_string(), theme.bad)
    } else if let Some(since) = state.holding_since {
        let held = engine
            .history(&rule.metric)
            .and_then(|h| h.last())
            .map_or(0, |p| (p.at - since).num_seconds());
        ('◐', format!("holding {}", format_secs(held)), theme.warn)
    } else if limit.is_none() {
        ('○', "no baseline yet".to_string(), theme.stale)
    } else {
        ('✓', "ok".to_string(), theme.ok)
    };
    let limit = limit.map(|l| format!(" · limit {l}")).unwrap_or_default();
    let right = format!(" {word} ");
    let left = format!("  {glyph} {}{limit}", rule.text);
    let room = width.saturating_sub(right.chars().count());
    let left = fit(&left, room);
    let gap = room.saturating_sub(left.chars().count());
    Line::from(vec![
        Span::styled(left, theme.text),
        Span::raw(" ".repeat(gap)),
        Span::styled(right, style),
    ])
}

pub fn render(frame: &mut Frame, app: &App, view: &View, area: Rect) {
    let engine = view.engine;
    let plan = engine.plan();
    let theme = app.theme();
    let inner_w = usize::from(area.width.saturating_sub(2));
    let cols = columns(view, inner_w);
    let span = plan
        .metrics
        .interval
        .as_secs()
        .saturating_mul(cols.spark as u64);
    let detail = (cols.spark > 0).then(|| {
        let mut d = format!(
            "last {} · {}/cell",
            format_secs(span as i64),
            format_secs(plan.metrics.interval.as_secs() as i64)
        );
        // The legend only where it fits whole.
        if inner_w >= 80 {
            d.push_str(" · █ = at the guardrail, · = missing");
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
        let guard = tightest(engine, s);
        let state = state(engine, s);
        let value = match engine.history(&s.name).and_then(|h| h.last()) {
            Some(p) => p
                .value
                .map(|v| format_value(v, s.unit))
                .unwrap_or_else(|| "—".into()),
            None => "—".into(),
        };
        let value_style = match state {
            State::Tripped => theme.bad,
            State::Stale | State::NoData | State::Error => theme.stale,
            _ => theme.text,
        };
        let mut spans = vec![
            Span::styled(
                format!(" {:<w$} ", fit(&s.name, cols.name), w = cols.name),
                theme.text,
            ),
            Span::styled(format!("{value:>w$}  ", w = cols.value), value_style),
        ];
        if cols.spark > 0 {
            spans.extend(spark_spans(
                app,
                app.spark(&s.name),
                cols.spark,
                guard,
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
            state.style(app),
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
    // Every guardrail with its state, when there is room for the whole list's title and a rule.
    let rules = plan.guardrails.rules.len();
    if rules > 0 && height >= lines.len() + 3 {
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            format!(
                " guardrails (stale data: {})",
                match plan.guardrails.on_stale {
                    StaleAction::Alert => "alert",
                    StaleAction::Pause => "pause",
                    StaleAction::Rollback => "rollback",
                }
            ),
            theme.muted,
        ));
        let room = height - lines.len();
        // Breaking rules first, so a short pane still shows what matters.
        let mut order: Vec<usize> = (0..rules).collect();
        order.sort_by_key(|i| {
            let st = engine.progress().rules.get(*i);
            match st {
                Some(r) if r.tripped => 0,
                Some(r) if r.holding_since.is_some() => 1,
                _ => 2,
            }
        });
        let shown: Vec<usize> = if room >= rules {
            (0..rules).collect()
        } else {
            order.into_iter().take(room).collect()
        };
        for i in shown {
            lines.push(rule_line(app, engine, i, inner_w));
        }
    }
    put_lines(frame, inner, &lines);
}
