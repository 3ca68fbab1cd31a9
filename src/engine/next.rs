//! engine::next: what the engine will do by itself next, and when — a guardrail whose
//! `for:` is running out, a bake or watch that completes, or nothing until a person acts.
//! The bake's own decision and every word about it (the header, the situation line, the
//! rule rows, `status`) come from here. Reads the engine; changes nothing.

use chrono::{DateTime, Utc};
use std::time::Duration;

use crate::plan::{Action, Approval};
use crate::support::fmt;

use super::Engine;
use super::guardrail::format_value;
use super::progress::{PauseCause, Phase};

/// What the engine does by itself once a step's bake completes on healthy data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenBaked {
    /// Promotes to the next step; after the last step, the watch starts.
    Promotes,
    /// Waits for a person's approval: the step says `approval: manual`.
    WaitsForApproval,
    /// Waits for a promote: the slider holds the flag at this percent, and the engine
    /// never moves past an operator's explicit choice.
    HeldBySlider(u8),
    /// The canary judge fails (or finds marginal) the step: its action, as the plan sets it.
    JudgeActs(Action),
}

/// The next thing the engine does by itself, and how long until it does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    /// Guardrail `rule` has held its condition for part of its `for:`; it fires in `left`
    /// (engine time) unless a sample comes back within `limit`.
    Fires {
        rule: usize,
        action: Action,
        left: Duration,
        limit: Option<f64>,
        /// The rule breaks above `limit` (else below).
        above: bool,
    },
    /// Step `step` bakes `left` more on healthy data, then `then`.
    Bakes {
        step: usize,
        left: Duration,
        then: WhenBaked,
    },
    /// The bake is served but the canary judge has too little data: the step waits for
    /// it, and pauses in `left` if it still has too little.
    AwaitsJudge { left: Duration },
    /// The watch ends clean in `left` and the release completes.
    Completes { left: Duration },
    /// A guardrail or stale data paused it: it resumes by itself once clear.
    ResumesWhenClear,
    /// The flag disable is sent; the backend has not confirmed it yet.
    ConfirmsOff,
    /// Nothing happens until a person acts.
    Waits(Wait),
    /// Nothing more happens by itself: rolled back, or completed.
    Nothing,
}

/// What a person is waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// To start the rollout.
    Start,
    /// To approve the next step.
    Approval,
    /// To promote past the percent the slider holds.
    Promote(u8),
    /// To resume after an operator's pause or an outside change to the flag.
    Resume,
}

impl Engine {
    /// What happens by itself when `step` has baked.
    pub fn when_baked(&self, step: usize) -> WhenBaked {
        if let Some(action) = self.judge_will(step) {
            return WhenBaked::JudgeActs(action);
        }
        if let Some(held) = self.progress.overridden {
            return WhenBaked::HeldBySlider(held);
        }
        match self.plan.rollout.steps.get(step).map(|s| s.approval) {
            Some(Approval::Manual) => WhenBaked::WaitsForApproval,
            _ => WhenBaked::Promotes,
        }
    }

    /// How long until rule `rule` fires if its condition keeps holding, at the engine's
    /// clock; `None` when it is not holding towards a `for:` (clear, or tripped already).
    pub fn fires_in(&self, rule: usize) -> Option<Duration> {
        self.fires_in_at(rule, self.progress.now?)
    }

    fn fires_in_at(&self, rule: usize, now: DateTime<Utc>) -> Option<Duration> {
        let state = self.progress.rules.get(rule)?;
        let r = self.plan.guardrails.rules.get(rule)?;
        let since = state.holding_since.filter(|_| !state.tripped)?;
        let at = since + chrono::Duration::from_std(r.hold).ok()?;
        Some((at - now).to_std().unwrap_or(Duration::ZERO))
    }

    /// The next thing the engine does by itself. A guardrail about to roll back comes
    /// first, wherever the release stands; then one about to pause; then the bake, the
    /// watch, or the person it waits for.
    pub fn next(&self) -> Next {
        self.next_at(self.progress.now)
    }

