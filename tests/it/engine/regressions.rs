//! engine::regressions: corners of the engine's contract that it once got wrong, each
//! pinned by an example. Never weakened to pass.

use crate::support::engine_driver::{self, Driver};
use crate::support::plans::{MIN, secs, small_plan};
use shipdeck::engine::values::FlagState;
use shipdeck::engine::values::{Batch, Outcome, Reading};
use shipdeck::engine::{Command, Engine, FlagEvent, Input, PauseCause, Phase, Progress};
use shipdeck::plan::{FlagKind, Plan, StaleAction};

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
