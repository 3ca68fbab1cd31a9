//! engine::regressions: corners of the engine's contract that it once got wrong, each
//! pinned by an example. Never weakened to pass.

use crate::support::engine_driver::{self, Driver};
use crate::support::plans::{MIN, rule, secs, small_plan};
use shipdeck::engine::journal::Kind;
use shipdeck::engine::values::FlagState;
use shipdeck::engine::values::{Batch, Outcome, Reading};
use shipdeck::engine::{Command, Engine, FlagEvent, Input, PauseCause, Phase, Progress};
use shipdeck::plan::{Action, Condition, FlagKind, Plan, StaleAction};
use std::time::Duration;

fn started(plan: Plan) -> Driver {
    let mut d = Driver::new(plan);
    d.warm_up();
    d.cmd(Command::Start { force: false });
    assert_eq!(*d.phase(), Phase::Baking { step: 0 });
    d
}

fn round_trip(p: &Progress) -> Result<Progress, serde_json::Error> {
    serde_json::from_str(&serde_json::to_string(p)?)
}

/// "The set-percent slider is an explicit override: ... the engine never silently undoes
/// it." On an auto step the engine promotes over the override when the bake ends.
#[test]
fn an_auto_step_does_not_promote_over_a_set_percent_override() {
    let mut d = started(small_plan());
    d.run_for(secs(15));
    d.cmd(Command::SetPercent { percent: 2 });
    assert_eq!(d.engine.progress().overridden, Some(2));
    let writes = d.writes.len();

    d.run_for(secs(5 * MIN));
    assert_eq!(
        d.writes.len(),
        writes,
        "the engine wrote the flag over the operator's 2%: {:?}\n{}",
        &d.writes[writes..],
        d.journal_text()
    );
    assert_eq!(d.engine.exposure().percent, 2);
    assert_eq!(d.engine.progress().overridden, Some(2));
}

/// `state.json` must read back exactly what was written: a restarted engine has to
/// decide the same way. Baselines are means with 17 significant digits, which
/// serde_json parses back one ulp off unless its `float_roundtrip` feature is on.
#[test]
fn progress_round_trips_exactly_through_json() {
    let d = started(small_plan());
    let p = d.engine.progress();
    let back = round_trip(p).unwrap();
    assert_eq!(
        back.baseline, p.baseline,
        "baseline changed in the round trip"
    );
    assert_eq!(&back, p);
}

/// A restart is not stale data. After a restore the history is empty, so staleness is
/// judged from `step_started_at` of before the restart; any input other than a sample
/// (the flag backend's start-up read, a tick) then finds every metric "stale for 1h"
/// and, with `on_stale: rollback`, rolls the release back.
#[test]
fn a_restart_is_not_mistaken_for_stale_data() {
    let mut plan = small_plan();
    plan.guardrails.on_stale = StaleAction::Rollback;
    let mut d = started(plan.clone());
    d.run_for(secs(30));
    let saved = d.engine.progress().clone();
    let live = d.engine.progress().live.clone().unwrap();

    let back = d.now + chrono::Duration::hours(1);
    let mut r = Driver::restored(plan, saved, back);
    // What a shell does first on start-up: read the flag.
    r.handle(Input::Flag {
        event: FlagEvent::Loaded { state: live },
    });
    assert_eq!(
        *r.phase(),
        Phase::Baking { step: 0 },
        "{}",
        r.journal_text()
    );
    r.sample();
    assert_eq!(*r.phase(), Phase::Baking { step: 0 });
}

/// Same with `on_stale: pause`: the restart pauses the release as stale.
#[test]
fn a_restart_does_not_pause_as_stale() {
    let mut d = started(small_plan());
    d.run_for(secs(30));
    let saved = d.engine.progress().clone();
    let mut r = Driver::restored(small_plan(), saved, d.now + chrono::Duration::hours(1));
    r.handle(Input::Tick);
    assert_eq!(
        *r.phase(),
        Phase::Baking { step: 0 },
        "{}",
        r.journal_text()
    );
}

