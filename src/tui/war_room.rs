//! tui::war_room: the Health pane zoomed (`z`), for a screen read across a room — where
//! the release stands in large letters (flashing after a trip), what the engine does next
//! by itself in large letters (`Engine::next`, the header's words), and a tall chart per
//! series with every guardrail's limit drawn across it. Draws only: every word about the
//! release is the engine's, the scale is `spark`'s, the flash is `alert`'s.
//!
//! ```text
//! ┏ Health war room · last 15m · 15s/cell ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓
//! ┃  ██████████████████████████   ‖ PAUSED by error_rate                             ┃
//! ┃  ██ the state, large ██████   step 3/5 Gradual 25% · live 25%                    ┃  badge
//! ┃  ██████████████████████████   error_rate above 1% → pause fired at 12:36:00     ┃
//! ┃                                                                                  ┃
//! ┃ NEXT  ROLLBACK IN 51S (large)                                                    ┃  next
//! ┃       unless error_rate ≤ 5.00% · at 12:39:30                                    ┃
//! ┃                                                                                  ┃
//! ┃ error_rate 6.49% TRIPPED  ✗ above 1% → pause TRIPPED              0–6.49%        ┃
//! ┃ ▁▁▁▁▂▃▅▆▇██                                              ╌ rollback 5.00%        ┃  a chart
//! ┃ ▁▁▁▁▂▃▅▆▇██╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌ ╌ pause 1.00%          ┃  per series
//! ┗━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┛
//! ```
//! On a smaller screen the letters shrink to half, then to one line, before a chart has
//! fewer than four rows; then charts go down to two rows, and the series that do not fit
//! are counted, the most urgent kept.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::big::{self, Size};
use super::header::{badge_detail, glyph, phase_style};
use super::health::{self, Standing, incident_span, state_style, window_title};
use super::layout::Pane;
use super::popup::wrap;
use super::spark::{self, Window};
use super::{App, View, chart, fit_line, pane_block, put_lines, spans_width};
use crate::engine::guardrail::format_value;
use crate::engine::health::SeriesState;
use crate::engine::{Engine, Next, Phase};
use crate::plan::{Action, Series};
use crate::support::fmt;

/// How large a text is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Letters {
    Big(Size),
    /// Ordinary letters, one line.
    Line,
}

/// The columns the `NEXT` label takes before the letters.
const NEXT_LABEL: usize = 6;
/// Columns of room either side of the state's letters, in its box.
const BADGE_PAD: usize = 2;
/// Chart rows a series gets before the state's letters grow.
const COMFORTABLE: usize = 3;
/// The fewest chart rows that still show a climb.
const FEWEST: usize = 2;
/// The widest the limits' labels get.
const LABEL_MAX: usize = 24;
/// The fewest columns of bars.
const BARS_MIN: usize = 20;

/// How wide the limits' labels column is: the longest label, and a space before it.
fn label_width(view: &View) -> usize {
    let engine = view.engine;
    engine
        .plan()
        .metrics
        .series
        .iter()
        .flat_map(|s| {
            spark::limits(engine, &s.name)
                .into_iter()
                .map(|l| chart::label(&l, s.unit, false).chars().count())
        })
        .max()
        .map_or(0, |w| (w + 1).min(LABEL_MAX))
}

/// The columns of the bars and of the labels in a war room drawn in `rect` (a column of
/// margin each side); the labels give way when the bars would be too few.
fn widths(view: &View, rect: Rect) -> (usize, usize) {
    let inner = usize::from(rect.width.saturating_sub(2)).saturating_sub(2);
    let label = label_width(view);
    if inner >= label + BARS_MIN {
        (inner - label, label)
    } else {
        (inner, 0)
    }
}

/// How many cells each chart has in a war room drawn in `rect`.
pub(crate) fn chart_width(view: &View, rect: Rect) -> usize {
    widths(view, rect).0
}

/// The rows the state's section takes at `letters`: the letters and a row above and
/// below them in the box.
fn badge_rows(letters: Letters) -> usize {
    match letters {
        Letters::Big(size) => size.rows() + 2,
        Letters::Line => 1,
    }
}

