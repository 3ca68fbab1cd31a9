//! plan::summary: a validated plan in words — the overview `shipdeck check` prints and the
//! readable text of a guardrail rule. Owns that wording; never validates anything.

use std::fmt::Write as _;
use std::time::Duration;

use super::canary::CanarySpec;
use super::model::*;
use super::units::{format_latency, format_number, format_percent};
use crate::support::escape::{passwords, shown};
use crate::support::fmt;

/// What `shipdeck check` prints for a valid plan: release, strategy, steps, guardrails,
/// adapters (metrics source, flag backend, pipeline stages) and checklist sizes.
pub fn summary(plan: &Plan) -> String {
    let mut out = String::new();
    let r = &plan.release;
    let _ = write!(
        out,
        "release     {} {} · {}",
        shown(&r.name),
        shown(&r.version),
        r.strategy.name()
    );
    if let Some(owner) = &r.owner {
        let _ = write!(out, " · owner {}", shown(owner));
    }
    out.push('\n');

    let f = &plan.flag;
    let _ = writeln!(
        out,
        "flag        {} ({}) · {}",
        shown(&f.name),
        f.kind.name(),
        backend_text(&f.backend)
    );

    let untracked = plan
        .pipeline
        .iter()
        .any(|s| matches!(s.source, StageSource::Untracked));
    if untracked {
        let _ = writeln!(
            out,
            "pipeline    {} stages, not tracked: none gates the start (declare `pipeline:` to gate on them)",
            plan.pipeline.len()
        );
    } else {
        let _ = writeln!(out, "pipeline    {} stages", plan.pipeline.len());
    }
    let stage_width = plan
        .pipeline
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0);
    for stage in &plan.pipeline {
        let _ = writeln!(
            out,
            "  {:<stage_width$}  {}",
            shown(&stage.name),
            stage_source_text(&stage.source)
        );
    }

    let steps = &plan.rollout.steps;
    let _ = writeln!(
        out,
        "steps       {}, then watch {}",
        steps.len(),
        fmt::duration(plan.rollout.watch)
    );
    let name_width = steps
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0);
    let groups: Vec<String> = steps
        .iter()
        .map(|s| {
            if s.groups.is_empty() {
                "-".to_string()
            } else {
                s.groups
                    .iter()
                    .map(|g| format!("+{g}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        })
        .collect();
    let groups_width = groups.iter().map(|g| g.chars().count()).max().unwrap_or(0);
    for (i, (step, groups)) in steps.iter().zip(&groups).enumerate() {
        let approval = match step.approval {
            Approval::Auto => "auto",
            Approval::Manual => "manual",
        };
        let _ = writeln!(
            out,
            "  {:>2}  {:<name_width$}  {:>3}%  {:<groups_width$}  bake {:<6}  {}",
            i + 1,
            shown(&step.name),
            step.percent,
            shown(groups),
            fmt::duration(step.bake),
            approval
        );
    }

    let m = &plan.metrics;
    let _ = writeln!(
        out,
        "metrics     {} · every {} · baseline {} · stale after {} · min {} samples",
        source_text(&m.source),
        fmt::duration(m.interval),
        fmt::duration(m.baseline_window),
        m.stale_after,
        m.min_samples
    );
    let series: Vec<String> = m
        .series
        .iter()
        .map(|s| format!("{} ({})", s.name, unit_name(s.unit)))
        .collect();
    let _ = writeln!(out, "  series    {}", series.join(", "));

    let g = &plan.guardrails;
    let on_stale = match g.on_stale {
        StaleAction::Alert => "alert",
        StaleAction::Pause => "pause",
        StaleAction::Rollback => "rollback",
    };
    let _ = writeln!(
        out,
        "guardrails  {} rules · on stale data: {on_stale}",
        g.rules.len()
    );
    for rule in &g.rules {
        let _ = writeln!(out, "  {}", rule.text);
    }

    if let Some(canary) = &plan.canary {
        canary_text(&mut out, canary, &m.source);
    }

    let c = &plan.checklists;
    let counts: Vec<String> = ListKind::ALL
        .iter()
        .map(|k| format!("{} {}", k.title().to_lowercase(), c.list(*k).len()))
        .collect();
    let _ = writeln!(out, "checklists  {}", counts.join(" · "));
    if !c.suggested.is_empty() {
        let names: Vec<String> = c
            .suggested
            .iter()
            .map(|k| k.title().to_lowercase())
            .collect();
        let _ = writeln!(
            out,
            "  suggested, gating nothing: {} (the reference lists; write them under `checklists:` to make them gate)",
            names.join(", ")
        );
    }

    if !plan.notify.is_empty() {
        let notifiers: Vec<String> = plan.notify.iter().map(NotifierSpec::label).collect();
        let _ = writeln!(out, "notify      {}", notifiers.join(" · "));
    }
    out
}

/// The judge: what it compares, how, and what each score does.
fn canary_text(out: &mut String, c: &CanarySpec, source: &SourceSpec) {
    let arms = match source {
        SourceSpec::Simulated { arms, .. } => format!(" · simulated arms: {}", arms.name()),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "canary      judges the last {} · score pass {} marginal {} · marginal → {} · fail → {} · no data: waits {} past the bake, then pauses{arms}",
        fmt::duration(c.window),
        format_number(c.scoring.pass),
        format_number(c.scoring.marginal),
        c.on_marginal.name(),
        c.on_fail.name(),
        fmt::duration(c.starved_limit),
    );
    for s in &c.compare {
        let r = &s.rule;
        let critical = if r.critical { " · critical" } else { "" };
        let _ = writeln!(
            out,
            "  {} {} · {} confidence · tolerance {} · min {} samples{critical}",
            shown(&s.series),
            r.direction.name(),
            format_percent(r.confidence),
            format_number(r.tolerance),
            r.min_samples,
        );
    }
    if let Some(counts) = &c.counts {
        let critical = if counts.rule.critical {
            " · critical"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  errors against requests per arm (anytime-valid) · {} confidence · split checked at {}{critical}",
            format_percent(counts.rule.confidence),
            format_percent(counts.rule.srm_confidence),
        );
    }
}

fn backend_text(b: &BackendSpec) -> String {
    match b {
        BackendSpec::File { path } => format!("file {}", path.display()),
        BackendSpec::Flagd { path } => format!("flagd {}", path.display()),
        BackendSpec::Unleash {
            url,
            token_env,
            project,
            environment,
            create,
        } => {
            let create = if *create { " · creates the flag" } else { "" };
            format!(
                "unleash {} project {project} environment {environment} · token ${token_env}{create}",
                passwords(url)
            )
        }
    }
}

fn stage_source_text(s: &StageSource) -> String {
    match s {
        StageSource::Static(status) => status.word().to_string(),
        StageSource::Command { argv, timeout } => {
            format!(
                "runs `{}`, timeout {}",
                argv_text(argv),
                fmt::duration(*timeout)
            )
        }
        StageSource::StatusFile(path) => format!("watches {}", path.display()),
        StageSource::Rollout => "the rollout".to_string(),
        StageSource::Untracked => "not tracked".to_string(),
    }
}

/// argv the way a shell user would read it: arguments with spaces in single quotes.
fn argv_text(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if a.is_empty() || a.contains(char::is_whitespace) {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn source_text(s: &SourceSpec) -> String {
    match s {
        SourceSpec::Simulated { scenario, seed, .. } => {
            format!("simulated {} (seed {seed})", scenario.name())
        }
        SourceSpec::Prometheus {
            url,
            token_env,
            basic_auth,
            timeout,
            headers,
            ca_file,
        } => {
            let mut t = format!(
                "prometheus {} (timeout {}",
                passwords(url),
                fmt::duration(*timeout)
            );
            if let Some(env) = token_env {
                let _ = write!(t, ", token ${env}");
            }
            if let Some(b) = basic_auth {
                let _ = write!(t, ", user {} with ${}", b.username, b.password_env);
            }
            if let Some(ca) = ca_file {
                let _ = write!(t, ", CA {}", ca.display());
            }
            match headers.len() {
                0 => {}
                1 => t.push_str(", 1 header"),
                n => {
                    let _ = write!(t, ", {n} headers");
                }
            }
            t.push(')');
            t
        }
        SourceSpec::Replay { path } => format!("replay {}", path.display()),
    }
}

pub(super) fn unit_name(u: Unit) -> &'static str {
    match u {
        Unit::Ratio => "ratio",
        Unit::Seconds => "seconds",
        Unit::PerSecond => "per_second",
        Unit::Count => "count",
    }
}

/// A threshold in the series' unit, the way a person writes it: `5%`, `2s`, `300ms`, `12/s`.
pub(super) fn value_text(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Ratio => format_percent(v),
        Unit::Seconds => format_latency(v),
        Unit::PerSecond => format!("{}/s", format_number(v)),
        Unit::Count => format_number(v),
    }
}

/// `above 5%`, `below 12/s`, `above 3x baseline`, `20% worse than baseline`.
pub(crate) fn condition_text(unit: Unit, c: &Condition) -> String {
    match c {
        Condition::Above(v) => format!("above {}", value_text(unit, *v)),
        Condition::Below(v) => format!("below {}", value_text(unit, *v)),
        Condition::AboveBaseline(m) => format!("above {}x baseline", format_number(*m)),
        Condition::Degradation(r) => format!("{} worse than baseline", format_percent(*r)),
    }
}

/// `error_rate above 5% for 2m → rollback`.
pub(super) fn rule_text(
    metric: &str,
    unit: Unit,
    condition: &Condition,
    hold: Duration,
    action: Action,
) -> String {
    let mut t = format!("{metric} {}", condition_text(unit, condition));
    if !hold.is_zero() {
        let _ = write!(t, " for {}", fmt::duration(hold));
    }
    let _ = write!(t, " → {}", action.name());
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_text_reads_like_the_plan() {
        let t = rule_text(
            "error_rate",
            Unit::Ratio,
            &Condition::Above(0.05),
            Duration::from_secs(120),
            Action::Rollback,
        );
        assert_eq!(t, "error_rate above 5% for 2m → rollback");
        let t = rule_text(
            "p95",
            Unit::Seconds,
            &Condition::AboveBaseline(3.0),
            Duration::ZERO,
            Action::Rollback,
        );
        assert_eq!(t, "p95 above 3x baseline → rollback");
        let t = rule_text(
            "checkouts",
            Unit::PerSecond,
            &Condition::Degradation(0.1),
            Duration::from_secs(600),
            Action::Rollback,
        );
        assert_eq!(t, "checkouts 10% worse than baseline for 10m → rollback");
        let t = rule_text(
            "p95",
            Unit::Seconds,
            &Condition::Below(0.3),
            Duration::ZERO,
            Action::Alert,
        );
        assert_eq!(t, "p95 below 300ms → alert");
    }
}
