//! engine::scenarios: the release engine walked through whole releases, one story per
//! test, with the shell played by `support::engine_driver`. Never touches files or the clock.

use std::time::Duration;

use crate::support::engine_driver::{Driver, OPERATOR, state_of};
use crate::support::plans::{MIN, item, reference_plan, secs, small_plan};
use shipdeck::engine::journal::Kind;
use shipdeck::engine::values::{DesiredFlag, FlagState};
use shipdeck::engine::values::{Exposure, Outcome};
use shipdeck::engine::{
    Command, Effect, Engine, EventKind, FlagEvent, Input, PauseCause, Phase, Progress, Resume,
};
use shipdeck::plan::{
    Action, Approval, FlagKind, ListKind, Plan, StageSource, StageStatus, StaleAction,
};

const START: Command = Command::Start { force: false };
const PROMOTE: Command = Command::Promote { force: false };
const RESUME: Command = Command::Resume { force: false };

/// A driver whose rollout has started on `plan` after a healthy baseline window.
fn started(plan: Plan) -> Driver {
    let mut d = Driver::new(plan);
    d.warm_up();
    d.cmd(START);
    assert_eq!(
        *d.phase(),
        Phase::Baking { step: 0 },
        "{}",
        d.journal_text()
    );
    d
}

/// The reference plan with every pre-release item ticked, after a healthy baseline window.
fn reference_ready() -> Driver {
    ready(reference_plan())
}

/// `plan` with every pre-release item ticked, after a healthy baseline window.
fn ready(plan: Plan) -> Driver {
    let mut d = Driver::new(plan);
    for i in 0..d.plan().checklists.pre_release.len() {
        d.cmd(Command::Tick {
            list: ListKind::PreRelease,
            item: i,
            done: true,
        });
    }
    d.warm_up();
    d
}

fn paused_by(d: &Driver) -> Option<PauseCause> {
    match d.phase() {
        Phase::Paused { by, .. } => Some(by.clone()),
        _ => None,
    }
}

fn flag(enabled: bool, percent: u8, groups: &[&str]) -> DesiredFlag {
    DesiredFlag {
        enabled,
        percent,
        groups: groups.iter().map(|g| g.to_string()).collect(),
    }
}

#[test]
fn a_healthy_rollout_runs_every_step_then_watches_then_completes() {
    let mut d = started(small_plan());
    let start = d.now;
    d.run_until(secs(10 * MIN), |d| *d.phase() == Phase::Completed);

    assert_eq!(d.baked_steps(), ["Internal", "Beta", "Full"]);
    let phases: Vec<&Phase> = d.phases.iter().map(|(_, p)| p).collect();
    assert_eq!(
        phases,
        [
            &Phase::Ready,
            &Phase::Baking { step: 0 },
            &Phase::Baking { step: 1 },
            &Phase::Baking { step: 2 },
            &Phase::Watching,
            &Phase::Completed,
        ]
    );
    // Three bakes of a minute and a watch of a minute, nothing earlier.
    assert_eq!(d.now - start, chrono::Duration::minutes(4));
    let promotes = d.entries("promote");
    assert_eq!(promotes.len(), 3);
    for pair in promotes.windows(2) {
        assert!(pair[1].at - pair[0].at >= chrono::Duration::minutes(1));
    }

    // Groups accumulate: nobody who had the feature loses it on promote.
    assert_eq!(
        d.writes,
        [
            flag(true, 0, &["internal"]),
            flag(true, 5, &["internal", "beta-testers"]),
            flag(true, 100, &["internal", "beta-testers"]),
        ]
    );
    assert_eq!(
        d.engine.exposure(),
        Exposure {
            enabled: true,
            percent: 100
        }
    );
    assert!(d.engine.progress().confirmed);
    let kinds: Vec<EventKind> = d.notices.iter().map(|n| n.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Started,
            EventKind::Promoted,
            EventKind::Promoted,
            EventKind::Completed
        ]
    );
    assert_eq!(d.entries("watch").len(), 1);
    let done = d.last_entry("completed").unwrap();
    assert_eq!(done.operator, "shipdeck");
    assert_eq!(done.kind, Kind::Decision);
    assert!(done.reason.contains("remove the flag"), "{}", done.reason);
}

#[test]
fn the_engine_promotes_as_shipdeck_and_the_start_as_the_operator() {
    let mut d = started(small_plan());
    d.run_until(secs(10 * MIN), |d| *d.phase() == Phase::Watching);
    let promotes = d.entries("promote");
    assert_eq!(promotes[0].operator, OPERATOR);
    assert_eq!(promotes[0].kind, Kind::Action);
    for p in &promotes[1..] {
        assert_eq!(p.operator, "shipdeck");
        assert_eq!(p.kind, Kind::Decision);
        assert!(p.reason.contains("baked"), "{}", p.reason);
    }
}

#[test]
fn a_manual_step_waits_for_promote_after_its_bake() {
    let mut d = reference_ready();
    d.cmd(START);
    assert_eq!(*d.phase(), Phase::Baking { step: 0 });
    d.run_until(secs(10 * MIN), |d| *d.phase() != Phase::Baking { step: 0 });
    assert_eq!(*d.phase(), Phase::AwaitingApproval { step: 0 });
    let done = d.last_entry("bake complete").unwrap();
    assert!(
        done.reason.contains("waiting for approval"),
        "{}",
        done.reason
    );

    // Nothing moves without a person, however long it waits.
    d.run_for(secs(60 * MIN));
    assert_eq!(*d.phase(), Phase::AwaitingApproval { step: 0 });
    assert_eq!(d.writes.len(), 1);

    d.cmd_because(PROMOTE, "internal team happy");
    assert_eq!(*d.phase(), Phase::Baking { step: 1 });
    assert_eq!(
        d.writes.last().unwrap(),
        &flag(true, 5, &["internal", "beta-testers"])
    );
    let p = d.last_entry("promote").unwrap();
    assert_eq!(p.operator, OPERATOR);
    assert!(p.reason.contains("approved"), "{}", p.reason);
    assert!(p.reason.contains("internal team happy"), "{}", p.reason);
}

