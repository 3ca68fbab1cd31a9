//! tui::spark: a metric series as one row of bars. Owns the window of time the health
//! pane shows (the newest intervals, or the incident around a rollback), downsampling
//! into it (done when data arrives, from `App::sync`, never while drawing), the scale and
//! the glyphs. Never judges a value itself: the limits it marks are the engine's.
//!
//! A missing sample is drawn as `·`, never as a zero bar; a guardrail trip is marked `◆`
//! in the cell where it fired. Bars run from zero to the next limit the values shown are
//! heading for (past the pause limit, the rollback limit; past them all, the largest
//! value), so a climb past one limit towards the next stays visible; a cell past a limit
//! takes that limit's colour.

use chrono::{DateTime, Utc};
use ratatui::style::Style;
use ratatui::text::Span;

use super::{App, View};
use crate::engine::Engine;
use crate::engine::history::Point;
use crate::plan::{Action, Better, Unit};

pub(crate) const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
pub(crate) const MISSING: char = '·';
pub(crate) const TRIP: char = '◆';

/// The span of time the health pane shows, the same for every series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The newest intervals up to the engine clock, one a cell.
    Live,
    /// Around a rollback: the cells end at interval `right` and each holds `per_cell`
    /// intervals, so the whole incident fits.
    Incident { right: i64, per_cell: i64 },
}

/// What a downsampled series was computed from: when this matches, the cache is current.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparkKey {
    len: usize,
    last: Option<DateTime<Utc>>,
    width: usize,
    /// The interval the right edge stands for (the engine clock moves the window).
    slot: i64,
    last_trip: Option<DateTime<Utc>>,
    window: Window,
}

/// One sparkline cell: one metrics interval (or several, zoomed out).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell {
    /// Before the oldest sample kept: nothing to show.
    Blank,
    /// A sample was due and none came, or it carried no value.
    Missing,
    /// The worst value of the samples in the cell (the one nearest the guardrail).
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

pub(crate) fn interval_ms(engine: &Engine) -> i64 {
    i64::try_from(engine.plan().metrics.interval.as_millis())
        .unwrap_or(i64::MAX)
        .max(1)
}

fn slot(at: DateTime<Utc>, interval: i64) -> i64 {
    at.timestamp_millis().div_euclid(interval)
}

/// The start of interval `slot`.
pub(crate) fn slot_start(slot: i64, interval: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(slot.checked_mul(interval)?)
}

/// What `width` cells show now: after a rollback, the incident the engine kept, zoomed
/// out as far as it takes to hold it whole; otherwise the newest intervals.
pub fn window(view: &View, width: usize) -> Window {
    let engine = view.engine;
    let Some(incident) = engine.progress().incident.as_ref() else {
        return Window::Live;
    };
    if width == 0 || engine.phase().is_live() {
        return Window::Live;
    }
    let interval = interval_ms(engine);
    let right = slot(incident.end(), interval);
    let need = (right - slot(incident.from, interval) + 1).max(1);
    let width = i64::try_from(width).unwrap_or(i64::MAX);
    Window::Incident {
        right,
        per_cell: ((need + width - 1) / width).max(1),
    }
}

/// The samples of a series the engine kept around the rollback.
fn kept<'a>(engine: &'a Engine, series: &str) -> &'a [Point] {
    engine
        .progress()
        .incident
        .as_ref()
        .and_then(|i| i.samples.get(series))
        .map_or(&[][..], Vec::as_slice)
}

pub fn spark_key(view: &View, series: &str, width: usize) -> SparkKey {
    let engine = view.engine;
    let interval = interval_ms(engine);
    let window = window(view, width);
    let last_trip = engine
        .progress()
        .trips
        .iter()
        .rev()
        .find(|t| t.metric == series)
        .map(|t| t.at);
    if let Window::Incident { right, .. } = window {
        let kept = kept(engine, series);
        return SparkKey {
            len: kept.len(),
            last: kept.last().map(|p| p.at),
            width,
            slot: right,
            last_trip,
            window,
        };
    }
    let history = engine.history(series);
    let last = history.and_then(|h| h.last()).map(|p| p.at);
    // The interval under way is not missing until it is over: the right edge is the newest
    // sample's interval, or the last one that has ended.
    let ended = slot(view.now, interval) - 1;
    SparkKey {
        len: history.map_or(0, |h| h.len()),
        last,
        width,
        slot: last.map_or(ended, |t| ended.max(slot(t, interval))),
        last_trip,
        window,
    }
}

