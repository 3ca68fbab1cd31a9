//! engine_driver: plays the shell around a pure `Engine` for tests — feeds a metrics batch
//! every interval, confirms (or delays, or fails) flag writes, and collects the journal,
//! notifications and refusals. Owns no decisions: everything it reports came from the engine.

use chrono::{DateTime, TimeZone, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use shipdeck::engine::journal::Entry;
use shipdeck::engine::values::{Batch, Outcome, Reading};
use shipdeck::engine::values::{DesiredFlag, FlagState};
use shipdeck::engine::{Command, Effect, Engine, Event, FlagEvent, Input, Phase, Progress};
use shipdeck::metrics::MetricsSource;
use shipdeck::plan::{FlagKind, Plan};

pub const OPERATOR: &str = "alice";

/// 2025-01-01T00:00:00Z: where every test clock starts.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()
}

/// What a backend reads back after writing `desired`.
pub fn state_of(desired: &DesiredFlag) -> FlagState {
    FlagState {
        enabled: desired.enabled,
        rollout: f64::from(desired.percent) / 100.0,
        groups: desired.groups.clone(),
        kind: FlagKind::Release,
    }
}

pub fn command(command: Command) -> Input {
    Input::Command {
        command,
        operator: OPERATOR.into(),
        reason: None,
    }
}

pub struct Driver {
    pub engine: Engine,
    pub now: DateTime<Utc>,
    /// Every journal entry the engine emitted, in order.
    pub journal: Vec<Entry>,
    pub notices: Vec<Event>,
    pub refusals: Vec<String>,
    /// Every flag write the engine asked for, in order.
    pub writes: Vec<DesiredFlag>,
    /// The last write not yet answered.
    pub pending: Option<DesiredFlag>,
    /// Answer every write at once with a matching read-back.
    pub auto_confirm: bool,
    /// What the metrics source reports for each series at the next batch; a series
    /// without an entry is left out of the batch altogether.
    pub outcomes: BTreeMap<String, Outcome>,
    /// Every phase the engine went through, with the time it was entered.
    pub phases: Vec<(DateTime<Utc>, Phase)>,
    /// When set, batches come from this source (polled with the engine's exposure)
    /// instead of `outcomes`.
    pub source: Option<Box<dyn MetricsSource>>,
}

impl Driver {
    /// A driver around a fresh engine; every series reports a healthy value
    /// (error_rate 0.1%, p95 300 ms, cpu 40%, memory 60%, checkouts 100/s, others 1.0).
    pub fn new(plan: Plan) -> Self {
        let plan = Arc::new(plan);
        let outcomes = plan
            .metrics
            .series
            .iter()
            .map(|s| (s.name.clone(), Outcome::Value(healthy(&s.name))))
            .collect();
        Self::around(Engine::new(plan), t0(), outcomes)
    }

    /// A driver around a restored engine, its clock at `now`.
    pub fn restored(plan: Plan, progress: Progress, now: DateTime<Utc>) -> Self {
        let plan = Arc::new(plan);
        let outcomes = plan
            .metrics
            .series
            .iter()
            .map(|s| (s.name.clone(), Outcome::Value(healthy(&s.name))))
            .collect();
        Self::around(Engine::restore(plan, progress), now, outcomes)
    }

    fn around(engine: Engine, now: DateTime<Utc>, outcomes: BTreeMap<String, Outcome>) -> Self {
        let phase = engine.phase().clone();
        Driver {
            engine,
            now,
            journal: Vec::new(),
            notices: Vec::new(),
            refusals: Vec::new(),
            writes: Vec::new(),
            pending: None,
            auto_confirm: true,
            outcomes,
            phases: vec![(now, phase)],
            source: None,
        }
    }

    /// A driver whose batches come from the plan's own metrics source (the simulated
    /// world, with its arms), polled under the engine's live exposure.
    pub fn sourced(plan: Plan) -> Self {
        let source = shipdeck::metrics::open(&plan.metrics).expect("the plan's source opens");
        let mut d = Driver::new(plan);
        d.source = Some(source);
        d
    }

    pub fn phase(&self) -> &Phase {
        self.engine.phase()
    }

    pub fn plan(&self) -> &Plan {
        self.engine.plan()
    }

    /// Feeds one input at the current clock; returns the effects of that one call (a
    /// confirmation the driver sends on its own is handled after, as its own call).
    pub fn handle(&mut self, input: Input) -> Vec<Effect> {
        let fx = self.engine.handle(self.now, input);
        for effect in &fx {
            match effect {
                Effect::Journal(e) => self.journal.push(e.clone()),
                Effect::Notify(e) => self.notices.push(e.clone()),
                Effect::Refused(why) => self.refusals.push(why.to_string()),
                Effect::SetFlag(d) => {
                    self.writes.push(d.clone());
                    self.pending = Some(d.clone());
                }
            }
        }
        let phase = self.engine.phase().clone();
        if self.phases.last().is_none_or(|(_, p)| *p != phase) {
            self.phases.push((self.now, phase));
        }
        if self.auto_confirm && self.pending.is_some() {
            self.confirm();
        }
        fx
    }

