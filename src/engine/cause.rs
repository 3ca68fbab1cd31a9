//! engine::cause: which guardrail trip put the release where it stands. The phase names
//! it (a guardrail pause names its rule, a rollback its trip), so `w`, `status` and the
//! screen tell the trip that acted, not whichever fired last. Reads the engine only.

use super::guardrail::Explain;
use super::progress::{PauseCause, Phase};
use super::{Engine, TRIPS_KEPT};

impl Engine {
    /// The trip that paused or rolled the release back, while that is where it stands.
    /// `None` when a person, stale data or an outside change did it, or nothing did.
    pub fn cause(&self) -> Option<&Explain> {
        self.cause_index().map(|i| &self.progress.trips[i])
    }

    /// The trip to explain: the cause of where the release stands, else the newest.
    pub fn trip_to_explain(&self) -> Option<&Explain> {
        self.cause().or_else(|| self.progress.trips.last())
    }

    fn cause_index(&self) -> Option<usize> {
        let trips = &self.progress.trips;
        match &self.progress.phase {
            // A paused rule trips again only after it cleared: its newest trip paused it.
            Phase::Paused {
                by: PauseCause::Guardrail(rule),
                ..
            } => trips.iter().rposition(|t| t.rule == *rule),
            Phase::RollingBack { trip: Some(id), .. }
            | Phase::RolledBack { trip: Some(id), .. } => trips.iter().rposition(|t| t.id() == *id),
            _ => None,
        }
    }

    /// Keeps a trip record, dropping the oldest beyond [`TRIPS_KEPT`] but never the cause:
    /// trips after a rollback must not push out the one that explains it.
    pub(super) fn keep_trip(&mut self, explain: Explain) {
        self.progress.trips.push(explain);
        if self.progress.trips.len() > TRIPS_KEPT {
            let cause = self.cause_index();
            let oldest = (0..self.progress.trips.len())
                .find(|i| Some(*i) != cause)
                .unwrap_or(0);
            self.progress.trips.remove(oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::guardrail::TripId;
    use crate::plan::{Action, Unit};
    use chrono::{DateTime, TimeZone, Utc};
    use std::sync::Arc;

    const PLAN: &str = r#"
release: {name: shop, version: 1.0.0, strategy: canary}
flag: {name: new_shop, backend: {kind: file, path: flags.yaml}}
rollout:
  steps:
    - {name: Canary, percent: 10, bake: 1m}
metrics:
  source: {kind: simulated, scenario: healthy, seed: 1}
  interval: 15s
  series:
    error_rate: {unit: ratio}
    p95: {unit: seconds}
guardrails:
  rules:
    - {metric: error_rate, above: 5%, for: 2m, action: rollback}
    - {metric: p95, above: 2s, action: alert}
"#;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).single().unwrap()
    }

    fn trip(rule: usize, s: i64) -> Explain {
        Explain {
            rule,
            rule_text: format!("rule {rule}"),
            metric: if rule == 0 { "error_rate" } else { "p95" }.into(),
            query: None,
            action: if rule == 0 {
                Action::Rollback
            } else {
                Action::Alert
            },
            unit: Unit::Ratio,
            baseline: None,
            threshold: 0.05,
            since: at(s),
            at: at(s),
            held_secs: 0,
            samples: Vec::new(),
        }
    }

    #[test]
    fn the_rollback_s_trip_is_the_cause_and_later_trips_never_push_it_out() {
        let plan = crate::plan::parse(PLAN, std::path::Path::new("plan.yaml")).unwrap();
        let mut engine = Engine::new(Arc::new(plan));
        engine.keep_trip(trip(1, 0));
        engine.keep_trip(trip(0, 15));
        engine.progress.phase = Phase::RolledBack {
            reason: "guardrail".into(),
            trip: Some(TripId {
                rule: 0,
                at: at(15),
            }),
        };
        for k in 0..TRIPS_KEPT as i64 + 5 {
            engine.keep_trip(trip(1, 30 + 15 * k));
        }
        assert_eq!(engine.progress.trips.len(), TRIPS_KEPT);
        assert_eq!(engine.progress.trips.last().map(|t| t.rule), Some(1));
        assert_eq!(engine.cause().map(|t| (t.rule, t.at)), Some((0, at(15))));
        assert_eq!(engine.trip_to_explain().map(|t| t.rule), Some(0));
        // A person's rollback has no cause: the newest trip is the one to explain.
        engine.progress.phase = Phase::RolledBack {
            reason: "manual rollback".into(),
            trip: None,
        };
        assert!(engine.cause().is_none());
        assert_eq!(engine.trip_to_explain().map(|t| t.rule), Some(1));
    }

    #[test]
    fn a_guardrail_pause_is_caused_by_its_rule_s_newest_trip() {
        let plan = crate::plan::parse(PLAN, std::path::Path::new("plan.yaml")).unwrap();
        let mut engine = Engine::new(Arc::new(plan));
        engine.keep_trip(trip(0, 0));
        engine.keep_trip(trip(1, 15));
        engine.progress.phase = Phase::Paused {
            step: 0,
            resume: crate::engine::Resume::Baking,
            reason: "guardrail".into(),
            by: PauseCause::Guardrail(0),
        };
        assert_eq!(engine.cause().map(|t| t.rule), Some(0));
    }
}
