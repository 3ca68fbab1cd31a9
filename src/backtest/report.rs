//! backtest::report: what a backtest found — every trip, every stop, where the rollout
//! ended and which series had gaps — and the report as people read it. Reads the engine's
//! journal; decides nothing.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::engine::guardrail::{Explain, format_value};
use crate::engine::journal::{Entry, Verb};
use crate::engine::values::{Batch, Outcome};
use crate::plan::{Plan, Unit};
use crate::support::fmt;

use super::judge::{Judge, stopped_by_judge};
use super::stamp;

/// One guardrail trip over the range: the engine's frozen record, how bad it got, and
/// when it cleared.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Trip {
    #[serde(flatten)]
    pub explain: Explain,
    /// The worst value while the condition held, up to the clear.
    pub worst: Option<f64>,
    /// The first sample at which the condition no longer held; `None`: held to the end.
    pub cleared: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopKind {
    Paused,
    RolledBack,
}

/// A place the rollout stopped.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Stop {
    pub at: DateTime<Utc>,
    pub kind: StopKind,
    /// The step it was on.
    pub step: Option<String>,
    pub reason: String,
    /// The canary judge's verdict stopped it (the reason is the verdict's headline), not a
    /// guardrail or stale data.
    pub by_judge: bool,
    /// For a pause: when it resumed by itself (guardrails clear, data fresh).
    pub resumed: Option<DateTime<Utc>>,
}

/// Where the rollout stood when the range ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct End {
    pub at: DateTime<Utc>,
    /// The engine's state badge: BAKING, PAUSED, ROLLED BACK, COMPLETED, ...
    pub state: String,
    pub step: Option<String>,
    /// The flag's rollout percent at the end, with the flag's enabled state.
    pub enabled: bool,
    pub percent: u8,
}

/// How one series answered over the range.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SeriesHealth {
    pub series: String,
    pub values: usize,
    pub no_data: usize,
    pub errors: usize,
    /// The source's first error for it (Prometheus' own message for bad PromQL).
    pub(crate) first_error: Option<String>,
}

impl SeriesHealth {
    /// Every answer was an error: nothing can be said about its rules.
    pub fn failed(&self) -> bool {
        self.values == 0 && self.errors > 0
    }
}

/// What a backtest found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Report {
    pub release: String,
    pub version: String,
    pub source: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The rollout starts here, after the baseline window.
    pub start: DateTime<Utc>,
    pub(crate) interval_secs: f64,
    /// Sample times evaluated after the start.
    pub samples: usize,
    pub baseline: BTreeMap<String, f64>,
    /// Each series' unit, for reading the values.
    pub units: BTreeMap<String, Unit>,
    pub trips: Vec<Trip>,
    pub stops: Vec<Stop>,
    pub end: End,
    /// Everything the engine journaled, in order.
    pub timeline: Vec<Entry>,
    /// Series with missing or failed answers.
    pub gaps: Vec<SeriesHealth>,
    /// What the backtest could not evaluate, and why.
    pub notes: Vec<String>,
    /// The canary judge's verdicts over the range, when the plan has `canary:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judge: Option<Judge>,
}

/// Pauses and rollbacks in the engine's journal, each pause with its resume.
pub(super) fn stops(timeline: &[Entry]) -> Vec<Stop> {
    let mut out: Vec<Stop> = Vec::new();
    for (i, e) in timeline.iter().enumerate() {
        let kind = match e.action {
            Verb::Pause => StopKind::Paused,
            Verb::Rollback => StopKind::RolledBack,
            Verb::Resume => {
                if let Some(open) = out
                    .iter_mut()
                    .rev()
                    .find(|s| s.kind == StopKind::Paused && s.resumed.is_none())
                {
                    open.resumed = Some(e.at);
                }
                continue;
            }
            _ => continue,
        };
        out.push(Stop {
            at: e.at,
            kind,
            step: e.step.clone(),
            reason: e.reason.clone(),
            by_judge: stopped_by_judge(timeline, i),
            resumed: None,
        });
    }
    out
}

pub(super) fn gaps(plan: &Plan, batches: &[Batch]) -> Vec<SeriesHealth> {
    plan.metrics
        .series
        .iter()
        .map(|s| {
            let mut h = SeriesHealth {
                series: s.name.clone(),
                values: 0,
                no_data: 0,
                errors: 0,
                first_error: None,
            };
            for b in batches {
                match b.outcome(&s.name) {
                    Some(Outcome::Value(v)) if v.is_finite() => h.values += 1,
                    Some(Outcome::Error(e)) => {
                        h.errors += 1;
                        h.first_error.get_or_insert_with(|| e.clone());
                    }
                    _ => h.no_data += 1,
                }
            }
            h
        })
        .filter(|h| h.no_data + h.errors > 0)
        .collect()
}

impl Report {
    /// Series whose every answer was an error (a bad query, an unreachable source).
    pub fn failed(&self) -> Vec<&SeriesHealth> {
        self.gaps.iter().filter(|g| g.failed()).collect()
    }

