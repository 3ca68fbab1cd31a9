//! engine::canary: the canary judge inside the engine. Each interval the arms' samples of
//! the current step are gathered and judged (the [`CanaryReport`] every front-end shows);
//! counts that fail (an anytime-valid test) and a traffic split that is not the
//! configured one act at once; the series' score decides when the bake is served — a pass
//! lets it complete, marginal and fail act as the plan says, too little data holds the
//! step up to the starved limit and then pauses.
//!
//! The samples themselves live in memory only: after a restart the judge gathers afresh,
//! and the step waits for it (up to the limit) as it would for a new step.

use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use crate::canary::{
    self, Classification, CountsState, Judged, PerArm, Verdict, judge_counts, judge_series,
};
use crate::plan::{Action, CanarySpec};
use crate::support::fmt;

use super::canary_report::{CanaryReport, Histogram, SeriesReport, verdict_word};
use super::effect::{Effect, EventKind};
use super::journal::{Kind, Verb};
use super::progress::{PauseCause, Phase, Resume};
use super::values::{ArmKey, Batch, Outcome};
use super::{ENGINE, Engine};

/// What the arms served during one step at one percent: the samples the judge reads.
#[derive(Debug, Clone, Default)]
pub(super) struct ArmWindow {
    /// (attempt, step, percent) the samples belong to.
    of: Option<(u32, usize, u8)>,
    last: Option<DateTime<Utc>>,
    /// Per compared series, the last `window` of its samples.
    samples: BTreeMap<String, VecDeque<Paired>>,
    requests: Counted,
    errors: Counted,
    state: CountsState,
    /// The last verdict change journaled, and when: a score that flaps near a threshold
    /// is journaled at most once per [`JOURNAL_SPACING`].
    journaled: Option<(DateTime<Utc>, Verdict)>,
}

/// The least engine time between two journaled changes of the judge's verdict.
const JOURNAL_SPACING: Duration = Duration::from_secs(5 * 60);

/// One instant of a compared series: (sample time, canary, baseline).
type Paired = (DateTime<Utc>, Option<f64>, Option<f64>);

/// Counts per arm summed as the source gave them, and rounded only when judged. A count
/// from `increase()` is extrapolated, so a sparse arm's count per interval is fractional
/// (one error seen in 10s of a 15s window reads 1.5): rounded one by one, every such
/// interval would gain or lose part of an event, on the sparse arm far more than on the
/// other, and bias the comparison.
#[derive(Debug, Clone, Copy, Default)]
struct Counted {
    canary: f64,
    baseline: f64,
}

impl Counted {
    fn add(&mut self, canary: Option<f64>, baseline: Option<f64>) {
        // A counter reset reads as a negative increase: no events, never fewer.
        self.canary += canary.map_or(0.0, |v| v.max(0.0));
        self.baseline += baseline.map_or(0.0, |v| v.max(0.0));
    }

    fn whole(self) -> PerArm {
        // Sums of finite values; `as` saturates, so even an absurd one stays a count.
        PerArm {
            canary: self.canary.round() as u64,
            baseline: self.baseline.round() as u64,
        }
    }
}

/// What the judge lets the bake do once its time is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Gate {
    Open,
    Holds,
}

impl Engine {
    /// The judge's last word on the current step, if the plan has a judge and it has spoken.
    pub fn canary(&self) -> Option<&CanaryReport> {
        self.progress.canary.as_ref()
    }

    /// What the judge's verdict will do when the bake of `step` is served, while it fails
    /// or is marginal (and no person waived it): the plan's action, unless it only alerts.
    pub(super) fn judge_will(&self, step: usize) -> Option<Action> {
        let spec = self.plan.canary.as_ref()?;
        let r = self.progress.canary.as_ref()?;
        if r.step != step || r.waived_by.is_some() {
            return None;
        }
        let action = match r.score.verdict {
            Verdict::Fail => spec.on_fail,
            Verdict::Marginal => spec.on_marginal,
            _ => return None,
        };
        (action != Action::Alert).then_some(action)
    }

