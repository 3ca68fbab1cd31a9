//! demo: the built-in release, compiled into the binary so `shipdeck` with no arguments
//! tells the whole story (a healthy rollout, an incident, the automatic rollback) from
//! any directory with no setup. Owns nothing but the demo's files, speed and options.

use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;

use crate::app::options::{HEADLESS, screen_options};
use crate::clock::Clock;
use crate::control as controller;
use crate::plan::{ArmScenario, Scenario, SourceSpec};
use crate::store::{FileStore, ReleaseStore};

pub const PLAN: &str = include_str!("../../fixtures/demo/plan.yaml");
pub const FLAGS: &str = include_str!("../../fixtures/demo/flags.yaml");
/// The judge the canary story adds to the demo plan.
pub const CANARY: &str = include_str!("../../fixtures/demo/canary.yaml");

/// Engine seconds per real second: Internal (1 day) and Beta (2 days) pass in about two
/// minutes, and the incident at 25% follows.
pub const SPEED: f64 = 2400.0;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The story: an incident and its automatic rollback, a healthy rollout, a slow burn
    /// that creeps past a guardrail, flaky data that goes stale, or a canary 15% slower
    /// than its baseline that only the canary judge sees.
    #[arg(long, default_value = "incident", value_parser = ["healthy", "incident", "slow-burn", "flaky", "canary"])]
    pub scenario: String,
    /// Engine seconds per real second (above 0, at most 1000000).
    #[arg(long, value_parser = crate::app::options::parse_speed, allow_hyphen_values = true)]
    pub speed: Option<f64>,
    /// dark, light, high-contrast, or a theme file.
    #[arg(long)]
    pub theme: Option<String>,
}

/// A demo story: the simulated world's scenario, and whether the canary judge runs on a
/// canary that regressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Story {
    pub scenario: Scenario,
    pub judged: bool,
}

/// Writes the demo release into a fresh temporary directory and loads it.
pub(crate) fn prepare(story: Story) -> Result<(tempfile::TempDir, crate::plan::Plan)> {
    let dir = tempfile::Builder::new()
        .prefix("shipdeck-demo-")
        .tempdir()
        .context("cannot create a temporary directory for the demo")?;
    let plan_path = dir.path().join("plan.yaml");
    let text = if story.judged {
        format!("{PLAN}\n{CANARY}")
    } else {
        PLAN.to_string()
    };
    std::fs::write(&plan_path, text)
        .with_context(|| format!("cannot write {}", plan_path.display()))?;
    let flags_path = dir.path().join("flags.yaml");
    std::fs::write(&flags_path, FLAGS)
        .with_context(|| format!("cannot write {}", flags_path.display()))?;
    let mut plan = crate::plan::load(&plan_path)
        .map_err(|e| anyhow::anyhow!("the built-in demo plan is invalid:\n{e}"))?;
    if let SourceSpec::Simulated {
        scenario: s, arms, ..
    } = &mut plan.metrics.source
    {
        *s = story.scenario;
        if story.judged {
            *arms = ArmScenario::P95Regression;
        }
    }
    Ok((dir, plan))
}

pub fn story(name: &str) -> Story {
    let scenario = match name {
        "healthy" | "canary" => Scenario::Healthy,
        "slow-burn" => Scenario::SlowBurn,
        "flaky" => Scenario::Flaky,
        _ => Scenario::Incident,
    };
    Story {
        scenario,
        judged: name == "canary",
    }
}

/// Runs the demo on the screen. `operator` and `state_dir` are the global options.
pub async fn run(
    operator: Option<String>,
    state_dir: Option<PathBuf>,
    args: &DemoArgs,
) -> Result<u8> {
    let tui = match screen_options(args.theme.as_deref(), HEADLESS) {
        Ok(t) => t,
        Err(code) => return Ok(code),
    };
    let (dir, plan) = prepare(story(&args.scenario))?;
    let state_dir = state_dir.unwrap_or_else(|| dir.path().join(".shipdeck"));
    let store: Arc<dyn ReleaseStore> = Arc::new(FileStore::open(&state_dir)?);
    let clock = Clock::starting(chrono::Utc::now(), args.speed.unwrap_or(SPEED));
    let mut opts =
        controller::Options::new(operator.unwrap_or_else(|| "demo".into()), clock, "screen");
    opts.autopilot = true;
    opts.paced = true;
    let session = controller::open(Arc::new(plan), opts, store).await?;
    crate::tui::run(session, tui).await?;
    drop(dir);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::driver;
    use crate::control::{Snapshot, Stop};
    use crate::engine::Phase;
    use crate::engine::journal::Verb;
    use std::time::Duration;

    /// The healthy demo's autopilot, on short bakes, until the watch: every line it
    /// journals reads as a sentence (no reason repeating the approval, and the watch says
    /// how the last step ended before what the watch does).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_autopilots_approvals_read_as_sentences() {
        let (dir, mut plan) = prepare(story("healthy")).unwrap();
        // The pre-release list is ticked one item a second; the start is what matters here.
        plan.checklists.pre_release.clear();
        for step in &mut plan.rollout.steps {
            step.bake = Duration::from_secs(120);
        }
        let store: Arc<dyn ReleaseStore> =
            Arc::new(FileStore::open(&dir.path().join(".shipdeck")).unwrap());
        let clock = Clock::starting(chrono::Utc::now(), 600.0);
        let mut opts = controller::Options::new("demo".into(), clock, "screen");
        opts.autopilot = true;
        let session = controller::open(Arc::new(plan), opts, Arc::clone(&store))
            .await
            .unwrap();
        let handle = driver::spawn(session);
        let mut snapshots = handle.watch();
        let watching = |s: &Snapshot| matches!(s.engine.phase(), Phase::Watching);
        let reached = tokio::time::timeout(Duration::from_secs(60), async {
            while !watching(&snapshots.borrow_and_update()) {
                if snapshots.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
        let phase = handle.snapshot().engine.phase().clone();
        handle.stop(Stop::Finished).await;
        assert!(
            reached.is_ok(),
            "the demo did not reach its watch: {phase:?}"
        );

        let mut lines = Vec::new();
        store
            .journal_each(&mut |e| {
                if e.operator == "demo autopilot" {
                    lines.push((e.action.clone(), e.reason.clone()));
                }
            })
            .unwrap();
        let reason = |verb: Verb| {
            lines
                .iter()
                .filter(|(v, _)| *v == verb)
                .map(|(_, r)| r.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            reason(Verb::Promote),
            ["→ Internal (0%)", "→ Beta (5%) approved"]
        );
        assert_eq!(
            reason(Verb::Watch),
            ["last step Full approved; guardrails stay live for 1d"]
        );
    }
}