/// The rows the next action's section takes: the letters and the line under them.
fn next_rows(letters: Letters) -> usize {
    match letters {
        Letters::Big(size) => size.rows() + 1,
        Letters::Line => 1,
    }
}

/// `text` at `want`, or smaller until it fits `width` columns beside `beside` more.
fn fitting(text: &str, want: Letters, width: usize, beside: usize) -> Letters {
    let sizes = match want {
        Letters::Big(Size::Large) => &[Size::Large, Size::Medium][..],
        Letters::Big(Size::Medium) => &[Size::Medium][..],
        Letters::Line => &[][..],
    };
    sizes
        .iter()
        .find(|s| big::rows(text, **s).is_some() && big::width(text, **s) + beside <= width)
        .map_or(Letters::Line, |s| Letters::Big(*s))
}

/// How the war room shares its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shares {
    badge: Letters,
    next: Letters,
    /// Rows above the charts: both sections and a blank row after them.
    top: usize,
    /// Rows each chart takes, its title included.
    per_chart: usize,
    /// How many of the charts take a row more, so that no row is left over.
    taller: usize,
    /// How many series have a chart.
    charts: usize,
}

/// The largest letters that leave every series the chart rows their tier asks for: large
/// letters for the state before any chart has fewer than three rows, large letters for
/// what comes next only with six; else one line each, and as many charts as fit.
fn shares(badge: &str, next: Option<&str>, series: usize, width: usize, height: usize) -> Shares {
    use Letters::{Big, Line};
    const TIERS: [(Letters, Letters, usize); 5] = [
        (Big(Size::Large), Big(Size::Large), 6),
        (Big(Size::Large), Big(Size::Medium), COMFORTABLE),
        (Big(Size::Medium), Big(Size::Medium), COMFORTABLE),
        (Big(Size::Medium), Line, FEWEST),
        (Line, Line, FEWEST),
    ];
    let tiers: Vec<(Letters, Letters, usize, usize)> = TIERS
        .iter()
        .map(|(b, n, rows)| {
            let b = fitting(badge, *b, width, 2 * BADGE_PAD);
            let n = next.map_or(Line, |t| fitting(t, *n, width, NEXT_LABEL));
            (b, n, badge_rows(b) + next_rows(n) + 1, *rows)
        })
        .collect();
    let room = |top: usize, rows: usize| height.saturating_sub(top) >= series * (1 + rows);
    let (badge, next, top, _) = tiers
        .iter()
        .find(|(_, _, top, rows)| room(*top, *rows))
        .or(tiers.last())
        .copied()
        .unwrap_or((Line, Line, 3, FEWEST));
    let left = height.saturating_sub(top);
    let (charts, per_chart, taller) = if series == 0 {
        (0, 0, 0)
    } else if left >= series * (1 + FEWEST) {
        (series, left / series, left % series)
    } else {
        // A row stays for saying how many are left out.
        (left.saturating_sub(1) / (1 + FEWEST), 1 + FEWEST, 0)
    };
    Shares {
        badge,
        next,
        top,
        per_chart,
        taller,
        charts,
    }
}

/// The badge's style, drawn the other way round while the flash is lit.
fn flashed(style: Style, lit: bool) -> Style {
    match (lit, style.add_modifier.contains(Modifier::REVERSED)) {
        (false, _) => style,
        (true, true) => style.remove_modifier(Modifier::REVERSED),
        (true, false) => style.add_modifier(Modifier::REVERSED),
    }
}

/// What the engine does next by itself, as the war room says it.
struct Coming {
    /// The words for the letters: `ROLLBACK in 51s`.
    head: String,
    /// What stops it: `unless error_rate ≤ 5.00%`.
    unless: Option<String>,
    /// When, by the engine's clock: `at 12:39:30`.
    when: Option<String>,
    style: Style,
}

