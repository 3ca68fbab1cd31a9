//! plans: release plans built literally, field by field, for engine tests. Owns no parsing:
//! these tests must not depend on the YAML loader, only on the validated model.

use std::path::PathBuf;
use std::time::Duration;

use shipdeck::plan::{
    Action, Approval, BackendSpec, Better, Checklists, Condition, FlagKind, FlagSpec, Guardrails,
    Item, MetricsSpec, Plan, Release, ReleaseNotes, Rollout, Rule, Scenario, Series, SourceSpec,
    Stage, StageSource, StageStatus, StaleAction, Step, Strategy, Unit,
};

pub const MIN: u64 = 60;

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub fn step(name: &str, percent: u8, groups: &[&str], bake: Duration, approval: Approval) -> Step {
    Step {
        name: name.into(),
        percent,
        groups: groups.iter().map(|g| g.to_string()).collect(),
        bake,
        approval,
    }
}

pub fn series(name: &str, unit: Unit, better: Better) -> Series {
    Series {
        name: name.into(),
        query: Some(format!("query_for_{name}")),
        unit,
        better,
    }
}

pub fn rule(
    metric: &str,
    condition: Condition,
    hold: Duration,
    action: Action,
    text: &str,
) -> Rule {
    Rule {
        metric: metric.into(),
        condition,
        hold,
        action,
        text: text.into(),
    }
}

pub fn item(text: &str) -> Item {
    Item {
        text: text.into(),
        check: None,
    }
}

/// The two error-rate rules of the reference process: > 1% pauses, > 5% for 2m rolls back.
pub fn error_rate_rules() -> Vec<Rule> {
    vec![
        rule(
            "error_rate",
            Condition::Above(0.01),
            Duration::ZERO,
            Action::Pause,
            "error_rate above 1% → pause",
        ),
        rule(
            "error_rate",
            Condition::Above(0.05),
            secs(2 * MIN),
            Action::Rollback,
            "error_rate above 5% for 2m → rollback",
        ),
    ]
}

/// A small canary release: two metrics (error_rate, p95), three auto steps of one minute,
/// a one-minute watch, 15 s interval, stale after 3 intervals, 3 samples per step, the
/// error-rate rules, all pipeline stages before Prod passed and no checklists.
pub fn small_plan() -> Plan {
    Plan {
        path: PathBuf::from("/tmp/shipdeck-tests/plan.yaml"),
        release: Release {
            name: "checkout-v2".into(),
            version: "2.5.0".into(),
            owner: Some("payments".into()),
            strategy: Strategy::Canary,
            notes: ReleaseNotes::default(),
        },
        pipeline: vec![
            Stage {
                name: "CI".into(),
                source: StageSource::Static(StageStatus::Passed),
            },
            Stage {
                name: "Prod".into(),
                source: StageSource::Rollout,
            },
        ],
        flag: FlagSpec {
            name: "new_checkout".into(),
            kind: FlagKind::Release,
            backend: BackendSpec::File {
                path: PathBuf::from("/tmp/shipdeck-tests/flags.yaml"),
            },
        },
        rollout: Rollout {
            steps: vec![
                step("Internal", 0, &["internal"], secs(MIN), Approval::Auto),
                step("Beta", 5, &["beta-testers"], secs(MIN), Approval::Auto),
                step("Full", 100, &[], secs(MIN), Approval::Auto),
            ],
            watch: secs(MIN),
        },
        metrics: MetricsSpec {
            source: SourceSpec::Simulated {
                scenario: Scenario::Healthy,
                seed: 7,
                arms: shipdeck::plan::ArmScenario::Healthy,
            },
            interval: secs(15),
            baseline_window: secs(30 * MIN),
            stale_after: 3,
            min_samples: 3,
            series: vec![
                series("error_rate", Unit::Ratio, Better::Lower),
                series("p95", Unit::Seconds, Better::Lower),
            ],
            arms: Vec::new(),
        },
        guardrails: Guardrails {
            on_stale: StaleAction::Pause,
            rules: error_rate_rules(),
        },
        checklists: Checklists::default(),
        notify: Vec::new(),
        canary: None,
        store: Default::default(),
    }
}

