//! engine::readiness: what stands between the release and its next move — breaking
//! guardrails, stale or too few samples, an unconfirmed flag write, open checklist items.
//! Reads the engine; changes nothing.

use chrono::{DateTime, Utc};

use crate::plan::{Action, Better, Check, ListKind, StageStatus, StaleAction, Unit};

use super::Engine;
use super::guardrail;
use super::progress::{Phase, Resume, TickedBy};

impl Engine {
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
        if !self.flag_read && self.progress.desired.is_some() {
            out.push("the flag has not been read back since the restart".into());
        }
        if let Some(error) = &self.flag_unreadable {
            out.push(format!("the flag cannot be read: {error}"));
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
                    .unwrap_or(Unit::Count);
                match value {
                    None => (false, Some(format!("{metric}: no data"))),
                    Some(v) => {
                        let better = self
                            .plan
                            .metrics
                            .series(metric)
                            .map(|s| s.better)
                            .unwrap_or(Better::Lower);
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

    /// Who ticked a hand-ticked item that is ticked, when that is known.
    pub fn ticked_by(&self, list: ListKind, item: usize) -> Option<&TickedBy> {
        if !self.item_done(list, item).0 {
            return None;
        }
        self.progress.ticked_by.get(&list)?.get(&item)
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

    /// What a `promote` now would have to be forced past, in the phase it acts in: the
    /// start's blockers when ready, the live blockers when awaiting approval, and those
    /// plus a starved bake while baking. Empty in other phases, where promote is refused
    /// for another reason. The screen's question and the command read this one list.
    pub fn promote_blockers(&self, now: DateTime<Utc>) -> Vec<String> {
        match self.progress.phase {
            Phase::Ready => self.start_blockers(now),
            Phase::AwaitingApproval { .. } => self.blockers(),
            Phase::Baking { .. } => {
                let mut blockers = self.blockers();
                if let Some((have, need)) = self.starved() {
                    blockers.push(format!("starved: {have}/{need} fresh samples"));
                }
                blockers
            }
            _ => Vec::new(),
        }
    }

    /// What still holds a guardrail pause: tripped pause/rollback rules and stale data.
    /// A resume past them must be forced.
    pub fn pause_blockers(&self) -> Vec<String> {
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
}

/// Whether a command may act past `blockers`: `Ok(Some("forced past: …"))` when forced
/// through them, `Ok(None)` when nothing blocks, `Err(why)` when it must be refused.
pub(super) fn gate(
    verb: &'static str,
    blockers: Vec<String>,
    force: bool,
) -> Result<Option<String>, super::refusal::Refusal> {
    match (blockers.is_empty(), force) {
        (true, _) => Ok(None),
        (false, true) => Ok(Some(format!("forced past: {}", blockers.join("; ")))),
        (false, false) => Err(super::refusal::Refusal::Blocked { verb, blockers }),
    }
}