impl Coming {
    /// What follows the head in ordinary letters: `unless error_rate ≤ 5.00% · at
    /// 12:39:30`.
    fn rest(&self) -> String {
        [self.unless.as_deref(), self.when.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" · ")
    }
}

/// What the engine does next by itself, in its words (`Engine::next`, as the header says
/// it); `None` when nothing more happens by itself.
fn coming(app: &App, view: &View) -> Option<Coming> {
    let engine = view.engine;
    let next = engine.next();
    let words = engine.next_words(&next);
    if words.is_empty() {
        return None;
    }
    let (head, unless) = match words.split_once(" unless ") {
        Some((head, rest)) => (head.to_string(), Some(format!("unless {rest}"))),
        None => (words, None),
    };
    // When, by the engine's clock; with the day when it is not today's.
    let when = next.left().and_then(|left| {
        let at = view.now + chrono::Duration::from_std(left).ok()?;
        let format = if at.date_naive() == view.now.date_naive() {
            "%H:%M:%S"
        } else {
            "%Y-%m-%d %H:%M"
        };
        Some(format!("at {}", at.format(format)))
    });
    let theme = app.theme();
    let style = match next {
        Next::Fires {
            action: Action::Rollback,
            ..
        } => theme.bad,
        Next::Fires { .. } => theme.warn,
        _ => theme.title,
    };
    Some(Coming {
        head,
        unless,
        when,
        style,
    })
}

/// What is said beside the state's letters, each in its style: the state in words with its
/// glyph (it reads without colour) and who or what put it there, the step and what is
/// live, and the trip behind it.
fn badge_words(app: &App, engine: &Engine) -> Vec<(String, Style)> {
    let theme = app.theme();
    let phase = engine.phase();
    let mut state = format!("{} {}", glyph(phase), phase.badge());
    let detail = badge_detail(engine);
    if !detail.is_empty() {
        state.push_str(&format!(" {detail}"));
    }
    let mut words = vec![(state, theme.title)];
    let steps = &engine.plan().rollout.steps;
    let exposure = engine.exposure();
    let step = engine.step_index().and_then(|i| {
        Some(format!(
            "step {}/{} {}",
            i + 1,
            steps.len(),
            steps.get(i)?.name
        ))
    });
    // Rolled back, the state's own words say the flag is off already.
    let rolled_back = matches!(phase, Phase::RolledBack { .. });
    let live = if exposure.enabled {
        Some(format!("live {}%", exposure.percent))
    } else {
        (!rolled_back).then(|| "flag off".to_string())
    };
    let place = [step, live].into_iter().flatten().collect::<Vec<_>>();
    if !place.is_empty() {
        words.push((place.join(" · "), theme.text));
    }
    if let Some(trip) = engine.cause() {
        words.push((
            format!("{} fired at {}", trip.rule_text, trip.at.format("%H:%M:%S")),
            theme.bad,
        ));
    }
    words
}