/// The cell that time `at` falls in, counting back from interval `right`.
fn cell_of(
    at: DateTime<Utc>,
    right: i64,
    per_cell: i64,
    width: usize,
    interval: i64,
) -> Option<usize> {
    let back = usize::try_from((right - slot(at, interval)).max(0) / per_cell.max(1)).ok()?;
    (back < width).then(|| width - 1 - back)
}

/// The window's cells of a series, oldest first, aligned to the engine clock so that a
/// dead source shows as missing cells up to now. O(width) in the live window: it walks
/// back from the newest sample and stops at the left edge.
pub fn downsample(view: &View, series: &str, key: SparkKey) -> Spark {
    let engine = view.engine;
    let width = key.width;
    let interval = interval_ms(engine);
    let (right, per_cell) = match key.window {
        Window::Live => (key.slot, 1),
        Window::Incident { right, per_cell } => (right, per_cell),
    };
    let better = engine
        .plan()
        .metrics
        .series(series)
        .map_or(Better::Lower, |s| s.better);
    let cells = match (key.window, engine.history(series)) {
        (Window::Live, Some(h)) => fill(
            h.iter(),
            h.len() >= h.capacity(),
            right,
            1,
            width,
            interval,
            better,
        ),
        (Window::Live, None) => vec![Cell::Blank; width],
        // Everything the incident kept is drawn: older cells are before it, blank.
        (Window::Incident { .. }, _) => fill(
            kept(engine, series).iter(),
            false,
            right,
            per_cell,
            width,
            interval,
            better,
        ),
    };
    let trips = engine
        .progress()
        .trips
        .iter()
        .filter(|t| t.metric == series)
        .filter_map(|t| cell_of(t.at, right, per_cell, width, interval))
        .collect();
    Spark { key, cells, trips }
}

/// `points` (oldest first) into `width` cells ending at interval `right`, `per_cell`
/// intervals a cell, each the worst value in it. `full`: older points were dropped.
fn fill<'p>(
    points: impl DoubleEndedIterator<Item = &'p Point>,
    full: bool,
    right: i64,
    per_cell: i64,
    width: usize,
    interval: i64,
    better: Better,
) -> Vec<Cell> {
    let mut cells = vec![Cell::Missing; width];
    let mut oldest_cell = None;
    for p in points.rev() {
        let Some(i) = cell_of(p.at, right, per_cell, width, interval) else {
            break;
        };
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
    // Cells older than everything kept were never sampled here: blank, not missing.
    if !full || oldest_cell.is_none() {
        for c in cells.iter_mut().take(oldest_cell.unwrap_or(width)) {
            *c = Cell::Blank;
        }
    }
    cells
}

/// One guardrail limit on a series, as the engine works it out now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Limit {
    pub value: f64,
    pub action: Action,
    /// The rule breaks above the limit (else below).
    pub above: bool,
}

/// Every limit the engine has for `series` now (a baseline rule has none until there is
/// a baseline).
pub(crate) fn limits(engine: &Engine, series: &str) -> Vec<Limit> {
    engine
        .plan()
        .guardrails
        .rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.metric == series)
        .filter_map(|(i, r)| {
            Some(Limit {
                value: engine.rule_limit(i).filter(|t| *t > 0.0)?,
                action: r.action,
                above: engine.rule_breaks_above(i),
            })
        })
        .collect()
}

/// Where the bars of one series start and end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Scale {
    pub(crate) bottom: f64,
    pub(crate) top: f64,
    /// Zero is the floor and the top a limit or the largest value: a bar's height reads
    /// as a share of it.
    from_zero: bool,
}

