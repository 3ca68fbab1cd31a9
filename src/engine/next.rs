//! engine::next: what the engine will do by itself once the step baking now has baked,
//! so that the bake's own decision and every word about it (the screen's situation line)
//! come from one place. Reads the engine; changes nothing.

use crate::plan::Approval;

use super::Engine;

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
}

impl Engine {
    /// What happens by itself when `step` has baked.
    pub fn when_baked(&self, step: usize) -> WhenBaked {
        if let Some(held) = self.progress.overridden {
            return WhenBaked::HeldBySlider(held);
        }
        match self.plan.rollout.steps.get(step).map(|s| s.approval) {
            Some(Approval::Manual) => WhenBaked::WaitsForApproval,
            _ => WhenBaked::Promotes,
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

        /// Healthy samples until the phase leaves `Baking { step }`.
        fn bake(&mut self, step: usize) -> Phase {
            for _ in 0..20 {
                if *self.engine.phase() != (Phase::Baking { step }) {
                    break;
                }
                self.now += chrono::Duration::seconds(15);
                let batch = Batch {
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