/// The state's section in `area`: the state in letters in a box of its colour, its words
/// beside it, wrapped; on one line, the state in a box and the words after it.
fn render_badge(frame: &mut Frame, app: &App, view: &View, letters: Letters, area: Rect) {
    let engine = view.engine;
    let phase = engine.phase();
    let style = flashed(phase_style(app, phase), app.flash_lit());
    let width = usize::from(area.width);
    let words = badge_words(app, engine);
    let rows = match letters {
        Letters::Big(size) => big::rows(phase.badge(), size),
        Letters::Line => None,
    };
    let Some(rows) = rows else {
        // One line: the state in its box, then what its words add, in order.
        let badge = format!(" {} {} ", glyph(phase), phase.badge());
        let detail = badge_detail(engine);
        let mut spans = vec![Span::styled(badge, style)];
        if !detail.is_empty() {
            spans.push(Span::styled(format!(" {detail}"), app.theme().title));
        }
        for (i, (text, style)) in words.into_iter().skip(1).enumerate() {
            let joint = if i == 0 && detail.is_empty() {
                " "
            } else {
                " · "
            };
            spans.push(Span::styled(joint, app.theme().muted));
            spans.push(Span::styled(text, style));
        }
        put_lines(frame, area, &[fit_line(Line::from(spans), width)]);
        return;
    };
    let letters_w = rows.first().map_or(0, |r| r.chars().count());
    let box_w = u16::try_from(letters_w + 2 * BADGE_PAD).unwrap_or(u16::MAX);
    let boxed = Rect {
        width: box_w.min(area.width),
        ..area
    };
    frame.buffer_mut().set_style(boxed, style);
    let pad = " ".repeat(BADGE_PAD);
    let lines: Vec<Line> = std::iter::once(Line::raw(""))
        .chain(
            rows.into_iter()
                .map(|r| Line::styled(format!("{pad}{r}{pad}"), style)),
        )
        .collect();
    put_lines(frame, boxed, &lines);
    // The words, beside the box where they fit, each wrapped under itself.
    let beside = Rect {
        x: area.x.saturating_add(box_w).saturating_add(3),
        y: area.y.saturating_add(1),
        width: area.width.saturating_sub(box_w.saturating_add(3)),
        height: area.height.saturating_sub(1),
    };
    if beside.width >= 20 {
        let room = usize::from(beside.width);
        let lines: Vec<Line> = words
            .into_iter()
            .flat_map(|(text, style)| {
                wrap(&text, room)
                    .into_iter()
                    .map(move |l| Line::styled(l, style))
            })
            .collect();
        put_lines(frame, beside, &lines);
    }
}

/// What happens next, in `area`: `NEXT` and the letters, the rest under them; on one line,
/// all of it in ordinary letters.
fn render_next(frame: &mut Frame, app: &App, view: &View, letters: Letters, area: Rect) {
    let theme = app.theme();
    let width = usize::from(area.width);
    let label = Span::styled(format!("{:<NEXT_LABEL$}", "NEXT"), theme.muted);
    let Some(coming) = coming(app, view) else {
        let line = Line::from(vec![
            label,
            Span::styled("nothing more happens by itself", theme.muted),
        ]);
        put_lines(frame, area, &[fit_line(line, width)]);
        return;
    };
    let rows = match letters {
        Letters::Big(size) => big::rows(&coming.head.to_uppercase(), size),
        Letters::Line => None,
    };
    let Some(rows) = rows else {
        // One line, as the header says it, and when after it.
        let mut spans = vec![label, Span::styled(coming.head.clone(), coming.style)];
        if let Some(unless) = &coming.unless {
            spans.push(Span::styled(format!(" {unless}"), theme.text));
        }
        if let Some(when) = &coming.when {
            spans.push(Span::styled(format!(" · {when}"), theme.text));
        }
        put_lines(frame, area, &[fit_line(Line::from(spans), width)]);
        return;
    };
    let indent = " ".repeat(NEXT_LABEL);
    let mut lines: Vec<Line> = rows
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let lead = if i == 0 {
                label.clone()
            } else {
                Span::raw(indent.clone())
            };
            Line::from(vec![lead, Span::styled(r, coming.style)])
        })
        .collect();
    lines.push(fit_line(
        Line::from(vec![
            Span::raw(indent),
            Span::styled(coming.rest(), theme.text),
        ]),
        width,
    ));
    put_lines(frame, area, &lines);
}

/// The series in the order their charts go: the plan's, or, when not all fit, the most
/// urgent first.
fn chart_order(engine: &Engine, shown: usize) -> Vec<&Series> {
    let mut series: Vec<&Series> = engine.plan().metrics.series.iter().collect();
    if shown < series.len() {
        series.sort_by_key(|s| match engine.series_state(s) {
            SeriesState::Tripped | SeriesState::Error => 0,
            SeriesState::Warn | SeriesState::Starved(..) => 1,
            SeriesState::Stale | SeriesState::NoData => 2,
            SeriesState::Ok => 3,
            SeriesState::Unwatched => 4,
        });
    }
    series
}