#[test]
fn the_reference_plan_runs_to_completion_with_two_approvals() {
    let mut d = reference_ready();
    d.cmd(START);
    d.run_until(secs(10 * MIN), |d| {
        matches!(d.phase(), Phase::AwaitingApproval { step: 0 })
    });
    d.cmd(PROMOTE);
    d.run_until(secs(30 * MIN), |d| {
        matches!(d.phase(), Phase::AwaitingApproval { step: 4 })
    });
    d.cmd_because(PROMOTE, "dashboards green");
    assert_eq!(*d.phase(), Phase::Watching);
    // One sentence: how the last step ended, then what the watch does, then the reason.
    let watch = d.last_entry("watch").unwrap();
    assert!(
        watch
            .reason
            .starts_with("last step Full approved; guardrails stay live for "),
        "{}",
        watch.reason
    );
    assert!(
        watch.reason.ends_with(" — dashboards green"),
        "{}",
        watch.reason
    );
    d.run_until(secs(10 * MIN), |d| *d.phase() == Phase::Completed);
    assert_eq!(
        d.baked_steps(),
        ["Internal", "Beta", "Gradual 25%", "Gradual 50%", "Full"]
    );
    assert_eq!(
        d.writes.last().unwrap(),
        &flag(true, 100, &["internal", "beta-testers"])
    );
}

#[test]
fn error_rate_above_one_percent_pauses_and_resumes_by_itself_when_clear() {
    let mut d = started(small_plan());
    d.run_for(secs(30));
    assert_eq!(d.engine.time_left(), Some(secs(30)));

    d.report("error_rate", 0.02);
    d.sample();
    assert_eq!(paused_by(&d), Some(PauseCause::Guardrail(0)));
    // The interval up to the bad sample was served; nothing after it.
    let left = d.engine.time_left().unwrap();
    assert_eq!(left, secs(15));
    let pause = d.last_entry("pause").unwrap();
    assert_eq!(pause.operator, "shipdeck");
    assert_eq!(pause.kind, Kind::Decision);
    assert!(pause.reason.contains("2.00%"), "{}", pause.reason);
    assert_eq!(pause.values.get("error_rate"), Some(&0.02));
    assert!(
        d.notices
            .iter()
            .any(|n| n.kind == EventKind::Paused && n.explain.is_some())
    );

    // Timers are frozen while paused.
    d.run_for(secs(5 * MIN));
    assert_eq!(paused_by(&d), Some(PauseCause::Guardrail(0)));
    assert_eq!(d.engine.time_left(), Some(left));

    d.report("error_rate", 0.002);
    d.sample();
    assert_eq!(*d.phase(), Phase::Baking { step: 0 });
    assert!(d.last_entry("guardrail clear").is_some());
    let resume = d.last_entry("resume").unwrap();
    assert_eq!(resume.operator, "shipdeck");
    assert_eq!(resume.kind, Kind::Decision);

    // The bake picks up where it stopped.
    d.run_until(secs(5 * MIN), |d| *d.phase() != Phase::Baking { step: 0 });
    assert_eq!(*d.phase(), Phase::Baking { step: 1 });
}

#[test]
fn error_rate_above_five_percent_for_two_minutes_rolls_back_once_the_backend_confirms() {
    let mut plan = small_plan();
    plan.checklists.rollback = vec![
        item("Disable feature flag"),
        item("Notify team"),
        item("Verify error rate normal"),
    ];
    let mut d = started(plan);
    d.run_for(secs(30));

    d.report("error_rate", 0.06);
    d.sample();
    let first_bad = d.now;
    // Above 1% at once: the pause rule acts first; the rollback rule is holding.
    assert_eq!(paused_by(&d), Some(PauseCause::Guardrail(0)));
    assert!(d.engine.breaching().any(|i| i == 1));

    d.auto_confirm = false;
    d.run_until(secs(5 * MIN), |d| {
        matches!(d.phase(), Phase::RollingBack { .. })
    });
    assert_eq!(
        d.now - first_bad,
        chrono::Duration::minutes(2),
        "the rollback rule holds for exactly its `for:`"
    );
    assert_eq!(d.writes.last().unwrap(), &flag(false, 0, &[]));
    let rb = d.last_entry("rollback").unwrap();
    assert_eq!(rb.operator, "shipdeck");
    assert!(rb.reason.contains("6.00%"), "{}", rb.reason);
    assert!(
        d.notices
            .iter()
            .any(|n| n.kind == EventKind::RollbackStarted)
    );

    // Not rolled back until the backend read back says the flag is off.
    d.run_for(secs(2 * MIN));
    assert!(matches!(d.phase(), Phase::RollingBack { .. }));
    d.fail(1);
    d.fail(2);
    assert!(matches!(d.phase(), Phase::RollingBack { .. }));
    let errors = d.journal.iter().filter(|e| e.kind == Kind::Error).count();
    assert_eq!(errors, 2);
    // A read back that still says "on" is not a confirmation.
    d.handle(Input::Flag {
        event: FlagEvent::Confirmed {
            state: state_of(&flag(true, 0, &["internal"])),
        },
    });
    assert!(matches!(d.phase(), Phase::RollingBack { .. }));
    assert!(!d.engine.item_done(ListKind::Rollback, 0).0);

    d.confirm();
    let Phase::RolledBack { reason, .. } = d.phase().clone() else {
        panic!("expected RolledBack, got {:?}", d.phase());
    };
    assert!(reason.contains("guardrail"), "{reason}");
    assert!(d.engine.item_done(ListKind::Rollback, 0).0);
    let by = d.engine.ticked_by(ListKind::Rollback, 0).unwrap();
    assert_eq!(by.operator, "shipdeck", "the confirmed rollback ticked it");
    assert!(!d.engine.item_done(ListKind::Rollback, 1).0);
    assert_eq!(
        d.engine.open_items(ListKind::Rollback),
        ["Notify team", "Verify error rate normal"]
    );
    assert_eq!(d.last_entry("rolled back").unwrap().operator, "shipdeck");
    assert!(
        d.notices
            .iter()
            .any(|n| n.kind == EventKind::RollbackConfirmed)
    );
    assert!(!d.engine.exposure().enabled);

    // Healthy data afterwards changes nothing.
    d.report("error_rate", 0.001);
    d.run_for(secs(10 * MIN));
    assert!(matches!(d.phase(), Phase::RolledBack { .. }));
    d.cmd(Command::Promote { force: true });
    d.cmd(Command::Resume { force: true });
    d.cmd(Command::Start { force: true });
    assert!(matches!(d.phase(), Phase::RolledBack { .. }));
}

