//! engine: decides. A pure state machine fed `(now, input)` that returns effects; it
//! never performs I/O, never reads a clock and imports no adapter, so the same engine
//! runs live, fast over history, in a backtest and under property tests. Adapters speak
//! to it in its own vocabulary (`values`, `input`) and carry out its `effect`s.

mod bake;
mod canary;
pub mod canary_report;
mod catch_up;
mod cause;
mod commands;
mod effect;
pub mod explain;
mod flag;
pub mod guardrail;
pub mod health;
pub mod history;
pub mod incident;
mod input;
pub mod journal;
mod judge;
pub mod ladder;
mod next;
mod progress;
mod readiness;
mod redeploy;
mod refusal;
mod staleness;
mod transitions;
pub mod values;

pub use catch_up::catch_up_limit;
pub use effect::{Effect, Event, EventKind, Situation};
pub(crate) use flag::describe_flag;
pub use input::{Command, FlagEvent, Input, MAX_NOTE_CHARS};
pub use next::{Next, Wait, WhenBaked};
pub use progress::{
    CheckReport, PauseCause, Phase, Progress, Reports, Resume, Rung, StageReport, TickedBy,
};
pub use refusal::Refusal;

use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use crate::plan::Plan;
use guardrail::{Explain, RuleState};
use history::History;
use journal::{Entry, Kind, Verb};
use values::Exposure;

/// Who the engine's own decisions are journaled as.
pub(crate) const ENGINE: &str = "shipdeck";
/// How many trip records the state keeps (the journal keeps them all).
const TRIPS_KEPT: usize = 20;

/// The release engine: the plan, where the release stands, and recent metric history.
#[derive(Debug, Clone)]
pub struct Engine {
    plan: Arc<Plan>,
    progress: Progress,
    history: BTreeMap<String, History>,
    errors: BTreeMap<String, String>,
    /// The first time this engine instance saw; after a restart, staleness is judged from
    /// here, not from when the step began.
    woke: Option<DateTime<Utc>>,
    /// Why the flag backend cannot be read now; `None` once it reads again. While set,
    /// the step is not known to be served: no bake time counts and no bake completes.
    flag_unreadable: Option<String>,
    /// The flag's live value has been read since this engine started. A restored release
    /// may find its flag changed while nobody looked: until it is read back, no bake
    /// time counts and no step completes.
    flag_read: bool,
    /// The canary judge's samples of the current step (memory only).
    arms: canary::ArmWindow,
}

impl Engine {
    pub fn new(plan: Arc<Plan>) -> Self {
        let progress = Progress {
            release: plan.release.name.clone(),
            phase: Phase::Ready,
            now: None,
            started_at: None,
            step_started_at: None,
            served_ms: 0,
            fresh: BTreeMap::new(),
            desired: None,
            confirmed: false,
            confirmed_at: None,
            live: None,
            overridden: None,
            baseline: BTreeMap::new(),
            rules: vec![RuleState::default(); plan.guardrails.rules.len()],
            stale: BTreeSet::new(),
            trips: Vec::new(),
            ticked: BTreeMap::new(),
            ticked_by: BTreeMap::new(),
            flag_failures: 0,
            reports: Reports::default(),
            ladder: None,
            attempt: 1,
            version: Some(plan.release.version.clone()),
            incident: None,
            canary: None,
        };
        Self::restore(plan, progress)
    }

    /// Picks a release up where `state.json` left it. Time spent down is not baked, and
    /// stages and checks start over: their adapters answer again.
    pub fn restore(plan: Arc<Plan>, progress: Progress) -> Self {
        let mut engine = Self::follow(plan, progress);
        engine.progress.reports = Reports::of(&engine.plan);
        engine.progress.ladder = Some(ladder::of(&engine.plan));
        if engine.progress.version.is_none() {
            engine.progress.version = Some(engine.plan.release.version.clone());
        }
        engine.flag_read = false;
        engine
    }

    /// A copy of the holder's release for a follower: as [`Engine::restore`], but stages
    /// and checks show what the holder's adapters last said, since a follower runs none.
    pub fn follow(plan: Arc<Plan>, mut progress: Progress) -> Self {
        progress.now = None;
        // A plan edited to fewer steps than the saved state names: stay on its last step.
        let last = plan.rollout.steps.len().saturating_sub(1);
        match &mut progress.phase {
            Phase::Baking { step }
            | Phase::AwaitingApproval { step }
            | Phase::Paused { step, .. } => {
                *step = (*step).min(last);
            }
            _ => {}
        }
        progress
            .rules
            .resize(plan.guardrails.rules.len(), RuleState::default());
        let m = &plan.metrics;
        let longest = plan
            .guardrails
            .rules
            .iter()
            .map(|r| r.hold)
            .chain([m.baseline_window, Duration::from_secs(3600)])
            .max()
            .unwrap_or_default();
        let capacity =
            (longest.as_secs_f64() / m.interval.as_secs_f64().max(0.001)).ceil() as usize + 64;
        let history = m
            .series
            .iter()
            .map(|s| (s.name.clone(), History::with_capacity(capacity.min(20_000))))
            .collect();
        Engine {
            plan,
            progress,
            history,
            errors: BTreeMap::new(),
            woke: None,
            flag_unreadable: None,
            flag_read: true,
            arms: canary::ArmWindow::default(),
        }
    }

