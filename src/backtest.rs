//! backtest: a plan's queries run against a real source outside any release. Owns
//! `check`'s one-off probe of every query, and the backtest — "when would these guardrails
//! have paused or rolled back?": range queries over a past period (step = interval) fed
//! in order to the pure engine, with the shell's part played at once (every flag write
//! confirmed, every manual approval granted), and the report of every trip and of where
//! the rollout would have stopped. It never writes a flag, a state file or the journal.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use crate::engine::guardrail::{self, Explain, RuleState, Transition, format_secs, format_value};
use crate::engine::history::Point;
use crate::engine::journal::Entry;
use crate::engine::values::{Batch, DesiredFlag, FlagState, Outcome, Reading};
use crate::engine::{Command, Effect, Engine, FlagEvent, Input, Phase};
use crate::metrics::{MetricsError, MetricsSource};
use crate::plan::{Better, Condition, Plan, SourceSpec, Unit};

/// Who the backtest's own acts (the start, assumed approvals) are journaled as.
pub const OPERATOR: &str = "backtest";
/// Points per series a backtest evaluates at most (a week at 15s is 40,320).
pub const MAX_POINTS: i64 = 100_000;
/// How many samples before a trip its record keeps, as the engine's records do.
const LEAD_INTERVALS: i32 = 4;
const SAMPLES_KEPT: usize = 60;

/// A backtest range the plan cannot be evaluated over; each says what to change.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error(
        "--from {} is not before --to {}\n  hint: give the range oldest first",
        stamp(*from),
        stamp(*to)
    )]
    Backwards {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
    #[error(
        "the range --from {} --to {} is too short: the first {} are the baseline \
         (metrics.baseline_window) and the rollout needs at least one interval ({}) after it\n  \
         hint: start --from at least {} before --to",
        stamp(*from),
        stamp(*to),
        format_secs(baseline.as_secs() as i64),
        format_secs(interval.as_secs() as i64),
        format_secs((*baseline + *interval).as_secs() as i64)
    )]
    TooShort {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        baseline: Duration,
        interval: Duration,
    },
    #[error(
        "the range --from {} --to {} at one point every {} is {points} points per series; \
         a backtest evaluates at most {MAX_POINTS}\n  hint: shorten the range, or backtest it in parts",
        stamp(*from),
        stamp(*to),
        format_secs(interval.as_secs() as i64)
    )]
    TooLong {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        interval: Duration,
        points: i64,
    },
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// When the rollout starts: after the baseline window, if the range leaves room for it.
pub fn rollout_start(
    plan: &Plan,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<DateTime<Utc>, BacktestError> {
    if from >= to {
        return Err(BacktestError::Backwards { from, to });
    }
    let m = &plan.metrics;
    let step = chrono::Duration::from_std(m.interval).unwrap_or(chrono::Duration::seconds(15));
    let baseline = chrono::Duration::from_std(m.baseline_window).unwrap_or_default();
    let start = from + baseline;
    if start + step > to {
        return Err(BacktestError::TooShort {
            from,
            to,
            baseline: m.baseline_window,
            interval: m.interval,
        });
    }
    let points = (to - from).num_milliseconds() / step.num_milliseconds().max(1);
    if points > MAX_POINTS {
        return Err(BacktestError::TooLong {
            from,
            to,
            interval: m.interval,
            points,
        });
    }
    Ok(start)
}

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
    pub first_error: Option<String>,
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
    pub interval_secs: f64,
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
}