/// "Only healthy, fresh data completes a bake." Bake time is credited for the whole gap
/// before staleness is noticed, so a silent source that comes back with one sample
/// completes a bake it never watched.
#[test]
fn time_without_data_does_not_count_towards_the_bake() {
    let mut plan = small_plan();
    plan.rollout.steps[0].bake = secs(10 * MIN);
    let mut d = started(plan);
    // 45 s of data: 3 fresh samples, min_samples met.
    d.run_for(secs(45));
    assert_eq!(d.engine.starved(), None);
    // The source goes silent for 20 minutes; the next input is a tick.
    d.tick_after(secs(20 * MIN));
    assert!(matches!(
        d.phase(),
        Phase::Paused {
            by: PauseCause::Stale(_),
            ..
        }
    ));
    // One sample comes back.
    d.sample();
    assert_eq!(
        *d.phase(),
        Phase::Baking { step: 0 },
        "a 10m bake completed on 1 minute of data:\n{}",
        d.journal_text()
    );
    // At most the data seen plus the stale window may have been served.
    let served = secs(10 * MIN) - d.engine.time_left().unwrap();
    assert!(served <= secs(45 + 45 + 15), "served {served:?}");
}

/// "A guardrail-paused rollout resumes only when the guardrail is clear, or on a forced
/// resume." When a pause rule trips while an operator already holds the pause, a plain
/// resume goes through into Baking with the guardrail still tripped, and the journal
/// calls it "forced" although nobody forced it.
#[test]
fn a_plain_resume_is_refused_while_a_pause_rule_trips_under_an_operator_pause() {
    let mut d = started(small_plan());
    d.cmd(Command::Pause);
    d.report("error_rate", 0.02);
    d.sample();
    assert!(d.engine.breaching().any(|i| i == 0));

    d.cmd(Command::Resume { force: false });
    assert!(
        matches!(d.phase(), Phase::Paused { .. }),
        "resumed with `error_rate above 1%` tripped: {:?}\n{}",
        d.phase(),
        d.journal_text()
    );
    assert!(
        d.refusals
            .last()
            .is_some_and(|r| r.contains("cannot resume")),
        "{:?}",
        d.refusals
    );
}

/// An outside flag change pauses for a person. When it happens while a guardrail holds
/// the pause, it is journaled but forgotten: the guardrail clears, the engine resumes by
/// itself and bakes on the hand-edited flag as if it were the plan's.
#[test]
fn an_outside_change_during_a_guardrail_pause_still_needs_a_person() {
    let mut d = started(small_plan());
    d.report("error_rate", 0.02);
    d.sample();
    assert!(matches!(
        d.phase(),
        Phase::Paused {
            by: PauseCause::Guardrail(0),
            ..
        }
    ));
    d.handle(Input::Flag {
        event: FlagEvent::Outside {
            state: FlagState {
                enabled: true,
                rollout: 0.5,
                groups: vec![],
                kind: FlagKind::Release,
            },
        },
    });
    d.report("error_rate", 0.001);
    d.sample();
    assert!(
        matches!(d.phase(), Phase::Paused { .. }),
        "resumed by itself on a flag changed by hand: {:?}\n{}",
        d.phase(),
        d.journal_text()
    );
}

/// A batch delivered twice (a retry, a replay, a history back-fill) is not two fresh
/// samples. The engine counts every reading it is handed, so one real sample repeated
/// completes a bake that needs three.
#[test]
fn a_repeated_batch_is_not_fresh_data() {
    let mut d = started(small_plan());
    d.sample();
    let once = d.batch();
    for _ in 0..4 {
        d.now += chrono::Duration::seconds(11);
        d.handle(Input::Samples {
            batch: once.clone(),
        });
    }
    assert_eq!(
        *d.phase(),
        Phase::Baking { step: 0 },
        "{}",
        d.journal_text()
    );
    assert_eq!(d.engine.starved(), Some((1, 3)));
}

/// A sample taken before the step's flag change was confirmed says nothing about the step.
#[test]
fn a_late_batch_from_before_the_step_is_not_fresh_for_it() {
    let mut d = started(small_plan());
    let before = d.now - chrono::Duration::seconds(5);
    d.handle(Input::Samples {
        batch: Batch {
            arms: Vec::new(),
            at: before,
            readings: vec![Reading {
                series: "error_rate".into(),
                outcome: Outcome::Value(0.001),
            }],
        },
    });
    assert_eq!(
        d.engine
            .progress()
            .fresh
            .get("error_rate")
            .copied()
            .unwrap_or(0),
        0
    );
}

