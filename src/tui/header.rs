//! tui::header: the top line — release, step, state badge, what the engine does next by
//! itself and when, the data's age, who is at the keys, the clock — laid out so that it
//! keeps still from one frame to the next. Never hides state behind colour: every badge
//! has a glyph and a word. The other lines around the panes are `lines`'.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::{App, Theme, View, put_line, spans_width};
use crate::engine::{Engine, Next, PauseCause, Phase};
use crate::plan::Action;
use crate::support::fmt;

/// The state badge's glyph: the state reads without colour.
pub(crate) fn glyph(phase: &Phase) -> char {
    match phase {
        Phase::Ready => '○',
        Phase::Baking { .. } => '●',
        Phase::AwaitingApproval { .. } => '▶',
        Phase::Paused { .. } => '‖',
        Phase::RollingBack { .. } => '↺',
        Phase::RolledBack { .. } => '✗',
        Phase::Watching => '◉',
        Phase::Completed => '✓',
    }
}

pub(crate) fn phase_style(app: &App, phase: &Phase) -> Style {
    phase_style_in(app.theme(), phase)
}

/// The state badge's style in `t`.
pub(crate) fn phase_style_in(t: &Theme, phase: &Phase) -> Style {
    match phase {
        Phase::Ready => t.ready,
        Phase::Baking { .. } => t.baking,
        Phase::AwaitingApproval { .. } => t.awaiting,
        Phase::Paused { .. } => t.paused,
        Phase::RollingBack { .. } => t.rolling_back,
        Phase::RolledBack { .. } => t.rolled_back,
        Phase::Watching => t.watching,
        Phase::Completed => t.completed,
    }
}

/// Who or what put the release in its state, beside the badge: `by alice`, `by
/// error_rate`, `flag off`. What happens next is [`next_segment`]'s.
pub(crate) fn badge_detail(engine: &Engine) -> String {
    match engine.phase() {
        Phase::Baking { .. } | Phase::Watching => engine
            .starved()
            .map(|(have, need)| format!("starved {have}/{need}"))
            .unwrap_or_default(),
        Phase::Paused { by, .. } => match by {
            PauseCause::Operator(who) => format!("by {who}"),
            PauseCause::Guardrail(i) => engine
                .plan()
                .guardrails
                .rules
                .get(*i)
                .map(|r| format!("by {}", r.metric))
                .unwrap_or_else(|| "by a guardrail".into()),
            PauseCause::Stale(m) => format!("{m} stale"),
            PauseCause::Outside => "flag changed outside".into(),
            PauseCause::Canary => "by the canary judge".into(),
        },
        Phase::RolledBack { .. } => "flag off".into(),
        Phase::Completed => "remove the flag".into(),
        Phase::Ready | Phase::AwaitingApproval { .. } | Phase::RollingBack { .. } => String::new(),
    }
}

/// The widest a countdown reads in [`fmt::duration`] below 100 days (`23h 59m`).
const COUNTDOWN_W: usize = 7;
/// The widest the data's age reads: `data 59m 59s old`.
const AGE_W: usize = 16;

/// How a segment joins the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Joint {
    /// ` ─ `
    Separator,
    /// A space: `checkout-v2 2.5.0`, `‖ PAUSED  by alice`.
    Space,
    /// ` · ` after what says who, a space straight after the badge: what happens next.
    Then,
}

struct Segment<'a> {
    spans: Vec<Span<'a>>,
    /// Higher stays longer when the line is too narrow.
    keep: u8,
    joint: Joint,
    /// The state badge, which what follows it hangs on.
    badge: bool,
    /// The columns it takes: text that changes between frames (a countdown, the data's
    /// age) takes its widest, so what is beside it never moves and the same segments
    /// fit from one frame to the next.
    width: usize,
}

impl<'a> Segment<'a> {
    fn new(spans: Vec<Span<'a>>, keep: u8) -> Segment<'a> {
        let width = spans_width(&spans);
        Segment {
            spans,
            keep,
            joint: Joint::Separator,
            badge: false,
            width,
        }
    }

    fn text(text: String, style: Style, keep: u8) -> Segment<'a> {
        Segment::new(vec![Span::styled(text, style)], keep)
    }

    fn joined(mut self, joint: Joint) -> Self {
        self.joint = joint;
        self
    }

    fn at_least(mut self, width: usize) -> Self {
        self.width = self.width.max(width);
        self
    }
}

/// What the engine does next by itself, in its words, in the style of its weight.
fn next_segment<'a>(app: &App, engine: &Engine) -> Option<Segment<'a>> {
    let theme = app.theme();
    let next = engine.next();
    let words = engine.next_words(&next);
    if words.is_empty() {
        return None;
    }
    let style = match next {
        Next::Fires {
            action: Action::Rollback,
            ..
        } => theme.bad,
        Next::Fires { .. } => theme.warn,
        _ => theme.header,
    };
    let width = words.chars().count();
    // The countdown takes its widest, so the line does not move as it counts.
    let reserved = next.left().map_or(width, |left| {
        let shown = fmt::duration(left).chars().count();
        width - shown + shown.max(COUNTDOWN_W)
    });
    Some(
        Segment::text(words, style, 9)
            .joined(Joint::Then)
            .at_least(reserved),
    )
}

