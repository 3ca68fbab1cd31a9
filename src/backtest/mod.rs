//! backtest: a plan's queries run against a real source outside any release. Owns
//! `check`'s one-off probe of every query, and the backtest — "when would these guardrails
//! and this canary judge have paused or rolled back?": range queries over a past period
//! (step = interval) fed in order to the pure engine, with the shell's part played at once
//! (every flag write confirmed, every manual approval granted), and the report of every
//! trip, every verdict of the engine's own judge and where the rollout would have stopped.
//! It never writes a flag, a state file or the journal.

mod judge;
mod probe;
mod report;
mod trips;

pub use judge::{ArmHealth, Judge, Judgement};
pub use probe::{Probe, probe};
pub use report::{End, Report, SeriesHealth, Stop, StopKind, Trip};

use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

use crate::engine::journal::Entry;
use crate::engine::values::{Batch, DesiredFlag, FlagState};
use crate::engine::{Command, Effect, Engine, FlagEvent, Input, Phase};
use crate::metrics::MetricsSource;
use crate::plan::{Condition, Plan};
use crate::support::fmt;
use report::{gaps, stops};
use trips::Trips;

/// Who the backtest's own acts (the start, assumed approvals) are journaled as.
pub const OPERATOR: &str = "backtest";
/// Points per series a backtest evaluates at most (a week at 15s is 40,320).
pub(crate) const MAX_POINTS: i64 = 100_000;

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
        fmt::duration(*baseline),
        fmt::duration(*interval),
        fmt::duration(*baseline + *interval)
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
        fmt::duration(*interval)
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
pub(crate) fn rollout_start(
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
    // Invalid samples are gaps here as they are to the engine.
    let mut batches: Vec<Batch> = batches
        .into_iter()
        .map(|b| b.checked(&plan.metrics))
        .collect();
    let gaps = gaps(&plan, &batches);
    let split = batches.partition_point(|b| b.at < start);
    let mut live = batches.split_off(split);
    let before = batches;
    // A sample describes the interval up to its time, so the one at the start measured the
    // world before the rollout: the canary had not served yet. Here the flag changes at
    // that very instant, which a live poll never sees, and the judge would take an arm that
    // has not begun for a broken traffic split; it reads the arms from the next sample on.
    let judged_from = live.partition_point(|b| b.at <= start);
    let arm_gaps = judge::arm_gaps(&plan, &live[judged_from..]);
    for b in &mut live[..judged_from] {
        b.arms.clear();
    }

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
                fmt::duration(plan.metrics.baseline_window),
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
        judge: Judge::of(&plan, &shell.timeline, arm_gaps),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::values::{ArmKey, ArmReading, Outcome, Reading};
    use crate::plan::Arm;
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
                arms: Vec::new(),
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

    const JUDGED: &str = "release: {name: r, version: '1', strategy: canary}
flag: {name: f, backend: {kind: file, path: flags.yaml}}
rollout:
  steps:
    - {name: Canary, percent: 5, bake: 20m}
    - {name: Full, percent: 100, bake: 5m}
  watch: 5m
metrics:
  source: {kind: simulated, scenario: healthy}
  interval: 1m
  baseline_window: 10m
  series:
    p95: {unit: seconds}
guardrails:
  rules:
    - {metric: p95, degradation: 50%, action: rollback}
canary:
  compare:
    - {metric: p95, direction: increase, allowed_increase: 1.05, critical: true}
";

    /// One batch a minute over an hour: a fleet p95 that never moves, and each arm's p95
    /// spread over 0.30s..0.32s, the canary's times `canary`.
    fn judged(canary: f64) -> Report {
        let plan = Arc::new(crate::plan::parse(JUDGED, Path::new("/x/plan.yaml")).unwrap());
        let spread = |m: i64, k: i64| 0.30 + 0.002 * ((m * k) % 11) as f64;
        let batches = (0..60)
            .map(|m| Batch {
                at: at(m),
                readings: vec![Reading {
                    series: "p95".into(),
                    outcome: Outcome::Value(0.3),
                }],
                arms: vec![ArmReading {
                    key: ArmKey::Series("p95".into()),
                    canary: Outcome::Value(spread(m, 7) * canary),
                    baseline: Outcome::Value(spread(m, 5)),
                }],
            })
            .collect();
        evaluate(plan, "test data".into(), at(0), at(60), batches).unwrap()
    }

    #[test]
    fn a_failing_judge_is_where_the_rollout_stops_and_every_verdict_is_listed() {
        let r = judged(1.15);
        assert!(r.trips.is_empty(), "{}", r.text());
        let judge = r.judge.as_ref().expect("the plan has a judge");
        // Journaled when the verdict turns (enough samples), and again when the judge acts
        // on it (the bake served).
        let fails: Vec<&Judgement> = judge
            .verdicts
            .iter()
            .filter(|v| v.verdict == crate::canary::Verdict::Fail)
            .collect();
        let [turned, fail] = fails[..] else {
            panic!("not two failing verdicts:\n{}", r.text());
        };
        // The sample at the start measured the world before it: the judge begins after it.
        assert_eq!(judge.verdicts[0].at, at(11), "{}", r.text());
        assert_eq!(turned.at, at(20), "ten samples into the step");
        assert_eq!(
            (turned.stopped, fail.stopped),
            (None, Some(StopKind::RolledBack))
        );
        assert_eq!(fail.step.as_deref(), Some("Canary"));
        assert_eq!(fail.percent, 5);
        assert_eq!(
            fail.headline,
            "canary FAIL 0 at Canary 5%: critical p95 failed"
        );
        assert!(fail.lines[0].starts_with("p95: canary"), "{:?}", fail.lines);
        let stop = r.stopped().expect("rolled back");
        assert_eq!((stop.kind, stop.by_judge), (StopKind::RolledBack, true));
        assert_eq!((stop.at, &stop.reason), (fail.at, &fail.headline));
        // Served at the 20m bake: ten minutes of baseline, then twenty of the step.
        assert_eq!(stop.at, at(30), "{}", r.text());
        let text = r.text();
        for want in [
            "no guardrail tripped",
            "the canary judge: ",
            "  22:44:00Z on Canary: canary FAIL 0 at Canary 5%: critical p95 failed → rolled back\n      p95: canary",
            "would have stopped at 2023-11-14T22:44:00Z on Canary: rolled back by the canary judge",
        ] {
            assert!(text.contains(want), "{want:?} in:\n{text}");
        }
        assert!(judge.gaps.is_empty(), "{:?}", judge.gaps);
    }

    #[test]
    fn a_passing_judge_lets_the_rollout_complete() {
        let r = judged(1.0);
        let judge = r.judge.as_ref().expect("the plan has a judge");
        let verdicts: Vec<_> = judge.verdicts.iter().map(|v| v.verdict).collect();
        assert_eq!(
            verdicts.last(),
            Some(&crate::canary::Verdict::Pass),
            "{}",
            r.text()
        );
        assert!(r.stops.is_empty(), "{}", r.text());
        assert_eq!(r.end.state, "COMPLETED", "{}", r.text());
        assert!(
            r.text()
                .contains("neither a guardrail nor the canary judge would have stopped"),
            "{}",
            r.text()
        );
    }

    #[test]
    fn arms_that_never_answered_are_listed_and_a_plan_without_a_judge_has_no_section() {
        let plan = Arc::new(crate::plan::parse(JUDGED, Path::new("/x/plan.yaml")).unwrap());
        let batches = (0..40)
            .map(|m| Batch {
                at: at(m),
                readings: vec![Reading {
                    series: "p95".into(),
                    outcome: Outcome::Value(0.3),
                }],
                arms: vec![ArmReading {
                    key: ArmKey::Series("p95".into()),
                    canary: Outcome::Error("bad_data: parse error".into()),
                    baseline: Outcome::NoData,
                }],
            })
            .collect();
        let r = evaluate(plan, "t".into(), at(0), at(40), batches).unwrap();
        let judge = r.judge.as_ref().unwrap();
        let arms: Vec<_> = judge
            .gaps
            .iter()
            .map(|g| (g.arm, g.errors, g.no_data))
            .collect();
        // Over the samples the judge reads: those after the start.
        assert_eq!(arms, [(Arm::Canary, 29, 0), (Arm::Baseline, 0, 29)]);
        assert_eq!(judge.failed().len(), 1);
        assert!(r.incomplete());
        let text = r.text();
        assert!(
            text.contains("p95 canary arm: 0 values, 0 missing, 29 errors — bad_data"),
            "{text}"
        );

        let r = backtest(40, |_| Some(0.001));
        assert_eq!(r.judge, None);
        assert!(!r.text().contains("canary judge"), "{}", r.text());
        let json = serde_json::to_value(&r).unwrap();
        assert!(json.get("judge").is_none(), "{json}");
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
}