#[test]
fn a_rollback_rule_still_fires_while_an_operator_holds_the_pause() {
    let mut d = started(small_plan());
    d.cmd(Command::Pause);
    assert_eq!(paused_by(&d), Some(PauseCause::Operator(OPERATOR.into())));
    d.report("error_rate", 0.08);
    d.run_until(secs(5 * MIN), |d| {
        matches!(
            d.phase(),
            Phase::RollingBack { .. } | Phase::RolledBack { .. }
        )
    });
    assert!(matches!(d.phase(), Phase::RolledBack { .. }));
}

#[test]
fn a_trip_while_watching_still_rolls_back() {
    let mut d = started(small_plan());
    d.run_until(secs(10 * MIN), |d| *d.phase() == Phase::Watching);
    d.report("error_rate", 0.07);
    d.sample();
    assert!(matches!(
        d.phase(),
        Phase::Paused {
            resume: Resume::Watching,
            ..
        }
    ));
    d.run_until(secs(5 * MIN), |d| {
        matches!(d.phase(), Phase::RolledBack { .. })
    });
}

#[test]
fn the_rollback_key_wins_in_every_state_and_is_journaled_with_its_operator() {
    let mut d = started(small_plan());
    d.run_for(secs(30));
    d.auto_confirm = false;
    d.cmd_because(Command::Rollback, "data integrity issue");
    let Phase::RollingBack { reason, .. } = d.phase().clone() else {
        panic!("expected RollingBack, got {:?}", d.phase());
    };
    assert_eq!(reason, "data integrity issue");
    let rb = d.last_entry("rollback").unwrap();
    assert_eq!(rb.operator, OPERATOR);
    assert_eq!(rb.kind, Kind::Action);
    // A second press is refused, not a second write.
    let writes = d.writes.len();
    d.cmd(Command::Rollback);
    assert_eq!(d.writes.len(), writes);
    assert!(d.refusals.last().unwrap().contains("already rolling back"));
    d.confirm();
    assert!(matches!(d.phase(), Phase::RolledBack { .. }));

    for setup in [
        |d: &mut Driver| {
            d.cmd(Command::Pause);
        },
        |d: &mut Driver| {
            d.report("error_rate", 0.02);
            d.sample();
        },
        |d: &mut Driver| {
            d.run_until(secs(10 * MIN), |d| *d.phase() == Phase::Watching);
        },
    ] {
        let mut d = started(small_plan());
        setup(&mut d);
        assert!(d.phase().is_live());
        d.auto_confirm = false;
        d.cmd(Command::Rollback);
        assert!(matches!(d.phase(), Phase::RollingBack { .. }));
    }
}

#[test]
fn an_operator_pause_freezes_the_bake_until_the_operator_resumes() {
    let mut d = started(small_plan());
    d.run_for(secs(15));
    d.cmd_because(Command::Pause, "waiting for support to confirm");
    assert_eq!(
        *d.phase(),
        Phase::Paused {
            step: 0,
            resume: Resume::Baking,
            reason: "waiting for support to confirm".into(),
            by: PauseCause::Operator(OPERATOR.into()),
        }
    );
    let left = d.engine.time_left();
    d.run_for(secs(30 * MIN));
    assert_eq!(d.engine.time_left(), left);
    assert_eq!(paused_by(&d), Some(PauseCause::Operator(OPERATOR.into())));
    d.cmd(Command::Pause);
    assert_eq!(d.refusals.last().unwrap(), "already paused");
    d.cmd(PROMOTE);
    assert!(d.refusals.last().unwrap().contains("resume first"));

    d.cmd(RESUME);
    assert_eq!(*d.phase(), Phase::Baking { step: 0 });
    let resume = d.last_entry("resume").unwrap();
    assert_eq!(resume.operator, OPERATOR);
    assert_eq!(resume.kind, Kind::Action);
    assert_eq!(d.entries("pause").len(), 1);
    assert_eq!(d.entries("pause")[0].kind, Kind::Action);
    d.cmd(RESUME);
    assert_eq!(d.refusals.last().unwrap(), "not paused");
}

#[test]
fn resume_is_refused_while_a_guardrail_trips_and_a_forced_resume_is_journaled_as_forced() {
    let mut d = started(small_plan());
    d.report("error_rate", 0.02);
    d.sample();
    assert_eq!(paused_by(&d), Some(PauseCause::Guardrail(0)));

    let fx = d.cmd(RESUME);
    assert!(
        matches!(fx.as_slice(), [Effect::Refused(why)] if why.to_string().contains("cannot resume") && why.to_string().contains("error_rate above 1%")),
        "{fx:?}"
    );
    assert_eq!(paused_by(&d), Some(PauseCause::Guardrail(0)));

    d.cmd_because(Command::Resume { force: true }, "known noisy endpoint");
    assert_eq!(*d.phase(), Phase::Baking { step: 0 });
    let resume = d.last_entry("resume").unwrap();
    assert_eq!(resume.operator, OPERATOR);
    assert!(resume.reason.contains("forced"), "{}", resume.reason);
    assert!(
        resume.reason.contains("error_rate above 1%"),
        "{}",
        resume.reason
    );
    assert!(
        resume.reason.contains("known noisy endpoint"),
        "{}",
        resume.reason
    );

    // Forced past the pause, but a tripped guardrail still blocks the bake from completing.
    d.run_for(secs(5 * MIN));
    assert_eq!(*d.phase(), Phase::Baking { step: 0 });
    assert!(!d.engine.blockers().is_empty());
    d.report("error_rate", 0.001);
    d.run_until(secs(MIN), |d| *d.phase() == Phase::Baking { step: 1 });
}

