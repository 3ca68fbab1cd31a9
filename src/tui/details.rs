//! tui::details: what `enter` shows about a checklist item — for an automatic item, where
//! its result comes from (a command, a stage's command or status file, a metric), its
//! status and why, its runs and the tail of the last run's output; for a hand-ticked item,
//! who ticked it. Draws from the snapshot only: running anything again is `r`, an intent.

use ratatui::text::Line;

use super::keymap::Action;
use super::pipeline::stages;
use super::popup::{Draft, bound_keys_line};
use super::{App, View, fit};
use crate::pipeline::checks::CHECK_EVERY;
use crate::pipeline::{RunRecord, SourceKind};
use crate::plan::{Check, ListKind, StageStatus, condition_text};
use crate::support::fmt;

/// The popup's title and lines for one item, in at most `rows` lines (the output's oldest
/// lines give way first).
pub(super) fn details<'a>(
    app: &App,
    view: &View,
    list: ListKind,
    item: usize,
    width: usize,
    rows: usize,
) -> (String, Vec<Line<'a>>) {
    let engine = view.engine;
    let Some(it) = engine.plan().checklists.list(list).get(item) else {
        return (
            " Details ".into(),
            vec![bound_keys_line(app, &[(&[Action::Close], "close")])],
        );
    };
    let title = format!(" {} ({}) ", it.text, list.title().to_lowercase());
    let mut d = Draft::new(app, width);
    let mut output: Option<&RunRecord> = None;
    let mut rerun = None;
    match &it.check {
        None => hand(&mut d, view, list, item),
        Some(Check::Metric { metric, condition }) => {
            let unit = engine.plan().metrics.series(metric).map(|s| s.unit);
            let rule = unit.map_or_else(String::new, |u| condition_text(u, condition));
            let every = fmt::duration(engine.plan().metrics.interval);
            d.field(
                "source",
                &format!("metric {metric} {rule}"),
                app.theme().popup,
            );
            d.field(
                "when",
                &format!("at every sample (every {every})"),
                app.theme().popup,
            );
            let (done, why) = engine.item_done(list, item);
            let (word, style) = if done {
                ("✓ holds", app.theme().ok)
            } else {
                ("✗ does not hold", app.theme().bad)
            };
            d.field("status", word, style);
            d.field("why", &why.unwrap_or_default(), app.theme().popup);
        }
        Some(Check::Command { .. }) => {
            let check = view
                .checks
                .iter()
                .find(|c| c.list == list && c.item == item);
            let report = engine
                .progress()
                .reports
                .checks
                .get(&list)
                .and_then(|l| l.get(&item));
            let source = check.map_or("", |c| c.source.as_str());
            d.field("source", &format!("command {source}"), app.theme().popup);
            let every = fmt::duration(CHECK_EVERY);
            let when = match view.follower_of {
                Some(_) => format!("by the holder: at start and {every} after each run"),
                None => format!("at start and {every} after each run; r runs it now"),
            };
            d.field("when", &when, app.theme().popup);
            let running = check.is_some_and(|c| c.running);
            let (word, style) = match (running, report.map(|r| r.ok)) {
                (true, _) => ("◐ running".to_string(), app.theme().accent),
                (false, Some(true)) => ("✓ passed".to_string(), app.theme().ok),
                (false, Some(false)) => ("✗ failed".to_string(), app.theme().bad),
                (false, None) => ("○ not run yet".to_string(), app.theme().muted),
            };
            d.field("status", &word, style);
            let why = report.map_or_else(|| check.map_or("", |c| c.detail.as_str()), |r| &r.detail);
            d.field("why", why, app.theme().popup);
            if let Some(c) = check {
                runs(&mut d, view, "runs", c.runs, c.last_run.as_ref());
                output = c.last_run.as_ref();
                rerun = Some("run now");
            }
        }
        Some(Check::Stage(name)) => {
            let stage = view.stages.iter().find(|s| &s.name == name);
            let shown = stages(engine).into_iter().find(|s| &s.name == name);
            d.field("stage", name, app.theme().popup);
            if let Some(s) = stage {
                let source = match s.kind {
                    SourceKind::Command => format!("command {}", s.source),
                    SourceKind::Rollout => "the rollout itself: it moves with its phase".into(),
                    SourceKind::Static | SourceKind::StatusFile | SourceKind::Untracked => {
                        s.source.clone()
                    }
                };
                d.field("source", &source, app.theme().popup);
            }
            let status = shown.as_ref().map_or(StageStatus::Pending, |s| s.status);
            let style = match status {
                StageStatus::Passed => app.theme().ok,
                StageStatus::Failed => app.theme().bad,
                StageStatus::Running => app.theme().accent,
                StageStatus::Pending | StageStatus::Skipped => app.theme().muted,
            };
            let glyph = shown.as_ref().map_or('○', |s| s.glyph);
            d.field("status", &format!("{glyph} {}", status.word()), style);
            let why = shown.as_ref().map_or("", |s| s.detail.as_str());
            d.field("why", why, app.theme().popup);
            if let Some(s) = stage {
                if let Some(url) = &s.url {
                    d.field("url", url, app.theme().accent);
                }
                match s.kind {
                    SourceKind::Command => {
                        runs(&mut d, view, "runs", s.runs, s.last_run.as_ref());
                        output = s.last_run.as_ref();
                    }
                    SourceKind::StatusFile => runs(&mut d, view, "reads", s.runs, None),
                    SourceKind::Static | SourceKind::Rollout | SourceKind::Untracked => {}
                }
                if s.rerunnable() {
                    rerun = Some(match s.kind {
                        SourceKind::StatusFile => "read again",
                        _ => "run again",
                    });
                }
            }
        }
    }
    let mut keys: Vec<(&[Action], &str)> = Vec::new();
    if let Some(label) = rerun
        && view.follower_of.is_none()
    {
        keys.push((&[Action::Rerun], label));
    }
    keys.extend([
        (&[Action::Down, Action::Up][..], "next item"),
        (&[Action::Close][..], "close"),
    ]);
    // Room left for the output: its heading, the blank line and the keys take three.
    let room = rows.saturating_sub(d.lines.len() + 3);
    if let Some(run) = output {
        let kept = run.output.lines().len();
        let shown = kept.min(room);
        let total = run.output.total();
        let heading = match (shown as u64 == total, total) {
            (_, 0) if run.elapsed.is_none() => "nothing printed yet".to_string(),
            (_, 0) => "nothing printed".to_string(),
            (true, 1) => "the one line it printed:".to_string(),
            (true, _) => format!("the {total} lines it printed:"),
            (false, _) if shown == 0 => format!("{total} lines; a taller terminal shows them"),
            (false, _) => format!("the last {shown} of {total} lines it printed:"),
        };
        d.field("output", &heading, app.theme().muted);
        for l in run.output.lines().skip(kept - shown) {
            d.lines.push(Line::styled(
                format!("  {}", fit(l, width.saturating_sub(2))),
                app.theme().popup,
            ));
        }
    }
    d.lines.push(Line::raw(""));
    d.lines.push(bound_keys_line(app, &keys));
    (title, d.lines)
}

