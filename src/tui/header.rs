//! tui::header: the lines around the panes — the header (release, step, state badge,
//! time left, who is at the keys, data age, clock), the situation line (what is happening and what the
//! operator can do about it), the loud banner, and the bottom line (keys, or the answer to
//! the last key). Never hides state behind colour: every badge has a glyph and a word.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::layout::Pane;
use super::{App, Theme, View, fit, put_line, put_lines, spans_width};
use crate::engine::{Engine, PauseCause, Phase, WhenBaked};
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

/// What follows the badge: time left, who paused, what to do.
fn badge_detail(engine: &Engine) -> String {
    let left = || {
        engine
            .time_left()
            .map(|d| format!("{} left", fmt::duration(d)))
            .unwrap_or_default()
    };
    match engine.phase() {
        Phase::Ready => String::new(),
        Phase::Baking { .. } => match engine.starved() {
            Some((have, need)) => format!("{} · starved {have}/{need}", left()),
            None => left(),
        },
        Phase::AwaitingApproval { .. } => "P to approve".into(),
        Phase::Paused { by, .. } => match by {
            PauseCause::Operator(who) => format!("by {who}"),
            PauseCause::Guardrail(i) => engine
                .plan()
                .guardrails
                .rules
                .get(*i)
                .map(|r| format!("by guardrail: {}", r.metric))
                .unwrap_or_else(|| "by a guardrail".into()),
            PauseCause::Stale(m) => format!("{m} stale"),
            PauseCause::Outside => "flag changed outside".into(),
        },
        Phase::RollingBack { .. } => "waiting for the backend".into(),
        Phase::RolledBack { .. } => "flag off".into(),
        Phase::Watching => left(),
        Phase::Completed => "remove the flag".into(),
    }
}

struct Segment<'a> {
    spans: Vec<Span<'a>>,
    /// Higher stays longer when the line is too narrow.
    keep: u8,
    /// Joined to the segment before with a space, not a separator (`checkout-v2 2.5.0`).
    glued: bool,
}

pub fn render(frame: &mut Frame, app: &App, view: &View, area: Rect) {
    let theme = app.theme();
    let engine = view.engine;
    let plan = engine.plan();
    let phase = engine.phase();
    let steps = &plan.rollout.steps;
    let mut left = vec![
        Segment {
            spans: vec![Span::styled("shipdeck", theme.header)],
            keep: 1,
            glued: false,
        },
        Segment {
            spans: vec![Span::styled(plan.release.name.clone(), theme.header)],
            keep: 8,
            glued: false,
        },
        Segment {
            spans: vec![Span::styled(plan.release.version.clone(), theme.header)],
            keep: 3,
            glued: true,
        },
        Segment {
            spans: vec![Span::styled(plan.release.strategy.name(), theme.header)],
            keep: 2,
            glued: false,
        },
    ];
    if let Some(i) = engine.step_index() {
        let name = steps.get(i).map(|s| s.name.as_str()).unwrap_or("");
        left.push(Segment {
            spans: vec![Span::styled(
                format!("step {}/{} {name}", i + 1, steps.len()),
                theme.header,
            )],
            keep: 7,
            glued: false,
        });
    }
    let mut badge = vec![Span::styled(
        format!(" {} {} ", glyph(phase), phase.badge()),
        phase_style(app, phase),
    )];
    let detail = badge_detail(engine);
    if !detail.is_empty() {
        badge.push(Span::styled(format!(" {detail}"), theme.header));
    }
    left.push(Segment {
        spans: badge,
        keep: 10,
        glued: false,
    });
    let stale_after = chrono::Duration::from_std(plan.metrics.stale_window()).unwrap_or_default();
    let (age, age_style) = match view.data_age {
        None => ("no data yet".to_string(), theme.stale),
        Some(a) if a > stale_after => (
            format!("data {} old", fmt::secs(a.num_seconds())),
            theme.stale,
        ),
        Some(a) => (
            format!("data {} old", fmt::secs(a.num_seconds())),
            theme.header,
        ),
    };
    let mut right = vec![
        Segment {
            spans: vec![Span::styled(format!("as {}", view.operator), theme.header)],
            keep: 2,
            glued: false,
        },
        Segment {
            spans: vec![Span::styled(age, age_style)],
            keep: 5,
            glued: false,
        },
        Segment {
            spans: vec![Span::styled(
                view.now.format("%Y-%m-%d").to_string(),
                theme.header,
            )],
            keep: 0,
            glued: false,
        },
        Segment {
            spans: vec![Span::styled(
                format!("{} ", view.now.format("%H:%M:%SZ")),
                theme.header,
            )],
            keep: 4,
            glued: false,
        },
    ];
    let width = usize::from(area.width);
    let sep = " ─ ";
    let measure = |l: &[Segment], r: &[Segment]| {
        let w = |segs: &[Segment]| {
            segs.iter()
                .enumerate()
                .map(|(i, s)| {
                    let joint = match (i, s.glued) {
                        (0, _) => 0,
                        (_, true) => 1,
                        _ => sep.chars().count(),
                    };
                    spans_width(&s.spans) + joint
                })
                .sum::<usize>()
        };
        // A space at each end, and room between the two sides so they never run together.
        w(l) + w(r) + 2 + 3
    };
    while measure(&left, &right) > width {
        let lowest = |segs: &[Segment]| segs.iter().map(|s| s.keep).min();
        match (lowest(&left), lowest(&right)) {
            (Some(a), Some(b)) if b <= a => drop_lowest(&mut right),
            (Some(_), _) => drop_lowest(&mut left),
            (None, Some(_)) => drop_lowest(&mut right),
            (None, None) => break,
        }
    }
    let join = |segs: Vec<Segment<'static>>, sep_style: Style| {
        let mut out: Vec<Span> = Vec::new();
        for (i, s) in segs.into_iter().enumerate() {
            if i > 0 {
                out.push(Span::styled(if s.glued { " " } else { sep }, sep_style));
            }
            out.extend(s.spans);
        }
        out
    };
    let mut spans = vec![Span::styled(" ", theme.header)];
    spans.extend(join(left, theme.header));
    let right_spans = join(right, theme.header);
    let gap = width.saturating_sub(spans_width(&spans) + spans_width(&right_spans));
    spans.push(Span::styled(" ".repeat(gap), theme.header));
    spans.extend(right_spans);
    put_line(frame, area, &Line::from(spans), theme.header);
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

