//! plan::model: the validated release plan. Every value here has already been checked;
//! nothing downstream re-validates or sees raw YAML.

use std::path::PathBuf;
use std::time::Duration;

use super::canary::{ArmScenario, ArmSeries, CanarySpec};

/// One release, as the plan file describes it (the format: README, "The plan file").
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The plan file itself; relative paths inside the plan were resolved against its folder.
    pub path: PathBuf,
    pub release: Release,
    pub pipeline: Vec<Stage>,
    pub flag: FlagSpec,
    pub rollout: Rollout,
    pub metrics: MetricsSpec,
    pub guardrails: Guardrails,
    pub checklists: Checklists,
    pub notify: Vec<NotifierSpec>,
    /// The canary judge; `None` judges by the guardrails alone.
    pub canary: Option<CanarySpec>,
    /// Where the release's state, journal and lock live.
    pub store: StoreKind,
}

/// The environment variable that holds the database's URL (with its password): read on
/// each machine, never from the plan.
pub const DATABASE_URL_ENV: &str = "SHIPDECK_DATABASE_URL";

/// Where a release is kept: files beside the plan (the default), or PostgreSQL, whose URL
/// comes only from the environment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StoreKind {
    #[default]
    File,
    Postgres,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    pub name: String,
    pub version: String,
    pub owner: Option<String>,
    pub strategy: Strategy,
    pub notes: ReleaseNotes,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReleaseNotes {
    pub date: Option<String>,
    pub features: Vec<String>,
    pub(crate) improvements: Vec<String>,
    pub fixes: Vec<String>,
    pub(crate) breaking: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    Canary,
    BlueGreen,
    Rolling,
    BigBang,
    Flag,
}