/// `state.json` is read from disk and the plan may have been edited since: a step index
/// the plan no longer has must not panic the engine (SetPercent indexes the steps).
#[test]
fn a_saved_step_beyond_the_plan_does_not_panic() {
    let mut d = started(small_plan());
    d.run_for(secs(15));
    let mut saved = d.engine.progress().clone();
    saved.phase = Phase::Baking { step: 7 };
    let plan = std::sync::Arc::new(small_plan());
    let mut engine = Engine::restore(plan, saved);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        engine.handle(
            d.now,
            engine_driver::command(Command::SetPercent { percent: 10 }),
        )
    }));
    assert!(
        result.is_ok(),
        "SetPercent panicked on a restored step 7 of 3"
    );
}

/// Baselines are plain sums over the window: finite values near f64::MAX sum to
/// infinity, which serde_json writes as `null` and cannot read back, so the engine's
/// own `state.json` no longer loads.
#[test]
fn a_huge_but_finite_metric_still_leaves_a_loadable_state() {
    let mut d = Driver::new(small_plan());
    d.report("p95", f64::MAX / 2.0);
    d.warm_up();
    d.cmd(Command::Start { force: false });
    let p = d.engine.progress();
    assert!(
        p.baseline.values().all(|b| b.is_finite()),
        "baseline {:?}",
        p.baseline
    );
    assert!(round_trip(p).is_ok());
}

/// "Missing or stale data never promotes": the end of the watch is a promotion too (to
/// Completed), yet the watch has no `min_samples` gate. After a forced promote into the
/// watch, it completes on two samples when the plan asks for five.
#[test]
fn the_watch_does_not_complete_on_too_few_samples() {
    let mut plan = small_plan();
    plan.metrics.min_samples = 5;
    plan.rollout.watch = secs(30);
    let mut d = started(plan);
    d.run_until(secs(10 * MIN), |d| *d.phase() == Phase::Baking { step: 2 });
    d.cmd(Command::Promote { force: true });
    assert_eq!(*d.phase(), Phase::Watching);
    d.run_for(secs(30));
    assert_eq!(
        *d.phase(),
        Phase::Watching,
        "completed on 2 of 5 samples:\n{}",
        d.journal_text()
    );
    d.run_for(secs(45));
    assert_eq!(*d.phase(), Phase::Completed);
}

/// A flag that cannot be read (a flag file gone unreadable or broken) is not known to be
/// serving the step: its bake does not complete, and no bake time is served, until the
/// flag reads again.
#[test]
fn a_bake_does_not_complete_while_the_flag_cannot_be_read() {
    let mut d = started(small_plan());
    d.run_for(secs(15));
    let live = d.engine.progress().live.clone().expect("confirmed flag");
    let served = d.engine.progress().served_ms;
    d.handle(Input::Flag {
        event: FlagEvent::Unreadable {
            error: "flags.yaml: permission denied".into(),
        },
    });
    d.run_for(secs(5 * MIN));
    assert_eq!(
        *d.phase(),
        Phase::Baking { step: 0 },
        "baked while the flag could not be read:\n{}",
        d.journal_text()
    );
    assert_eq!(d.engine.progress().served_ms, served, "time was served");
    assert!(
        d.engine.blockers().iter().any(|b| b.contains("flag")),
        "{:?}",
        d.engine.blockers()
    );

    d.handle(Input::Flag {
        event: FlagEvent::Loaded { state: live },
    });
    d.run_until(secs(2 * MIN), |d| *d.phase() != Phase::Baking { step: 0 });
    assert_eq!(
        *d.phase(),
        Phase::Baking { step: 1 },
        "{}",
        d.journal_text()
    );
}

