//! engine::commands: how an operator's command is handled — accepted, forced past its
//! blockers (and journaled so), or refused with the reason.

use chrono::{DateTime, Utc};
use std::sync::Arc;

use crate::plan::{Condition, ListKind, StageSource, StageStatus};
use crate::support::fmt;

use super::Engine;
use super::effect::Effect;
use super::guardrail::RuleState;
use super::input::Command;
use super::journal::Kind;
use super::progress::{PauseCause, Phase};
use super::readiness::gate;
use super::values::DesiredFlag;

impl Engine {
    pub(super) fn on_command(
        &mut self,
        now: DateTime<Utc>,
        command: Command,
        operator: &str,
        reason: Option<String>,
        fx: &mut Vec<Effect>,
    ) {
        let because = reason
            .as_deref()
            .map(|r| format!(" — {r}"))
            .unwrap_or_default();
        let refuse = |fx: &mut Vec<Effect>, why: String| fx.push(Effect::Refused(why));
        match command {
            Command::Start { force } => {
                if !matches!(self.progress.phase, Phase::Ready) {
                    return refuse(
                        fx,
                        format!(
                            "the rollout has already started ({})",
                            self.progress.phase.badge()
                        ),
                    );
                }
                let mut missing: Vec<String> = self
                    .plan
                    .pipeline
                    .iter()
                    .take_while(|s| !matches!(s.source, StageSource::Rollout))
                    .filter(|s| {
                        !matches!(
                            self.progress.reports.stages.get(&s.name).map(|r| r.status),
                            Some(StageStatus::Passed | StageStatus::Skipped)
                        )
                    })
                    .map(|s| format!("stage {} not passed", s.name))
                    .collect();
                missing.extend(
                    self.open_items(ListKind::PreRelease)
                        .into_iter()
                        .map(|t| format!("pre-release: {t}")),
                );
                let plan = Arc::clone(&self.plan);
                let no_baseline: Vec<String> = plan
                    .guardrails
                    .rules
                    .iter()
                    .filter(|r| {
                        matches!(
                            r.condition,
                            Condition::AboveBaseline(_) | Condition::Degradation(_)
                        )
                    })
                    .filter(|r| self.baseline_at(now, &r.metric).is_none())
                    .map(|r| {
                        format!(
                            "no baseline for {} (no samples in the {} before start)",
                            r.metric,
                            fmt::duration(plan.metrics.baseline_window)
                        )
                    })
                    .collect();
                missing.extend(no_baseline);
                missing.dedup();
                if !missing.is_empty() && !force {
                    return refuse(
                        fx,
                        format!(
                            "cannot start: {} (start with force to override)",
                            missing.join("; ")
                        ),
                    );
                }
                self.progress.baseline = plan
                    .metrics
                    .series
                    .iter()
                    .filter_map(|s| self.baseline_at(now, &s.name).map(|b| (s.name.clone(), b)))
                    .collect();
                for r in &mut self.progress.rules {
                    *r = RuleState::default();
                }
                self.progress.started_at = Some(now);
                let mut why = because.clone();
                if !missing.is_empty() {
                    why = format!(" (forced past: {}){why}", missing.join("; "));
                }
                self.enter_step(now, 0, operator, Kind::Action, why, fx);
            }
            Command::Promote { force } => match self.progress.phase.clone() {
                Phase::Ready => {
                    self.on_command(now, Command::Start { force }, operator, reason, fx)
                }
                Phase::AwaitingApproval { step } => {
                    let forced = match gate("promote", self.blockers(), force) {
                        Ok(forced) => forced.map(|f| format!(" ({f})")).unwrap_or_default(),
                        Err(why) => return refuse(fx, why),
                    };
                    self.promote_from(
                        now,
                        step,
                        operator,
                        Kind::Action,
                        format!(" approved{forced}{because}"),
                        fx,
                    );
                }
                Phase::Baking { step } => {
                    let mut blockers = self.blockers();
                    if let Some((have, need)) = self.starved() {
                        blockers.push(format!("starved: {have}/{need} fresh samples"));
                    }
                    let forced = match gate("promote", blockers, force) {
                        Ok(forced) => forced.map(|f| format!("; {f}")).unwrap_or_default(),
                        Err(why) => return refuse(fx, why),
                    };
                    let left = self.time_left().map(fmt::duration).unwrap_or_default();
                    self.promote_from(
                        now,
                        step,
                        operator,
                        Kind::Action,
                        format!(" early, {left} of bake left{forced}{because}"),
                        fx,
                    );
                }
                Phase::Paused { .. } => {
                    refuse(fx, "paused: resume first (space), then promote".into())
                }
                Phase::Watching => refuse(
                    fx,
                    "the last step is live; guardrails are watching until the watch ends".into(),
                ),
                other => refuse(
                    fx,
                    format!("nothing to promote while {}", other.badge().to_lowercase()),
                ),
            },
            Command::Pause => match self.progress.phase {
                Phase::Baking { .. } | Phase::AwaitingApproval { .. } | Phase::Watching => {
                    let reason = reason.unwrap_or_else(|| "paused by operator".into());
                    self.pause(
                        now,
                        PauseCause::Operator(operator.to_string()),
                        reason,
                        None,
                        fx,
                    );
                }
                Phase::Paused { .. } => refuse(fx, "already paused".into()),
                ref other => refuse(
                    fx,
                    format!("nothing to pause while {}", other.badge().to_lowercase()),
                ),
            },
            Command::Resume { force } => {
                let Phase::Paused { by, .. } = self.progress.phase.clone() else {
                    return refuse(fx, "not paused".into());
                };
                let blockers: Vec<String> = self.pause_blockers();
                if !blockers.is_empty() && !force {
                    return refuse(
                        fx,
                        format!(
                            "cannot resume: {} (force to override; it is journaled)",
                            blockers.join("; ")
                        ),
                    );
                }
                let forced = if force && !blockers.is_empty() {
                    format!("forced past: {}", blockers.join("; "))
                } else {
                    String::new()
                };
                self.resume(
                    now,
                    operator,
                    Kind::Action,
                    format!("{forced}{because}"),
                    fx,
                );
                if by == PauseCause::Outside {
                    // Resuming after an outside change is the operator's explicit choice to re-apply the plan's flag.
                    if let Some(d) = self.progress.desired.clone() {
                        self.progress.confirmed = false;
                        fx.push(Effect::SetFlag(d));
                    }
                }
            }
            Command::Rollback => match self.progress.phase {
                Phase::RollingBack { .. } => refuse(
                    fx,
                    "already rolling back; waiting for the backend to confirm".into(),
                ),
                Phase::RolledBack { .. } => refuse(fx, "already rolled back".into()),
                _ => {
                    let reason = reason.unwrap_or_else(|| "manual rollback".into());
                    self.rollback_as(now, operator, Kind::Action, reason, None, fx);
                }
            },
            Command::SetPercent { percent } => {
                if percent > 100 {
                    return refuse(fx, format!("{percent}% is outside 0..=100"));
                }
                let Some(step) = self.step_index().filter(|_| self.progress.phase.is_live()) else {
                    return refuse(
                        fx,
                        format!(
                            "the slider acts on a live rollout, not while {}",
                            self.progress.phase.badge().to_lowercase()
                        ),
                    );
                };
                let desired = DesiredFlag {
                    enabled: true,
                    percent,
                    groups: self.groups_through(step),
                };
                self.progress.overridden = Some(percent);
                self.progress.desired = Some(desired.clone());
                self.progress.confirmed = false;
                let step_pct = self.plan.rollout.steps.get(step).map_or(0, |s| s.percent);
                fx.push(Effect::Journal(self.entry(
                    now,
                    operator,
                    Kind::Action,
                    "set-percent",
                    format!("{percent}% (step says {step_pct}%){because}"),
                )));
                fx.push(Effect::SetFlag(desired));
            }
            Command::Tick { list, item, done } => {
                let Some(it) = self.plan.checklists.list(list).get(item) else {
                    return refuse(fx, format!("{} has no item {}", list.title(), item + 1));
                };
                if it.check.is_some() {
                    let why = self.item_done(list, item).1.unwrap_or_default();
                    return refuse(fx, format!("\"{}\" ticks itself ({why})", it.text));
                }
                let text = it.text.clone();
                let set = self.progress.ticked.entry(list).or_default();
                let changed = if done {
                    set.insert(item)
                } else {
                    set.remove(&item)
                };
                if changed {
                    let verb = if done { "tick" } else { "untick" };
                    fx.push(Effect::Journal(self.entry(
                        now,
                        operator,
                        Kind::Action,
                        verb,
                        format!("{}: {text}", list.title()),
                    )));
                }
            }
        }
    }

    fn baseline_at(&self, now: DateTime<Utc>, metric: &str) -> Option<f64> {
        let window =
            chrono::Duration::from_std(self.plan.metrics.baseline_window).unwrap_or_default();
        let from = now
            .checked_sub_signed(window)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        self.history.get(metric)?.mean(from, now)
    }
}
