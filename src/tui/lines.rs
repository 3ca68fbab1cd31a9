//! tui::lines: the lines around the panes other than the header — the situation line
//! (where the release stands, what happens next and what the operator can do), the loud
//! banner, and the bottom line (keys, or the answer to the last key). Words about what
//! happens next are the engine's (`Engine::next`), so no line promises what the engine
//! will not do.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::keymap::Action;
use super::layout::Pane;
use super::{App, View, fit, put_line, put_lines, spans_width};
use crate::engine::{Engine, Next, PauseCause, Phase, WhenBaked};
use crate::support::fmt;

/// One sentence: where the release stands and what can be done now.
pub(crate) fn situation(engine: &Engine) -> (String, String) {
    let (lead, rest) = standing(engine);
    // A guardrail about to act comes before everything else the line says.
    match engine.next() {
        next @ Next::Fires { .. } => (lead, format!(" {}.{rest}", engine.next_words(&next))),
        _ => (lead, rest),
    }
}

/// Where the release stands and what can be done about it.
fn standing(engine: &Engine) -> (String, String) {
    let plan = engine.plan();
    let steps = &plan.rollout.steps;
    let step_text = |i: usize| steps.get(i).map(|s| s.label()).unwrap_or_default();
    let left = engine.time_left().map(fmt::duration).unwrap_or_default();
    let watch = fmt::duration(plan.rollout.watch);
    match engine.phase() {
        Phase::Ready => {
            let list = crate::plan::ListKind::PreRelease;
            let open = engine.open_items(list).len();
            let total = plan.checklists.pre_release.len();
            let gate = if open > 0 && plan.checklists.gates(list) {
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
                WhenBaked::JudgeActs(action) => format!(
                    "then the canary judge's verdict does {} (w shows it)",
                    action.name()
                ),
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
                PauseCause::Canary => "w shows the judge; space resumes past it; R rolls back.",
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
            format!(
                " {reason}. The flag is off, confirmed by the backend. b: runbook; P: new attempt."
            ),
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

/// A hint in the bottom line: the actions whose keys it shows (`←/→`), and the word.
type Hint = (&'static [Action], &'static str);

/// Key hints in the order they matter; the bottom line shows as many as fit, with the
/// user's keys. Health and Rollout have no keys of their own: these act in every pane.
const HINTS: [Hint; 10] = [
    (&[Action::Pause], "pause/resume"),
    (&[Action::Promote], "promote"),
    (&[Action::Rollback], "rollback"),
    (&[Action::SliderDown, Action::SliderUp], "slider"),
    (&[Action::Apply], "apply"),
    (&[Action::FocusNext], "focus"),
    (&[Action::Why], "why"),
    (&[Action::Zoom], "zoom"),
    (&[Action::Theme], "theme"),
    (&[Action::Runbook], "runbook"),
];

/// The hints while the checklist has focus: its own keys first (with no slider target
/// waiting, enter opens the item's details there).
const CHECKLIST_HINTS: [Hint; 12] = [
    (&[Action::Down, Action::Up], "move"),
    (&[Action::Tick], "tick"),
    (&[Action::Rerun], "re-run"),
    (&[Action::Apply], "details"),
    (&[Action::Pause], "pause/resume"),
    (&[Action::Promote], "promote"),
    (&[Action::Rollback], "rollback"),
    (&[Action::FocusNext], "focus"),
    (&[Action::Why], "why"),
    (&[Action::Zoom], "zoom"),
    (&[Action::Theme], "theme"),
    (&[Action::Runbook], "runbook"),
];

/// The hints while the journal has focus: its own keys first (with no slider target
/// waiting, enter opens the entry under ▸).
const JOURNAL_HINTS: [Hint; 12] = [
    (&[Action::Down, Action::Up], "move"),
    (&[Action::Apply], "entry"),
    (&[Action::Filter], "filter"),
    (&[Action::First, Action::Last], "newest/oldest"),
    (&[Action::Pause], "pause/resume"),
    (&[Action::Promote], "promote"),
    (&[Action::Rollback], "rollback"),
    (&[Action::FocusNext], "focus"),
    (&[Action::Why], "why"),
    (&[Action::Zoom], "zoom"),
    (&[Action::Theme], "theme"),
    (&[Action::Runbook], "runbook"),
];

/// The journal's hints while a filter narrows it: how to see every entry again comes
/// right after the filter's own key.
const FILTERED_JOURNAL_HINTS: [Hint; 12] = [
    (&[Action::Down, Action::Up], "move"),
    (&[Action::Apply], "entry"),
    (&[Action::Filter], "filter"),
    (&[Action::Close], "unfilter"),
    (&[Action::First, Action::Last], "newest/oldest"),
    (&[Action::Pause], "pause/resume"),
    (&[Action::Promote], "promote"),
    (&[Action::Rollback], "rollback"),
    (&[Action::FocusNext], "focus"),
    (&[Action::Why], "why"),
    (&[Action::Zoom], "zoom"),
    (&[Action::Runbook], "runbook"),
];

/// The hints that end the bottom line whatever fits before them.
const TAIL_HINTS: [Hint; 2] = [(&[Action::Help], "help"), (&[Action::Quit], "quit")];

pub(crate) fn render_status(frame: &mut Frame, app: &App, _view: &View, area: Rect) {
    let theme = app.theme();
    let width = usize::from(area.width);
    if let Some(status) = app.status() {
        put_lines(frame, area, &[status.line(theme, width)]);
        return;
    }
    // The keys as the user bound them; an action left without a key is not hinted.
    let keys = |actions: &[Action]| app.keymap().hint(actions);
    let hint = |k: String, label: &'static str| {
        vec![
            Span::styled(k, theme.key),
            Span::styled(format!(" {label}"), theme.muted),
        ]
    };
    let sep = || Span::styled(" · ", theme.muted);
    let tail_spans: Vec<Span> = TAIL_HINTS
        .iter()
        .filter_map(|(a, l)| keys(a).map(|k| hint(k, l)))
        .enumerate()
        .flat_map(|(i, h)| {
            let mut v = if i > 0 { vec![sep()] } else { Vec::new() };
            v.extend(h);
            v
        })
        .collect();
    let budget = width.saturating_sub(spans_width(&tail_spans) + 1);
    let mut spans = vec![Span::raw(" ")];
    let hints: &[Hint] = match app.focus() {
        Pane::Checklist if app.slider().is_none() => &CHECKLIST_HINTS,
        Pane::Journal if app.slider().is_some() => &HINTS,
        Pane::Journal if app.journal().filter.is_some() => &FILTERED_JOURNAL_HINTS,
        Pane::Journal => &JOURNAL_HINTS,
        _ => &HINTS,
    };
    for (actions, l) in hints {
        let Some(k) = keys(actions) else {
            continue;
        };
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
