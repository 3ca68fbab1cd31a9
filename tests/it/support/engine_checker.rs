//! engine_checker: random release plans and input sequences for the engine, and a checker
//! that feeds them one by one and checks after every call the rules the engine must always
//! hold: a rollback wins and stays; nothing is rolled back before the backend read back
//! "off"; missing, stale or too few fresh samples never promote; the flag never goes above
//! the step unless an operator put it there; every decision is journaled with its values;
//! progress survives state.json. The checker keeps its own small model of what the engine
//! was told; it never trusts the engine's own bookkeeping for the facts it checks. Owns
//! no engine logic.

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::plans::{item, rule, secs, series, small_plan, step};
use shipdeck::engine::values::{Batch, Outcome, Reading};
use shipdeck::engine::values::{DesiredFlag, FlagState};
use shipdeck::engine::{Command, Effect, Engine, FlagEvent, Input, Phase, Progress, Resume};
use shipdeck::plan::{
    Action, Approval, Better, Condition, FlagKind, ListKind, Plan, StageStatus, StaleAction, Unit,
};

pub const SERIES: [&str; 3] = ["error_rate", "p95", "memory"];

// ---------------------------------------------------------------------------------------
// Generators

pub fn plan_strategy() -> impl Strategy<Value = Plan> {
    (
        prop_oneof![
            Just(StaleAction::Pause),
            Just(StaleAction::Rollback),
            Just(StaleAction::Alert)
        ],
        proptest::collection::vec((0u64..=120, any::<bool>()), 1..=4),
        0u64..=120,
        1u32..=4,
        1u32..=4,
        0usize..=2,
    )
        .prop_map(
            |(on_stale, steps, watch, min_samples, stale_after, pre_items)| {
                let mut plan = small_plan();
                let percents = [0u8, 5, 25, 100];
                let groups: [&[&str]; 4] = [&["internal"], &["beta-testers"], &[], &[]];
                plan.rollout.steps = steps
                    .iter()
                    .enumerate()
                    .map(|(i, (bake, manual))| {
                        step(
                            &format!("Step {i}"),
                            percents[i],
                            groups[i],
                            secs(*bake),
                            if *manual {
                                Approval::Manual
                            } else {
                                Approval::Auto
                            },
                        )
                    })
                    .collect();
                plan.rollout.watch = secs(watch);
                plan.metrics.min_samples = min_samples;
                plan.metrics.stale_after = stale_after;
                plan.metrics.series = vec![
                    series("error_rate", Unit::Ratio, Better::Lower),
                    series("p95", Unit::Seconds, Better::Lower),
                    series("memory", Unit::Ratio, Better::Lower),
                ];
                plan.guardrails.on_stale = on_stale;
                plan.guardrails.rules.extend([
                    rule(
                        "p95",
                        Condition::Above(2.0),
                        Duration::ZERO,
                        Action::Alert,
                        "p95 above 2s → alert",
                    ),
                    rule(
                        "p95",
                        Condition::AboveBaseline(3.0),
                        secs(30),
                        Action::Rollback,
                        "p95 above 3x baseline for 30s → rollback",
                    ),
                    rule(
                        "memory",
                        Condition::Above(0.9),
                        Duration::ZERO,
                        Action::Rollback,
                        "memory above 90% → rollback",
                    ),
                ]);
                plan.checklists.pre_release = (0..pre_items)
                    .map(|i| item(&format!("Pre-release item {i}")))
                    .collect();
                plan.checklists.rollback = vec![item("Disable feature flag"), item("Notify team")];
                plan
            },
        )
}

/// One series' answer; `None` leaves the series out of the batch.
pub fn outcome(name: &'static str, calm: bool) -> impl Strategy<Value = Option<Outcome>> {
    let (healthy, pause, bad) = match name {
        "error_rate" => (0.0..0.008, 0.011..0.04, 0.051..0.2),
        "p95" => (0.2..0.4, 1.0..2.5, 2.5..6.0),
        _ => (0.4..0.85, 0.85..0.9, 0.91..1.0),
    };
    let bad_weight = if calm { 0 } else { 1 };
    prop_oneof![
        40 => healthy.prop_map(|v| Some(Outcome::Value(v))),
        3 => pause.prop_map(|v| Some(Outcome::Value(v))),
        bad_weight => bad.prop_map(|v| Some(Outcome::Value(v))),
        2 => Just(Some(Outcome::NoData)),
        2 => Just(Some(Outcome::Error("timeout after 5s".into()))),
        2 => Just(None),
        1 => prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(-f64::INFINITY)]
            .prop_map(|v| Some(Outcome::Value(v))),
    ]
}