/// Queries `source` over `[from, to)` one interval apart and evaluates the plan on it.
pub async fn run(
    plan: Arc<Plan>,
    source: &mut dyn MetricsSource,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Report, BacktestError> {
    rollout_start(&plan, from, to)?;
    let batches = source.history(from, to, plan.metrics.interval).await;
    evaluate(plan, source.describe(), from, to, batches)
}

/// Evaluates the plan over `batches` (oldest first): those before `from` + the baseline
/// window are the baseline, the rest are fed as live samples to a rollout started there.
pub fn evaluate(
    plan: Arc<Plan>,
    source: String,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    mut batches: Vec<Batch>,
) -> Result<Report, BacktestError> {
    let start = rollout_start(&plan, from, to)?;
    batches.sort_by_key(|b| b.at);
    batches.retain(|b| b.at >= from && b.at < to);
    let gaps = gaps(&plan, &batches);
    let split = batches.partition_point(|b| b.at < start);
    let live = batches.split_off(split);
    let before = batches;

    let mut shell = Shell::new(Arc::clone(&plan));
    let mut trips = Trips::new(&plan);
    for b in &before {
        trips.remember(b);
    }
    shell
        .engine
        .handle(start, Input::History { batches: before });
    let off = DesiredFlag {
        enabled: false,
        percent: 0,
        groups: vec![],
    };
    shell.feed(
        start,
        Input::Flag {
            event: FlagEvent::Loaded {
                state: shell.state_of(&off),
            },
        },
    );
    shell.feed(
        start,
        Input::Command {
            command: Command::Start { force: true },
            operator: OPERATOR.into(),
            reason: Some(format!("backtest from {}", stamp(from))),
        },
    );
    let baseline = shell.engine.progress().baseline.clone();
    let samples = live.len();
    for batch in live {
        let at = batch.at;
        trips.observe(&baseline, &batch);
        shell.feed(at, Input::Samples { batch });
        if matches!(shell.engine.phase(), Phase::AwaitingApproval { .. }) {
            shell.feed(
                at,
                Input::Command {
                    command: Command::Promote { force: false },
                    operator: OPERATOR.into(),
                    reason: Some("manual approval, assumed given at once".into()),
                },
            );
        }
    }

    let notes = plan
        .guardrails
        .rules
        .iter()
        .filter(|r| {
            matches!(
                r.condition,
                Condition::AboveBaseline(_) | Condition::Degradation(_)
            )
        })
        .filter(|r| !baseline.contains_key(&r.metric))
        .map(|r| {
            format!(
                "no baseline for {} (no values in the first {}): `{}` was never evaluated",
                r.metric,
                format_secs(plan.metrics.baseline_window.as_secs() as i64),
                r.text
            )
        })
        .collect();
    let engine = &shell.engine;
    let exposure = engine.exposure();
    let end = End {
        at: engine.now().unwrap_or(start),
        state: engine.phase().badge().to_string(),
        step: engine
            .step_index()
            .and_then(|i| plan.rollout.steps.get(i))
            .map(|s| s.name.clone()),
        enabled: exposure.enabled,
        percent: exposure.percent,
    };
    Ok(Report {
        release: plan.release.name.clone(),
        version: plan.release.version.clone(),
        source,
        from,
        to,
        start,
        interval_secs: plan.metrics.interval.as_secs_f64(),
        samples,
        baseline,
        units: plan
            .metrics
            .series
            .iter()
            .map(|s| (s.name.clone(), s.unit))
            .collect(),
        trips: trips.trips,
        stops: stops(&shell.timeline),
        end,
        timeline: shell.timeline,
        gaps,
        notes,
    })
}

/// The engine with the shell's part played at once.
struct Shell {
    engine: Engine,
    timeline: Vec<Entry>,
}

impl Shell {
    fn new(plan: Arc<Plan>) -> Shell {
        Shell {
            engine: Engine::new(plan),
            timeline: Vec::new(),
        }
    }

    fn state_of(&self, d: &DesiredFlag) -> FlagState {
        FlagState {
            enabled: d.enabled,
            rollout: f64::from(d.percent) / 100.0,
            groups: d.groups.clone(),
            kind: self.engine.plan().flag.kind,
        }
    }

    /// Feeds `input`, then confirms every flag write it asked for, as a healthy backend would.
    fn feed(&mut self, now: DateTime<Utc>, input: Input) {
        let mut queue = vec![input];
        while let Some(input) = queue.pop() {
            for effect in self.engine.handle(now, input) {
                match effect {
                    Effect::Journal(e) => self.timeline.push(e),
                    Effect::SetFlag(d) => queue.push(Input::Flag {
                        event: FlagEvent::Confirmed {
                            state: self.state_of(&d),
                        },
                    }),
                    Effect::Notify(_) | Effect::Refused(_) => {}
                }
            }
        }
    }
}

/// Every guardrail evaluated on its own over the whole range, so a trip counts even after
/// the rollout has stopped (the engine's own record keeps only the latest few).
struct Trips<'a> {
    plan: &'a Plan,
    states: Vec<RuleState>,
    /// The trip each rule is in, while it is.
    open: Vec<Option<usize>>,
    points: BTreeMap<&'a str, Vec<Point>>,
    trips: Vec<Trip>,
}

