//! engine: decides. A pure state machine fed `(now, input)` that returns effects; it
//! never performs I/O and never reads a clock, so the same engine runs live, fast over
//! history, in a backtest and under property tests.

pub mod guardrail;
pub mod history;
pub mod journal;
pub mod values;

use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use crate::plan::{Action, Check, ListKind, Plan, StageSource, StageStatus, StaleAction};
use guardrail::{Explain, RuleState, Transition};
use history::{History, Point};
use journal::{Entry, Kind};
use values::{Batch, DesiredFlag, Exposure, FlagState, Outcome};

/// Who the engine's own decisions are journaled as.
pub const ENGINE: &str = "shipdeck";
/// How many trip records the state keeps (the journal keeps them all).
const TRIPS_KEPT: usize = 20;

/// Where the release stands (DESIGN §3).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Phase {
    Ready,
    Baking {
        step: usize,
    },
    AwaitingApproval {
        step: usize,
    },
    Paused {
        step: usize,
        resume: Resume,
        reason: String,
        by: PauseCause,
    },
    RollingBack {
        reason: String,
    },
    RolledBack {
        reason: String,
    },
    Watching,
    Completed,
}

/// What a paused rollout goes back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resume {
    Baking,
    AwaitingApproval,
    Watching,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "by", content = "who", rename_all = "snake_case")]
pub enum PauseCause {
    Operator(String),
    /// The index of the rule in `guardrails.rules`.
    Guardrail(usize),
    /// A guardrail metric went stale (`on_stale: pause`).
    Stale(String),
    /// The flag was changed outside shipdeck.
    Outside,
}

impl Phase {
    pub fn badge(&self) -> &'static str {
        match self {
            Phase::Ready => "READY",
            Phase::Baking { .. } => "BAKING",
            Phase::AwaitingApproval { .. } => "AWAITING APPROVAL",
            Phase::Paused { .. } => "PAUSED",
            Phase::RollingBack { .. } => "ROLLING BACK",
            Phase::RolledBack { .. } => "ROLLED BACK",
            Phase::Watching => "WATCHING",
            Phase::Completed => "COMPLETED",
        }
    }

    /// The rollout is under way: guardrails act.
    pub fn is_live(&self) -> bool {
        matches!(
            self,
            Phase::Baking { .. }
                | Phase::AwaitingApproval { .. }
                | Phase::Paused { .. }
                | Phase::Watching
        )
    }
}

/// Operator commands, from keys, the CLI or the inbox: the same act either way.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    Start {
        force: bool,
    },
    Promote {
        force: bool,
    },
    Pause,
    Resume {
        force: bool,
    },
    Rollback,
    SetPercent {
        percent: u8,
    },
    Tick {
        list: ListKind,
        item: usize,
        done: bool,
    },
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Start { .. } => "start",
            Command::Promote { .. } => "promote",
            Command::Pause => "pause",
            Command::Resume { .. } => "resume",
            Command::Rollback => "rollback",
            Command::SetPercent { .. } => "set-percent",
            Command::Tick { .. } => "tick",
        }
    }
}

/// What a flag backend reported.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum FlagEvent {
    /// Read back after shipdeck's own write.
    Confirmed { state: FlagState },
    /// A write failed; the adapter retries with backoff.
    Failed { error: String, attempt: u32 },
    /// Read at start-up.
    Loaded { state: FlagState },
    /// Did not exist; created disabled at 0.
    Created { state: FlagState },
    /// Changed by someone else.
    Outside { state: FlagState },
    /// The backend holds something shipdeck cannot read (a broken file); nothing is written over it.
    Unreadable { error: String },
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "input", rename_all = "snake_case")]
pub enum Input {
    Samples {
        batch: Batch,
    },
    /// Samples from before the engine clock (a range query at start): they fill the
    /// history and the baseline, and never move the clock or trip a rule.
    History {
        batches: Vec<Batch>,
    },
    Tick,
    Command {
        command: Command,
        operator: String,
        reason: Option<String>,
    },
    Flag {
        event: FlagEvent,
    },
    /// A pipeline stage's status (command finished, status file changed).
    Stage {
        name: String,
        status: StageStatus,
        detail: String,
    },
    /// An automatic checklist item's command finished.
    Check {
        list: ListKind,
        item: usize,
        ok: bool,
        detail: String,
    },
}