    /// Whether some series or some arm of the judge never answered but with errors: the
    /// report cannot speak for the rules or the verdicts that rest on it.
    pub fn incomplete(&self) -> bool {
        !self.failed().is_empty() || self.judge.as_ref().is_some_and(|j| !j.failed().is_empty())
    }

    /// Where the rollout stopped for good: a rollback, or a pause that never resumed.
    pub fn stopped(&self) -> Option<&Stop> {
        self.stops.iter().rev().find(|s| s.resumed.is_none())
    }

    /// The report as people read it.
    pub fn text(&self) -> String {
        let clock = |t: DateTime<Utc>| t.format("%H:%M:%SZ").to_string();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "backtest {} {} against {}",
            self.release, self.version, self.source
        );
        let _ = writeln!(
            out,
            "  range {} → {}, one point every {}; baseline until {}, rollout from there ({} samples)",
            stamp(self.from),
            stamp(self.to),
            fmt::secs(self.interval_secs.round() as i64),
            clock(self.start),
            self.samples
        );
        if !self.baseline.is_empty() {
            let parts: Vec<String> = self
                .baseline
                .iter()
                .map(|(k, v)| {
                    let unit = self.units.get(k).copied().unwrap_or(Unit::Count);
                    format!("{k} {}", format_value(*v, unit))
                })
                .collect();
            let _ = writeln!(out, "  baseline: {}", parts.join(", "));
        }
        for g in &self.gaps {
            let _ = write!(
                out,
                "  {}: {} values, {} missing, {} errors",
                g.series, g.values, g.no_data, g.errors
            );
            match &g.first_error {
                Some(e) => {
                    let _ = writeln!(out, " — {e}");
                }
                None => out.push('\n'),
            }
        }
        for n in &self.notes {
            let _ = writeln!(out, "  note: {n}");
        }
        out.push('\n');
        if self.trips.is_empty() {
            out.push_str("no guardrail tripped\n");
        } else {
            let _ = writeln!(
                out,
                "{} trip{}:",
                self.trips.len(),
                if self.trips.len() == 1 { "" } else { "s" }
            );
        }
        for t in &self.trips {
            let x = &t.explain;
            let v = |v: Option<f64>| {
                v.map(|v| format_value(v, x.unit))
                    .unwrap_or_else(|| "no data".into())
            };
            let _ = writeln!(out, "  {}  {}", stamp(x.at), x.rule_text);
            let baseline = x
                .baseline
                .map(|b| format!(" (baseline {})", format_value(b, x.unit)))
                .unwrap_or_default();
            let cleared = t
                .cleared
                .map(|c| format!("cleared {}", clock(c)))
                .unwrap_or_else(|| "held to the end".into());
            let _ = writeln!(
                out,
                "      held from {} for {}; {} vs threshold {}{baseline}; worst {}; {cleared}",
                clock(x.since),
                fmt::secs(x.held_secs),
                v(x.value()),
                format_value(x.threshold, x.unit),
                v(t.worst),
            );
            let samples: Vec<String> = x
                .samples
                .iter()
                .map(|p| format!("{} {}", p.at.format("%H:%M:%S"), v(p.value)))
                .collect();
            let _ = writeln!(out, "      samples: {}", samples.join(", "));
        }
        if let Some(judge) = &self.judge {
            out.push('\n');
            judge.text(&mut out);
        }
        out.push('\n');
        let word = |k: StopKind| match k {
            StopKind::Paused => "paused",
            StopKind::RolledBack => "rolled back",
        };
        match self.stopped() {
            Some(s) => {
                let _ = writeln!(
                    out,
                    "the rollout would have stopped at {} on {}: {}{}",
                    stamp(s.at),
                    s.step.as_deref().unwrap_or("no step"),
                    word(s.kind),
                    if s.by_judge {
                        " by the canary judge"
                    } else {
                        ""
                    }
                );
            }
            None if self.judge.is_some() => {
                let _ = writeln!(
                    out,
                    "neither a guardrail nor the canary judge would have stopped the rollout"
                );
            }
            None => {
                let _ = writeln!(out, "no guardrail would have stopped the rollout");
            }
        }
        for s in &self.stops {
            let resumed = s
                .resumed
                .map(|r| format!(", resumed {}", clock(r)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {} {} on {}{resumed}: {}",
                clock(s.at),
                word(s.kind),
                s.step.as_deref().unwrap_or("no step"),
                s.reason
            );
        }
        let flag = if self.end.enabled {
            format!("flag on {}%", self.end.percent)
        } else {
            "flag off".into()
        };
        let _ = writeln!(
            out,
            "at {} the rollout is {}{} ({flag})",
            stamp(self.end.at),
            self.end.state,
            self.end
                .step
                .as_ref()
                .map(|s| format!(" on {s}"))
                .unwrap_or_default()
        );
        out
    }
}
