//! engine::commands: how an operator's command is handled — accepted, forced past its
//! blockers (and journaled so), or refused with the reason.

use chrono::{DateTime, Utc};
use std::sync::Arc;

use crate::plan::{Condition, ListKind, StageSource, StageStatus};
use crate::support::fmt;

use super::Engine;
use super::effect::Effect;
use super::guardrail::RuleState;
use super::input::{Command, MAX_NOTE_CHARS};
use super::journal::Kind;
use super::journal::Verb;
use super::progress::{PauseCause, Phase, TickedBy};
use super::readiness::gate;
use super::refusal::Refusal;
use super::transitions::{Advance, How};
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
        let refuse = |fx: &mut Vec<Effect>, why: Refusal| fx.push(Effect::Refused(why));
        match command {
            Command::Start { force } => {
                if !matches!(self.progress.phase, Phase::Ready) {
                    let phase = self.progress.phase.badge();
                    return refuse(fx, Refusal::AlreadyStarted { phase });
                }
                let missing = self.start_blockers(now);
                let plan = Arc::clone(&self.plan);
                if !missing.is_empty() && !force {
                    return refuse(fx, Refusal::StartBlocked { blockers: missing });
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
                        Ok(forced) => forced,
                        Err(why) => return refuse(fx, why),
                    };
                    let advance = Advance {
                        how: How::Approved,
                        forced,
                        reason,
                    };
                    self.promote_from(now, step, operator, Kind::Action, advance, fx);
                }
                Phase::Baking { step } => {
                    let forced = match gate("promote", self.promote_blockers(now), force) {
                        Ok(forced) => forced,
                        Err(why) => return refuse(fx, why),
                    };
                    let left = self.time_left().map(fmt::duration).unwrap_or_default();
                    let advance = Advance {
                        how: How::Early { left },
                        forced,
                        reason,
                    };
                    self.promote_from(now, step, operator, Kind::Action, advance, fx);
                }
                Phase::Paused { .. } => refuse(fx, Refusal::PausedFirst),
                Phase::Watching => refuse(fx, Refusal::Watching),
                Phase::RolledBack { .. } => refuse(fx, Refusal::RedeployFirst),
                other => refuse(
                    fx,
                    Refusal::NothingTo {
                        verb: "promote",
                        phase: other.badge(),
                    },
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
                Phase::Paused { .. } => refuse(fx, Refusal::AlreadyPaused),
                ref other => refuse(
                    fx,
                    Refusal::NothingTo {
                        verb: "pause",
                        phase: other.badge(),
                    },
                ),
            },
            Command::Resume { force } => {
                let Phase::Paused { by, .. } = self.progress.phase.clone() else {
                    return refuse(fx, Refusal::NotPaused);
                };
                let blockers: Vec<String> = self.pause_blockers();
                if !blockers.is_empty() && !force {
                    return refuse(fx, Refusal::ResumeBlocked { blockers });
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
                        if self.progress.live.is_none() && d.enabled {
                            let name = &self.plan.flag.name;
                            let reason = format!("{name} was gone; re-creating it {}", d.summary());
                            let e = self.entry(now, operator, Kind::Action, Verb::Flag, reason);
                            fx.push(Effect::Journal(e));
                        }
                        self.progress.confirmed = false;
                        fx.push(Effect::SetFlag(d));
                    }
                }
            }
            Command::Redeploy => self.redeploy(now, operator, &because, fx),
            Command::Note { text } => {
                let text = text.trim();
                if text.is_empty() {
                    return refuse(fx, Refusal::EmptyNote);
                }
                let chars = text.chars().count();
                if chars > MAX_NOTE_CHARS {
                    let max = MAX_NOTE_CHARS;
                    return refuse(fx, Refusal::NoteTooLong { chars, max });
                }
                let e = self.entry(now, operator, Kind::Action, Verb::Note, text.to_string());
                fx.push(Effect::Journal(e));
            }
            Command::Rollback => match self.progress.phase {
                Phase::RollingBack { .. } => refuse(fx, Refusal::AlreadyRollingBack),
                Phase::RolledBack { .. } => refuse(fx, Refusal::AlreadyRolledBack),
                _ => {
                    let reason = reason.unwrap_or_else(|| "manual rollback".into());
                    self.rollback_as(now, operator, Kind::Action, reason, None, fx);
                }
            },
            Command::SetPercent { percent } => {
                if percent > 100 {
                    return refuse(fx, Refusal::PercentOutOfRange { percent });
                }
                let Some(step) = self.step_index().filter(|_| self.progress.phase.is_live()) else {
                    let phase = self.progress.phase.badge();
                    return refuse(fx, Refusal::SliderNotLive { phase });
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
                    Verb::SetPercent,
                    format!("{percent}% (step says {step_pct}%){because}"),
                )));
                fx.push(Effect::SetFlag(desired));
            }
            Command::Tick { list, item, done } => {
                let Some(it) = self.plan.checklists.list(list).get(item) else {
                    let (list, item) = (list.title(), item + 1);
                    return refuse(fx, Refusal::NoSuchItem { list, item });
                };
                if it.check.is_some() {
                    let why = self.item_done(list, item).1.unwrap_or_default();
                    let item = it.text.clone();
                    return refuse(fx, Refusal::TicksItself { item, why });
                }
                let text = it.text.clone();
                let set = self.progress.ticked.entry(list).or_default();
                let changed = if done {
                    set.insert(item)
                } else {
                    set.remove(&item)
                };
                if changed {
                    self.record_tick(list, item, done.then_some(operator), now);
                    let verb = if done { Verb::Tick } else { Verb::Untick };
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

    /// Notes who ticked an item by hand (`None`: it was unticked, so nobody did).
    pub(super) fn record_tick(
        &mut self,
        list: ListKind,
        item: usize,
        by: Option<&str>,
        now: DateTime<Utc>,
    ) {
        let who = self.progress.ticked_by.entry(list).or_default();
        match by {
            Some(operator) => {
                let operator = operator.to_string();
                who.insert(item, TickedBy { operator, at: now });
            }
            None => {
                who.remove(&item);
            }
        }
    }

    /// What stands in the way of starting now: declared stages not passed, pre-release
    /// items open, baselines the rules need but the data does not give. The screen's
    /// start question and the start command read this one list.
    pub(crate) fn start_blockers(&self, now: DateTime<Utc>) -> Vec<String> {
        let mut missing: Vec<String> = self
            .plan
            .pipeline
            .iter()
            .take_while(|s| !matches!(s.source, StageSource::Rollout))
            .filter(|s| !matches!(s.source, StageSource::Untracked))
            .filter(|s| {
                !matches!(
                    self.progress.reports.stages.get(&s.name).map(|r| r.status),
                    Some(StageStatus::Passed | StageStatus::Skipped)
                )
            })
            .map(|s| format!("stage {} not passed", s.name))
            .collect();
        if self.plan.checklists.gates(ListKind::PreRelease) {
            missing.extend(
                self.open_items(ListKind::PreRelease)
                    .into_iter()
                    .map(|t| format!("pre-release: {t}")),
            );
        }
        let plan = &self.plan;
        missing.extend(
            plan.guardrails
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
                        fmt::secs(plan.metrics.baseline_window.as_secs() as i64)
                    )
                }),
        );
        missing.dedup();
        missing
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