    /// The judge put the release where it stands: it paused it, or its failing (or
    /// marginal) score rolled it back.
    pub fn judge_is_cause(&self) -> bool {
        let acted = self.progress.canary.as_ref().and_then(|r| r.acted);
        match &self.progress.phase {
            Phase::Paused {
                by: PauseCause::Canary,
                ..
            } => true,
            Phase::RollingBack { trip: None, .. } | Phase::RolledBack { trip: None, .. } => {
                matches!(acted, Some(Verdict::Fail | Verdict::Marginal))
            }
            _ => false,
        }
    }

    /// The step and the percent the arms are judged at now: a step under way with the
    /// canary beside a baseline (neither 0% nor 100%).
    fn judged_step(&self) -> Option<(usize, u8)> {
        let step = match self.progress.phase {
            Phase::Baking { step } | Phase::AwaitingApproval { step } => step,
            Phase::Paused {
                step,
                resume: Resume::Baking | Resume::AwaitingApproval,
                ..
            } => step,
            _ => return None,
        };
        let desired = self.progress.desired.as_ref()?;
        (desired.enabled && (1..=99).contains(&desired.percent)).then_some((step, desired.percent))
    }

    /// Takes the batch's arm readings into the step's window and judges them.
    pub(super) fn judge_canary(&mut self, now: DateTime<Utc>, batch: &Batch, fx: &mut Vec<Effect>) {
        let plan = Arc::clone(&self.plan);
        let Some(spec) = plan.canary.as_ref() else {
            return;
        };
        // A report belongs to its step: a new step (or attempt) starts without one.
        let at_step = match self.progress.phase {
            Phase::Baking { step }
            | Phase::AwaitingApproval { step }
            | Phase::Paused { step, .. } => Some(step),
            _ => None,
        };
        if let (Some(r), Some(step)) = (&self.progress.canary, at_step)
            && (r.step != step
                || self
                    .arms
                    .of
                    .is_some_and(|(attempt, ..)| attempt != self.progress.attempt))
        {
            self.progress.canary = None;
        }
        let Some((step, percent)) = self.judged_step() else {
            return;
        };
        let of = (self.progress.attempt, step, percent);
        if self.arms.of != Some(of) {
            self.arms = ArmWindow {
                of: Some(of),
                ..ArmWindow::default()
            };
            if self
                .progress
                .canary
                .as_ref()
                .is_some_and(|r| r.step != step || r.percent != percent)
            {
                self.progress.canary = None;
            }
        }
        // Strictly after: a sample stamped at the confirmation itself may describe the time
        // before the change (a fast clock waits at the next sample's time to confirm).
        let after_change =
            self.progress.confirmed && self.progress.confirmed_at.is_none_or(|c| batch.at > c);
        let newer = self.arms.last.is_none_or(|l| batch.at > l);
        if !(after_change && newer) || batch.arms.is_empty() {
            return;
        }
        self.arms.last = Some(batch.at);
        self.gather(batch, spec.window);
        let mut report = self.judge_window(spec, batch.at, step, percent);
        // What the judge did this step, and who waived it, outlast each new judgement.
        if let Some(before) = self.progress.canary.take() {
            report.acted = before.acted;
            report.waived_by = before.waived_by;
        }
        let verdict = report.score.verdict;
        self.progress.canary = Some(report);
        // Journaled when it differs from the verdict last journaled, once the spacing since
        // that one has passed: a flap is written once, a settled change always.
        let due = self.arms.journaled.is_none_or(|(at, v)| {
            v != verdict && (batch.at - at).to_std().unwrap_or_default() >= JOURNAL_SPACING
        });
        if due {
            self.arms.journaled = Some((batch.at, verdict));
            self.journal_canary(now, Verb::Canary, fx);
        }
        self.act_at_once(now, spec, fx);
    }

    /// Adds the batch's readings; series samples older than `window` leave the window
    /// (counts stay cumulative: their test is valid at every look).
    fn gather(&mut self, batch: &Batch, window: Duration) {
        let since = chrono::Duration::from_std(window)
            .ok()
            .and_then(|w| batch.at.checked_sub_signed(w));
        let value = |o: &Outcome| match o {
            Outcome::Value(v) if v.is_finite() => Some(*v),
            _ => None,
        };
        for reading in &batch.arms {
            let (c, b) = (value(&reading.canary), value(&reading.baseline));
            match &reading.key {
                ArmKey::Series(name) => {
                    let kept = self.arms.samples.entry(name.clone()).or_default();
                    kept.push_back((batch.at, c, b));
                    while let (Some(since), Some((at, ..))) = (since, kept.front())
                        && *at <= since
                    {
                        kept.pop_front();
                    }
                }
                ArmKey::Requests => self.arms.requests.add(c, b),
                ArmKey::Errors => self.arms.errors.add(c, b),
            }
        }
    }

