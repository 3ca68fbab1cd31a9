//! plan::canary: the validated `canary:` section — which series the judge compares
//! between the canary and the baseline serving beside it, how errors are counted per arm,
//! how the verdicts roll up into a score and what each score does.

use std::time::Duration;

use super::model::Action;
use crate::canary::{CountsRule, Scoring, SeriesRule};

/// The canary judge's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct CanarySpec {
    /// In plan order.
    pub compare: Vec<Compared>,
    pub counts: Option<CountsSpec>,
    pub scoring: Scoring,
    /// What a marginal score does when the bake is served (pause unless the plan says).
    pub on_marginal: Action,
    /// What a failing score does, at once (rollback unless the plan says).
    pub on_fail: Action,
    /// How long past its bake a step waits for enough data before it pauses as starved.
    pub starved_limit: Duration,
    /// The series are judged over the step's last `window` of samples.
    pub window: Duration,
}

/// One series judged canary against baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Compared {
    pub series: String,
    pub rule: SeriesRule,
    /// The score groups it counts in; none makes it a group of its own.
    pub groups: Vec<String>,
}

/// Errors judged against requests, per arm.
#[derive(Debug, Clone, PartialEq)]
pub struct CountsSpec {
    /// `canary_share` is set at each step from its percent; the rest is the plan's.
    pub rule: CountsRule,
    pub groups: Vec<String>,
}

/// How a source measures one judged series per arm. Queries are `None` for the simulated
/// and replay sources, which know their arms without them.
#[derive(Debug, Clone, PartialEq)]
pub struct ArmSeries {
    pub key: ArmKey,
    pub canary: Option<String>,
    pub baseline: Option<String>,
}

/// What the simulated source's canary arm does beside its baseline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArmScenario {
    /// The canary costs a little (1% on p95), well inside any tolerance.
    #[default]
    Healthy,
    /// The canary's p95 is 15% above the baseline's.
    P95Regression,
    /// The canary's error rate is twice the baseline's, at a low error rate.
    ErrorDoubling,
    /// Both arms are the same service: only noise differs.
    Noise,
}

impl ArmScenario {
    pub const ALL: [(&'static str, ArmScenario); 4] = [
        ("healthy", ArmScenario::Healthy),
        ("p95-regression", ArmScenario::P95Regression),
        ("error-doubling", ArmScenario::ErrorDoubling),
        ("noise", ArmScenario::Noise),
    ];

    pub fn name(self) -> &'static str {
        ArmScenario::ALL
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("healthy", |(n, _)| n)
    }
}

/// What a canary-judge reading measures: a compared series, or one of the two counts
/// errors are judged by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArmKey {
    Series(String),
    /// Errors each arm served in the interval.
    Errors,
    /// Requests each arm served in the interval.
    Requests,
}

impl ArmKey {
    /// The series' name, or `errors` / `requests`, for messages.
    pub fn name(&self) -> &str {
        match self {
            ArmKey::Series(s) => s,
            ArmKey::Errors => "errors",
            ArmKey::Requests => "requests",
        }
    }
}

/// Which of the two arms a reading is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    Canary,
    Baseline,
}

impl Arm {
    pub fn word(self) -> &'static str {
        match self {
            Arm::Canary => "canary",
            Arm::Baseline => "baseline",
        }
    }
}