#[test]
fn a_set_percent_override_is_journaled_and_held_until_the_operator_promotes() {
    let mut plan = small_plan();
    plan.rollout.steps[0].approval = Approval::Manual;
    let mut d = started(plan);
    d.run_for(secs(15));

    let fx = d.cmd_because(Command::SetPercent { percent: 2 }, "a few real users");
    assert!(fx.contains(&Effect::SetFlag(flag(true, 2, &["internal"]))));
    let e = d.last_entry("set-percent").unwrap();
    assert_eq!(e.operator, OPERATOR);
    assert_eq!(e.kind, Kind::Action);
    assert!(e.reason.contains("2% (step says 0%)"), "{}", e.reason);
    assert!(e.reason.contains("a few real users"), "{}", e.reason);
    assert_eq!(d.engine.progress().overridden, Some(2));
    let writes = d.writes.len();

    // Bake completes, a guardrail pauses and clears, an operator pauses and resumes:
    // the engine never writes the flag on its own.
    d.run_until(secs(5 * MIN), |d| {
        matches!(d.phase(), Phase::AwaitingApproval { .. })
    });
    d.report("error_rate", 0.02);
    d.sample();
    assert_eq!(paused_by(&d), Some(PauseCause::Guardrail(0)));
    d.report("error_rate", 0.001);
    d.sample();
    assert_eq!(*d.phase(), Phase::AwaitingApproval { step: 0 });
    d.cmd(Command::Pause);
    d.cmd(RESUME);
    d.run_for(secs(30 * MIN));
    assert_eq!(d.writes.len(), writes, "writes: {:?}", d.writes);
    assert_eq!(d.engine.exposure().percent, 2);

    d.cmd(PROMOTE);
    assert_eq!(*d.phase(), Phase::Baking { step: 1 });
    assert_eq!(
        d.writes.last().unwrap(),
        &flag(true, 5, &["internal", "beta-testers"])
    );
    assert_eq!(d.engine.progress().overridden, None);
}

#[test]
fn set_percent_is_refused_outside_a_live_rollout_and_above_one_hundred() {
    let mut d = Driver::new(small_plan());
    d.cmd(Command::SetPercent { percent: 10 });
    assert!(d.refusals.last().unwrap().contains("live rollout"));
    d.warm_up();
    d.cmd(START);
    d.cmd(Command::SetPercent { percent: 101 });
    assert!(d.refusals.last().unwrap().contains("outside 0..=100"));
    assert_eq!(d.writes.len(), 1);
}

#[test]
fn a_starved_step_never_completes_its_bake_and_says_how_many_samples_it_has() {
    let mut plan = small_plan();
    plan.metrics.min_samples = 5;
    let mut d = started(plan);
    // Every other sample is missing: never stale, but only half the data.
    let mut n = 0;
    let mut feed = |d: &mut Driver, count: usize| {
        for _ in 0..count {
            if n % 2 == 0 {
                d.report("error_rate", 0.001);
            } else {
                d.report_outcome("error_rate", Outcome::NoData);
            }
            n += 1;
            d.sample();
        }
    };
    feed(&mut d, 4);
    assert_eq!(d.engine.time_left(), Some(Duration::ZERO));
    assert_eq!(d.engine.starved(), Some((2, 5)));
    feed(&mut d, 4);
    assert_eq!(*d.phase(), Phase::Baking { step: 0 });
    assert_eq!(d.engine.starved(), Some((4, 5)));
    assert!(d.engine.progress().stale.is_empty());

    d.cmd(PROMOTE);
    let why = d.refusals.last().unwrap();
    assert!(why.contains("starved: 4/5"), "{why}");

    feed(&mut d, 1);
    assert_eq!(
        *d.phase(),
        Phase::Baking { step: 1 },
        "{}",
        d.journal_text()
    );
    assert_eq!(d.engine.starved(), Some((0, 5)));
}

#[test]
fn stale_data_pauses_and_fresh_data_resumes() {
    let mut d = started(small_plan());
    d.run_for(secs(15));
    let last_value = d.now;
    d.report_outcome("error_rate", Outcome::Error("timeout after 5s".into()));
    d.run_until(secs(5 * MIN), |d| {
        d.engine.progress().stale.contains("error_rate")
    });
    // Stale once more than 3 intervals (45 s) passed without a value.
    assert_eq!(d.now - last_value, chrono::Duration::seconds(60));
    assert_eq!(paused_by(&d), Some(PauseCause::Stale("error_rate".into())));
    assert_eq!(
        d.engine.series_error("error_rate"),
        Some("timeout after 5s")
    );
    let pause = d.last_entry("pause").unwrap();
    assert!(
        pause.reason.contains("error_rate is stale"),
        "{}",
        pause.reason
    );
    let left = d.engine.time_left();

    d.run_for(secs(30 * MIN));
    assert_eq!(paused_by(&d), Some(PauseCause::Stale("error_rate".into())));
    assert_eq!(d.engine.time_left(), left);
    d.cmd(RESUME);
    assert!(d.refusals.last().unwrap().contains("stale"));

    d.report("error_rate", 0.001);
    d.sample();
    assert_eq!(*d.phase(), Phase::Baking { step: 0 });
    assert!(d.last_entry("fresh").is_some());
    assert_eq!(d.last_entry("resume").unwrap().operator, "shipdeck");
}

#[test]
fn a_source_that_goes_silent_pauses_on_the_clock_alone() {
    let mut d = started(small_plan());
    d.run_for(secs(15));
    d.tick_after(secs(30));
    assert_eq!(*d.phase(), Phase::Baking { step: 0 });
    d.tick_after(secs(30));
    assert!(matches!(
        d.phase(),
        Phase::Paused {
            by: PauseCause::Stale(_),
            ..
        }
    ));
}

