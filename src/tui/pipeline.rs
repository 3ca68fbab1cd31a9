//! tui::pipeline: the release's path, PR → CI → QA → Stage → Prod, one status glyph each
//! (✓ passed, ✗ failed, ◐ running or live, ○ pending, – skipped or not tracked) and the
//! live percent on the rollout stage. Reads stage reports and the phase; never runs a stage.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::{App, View, fit, put_lines, spans_width};
use crate::engine::{Engine, Phase};
use crate::plan::{StageSource, StageStatus};

/// A stage as the pipeline line shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageView {
    pub name: String,
    pub(crate) glyph: char,
    /// Shown after the glyph: the live percent on the rollout stage.
    pub extra: String,
    pub status: StageStatus,
    pub detail: String,
}

fn status_glyph(status: StageStatus) -> char {
    match status {
        StageStatus::Passed => '✓',
        StageStatus::Failed => '✗',
        StageStatus::Running => '◐',
        StageStatus::Pending => '○',
        StageStatus::Skipped => '–',
    }
}

/// The rollout stage's status follows the engine's phase.
fn rollout_stage(engine: &Engine) -> (StageStatus, String) {
    let exposure = engine.exposure();
    let live = if exposure.enabled {
        format!("{}%", exposure.percent)
    } else {
        "off".into()
    };
    match engine.phase() {
        Phase::Ready => (StageStatus::Pending, String::new()),
        Phase::Baking { .. }
        | Phase::AwaitingApproval { .. }
        | Phase::Paused { .. }
        | Phase::Watching
        | Phase::RollingBack { .. } => (StageStatus::Running, live),
        Phase::RolledBack { .. } => (StageStatus::Failed, "off".into()),
        Phase::Completed => (StageStatus::Passed, live),
    }
}

pub fn stages(engine: &Engine) -> Vec<StageView> {
    let plan = engine.plan();
    let mut out: Vec<StageView> = plan
        .pipeline
        .iter()
        .map(|s| {
            let (status, extra, detail) = match s.source {
                StageSource::Rollout => {
                    let (status, extra) = rollout_stage(engine);
                    (status, extra, String::new())
                }
                StageSource::Untracked => (StageStatus::Skipped, String::new(), String::new()),
                _ => match engine.stage(&s.name) {
                    Some(r) => (r.status, String::new(), r.detail.clone()),
                    None => (StageStatus::Pending, String::new(), String::new()),
                },
            };
            StageView {
                name: s.name.clone(),
                glyph: status_glyph(status),
                extra,
                status,
                detail,
            }
        })
        .collect();
    if !plan
        .pipeline
        .iter()
        .any(|s| matches!(s.source, StageSource::Rollout))
    {
        let (status, extra) = rollout_stage(engine);
        out.push(StageView {
            name: "Prod".into(),
            glyph: status_glyph(status),
            extra,
            status,
            detail: String::new(),
        });
    }
    out
}

fn status_style(app: &App, status: StageStatus) -> Style {
    let t = app.theme();
    match status {
        StageStatus::Passed => t.ok,
        StageStatus::Failed => t.bad,
        StageStatus::Running => t.accent,
        StageStatus::Pending | StageStatus::Skipped => t.muted,
    }
}

pub fn render(frame: &mut Frame, app: &App, view: &View, area: Rect) {
    let theme = app.theme();
    let stages = stages(view.engine);
    let width = usize::from(area.width);
    // Narrow terminals drop the brackets' padding before anything else.
    let compact = {
        let full: usize = stages
            .iter()
            .map(|s| s.name.chars().count() + 4 + s.extra.chars().count() + 1 + 2)
            .sum::<usize>()
            + 11;
        full > width
    };
    let mut spans = vec![Span::styled(" Pipeline  ", theme.title)];
    for (i, s) in stages.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(if compact { "─" } else { "──" }, theme.muted));
        }
        let style = status_style(app, s.status);
        spans.push(Span::styled("[", theme.muted));
        spans.push(Span::styled(s.name.clone(), theme.text));
        spans.push(Span::styled(format!(" {}", s.glyph), style));
        if !s.extra.is_empty() {
            spans.push(Span::styled(format!(" {}", s.extra), style));
        }
        spans.push(Span::styled("]", theme.muted));
    }
    // What a failing or running stage said, while there is room for it.
    if let Some(s) = stages
        .iter()
        .find(|s| s.status == StageStatus::Failed && !s.detail.is_empty())
        .or_else(|| {
            stages
                .iter()
                .find(|s| s.status == StageStatus::Running && !s.detail.is_empty())
        })
    {
        let room = width.saturating_sub(spans_width(&spans) + 4);
        if room > 12 {
            spans.push(Span::styled(
                format!("  {}", fit(&format!("{}: {}", s.name, s.detail), room)),
                status_style(app, s.status),
            ));
        }
    }
    let untracked = view
        .engine
        .plan()
        .pipeline
        .iter()
        .any(|s| matches!(s.source, StageSource::Untracked));
    let note = "  – not tracked: the plan has no pipeline";
    if untracked && width >= spans_width(&spans) + note.chars().count() {
        spans.push(Span::styled(note, theme.muted));
    }
    put_lines(frame, area, &[Line::from(spans)]);
}
