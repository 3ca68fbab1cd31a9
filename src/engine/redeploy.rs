//! engine::redeploy: the way forward after a rollback. The reference process ends a
//! rollback with "fix and redeploy": a new attempt of the release, with a new version or
//! the same one after a fix, starts from Ready with its checklists, baselines and rules
//! fresh. The journal keeps every earlier attempt's entries; the state keeps the count.

use chrono::{DateTime, Utc};

use super::Engine;
use super::effect::Effect;
use super::guardrail::RuleState;
use super::journal::{Kind, Verb};
use super::progress::Phase;
use super::refusal::Refusal;

impl Engine {
    pub(super) fn redeploy(
        &mut self,
        now: DateTime<Utc>,
        operator: &str,
        because: &str,
        fx: &mut Vec<Effect>,
    ) {
        let Phase::RolledBack { reason: why, .. } = self.progress.phase.clone() else {
            let phase = self.progress.phase.badge();
            return fx.push(Effect::Refused(Refusal::NotRolledBack { phase }));
        };
        let release = &self.plan.release;
        let earlier = self
            .progress
            .version
            .clone()
            .unwrap_or_else(|| release.version.clone());
        let p = &mut self.progress;
        p.attempt += 1;
        p.version = Some(release.version.clone());
        p.phase = Phase::Ready;
        p.started_at = None;
        p.step_started_at = None;
        p.served_ms = 0;
        p.fresh.clear();
        p.overridden = None;
        p.baseline.clear();
        p.trips.clear();
        p.incident = None;
        p.ticked.clear();
        p.ticked_by.clear();
        p.ladder = Some(super::ladder::of(&self.plan));
        for r in &mut p.rules {
            *r = RuleState::default();
        }
        let of = if earlier == release.version {
            format!("{} again, after a fix", release.version)
        } else {
            format!("{} (after {earlier})", release.version)
        };
        let reason = format!(
            "attempt {} of {}: {of}; attempt {} was rolled back: {why}{because}",
            p.attempt,
            release.name,
            p.attempt - 1
        );
        let entry = self.entry(now, operator, Kind::Action, Verb::Redeploy, reason);
        fx.push(Effect::Journal(entry));
    }
}