/// One sentence: where the release stands and what can be done now.
pub(crate) fn situation(engine: &Engine) -> (String, String) {
    let plan = engine.plan();
    let steps = &plan.rollout.steps;
    let step_text = |i: usize| steps.get(i).map(|s| s.label()).unwrap_or_default();
    let left = engine.time_left().map(fmt::duration).unwrap_or_default();
    let watch = fmt::duration(plan.rollout.watch);
    match engine.phase() {
        Phase::Ready => {
            let open = engine.open_items(crate::plan::ListKind::PreRelease).len();
            let total = plan.checklists.pre_release.len();
            let gate = if open > 0 {
                format!(" Pre-release checklist: {}/{total} done.", total - open)
            } else {
                String::new()
            };
            (
                "Not started.".into(),
                format!(" P starts step 1: {}.{gate}", step_text(0)),
            )
        }
        Phase::Baking { step } => {
            // In the engine's own words of what it will do, so the line never promises a
            // promote the engine will not make (after a slider override, it waits).
            let then = match engine.when_baked(*step) {
                WhenBaked::Promotes if step + 1 < steps.len() => {
                    format!("then promotes to {} by itself", step_text(step + 1))
                }
                WhenBaked::Promotes => format!("then the {watch} watch starts by itself"),
                WhenBaked::WaitsForApproval => "then waits for approval (P)".to_string(),
                WhenBaked::HeldBySlider(held) => {
                    format!("then waits for a promote (P): the slider holds {held}%")
                }
            };
            let held = if let Some((have, need)) = engine.starved() {
                format!(" Starved: {have}/{need} fresh samples; the bake cannot finish yet.")
            } else {
                let b = engine.blockers();
                if b.is_empty() {
                    String::new()
                } else {
                    format!(" Held: {}.", b.join("; "))
                }
            };
            (
                format!("Baking {}:", step_text(*step)),
                format!(" {left} left on healthy data, {then}.{held}"),
            )
        }
        Phase::AwaitingApproval { step } => {
            let next = if step + 1 < steps.len() {
                format!("P promotes to {}", step_text(step + 1))
            } else {
                format!("P starts the {watch} watch")
            };
            (
                format!("{} baked clean.", step_text(*step)),
                format!(" {next}; R rolls back."),
            )
        }
        Phase::Paused { reason, by, .. } => {
            let how = match by {
                PauseCause::Guardrail(_) | PauseCause::Stale(_) => {
                    "resumes by itself once clear; w explains, space forces, R rolls back."
                }
                PauseCause::Outside => "space re-applies the plan's flag; R rolls back.",
                PauseCause::Operator(_) => "space resumes; R rolls back.",
            };
            (
                "Paused:".into(),
                format!(" {reason}. Timers are frozen; {how}"),
            )
        }
        Phase::RollingBack { reason, .. } => {
            let failures = engine.progress().flag_failures;
            let retry = if failures > 0 {
                format!(" Flag write failing (attempt {failures}), retrying.")
            } else {
                String::new()
            };
            (
                "Rolling back:".into(),
                format!(
                    " {reason}. Waiting for the flag backend to confirm the flag is off.{retry}"
                ),
            )
        }
        Phase::RolledBack { reason, .. } => (
            "Rolled back:".into(),
            format!(" {reason}. The flag is off, confirmed by the backend. b shows the runbook."),
        ),
        Phase::Watching => (
            "Released to the last step:".into(),
            format!(" guardrails watch {left} more; a trip still pauses or rolls back."),
        ),
        Phase::Completed => (
            "Completed:".into(),
            " watched clean. Post-release: remove the flag, announce, document learnings.".into(),
        ),
    }
}

