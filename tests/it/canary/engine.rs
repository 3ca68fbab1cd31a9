//! canary::engine: the judge inside the engine, fed by the simulated source's arms —
//! a healthy canary and pure noise pass and promote; a 15% p95 regression at 5% of users
//! rolls back when the bake is served, with no threshold rule ever tripping; errors that
//! double at low traffic roll back before the bake is out; too little data holds the step
//! and then pauses; a marginal score pauses, and a person's resume waives it.

use std::time::Duration;

use crate::support::engine_driver::Driver;
use shipdeck::canary::Verdict;
use shipdeck::engine::{Command, Next, PauseCause, Phase};
use shipdeck::plan::{self, Plan};

const HOUR: Duration = Duration::from_secs(3600);

/// `canary` is the section's body, unindented.
fn plan(arms: &str, canary: &str) -> Plan {
    let canary: String = canary.lines().map(|l| format!("  {l}\n")).collect();
    let text = format!(
        r#"
release: {{name: shop, version: 1.0.0, strategy: canary}}
flag: {{name: new_shop, backend: {{kind: file, path: flags.yaml}}}}
rollout:
  steps:
    - {{name: Canary, percent: 5, bake: 1h}}
    - {{name: Full, percent: 100, bake: 10m}}
  watch: 10m
metrics:
  source: {{kind: simulated, scenario: healthy, seed: 7, arms: {arms}}}
  interval: 15s
  series:
    error_rate: {{unit: ratio}}
    p95: {{unit: seconds}}
guardrails:
  rules:
    - {{metric: error_rate, above: 1%, action: pause}}
    - {{metric: error_rate, above: 5%, for: 2m, action: rollback}}
    - {{metric: p95, degradation: 20%, for: 5m, action: rollback}}
canary:
{canary}
"#
    );
    plan::parse(
        &text,
        std::path::Path::new("/tmp/shipdeck-canary/plan.yaml"),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

const JUDGE: &str = "compare:\n  - {metric: p95, direction: increase, allowed_increase: 1.05, critical: true}\n  - {metric: error_rate, direction: increase, allowed_increase: 1.5}\ncounts: {critical: true}";

fn started(plan: Plan) -> Driver {
    let mut d = Driver::sourced(plan);
    d.warm_up();
    d.cmd(Command::Start { force: false });
    assert_eq!(
        *d.phase(),
        Phase::Baking { step: 0 },
        "{}",
        d.journal_text()
    );
    d
}

fn verdict(d: &Driver) -> Option<Verdict> {
    d.engine.canary().map(|r| r.score.verdict)
}

fn promoted_past_canary(arms: &str) {
    let mut d = started(plan(arms, JUDGE));
    d.run_until(HOUR + Duration::from_secs(120), |d| {
        !matches!(d.phase(), Phase::Baking { step: 0 })
    });
    assert_eq!(
        *d.phase(),
        Phase::Baking { step: 1 },
        "{}",
        d.journal_text()
    );
    let pass = d
        .entries("canary")
        .into_iter()
        .find(|e| e.reason.starts_with("canary PASS"))
        .unwrap_or_else(|| panic!("no pass journaled:\n{}", d.journal_text()));
    let judged = pass.canary.as_ref().expect("the entry carries the report");
    let lines = judged.lines(&d.plan().metrics).join("\n");
    assert!(lines.contains("p95: canary"), "{lines}");
    assert!(lines.contains("errors: canary"), "{lines}");
}

#[test]
fn a_healthy_canary_passes_and_promotes() {
    promoted_past_canary("healthy");
}

#[test]
fn noise_alone_passes_and_promotes() {
    promoted_past_canary("noise");
}

#[test]
fn a_15_percent_p95_regression_at_5_percent_rolls_back_when_the_bake_is_served() {
    let mut d = started(plan("p95-regression", JUDGE));
    d.run_until(HOUR + Duration::from_secs(120), |d| {
        matches!(
            d.phase(),
            Phase::RollingBack { .. } | Phase::RolledBack { .. }
        )
    });
    let report = d.engine.canary().expect("a report");
    assert_eq!(report.score.verdict, Verdict::Fail);
    let p95 = &report.series[0];
    assert_eq!(p95.name, "p95");
    let test = p95.verdict.test.expect("tested");
    assert!(test.ci_low > 0.0, "the interval lies above 0: {test:?}");
    // Blind to it: the fleet's p95 moved by 5% × 15%, and no threshold rule tripped.
    assert!(d.entries("guardrail").is_empty(), "{}", d.journal_text());
    let rollback = d.last_entry("rollback").expect("journaled");
    assert!(
        rollback.reason.contains("critical p95 failed"),
        "{}",
        rollback.reason
    );
    // Not before the bake was served: the series' score decides at its end.
    let at = d
        .phases
        .iter()
        .find(|(_, p)| matches!(p, Phase::RollingBack { .. }))
        .unwrap()
        .0;
    let started = d
        .phases
        .iter()
        .find(|(_, p)| *p == Phase::Baking { step: 0 })
        .unwrap()
        .0;
    assert!((at - started).to_std().unwrap() >= HOUR);
}

#[test]
fn errors_that_double_at_low_traffic_roll_back_before_the_bake_is_out() {
    let mut d = started(plan("error-doubling", JUDGE));
    d.run_until(HOUR, |d| {
        matches!(
            d.phase(),
            Phase::RollingBack { .. } | Phase::RolledBack { .. }
        )
    });
    let report = d.engine.canary().expect("a report");
    let counts = report.counts.expect("counts judged");
    assert!(counts.p_value <= 0.02, "{counts:?}");
    assert!(
        counts.errors.canary < 200,
        "caught at low counts: {counts:?}"
    );
    assert!(d.entries("guardrail").is_empty(), "{}", d.journal_text());
}

#[test]
fn too_little_data_holds_the_served_bake_then_pauses() {
    let judge =
        "compare:\n  - {metric: p95, direction: increase, min_samples: 100000}\nstarved: 10m";
    let mut d = started(plan("healthy", judge));
    d.run_for(HOUR + Duration::from_secs(30));
    assert_eq!(*d.phase(), Phase::Baking { step: 0 }, "held, not promoted");
    assert!(
        matches!(d.engine.next(), Next::AwaitsJudge { .. }),
        "{:?}",
        d.engine.next()
    );
    assert!(
        d.engine
            .next_words(&d.engine.next())
            .starts_with("waits for canary data, pauses in"),
        "{}",
        d.engine.next_words(&d.engine.next())
    );
    assert_eq!(verdict(&d), Some(Verdict::Starved));
    d.run_until(Duration::from_secs(11 * 60), |d| {
        matches!(d.phase(), Phase::Paused { .. })
    });
    let Phase::Paused { by, reason, .. } = d.phase().clone() else {
        unreachable!()
    };
    assert_eq!(by, PauseCause::Canary);
    assert!(
        reason.contains("NO DATA") && reason.contains("waited 10m"),
        "{reason}"
    );
    // A person resumes past the judge: the step goes on.
    d.cmd(Command::Resume { force: false });
    d.run_for(Duration::from_secs(60));
    assert_eq!(
        *d.phase(),
        Phase::Baking { step: 1 },
        "{}",
        d.journal_text()
    );
    assert_eq!(
        d.engine.canary().and_then(|r| r.waived_by.clone()),
        None,
        "a new step judges afresh"
    );
}

#[test]
fn a_marginal_score_pauses_when_the_bake_is_served() {
    // p95 fails (not critical), error_rate passes: a score of 50 against pass 95, marginal 40.
    let judge = "compare:\n  - {metric: p95, direction: increase}\n  - {metric: error_rate, direction: increase}\nscore: {pass: 95, marginal: 40}";
    let mut d = started(plan("p95-regression", judge));
    d.run_until(HOUR + Duration::from_secs(120), |d| {
        matches!(d.phase(), Phase::Paused { .. })
    });
    assert_eq!(verdict(&d), Some(Verdict::Marginal));
    let Phase::Paused { by, reason, .. } = d.phase().clone() else {
        unreachable!()
    };
    assert_eq!(by, PauseCause::Canary);
    assert!(reason.starts_with("canary MARGINAL 50"), "{reason}");
    d.cmd(Command::Resume { force: false });
    d.run_for(Duration::from_secs(30));
    assert_eq!(
        *d.phase(),
        Phase::Baking { step: 1 },
        "{}",
        d.journal_text()
    );
}

/// The demo's canary story: Internal is approved, Beta (5%) bakes two days beside the
/// baseline, and the judge fails the 15% slower canary when the bake is served. No
/// threshold rule trips on the way.
#[test]
fn the_demo_canary_story_rolls_back_at_beta_on_the_judge() {
    use shipdeck::app::demo::{CANARY, PLAN};
    let text = format!("{PLAN}\n{CANARY}").replace(
        "scenario: incident, seed: 7",
        "scenario: healthy, seed: 7, arms: p95-regression",
    );
    let plan = plan::parse(&text, std::path::Path::new("/tmp/shipdeck-demo/plan.yaml"))
        .unwrap_or_else(|e| panic!("{e}"));
    // The demo's checklists gate the start; the story is about what follows.
    let mut d = Driver::sourced(plan);
    d.warm_up();
    d.cmd(Command::Start { force: true });
    d.run_until(Duration::from_secs(25 * 3600), |d| {
        matches!(d.phase(), Phase::AwaitingApproval { step: 0 })
    });
    d.cmd(Command::Promote { force: false });
    d.run_until(Duration::from_secs(49 * 3600), |d| {
        matches!(
            d.phase(),
            Phase::RollingBack { .. } | Phase::RolledBack { .. }
        )
    });
    let report = d.engine.canary().expect("judged");
    assert_eq!(report.step, 1, "at Beta");
    assert_eq!(report.score.verdict, Verdict::Fail);
    assert!(d.entries("guardrail").is_empty(), "{}", d.journal_text());
}