pub fn readings(calm: bool) -> impl Strategy<Value = Vec<Option<Outcome>>> {
    (
        outcome(SERIES[0], calm),
        outcome(SERIES[1], calm),
        outcome(SERIES[2], calm),
    )
        .prop_map(|(a, b, c)| vec![a, b, c])
}

pub fn flag_state() -> impl Strategy<Value = FlagState> {
    (
        any::<bool>(),
        prop_oneof![Just(0.0), Just(0.05), Just(0.25), Just(1.0), 0.0f64..=1.0],
        proptest::sample::subsequence(vec!["internal", "beta-testers"], 0..=2),
    )
        .prop_map(|(enabled, rollout, groups)| FlagState {
            enabled,
            rollout,
            groups: groups.into_iter().map(String::from).collect(),
            kind: FlagKind::Release,
        })
}

#[derive(Debug, Clone)]
pub enum Op {
    /// Moves the clock on by this many seconds (at least one: sample times increase) and
    /// feeds a batch.
    Samples(u32, Vec<Option<Outcome>>),
    Tick(u32),
    Command(Command, &'static str),
    /// Answers the last write with what it asked for.
    ConfirmPending,
    /// A read-back that may or may not match anything.
    Confirm(FlagState),
    Fail(u32),
    Outside(FlagState),
    Loaded(FlagState),
    Stage(StageStatus),
}

pub fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        8 => any::<bool>().prop_map(|force| Command::Start { force }),
        10 => any::<bool>().prop_map(|force| Command::Promote { force }),
        4 => Just(Command::Pause),
        8 => any::<bool>().prop_map(|force| Command::Resume { force }),
        4 => (0u8..=110).prop_map(|percent| Command::SetPercent { percent }),
        6 => (
            prop_oneof![
                Just(ListKind::PreRelease),
                Just(ListKind::ReleaseDay),
                Just(ListKind::Rollback)
            ],
            0usize..3,
            any::<bool>()
        )
            .prop_map(|(list, item, done)| Command::Tick { list, item, done }),
    ]
}

pub fn op(calm: bool) -> impl Strategy<Value = Op> {
    prop_oneof![
        60 => (1u32..=40, readings(calm)).prop_map(|(dt, r)| Op::Samples(dt, r)),
        3 => (41u32..=3600, readings(calm)).prop_map(|(dt, r)| Op::Samples(dt, r)),
        12 => (0u32..=90).prop_map(Op::Tick),
        24 => Just(Op::ConfirmPending),
        40 => (command(), prop_oneof![Just("alice"), Just("bob")])
            .prop_map(|(c, who)| Op::Command(c, who)),
        1 => prop_oneof![Just("alice"), Just("bob")]
            .prop_map(|who| Op::Command(Command::Rollback, who)),
        4 => (1u32..=5).prop_map(Op::Fail),
        2 => flag_state().prop_map(Op::Confirm),
        2 => flag_state().prop_map(Op::Outside),
        2 => flag_state().prop_map(Op::Loaded),
        2 => prop_oneof![
            Just(StageStatus::Passed),
            Just(StageStatus::Failed),
            Just(StageStatus::Running)
        ]
        .prop_map(Op::Stage),
    ]
}

pub fn case() -> impl Strategy<Value = (Plan, Vec<Op>)> {
    (plan_strategy(), any::<bool>())
        .prop_flat_map(|(plan, calm)| (Just(plan), proptest::collection::vec(op(calm), 1..=200)))
}

// ---------------------------------------------------------------------------------------
// The checker: the shell plus a small independent model.

pub fn t0() -> DateTime<Utc> {
    chrono::TimeZone::with_ymd_and_hms(&Utc, 2025, 1, 1, 0, 0, 0).unwrap()
}

pub fn state_of(d: &DesiredFlag) -> FlagState {
    FlagState {
        enabled: d.enabled,
        rollout: f64::from(d.percent) / 100.0,
        groups: d.groups.clone(),
        kind: FlagKind::Release,
    }
}

pub fn is_live(p: &Phase) -> bool {
    matches!(
        p,
        Phase::Baking { .. }
            | Phase::AwaitingApproval { .. }
            | Phase::Paused { .. }
            | Phase::Watching
    )
}

pub fn rolling_back(p: &Phase) -> bool {
    matches!(p, Phase::RollingBack { .. } | Phase::RolledBack { .. })
}