impl Scale {
    /// Where `v` sits between the bottom and the top, from 0 to 1.
    pub(crate) fn share(&self, v: f64) -> f64 {
        if self.top > self.bottom && v.is_finite() {
            ((v - self.bottom) / (self.top - self.bottom)).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// How many eighths of a cell a bar of `v` fills in a chart `rows` tall. From zero,
    /// only the top itself fills the chart; any value shows at least an eighth, so it is
    /// never taken for a missing sample.
    pub(crate) fn eighths(&self, v: f64, rows: usize) -> usize {
        let full = rows * 8;
        let share = self.share(v);
        let at = (share * full as f64).round() as usize;
        let at = if self.from_zero && share < 1.0 {
            at.min(full.saturating_sub(1))
        } else {
            at
        };
        at.clamp(1, full.max(1))
    }
}

/// Upper limits: from zero to the lowest limit the values shown have not passed (past
/// the pause limit, the rollback limit), or past them all to the largest value: a climb
/// towards the next limit shows how near it is. Lower limits: from half the lowest, so the
/// room above them shows. None: ratios to 100%, the rest up to a little over the largest
/// value.
pub(crate) fn scale(cells: &[Cell], limits: &[Limit], unit: Unit) -> Scale {
    let max_seen = cells
        .iter()
        .filter_map(|c| match c {
            Cell::Value(v) if v.is_finite() => Some(*v),
            _ => None,
        })
        .fold(0.0_f64, f64::max);
    let upper = limits.iter().filter(|l| l.above).map(|l| l.value);
    if upper.clone().next().is_some() {
        // The next limit the values are heading for; past every limit, the largest value.
        let top = upper
            .filter(|t| *t >= max_seen)
            .reduce(f64::min)
            .unwrap_or(max_seen);
        return Scale {
            bottom: 0.0,
            top,
            from_zero: true,
        };
    }
    let lower = limits.iter().filter(|l| !l.above).map(|l| l.value);
    if let (Some(low), Some(high)) = (lower.clone().reduce(f64::min), lower.reduce(f64::max)) {
        return Scale {
            bottom: low * 0.5,
            top: high.max(max_seen) * 1.1,
            from_zero: false,
        };
    }
    let top = if unit == Unit::Ratio {
        max_seen.max(1.0)
    } else {
        max_seen * 1.2
    };
    Scale {
        bottom: 0.0,
        top,
        from_zero: false,
    }
}

/// The glyph of `v` on `scale`.
fn level(v: f64, scale: Scale) -> char {
    let share = scale.share(v);
    // From zero, only the top itself (a limit reached, or the largest value past every
    // limit) is `█`; otherwise the nearest of the eight.
    let i = if scale.from_zero && share < 1.0 {
        ((share * 7.0).round() as usize).min(6)
    } else {
        (share * 7.0).round() as usize
    };
    LEVELS[i.min(7)]
}

/// The style of a value: the colour of the most severe limit it is past.
pub(crate) fn cell_style(app: &App, v: f64, limits: &[Limit]) -> Style {
    let theme = app.theme();
    let past = |l: &&Limit| if l.above { v > l.value } else { v < l.value };
    let worst = limits
        .iter()
        .filter(past)
        .map(|l| l.action)
        .max_by_key(|a| match a {
            Action::Alert => 0,
            Action::Pause => 1,
            Action::Rollback => 2,
        });
    match worst {
        Some(Action::Rollback) => theme.spark_breach,
        Some(_) => theme.warn,
        None => theme.spark,
    }
}

/// The newest `width` cells of `spark` (blank before its oldest), and the cells among
/// them where a guardrail fired.
pub(crate) fn newest(spark: Option<&Spark>, width: usize) -> (Vec<Cell>, Vec<usize>) {
    let Some(s) = spark else {
        return (vec![Cell::Blank; width], Vec::new());
    };
    let mut cells: Vec<Cell> = s.cells.iter().rev().take(width).rev().copied().collect();
    let pad = width - cells.len();
    cells.splice(0..0, std::iter::repeat_n(Cell::Blank, pad));
    let shift = s.cells.len().saturating_sub(width);
    let trips = s
        .trips
        .iter()
        .filter_map(|i| (i + pad).checked_sub(shift))
        .filter(|i| *i < width)
        .collect();
    (cells, trips)
}

/// The sparkline's glyphs for `width` cells of `spark`, against the series' `limits`.
pub(crate) fn spans<'a>(
    app: &App,
    spark: Option<&Spark>,
    width: usize,
    limits: &[Limit],
    unit: Unit,
) -> Vec<Span<'a>> {
    let theme = app.theme();
    let (cells, trips) = newest(spark, width);
    let scale = scale(&cells, limits, unit);
    let mut runs = Runs::default();
    for (i, cell) in cells.iter().enumerate() {
        let (ch, style) = match cell {
            Cell::Blank => (' ', theme.text),
            Cell::Missing => (MISSING, theme.spark_missing),
            Cell::Value(v) => (level(*v, scale), cell_style(app, *v, limits)),
        };
        if trips.contains(&i) {
            runs.push(TRIP, theme.marker);
        } else {
            runs.push(ch, style);
        }
    }
    runs.spans()
}

