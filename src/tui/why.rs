//! tui::why: the guardrail trip behind where the release stands, as a pane docked above
//! the journal (`w`; it opens by itself on a guardrail pause when there is room). Docked,
//! not drawn over the screen: it covers no live value, no rule row, no slider and no
//! journal line. The trip's values are the engine's frozen record and say at what time
//! they were taken; the series' value now sits beside them. Draws only.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::canary;
use super::popup::{keys_line, wrap};
use super::{App, View, fit, pane_block_titled, put_lines};
use crate::engine::Engine;
use crate::engine::guardrail::{Explain, breaks, format_value};
use crate::plan::Better;

/// Width of the field names.
const FIELD_W: usize = 9;
/// One sample: `11:52:15 0.53%   `.
const SAMPLE_W: usize = 18;

/// The pane explains the canary judge instead of a trip: the judge put the release where
/// it stands, or no guardrail has fired and the judge has spoken.
fn explains_judge(engine: &Engine) -> bool {
    engine.canary().is_some()
        && (engine.judge_is_cause()
            || (engine.cause().is_none() && engine.trip_to_explain().is_none()))
}

/// How the pane names the trip it explains.
fn subject(engine: &Engine) -> &'static str {
    if explains_judge(engine) {
        return if engine.judge_is_cause() {
            "the canary judge's verdict that stopped the release"
        } else {
            "the canary judge"
        };
    }
    match engine.cause() {
        // Only a guardrail pause has a cause while the rollout is live.
        Some(_) if engine.phase().is_live() => "the trip that paused the release",
        Some(_) => "the trip that rolled the release back",
        None => "the latest trip",
    }
}

/// The lines the pane would like for an inner width of `width`, in the order they give
/// way when the pane is short: the head first, then the samples (newest kept), the query
/// last.
struct Parts<'a> {
    head: Vec<Line<'a>>,
    samples: Vec<Line<'a>>,
    query: Vec<Line<'a>>,
    keys: Line<'a>,
}

fn parts<'a>(app: &App, view: &View, x: &Explain, width: usize) -> Parts<'a> {
    let theme = app.theme();
    let engine = view.engine;
    let field = |name: &str, value: String, style: Style| {
        Line::from(vec![
            Span::styled(format!("{name:<FIELD_W$}"), theme.muted),
            Span::styled(fit(&value, width.saturating_sub(FIELD_W)), style),
        ])
    };
    let at = x.at.format("%H:%M:%S");
    let value = x
        .value()
        .map(|v| format_value(v, x.unit))
        .unwrap_or_else(|| "no data".into());
    let baseline = x
        .baseline
        .map(|b| format!(" (baseline {})", format_value(b, x.unit)))
        .unwrap_or_default();
    let held = if x.held_secs > 0 {
        format!(
            ", held {} from {}",
            crate::support::fmt::secs(x.held_secs),
            x.since.format("%H:%M:%S")
        )
    } else {
        String::new()
    };
    // The series now, so the frozen value is never read as the current one.
    let now = match engine.history(&x.metric).and_then(|h| h.last()) {
        Some(p) => format!(
            "{} {} at {}",
            x.metric,
            p.value
                .map(|v| format_value(v, x.unit))
                .unwrap_or_else(|| "no data".into()),
            p.at.format("%H:%M:%S")
        ),
        None => format!("{} no data", x.metric),
    };
    let head = vec![
        field("rule", x.rule_text.clone(), theme.title),
        field(
            "fired",
            format!(
                "{} at {at}: {} {value} vs limit {}{baseline}{held}",
                x.action.name(),
                x.metric,
                format_value(x.threshold, x.unit)
            ),
            theme.bad,
        ),
        field("now", now, theme.text),
    ];
    let condition = engine
        .plan()
        .guardrails
        .rules
        .get(x.rule)
        .map(|r| r.condition);
    let better = engine
        .plan()
        .metrics
        .series(&x.metric)
        .map_or(Better::Lower, |s| s.better);
    let per_line = (width.saturating_sub(FIELD_W) / SAMPLE_W).max(1);
    let chunks: Vec<_> = x.samples.chunks(per_line).collect();
    let samples = chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let name = if i == 0 { "samples" } else { "" };
            let mut spans = vec![Span::styled(format!("{name:<FIELD_W$}"), theme.muted)];
            for p in *chunk {
                let (text, style) = match p.value {
                    Some(v) => {
                        let breach = condition.is_some_and(|c| breaks(c, v, x.threshold, better));
                        let style = if breach { theme.bad } else { theme.text };
                        (format_value(v, x.unit), style)
                    }
                    None => ("missing".to_string(), theme.stale),
                };
                spans.push(Span::styled(
                    format!("{} ", p.at.format("%H:%M:%S")),
                    theme.muted,
                ));
                spans.push(Span::styled(format!("{text:<9}"), style));
            }
            Line::from(spans)
        })
        .collect();
    let query = x
        .query
        .clone()
        .unwrap_or_else(|| "(simulated source: no query)".into());
    let query = wrap(&query, width.saturating_sub(FIELD_W))
        .into_iter()
        .enumerate()
        .map(|(i, l)| field(if i == 0 { "query" } else { "" }, l, theme.text))
        .collect();
    // Resuming and rolling back are offered only while there is a rollout to act on.
    let keys = if engine.phase().is_live() {
        keys_line(
            app,
            &[
                ("w", "close"),
                ("space", "resume/force"),
                ("R", "roll back"),
            ],
        )
    } else {
        keys_line(app, &[("w", "close")])
    };
    Parts {
        head,
        samples,
        query,
        keys,
    }
}