impl Strategy {
    pub(crate) const NAMES: [&'static str; 5] =
        ["canary", "blue-green", "rolling", "big-bang", "flag"];

    pub fn name(self) -> &'static str {
        match self {
            Strategy::Canary => "canary",
            Strategy::BlueGreen => "blue-green",
            Strategy::Rolling => "rolling",
            Strategy::BigBang => "big-bang",
            Strategy::Flag => "flag",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub name: String,
    pub source: StageSource,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StageSource {
    /// A status written in the plan.
    Static(StageStatus),
    /// Run by shipdeck (argv, no shell); exit 0 = passed.
    Command {
        argv: Vec<String>,
        timeout: Duration,
    },
    /// A JSON file `{"status", "detail", "url"}` watched for changes.
    StatusFile(PathBuf),
    /// The stage whose status is the rollout itself (Prod, or a stage with no source).
    Rollout,
    /// A stage of the reference path the plan does not declare (it has no `pipeline:`):
    /// shown as not tracked, never gates.
    Untracked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StageStatus {
    Pending,
    Running,
    Passed,
    Failed,
    Skipped,
}

impl StageStatus {
    pub const ALL: [StageStatus; 5] = [
        StageStatus::Pending,
        StageStatus::Running,
        StageStatus::Passed,
        StageStatus::Failed,
        StageStatus::Skipped,
    ];
    pub(crate) const NAMES: [&'static str; 5] = [
        StageStatus::Pending.word(),
        StageStatus::Running.word(),
        StageStatus::Passed.word(),
        StageStatus::Failed.word(),
        StageStatus::Skipped.word(),
    ];

    /// The status as one word, the same in plans, status files, the screen and the journal.
    pub const fn word(self) -> &'static str {
        match self {
            StageStatus::Pending => "pending",
            StageStatus::Running => "running",
            StageStatus::Passed => "passed",
            StageStatus::Failed => "failed",
            StageStatus::Skipped => "skipped",
        }
    }

    /// The status `word` names, in any case.
    pub(crate) fn from_word(word: &str) -> Option<StageStatus> {
        StageStatus::ALL
            .into_iter()
            .find(|s| s.word().eq_ignore_ascii_case(word))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FlagSpec {
    pub name: String,
    pub kind: FlagKind,
    pub backend: BackendSpec,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlagKind {
    Release,
    Experiment,
    Ops,
    Permission,
}

impl FlagKind {
    pub(crate) const NAMES: [&'static str; 4] = ["release", "experiment", "ops", "permission"];

    pub fn name(self) -> &'static str {
        match self {
            FlagKind::Release => "release",
            FlagKind::Experiment => "experiment",
            FlagKind::Ops => "ops",
            FlagKind::Permission => "permission",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum BackendSpec {
    /// The YAML flag file `flags: {NAME: {enabled, rollout, userGroups, kind}}`.
    File { path: PathBuf },
    /// Unleash through its Admin API; the token is read from the env var `token_env`.
    Unleash {
        url: String,
        token_env: String,
        project: String,
        environment: String,
        create: bool,
    },
    /// A flagd flag-definition JSON file that a running flagd watches.
    Flagd { path: PathBuf },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rollout {
    pub steps: Vec<Step>,
    /// After the last step, guardrails stay live this long.
    pub watch: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub name: String,
    /// 0..=100, never lower than the step before.
    pub percent: u8,
    pub groups: Vec<String>,
    pub bake: Duration,
    pub approval: Approval,
}

impl Step {
    /// `Beta (5%)`; a name that already says its percent stands alone: `Gradual 25%`.
    pub fn title(&self) -> String {
        if self.names_its_percent() {
            self.name.clone()
        } else {
            format!("{} ({}%)", self.name, self.percent)
        }
    }

    /// The title with the groups the step adds: `Beta (5% + beta-testers)`,
    /// `Gradual 25% (+ vip)`.
    pub(crate) fn label(&self) -> String {
        if self.groups.is_empty() {
            return self.title();
        }
        let groups = self.groups.join(", ");
        if self.names_its_percent() {
            format!("{} (+ {groups})", self.name)
        } else {
            format!("{} ({}% + {groups})", self.name, self.percent)
        }
    }

    fn names_its_percent(&self) -> bool {
        self.name.contains(&format!("{}%", self.percent))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    /// The step promotes by itself once its bake completes on healthy data.
    Auto,
    /// The step waits for an operator's promote after its bake.
    Manual,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MetricsSpec {
    pub source: SourceSpec,
    pub interval: Duration,
    pub baseline_window: Duration,
    /// Intervals without data before a series counts as stale.
    pub stale_after: u32,
    /// Fresh samples a step needs before its bake can complete.
    pub min_samples: u32,
    /// In plan order.
    pub series: Vec<Series>,
    /// What the canary judge measures per arm (from `canary:`); empty without one.
    pub arms: Vec<ArmSeries>,
}

impl MetricsSpec {
    pub fn series(&self, name: &str) -> Option<&Series> {
        self.series.iter().find(|s| s.name == name)
    }

    /// How long a series may go without a fresh sample before it is stale.
    pub fn stale_window(&self) -> Duration {
        self.interval * self.stale_after.max(1)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SourceSpec {
    Simulated {
        scenario: Scenario,
        seed: u64,
        /// What the canary arm does beside the baseline, when the plan compares arms.
        arms: ArmScenario,
    },
    Prometheus {
        url: String,
        /// The env var holding a bearer token; never together with `basic_auth`.
        token_env: Option<String>,
        basic_auth: Option<BasicAuth>,
        timeout: Duration,
        /// Sent with every query (`X-Scope-OrgID: tenant`); never a credential.
        headers: Vec<(String, String)>,
        /// PEM file of the CA that signed the server's certificate; replaces the system's.
        ca_file: Option<PathBuf>,
    },
    Replay {
        path: PathBuf,
    },
}

/// HTTP basic authentication: the user name in the plan, the password in the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicAuth {
    pub username: String,
    pub password_env: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    Healthy,
    Incident,
    SlowBurn,
    Flaky,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Healthy => "healthy",
            Scenario::Incident => "incident",
            Scenario::SlowBurn => "slow-burn",
            Scenario::Flaky => "flaky",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    /// PromQL; required by the prometheus source, ignored by the simulated one.
    pub query: Option<String>,
    pub unit: Unit,
    pub better: Better,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// 0.0..=1.0, shown as a percentage.
    Ratio,
    /// Shown as ms or s.
    Seconds,
    PerSecond,
    Count,
}

impl Unit {
    pub(crate) const NAMES: [&'static str; 4] = ["ratio", "seconds", "per_second", "count"];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    Lower,
    Higher,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Guardrails {
    /// What missing data on a guardrail metric does. Never promotes.
    pub on_stale: StaleAction,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaleAction {
    Alert,
    Pause,
    Rollback,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub metric: String,
    pub condition: Condition,
    /// How long the condition must hold, on sample time, before the rule trips. Zero = at once.
    pub hold: Duration,
    pub action: Action,
    /// The rule as the plan wrote it, for explanations: `error_rate above 5% for 2m → rollback`.
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// value > threshold (in the series' unit: a ratio, seconds, ...).
    Above(f64),
    /// value < threshold.
    Below(f64),
    /// value > baseline × multiple (the series' `better` is ignored: latency-style).
    AboveBaseline(f64),
    /// value worse than baseline by more than this fraction; "worse" follows the series' `better`.
    Degradation(f64),
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Alert,
    Pause,
    Rollback,
}

impl Action {
    pub(crate) const NAMES: [&'static str; 3] = ["alert", "pause", "rollback"];

    pub fn name(self) -> &'static str {
        match self {
            Action::Alert => "alert",
            Action::Pause => "pause",
            Action::Rollback => "rollback",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checklists {
    pub pre_release: Vec<Item>,
    pub release_day: Vec<Item>,
    pub post_release: Vec<Item>,
    pub rollback: Vec<Item>,
    /// Lists the plan does not write: the reference lists, shown as suggestions that
    /// never gate.
    pub suggested: std::collections::BTreeSet<ListKind>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    PreRelease,
    ReleaseDay,
    PostRelease,
    Rollback,
}

impl ListKind {
    pub const ALL: [ListKind; 4] = [
        ListKind::PreRelease,
        ListKind::ReleaseDay,
        ListKind::PostRelease,
        ListKind::Rollback,
    ];

    pub fn title(self) -> &'static str {
        match self {
            ListKind::PreRelease => "Pre-release",
            ListKind::ReleaseDay => "Release day",
            ListKind::PostRelease => "Post-release",
            ListKind::Rollback => "Rollback",
        }
    }
}

impl Checklists {
    /// The list holds anything up (the pre-release list, the start): only when the plan
    /// wrote it.
    pub fn gates(&self, kind: ListKind) -> bool {
        !self.suggested.contains(&kind)
    }

    pub fn list(&self, kind: ListKind) -> &[Item] {
        match kind {
            ListKind::PreRelease => &self.pre_release,
            ListKind::ReleaseDay => &self.release_day,
            ListKind::PostRelease => &self.post_release,
            ListKind::Rollback => &self.rollback,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub text: String,
    /// None = ticked by hand.
    pub check: Option<Check>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    Command {
        argv: Vec<String>,
        timeout: Duration,
    },
    Metric {
        metric: String,
        condition: Condition,
    },
    Stage(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum NotifierSpec {
    /// A Slack-compatible incoming webhook (Block Kit and a `text` fallback); the URL is
    /// read from the env var `url_env` (it is a secret).
    Webhook { url_env: String },
    /// Slack's Web API (`chat.postMessage`) with a bot token: one thread per release.
    Slack {
        token_env: String,
        channel: String,
        /// `https://slack.com/api` unless given (a proxy, a test receiver).
        api: String,
    },
    /// Any receiver: one JSON document per event, schema `shipdeck.event/v1`.
    Json { url_env: String },
    /// PagerDuty Events API v2: trigger when a person must act, resolve when the release
    /// completes or is resumed; the routing key is read from `routing_key_env`.
    PagerDuty {
        routing_key_env: String,
        url: String,
    },
    /// A plain-text deploy log, one line per event.
    Log { path: PathBuf },
}

impl NotifierSpec {
    /// Where the notifier is, for messages: never a URL or a key, they are secrets.
    pub fn label(&self) -> String {
        match self {
            NotifierSpec::Webhook { url_env } => format!("webhook ${url_env}"),
            NotifierSpec::Slack { channel, .. } => format!("slack {channel}"),
            NotifierSpec::Json { url_env } => format!("json webhook ${url_env}"),
            NotifierSpec::PagerDuty {
                routing_key_env, ..
            } => format!("pagerduty ${routing_key_env}"),
            NotifierSpec::Log { path } => format!("deploy log {}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(name: &str, percent: u8, groups: &[&str]) -> Step {
        Step {
            name: name.into(),
            percent,
            groups: groups.iter().map(|g| g.to_string()).collect(),
            bake: Duration::from_secs(3600),
            approval: Approval::Auto,
        }
    }

    #[test]
    fn a_step_says_its_percent_once() {
        assert_eq!(step("Beta", 5, &[]).title(), "Beta (5%)");
        assert_eq!(step("Gradual 25%", 25, &[]).title(), "Gradual 25%");
        // A name with another number still gets the real percent.
        assert_eq!(step("Gradual 25%", 30, &[]).title(), "Gradual 25% (30%)");
        assert_eq!(
            step("Beta", 5, &["beta-testers"]).label(),
            "Beta (5% + beta-testers)"
        );
        assert_eq!(
            step("Gradual 25%", 25, &["vip", "staff"]).label(),
            "Gradual 25% (+ vip, staff)"
        );
        assert_eq!(step("Full", 100, &[]).label(), "Full (100%)");
    }
}
