//! control::pace: the demo's clock slows around what a person should see — a step going
//! live, a guardrail holding or tripped, the pause, the rollback and the flag confirmed
//! off — and runs fast through the quiet bake hours between, saying each change of pace.

use chrono::{DateTime, Utc};

use super::Controller;
use super::message::Notice;
use crate::engine::{Engine, PauseCause, Phase};

/// Engine seconds per real second around events: the error rate's climb, the pause and
/// the rollback take half a minute to a minute to watch.
pub(crate) const SLOW: f64 = 10.0;
/// How long (engine time) a new step is watched at the slow pace once its flag change is
/// confirmed: incidents show within minutes of new exposure.
const NEW_STEP: chrono::Duration = chrono::Duration::minutes(3);

/// What the demo slows down for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Moment {
    NewStep,
    Guardrail,
    Paused,
    RollingBack,
    RolledBack,
}

impl Moment {
    pub fn words(self) -> &'static str {
        match self {
            Moment::NewStep => "a new step goes live",
            Moment::Guardrail => "a guardrail is holding",
            Moment::Paused => "a guardrail paused the rollout",
            Moment::RollingBack => "rolling back",
            Moment::RolledBack => "rolled back",
        }
    }
}

/// Whether the release is at a moment worth watching at the slow pace.
pub fn moment(engine: &Engine, now: DateTime<Utc>) -> Option<Moment> {
    let p = engine.progress();
    match p.phase {
        Phase::RollingBack { .. } => return Some(Moment::RollingBack),
        Phase::RolledBack { .. } => return Some(Moment::RolledBack),
        Phase::Paused {
            by: PauseCause::Guardrail(_) | PauseCause::Stale(_),
            ..
        } => return Some(Moment::Paused),
        Phase::Baking { .. } | Phase::AwaitingApproval { .. } | Phase::Watching => {}
        _ => return None,
    }
    if engine.breaching().next().is_some() {
        return Some(Moment::Guardrail);
    }
    let fresh = p.confirmed && p.confirmed_at.is_some_and(|at| now - at < NEW_STEP);
    fresh.then_some(Moment::NewStep)
}

impl Controller {
    /// Sets the demo's pace for where the release stands; a change is shown as a notice.
    pub(super) fn pace_demo(&mut self) {
        let clock = self.opts.clock.clone();
        let now = clock.now();
        let (to, why) = match moment(&self.engine, now) {
            Some(m) => (SLOW, Some(m)),
            None => (self.demo_speed, None),
        };
        if (clock.speed() - to).abs() > f64::EPSILON {
            clock.set_speed(to);
        }
        // The banner names the moment as it moves on (a new step, the pause, the rollback).
        self.pace = why.map(|why| Notice::DemoPace {
            from: self.demo_speed.round() as u32,
            to: to.round() as u32,
            why,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_name_what_is_watched() {
        assert_eq!(Moment::Paused.words(), "a guardrail paused the rollout");
        assert_eq!(Moment::NewStep.words(), "a new step goes live");
    }
}