    pub fn cmd(&mut self, c: Command) -> Vec<Effect> {
        self.handle(command(c))
    }

    pub fn cmd_because(&mut self, c: Command, reason: &str) -> Vec<Effect> {
        self.handle(Input::Command {
            command: c,
            operator: OPERATOR.into(),
            reason: Some(reason.into()),
        })
    }

    /// Answers the pending write with a read-back that matches it.
    pub fn confirm(&mut self) -> Vec<Effect> {
        match self.pending.take() {
            Some(d) => self.handle(Input::Flag {
                event: FlagEvent::Confirmed {
                    state: state_of(&d),
                },
            }),
            None => Vec::new(),
        }
    }

    /// Answers the pending write with a failure; the write stays pending.
    pub fn fail(&mut self, attempt: u32) -> Vec<Effect> {
        self.handle(Input::Flag {
            event: FlagEvent::Failed {
                error: "connection refused (127.0.0.1:4242)".into(),
                attempt,
            },
        })
    }

    pub fn report(&mut self, series: &str, value: f64) {
        self.outcomes.insert(series.into(), Outcome::Value(value));
    }

    pub fn report_outcome(&mut self, series: &str, outcome: Outcome) {
        self.outcomes.insert(series.into(), outcome);
    }

    /// Leaves `series` out of every batch from now on.
    pub fn silence(&mut self, series: &str) {
        self.outcomes.remove(series);
    }

    pub fn batch(&mut self) -> Batch {
        if let Some(source) = self.source.as_mut() {
            let exposure = self.engine.exposure();
            return futures::executor::block_on(source.poll(self.now, exposure));
        }
        Batch {
            arms: Vec::new(),
            at: self.now,
            readings: self
                .outcomes
                .iter()
                .map(|(series, outcome)| Reading {
                    series: series.clone(),
                    outcome: outcome.clone(),
                })
                .collect(),
        }
    }

    /// Moves the clock one interval on and feeds the batch of that instant.
    pub fn sample(&mut self) -> Vec<Effect> {
        self.now += self.interval();
        let batch = self.batch();
        self.handle(Input::Samples { batch })
    }

    /// Moves the clock on by `d` without feeding anything, then ticks.
    pub fn tick_after(&mut self, d: Duration) -> Vec<Effect> {
        self.now += chrono::Duration::from_std(d).unwrap();
        self.handle(Input::Tick)
    }

    /// Feeds a batch every interval for `d` (rounded up to whole intervals).
    pub fn run_for(&mut self, d: Duration) {
        let n = d
            .as_millis()
            .div_ceil(self.interval().num_milliseconds() as u128);
        for _ in 0..n {
            self.sample();
        }
    }

    /// Feeds a batch every interval until `done` holds; panics after `max` of sample time.
    pub fn run_until(&mut self, max: Duration, done: impl Fn(&Driver) -> bool) {
        let deadline = self.now + chrono::Duration::from_std(max).unwrap();
        while !done(self) {
            assert!(
                self.now < deadline,
                "condition not reached within {max:?}; phase {:?}, journal:\n{}",
                self.phase(),
                self.journal_text()
            );
            self.sample();
        }
    }

    /// Feeds healthy samples for the baseline window before the rollout starts.
    pub fn warm_up(&mut self) {
        let window = self.plan().metrics.baseline_window;
        self.run_for(window);
    }

    pub fn interval(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.plan().metrics.interval).unwrap()
    }

    /// Journal entries with this action verb, oldest first.
    pub fn entries(&self, action: &str) -> Vec<&Entry> {
        self.journal.iter().filter(|e| e.action == action).collect()
    }

    pub fn last_entry(&self, action: &str) -> Option<&Entry> {
        self.journal.iter().rev().find(|e| e.action == action)
    }

    pub fn journal_text(&self) -> String {
        self.journal
            .iter()
            .map(|e| format!("  [{:?}] {}", e.kind, e.line()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The step names the engine went through (Baking phases), in order.
    pub fn baked_steps(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .phases
            .iter()
            .filter_map(|(_, p)| match p {
                Phase::Baking { step } => Some(self.plan().rollout.steps[*step].name.clone()),
                _ => None,
            })
            .collect();
        // A pause and resume re-enters the same step; that is not a new step.
        names.dedup();
        names
    }
}

fn healthy(series: &str) -> f64 {
    match series {
        "error_rate" => 0.001,
        "p95" => 0.3,
        "cpu" => 0.4,
        "memory" => 0.6,
        "checkouts" => 100.0,
        _ => 1.0,
    }
}