#[test]
fn stale_data_rolls_back_when_the_plan_says_so() {
    let mut plan = small_plan();
    plan.guardrails.on_stale = StaleAction::Rollback;
    let mut d = started(plan);
    d.run_for(secs(15));
    d.report_outcome("error_rate", Outcome::NoData);
    d.run_until(secs(5 * MIN), |d| !d.phase().is_live());
    let Phase::RolledBack { reason, .. } = d.phase().clone() else {
        panic!("expected RolledBack, got {:?}", d.phase());
    };
    assert!(reason.contains("stale"), "{reason}");
    d.report("error_rate", 0.001);
    d.run_for(secs(5 * MIN));
    assert!(matches!(d.phase(), Phase::RolledBack { .. }));
}

#[test]
fn stale_data_only_alerts_when_the_plan_says_so_but_still_never_promotes() {
    let mut plan = small_plan();
    plan.guardrails.on_stale = StaleAction::Alert;
    let mut d = started(plan);
    d.run_for(secs(30));
    d.silence("error_rate");
    d.run_for(secs(5 * MIN));
    assert_eq!(*d.phase(), Phase::Baking { step: 0 });
    assert!(d.last_entry("stale").is_some());
    assert!(d.notices.iter().any(|n| n.kind == EventKind::Alert));
    assert!(
        d.engine
            .blockers()
            .iter()
            .any(|b| b.contains("error_rate is stale"))
    );
    d.report("error_rate", 0.001);
    d.run_until(secs(2 * MIN), |d| *d.phase() == Phase::Baking { step: 1 });
}

#[test]
fn an_outside_flag_change_pauses_with_the_reason_and_resume_reapplies_the_plan() {
    let mut d = started(small_plan());
    d.run_for(secs(30));
    let hand_edit = FlagState {
        enabled: true,
        rollout: 0.5,
        groups: vec!["internal".into()],
        kind: FlagKind::Release,
    };
    d.handle(Input::Flag {
        event: FlagEvent::Outside { state: hand_edit },
    });
    let Phase::Paused { reason, by, .. } = d.phase().clone() else {
        panic!("expected Paused, got {:?}", d.phase());
    };
    assert_eq!(by, PauseCause::Outside);
    assert!(reason.contains("changed outside shipdeck"), "{reason}");
    assert!(reason.contains("50%"), "{reason}");
    let outside = d.last_entry("flag changed").unwrap();
    assert_eq!(outside.kind, Kind::Outside);
    assert_eq!(d.engine.exposure().percent, 50);

    // An outside pause needs a person, however healthy the data.
    d.run_for(secs(10 * MIN));
    assert_eq!(paused_by(&d), Some(PauseCause::Outside));

    d.auto_confirm = false;
    let fx = d.cmd(RESUME);
    assert!(fx.contains(&Effect::SetFlag(flag(true, 0, &["internal"]))));
    assert_eq!(*d.phase(), Phase::Baking { step: 0 });
    d.confirm();
    assert_eq!(d.engine.exposure().percent, 0);
}

#[test]
fn an_outside_change_that_matches_the_plan_is_not_a_change() {
    let mut d = started(small_plan());
    d.handle(Input::Flag {
        event: FlagEvent::Outside {
            state: state_of(&flag(true, 0, &["internal"])),
        },
    });
    assert_eq!(*d.phase(), Phase::Baking { step: 0 });
    assert!(d.entries("flag changed").is_empty());
}

#[test]
fn restoring_saved_progress_keeps_the_step_and_the_bake_served_without_counting_downtime() {
    let mut plan = small_plan();
    plan.rollout.steps[0].bake = secs(2 * MIN);
    let mut d = started(plan.clone());
    d.run_for(secs(45));
    let saved = serde_json::to_string(&d.engine.progress()).unwrap();
    let served = d.engine.progress().served_ms;
    assert_eq!(served, 45_000);

    let progress: Progress = serde_json::from_str(&saved).unwrap();
    assert_eq!(progress.phase, d.engine.progress().phase);
    assert_eq!(progress.served_ms, served);
    // Back an hour later.
    let back = d.now + chrono::Duration::hours(1);
    let mut r = Driver::restored(plan, progress, back);
    assert_eq!(*r.phase(), Phase::Baking { step: 0 });
    assert_eq!(r.engine.time_left(), Some(secs(75)));
    r.sample();
    assert_eq!(
        r.engine.time_left(),
        Some(secs(75)),
        "the first sample after a restart only sets the clock"
    );
    // The shell reads the flag at start-up; nothing bakes before that.
    let live = r.engine.progress().live.clone().unwrap();
    r.handle(Input::Flag {
        event: FlagEvent::Loaded { state: live },
    });
    let restart = r.now;
    r.run_until(secs(5 * MIN), |d| *d.phase() == Phase::Baking { step: 1 });
    assert_eq!(r.now - restart, chrono::Duration::seconds(75));
}

#[test]
fn restoring_a_paused_or_rolled_back_release_keeps_it_there() {
    let mut d = started(small_plan());
    d.cmd_because(Command::Pause, "lunch");
    let p: Progress =
        serde_json::from_str(&serde_json::to_string(d.engine.progress()).unwrap()).unwrap();
    let mut r = Driver::restored(small_plan(), p, d.now + chrono::Duration::hours(2));
    r.run_for(secs(10 * MIN));
    assert_eq!(paused_by(&r), Some(PauseCause::Operator(OPERATOR.into())));

    d.cmd(Command::Rollback);
    assert!(matches!(d.phase(), Phase::RolledBack { .. }));
    let p: Progress =
        serde_json::from_str(&serde_json::to_string(d.engine.progress()).unwrap()).unwrap();
    let mut r = Driver::restored(small_plan(), p, d.now + chrono::Duration::hours(2));
    r.run_for(secs(10 * MIN));
    assert!(matches!(r.phase(), Phase::RolledBack { .. }));
}