/// The reference release plan: the reference process's five steps (Internal with manual
/// approval, Beta 5% + beta-testers, 25%, 50%, Full with manual approval), its guardrails,
/// its checklists and the full pipeline; bakes shortened to minutes so tests stay small.
pub fn reference_plan() -> Plan {
    let mut plan = small_plan();
    plan.pipeline = ["PR", "CI", "QA", "Stage"]
        .iter()
        .map(|name| Stage {
            name: name.to_string(),
            source: StageSource::Static(StageStatus::Passed),
        })
        .chain([Stage {
            name: "Prod".into(),
            source: StageSource::Rollout,
        }])
        .collect();
    plan.rollout = Rollout {
        steps: vec![
            step(
                "Internal",
                0,
                &["internal"],
                secs(2 * MIN),
                Approval::Manual,
            ),
            step("Beta", 5, &["beta-testers"], secs(2 * MIN), Approval::Auto),
            step("Gradual 25%", 25, &[], secs(2 * MIN), Approval::Auto),
            step("Gradual 50%", 50, &[], secs(2 * MIN), Approval::Auto),
            step("Full", 100, &[], secs(2 * MIN), Approval::Manual),
        ],
        watch: secs(5 * MIN),
    };
    plan.metrics.min_samples = 5;
    plan.metrics.series = vec![
        series("error_rate", Unit::Ratio, Better::Lower),
        series("p95", Unit::Seconds, Better::Lower),
        series("cpu", Unit::Ratio, Better::Lower),
        series("memory", Unit::Ratio, Better::Lower),
        series("checkouts", Unit::PerSecond, Better::Higher),
    ];
    let mut rules = error_rate_rules();
    rules.extend([
        rule(
            "p95",
            Condition::Above(2.0),
            Duration::ZERO,
            Action::Alert,
            "p95 above 2s → alert",
        ),
        rule(
            "p95",
            Condition::AboveBaseline(3.0),
            Duration::ZERO,
            Action::Rollback,
            "p95 above 3x baseline → rollback",
        ),
        rule(
            "p95",
            Condition::Degradation(0.2),
            secs(5 * MIN),
            Action::Rollback,
            "p95 degradation 20% for 5m → rollback",
        ),
        rule(
            "memory",
            Condition::Above(0.9),
            Duration::ZERO,
            Action::Rollback,
            "memory above 90% → rollback",
        ),
        rule(
            "checkouts",
            Condition::Degradation(0.1),
            secs(10 * MIN),
            Action::Rollback,
            "checkouts degradation 10% for 10m → rollback",
        ),
    ]);
    plan.guardrails.rules = rules;
    plan.checklists = Checklists {
        pre_release: [
            "Code reviewed",
            "Tests passing",
            "Staging tested",
            "Feature flag configured",
            "Rollback plan ready",
            "Monitoring alerts set",
        ]
        .iter()
        .map(|t| item(t))
        .collect(),
        release_day: [
            "Deploy to 5% first",
            "Watch error rate",
            "Monitor performance",
            "Check user feedback",
            "Gradually increase",
        ]
        .iter()
        .map(|t| item(t))
        .collect(),
        post_release: [
            "Monitor for 24 hours",
            "Collect feedback",
            "Remove feature flag",
            "Document learnings",
        ]
        .iter()
        .map(|t| item(t))
        .collect(),
        rollback: [
            "Disable feature flag",
            "Notify team",
            "Verify error rate normal",
            "Investigate",
            "Fix and redeploy",
        ]
        .iter()
        .map(|t| item(t))
        .collect(),
        suggested: Default::default(),
    };
    plan
}
