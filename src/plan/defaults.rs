//! plan::defaults: what a plan gets for the parts it leaves out, taken from the reference
//! release process (the release-manager guide and the release-management article).
//! Owns default values only; never reads a plan.

use std::time::Duration;

use super::canary::ArmScenario;
use super::model::*;
use super::summary::rule_text;

pub(super) const DEFAULT_SEED: u64 = 7;
/// How long past its bake a step waits for the canary judge to have enough data.
pub(crate) const DEFAULT_STARVED_LIMIT: Duration = Duration::from_secs(30 * 60);
/// The canary judge compares the last hour of each step, as Kayenta's analysis windows do.
pub(crate) const DEFAULT_JUDGE_WINDOW: Duration = Duration::from_secs(60 * 60);
pub(super) const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);
pub(super) const DEFAULT_BASELINE_WINDOW: Duration = Duration::from_secs(30 * 60);
pub(super) const DEFAULT_STALE_AFTER: u32 = 3;
pub(super) const DEFAULT_MIN_SAMPLES: u32 = 5;
/// "Monitor for 24 hours" after the last step.
pub(super) const DEFAULT_WATCH: Duration = Duration::from_secs(24 * 3600);
pub(super) const DEFAULT_PROMETHEUS_TIMEOUT: Duration = Duration::from_secs(5);
pub(super) const DEFAULT_STAGE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
pub(super) const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(2 * 60);
pub(super) const DEFAULT_UNLEASH_PROJECT: &str = "default";

/// The reference process's checklists: pre-release, release day ("during release"),
/// post-release, and the rollback runbook. Every item is ticked by hand. As the plan
/// leaves them out, every list is a suggestion: none gates.
pub fn default_checklists() -> Checklists {
    let items = |texts: &[&str]| -> Vec<Item> {
        texts
            .iter()
            .map(|t| Item {
                text: (*t).to_string(),
                check: None,
            })
            .collect()
    };
    Checklists {
        pre_release: items(&[
            "Code reviewed",
            "Tests passing",
            "Staging tested",
            "Feature flag configured",
            "Rollback plan ready",
            "Monitoring alerts set",
        ]),
        release_day: items(&[
            "Deploy to 5% first",
            "Watch error rate",
            "Monitor performance",
            "Check user feedback",
            "Gradually increase",
        ]),
        post_release: items(&[
            "Monitor for 24 hours",
            "Collect feedback",
            "Remove feature flag",
            "Document learnings",
        ]),
        rollback: items(&[
            "Disable feature flag",
            "Notify team",
            "Verify error rate normal",
            "Investigate",
            "Fix and redeploy",
        ]),
        suggested: ListKind::ALL.into_iter().collect(),
    }
}

/// The reference path, for a plan without `pipeline:`: its stages are shown, not tracked.
pub(super) fn default_pipeline() -> Vec<Stage> {
    let untracked = |name: &str| Stage {
        name: name.to_string(),
        source: StageSource::Untracked,
    };
    vec![
        untracked("PR"),
        untracked("CI"),
        untracked("QA"),
        untracked("Stage"),
        Stage {
            name: "Prod".to_string(),
            source: StageSource::Rollout,
        },
    ]
}

/// The series the simulated source knows, with their units.
pub(super) const SIMULATED_SERIES: [(&str, Unit); 4] = [
    ("error_rate", Unit::Ratio),
    ("p95", Unit::Seconds),
    ("cpu", Unit::Ratio),
    ("memory", Unit::Ratio),
];

pub(super) fn default_series() -> Vec<Series> {
    SIMULATED_SERIES
        .iter()
        .map(|(name, unit)| Series {
            name: (*name).to_string(),
            query: None,
            unit: *unit,
            better: Better::Lower,
        })
        .collect()
}

pub(super) fn default_source() -> SourceSpec {
    SourceSpec::Simulated {
        scenario: Scenario::Healthy,
        seed: DEFAULT_SEED,
        arms: ArmScenario::Healthy,
    }
}

/// The reference rollback triggers, kept only for series the plan has with the unit the
/// rule was written for (a `p95` counted in requests is not the reference's p95).
pub(super) fn default_rules(series: &[Series]) -> Vec<Rule> {
    let m = |secs: u64| Duration::from_secs(secs * 60);
    let table: [(&str, Unit, Condition, Duration, Action); 6] = [
        (
            "error_rate",
            Unit::Ratio,
            Condition::Above(0.01),
            Duration::ZERO,
            Action::Pause,
        ),
        (
            "error_rate",
            Unit::Ratio,
            Condition::Above(0.05),
            m(2),
            Action::Rollback,
        ),
        (
            "p95",
            Unit::Seconds,
            Condition::Above(2.0),
            Duration::ZERO,
            Action::Alert,
        ),
        (
            "p95",
            Unit::Seconds,
            Condition::AboveBaseline(3.0),
            Duration::ZERO,
            Action::Rollback,
        ),
        (
            "p95",
            Unit::Seconds,
            Condition::Degradation(0.2),
            m(5),
            Action::Rollback,
        ),
        (
            "memory",
            Unit::Ratio,
            Condition::Above(0.9),
            Duration::ZERO,
            Action::Rollback,
        ),
    ];
    table
        .into_iter()
        .filter(|(name, unit, ..)| series.iter().any(|s| s.name == *name && s.unit == *unit))
        .map(|(name, unit, condition, hold, action)| Rule {
            metric: name.to_string(),
            condition,
            hold,
            action,
            text: rule_text(name, unit, &condition, hold, action),
        })
        .collect()
}

/// The default guardrails: pause on stale data, the reference rules for the plan's series.
pub(super) fn default_guardrails(series: &[Series]) -> Guardrails {
    Guardrails {
        on_stale: StaleAction::Pause,
        rules: default_rules(series),
    }
}

/// Slack's Web API, for `kind: slack`.
pub(super) const DEFAULT_SLACK_API: &str = "https://slack.com/api";
/// PagerDuty's Events API v2 (US service region; the EU one is
/// `https://events.eu.pagerduty.com/v2/enqueue`).
pub(super) const DEFAULT_PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_checklists_have_the_reference_lengths() {
        let c = default_checklists();
        assert_eq!(c.pre_release.len(), 6);
        assert_eq!(c.release_day.len(), 5);
        assert_eq!(c.post_release.len(), 4);
        assert_eq!(c.rollback[0].text, "Disable feature flag");
        assert_eq!(c.rollback.len(), 5);
    }

    #[test]
    fn default_rules_follow_the_series_the_plan_has() {
        assert_eq!(default_rules(&default_series()).len(), 6);
        let only_errors: Vec<Series> = default_series()
            .into_iter()
            .filter(|s| s.name == "error_rate")
            .collect();
        let rules = default_rules(&only_errors);
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[1].text, "error_rate above 5% for 2m → rollback");
    }

    #[test]
    fn default_rules_skip_a_series_with_another_unit() {
        let mut series = default_series();
        series[1].unit = Unit::Count;
        assert!(default_rules(&series).iter().all(|r| r.metric != "p95"));
    }

    #[test]
    fn default_pipeline_ends_in_the_rollout() {
        let p = default_pipeline();
        assert_eq!(p.len(), 5);
        assert_eq!(p[4].source, StageSource::Rollout);
        assert_eq!(p[0].source, StageSource::Untracked);
    }
}