pub(crate) fn render_situation(frame: &mut Frame, app: &App, view: &View, area: Rect) {
    let phase = view.engine.phase();
    let (lead, rest) = situation(view.engine);
    let width = usize::from(area.width);
    let lead = fit(&format!(" {lead}"), width);
    let rest = fit(&rest, width.saturating_sub(lead.chars().count()));
    let lead_style = match phase {
        Phase::Paused { .. } | Phase::RollingBack { .. } | Phase::RolledBack { .. } => {
            app.theme().bad
        }
        _ => app.theme().title,
    };
    put_lines(
        frame,
        area,
        &[Line::from(vec![
            Span::styled(lead, lead_style),
            Span::styled(rest, app.theme().text),
        ])],
    );
}

pub(crate) fn render_banner(frame: &mut Frame, app: &App, view: &View, area: Rect) {
    use crate::control::HolderState;
    let mut parts = Vec::new();
    if let Some(n) = &view.notice {
        parts.push(format!("⚠ {n}"));
    }
    let mut alarm = view.alarm;
    if let Some(holder) = view.follower_of {
        parts.push(match view.holder_state {
            Some(HolderState::Gone) => format!(
                "HOLDER GONE: {holder} stopped; nobody guards this release · T take over · R roll back now"
            ),
            Some(HolderState::Silent { secs }) => format!(
                "HOLDER SILENT: no heartbeat from {holder} for {secs}s; it may be frozen or cut off · T take over"
            ),
            _ => format!("READ-ONLY: {holder} holds this release; this screen follows it"),
        });
        alarm |= view.holder_state.is_some_and(|s| s.unguarded());
    }
    let text = fit(&format!(" {}", parts.join(" · ")), usize::from(area.width));
    let style = if alarm {
        app.theme().bad
    } else {
        app.theme().notice
    };
    put_line(frame, area, &Line::from(text), style);
}

/// Key hints in the order they matter; the bottom line shows as many as fit. Health and
/// Rollout have no keys of their own: these act in every pane.
pub(crate) const HINTS: [(&str, &str); 10] = [
    ("space", "pause/resume"),
    ("P", "promote"),
    ("R", "rollback"),
    ("←/→", "slider"),
    ("enter", "apply"),
    ("tab", "focus"),
    ("w", "why"),
    ("z", "zoom"),
    ("t", "theme"),
    ("b", "runbook"),
];

/// The hints while the checklist has focus: its own keys first (with no slider target
/// waiting, enter opens the item's details there).
pub(crate) const CHECKLIST_HINTS: [(&str, &str); 12] = [
    ("j/k", "move"),
    ("x", "tick"),
    ("r", "re-run"),
    ("enter", "details"),
    ("space", "pause/resume"),
    ("P", "promote"),
    ("R", "rollback"),
    ("tab", "focus"),
    ("w", "why"),
    ("z", "zoom"),
    ("t", "theme"),
    ("b", "runbook"),
];

/// The hints while the journal has focus: its own keys first.
pub(crate) const JOURNAL_HINTS: [(&str, &str); 12] = [
    ("j/k", "scroll"),
    ("home", "newest"),
    ("space", "pause/resume"),
    ("P", "promote"),
    ("R", "rollback"),
    ("←/→", "slider"),
    ("enter", "apply"),
    ("tab", "focus"),
    ("w", "why"),
    ("z", "zoom"),
    ("t", "theme"),
    ("b", "runbook"),
];

pub(crate) fn render_status(frame: &mut Frame, app: &App, _view: &View, area: Rect) {
    let theme = app.theme();
    let width = usize::from(area.width);
    if let Some(status) = app.status() {
        let (mark, style) = if status.ok {
            ('✓', theme.status_ok)
        } else {
            ('✗', theme.status_error)
        };
        let text = fit(&format!(" {mark} {}", status.text), width);
        put_lines(frame, area, &[Line::styled(text, style)]);
        return;
    }
    let tail = [("?", "help"), ("q", "quit")];
    let hint = |k: &'static str, label: &'static str| {
        vec![
            Span::styled(k, theme.key),
            Span::styled(format!(" {label}"), theme.muted),
        ]
    };
    let sep = || Span::styled(" · ", theme.muted);
    let tail_spans: Vec<Span> = tail
        .iter()
        .enumerate()
        .flat_map(|(i, (k, l))| {
            let mut v = if i > 0 { vec![sep()] } else { Vec::new() };
            v.extend(hint(k, l));
            v
        })
        .collect();
    let budget = width.saturating_sub(spans_width(&tail_spans) + 1);
    let mut spans = vec![Span::raw(" ")];
    let hints: &[(&str, &str)] = match app.focus() {
        Pane::Checklist if app.slider().is_none() => &CHECKLIST_HINTS,
        Pane::Journal => &JOURNAL_HINTS,
        _ => &HINTS,
    };
    for (k, l) in hints.iter().copied() {
        let mut next = hint(k, l);
        next.push(sep());
        if spans_width(&spans) + spans_width(&next) > budget {
            break;
        }
        spans.extend(next);
    }
    spans.extend(tail_spans);
    put_lines(frame, area, &[Line::from(spans)]);
}