/// Release communication events (webhooks, deploy log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Started,
    Promoted,
    Paused,
    Resumed,
    Alert,
    RollbackStarted,
    RollbackConfirmed,
    Completed,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    pub kind: EventKind,
    pub at: DateTime<Utc>,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explain: Option<Box<Explain>>,
}

/// What the shell must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Write the flag and read it back (answer with `FlagEvent::Confirmed`).
    SetFlag(DesiredFlag),
    Notify(Event),
    Journal(Entry),
    /// A command that cannot act now, and why.
    Refused(String),
}

/// A status shown beside a pipeline stage.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StageReport {
    pub status: StageStatus,
    pub detail: String,
}

/// A command check's last result.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CheckReport {
    pub ok: bool,
    pub detail: String,
}

/// What the pipeline's stages and the command checks last reported.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Reports {
    pub stages: BTreeMap<String, StageReport>,
    pub checks: BTreeMap<ListKind, BTreeMap<usize, CheckReport>>,
}

impl Reports {
    /// Before any adapter has answered: static stages as the plan gives them, the others
    /// pending, no check run.
    fn of(plan: &Plan) -> Reports {
        let stages = plan
            .pipeline
            .iter()
            .filter_map(|s| {
                let status = match &s.source {
                    StageSource::Static(status) => *status,
                    StageSource::Rollout => return None,
                    _ => StageStatus::Pending,
                };
                let detail = String::new();
                Some((s.name.clone(), StageReport { status, detail }))
            })
            .collect();
        Reports {
            stages,
            checks: BTreeMap::new(),
        }
    }
}

/// Everything about a release that survives a restart (`state.json`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Progress {
    pub release: String,
    pub phase: Phase,
    /// The last engine time seen; `None` right after a restart so downtime is not baked.
    pub now: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub step_started_at: Option<DateTime<Utc>>,
    /// Bake (or watch) time served in the current step, in milliseconds.
    pub served_ms: u64,
    /// Fresh samples per watched metric since the step's flag change was confirmed.
    pub fresh: BTreeMap<String, u32>,
    /// What shipdeck last asked the backend for.
    pub desired: Option<DesiredFlag>,
    /// The backend read back `desired`.
    pub confirmed: bool,
    /// When it did: only samples from then on count for the step.
    #[serde(default)]
    pub confirmed_at: Option<DateTime<Utc>>,
    /// The flag as last read from the backend.
    pub live: Option<FlagState>,
    /// The slider's explicit override of the step's percent.
    pub overridden: Option<u8>,
    pub baseline: BTreeMap<String, f64>,
    pub rules: Vec<RuleState>,
    pub stale: BTreeSet<String>,
    /// Newest last.
    pub trips: Vec<Explain>,
    pub ticked: BTreeMap<ListKind, BTreeSet<usize>>,
    pub flag_failures: u32,
    /// Saved so that followers, which run nothing, show what the holder's stages and
    /// checks said; a restarted holder asks its adapters again instead.
    #[serde(default)]
    pub reports: Reports,
}