#[test]
fn start_is_refused_while_pre_release_items_are_open() {
    let mut d = Driver::new(reference_plan());
    d.warm_up();
    for i in 0..3 {
        d.cmd(Command::Tick {
            list: ListKind::PreRelease,
            item: i,
            done: true,
        });
    }
    let fx = d.cmd(START);
    let [Effect::Refused(why)] = fx.as_slice() else {
        panic!("expected a refusal, got {fx:?}");
    };
    let why = why.to_string();
    assert!(
        why.contains("pre-release: Feature flag configured"),
        "{why}"
    );
    assert!(why.contains("pre-release: Monitoring alerts set"), "{why}");
    assert!(!why.contains("Code reviewed"), "{why}");
    assert_eq!(*d.phase(), Phase::Ready);
    assert!(d.writes.is_empty());
    // Promote before the start is a start, with the same gate.
    d.cmd(PROMOTE);
    assert_eq!(*d.phase(), Phase::Ready);

    for i in 3..6 {
        d.cmd(Command::Tick {
            list: ListKind::PreRelease,
            item: i,
            done: true,
        });
    }
    d.cmd(START);
    assert_eq!(*d.phase(), Phase::Baking { step: 0 });
    let ticks = d.entries("tick");
    assert_eq!(ticks.len(), 6);
    assert!(ticks.iter().all(|t| t.operator == OPERATOR));
}

#[test]
fn start_is_refused_while_a_stage_before_prod_has_not_passed() {
    let mut plan = small_plan();
    plan.pipeline.insert(
        1,
        shipdeck::plan::Stage {
            name: "QA".into(),
            source: StageSource::StatusFile("/tmp/shipdeck-tests/qa.json".into()),
        },
    );
    let mut d = Driver::new(plan);
    d.warm_up();
    d.cmd(START);
    assert!(d.refusals.last().unwrap().contains("stage QA not passed"));
    d.handle(Input::Stage {
        name: "QA".into(),
        status: StageStatus::Failed,
        detail: "2 tests failed".into(),
    });
    d.cmd(START);
    assert_eq!(*d.phase(), Phase::Ready);
    d.handle(Input::Stage {
        name: "QA".into(),
        status: StageStatus::Passed,
        detail: "signed off".into(),
    });
    d.cmd(START);
    assert_eq!(*d.phase(), Phase::Baking { step: 0 });
}

#[test]
fn a_forced_start_goes_past_open_items_and_the_journal_says_what_it_skipped() {
    let mut d = Driver::new(reference_plan());
    d.warm_up();
    d.cmd_because(Command::Start { force: true }, "hotfix");
    assert_eq!(*d.phase(), Phase::Baking { step: 0 });
    let p = d.last_entry("promote").unwrap();
    assert_eq!(p.operator, OPERATOR);
    assert!(p.reason.contains("forced past"), "{}", p.reason);
    assert!(
        p.reason.contains("pre-release: Code reviewed"),
        "{}",
        p.reason
    );
    assert!(p.reason.contains("hotfix"), "{}", p.reason);
    // Started once: a second start is refused.
    d.cmd(Command::Start { force: true });
    assert!(d.refusals.last().unwrap().contains("already started"));
}

#[test]
fn start_needs_a_baseline_for_baseline_rules() {
    let mut d = Driver::new(reference_plan());
    for i in 0..6 {
        d.cmd(Command::Tick {
            list: ListKind::PreRelease,
            item: i,
            done: true,
        });
    }
    d.cmd(START);
    let why = d.refusals.last().unwrap();
    assert!(why.contains("no baseline for p95"), "{why}");
    assert!(why.contains("no baseline for checkouts"), "{why}");
    d.warm_up();
    d.cmd(START);
    assert_eq!(*d.phase(), Phase::Baking { step: 0 });
    let baseline = &d.engine.progress().baseline;
    // The mean of the window before the start.
    assert!((baseline["p95"] - 0.3).abs() < 1e-9, "{baseline:?}");
    assert!((baseline["checkouts"] - 100.0).abs() < 1e-9, "{baseline:?}");
}

#[test]
fn every_trip_is_explained_with_rule_samples_baseline_threshold_and_hold() {
    let mut d = started(small_plan());
    d.run_for(secs(30));
    d.report("error_rate", 0.06);
    d.run_until(secs(5 * MIN), |d| !d.phase().is_live());

    let trips = &d.engine.progress().trips;
    assert_eq!(trips.len(), 2, "{trips:#?}");
    let (pause, rollback) = (&trips[0], &trips[1]);

    assert_eq!(pause.rule, 0);
    assert_eq!(pause.rule_text, "error_rate above 1% → pause");
    assert_eq!(pause.action, Action::Pause);
    assert_eq!(pause.threshold, 0.01);
    assert_eq!(pause.held_secs, 0);
    assert_eq!(pause.query.as_deref(), Some("query_for_error_rate"));

    assert_eq!(rollback.rule, 1);
    assert_eq!(rollback.rule_text, "error_rate above 5% for 2m → rollback");
    assert_eq!(rollback.metric, "error_rate");
    assert_eq!(rollback.action, Action::Rollback);
    assert_eq!(rollback.threshold, 0.05);
    assert!((rollback.baseline.unwrap() - 0.001).abs() < 1e-12);
    assert_eq!(rollback.held_secs, 120);
    assert_eq!(rollback.at - rollback.since, chrono::Duration::minutes(2));
    assert_eq!(rollback.value(), Some(0.06));
    // The samples in the window, oldest first, reaching back before the condition began.
    let times: Vec<_> = rollback.samples.iter().map(|p| p.at).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(*times.last().unwrap(), rollback.at);
    assert!(times[0] < rollback.since);
    assert!(
        rollback
            .samples
            .iter()
            .any(|p| p.value == Some(0.001) && p.at < rollback.since)
    );
    assert!(
        rollback
            .samples
            .iter()
            .filter(|p| p.at >= rollback.since)
            .all(|p| p.value == Some(0.06))
    );
    let summary = rollback.summary();
    assert!(summary.contains("6.00%"), "{summary}");
    assert!(summary.contains("5.00%"), "{summary}");
    assert!(summary.contains("2m"), "{summary}");
    assert!(summary.contains("baseline 0.10%"), "{summary}");

    // The journal keeps the same frozen record.
    let journaled: Vec<_> = d
        .entries("guardrail")
        .iter()
        .map(|e| e.explain.as_deref().cloned().unwrap())
        .collect();
    assert_eq!(&journaled, trips);
}

