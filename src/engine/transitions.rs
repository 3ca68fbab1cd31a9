//! engine::transitions: the phase changes every path shares — entering a step, promoting,
//! pausing, resuming, rolling back — each with its journal entry and its notification.

use chrono::{DateTime, Utc};

use crate::support::fmt;

use super::effect::{Effect, EventKind};
use super::guardrail::Explain;
use super::journal::Kind;
use super::journal::Verb;
use super::progress::{PauseCause, Phase, Resume};
use super::values::DesiredFlag;
use super::{ENGINE, Engine};

impl Engine {
    pub(super) fn pause(
        &mut self,
        now: DateTime<Utc>,
        by: PauseCause,
        reason: String,
        explain: Option<&Explain>,
        fx: &mut Vec<Effect>,
    ) {
        let (step, resume) = match self.progress.phase {
            Phase::Baking { step } => (step, Resume::Baking),
            Phase::AwaitingApproval { step } => (step, Resume::AwaitingApproval),
            Phase::Watching => (
                self.plan.rollout.steps.len().saturating_sub(1),
                Resume::Watching,
            ),
            _ => return,
        };
        let who = match &by {
            PauseCause::Operator(name) => name.clone(),
            _ => ENGINE.to_string(),
        };
        let kind = if matches!(by, PauseCause::Operator(_)) {
            Kind::Action
        } else {
            Kind::Decision
        };
        self.progress.phase = Phase::Paused {
            step,
            resume,
            reason: reason.clone(),
            by,
        };
        fx.push(Effect::Journal(self.entry(
            now,
            &who,
            kind,
            Verb::Pause,
            reason.clone(),
        )));
        fx.push(self.event(
            now,
            EventKind::Paused,
            format!("{} paused: {reason}", self.release_label()),
            explain,
        ));
    }

    pub(super) fn rollback_as(
        &mut self,
        now: DateTime<Utc>,
        operator: &str,
        kind: Kind,
        reason: String,
        explain: Option<&Explain>,
        fx: &mut Vec<Effect>,
    ) {
        let entry = self.entry(now, operator, kind, Verb::Rollback, reason.clone());
        self.progress.phase = Phase::RollingBack {
            reason: reason.clone(),
            trip: explain.map(Explain::id),
        };
        let desired = DesiredFlag {
            enabled: false,
            percent: 0,
            groups: Vec::new(),
        };
        self.progress.desired = Some(desired.clone());
        self.progress.confirmed = false;
        self.progress.overridden = None;
        self.keep_incident(now, explain);
        fx.push(Effect::Journal(entry));
        fx.push(Effect::SetFlag(desired));
        fx.push(self.event(
            now,
            EventKind::RollbackStarted,
            format!("Rolling back {}: {reason}", self.release_label()),
            explain,
        ));
    }

    /// Users in the groups of every step up to `step`: nobody loses the feature on promote.
    pub(super) fn groups_through(&self, step: usize) -> Vec<String> {
        let mut groups: Vec<String> = Vec::new();
        for s in self.plan.rollout.steps.iter().take(step + 1) {
            for g in &s.groups {
                if !groups.contains(g) {
                    groups.push(g.clone());
                }
            }
        }
        groups
    }

    pub(super) fn enter_step(
        &mut self,
        now: DateTime<Utc>,
        step: usize,
        operator: &str,
        kind: Kind,
        why: String,
        fx: &mut Vec<Effect>,
    ) {
        let Some(s) = self.plan.rollout.steps.get(step) else {
            return;
        };
        let desired = DesiredFlag {
            enabled: true,
            percent: s.percent,
            groups: self.groups_through(step),
        };
        let name = s.name.clone();
        let title = s.title();
        self.progress.phase = Phase::Baking { step };
        self.progress.step_started_at = Some(now);
        self.progress.served_ms = 0;
        self.progress.fresh.clear();
        self.progress.overridden = None;
        self.progress.desired = Some(desired.clone());
        self.progress.confirmed = false;
        let mut e = self.entry(
            now,
            operator,
            kind,
            Verb::Promote,
            format!("→ {title}{why}"),
        );
        e.step = Some(name.clone());
        fx.push(Effect::Journal(e));
        fx.push(Effect::SetFlag(desired));
        let (kind, text) = if step == 0 {
            (
                EventKind::Started,
                format!("Rollout of {} started: {title}", self.release_label()),
            )
        } else {
            (
                EventKind::Promoted,
                format!("{} promoted to {title}", self.release_label()),
            )
        };
        fx.push(self.event(now, kind, text, None));
    }