/// Glyphs written one at a time, gathered into a span for each run of one style.
#[derive(Debug, Default)]
pub(crate) struct Runs {
    spans: Vec<Span<'static>>,
    run: String,
    style: Style,
}

impl Runs {
    pub(crate) fn push(&mut self, ch: char, style: Style) {
        if style != self.style && !self.run.is_empty() {
            self.spans
                .push(Span::styled(std::mem::take(&mut self.run), self.style));
        }
        self.style = style;
        self.run.push(ch);
    }

    pub(crate) fn spans(mut self) -> Vec<Span<'static>> {
        if !self.run.is_empty() {
            self.spans.push(Span::styled(self.run, self.style));
        }
        self.spans
    }
}

/// A key for a spark made up in a test.
#[cfg(test)]
pub(crate) fn test_key(width: usize) -> SparkKey {
    SparkKey {
        len: 0,
        last: None,
        width,
        slot: 0,
        last_trip: None,
        window: Window::Live,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(value: f64, action: Action) -> Limit {
        Limit {
            value,
            action,
            above: true,
        }
    }

    #[test]
    fn a_climb_past_the_pause_limit_towards_the_rollback_limit_shows() {
        let limits = [limit(0.01, Action::Pause), limit(0.05, Action::Rollback)];
        let glyphs = |values: &[f64]| -> String {
            let cells: Vec<Cell> = values.iter().map(|v| Cell::Value(*v)).collect();
            let s = scale(&cells, &limits, Unit::Ratio);
            values.iter().map(|v| level(*v, s)).collect()
        };
        // Past the pause limit, bars measure the way to the rollback limit; only the
        // limit itself is a full bar.
        assert_eq!(glyphs(&[0.0199, 0.028, 0.036, 0.045]), "▄▅▆▇");
        assert_eq!(glyphs(&[0.0199, 0.05]), "▄█");
        // Past both, the largest value tops the scale; nothing is flattened.
        assert_eq!(
            glyphs(&[0.0199, 0.028, 0.036, 0.045, 0.052, 0.066]),
            "▃▄▅▆▇█"
        );
        // Below the pause limit, bars measure the way to it.
        assert_eq!(glyphs(&[0.0, 0.0025, 0.005, 0.0099]), "▁▃▅▇");
    }

    #[test]
    fn a_cell_past_a_limit_takes_its_colour() {
        let app = App::default();
        let theme = app.theme();
        let limits = [limit(0.01, Action::Pause), limit(0.05, Action::Rollback)];
        assert_eq!(cell_style(&app, 0.004, &limits), theme.spark);
        assert_eq!(cell_style(&app, 0.02, &limits), theme.warn);
        assert_eq!(cell_style(&app, 0.066, &limits), theme.spark_breach);
        let below = [Limit {
            value: 90.0,
            action: Action::Rollback,
            above: false,
        }];
        assert_eq!(cell_style(&app, 85.0, &below), theme.spark_breach);
        assert_eq!(cell_style(&app, 95.0, &below), theme.spark);
    }
}