    /// [`Engine::next`] at engine time `now`: a reader of a saved state, which runs no
    /// clock, passes the time the state was saved at.
    pub fn next_at(&self, now: Option<DateTime<Utc>>) -> Next {
        let phase = &self.progress.phase;
        if phase.is_live() {
            let paused = matches!(phase, Phase::Paused { .. });
            let soonest = |action: Action| {
                (0..self.plan.guardrails.rules.len())
                    .filter(|i| self.plan.guardrails.rules[*i].action == action)
                    .filter_map(|i| Some((i, self.fires_in_at(i, now?)?)))
                    .min_by_key(|(_, left)| *left)
            };
            let fires = soonest(Action::Rollback)
                .map(|f| (f, Action::Rollback))
                .or_else(|| {
                    (!paused)
                        .then(|| soonest(Action::Pause))
                        .flatten()
                        .map(|f| (f, Action::Pause))
                });
            if let Some(((rule, left), action)) = fires {
                let above = self.rule_breaks_above(rule);
                return Next::Fires {
                    rule,
                    action,
                    left,
                    limit: self.rule_limit(rule),
                    above,
                };
            }
        }
        let left = || self.time_left().unwrap_or_default();
        match phase {
            Phase::Ready => Next::Waits(Wait::Start),
            Phase::Baking { step } => match self.canary_waits() {
                Some(left) => Next::AwaitsJudge { left },
                None => Next::Bakes {
                    step: *step,
                    left: left(),
                    then: self.when_baked(*step),
                },
            },
            Phase::AwaitingApproval { .. } => match self.progress.overridden {
                Some(held) => Next::Waits(Wait::Promote(held)),
                None => Next::Waits(Wait::Approval),
            },
            Phase::Paused { by, .. } => match by {
                PauseCause::Guardrail(_) | PauseCause::Stale(_) => Next::ResumesWhenClear,
                PauseCause::Operator(_) | PauseCause::Outside | PauseCause::Canary => {
                    Next::Waits(Wait::Resume)
                }
            },
            Phase::Watching => Next::Completes { left: left() },
            Phase::RollingBack { .. } => Next::ConfirmsOff,
            Phase::RolledBack { .. } | Phase::Completed => Next::Nothing,
        }
    }
}

impl Next {
    /// The time this answer counts down, if it counts one.
    pub fn left(&self) -> Option<Duration> {
        match self {
            Next::Fires { left, .. }
            | Next::Bakes { left, .. }
            | Next::AwaitsJudge { left }
            | Next::Completes { left } => Some(*left),
            _ => None,
        }
    }
}