/// A source that answers nonsense — a negative error rate or latency, NaN, ±Inf — gives
/// an invalid sample: missing data that goes stale and pauses, never a healthy value
/// that bakes. A negative error rate once passed every "above" rule as healthy.
#[test]
fn nonsense_values_are_invalid_samples_never_healthy_ones() {
    let cases = [
        ("error_rate", -0.5),
        ("p95", -0.2),
        ("error_rate", f64::NAN),
        ("p95", f64::INFINITY),
        ("error_rate", f64::NEG_INFINITY),
    ];
    // Both series guarded, so both can go stale.
    let mut plan = small_plan();
    plan.guardrails.rules.push(rule(
        "p95",
        Condition::Above(2.0),
        Duration::ZERO,
        Action::Alert,
        "p95 above 2s → alert",
    ));
    for (series, bad) in cases {
        let mut d = started(plan.clone());
        d.run_for(secs(30));
        let fresh = d.engine.progress().fresh.get(series).copied();
        d.report(series, bad);
        d.sample();
        assert_eq!(
            d.engine.progress().fresh.get(series).copied(),
            fresh,
            "{series} = {bad} counted as a fresh sample"
        );
        if bad.is_finite() {
            let why = d.engine.series_error(series).unwrap_or_default();
            assert!(
                why.contains("invalid") && why.contains(&bad.to_string()),
                "{series} = {bad}: the error says what was wrong: {why:?}"
            );
        }
        d.run_until(secs(10 * MIN), |d| {
            matches!(
                d.phase(),
                Phase::Paused {
                    by: PauseCause::Stale(_),
                    ..
                }
            )
        });
        assert!(
            matches!(d.phase(), Phase::Paused { by: PauseCause::Stale(m), .. } if m == series),
            "{series} = {bad}: {:?}\n{}",
            d.phase(),
            d.journal_text()
        );
    }
}

/// A flag deleted from its backend mid-bake is an outside change: the rollout pauses for
/// a person, the journal says the flag is gone, no bake time is served and nothing is
/// written while it lasts; the operator's resume writes the step's flag again, journaled.
#[test]
fn a_vanished_flag_pauses_the_rollout_until_a_person_resumes() {
    let mut d = started(small_plan());
    d.run_for(secs(15));
    let served = d.engine.progress().served_ms;
    let writes = d.writes.len();
    d.handle(Input::Flag {
        event: FlagEvent::Missing,
    });
    assert!(
        matches!(
            d.phase(),
            Phase::Paused {
                by: PauseCause::Outside,
                ..
            }
        ),
        "{:?}\n{}",
        d.phase(),
        d.journal_text()
    );
    let gone = d
        .journal
        .iter()
        .find(|e| e.kind == Kind::Outside)
        .expect("an outside entry");
    assert!(
        gone.reason.contains("new_checkout is gone"),
        "{}",
        gone.reason
    );

    d.run_for(secs(5 * MIN));
    assert_eq!(d.writes.len(), writes, "written while gone: {:?}", d.writes);
    assert_eq!(d.engine.progress().served_ms, served);
    // A restart that finds it still gone says nothing new.
    let said = d.journal.len();
    d.handle(Input::Flag {
        event: FlagEvent::Missing,
    });
    assert_eq!(d.journal.len(), said, "{}", d.journal_text());

    d.cmd(Command::Resume { force: false });
    assert_eq!(d.writes.len(), writes + 1);
    let wanted = d.writes.last().unwrap();
    assert!(wanted.enabled && wanted.percent == 0, "{wanted:?}");
    assert!(
        d.journal
            .iter()
            .any(|e| e.reason.contains("re-creating it on 0% +[internal]")),
        "{}",
        d.journal_text()
    );
    d.run_until(secs(2 * MIN), |d| *d.phase() != Phase::Baking { step: 0 });
    assert_eq!(*d.phase(), Phase::Baking { step: 1 });
}