impl Progress {
    /// No flag write is waiting for the backend.
    pub fn confirmed_or_idle(&self) -> bool {
        self.desired.is_none() || self.confirmed
    }
}

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
            flag_failures: 0,
            reports: Reports::default(),
        };
        Self::restore(plan, progress)
    }

    /// Picks a release up where `state.json` left it. Time spent down is not baked, and
    /// stages and checks start over: their adapters answer again.
    pub fn restore(plan: Arc<Plan>, progress: Progress) -> Self {
        let mut engine = Self::follow(plan, progress);
        engine.progress.reports = Reports::of(&engine.plan);
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
        }
    }

    /// Takes over another engine's metric history (a follower re-reading the holder's state).
    pub fn adopt_history(&mut self, other: &Engine) {
        self.history = other.history.clone();
        self.errors = other.errors.clone();
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

    /// Bake (or watch) time still to serve.
    pub fn time_left(&self) -> Option<Duration> {
        let total = match &self.progress.phase {
            Phase::Baking { step } => self.plan.rollout.steps.get(*step)?.bake,
            Phase::Paused {
                step,
                resume: Resume::Baking,
                ..
            } => self.plan.rollout.steps.get(*step)?.bake,
            Phase::Watching
            | Phase::Paused {
                resume: Resume::Watching,
                ..
            } => self.plan.rollout.watch,
            _ => return None,
        };
        Some(total.saturating_sub(Duration::from_millis(self.progress.served_ms)))
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

    /// `Some((have, need))` while the current step has too few fresh samples to finish its bake.
    pub fn starved(&self) -> Option<(u32, u32)> {
        if !matches!(
            self.progress.phase,
            Phase::Baking { .. }
                | Phase::Watching
                | Phase::Paused {
                    resume: Resume::Baking | Resume::Watching,
                    ..
                }
        ) {
            return None;
        }
        let need = self.plan.metrics.min_samples;
        let have = self
            .watched()
            .iter()
            .map(|m| self.progress.fresh.get(*m).copied().unwrap_or(0))
            .min()
            .unwrap_or(0);
        (have < need).then_some((have, need))
    }

    /// Rules whose condition holds right now (tripped, or holding towards `for:`).
    pub fn breaching(&self) -> impl Iterator<Item = usize> + '_ {
        self.progress
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.tripped || r.holding_since.is_some())
            .map(|(i, _)| i)
    }

    /// Why the rollout may not move on now; empty when healthy and fresh.
    pub fn blockers(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .breaching()
            .map(|i| {
                let rule = &self.plan.guardrails.rules[i];
                let word = if self.progress.rules[i].tripped {
                    "tripped"
                } else {
                    "holding"
                };
                format!("guardrail {word}: {}", rule.text)
            })
            .collect();
        out.extend(
            self.progress
                .stale
                .iter()
                .map(|s| format!("{s} is stale (no fresh data)")),
        );
        if self.progress.desired.is_some() && !self.progress.confirmed {
            out.push("the flag change is not confirmed by the backend yet".into());
        }
        out
    }

    /// Whether a checklist item is done, and why (for automatic items).
    pub fn item_done(&self, list: ListKind, item: usize) -> (bool, Option<String>) {
        let Some(it) = self.plan.checklists.list(list).get(item) else {
            return (false, None);
        };
        let ticked = self
            .progress
            .ticked
            .get(&list)
            .is_some_and(|s| s.contains(&item));
        match &it.check {
            None => (ticked, None),
            Some(Check::Stage(name)) => {
                let status = self.progress.reports.stages.get(name).map(|s| s.status);
                let done = matches!(status, Some(StageStatus::Passed));
                let word = status
                    .map(|s| format!("{s:?}").to_lowercase())
                    .unwrap_or_else(|| "unknown".into());
                (done, Some(format!("stage {name}: {word}")))
            }
            Some(Check::Metric { metric, condition }) => {
                let value = self
                    .history
                    .get(metric)
                    .and_then(|h| h.last_value())
                    .and_then(|p| p.value);
                let unit = self
                    .plan
                    .metrics
                    .series(metric)
                    .map(|s| s.unit)
                    .unwrap_or(crate::plan::Unit::Count);
                match value {
                    None => (false, Some(format!("{metric}: no data"))),
                    Some(v) => {
                        let better = self
                            .plan
                            .metrics
                            .series(metric)
                            .map(|s| s.better)
                            .unwrap_or(crate::plan::Better::Lower);
                        let t = guardrail::threshold(
                            *condition,
                            self.progress.baseline.get(metric).copied(),
                            better,
                        );
                        // The item states the healthy fact (`below: 1%`): done while it holds.
                        let ok = t.is_some_and(|t| guardrail::breaks(*condition, v, t, better));
                        (
                            ok,
                            Some(format!("{metric} {}", guardrail::format_value(v, unit))),
                        )
                    }
                }
            }
            Some(Check::Command { .. }) => match self
                .progress
                .reports
                .checks
                .get(&list)
                .and_then(|l| l.get(&item))
            {
                Some(r) => (r.ok, Some(r.detail.clone())),
                None => (false, Some("not run yet".into())),
            },
        }
    }

    /// Items of a list not done yet.
    pub fn open_items(&self, list: ListKind) -> Vec<String> {
        self.plan
            .checklists
            .list(list)
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.item_done(list, *i).0)
            .map(|(_, it)| it.text.clone())
            .collect()
    }

    /// The latest value of every series, for the journal.
    pub fn current_values(&self) -> BTreeMap<String, f64> {
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

    fn advance_clock(&mut self, now: DateTime<Utc>) {
        if let Some(prev) = self.progress.now {
            let running = matches!(self.progress.phase, Phase::Baking { .. } | Phase::Watching);
            if running && self.progress.confirmed {
                // Time after the data went quiet is not healthy time: it never bakes.
                let end = self.fresh_until().map_or(now, |f| f.min(now));
                let dt = (end - prev).num_milliseconds().max(0) as u64;
                self.progress.served_ms = self.progress.served_ms.saturating_add(dt);
            }
        }
        self.progress.now = Some(now);
    }

    /// The last time every watched metric's data still counts as fresh.
    fn fresh_until(&self) -> Option<DateTime<Utc>> {
        let window = chrono::Duration::from_std(self.plan.metrics.stale_window()).ok()?;
        let fallback = self.progress.step_started_at.max(self.woke);
        self.watched()
            .iter()
            .filter_map(|m| {
                self.history
                    .get(*m)
                    .and_then(|h| h.last_value())
                    .map(|p| p.at)
                    .or(fallback)
            })
            .min()
            // A restored state may hold any time at all: saturate, never overflow.
            .map(|t| {
                t.checked_add_signed(window)
                    .unwrap_or(DateTime::<Utc>::MAX_UTC)
            })
    }

    fn entry(
        &self,
        now: DateTime<Utc>,
        operator: &str,
        kind: Kind,
        action: &str,
        reason: String,
    ) -> Entry {
        Entry {
            at: now,
            operator: operator.to_string(),
            kind,
            action: action.to_string(),
            reason,
            step: self
                .step_index()
                .and_then(|i| self.plan.rollout.steps.get(i))
                .map(|s| s.name.clone()),
            values: self.current_values(),
            explain: None,
        }
    }

    fn event(
        &self,
        now: DateTime<Utc>,
        kind: EventKind,
        text: String,
        explain: Option<&Explain>,
    ) -> Effect {
        Effect::Notify(Event {
            kind,
            at: now,
            text,
            explain: explain.map(|x| Box::new(x.clone())),
        })
    }

    fn release_label(&self) -> String {
        format!("{} {}", self.plan.release.name, self.plan.release.version)
    }

    /// Puts a batch into the history; `counting` adds its values to the step's fresh samples.
    fn record(&mut self, batch: &Batch, counting: bool) {
        for reading in &batch.readings {
            let value = match &reading.outcome {
                Outcome::Value(v) if v.is_finite() => Some(*v),
                _ => None,
            };
            match &reading.outcome {
                Outcome::Error(e) => {
                    self.errors.insert(reading.series.clone(), e.clone());
                }
                _ => {
                    self.errors.remove(&reading.series);
                }
            }
            let mut newer = false;
            if let Some(h) = self.history.get_mut(&reading.series) {
                newer = h.last().is_none_or(|p| p.at < batch.at);
                h.push(Point {
                    at: batch.at,
                    value,
                });
            }
            let after_change = self.progress.confirmed_at.is_none_or(|c| batch.at >= c);
            if counting && value.is_some() && newer && after_change {
                let n = self
                    .progress
                    .fresh
                    .entry(reading.series.clone())
                    .or_insert(0);
                *n = n.saturating_add(1);
            }
        }
    }

    fn on_samples(&mut self, now: DateTime<Utc>, batch: Batch, fx: &mut Vec<Effect>) {
        let at = batch.at;
        let counting = self.progress.confirmed
            && matches!(
                self.progress.phase,
                Phase::Baking { .. } | Phase::AwaitingApproval { .. } | Phase::Watching
            );
        self.record(&batch, counting);
        let plan = Arc::clone(&self.plan);
        for (i, rule) in plan.guardrails.rules.iter().enumerate() {
            let Some(series) = plan.metrics.series(&rule.metric) else {
                continue;
            };
            let Some(reading) = batch.readings.iter().find(|r| r.series == rule.metric) else {
                continue;
            };
            let value = match reading.outcome {
                Outcome::Value(v) if v.is_finite() => Some(v),
                _ => None,
            };
            let baseline = self.progress.baseline.get(&rule.metric).copied();
            let threshold = guardrail::threshold(rule.condition, baseline, series.better);
            let transition = guardrail::observe(
                &mut self.progress.rules[i],
                rule,
                at,
                value,
                threshold,
                series.better,
            );
            match transition {
                Transition::None => {}
                Transition::Tripped => {
                    let explain = self.explain(i, at, baseline, threshold.unwrap_or(f64::NAN));
                    self.on_trip(now, i, explain, fx);
                }
                Transition::Cleared => {
                    if self.progress.phase.is_live() {
                        let e = self.entry(
                            now,
                            ENGINE,
                            Kind::Decision,
                            "guardrail clear",
                            rule.text.clone(),
                        );
                        fx.push(Effect::Journal(e));
                    }
                    self.try_auto_resume(now, fx);
                }
            }
        }
    }

    fn explain(
        &self,
        rule_index: usize,
        at: DateTime<Utc>,
        baseline: Option<f64>,
        threshold: f64,
    ) -> Explain {
        let rule = &self.plan.guardrails.rules[rule_index];
        let series = self.plan.metrics.series(&rule.metric);
        let since = self.progress.rules[rule_index].holding_since.unwrap_or(at);
        let interval = chrono::Duration::from_std(self.plan.metrics.interval).unwrap_or_default();
        let from = since
            .checked_sub_signed(interval * 4)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let mut samples: Vec<Point> = self
            .history
            .get(&rule.metric)
            .map(|h| h.window(from, at).copied().collect())
            .unwrap_or_default();
        if samples.len() > 60 {
            samples.drain(..samples.len() - 60);
        }
        Explain {
            rule: rule_index,
            rule_text: rule.text.clone(),
            metric: rule.metric.clone(),
            query: series.and_then(|s| s.query.clone()),
            action: rule.action,
            unit: series.map(|s| s.unit).unwrap_or(crate::plan::Unit::Count),
            baseline,
            threshold,
            since,
            at,
            held_secs: (at - since).num_seconds(),
            samples,
        }
    }

    fn on_trip(
        &mut self,
        now: DateTime<Utc>,
        rule_index: usize,
        explain: Explain,
        fx: &mut Vec<Effect>,
    ) {
        let live = self.progress.phase.is_live();
        let action = explain.action;
        let summary = explain.summary();
        self.progress.trips.push(explain.clone());
        if self.progress.trips.len() > TRIPS_KEPT {
            self.progress.trips.remove(0);
        }
        if !live {
            return;
        }
        let mut e = self.entry(now, ENGINE, Kind::Decision, "guardrail", summary.clone());
        e.explain = Some(Box::new(explain.clone()));
        fx.push(Effect::Journal(e));
        match action {
            Action::Alert => fx.push(self.event(
                now,
                EventKind::Alert,
                format!("Alert on {}: {summary}", self.release_label()),
                Some(&explain),
            )),
            Action::Pause => self.pause(
                now,
                PauseCause::Guardrail(rule_index),
                summary,
                Some(&explain),
                fx,
            ),
            Action::Rollback => self.rollback_as(
                now,
                ENGINE,
                Kind::Decision,
                format!("guardrail: {summary}"),
                Some(&explain),
                fx,
            ),
        }
    }

    fn pause(
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
            "pause",
            reason.clone(),
        )));
        fx.push(self.event(
            now,
            EventKind::Paused,
            format!("{} paused: {reason}", self.release_label()),
            explain,
        ));
    }

    fn rollback_as(
        &mut self,
        now: DateTime<Utc>,
        operator: &str,
        kind: Kind,
        reason: String,
        explain: Option<&Explain>,
        fx: &mut Vec<Effect>,
    ) {
        let entry = self.entry(now, operator, kind, "rollback", reason.clone());
        self.progress.phase = Phase::RollingBack {
            reason: reason.clone(),
        };
        let desired = DesiredFlag {
            enabled: false,
            percent: 0,
            groups: Vec::new(),
        };
        self.progress.desired = Some(desired.clone());
        self.progress.confirmed = false;
        self.progress.overridden = None;
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
    fn groups_through(&self, step: usize) -> Vec<String> {
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

    fn enter_step(
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
        let mut e = self.entry(now, operator, kind, "promote", format!("→ {title}{why}"));
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
    fn promote_from(
        &mut self,
        now: DateTime<Utc>,
        step: usize,
        operator: &str,
        kind: Kind,
        why: String,
        fx: &mut Vec<Effect>,
    ) {
        if step + 1 < self.plan.rollout.steps.len() {
            self.enter_step(now, step + 1, operator, kind, why, fx);
        } else {
            self.progress.phase = Phase::Watching;
            self.progress.served_ms = 0;
            self.progress.fresh.clear();
            let watch = guardrail::format_secs(self.plan.rollout.watch.as_secs() as i64);
            fx.push(Effect::Journal(self.entry(
                now,
                operator,
                kind,
                "watch",
                format!("last step done; guardrails stay live for {watch}{why}"),
            )));
        }
    }

    fn on_command(
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
                            crate::plan::Condition::AboveBaseline(_)
                                | crate::plan::Condition::Degradation(_)
                        )
                    })
                    .filter(|r| self.baseline_at(now, &r.metric).is_none())
                    .map(|r| {
                        format!(
                            "no baseline for {} (no samples in the {} before start)",
                            r.metric,
                            guardrail::format_secs(plan.metrics.baseline_window.as_secs() as i64)
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
                    let left = self
                        .time_left()
                        .map(|d| guardrail::format_secs(d.as_secs() as i64))
                        .unwrap_or_default();
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

    /// What still holds a guardrail pause: tripped pause/rollback rules and stale data.
    fn pause_blockers(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .progress
            .rules
            .iter()
            .enumerate()
            .filter(|(i, r)| r.tripped && self.plan.guardrails.rules[*i].action != Action::Alert)
            .map(|(i, _)| format!("guardrail tripped: {}", self.plan.guardrails.rules[i].text))
            .collect();
        if self.plan.guardrails.on_stale != StaleAction::Alert {
            out.extend(self.progress.stale.iter().map(|s| format!("{s} is stale")));
        }
        out
    }

    /// Leaves a pause for whatever the rollout was doing before it.
    fn resume(
        &mut self,
        now: DateTime<Utc>,
        operator: &str,
        kind: Kind,
        why: String,
        fx: &mut Vec<Effect>,
    ) {
        let Phase::Paused { step, resume, .. } = self.progress.phase.clone() else {
            return;
        };
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
            "resume",
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
    fn try_auto_resume(&mut self, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
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

    fn on_flag(&mut self, now: DateTime<Utc>, event: FlagEvent, fx: &mut Vec<Effect>) {
        match event {
            FlagEvent::Confirmed { state } => {
                let matches = self
                    .progress
                    .desired
                    .as_ref()
                    .is_some_and(|d| same_flag(d, &state));
                let text = describe_flag(&state);
                self.progress.live = Some(state.clone());
                if let Phase::RollingBack { reason } = self.progress.phase.clone()
                    && !state.enabled
                {
                    self.progress.phase = Phase::RolledBack {
                        reason: reason.clone(),
                    };
                    self.progress.confirmed = true;
                    self.progress.confirmed_at = Some(now);
                    if let Some(i) = self.plan.checklists.rollback.iter().position(|it| {
                        it.check.is_none() && it.text.to_lowercase().contains("flag")
                    }) {
                        self.progress
                            .ticked
                            .entry(ListKind::Rollback)
                            .or_default()
                            .insert(i);
                    }
                    fx.push(Effect::Journal(self.entry(
                        now,
                        ENGINE,
                        Kind::Decision,
                        "rolled back",
                        "the backend confirmed the flag is off".to_string(),
                    )));
                    fx.push(self.event(
                        now,
                        EventKind::RollbackConfirmed,
                        format!(
                            "{} rolled back: flag off, confirmed by the backend",
                            self.release_label()
                        ),
                        None,
                    ));
                    return;
                }
                if matches {
                    self.progress.confirmed = true;
                    self.progress.confirmed_at = Some(now);
                    self.progress.flag_failures = 0;
                    fx.push(Effect::Journal(self.entry(
                        now,
                        ENGINE,
                        Kind::Note,
                        "flag",
                        format!("confirmed: {text}"),
                    )));
                } else {
                    fx.push(Effect::Journal(self.entry(
                        now,
                        ENGINE,
                        Kind::Error,
                        "flag",
                        format!("read back differs from what was written: {text}"),
                    )));
                }
            }
            FlagEvent::Failed { error, attempt } => {
                self.progress.flag_failures = attempt;
                fx.push(Effect::Journal(self.entry(
                    now,
                    ENGINE,
                    Kind::Error,
                    "flag",
                    format!("write failed (attempt {attempt}), retrying: {error}"),
                )));
            }
            FlagEvent::Loaded { state } => {
                if let Some(d) = &self.progress.desired
                    && !same_flag(d, &state)
                    && self.progress.confirmed
                {
                    return self.on_flag(now, FlagEvent::Outside { state }, fx);
                }
                self.progress.live = Some(state);
            }
            FlagEvent::Created { state } => {
                fx.push(Effect::Journal(self.entry(
                    now,
                    ENGINE,
                    Kind::Note,
                    "flag",
                    format!(
                        "{} did not exist; created {}",
                        self.plan.flag.name,
                        describe_flag(&state)
                    ),
                )));
                self.progress.live = Some(state);
            }
            FlagEvent::Outside { state } => {
                let text = describe_flag(&state);
                self.progress.live = Some(state.clone());
                if self
                    .progress
                    .desired
                    .as_ref()
                    .is_some_and(|d| same_flag(d, &state))
                {
                    if !self.progress.confirmed {
                        self.progress.confirmed = true;
                        self.progress.confirmed_at = Some(now);
                    }
                    return;
                }
                fx.push(Effect::Journal(self.entry(
                    now,
                    "outside shipdeck",
                    Kind::Outside,
                    "flag changed",
                    text.clone(),
                )));
                if matches!(
                    self.progress.phase,
                    Phase::Baking { .. } | Phase::AwaitingApproval { .. } | Phase::Watching
                ) {
                    self.pause(
                        now,
                        PauseCause::Outside,
                        format!("the flag was changed outside shipdeck: {text}"),
                        None,
                        fx,
                    );
                } else if let Phase::Paused { by, reason, .. } = &mut self.progress.phase {
                    // Already paused: a person must now decide, even once a guardrail clears.
                    *by = PauseCause::Outside;
                    *reason = format!("the flag was changed outside shipdeck: {text}");
                }
            }
            FlagEvent::Unreadable { error } => {
                fx.push(Effect::Journal(self.entry(
                    now,
                    ENGINE,
                    Kind::Error,
                    "flag",
                    format!("cannot read the flag; nothing is written over it: {error}"),
                )));
            }
        }
    }

    fn check_staleness(&mut self, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        if !self.progress.phase.is_live() {
            return;
        }
        let window =
            chrono::Duration::from_std(self.plan.metrics.stale_window()).unwrap_or_default();
        let since_start = self.progress.step_started_at.max(self.woke);
        let watched: Vec<String> = self.watched().into_iter().map(String::from).collect();
        for m in watched {
            let last = self
                .history
                .get(&m)
                .and_then(|h| h.last_value())
                .map(|p| p.at)
                .or(since_start);
            let is_stale = last.is_none_or(|t| now - t > window);
            let was_stale = self.progress.stale.contains(&m);
            if is_stale && !was_stale {
                self.progress.stale.insert(m.clone());
                let age = last
                    .map(|t| guardrail::format_secs((now - t).num_seconds()))
                    .unwrap_or_else(|| "ever".into());
                let reason = format!("{m} is stale: no fresh sample for {age}");
                match self.plan.guardrails.on_stale {
                    StaleAction::Alert => {
                        fx.push(Effect::Journal(self.entry(
                            now,
                            ENGINE,
                            Kind::Decision,
                            "stale",
                            reason.clone(),
                        )));
                        fx.push(self.event(
                            now,
                            EventKind::Alert,
                            format!("{}: {reason}", self.release_label()),
                            None,
                        ));
                    }
                    StaleAction::Pause => {
                        if matches!(self.progress.phase, Phase::Paused { .. }) {
                            fx.push(Effect::Journal(self.entry(
                                now,
                                ENGINE,
                                Kind::Decision,
                                "stale",
                                reason.clone(),
                            )));
                        } else {
                            self.pause(now, PauseCause::Stale(m.clone()), reason, None, fx);
                        }
                    }
                    StaleAction::Rollback => self.rollback_as(
                        now,
                        ENGINE,
                        Kind::Decision,
                        format!("stale data: {reason}"),
                        None,
                        fx,
                    ),
                }
            } else if !is_stale && was_stale {
                self.progress.stale.remove(&m);
                fx.push(Effect::Journal(self.entry(
                    now,
                    ENGINE,
                    Kind::Decision,
                    "fresh",
                    format!("{m} has fresh data again"),
                )));
                self.try_auto_resume(now, fx);
            }
        }
    }

    fn check_progress(&mut self, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        match self.progress.phase.clone() {
            Phase::Baking { step } => {
                let Some(s) = self.plan.rollout.steps.get(step) else {
                    return;
                };
                if self.progress.served_ms < s.bake.as_millis() as u64 {
                    return;
                }
                if !self.blockers().is_empty() || self.starved().is_some() {
                    return;
                }
                let name = s.name.clone();
                let bake = guardrail::format_secs(s.bake.as_secs() as i64);
                if let Some(held) = self.progress.overridden {
                    // The slider is an operator's explicit choice: the engine never moves past it.
                    self.progress.phase = Phase::AwaitingApproval { step };
                    fx.push(Effect::Journal(self.entry(
                        now,
                        ENGINE,
                        Kind::Decision,
                        "bake complete",
                        format!("{name} baked {bake} on healthy data; the slider holds {held}%, so the next step waits for a promote"),
                    )));
                } else if s.approval == crate::plan::Approval::Manual {
                    self.progress.phase = Phase::AwaitingApproval { step };
                    fx.push(Effect::Journal(self.entry(
                        now,
                        ENGINE,
                        Kind::Decision,
                        "bake complete",
                        format!("{name} baked {bake} on healthy data; waiting for approval"),
                    )));
                } else {
                    self.promote_from(
                        now,
                        step,
                        ENGINE,
                        Kind::Decision,
                        format!(" after {name} baked {bake} on healthy data"),
                        fx,
                    );
                }
            }
            Phase::Watching
                if self.progress.served_ms >= self.plan.rollout.watch.as_millis() as u64
                    && self.blockers().is_empty()
                    && self.starved().is_none() =>
            {
                self.progress.phase = Phase::Completed;
                let watch = guardrail::format_secs(self.plan.rollout.watch.as_secs() as i64);
                fx.push(Effect::Journal(self.entry(
                    now,
                    ENGINE,
                    Kind::Decision,
                    "completed",
                    format!("watched {watch} clean; remove the flag and announce"),
                )));
                fx.push(self.event(
                    now,
                    EventKind::Completed,
                    format!(
                        "{} released to 100%: watch ended clean",
                        self.release_label()
                    ),
                    None,
                ));
            }
            _ => {}
        }
    }
}

/// Whether a command may act past `blockers`: `Ok(Some("forced past: …"))` when forced
/// through them, `Ok(None)` when nothing blocks, `Err(why)` when it must be refused.
fn gate(verb: &str, blockers: Vec<String>, force: bool) -> Result<Option<String>, String> {
    match (blockers.is_empty(), force) {
        (true, _) => Ok(None),
        (false, true) => Ok(Some(format!("forced past: {}", blockers.join("; ")))),
        (false, false) => Err(format!("cannot {verb}: {}", blockers.join("; "))),
    }
}

fn same_flag(d: &DesiredFlag, s: &FlagState) -> bool {
    if d.enabled != s.enabled {
        return false;
    }
    if !d.enabled {
        return true;
    }
    let mut a = d.groups.clone();
    let mut b = s.groups.clone();
    a.sort();
    b.sort();
    d.percent == s.percent() && a == b
}

/// `on 25% +[internal, beta-testers]` / `off`.
pub fn describe_flag(s: &FlagState) -> String {
    if !s.enabled {
        return format!("off (rollout {}%)", s.percent());
    }
    if s.groups.is_empty() {
        format!("on {}%", s.percent())
    } else {
        format!("on {}% +[{}]", s.percent(), s.groups.join(", "))
    }
}