impl<'a> Trips<'a> {
    fn new(plan: &'a Plan) -> Trips<'a> {
        Trips {
            plan,
            states: vec![RuleState::default(); plan.guardrails.rules.len()],
            open: vec![None; plan.guardrails.rules.len()],
            points: plan
                .metrics
                .series
                .iter()
                .map(|s| (s.name.as_str(), Vec::new()))
                .collect(),
            trips: Vec::new(),
        }
    }

    fn remember(&mut self, batch: &Batch) {
        for Reading { series, outcome } in &batch.readings {
            if let Some(points) = self.points.get_mut(series.as_str()) {
                points.push(Point {
                    at: batch.at,
                    value: finite(outcome),
                });
            }
        }
    }

    fn observe(&mut self, baseline: &BTreeMap<String, f64>, batch: &Batch) {
        self.remember(batch);
        let interval = chrono::Duration::from_std(self.plan.metrics.interval).unwrap_or_default();
        for (i, rule) in self.plan.guardrails.rules.iter().enumerate() {
            let (Some(series), Some(outcome)) = (
                self.plan.metrics.series(&rule.metric),
                batch.outcome(&rule.metric),
            ) else {
                continue;
            };
            let value = finite(outcome);
            let base = baseline.get(&rule.metric).copied();
            let threshold = guardrail::threshold(rule.condition, base, series.better);
            match guardrail::observe(
                &mut self.states[i],
                rule,
                batch.at,
                value,
                threshold,
                series.better,
            ) {
                Transition::Tripped => {
                    let since = self.states[i].holding_since.unwrap_or(batch.at);
                    let from = since - interval * LEAD_INTERVALS;
                    let mut samples: Vec<Point> = self
                        .points
                        .get(rule.metric.as_str())
                        .map(|ps| {
                            ps.iter()
                                .filter(|p| p.at >= from && p.at <= batch.at)
                                .copied()
                                .collect()
                        })
                        .unwrap_or_default();
                    if samples.len() > SAMPLES_KEPT {
                        samples.drain(..samples.len() - SAMPLES_KEPT);
                    }
                    let held: Vec<f64> = samples
                        .iter()
                        .filter(|p| p.at >= since)
                        .filter_map(|p| p.value)
                        .collect();
                    let worst = worst_of(held, rule.condition, series.better);
                    self.open[i] = Some(self.trips.len());
                    self.trips.push(Trip {
                        explain: Explain {
                            rule: i,
                            rule_text: rule.text.clone(),
                            metric: rule.metric.clone(),
                            query: series.query.clone(),
                            action: rule.action,
                            unit: series.unit,
                            baseline: base,
                            threshold: threshold.unwrap_or(f64::NAN),
                            since,
                            at: batch.at,
                            held_secs: (batch.at - since).num_seconds(),
                            samples,
                        },
                        worst,
                        cleared: None,
                    });
                }
                Transition::Cleared => {
                    if let Some(t) = self.open[i].take() {
                        self.trips[t].cleared = Some(batch.at);
                    }
                }
                Transition::None => {
                    if let (Some(t), Some(v)) = (self.open[i], value) {
                        let trip = &mut self.trips[t];
                        trip.worst = worst_of(
                            trip.worst.into_iter().chain([v]).collect(),
                            rule.condition,
                            series.better,
                        );
                    }
                }
            }
        }
    }
}

fn finite(outcome: &Outcome) -> Option<f64> {
    match outcome {
        Outcome::Value(v) if v.is_finite() => Some(*v),
        _ => None,
    }
}

/// The value furthest past the rule's threshold.
fn worst_of(values: Vec<f64>, condition: Condition, better: Better) -> Option<f64> {
    let higher_is_worse = match condition {
        Condition::Above(_) | Condition::AboveBaseline(_) => true,
        Condition::Below(_) => false,
        Condition::Degradation(_) => better == Better::Lower,
    };
    values
        .into_iter()
        .reduce(|a, b| if (b > a) == higher_is_worse { b } else { a })
}

/// Pauses and rollbacks in the engine's journal, each pause with its resume.
fn stops(timeline: &[Entry]) -> Vec<Stop> {
    let mut out: Vec<Stop> = Vec::new();
    for e in timeline {
        let kind = match e.action.as_str() {
            "pause" => StopKind::Paused,
            "rollback" => StopKind::RolledBack,
            "resume" => {
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
            resumed: None,
        });
    }
    out
}

fn gaps(plan: &Plan, batches: &[Batch]) -> Vec<SeriesHealth> {
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
            format_secs(self.interval_secs.round() as i64),
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
                format_secs(x.held_secs),
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
        out.push('\n');
        let word = |k: StopKind| match k {
            StopKind::Paused => "paused",
            StopKind::RolledBack => "rolled back",
        };
        match self.stopped() {
            Some(s) => {
                let _ = writeln!(
                    out,
                    "the rollout would have stopped at {} on {}: {}",
                    stamp(s.at),
                    s.step.as_deref().unwrap_or("no step"),
                    word(s.kind)
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

/// One poll of every query, for `shipdeck check`.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub source: String,
    pub at: DateTime<Utc>,
    pub readings: Vec<Reading>,
}

impl Probe {
    /// Series whose query failed (an error, not an empty answer).
    pub fn failures(&self) -> usize {
        self.readings
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Error(_)))
            .count()
    }

    pub fn text(&self, plan: &Plan) -> String {
        let mut out = format!("probed {} at {}:\n", self.source, stamp(self.at));
        let width = self
            .readings
            .iter()
            .map(|r| r.series.len())
            .max()
            .unwrap_or(0);
        for r in &self.readings {
            let unit = plan
                .metrics
                .series(&r.series)
                .map(|s| s.unit)
                .unwrap_or(Unit::Count);
            let what = match &r.outcome {
                Outcome::Value(v) => format!("ok {}", format_value(*v, unit)),
                Outcome::NoData => {
                    "no data: the query matched nothing at that time; check its labels".into()
                }
                Outcome::Error(e) => format!("error: {e}"),
            };
            let _ = writeln!(out, "  {:<width$}  {what}", r.series);
        }
        out
    }
}

/// Runs every query of the plan's source once at `at`. Sources with nothing to ask
/// (simulated) give `None`; a replay source is opened, which checks the recording.
pub async fn probe(plan: &Plan, at: DateTime<Utc>) -> Result<Option<Probe>, MetricsError> {
    let mut source = crate::metrics::open(&plan.metrics)?;
    if !matches!(plan.metrics.source, SourceSpec::Prometheus { .. }) {
        return Ok(None);
    }
    let batch = source.poll(at, Default::default()).await;
    Ok(Some(Probe {
        source: source.describe(),
        at,
        readings: batch.readings,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::values::Reading;
    use chrono::TimeZone;
    use std::path::Path;

    const PLAN: &str = "release: {name: r, version: '1', strategy: canary}
flag: {name: f, backend: {kind: file, path: flags.yaml}}
rollout:
  steps:
    - {name: A, percent: 10, bake: 5m}
    - {name: B, percent: 50, bake: 5m, approval: manual}
    - {name: C, percent: 100, bake: 5m}
  watch: 10m
metrics:
  source: {kind: simulated, scenario: healthy}
  interval: 1m
  baseline_window: 10m
  min_samples: 2
  series:
    error_rate: {unit: ratio}
    p95: {unit: seconds}
guardrails:
  rules:
    - {metric: error_rate, above: 1%, action: pause}
    - {metric: error_rate, above: 5%, for: 2m, action: rollback}
    - {metric: p95, above_baseline: 3x, action: alert}
";

    fn plan() -> Arc<Plan> {
        Arc::new(crate::plan::parse(PLAN, Path::new("/x/plan.yaml")).unwrap())
    }

    fn at(min: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_040 + min * 60, 0)
            .single()
            .unwrap()
    }

    /// One batch a minute over `[0, minutes)`, with the error rate `error(minute)`.
    fn data(minutes: i64, error: impl Fn(i64) -> Option<f64>) -> Vec<Batch> {
        (0..minutes)
            .map(|m| Batch {
                at: at(m),
                readings: vec![
                    Reading {
                        series: "error_rate".into(),
                        outcome: error(m).map_or(Outcome::NoData, Outcome::Value),
                    },
                    Reading {
                        series: "p95".into(),
                        outcome: Outcome::Value(0.2),
                    },
                ],
            })
            .collect()
    }

    fn backtest(minutes: i64, error: impl Fn(i64) -> Option<f64>) -> Report {
        evaluate(
            plan(),
            "test data".into(),
            at(0),
            at(minutes),
            data(minutes, error),
        )
        .unwrap()
    }

    #[test]
    fn healthy_data_walks_every_step_and_approves_the_manual_one() {
        let r = backtest(60, |_| Some(0.001));
        assert!(r.trips.is_empty(), "{:?}", r.trips);
        assert!(r.stops.is_empty(), "{:?}", r.stops);
        assert_eq!(r.end.state, "COMPLETED", "{}", r.text());
        assert_eq!(r.start, at(10));
        assert_eq!(r.samples, 50);
        assert!((r.baseline["error_rate"] - 0.001).abs() < 1e-12);
        let approved = r
            .timeline
            .iter()
            .find(|e| e.operator == OPERATOR && e.reason.contains("assumed"))
            .expect("the manual step approved by the backtest");
        assert_eq!(approved.step.as_deref(), Some("C"));
        assert!(r.gaps.is_empty());
        assert!(r.text().contains("no guardrail would have stopped"));
    }

    #[test]
    fn an_incident_is_listed_with_its_first_time_and_the_rollback_point() {
        // Errors climb to 8% from minute 20 for ten minutes.
        let r = backtest(40, |m| {
            Some(if (20..30).contains(&m) { 0.08 } else { 0.001 })
        });
        let rules: Vec<(usize, DateTime<Utc>, DateTime<Utc>)> = r
            .trips
            .iter()
            .map(|t| (t.explain.rule, t.explain.since, t.explain.at))
            .collect();
        assert_eq!(
            rules,
            [(0, at(20), at(20)), (1, at(20), at(22))],
            "{}",
            r.text()
        );
        let rollback = &r.trips[1];
        assert_eq!(rollback.worst, Some(0.08));
        assert_eq!(rollback.cleared, Some(at(30)));
        let baseline = rollback.explain.baseline.unwrap();
        assert!(
            (baseline - 0.001).abs() < 1e-12,
            "shown for context: {baseline}"
        );
        assert_eq!(rollback.explain.samples.first().map(|p| p.at), Some(at(16)));
        let first = &r.stops[0];
        assert_eq!((first.kind, first.at), (StopKind::Paused, at(20)));
        assert_eq!(r.stopped().map(|s| s.at), Some(at(22)));
        let stop = r
            .stops
            .iter()
            .find(|s| s.kind == StopKind::RolledBack)
            .unwrap();
        assert_eq!(stop.at, at(22));
        assert_eq!(stop.step.as_deref(), Some("B"));
        assert_eq!(r.end.state, "ROLLED BACK");
        assert!(!r.end.enabled);
        let text = r.text();
        assert!(
            text.contains("would have stopped at 2023-11-14T22:36:00Z on B: rolled back"),
            "{text}"
        );
        assert!(text.contains("cleared"), "{text}");
    }

    #[test]
    fn a_trip_after_the_rollback_still_counts() {
        let r = backtest(60, |m| {
            Some(if (20..25).contains(&m) || (40..45).contains(&m) {
                0.08
            } else {
                0.001
            })
        });
        let second_incident = r.trips.iter().filter(|t| t.explain.since == at(40)).count();
        assert_eq!(second_incident, 2, "{}", r.text());
    }

    #[test]
    fn a_gap_in_the_data_pauses_as_stale_and_is_reported() {
        let r = backtest(40, |m| (!(20..30).contains(&m)).then_some(0.001));
        let gap = r.gaps.iter().find(|g| g.series == "error_rate").unwrap();
        assert_eq!((gap.no_data, gap.errors), (10, 0));
        assert!(!gap.failed());
        let stale = r.stops.first().expect("a stale pause");
        assert_eq!(r.stopped(), None, "it resumed");
        assert_eq!(stale.kind, StopKind::Paused);
        assert!(stale.reason.contains("stale"), "{stale:?}");
        assert!(stale.resumed.is_some(), "{stale:?}");
    }

    #[test]
    fn no_baseline_is_a_note_not_a_pass() {
        let r = backtest(40, |m| (m >= 10).then_some(0.001));
        // p95 has a baseline; the error rate has none, but its rules are absolute.
        assert!(r.notes.is_empty(), "{:?}", r.notes);
        let mut batches = data(40, |_| Some(0.001));
        for b in batches.iter_mut().take(10) {
            b.readings.retain(|r| r.series != "p95");
        }
        let r = evaluate(plan(), "t".into(), at(0), at(40), batches).unwrap();
        assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
        assert!(r.notes[0].contains("p95"), "{:?}", r.notes);
    }

    #[test]
    fn ranges_that_cannot_be_evaluated_say_what_to_change() {
        let p = plan();
        assert!(matches!(
            rollout_start(&p, at(10), at(0)),
            Err(BacktestError::Backwards { .. })
        ));
        let e = rollout_start(&p, at(0), at(10)).unwrap_err();
        assert!(matches!(e, BacktestError::TooShort { .. }));
        assert!(e.to_string().contains("baseline_window"), "{e}");
        assert_eq!(rollout_start(&p, at(0), at(11)).unwrap(), at(10));
        let e = rollout_start(&p, at(0), at(MAX_POINTS + 1)).unwrap_err();
        assert!(matches!(e, BacktestError::TooLong { .. }), "{e}");
    }

    #[test]
    fn the_worst_value_follows_the_rule_direction() {
        assert_eq!(
            worst_of(vec![0.2, 0.5, 0.3], Condition::Above(0.1), Better::Lower),
            Some(0.5)
        );
        assert_eq!(
            worst_of(vec![0.2, 0.5, 0.1], Condition::Below(0.3), Better::Lower),
            Some(0.1)
        );
        assert_eq!(
            worst_of(
                vec![90.0, 70.0],
                Condition::Degradation(0.1),
                Better::Higher
            ),
            Some(70.0)
        );
        assert_eq!(worst_of(vec![], Condition::Above(0.1), Better::Lower), None);
    }
}