/// A restored release may find its flag changed while nobody looked: no bake time counts
/// and no step completes until the flag's live value has been read back.
#[test]
fn a_restored_release_bakes_nothing_until_its_flag_is_read_back() {
    let mut d = started(small_plan());
    d.run_for(secs(30));
    let saved = d.engine.progress().clone();
    let live = saved.live.clone().unwrap();
    let mut r = Driver::restored(small_plan(), saved.clone(), d.now);
    r.run_for(secs(3 * MIN));
    assert_eq!(
        *r.phase(),
        Phase::Baking { step: 0 },
        "{}",
        r.journal_text()
    );
    assert_eq!(r.engine.progress().served_ms, saved.served_ms);
    assert!(
        r.engine.blockers().iter().any(|b| b.contains("read back")),
        "{:?}",
        r.engine.blockers()
    );

    r.handle(Input::Flag {
        event: FlagEvent::Loaded { state: live },
    });
    r.run_until(secs(2 * MIN), |r| *r.phase() != Phase::Baking { step: 0 });
    assert_eq!(
        *r.phase(),
        Phase::Baking { step: 1 },
        "{}",
        r.journal_text()
    );
}

/// The samples a cron run finds between its last evaluation and now, for a restored
/// release read back at `now`.
fn cron_run(saved: &Progress, now: chrono::DateTime<chrono::Utc>, outcome: Outcome) -> Driver {
    let since = saved.now.unwrap();
    let mut r = Driver::restored(small_plan(), saved.clone(), now);
    // The history up to the last evaluation, as the source's backfill gives it, then the
    // samples since.
    let history = (0..20)
        .rev()
        .map(|k| Batch {
            arms: Vec::new(),
            at: since - chrono::Duration::seconds(15 * k),
            readings: ["error_rate", "p95"]
                .iter()
                .map(|s| Reading {
                    series: s.to_string(),
                    outcome: Outcome::Value(if *s == "p95" { 0.3 } else { 0.001 }),
                })
                .collect(),
        })
        .collect();
    r.handle(Input::Flag {
        event: FlagEvent::Loaded {
            state: saved.live.clone().unwrap(),
        },
    });
    let mut batches: Vec<Batch> = history;
    let mut at = since + chrono::Duration::seconds(15);
    while at <= now {
        let readings = ["error_rate", "p95"]
            .iter()
            .map(|s| Reading {
                series: s.to_string(),
                outcome: match (&outcome, *s) {
                    (Outcome::Value(_), "p95") => Outcome::Value(0.3),
                    (o, _) => o.clone(),
                },
            })
            .collect();
        batches.push(Batch {
            arms: Vec::new(),
            at,
            readings,
        });
        at += chrono::Duration::seconds(15);
    }
    r.handle(Input::CatchUp { since, batches });
    r
}

/// A cron run credits the time since the last evaluation on the healthy data covering
/// it: a step whose bake that time completes moves on now, and the journal says what was
/// credited.
#[test]
fn a_cron_run_credits_the_healthy_time_since_the_last_evaluation() {
    let mut d = started(small_plan());
    d.run_for(secs(15));
    let saved = d.engine.progress().clone();
    let r = cron_run(
        &saved,
        d.now + chrono::Duration::minutes(10),
        Outcome::Value(0.001),
    );
    assert_eq!(
        *r.phase(),
        Phase::Baking { step: 1 },
        "{}",
        r.journal_text()
    );
    let note = r.last_entry("catch-up").expect("the catch-up is journaled");
    assert!(
        note.reason.contains("10m since the last evaluation"),
        "{}",
        note.reason
    );
    let promote = r.last_entry("promote").unwrap();
    assert_eq!(
        promote.at, r.now,
        "the step moves on now, when the flag can"
    );
}

/// Time the data does not cover is not credited: a gap without samples bakes no more
/// than the stale window, and the release pauses as stale.
#[test]
fn a_cron_run_credits_nothing_the_data_does_not_cover() {
    let mut d = started(small_plan());
    d.run_for(secs(15));
    let saved = d.engine.progress().clone();
    let r = cron_run(
        &saved,
        d.now + chrono::Duration::minutes(10),
        Outcome::NoData,
    );
    let credited = r.engine.progress().served_ms - saved.served_ms;
    assert!(credited <= 45_000, "credited {credited} ms without data");
    assert!(r.last_entry("promote").is_none_or(|e| e.at < r.now));
    assert!(
        matches!(
            r.phase(),
            Phase::Paused {
                by: PauseCause::Stale(_),
                ..
            }
        ),
        "{:?}\n{}",
        r.phase(),
        r.journal_text()
    );
}
