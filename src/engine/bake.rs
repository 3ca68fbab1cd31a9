//! engine::bake: the engine clock serves bake (and watch) time on confirmed, fresh data
//! while the flag reads, and a served step moves on: to the next step, to an approval, or
//! to completion.

use chrono::{DateTime, Utc};
use std::time::Duration;

use crate::support::fmt;

use super::canary::Gate;
use super::effect::{Effect, EventKind};
use super::journal::Kind;
use super::journal::Verb;
use super::next::WhenBaked;
use super::progress::{Phase, Resume};
use super::transitions::{Advance, How};
use super::{ENGINE, Engine};

impl Engine {
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

    /// The flag is known to serve the step: its change confirmed, and read back since
    /// this engine started, and readable now.
    pub(super) fn flag_serves(&self) -> bool {
        self.progress.confirmed && self.flag_read && self.flag_unreadable.is_none()
    }

    pub(super) fn advance_clock(&mut self, now: DateTime<Utc>) {
        if let Some(prev) = self.progress.now {
            let running = matches!(self.progress.phase, Phase::Baking { .. } | Phase::Watching);
            if running && self.flag_serves() {
                // Time after the data went quiet is not healthy time: it never bakes.
                let end = self.fresh_until().map_or(now, |f| f.min(now));
                let dt = (end - prev).num_milliseconds().max(0) as u64;
                self.progress.served_ms = self.progress.served_ms.saturating_add(dt);
            }
        }
        self.progress.now = Some(now);
    }

    pub(super) fn check_progress(&mut self, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        match self.progress.phase.clone() {
            Phase::Baking { step } => {
                let Some(s) = self.plan.rollout.steps.get(step).cloned() else {
                    return;
                };
                if self.progress.served_ms < s.bake.as_millis() as u64 {
                    return;
                }
                if !self.blockers().is_empty() || self.starved().is_some() {
                    return;
                }
                if self.canary_gate(now, step, fx) == Gate::Holds {
                    return;
                }
                let name = s.name.clone();
                let bake = fmt::duration(s.bake);
                let then = self.when_baked(step);
                if let WhenBaked::HeldBySlider(held) = then {
                    // The slider is an operator's explicit choice: the engine never moves past it.
                    self.progress.phase = Phase::AwaitingApproval { step };
                    fx.push(Effect::Journal(self.entry(
                        now,
                        ENGINE,
                        Kind::Decision,
                        Verb::BakeComplete,
                        format!("{name} baked {bake} on healthy data; the slider holds {held}%, so the next step waits for a promote"),
                    )));
                } else if then == WhenBaked::WaitsForApproval {
                    self.progress.phase = Phase::AwaitingApproval { step };
                    fx.push(Effect::Journal(self.entry(
                        now,
                        ENGINE,
                        Kind::Decision,
                        Verb::BakeComplete,
                        format!("{name} baked {bake} on healthy data; waiting for approval"),
                    )));
                } else {
                    let advance = Advance {
                        how: How::Baked { bake },
                        forced: None,
                        reason: None,
                    };
                    self.promote_from(now, step, ENGINE, Kind::Decision, advance, fx);
                }
            }
            Phase::Watching
                if self.progress.served_ms >= self.plan.rollout.watch.as_millis() as u64
                    && self.blockers().is_empty()
                    && self.starved().is_none() =>
            {
                self.progress.phase = Phase::Completed;
                let watch = fmt::duration(self.plan.rollout.watch);
                fx.push(Effect::Journal(self.entry(
                    now,
                    ENGINE,
                    Kind::Decision,
                    Verb::Completed,
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