/// How far along the rollout is: (step, 0 baking / 1 awaiting approval / 2 watching /
/// 3 completed). A pause ranks as what it goes back to.
pub fn rank(p: &Phase, last: usize) -> Option<(usize, u8)> {
    match p {
        Phase::Baking { step }
        | Phase::Paused {
            step,
            resume: Resume::Baking,
            ..
        } => Some((*step, 0)),
        Phase::AwaitingApproval { step }
        | Phase::Paused {
            step,
            resume: Resume::AwaitingApproval,
            ..
        } => Some((*step, 1)),
        Phase::Watching
        | Phase::Paused {
            resume: Resume::Watching,
            ..
        } => Some((last, 2)),
        Phase::Completed => Some((last, 3)),
        _ => None,
    }
}

/// Where an absolute-threshold rollback rule stands, on sample time.
struct RollbackRule {
    metric: String,
    threshold: f64,
    hold: chrono::Duration,
    since: Option<DateTime<Utc>>,
    tripped: bool,
}

/// What the checker saw happen, to show coverage.
#[derive(Debug, Default, Clone, Copy)]
pub struct Seen {
    pub engine_promotions: usize,
    pub completed: bool,
    pub rolled_back: bool,
    pub overrides: usize,
    pub paused: bool,
}

pub struct Checker {
    plan: Arc<Plan>,
    engine: Engine,
    now: DateTime<Utc>,
    watched: Vec<String>,
    stale_window: chrono::Duration,
    /// Values seen per watched series since the current step was entered.
    fresh: BTreeMap<String, u32>,
    last_value_at: BTreeMap<String, DateTime<Utc>>,
    step_entered: Option<DateTime<Utc>>,
    rollback_rules: Vec<RollbackRule>,
    /// The percent the operator set with the slider in the current step.
    overridden: Option<u8>,
    any_value: bool,
    pending: Option<DesiredFlag>,
    seen: Seen,
}

impl Checker {
    pub fn new(plan: Plan) -> Self {
        let plan = Arc::new(plan);
        let mut watched: Vec<String> = plan
            .guardrails
            .rules
            .iter()
            .map(|r| r.metric.clone())
            .collect();
        if watched.is_empty() {
            watched = plan.metrics.series.iter().map(|s| s.name.clone()).collect();
        }
        watched.sort();
        watched.dedup();
        let stale_window =
            chrono::Duration::from_std(plan.metrics.interval * plan.metrics.stale_after.max(1))
                .unwrap();
        let rollback_rules = plan
            .guardrails
            .rules
            .iter()
            .filter_map(|r| match (r.action, r.condition) {
                (Action::Rollback, Condition::Above(t)) => Some(RollbackRule {
                    metric: r.metric.clone(),
                    threshold: t,
                    hold: chrono::Duration::from_std(r.hold).unwrap(),
                    since: None,
                    tripped: false,
                }),
                _ => None,
            })
            .collect();
        Checker {
            engine: Engine::new(Arc::clone(&plan)),
            plan,
            now: t0(),
            watched,
            stale_window,
            fresh: BTreeMap::new(),
            last_value_at: BTreeMap::new(),
            step_entered: None,
            rollback_rules,
            overridden: None,
            any_value: false,
            pending: None,
            seen: Seen::default(),
        }
    }

    fn input(&mut self, op: &Op) -> Option<Input> {
        Some(match op {
            Op::Samples(dt, outcomes) => {
                self.now += chrono::Duration::seconds(i64::from(*dt));
                Input::Samples {
                    batch: Batch {
                        arms: Vec::new(),
                        at: self.now,
                        readings: SERIES
                            .iter()
                            .zip(outcomes)
                            .filter_map(|(s, o)| {
                                o.clone().map(|outcome| Reading {
                                    series: s.to_string(),
                                    outcome,
                                })
                            })
                            .collect(),
                    },
                }
            }
            Op::Tick(dt) => {
                self.now += chrono::Duration::seconds(i64::from(*dt));
                Input::Tick
            }
            Op::Command(command, who) => Input::Command {
                command: command.clone(),
                operator: who.to_string(),
                reason: None,
            },
            Op::ConfirmPending => Input::Flag {
                event: FlagEvent::Confirmed {
                    state: state_of(&self.pending.take()?),
                },
            },
            Op::Confirm(state) => Input::Flag {
                event: FlagEvent::Confirmed {
                    state: state.clone(),
                },
            },
            Op::Fail(attempt) => Input::Flag {
                event: FlagEvent::Failed {
                    error: "HTTP 503 from http://127.0.0.1:4242/api/admin".into(),
                    attempt: *attempt,
                },
            },
            Op::Outside(state) => Input::Flag {
                event: FlagEvent::Outside {
                    state: state.clone(),
                },
            },
            Op::Loaded(state) => Input::Flag {
                event: FlagEvent::Loaded {
                    state: state.clone(),
                },
            },
            Op::Stage(status) => Input::Stage {
                name: "CI".into(),
                status: *status,
                detail: String::new(),
            },
        })
    }