    /// Moves past `step`: the next step, or the watch after the last one.
    pub(super) fn promote_from(
        &mut self,
        now: DateTime<Utc>,
        step: usize,
        operator: &str,
        kind: Kind,
        advance: Advance,
        fx: &mut Vec<Effect>,
    ) {
        let left = self
            .plan
            .rollout
            .steps
            .get(step)
            .map(|s| s.name.clone())
            .unwrap_or_default();
        if step + 1 < self.plan.rollout.steps.len() {
            self.enter_step(now, step + 1, operator, kind, advance.onto_next(&left), fx);
        } else {
            self.progress.phase = Phase::Watching;
            self.progress.served_ms = 0;
            self.progress.fresh.clear();
            let watch = fmt::duration(self.plan.rollout.watch);
            fx.push(Effect::Journal(self.entry(
                now,
                operator,
                kind,
                Verb::Watch,
                advance.into_watch(&left, &watch),
            )));
        }
    }

    /// Leaves a pause for whatever the rollout was doing before it.
    pub(super) fn resume(
        &mut self,
        now: DateTime<Utc>,
        operator: &str,
        kind: Kind,
        why: String,
        fx: &mut Vec<Effect>,
    ) {
        let Phase::Paused {
            step, resume, by, ..
        } = self.progress.phase.clone()
        else {
            return;
        };
        if by == PauseCause::Canary {
            self.waive_canary(operator);
        }
        self.progress.phase = match resume {
            Resume::Baking => Phase::Baking { step },
            Resume::AwaitingApproval => Phase::AwaitingApproval { step },
            Resume::Watching => Phase::Watching,
        };
        let reason = if why.is_empty() {
            "resumed".to_string()
        } else {
            why.trim_start_matches(" — ").to_string()
        };
        fx.push(Effect::Journal(self.entry(
            now,
            operator,
            kind,
            Verb::Resume,
            reason.clone(),
        )));
        fx.push(self.event(
            now,
            EventKind::Resumed,
            format!("{} resumed: {reason}", self.release_label()),
            None,
        ));
    }

    /// A guardrail- or staleness-paused rollout resumes by itself once everything is clear.
    pub(super) fn try_auto_resume(&mut self, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        if let Phase::Paused {
            by: PauseCause::Guardrail(_) | PauseCause::Stale(_),
            ..
        } = self.progress.phase
            && self.pause_blockers().is_empty()
        {
            self.resume(
                now,
                ENGINE,
                Kind::Decision,
                "guardrails clear and data fresh".into(),
                fx,
            );
        }
    }
}

/// Why the rollout moves past a step, and the words its journal line gives for it.
pub(super) struct Advance {
    pub how: How,
    /// What a forced promote was forced past (`forced past: …`).
    pub forced: Option<String>,
    /// The operator's own reason.
    pub reason: Option<String>,
}

pub(super) enum How {
    /// A person approved the baked step.
    Approved,
    /// A person promoted before the bake was done; `left` is the bake left, as shown.
    Early { left: String },
    /// The engine moved on by itself once the step baked `bake`, as shown.
    Baked { bake: String },
}

impl Advance {
    /// What follows `→ Next (5%)` in the next step's line, `from` being the step left:
    /// ` approved`, ` early, 2h of bake left`, ` after Beta baked 2d on healthy data`.
    fn onto_next(&self, from: &str) -> String {
        let (how, forced) = match &self.how {
            How::Approved => (" approved".to_string(), self.forced_in_brackets()),
            How::Early { left } => (
                format!(" early, {left} of bake left"),
                self.forced.as_ref().map(|f| format!("; {f}")),
            ),
            How::Baked { bake } => (
                format!(" after {from} baked {bake} on healthy data"),
                self.forced_in_brackets(),
            ),
        };
        format!("{how}{}{}", forced.unwrap_or_default(), self.because())
    }

    /// The watch's line after the last step, `last`: one sentence saying how that step
    /// ended, then what the watch does (`last step Full approved; guardrails stay live
    /// for 1d`).
    fn into_watch(self, last: &str, watch: &str) -> String {
        let how = match &self.how {
            How::Approved => "approved".to_string(),
            How::Early { left } => format!("promoted early, {left} of bake left"),
            How::Baked { bake } => format!("baked {bake} on healthy data"),
        };
        format!(
            "last step {last} {how}{}; guardrails stay live for {watch}{}",
            self.forced_in_brackets().unwrap_or_default(),
            self.because()
        )
    }

    fn forced_in_brackets(&self) -> Option<String> {
        self.forced.as_ref().map(|f| format!(" ({f})"))
    }

    fn because(&self) -> String {
        self.reason
            .as_deref()
            .map(|r| format!(" — {r}"))
            .unwrap_or_default()
    }
}
