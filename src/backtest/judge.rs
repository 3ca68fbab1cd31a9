//! backtest::judge: what the canary judge said over a backtest — each verdict it
//! journaled (a change, or the one it acted on) with the per-series lines behind it, and
//! which of its arms' queries failed or never had a value. Reads the engine's journal and
//! the batches; judges nothing itself: the engine's judge is the only one.

use chrono::{DateTime, Utc};
use std::fmt::Write as _;

use crate::canary::Verdict;
use crate::engine::journal::{Entry, Verb};
use crate::engine::values::{ArmKey, Batch, Outcome};
use crate::plan::{Arm, MetricsSpec, Plan};

use super::report::StopKind;

/// The canary judge over the range; a backtest has one when the plan has `canary:`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Judge {
    /// In order, as the engine journaled them.
    pub verdicts: Vec<Judgement>,
    /// Arms whose answers after the rollout's start failed, or held no value at all.
    pub gaps: Vec<ArmHealth>,
}

/// One verdict of the judge, from its journal entry.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Judgement {
    /// When it was journaled: the sample time it judged at, or the instant it acted.
    pub at: DateTime<Utc>,
    pub step: Option<String>,
    /// The canary's share of users when judged.
    pub percent: u8,
    pub verdict: Verdict,
    /// `canary FAIL 0 at Canary 5%: critical p95 failed`.
    pub headline: String,
    /// One line per judged series and for the counts, in the series' units.
    pub lines: Vec<String>,
    /// The pause or rollback this verdict made, if it made one.
    pub stopped: Option<StopKind>,
}

/// How one arm of one judged series answered after the rollout's start.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ArmHealth {
    pub key: ArmKey,
    pub arm: Arm,
    pub values: usize,
    pub no_data: usize,
    pub errors: usize,
    /// The source's first error for it (Prometheus' own message for bad PromQL).
    pub first_error: Option<String>,
}

impl ArmHealth {
    /// Every answer was an error: the judge could say nothing about this series.
    pub fn failed(&self) -> bool {
        self.values == 0 && self.errors > 0
    }
}

impl Judge {
    /// The judge's part of a backtest of `plan`: its journaled verdicts in `timeline`, and
    /// the `gaps` of its arms ([`arm_gaps`]). `None` when the plan has no judge.
    pub(super) fn of(plan: &Plan, timeline: &[Entry], gaps: Vec<ArmHealth>) -> Option<Judge> {
        plan.canary.as_ref()?;
        Some(Judge {
            verdicts: timeline
                .iter()
                .enumerate()
                .filter(|(_, e)| e.action == Verb::Canary)
                .filter_map(|(i, e)| {
                    let stopped = timeline
                        .get(i + 1)
                        .filter(|_| stopped_by_judge(timeline, i + 1))
                        .and_then(|stop| match stop.action {
                            Verb::Pause => Some(StopKind::Paused),
                            Verb::Rollback => Some(StopKind::RolledBack),
                            _ => None,
                        });
                    judgement(e, stopped, &plan.metrics)
                })
                .collect(),
            gaps,
        })
    }

    /// Arms whose every answer was an error.
    pub fn failed(&self) -> Vec<&ArmHealth> {
        self.gaps.iter().filter(|g| g.failed()).collect()
    }

    /// The section of the report as people read it.
    pub(super) fn text(&self, out: &mut String) {
        let clock = |t: DateTime<Utc>| t.format("%H:%M:%SZ").to_string();
        match self.verdicts.len() {
            0 => out.push_str(
                "the canary judge gave no verdict: it judges a step between 0% and 100% once \
                 both arms report\n",
            ),
            n => {
                let _ = writeln!(
                    out,
                    "the canary judge: {n} verdict{}",
                    if n == 1 { "" } else { "s" }
                );
            }
        }
        for v in &self.verdicts {
            let acted = match v.stopped {
                Some(StopKind::Paused) => " → paused",
                Some(StopKind::RolledBack) => " → rolled back",
                None => "",
            };
            let _ = writeln!(
                out,
                "  {} on {}: {}{acted}",
                clock(v.at),
                v.step.as_deref().unwrap_or("no step"),
                v.headline
            );
            for line in &v.lines {
                let _ = writeln!(out, "      {line}");
            }
        }
        for g in &self.gaps {
            let _ = write!(
                out,
                "  {} {} arm: {} values, {} missing, {} errors",
                g.key.name(),
                g.arm.word(),
                g.values,
                g.no_data,
                g.errors
            );
            match &g.first_error {
                Some(e) => {
                    let _ = writeln!(out, " — {e}");
                }
                None => out.push('\n'),
            }
        }
    }
}

fn judgement(e: &Entry, stopped: Option<StopKind>, metrics: &MetricsSpec) -> Option<Judgement> {
    let report = e.canary.as_deref()?;
    Some(Judgement {
        at: e.at,
        step: e.step.clone(),
        percent: report.percent,
        verdict: report.score.verdict,
        headline: e.reason.clone(),
        lines: report.lines(metrics),
        stopped,
    })
}

/// Each judged series' arms over `live` (the batches from the rollout's start), kept when
/// an answer failed or none had a value.
pub(super) fn arm_gaps(plan: &Plan, live: &[Batch]) -> Vec<ArmHealth> {
    let mut out = Vec::new();
    for series in &plan.metrics.arms {
        for arm in [Arm::Canary, Arm::Baseline] {
            let mut h = ArmHealth {
                key: series.key.clone(),
                arm,
                values: 0,
                no_data: 0,
                errors: 0,
                first_error: None,
            };
            for b in live {
                let reading = b.arms.iter().find(|r| r.key == series.key);
                let outcome = reading.map(|r| match arm {
                    Arm::Canary => &r.canary,
                    Arm::Baseline => &r.baseline,
                });
                match outcome {
                    Some(Outcome::Value(v)) if v.is_finite() => h.values += 1,
                    Some(Outcome::Error(e)) => {
                        h.errors += 1;
                        h.first_error.get_or_insert_with(|| e.clone());
                    }
                    _ => h.no_data += 1,
                }
            }
            if h.errors > 0 || h.values == 0 {
                out.push(h);
            }
        }
    }
    out
}

/// Whether the stop journaled at `i` is the judge's: the judge journals its verdict and
/// then, at the same instant, the pause or rollback whose reason is that verdict's headline.
pub(super) fn stopped_by_judge(timeline: &[Entry], i: usize) -> bool {
    let (Some(stop), Some(before)) = (
        timeline.get(i),
        i.checked_sub(1).and_then(|j| timeline.get(j)),
    ) else {
        return false;
    };
    before.action == Verb::Canary
        && before.canary.is_some()
        && before.at == stop.at
        && stop.reason.starts_with(&before.reason)
}