    fn step_percent(&self, p: &Phase) -> Option<u8> {
        let last = self.plan.rollout.steps.len() - 1;
        rank(p, last).map(|(s, _)| self.plan.rollout.steps[s].percent)
    }

    fn stale_now(&self) -> Vec<String> {
        self.watched
            .iter()
            .filter(|m| {
                self.last_value_at
                    .get(*m)
                    .copied()
                    .or(self.step_entered)
                    .is_some_and(|t| self.now - t > self.stale_window)
            })
            .cloned()
            .collect()
    }

    /// Feeds one op and checks every rule on what came out.
    pub fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let Some(input) = self.input(op) else {
            return Ok(());
        };
        let before = self.engine.phase().clone();
        let last = self.plan.rollout.steps.len() - 1;
        let fx = self.engine.handle(self.now, input.clone());
        let after = self.engine.phase().clone();
        let ctx = || format!("input {input:?}\nphase {before:?} → {after:?}\neffects {fx:#?}");

        // The model takes in this batch first: the engine judges with it too.
        let mut must_roll_back = None;
        if let Input::Samples { batch } = &input {
            for r in &batch.readings {
                let Outcome::Value(v) = r.outcome else {
                    continue;
                };
                if !v.is_finite() {
                    continue;
                }
                self.any_value = true;
                self.last_value_at.insert(r.series.clone(), batch.at);
                if self.step_entered.is_some_and(|t| batch.at > t) {
                    *self.fresh.entry(r.series.clone()).or_default() += 1;
                }
            }
            for rule in &mut self.rollback_rules {
                let value = batch
                    .readings
                    .iter()
                    .find(|r| r.series == rule.metric)
                    .and_then(|r| match r.outcome {
                        Outcome::Value(v) if v.is_finite() => Some(v),
                        _ => None,
                    });
                let Some(v) = value else { continue };
                if v > rule.threshold {
                    let since = *rule.since.get_or_insert(batch.at);
                    if !rule.tripped && batch.at - since >= rule.hold {
                        rule.tripped = true;
                        if is_live(&before) {
                            must_roll_back = Some(rule.metric.clone());
                        }
                    }
                } else {
                    rule.since = None;
                    rule.tripped = false;
                }
            }
        }

        // A rollback wins in any live state, and stays.
        if rolling_back(&before) {
            prop_assert!(rolling_back(&after), "left a rollback\n{}", ctx());
        }
        if let Some(metric) = must_roll_back {
            prop_assert!(
                rolling_back(&after),
                "a rollback rule on {metric} tripped in a live state without a rollback\n{}",
                ctx()
            );
        }
        if let Input::Command {
            command: Command::Rollback,
            ..
        } = &input
        {
            prop_assert!(rolling_back(&after), "rollback key ignored\n{}", ctx());
        }
        if self.plan.guardrails.on_stale == StaleAction::Rollback && is_live(&before) {
            let stale = self.stale_now();
            prop_assert!(
                stale.is_empty() || rolling_back(&after),
                "{stale:?} stale with on_stale: rollback, yet no rollback\n{}",
                ctx()
            );
        }

        // Nothing is rolled back before the backend read back "off" after the rollback began.
        if matches!(after, Phase::RolledBack { .. }) && !matches!(before, Phase::RolledBack { .. })
        {
            prop_assert!(
                matches!(before, Phase::RollingBack { .. }),
                "rolled back without rolling back first\n{}",
                ctx()
            );
            prop_assert!(
                matches!(
                    &input,
                    Input::Flag {
                        event: FlagEvent::Confirmed { state }
                    } if !state.enabled
                ),
                "rolled back without a confirmed read-back of the flag off\n{}",
                ctx()
            );
        }