#[test]
fn baseline_rules_compare_with_the_level_before_the_start() {
    let mut d = reference_ready();
    d.cmd(START);
    d.run_for(secs(30));
    // p95 baseline 300 ms: 3x is 900 ms.
    d.report("p95", 0.85);
    d.sample();
    assert_eq!(*d.phase(), Phase::Baking { step: 0 });
    d.report("p95", 0.95);
    d.sample();
    assert!(matches!(
        d.phase(),
        Phase::RollingBack { .. } | Phase::RolledBack { .. }
    ));
    let x = d.engine.progress().trips.last().unwrap();
    assert_eq!(x.rule_text, "p95 above 3x baseline → rollback");
    assert!((x.baseline.unwrap() - 0.3).abs() < 1e-9);
    assert!((x.threshold - 0.9).abs() < 1e-9);
}

#[test]
fn a_business_metric_drop_counts_as_worse_when_higher_is_better() {
    let mut d = reference_ready();
    d.cmd(START);
    d.report("checkouts", 80.0);
    d.run_until(secs(20 * MIN), |d| !d.phase().is_live());
    let x = d.engine.progress().trips.last().unwrap();
    assert_eq!(x.metric, "checkouts");
    assert_eq!(x.held_secs, 600);
    assert!((x.threshold - 90.0).abs() < 1e-9);
}

#[test]
fn an_alert_rule_notifies_without_pausing() {
    let mut plan = reference_plan();
    // 2.5 s is also far above 3x baseline: keep only the alert rule on p95.
    plan.guardrails
        .rules
        .retain(|r| r.metric != "p95" || r.action == Action::Alert);
    let mut d = ready(plan);
    d.cmd(START);
    d.report("p95", 2.5);
    d.sample();
    assert_eq!(*d.phase(), Phase::Baking { step: 0 });
    let alert = d
        .notices
        .iter()
        .find(|n| n.kind == EventKind::Alert)
        .unwrap();
    assert!(alert.text.contains("p95"), "{}", alert.text);
    assert_eq!(
        alert.explain.as_ref().unwrap().rule_text,
        "p95 above 2s → alert"
    );
    // An alert does not pause, but an unresolved one does not let the bake complete either.
    d.run_for(secs(10 * MIN));
    assert_eq!(*d.phase(), Phase::Baking { step: 0 });
    d.report("p95", 0.3);
    d.run_until(secs(MIN), |d| {
        matches!(d.phase(), Phase::AwaitingApproval { step: 0 })
    });
}

#[test]
fn an_unconfirmed_flag_write_holds_the_bake() {
    let mut d = Driver::new(small_plan());
    d.warm_up();
    d.auto_confirm = false;
    d.cmd(START);
    d.fail(1);
    d.fail(2);
    d.run_for(secs(5 * MIN));
    assert_eq!(*d.phase(), Phase::Baking { step: 0 });
    assert_eq!(d.engine.time_left(), Some(secs(MIN)));
    assert_eq!(d.engine.progress().flag_failures, 2);
    assert!(
        d.engine
            .blockers()
            .iter()
            .any(|b| b.contains("not confirmed"))
    );
    let errors: Vec<_> = d.journal.iter().filter(|e| e.kind == Kind::Error).collect();
    assert_eq!(errors.len(), 2);
    assert!(
        errors[1].reason.contains("attempt 2"),
        "{}",
        errors[1].reason
    );
    assert!(
        errors[1].reason.contains("127.0.0.1:4242"),
        "{}",
        errors[1].reason
    );

    d.confirm();
    assert_eq!(d.engine.progress().flag_failures, 0);
    d.auto_confirm = true;
    d.run_until(secs(2 * MIN), |d| *d.phase() == Phase::Baking { step: 1 });
}

#[test]
fn every_decision_is_journaled_with_its_reason_and_the_values_behind_it() {
    let mut plan = small_plan();
    plan.checklists.rollback = vec![item("Disable feature flag")];
    plan.rollout.watch = secs(60 * MIN);
    let mut d = started(plan);
    d.run_until(secs(10 * MIN), |d| *d.phase() == Phase::Watching);
    d.report("error_rate", 0.02);
    d.sample();
    d.report("error_rate", 0.001);
    d.sample();
    d.silence("error_rate");
    d.run_for(secs(2 * MIN));
    d.report("error_rate", 0.09);
    d.run_until(secs(5 * MIN), |d| !d.phase().is_live());

    let decisions: Vec<_> = d
        .journal
        .iter()
        .filter(|e| e.kind == Kind::Decision)
        .collect();
    let verbs: Vec<&str> = decisions.iter().map(|e| e.action.as_str()).collect();
    for verb in [
        "promote",
        "watch",
        "guardrail",
        "pause",
        "guardrail clear",
        "resume",
        "fresh",
        "rollback",
        "rolled back",
    ] {
        assert!(verbs.contains(&verb), "no {verb} decision in {verbs:?}");
    }
    for e in &decisions {
        assert_eq!(e.operator, "shipdeck");
        assert!(!e.reason.is_empty(), "{e:?}");
        assert!(e.values.contains_key("error_rate"), "{e:?}");
        assert!(e.values.contains_key("p95"), "{e:?}");
    }
    for e in d.entries("guardrail") {
        assert!(e.explain.is_some(), "{e:?}");
    }
    // Every entry is on the engine clock, in order, and names its step while one is live.
    assert!(d.journal.windows(2).all(|w| w[0].at <= w[1].at));
    assert!(d.entries("pause").iter().all(|e| e.step.is_some()));
}