impl Engine {
    /// [`Engine::next`] in a few words, the countdown in [`fmt::duration`]:
    /// `ROLLBACK in 45s unless error_rate ≤ 5.00%`, `promotes in 9m 54s`,
    /// `waits for approval`. Empty when nothing more happens by itself.
    pub fn next_words(&self, next: &Next) -> String {
        let steps = &self.plan.rollout.steps;
        match *next {
            Next::Fires {
                rule,
                action,
                left,
                limit,
                above,
            } => {
                let what = match action {
                    Action::Rollback => "ROLLBACK",
                    Action::Pause => "PAUSE",
                    Action::Alert => "ALERT",
                };
                let r = &self.plan.guardrails.rules[rule];
                let unless = match (limit, self.plan.metrics.series(&r.metric)) {
                    (Some(t), Some(s)) => {
                        let sign = if above { '≤' } else { '≥' };
                        format!("{} {sign} {}", r.metric, format_value(t, s.unit))
                    }
                    _ => format!("{} recovers", r.metric),
                };
                format!("{what} in {} unless {unless}", fmt::duration(left))
            }
            Next::Bakes { step, left, then } => {
                let left = fmt::duration(left);
                match then {
                    WhenBaked::Promotes if step + 1 < steps.len() => format!("promotes in {left}"),
                    WhenBaked::Promotes => format!("watch starts in {left}"),
                    WhenBaked::WaitsForApproval => format!("approval due in {left}"),
                    WhenBaked::HeldBySlider(held) => format!("baked in {left}, holds {held}%"),
                    WhenBaked::JudgeActs(action) => {
                        let verdict = self.canary().map_or("", |r| {
                            crate::engine::canary_report::verdict_word(r.score.verdict)
                        });
                        format!(
                            "{} in {left}: canary {verdict}",
                            action.name().to_uppercase()
                        )
                    }
                }
            }
            Next::AwaitsJudge { left } => {
                format!("waits for canary data, pauses in {}", fmt::duration(left))
            }
            Next::Completes { left } => format!("completes in {}", fmt::duration(left)),
            Next::ResumesWhenClear => "resumes once clear".into(),
            Next::ConfirmsOff => "waits for the backend".into(),
            Next::Waits(Wait::Start) => "waits for a start".into(),
            Next::Waits(Wait::Approval) => "waits for approval".into(),
            Next::Waits(Wait::Promote(_)) => "waits for a promote".into(),
            Next::Waits(Wait::Resume) => "waits for a resume".into(),
            Next::Nothing => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::values::{Batch, FlagState, Outcome, Reading};
    use crate::engine::{Command, Effect, FlagEvent, Input, Phase};
    use crate::plan::FlagKind;
    use chrono::{DateTime, TimeZone, Utc};
    use std::sync::Arc;

    const PLAN: &str = r#"
release: {name: shop, version: 1.0.0, strategy: canary}
flag: {name: new_shop, backend: {kind: file, path: flags.yaml}}
rollout:
  steps:
    - {name: Canary, percent: 10, bake: 1m}
    - {name: Half, percent: 50, bake: 1m, approval: manual}
    - {name: Full, percent: 100, bake: 1m}
  watch: 1m
metrics:
  source: {kind: simulated, scenario: healthy, seed: 1}
  interval: 15s
  min_samples: 1
  series:
    error_rate: {unit: ratio}
guardrails:
  rules:
    - {metric: error_rate, above: 1%, action: pause}
    - {metric: error_rate, above: 5%, for: 1m, action: rollback}
"#;

    /// A real engine on the plan above, its flag writes confirmed at once.
    struct Run {
        engine: Engine,
        now: DateTime<Utc>,
    }

    impl Run {
        fn started() -> Run {
            let plan = crate::plan::parse(PLAN, std::path::Path::new("plan.yaml")).unwrap();
            let mut r = Run {
                engine: Engine::new(Arc::new(plan)),
                now: Utc.with_ymd_and_hms(2025, 3, 15, 9, 0, 0).unwrap(),
            };
            r.feed(Input::Command {
                command: Command::Start { force: true },
                operator: "alice".into(),
                reason: None,
            });
            r
        }

        fn feed(&mut self, input: Input) {
            for e in self.engine.handle(self.now, input) {
                if let Effect::SetFlag(d) = e {
                    let state = FlagState {
                        enabled: d.enabled,
                        rollout: f64::from(d.percent) / 100.0,
                        groups: d.groups.clone(),
                        kind: FlagKind::Release,
                    };
                    self.feed(Input::Flag {
                        event: FlagEvent::Confirmed { state },
                    });
                }
            }
        }

        /// One sample of the error rate, 15 s after the last.
        fn sample(&mut self, error_rate: f64) {
            self.now += chrono::Duration::seconds(15);
            let batch = Batch {
                arms: Vec::new(),
                at: self.now,
                readings: vec![Reading {
                    series: "error_rate".into(),
                    outcome: Outcome::Value(error_rate),
                }],
            };
            self.feed(Input::Samples { batch });
        }

        /// Healthy samples until the phase leaves `Baking { step }`.
        fn bake(&mut self, step: usize) -> Phase {
            for _ in 0..20 {
                if *self.engine.phase() != (Phase::Baking { step }) {
                    break;
                }
                self.now += chrono::Duration::seconds(15);
                let batch = Batch {
                    arms: Vec::new(),
                    at: self.now,
                    readings: vec![Reading {
                        series: "error_rate".into(),
                        outcome: Outcome::Value(0.001),
                    }],
                };
                self.feed(Input::Samples { batch });
            }
            self.engine.phase().clone()
        }
    }

    #[test]
    fn what_is_said_before_a_bake_is_what_the_bake_then_does() {
        let mut r = Run::started();
        assert_eq!(r.engine.when_baked(0), WhenBaked::Promotes);
        assert_eq!(r.bake(0), Phase::Baking { step: 1 });

        assert_eq!(r.engine.when_baked(1), WhenBaked::WaitsForApproval);
        assert_eq!(r.bake(1), Phase::AwaitingApproval { step: 1 });
        r.feed(Input::Command {
            command: Command::Promote { force: false },
            operator: "alice".into(),
            reason: None,
        });

        // The last step promotes into the watch.
        assert_eq!(r.engine.when_baked(2), WhenBaked::Promotes);
        assert_eq!(r.bake(2), Phase::Watching);
    }

    #[test]
    fn next_counts_down_to_a_rollback_wherever_the_release_stands() {
        let mut r = Run::started();
        r.sample(0.001);
        let next = r.engine.next();
        assert!(matches!(next, Next::Bakes { step: 0, .. }), "{next:?}");
        assert_eq!(r.engine.next_words(&next), "promotes in 45s");
        // Past 1%: paused at once; past 5%: the rollback rule holds for its minute.
        r.sample(0.06);
        assert!(matches!(r.engine.phase(), Phase::Paused { .. }));
        r.sample(0.06);
        let next = r.engine.next();
        assert_eq!(
            next,
            Next::Fires {
                rule: 1,
                action: Action::Rollback,
                left: Duration::from_secs(45),
                limit: Some(0.05),
                above: true,
            }
        );
        assert_eq!(
            r.engine.next_words(&next),
            "ROLLBACK in 45s unless error_rate ≤ 5.00%"
        );
        assert_eq!(r.engine.fires_in(1), Some(Duration::from_secs(45)));
        // What the countdown said is what happens.
        for _ in 0..3 {
            r.sample(0.06);
        }
        assert!(matches!(
            r.engine.phase(),
            Phase::RollingBack { .. } | Phase::RolledBack { .. }
        ));
        assert_eq!(r.engine.next(), Next::Nothing);
    }

    #[test]
    fn next_waits_for_a_person_where_the_engine_does() {
        let mut r = Run::started();
        assert_eq!(r.bake(0), Phase::Baking { step: 1 });
        assert_eq!(r.bake(1), Phase::AwaitingApproval { step: 1 });
        assert_eq!(r.engine.next(), Next::Waits(Wait::Approval));
        assert_eq!(r.engine.next_words(&r.engine.next()), "waits for approval");
        // A guardrail pause resumes by itself once clear.
        r.sample(0.02);
        assert_eq!(r.engine.next(), Next::ResumesWhenClear);
    }

    #[test]
    fn a_slider_override_makes_the_bake_wait_for_a_promote() {
        let mut r = Run::started();
        r.feed(Input::Command {
            command: Command::SetPercent { percent: 15 },
            operator: "alice".into(),
            reason: None,
        });
        assert_eq!(r.engine.when_baked(0), WhenBaked::HeldBySlider(15));
        assert_eq!(r.bake(0), Phase::AwaitingApproval { step: 0 });
    }
}