    fn judge_window(
        &mut self,
        spec: &CanarySpec,
        at: DateTime<Utc>,
        step: usize,
        percent: u8,
    ) -> CanaryReport {
        let series: Vec<SeriesReport> = spec
            .compare
            .iter()
            .map(|c| {
                let kept = self.arms.samples.get(&c.series);
                let arm = |pick: fn(&Paired) -> Option<f64>| {
                    kept.into_iter()
                        .flatten()
                        .filter_map(pick)
                        .collect::<Vec<f64>>()
                };
                let (cs, bs) = (arm(|s| s.1), arm(|s| s.2));
                SeriesReport {
                    name: c.series.clone(),
                    verdict: judge_series(&c.rule, &cs, &bs),
                    histogram: Histogram::of(&cs, &bs),
                }
            })
            .collect();
        let counts = spec.counts.as_ref().map(|c| {
            let rule = canary::CountsRule {
                canary_share: f64::from(percent) / 100.0,
                ..c.rule
            };
            judge_counts(
                &rule,
                &mut self.arms.state,
                self.arms.requests.whole(),
                self.arms.errors.whole(),
            )
        });
        let mut judged: Vec<Judged> = spec
            .compare
            .iter()
            .zip(&series)
            .map(|(c, s)| Judged {
                name: &c.series,
                groups: &c.groups,
                classification: s.verdict.classification,
                critical_failure: s.verdict.critical_failure,
            })
            .collect();
        if let (Some(c), Some(v)) = (&spec.counts, &counts) {
            judged.push(Judged {
                name: "errors",
                groups: &c.groups,
                classification: v.classification,
                critical_failure: v.critical_failure,
            });
        }
        let trusted = counts.as_ref().is_none_or(|c| c.split.trusted);
        let score = canary::score(&spec.scoring, &judged, trusted);
        CanaryReport {
            at,
            step,
            step_name: self
                .plan
                .rollout
                .steps
                .get(step)
                .map_or_else(String::new, |s| s.name.clone()),
            percent,
            series,
            counts,
            score,
            acted: None,
            waived_by: None,
        }
    }

    /// What cannot wait for the bake: errors the anytime-valid test already finds higher
    /// (or lower) on the canary, and a traffic split that makes every comparison untrustworthy.
    fn act_at_once(&mut self, now: DateTime<Utc>, spec: &CanarySpec, fx: &mut Vec<Effect>) {
        let Some(report) = &self.progress.canary else {
            return;
        };
        if report.waived_by.is_some()
            || !matches!(
                self.progress.phase,
                Phase::Baking { .. } | Phase::AwaitingApproval { .. }
            )
        {
            return;
        }
        let counts_failed = report.counts.is_some_and(|c| {
            matches!(c.classification, Classification::High | Classification::Low)
        });
        let verdict = report.score.verdict;
        if verdict == Verdict::Untrusted && report.acted != Some(Verdict::Untrusted) {
            self.canary_acts(now, Action::Pause, Verdict::Untrusted, fx);
        } else if counts_failed && verdict == Verdict::Fail && report.acted != Some(Verdict::Fail) {
            self.canary_acts(now, spec.on_fail, Verdict::Fail, fx);
        }
    }