/// The rows the pane would like in a frame `width` wide: its lines and its borders.
pub(crate) fn rows(app: &App, view: &View, width: u16) -> usize {
    if let Some(r) = view.engine.canary().filter(|_| explains_judge(view.engine)) {
        let plan = view.engine.plan();
        return canary::judge_lines(app.theme(), &plan.metrics, r, inner_width(width)).len()
            + 1
            + 2;
    }
    let Some(x) = view.engine.trip_to_explain() else {
        return 4;
    };
    let p = parts(app, view, x, inner_width(width));
    p.head.len() + p.samples.len() + p.query.len() + 1 + 2
}

fn inner_width(width: u16) -> usize {
    usize::from(width.saturating_sub(4))
}

pub(crate) fn render(frame: &mut Frame, app: &App, view: &View, area: Rect) {
    let engine = view.engine;
    let block = pane_block_titled(app, "Why", Some(subject(engine).to_string()), false);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let padded = Rect {
        x: inner.x.saturating_add(1),
        width: inner.width.saturating_sub(2),
        ..inner
    };
    let theme = app.theme();
    if let Some(r) = engine.canary().filter(|_| explains_judge(engine)) {
        let mut lines =
            canary::judge_lines(theme, &engine.plan().metrics, r, usize::from(padded.width));
        lines.truncate(usize::from(padded.height).saturating_sub(1));
        lines.push(judge_keys(app, engine));
        put_lines(frame, padded, &lines);
        return;
    }
    let Some(x) = engine.trip_to_explain() else {
        put_lines(
            frame,
            padded,
            &[Line::styled(
                "No guardrail has fired in this release.",
                theme.text,
            )],
        );
        return;
    };
    let Parts {
        head,
        mut samples,
        mut query,
        keys,
    } = parts(app, view, x, usize::from(padded.width));
    // What gives way when the pane is short: the query, then the oldest samples.
    let height = usize::from(padded.height);
    let fixed = head.len() + 1;
    if fixed + samples.len() + query.len() > height {
        query.clear();
    }
    if fixed + samples.len() > height {
        let drop = (fixed + samples.len())
            .saturating_sub(height)
            .min(samples.len());
        samples.drain(..drop);
    }
    let mut lines = head;
    lines.extend(samples);
    lines.extend(query);
    lines.truncate(height.saturating_sub(1));
    lines.push(keys);
    put_lines(frame, padded, &lines);
}

/// The keys under the judge's explanation: a release the judge paused resumes past it
/// (which waives its verdict for the step); any live one can be rolled back.
fn judge_keys(app: &App, engine: &Engine) -> Line<'static> {
    match engine.phase() {
        crate::engine::Phase::Paused { .. } => keys_line(
            app,
            &[
                ("w", "close"),
                ("space", "resume past it"),
                ("R", "roll back"),
            ],
        ),
        p if p.is_live() => keys_line(app, &[("w", "close"), ("R", "roll back")]),
        _ => keys_line(app, &[("w", "close")]),
    }
}
