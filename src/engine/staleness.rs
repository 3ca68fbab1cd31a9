//! engine::staleness: a watched metric with no fresh sample for too long is stale; stale
//! time never bakes, and the plan's `on_stale` says whether to alert, pause or roll back.

use chrono::{DateTime, Utc};

use crate::plan::StaleAction;
use crate::support::fmt;

use super::effect::{Effect, EventKind};
use super::journal::Kind;
use super::journal::Verb;
use super::progress::{PauseCause, Phase};
use super::{ENGINE, Engine};

impl Engine {
    /// How old the newest sample with a value is at `now`, from that sample's own time.
    pub fn data_age(&self, now: DateTime<Utc>) -> Option<chrono::Duration> {
        let newest = self
            .history
            .values()
            .filter_map(|h| h.last_value())
            .map(|p| p.at)
            .max()?;
        Some(now - newest)
    }

    /// The last time every watched metric's data still counts as fresh.
    pub(super) fn fresh_until(&self) -> Option<DateTime<Utc>> {
        self.fresh_until_from(self.progress.step_started_at.max(self.woke))
    }

    /// As [`Engine::fresh_until`], with a metric that has no sample at all taken as
    /// fresh at `fallback`.
    pub(super) fn fresh_until_from(
        &self,
        fallback: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        let window = chrono::Duration::from_std(self.plan.metrics.stale_window()).ok()?;
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

    pub(super) fn check_staleness(&mut self, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
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
                    .map(|t| fmt::secs((now - t).num_seconds()))
                    .unwrap_or_else(|| "ever".into());
                let reason = format!("{m} is stale: no fresh sample for {age}");
                match self.plan.guardrails.on_stale {
                    StaleAction::Alert => {
                        fx.push(Effect::Journal(self.entry(
                            now,
                            ENGINE,
                            Kind::Decision,
                            Verb::Stale,
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
                                Verb::Stale,
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
                    Verb::Fresh,
                    format!("{m} has fresh data again"),
                )));
                self.try_auto_resume(now, fx);
            }
        }
    }
}