    /// Whether a served bake may complete, by the judge: called once the bake time is in.
    pub(super) fn canary_gate(
        &mut self,
        now: DateTime<Utc>,
        step: usize,
        fx: &mut Vec<Effect>,
    ) -> Gate {
        let plan = Arc::clone(&self.plan);
        let Some(spec) = plan.canary.as_ref() else {
            return Gate::Open;
        };
        if self.judged_step().is_none() {
            return Gate::Open;
        }
        let (verdict, acted) = match &self.progress.canary {
            Some(r) if r.waived_by.is_some() => return Gate::Open,
            Some(r) => (r.score.verdict, r.acted),
            None => (Verdict::Starved, None),
        };
        match verdict {
            Verdict::Pass => {
                if acted != Some(Verdict::Pass) {
                    self.mark_acted(Verdict::Pass);
                    self.journal_canary(now, Verb::Canary, fx);
                }
                Gate::Open
            }
            Verdict::Marginal | Verdict::Fail => {
                let action = if verdict == Verdict::Fail {
                    spec.on_fail
                } else {
                    spec.on_marginal
                };
                if acted != Some(verdict) {
                    self.canary_acts(now, action, verdict, fx);
                }
                if action == Action::Alert {
                    Gate::Open
                } else {
                    Gate::Holds
                }
            }
            Verdict::Untrusted => {
                if acted != Some(verdict) {
                    self.canary_acts(now, Action::Pause, verdict, fx);
                }
                Gate::Holds
            }
            Verdict::Starved => {
                let bake = self
                    .plan
                    .rollout
                    .steps
                    .get(step)
                    .map_or(Duration::ZERO, |s| s.bake);
                let served = Duration::from_millis(self.progress.served_ms);
                if served >= bake + spec.starved_limit {
                    self.canary_acts(now, Action::Pause, Verdict::Starved, fx);
                }
                Gate::Holds
            }
        }
    }

    /// How long the step still waits for the judge's data before it pauses: `Some` while a
    /// served bake is held by a starved judge.
    pub fn canary_waits(&self) -> Option<Duration> {
        let spec = self.plan.canary.as_ref()?;
        let Phase::Baking { step } = self.progress.phase else {
            return None;
        };
        self.judged_step()?;
        let bake = self.plan.rollout.steps.get(step)?.bake;
        let served = Duration::from_millis(self.progress.served_ms);
        let starved = self
            .progress
            .canary
            .as_ref()
            .is_none_or(|r| r.score.verdict == Verdict::Starved && r.waived_by.is_none());
        (served >= bake && starved).then(|| (bake + spec.starved_limit).saturating_sub(served))
    }

    fn mark_acted(&mut self, verdict: Verdict) {
        if let Some(r) = self.progress.canary.as_mut() {
            r.acted = Some(verdict);
        }
    }

    fn canary_acts(
        &mut self,
        now: DateTime<Utc>,
        action: Action,
        verdict: Verdict,
        fx: &mut Vec<Effect>,
    ) {
        self.mark_acted(verdict);
        let summary = match &self.progress.canary {
            Some(r) => r.headline(),
            None => format!("canary {}: no arm has reported", verdict_word(verdict)),
        };
        let summary = if verdict == Verdict::Starved {
            let limit = self
                .plan
                .canary
                .as_ref()
                .map_or(Duration::ZERO, |c| c.starved_limit);
            format!("{summary}; waited {} past the bake", fmt::duration(limit))
        } else {
            summary
        };
        self.journal_canary(now, Verb::Canary, fx);
        match action {
            Action::Alert => fx.push(self.event(
                now,
                EventKind::Alert,
                format!("Alert on {}: {summary}", self.release_label()),
                None,
            )),
            Action::Pause => self.pause(now, PauseCause::Canary, summary, None, fx),
            Action::Rollback => self.rollback_as(now, ENGINE, Kind::Decision, summary, None, fx),
        }
    }

    /// The judge's headline as a journal entry, with everything it judged beside it.
    fn journal_canary(&self, now: DateTime<Utc>, verb: Verb, fx: &mut Vec<Effect>) {
        let Some(r) = &self.progress.canary else {
            return;
        };
        let mut e = self.entry(now, ENGINE, Kind::Decision, verb, r.headline());
        e.canary = Some(Box::new(r.clone()));
        fx.push(Effect::Journal(e));
    }

    /// A person resumed past the judge's pause: its verdict no longer holds the step.
    pub(super) fn waive_canary(&mut self, operator: &str) {
        if let Some(r) = self.progress.canary.as_mut() {
            r.waived_by = Some(operator.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractional_counts_are_rounded_once_summed() {
        let mut errors = Counted::default();
        // Ten intervals in which `increase()` saw one error each on the canary and
        // extrapolated it; none on the baseline, and one interval it did not answer.
        for _ in 0..10 {
            errors.add(Some(1.5), Some(0.0));
        }
        errors.add(None, Some(-3.0));
        assert_eq!(
            errors.whole(),
            PerArm {
                canary: 15,
                baseline: 0
            }
        );
    }
}