/// `data ≤15s old` while every sample has come on time, else how old the newest is.
fn age_segment<'a>(app: &App, view: &View) -> Segment<'a> {
    let theme = app.theme();
    let metrics = &view.engine.plan().metrics;
    let interval = chrono::Duration::from_std(metrics.interval).unwrap_or_default();
    let stale_after = chrono::Duration::from_std(metrics.stale_window()).unwrap_or_default();
    let (text, style) = match view.data_age {
        None => ("no data yet".to_string(), theme.stale),
        // Within one interval the newest sample is the newest there can be: saying how
        // far into the interval the clock is would only flicker.
        Some(a) if a <= interval => (
            format!("data ≤{} old", fmt::duration(metrics.interval)),
            theme.header,
        ),
        Some(a) => (
            format!("data {} old", fmt::secs(a.num_seconds())),
            if a > stale_after {
                theme.stale
            } else {
                theme.header
            },
        ),
    };
    Segment::text(text, style, 5).at_least(AGE_W)
}

pub fn render(frame: &mut Frame, app: &App, view: &View, area: Rect) {
    let theme = app.theme();
    let engine = view.engine;
    let plan = engine.plan();
    let phase = engine.phase();
    let steps = &plan.rollout.steps;
    let h = theme.header;
    let mut left = vec![
        Segment::text("shipdeck".into(), h, 1),
        Segment::text(plan.release.name.clone(), h, 8),
        Segment::text(plan.release.version.clone(), h, 3).joined(Joint::Space),
        Segment::text(plan.release.strategy.name().into(), h, 2),
    ];
    if let Some(i) = engine.step_index() {
        let name = steps.get(i).map(|s| s.name.as_str()).unwrap_or("");
        left.push(Segment::text(
            format!("step {}/{} {name}", i + 1, steps.len()),
            h,
            7,
        ));
    }
    let mut badge = Segment::new(
        vec![Span::styled(
            format!(" {} {} ", glyph(phase), phase.badge()),
            phase_style(app, phase),
        )],
        10,
    );
    badge.badge = true;
    left.push(badge);
    let detail = badge_detail(engine);
    if !detail.is_empty() {
        left.push(Segment::text(detail, h, 4).joined(Joint::Space));
    }
    left.extend(next_segment(app, engine));
    let mut right = vec![
        age_segment(app, view),
        Segment::text(format!("as {}", view.operator), h, 2),
        Segment::text(view.now.format("%Y-%m-%d").to_string(), h, 0),
        Segment::text(view.now.format("%H:%M:%SZ").to_string(), h, 6),
    ];
    let width = usize::from(area.width);
    let measure = |segs: &[Segment]| {
        segs.iter()
            .enumerate()
            .map(|(i, s)| s.width + joint(segs, i).chars().count())
            .sum::<usize>()
    };
    // A space at each end, and room between the two sides so they never run together.
    while measure(&left) + measure(&right) + 2 + 3 > width {
        let lowest = |segs: &[Segment]| segs.iter().map(|s| s.keep).min();
        match (lowest(&left), lowest(&right)) {
            (Some(a), Some(b)) if b <= a => drop_lowest(&mut right),
            (Some(_), _) => drop_lowest(&mut left),
            (None, Some(_)) => drop_lowest(&mut right),
            (None, None) => break,
        }
    }
    // Each segment padded to its width: after it on the left, before it on the right,
    // so the padding joins the gap between the two sides.
    let join = |segs: Vec<Segment<'static>>, pad_before: bool| {
        let joints: Vec<&str> = (0..segs.len()).map(|i| joint(&segs, i)).collect();
        let mut out: Vec<Span> = Vec::new();
        for (s, joint) in segs.into_iter().zip(joints) {
            out.push(Span::styled(joint, h));
            let pad = " ".repeat(s.width.saturating_sub(spans_width(&s.spans)));
            if pad_before {
                out.push(Span::styled(pad.clone(), h));
            }
            out.extend(s.spans);
            if !pad_before {
                out.push(Span::styled(pad, h));
            }
        }
        out
    };
    let mut spans = vec![Span::styled(" ", h)];
    spans.extend(join(left, false));
    let mut right_spans = join(right, true);
    right_spans.push(Span::styled(" ", h));
    let gap = width.saturating_sub(spans_width(&spans) + spans_width(&right_spans));
    spans.push(Span::styled(" ".repeat(gap), h));
    spans.extend(right_spans);
    put_line(frame, area, &Line::from(spans), h);
}

/// What goes before segment `i`.
fn joint(segs: &[Segment], i: usize) -> &'static str {
    let Some(before) = i.checked_sub(1).and_then(|b| segs.get(b)) else {
        return "";
    };
    match segs[i].joint {
        Joint::Separator => " ─ ",
        Joint::Space => " ",
        Joint::Then if before.badge => " ",
        Joint::Then => " · ",
    }
}

fn drop_lowest(segs: &mut Vec<Segment>) {
    if let Some(i) = segs
        .iter()
        .enumerate()
        .min_by_key(|(_, s)| s.keep)
        .map(|(i, _)| i)
    {
        segs.remove(i);
    }
}