        // Stale or missing data never promotes.
        let (ra, rb) = (rank(&before, last), rank(&after, last));
        let operator_moved = matches!(
            &input,
            Input::Command {
                command: Command::Promote { .. } | Command::Start { .. },
                ..
            }
        );
        if let (Some(a), Some(b)) = (ra, rb)
            && b > a
            && !operator_moved
        {
            self.seen.engine_promotions += 1;
            let need = self.plan.metrics.min_samples;
            for m in &self.watched {
                let have = self.fresh.get(m).copied().unwrap_or(0);
                prop_assert!(
                    have >= need,
                    "promoted with {have}/{need} fresh samples of {m}\n{}",
                    ctx()
                );
            }
            let stale = self.stale_now();
            prop_assert!(stale.is_empty(), "promoted on stale {stale:?}\n{}", ctx());
        }

        // The flag never goes above the step unless an operator put it there.
        if let Input::Command {
            command: Command::SetPercent { percent },
            ..
        } = &input
            && fx
                .iter()
                .any(|e| matches!(e, Effect::SetFlag(d) if d.percent == *percent))
        {
            self.overridden = Some(*percent);
            self.seen.overrides += 1;
        }
        let step_changed = match (ra, rb) {
            (Some(a), Some(b)) => b.0 != a.0,
            (None, Some(_)) => true,
            _ => false,
        };
        if step_changed {
            self.overridden = None;
        }
        for e in &fx {
            let Effect::SetFlag(d) = e else { continue };
            self.pending = Some(d.clone());
            if d.enabled {
                // The step the write is for: the one the call ends on, else the one it
                // began on, else the first (a start that rolled back in the same call).
                let step_pct = self
                    .step_percent(&after)
                    .or_else(|| self.step_percent(&before))
                    .or_else(|| self.plan.rollout.steps.first().map(|s| s.percent));
                prop_assert!(
                    step_pct.is_some_and(|p| d.percent <= p) || self.overridden == Some(d.percent),
                    "flag set to {}% above the step's {step_pct:?}% with no override\n{}",
                    d.percent,
                    ctx()
                );
            } else {
                prop_assert!(
                    rolling_back(&after),
                    "flag disabled outside a rollback\n{}",
                    ctx()
                );
            }
        }

        // Every phase change and every decision is journaled, with values.
        if before != after {
            prop_assert!(
                fx.iter().any(|e| matches!(e, Effect::Journal(_))),
                "phase changed without a journal entry\n{}",
                ctx()
            );
        }
        for e in &fx {
            let Effect::Journal(entry) = e else { continue };
            prop_assert_eq!(entry.at, self.now);
            prop_assert!(!entry.reason.is_empty(), "empty reason\n{}", ctx());
            if entry.kind == shipdeck::engine::journal::Kind::Decision && self.any_value {
                prop_assert!(
                    !entry.values.is_empty(),
                    "decision without values\n{}",
                    ctx()
                );
            }
        }

        // Progress survives state.json.
        let json = serde_json::to_string(self.engine.progress())
            .map_err(|e| TestCaseError::fail(format!("serialize: {e}")))?;
        let back: Progress = serde_json::from_str(&json)
            .map_err(|e| TestCaseError::fail(format!("deserialize: {e}\n{json}")))?;
        prop_assert!(
            json_close(
                &serde_json::to_value(&back).unwrap(),
                &serde_json::to_value(self.engine.progress()).unwrap()
            ),
            "progress changed in a JSON round trip:\n{json}"
        );
        let restored = Engine::restore(Arc::clone(&self.plan), back);
        prop_assert_eq!(restored.phase(), self.engine.phase());
        prop_assert_eq!(restored.step_index(), self.engine.step_index());

        // The model follows the step the engine is on.
        if rolling_back(&after) {
            self.overridden = None;
        }
        if step_changed {
            self.fresh.clear();
            self.step_entered = Some(self.now);
        }
        if matches!(before, Phase::Ready) && !matches!(after, Phase::Ready) {
            for rule in &mut self.rollback_rules {
                rule.since = None;
                rule.tripped = false;
            }
        }
        self.seen.completed |= after == Phase::Completed;
        self.seen.rolled_back |= matches!(after, Phase::RolledBack { .. });
        self.seen.paused |= matches!(after, Phase::Paused { .. });
        Ok(())
    }
}

/// Equal JSON, numbers equal to a relative 1e-12 (the exact round trip of floats is
/// checked in engine::regressions).
pub fn json_close(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_close(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_close(v, w)))
        }
        _ => a == b,
    }
}

/// Plays `ops`; returns what was seen up to the first broken rule, and that rule.
pub fn run(plan: Plan, ops: &[Op]) -> (Seen, Result<(), TestCaseError>) {
    let mut c = Checker::new(plan);
    for op in ops {
        if let Err(e) = c.step(op) {
            return (c.seen, Err(e));
        }
    }
    (c.seen, Ok(()))
}