/// What a rule that is not ok says in its chart's title, short: `above 5% for 2m →
/// rollback in 51s`, `above 1% → pause: TRIPPED`. `None` for an ok rule.
fn rule_words(standing: Standing, text: &str) -> Option<String> {
    let said = match standing {
        Standing::Ok => return None,
        Standing::Holding {
            left: Some(left), ..
        } => format!("{text} in {}", fmt::duration(left)),
        Standing::Holding { held_secs, .. } => {
            format!("{text}: holding {}", fmt::secs(held_secs))
        }
        Standing::Fired(at) => format!("{text}: fired {}", at.format("%H:%M:%S")),
        Standing::Tripped => format!("{text}: TRIPPED"),
        Standing::NoBaseline => format!("{text}: no baseline yet"),
    };
    Some(format!("{} {said}", standing.glyph()))
}

/// The chart's title: the series and its value now, then every rule on it that is not ok
/// and where it stands (the series' state word when all are), in `width` columns.
fn chart_title<'a>(
    app: &App,
    view: &View,
    s: &Series,
    span: Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>,
    width: usize,
) -> Line<'a> {
    let engine = view.engine;
    let theme = app.theme();
    let (value, value_style) = health::now(app, engine, s);
    let mut spans = vec![
        Span::styled(format!(" {} ", s.name), theme.title),
        Span::styled(value, value_style),
    ];
    let mut said: Vec<(u8, Span)> = Vec::new();
    for (i, rule) in engine.plan().guardrails.rules.iter().enumerate() {
        if rule.metric != s.name {
            continue;
        }
        let standing = Standing::of(engine, span, i);
        let text = rule.text.strip_prefix(&s.name).unwrap_or(&rule.text).trim();
        if let Some(words) = rule_words(standing, text) {
            // What is about to happen first, where a narrow title would cut it last.
            let first = match standing {
                Standing::Holding { left: Some(_), .. } => 0,
                Standing::Tripped | Standing::Fired(_) => 1,
                _ => 2,
            };
            let style = standing.style(app, rule.action);
            said.push((first, Span::styled(format!("  {words}"), style)));
        }
    }
    said.sort_by_key(|(first, _)| *first);
    let told = !said.is_empty();
    spans.extend(said.into_iter().map(|(_, span)| span));
    if !told {
        let state = engine.series_state(s);
        spans.push(Span::styled(
            format!("  {}", state.word()),
            state_style(&state, app),
        ));
    }
    fit_line(Line::from(spans), width)
}