/// A hand-ticked item: ticked or open, and by whom.
fn hand(d: &mut Draft, view: &View, list: ListKind, item: usize) {
    let theme = d.app.theme();
    let engine = view.engine;
    if !engine.item_done(list, item).0 {
        d.field("status", "[ ] open", theme.warn);
    } else if let Some(by) = engine.ticked_by(list, item) {
        let when = by.at.format("%H:%M:%S");
        d.field(
            "status",
            &format!("[x] ticked by {} at {when}", by.operator),
            theme.ok,
        );
    } else {
        d.field(
            "status",
            "[x] ticked (who ticked it is not recorded)",
            theme.ok,
        );
    }
    d.field(
        "how",
        "by hand: x ticks and unticks it (journaled)",
        theme.popup,
    );
}

/// The runs line: how many, and when the last began and how long it took. On a follower,
/// where the holder runs everything, where to look instead.
fn runs(d: &mut Draft, view: &View, label: &str, count: u32, last: Option<&RunRecord>) {
    let theme = d.app.theme();
    if let Some(holder) = view.follower_of {
        let text = format!("and their output show on the holder's screen: {holder}");
        d.field(label, &text, theme.muted);
        return;
    }
    let mut text = count.to_string();
    if let Some(r) = last {
        text.push_str(&format!(
            " · the last began {}",
            r.started.format("%H:%M:%SZ")
        ));
        if let Some(took) = r.elapsed {
            text.push_str(&format!(" and took {}", fmt::duration(took)));
        }
    }
    d.field(label, &text, theme.popup);
}