#[test]
fn a_checklist_tick_is_journaled_once_and_automatic_items_refuse_a_hand_tick() {
    let mut plan = small_plan();
    plan.checklists.release_day = vec![
        item("Deploy to 5% first"),
        shipdeck::plan::Item {
            text: "Tests passing".into(),
            check: Some(shipdeck::plan::Check::Command {
                argv: vec!["cargo".into(), "test".into()],
                timeout: secs(600),
            }),
        },
    ];
    let mut d = Driver::new(plan);
    let tick = |item, done| Command::Tick {
        list: ListKind::ReleaseDay,
        item,
        done,
    };
    d.cmd(tick(0, true));
    d.cmd(tick(0, true));
    assert_eq!(d.entries("tick").len(), 1);
    d.cmd(tick(0, false));
    assert_eq!(d.entries("untick").len(), 1);
    d.cmd(tick(1, true));
    assert!(d.refusals.last().unwrap().contains("ticks itself"));
    d.cmd(tick(7, true));
    assert!(d.refusals.last().unwrap().contains("no item 8"));
    d.handle(Input::Check {
        list: ListKind::ReleaseDay,
        item: 1,
        ok: true,
        detail: "94 passed".into(),
    });
    assert_eq!(
        d.engine.item_done(ListKind::ReleaseDay, 1),
        (true, Some("94 passed".into()))
    );
}

#[test]
fn who_ticked_an_item_by_hand_is_kept_until_it_is_unticked_and_survives_a_restart() {
    let mut plan = small_plan();
    plan.checklists.release_day = vec![item("Deploy to 5% first")];
    let mut d = Driver::new(plan);
    let tick = |done| Command::Tick {
        list: ListKind::ReleaseDay,
        item: 0,
        done,
    };
    assert_eq!(d.engine.ticked_by(ListKind::ReleaseDay, 0), None);
    d.cmd(tick(true));
    let by = d.engine.ticked_by(ListKind::ReleaseDay, 0).unwrap();
    assert_eq!((by.operator.as_str(), by.at), (OPERATOR, d.now));

    let saved = serde_json::to_value(d.engine.progress()).unwrap();
    let copy = Engine::restore(
        d.engine.plan().clone(),
        serde_json::from_value(saved.clone()).unwrap(),
    );
    assert_eq!(
        copy.ticked_by(ListKind::ReleaseDay, 0).unwrap().operator,
        OPERATOR
    );
    // A state saved before who ticked was kept: ticked, nobody named.
    let mut old = saved;
    old.as_object_mut().unwrap().remove("ticked_by");
    let copy = Engine::restore(
        d.engine.plan().clone(),
        serde_json::from_value(old).unwrap(),
    );
    assert!(copy.item_done(ListKind::ReleaseDay, 0).0);
    assert_eq!(copy.ticked_by(ListKind::ReleaseDay, 0), None);

    d.cmd(tick(false));
    assert_eq!(d.engine.ticked_by(ListKind::ReleaseDay, 0), None);
}

#[test]
fn a_restored_engine_has_the_same_answers_as_the_original() {
    let mut d = started(small_plan());
    d.run_for(secs(30));
    let copy = Engine::restore(
        d.engine.plan().clone(),
        serde_json::from_str(&serde_json::to_string(d.engine.progress()).unwrap()).unwrap(),
    );
    assert_eq!(copy.phase(), d.engine.phase());
    assert_eq!(copy.time_left(), d.engine.time_left());
    assert_eq!(copy.starved(), d.engine.starved());
    assert_eq!(copy.step_index(), d.engine.step_index());
    assert_eq!(copy.exposure(), d.engine.exposure());
}

#[test]
fn promote_blockers_are_exactly_what_an_unforced_promote_is_refused_for() {
    // Ready, with the reference plan's pre-release list open: the start's blockers.
    let mut d = Driver::new(reference_plan());
    d.warm_up();
    let blockers = d.engine.promote_blockers(d.now);
    assert!(
        blockers.iter().any(|b| b.starts_with("pre-release: ")),
        "{blockers:?}"
    );
    d.cmd(PROMOTE);
    let refused = d.refusals.last().cloned().unwrap_or_default();
    for b in &blockers {
        assert!(refused.contains(b.as_str()), "{b} not in: {refused}");
    }
    assert_eq!(*d.phase(), Phase::Ready);

    // Every item ticked: nothing in the way of the start.
    let d = reference_ready();
    assert_eq!(d.engine.promote_blockers(d.now), Vec::<String>::new());

    // Baking, with too few fresh samples: starved, and promote is refused for it.
    let mut d = started(small_plan());
    let blockers = d.engine.promote_blockers(d.now);
    assert_eq!(blockers, ["starved: 0/3 fresh samples"]);
    d.cmd(PROMOTE);
    assert!(d.refusals.last().unwrap().contains("starved: 0/3"));
    assert_eq!(*d.phase(), Phase::Baking { step: 0 });

    // Fed enough samples: nothing in the way, and promote acts.
    for _ in 0..3 {
        d.sample();
    }
    assert_eq!(d.engine.promote_blockers(d.now), Vec::<String>::new());
    d.cmd(PROMOTE);
    assert_eq!(*d.phase(), Phase::Baking { step: 1 });

    // Rolled back: promote is refused for another reason, so nothing is listed to force.
    d.cmd(Command::Rollback);
    assert!(d.engine.promote_blockers(d.now).is_empty());
}

/// The demo's pace follows the engine: slow while a new step goes live, fast through the
/// quiet bake, slow again from the first breach through the pause and the rollback.
#[test]
fn the_demo_slows_down_for_what_a_person_should_see() {
    use shipdeck::control::pace::{Moment, moment};
    let mut plan = small_plan();
    plan.rollout.steps[0].bake = secs(60 * MIN);
    let mut d = started(plan);
    assert_eq!(moment(&d.engine, d.now), Some(Moment::NewStep));
    d.run_for(secs(4 * MIN));
    assert_eq!(moment(&d.engine, d.now), None, "the quiet bake runs fast");
    d.report("error_rate", 0.06);
    d.sample();
    assert_eq!(moment(&d.engine, d.now), Some(Moment::Paused));
    d.run_until(secs(5 * MIN), |d| {
        matches!(d.phase(), Phase::RolledBack { .. })
    });
    assert_eq!(moment(&d.engine, d.now), Some(Moment::RolledBack));
}