pub(crate) fn render(frame: &mut Frame, app: &App, view: &View, area: Rect) {
    let engine = view.engine;
    let theme = app.theme();
    let (bars, label_w) = widths(view, area);
    let window = spark::window(view, bars);
    let span = incident_span(view, window, bars);
    let mut detail = format!("war room · {}", window_title(view, window, span, bars));
    if window == Window::Live {
        detail.push_str(" · ╌ = a limit, ◆ = a trip, · = missing");
    }
    let block = pane_block(app, Pane::Health, Some(detail));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let inner = Rect {
        x: inner.x.saturating_add(1),
        width: inner.width.saturating_sub(2),
        ..inner
    };
    let width = usize::from(inner.width);
    let height = usize::from(inner.height);
    let series = &engine.plan().metrics.series;
    let next = coming(app, view).map(|c| c.head.to_uppercase());
    // The canary judge's verdict and rows, under what comes next: in a room it decides
    // the bake as much as any chart.
    let why = app.keymap().hint(&[super::keymap::Action::Why]);
    let judge = super::canary::health_lines(theme, engine, why.as_deref(), width);
    let judge_rows = if judge.is_empty() { 0 } else { judge.len() + 1 };
    let shares = shares(
        engine.phase().badge(),
        next.as_deref(),
        series.len(),
        width,
        height.saturating_sub(judge_rows),
    );
    let mut y = inner.y;
    let mut take = |rows: usize| {
        let rows = u16::try_from(rows).unwrap_or(u16::MAX);
        let rect = Rect {
            y,
            height: rows.min(inner.bottom().saturating_sub(y)),
            ..inner
        };
        y = y.saturating_add(rect.height);
        rect
    };
    render_badge(
        frame,
        app,
        view,
        shares.badge,
        take(badge_rows(shares.badge)),
    );
    render_next(frame, app, view, shares.next, take(next_rows(shares.next)));
    take(1);
    if !judge.is_empty() {
        put_lines(frame, take(judge.len()), &judge);
        take(1);
    }
    if series.is_empty() {
        let line = Line::styled(
            "no metric series in the plan: guardrails have nothing to read",
            theme.warn,
        );
        put_lines(frame, take(1), &[line]);
        return;
    }
    for (i, s) in chart_order(engine, shares.charts)
        .into_iter()
        .take(shares.charts)
        .enumerate()
    {
        let height = shares.per_chart + usize::from(i < shares.taller);
        let rows = height.saturating_sub(1);
        let limits = spark::limits(engine, &s.name);
        let (mut lines, scale) = chart::lines(
            app,
            app.spark(&s.name),
            &limits,
            s.unit,
            (bars, label_w),
            rows,
        );
        // The scale, where the labels go, or at the end of the title.
        let bottom = if scale.bottom == 0.0 {
            "0".to_string()
        } else {
            format_value(scale.bottom, s.unit)
        };
        let range = format!("{bottom}–{}", format_value(scale.top, s.unit));
        let scale = match format!("scale {range}") {
            long if long.chars().count() < label_w => long,
            _ => range,
        };
        let title_w = if label_w > 0 {
            bars
        } else {
            bars.saturating_sub(scale.chars().count() + 1)
        };
        let mut title = chart_title(app, view, s, span, title_w);
        let gap = (bars + 1).saturating_sub(spans_width(&title.spans));
        title.spans.push(Span::raw(" ".repeat(gap)));
        title.spans.push(Span::styled(scale, theme.muted));
        lines.insert(0, title);
        put_lines(frame, take(height), &lines);
    }
    let left_out = series.len() - shares.charts;
    if left_out > 0 {
        let line = Line::styled(
            format!("+{left_out} more series: a taller terminal shows them"),
            theme.muted,
        );
        put_lines(frame, take(1), &[line]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_shrink_before_charts_do() {
        // 120×40 with a banner: the state large, the next action at half size, and four
        // charts of four rows.
        let s = shares("PAUSED", Some("ROLLBACK IN 51S"), 4, 114, 33);
        assert_eq!(s.badge, Letters::Big(Size::Large));
        assert_eq!(s.next, Letters::Big(Size::Medium));
        assert_eq!((s.charts, s.per_chart, s.taller), (4, 5, 1));
        // 80×24: one line each, and every chart keeps two rows.
        let s = shares("PAUSED", Some("ROLLBACK IN 51S"), 4, 74, 17);
        assert_eq!((s.badge, s.next), (Letters::Line, Letters::Line));
        assert_eq!((s.charts, s.per_chart), (4, 3));
        // Too short for every chart: as many as fit, and a row to say how many are not.
        let s = shares("PAUSED", None, 6, 74, 17);
        assert_eq!((s.charts, s.per_chart), (4, 3));
        // A state too wide for large letters gets them at half size.
        let s = shares("AWAITING APPROVAL", None, 4, 114, 40);
        assert_eq!(s.badge, Letters::Big(Size::Medium));
        // Text the font cannot draw stays in ordinary letters.
        assert_eq!(
            fitting("p95_ms", Letters::Big(Size::Large), 200, 0),
            Letters::Line
        );
    }

    #[test]
    fn the_flash_turns_the_badge_the_other_way_round() {
        let plain = Style::new();
        assert!(
            flashed(plain, true)
                .add_modifier
                .contains(Modifier::REVERSED)
        );
        let reversed = Style::new().add_modifier(Modifier::REVERSED);
        assert!(
            !flashed(reversed, true)
                .add_modifier
                .contains(Modifier::REVERSED)
        );
        assert_eq!(flashed(reversed, false), reversed);
    }
}