    pub fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }

    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    pub fn phase(&self) -> &Phase {
        &self.progress.phase
    }

    pub fn now(&self) -> Option<DateTime<Utc>> {
        self.progress.now
    }

    pub fn history(&self, series: &str) -> Option<&History> {
        self.history.get(series)
    }

    /// The last error a source reported for a series, while it lasts.
    pub fn series_error(&self, series: &str) -> Option<&str> {
        self.errors.get(series).map(String::as_str)
    }

    pub fn stage(&self, name: &str) -> Option<&StageReport> {
        self.progress.reports.stages.get(name)
    }

    /// The step the release is on, if the rollout has started.
    pub fn step_index(&self) -> Option<usize> {
        match &self.progress.phase {
            Phase::Baking { step }
            | Phase::AwaitingApproval { step }
            | Phase::Paused { step, .. } => Some(*step),
            Phase::Watching | Phase::Completed => {
                Some(self.plan.rollout.steps.len().saturating_sub(1))
            }
            Phase::Ready | Phase::RollingBack { .. } | Phase::RolledBack { .. } => None,
        }
    }

    /// What users see now, as far as the backend confirmed.
    pub fn exposure(&self) -> Exposure {
        self.progress
            .live
            .as_ref()
            .map(|f| Exposure {
                enabled: f.enabled,
                percent: f.percent(),
            })
            .unwrap_or_default()
    }

    /// Metrics the guardrails read (all series when there are no rules).
    pub fn watched(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .plan
            .guardrails
            .rules
            .iter()
            .map(|r| r.metric.as_str())
            .collect();
        if names.is_empty() {
            names = self
                .plan
                .metrics
                .series
                .iter()
                .map(|s| s.name.as_str())
                .collect();
        }
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The latest value of every series, for the journal.
    pub(crate) fn current_values(&self) -> BTreeMap<String, f64> {
        self.history
            .iter()
            .filter_map(|(k, h)| h.last_value().and_then(|p| p.value).map(|v| (k.clone(), v)))
            .collect()
    }

    /// The one entry point: time moves to `now`, then the input is applied.
    pub fn handle(&mut self, now: DateTime<Utc>, input: Input) -> Vec<Effect> {
        let mut fx = Vec::new();
        if let Input::History { batches } = &input {
            for b in batches {
                self.record(b, false);
            }
            return fx;
        }
        let now = match self.progress.now {
            Some(prev) if now < prev => prev,
            _ => now,
        };
        self.advance_clock(now);
        self.woke.get_or_insert(now);
        match input {
            Input::Samples { batch } => self.on_samples(now, batch, &mut fx),
            Input::CatchUp { since, batches } => self.on_catch_up(now, since, batches, &mut fx),
            Input::Tick | Input::History { .. } => {}
            Input::Command {
                command,
                operator,
                reason,
            } => self.on_command(now, command, &operator, reason, &mut fx),
            Input::Flag { event } => self.on_flag(now, event, &mut fx),
            Input::Stage {
                name,
                status,
                detail,
            } => {
                let report = StageReport { status, detail };
                self.progress.reports.stages.insert(name, report);
            }
            Input::Check {
                list,
                item,
                ok,
                detail,
            } => {
                let report = CheckReport { ok, detail };
                let list = self.progress.reports.checks.entry(list).or_default();
                list.insert(item, report);
            }
        }
        self.check_staleness(now, &mut fx);
        self.check_progress(now, &mut fx);
        fx
    }

    fn entry(
        &self,
        now: DateTime<Utc>,
        operator: &str,
        kind: Kind,
        action: Verb,
        reason: String,
    ) -> Entry {
        Entry {
            at: now,
            operator: operator.to_string(),
            kind,
            action,
            reason,
            step: self
                .step_index()
                .and_then(|i| self.plan.rollout.steps.get(i))
                .map(|s| s.name.clone()),
            values: self.current_values(),
            explain: None,
            canary: None,
            origin: None,
        }
    }

    fn event(
        &self,
        now: DateTime<Utc>,
        kind: EventKind,
        text: String,
        explain: Option<&Explain>,
    ) -> Effect {
        let phase = &self.progress.phase;
        let reason = match phase {
            Phase::Paused { reason, .. }
            | Phase::RollingBack { reason, .. }
            | Phase::RolledBack { reason, .. } => Some(reason.clone()),
            _ => None,
        };
        let needs_human = match kind {
            EventKind::RollbackStarted | EventKind::Alert => true,
            EventKind::Paused => !matches!(
                phase,
                Phase::Paused {
                    by: PauseCause::Operator(_),
                    ..
                }
            ),
            _ => false,
        };
        Effect::Notify(Event {
            kind,
            at: now,
            text,
            explain: explain.map(|x| Box::new(x.clone())),
            situation: Situation {
                state: phase.name().to_string(),
                step: self
                    .step_index()
                    .and_then(|i| self.plan.rollout.steps.get(i))
                    .map(|s| s.title()),
                percent: self.exposure().percent,
                reason,
                needs_human,
            },
        })
    }

    fn release_label(&self) -> String {
        format!("{} {}", self.plan.release.name, self.plan.release.version)
    }
}
