//! cli: the command line — parses arguments, opens what they name, and turns every
//! outcome into an exit code and a message that says what to do. Owns no release logic.

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::controller::{self, Message, Session};
use crate::engine::{Command, Input, Phase};
use crate::plan::{self, Plan};
use crate::store::{FileStore, ReleaseStore};

/// Exit code for input a user can fix (a bad plan, a bad flag file).
pub const INVALID: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "shipdeck",
    version,
    about = "A terminal release control room: progressive rollouts driven by real metrics and guardrails"
)]
pub struct Cli {
    /// Who is acting (journaled with every action); default $SHIPDECK_OPERATOR, then $USER.
    #[arg(long, global = true, env = "SHIPDECK_OPERATOR")]
    pub operator: Option<String>,
    /// Where state.json, journal.jsonl and the lock live; default .shipdeck/ beside the plan.
    #[arg(long, global = true)]
    pub state_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// The built-in demo: a release, an incident and an automatic rollback, with no setup.
    Demo(DemoArgs),
    /// The control room on a real plan.
    Open(OpenArgs),
    /// Drive a release with no screen (CI/CD, cron).
    Run(RunArgs),
    /// Validate a plan and run each metrics query once; exit 2 with file:line:column errors
    /// or with the series whose query failed.
    Check(CheckArgs),
    /// When would these guardrails have paused or rolled back? The plan over past metrics.
    Backtest(BacktestArgs),
    /// Play a flight recording (`--record`): on the screen, or headless to check that the
    /// engine still decides the same.
    Replay(ReplayArgs),
    /// Where a release stands, and why.
    Status {
        plan: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Promote to the next step (or start the rollout).
    Promote(ActArgs),
    /// Pause the rollout: timers freeze, the percent holds.
    Pause(ActArgs),
    /// Resume a paused rollout.
    Resume(ActArgs),
    /// Roll back: the flag is disabled at once.
    Rollback(ActArgs),
    /// Feature flags: evaluate who gets a flag.
    #[command(subcommand)]
    Flags(FlagsCmd),
    /// Tick a checklist item by hand (through the controller holding the release, if any).
    Tick(TickArgs),
    /// The plan's release notes as Markdown.
    Notes {
        plan: PathBuf,
        /// Leave out the section marks (✨ 🔧 🐛 ⚠️).
        #[arg(long)]
        plain: bool,
    },
    /// Write a commented plan.yaml and flags.yaml to start a release from.
    Init(InitArgs),
    /// The journal: every action and decision.
    Journal {
        plan: PathBuf,
        /// A Markdown timeline, ready for the postmortem.
        #[arg(long)]
        markdown: bool,
    },
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[arg(long, default_value = "incident", value_parser = ["healthy", "incident", "slow-burn", "flaky"])]
    pub scenario: String,
    /// Engine seconds per real second.
    #[arg(long)]
    pub speed: Option<f64>,
    /// dark, light, high-contrast, or a theme file.
    #[arg(long)]
    pub theme: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct ClockArgs {
    /// The engine clock starts here (RFC 3339); metrics are asked for at that clock.
    #[arg(long, value_parser = parse_time)]
    pub clock_start: Option<chrono::DateTime<chrono::Utc>>,
    /// The engine clock runs N times real time.
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
}

impl ClockArgs {
    fn clock(&self) -> Clock {
        Clock::starting(
            self.clock_start.unwrap_or_else(chrono::Utc::now),
            self.speed,
        )
    }
}

#[derive(Debug, Args)]
pub struct OpenArgs {
    pub plan: PathBuf,
    #[arg(long)]
    pub theme: Option<String>,
    #[command(flatten)]
    pub clock: ClockArgs,
    /// Record every sample batch, command and decision to this new file, for `shipdeck replay`.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    pub plan: PathBuf,
    /// Ask the metrics queries at this time (RFC 3339) instead of now.
    #[arg(long, value_parser = parse_time)]
    pub at: Option<chrono::DateTime<chrono::Utc>>,
    /// Validate the file only; do not contact the metrics source.
    #[arg(long)]
    pub no_probe: bool,
}

#[derive(Debug, Args)]
pub struct BacktestArgs {
    pub plan: PathBuf,
    /// Start of the range (RFC 3339); the first `baseline_window` of it is the baseline.
    #[arg(long, value_parser = parse_time)]
    pub from: chrono::DateTime<chrono::Utc>,
    /// End of the range (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    pub to: chrono::DateTime<chrono::Utc>,
    /// The report as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    pub recording: PathBuf,
    /// Engine seconds per real second; default: the recorded speed on screen, as fast as
    /// possible headless.
    #[arg(long)]
    pub speed: Option<f64>,
    /// No screen: feed the recorded inputs to the engine and compare its decisions with the
    /// recorded ones (exit 0 the same, 1 diverged).
    #[arg(long)]
    pub headless: bool,
    /// Headless output as JSON lines.
    #[arg(long)]
    pub json: bool,
    /// dark, light, high-contrast, or a theme file.
    #[arg(long)]
    pub theme: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    pub plan: PathBuf,
    /// No screen (the only way `run` works; kept explicit for scripts).
    #[arg(long)]
    pub headless: bool,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
    /// Evaluate once at the current clock and exit (for cron).
    #[arg(long)]
    pub once: bool,
    /// Wait for `shipdeck promote` at manual approvals instead of exiting 4.
    #[arg(long)]
    pub wait_for_approval: bool,
    /// How long (engine time) a guardrail pause may last before exiting 4.
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    pub max_pause: Duration,
    #[command(flatten)]
    pub clock: ClockArgs,
    /// Record every sample batch, command and decision to this new file, for `shipdeck replay`.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ActArgs {
    pub plan: PathBuf,
    /// Why (journaled).
    #[arg(long)]
    pub reason: Option<String>,
    /// Act past open checklist items, unclear guardrails or a starved step (journaled as forced).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct TickArgs {
    pub plan: PathBuf,
    /// The item's text, in any case; a unique prefix is enough.
    pub item: String,
    /// Look only in this list: pre-release, release-day, post-release or rollback.
    #[arg(long, value_parser = crate::checklist::parse_list)]
    pub list: Option<crate::plan::ListKind>,
    /// Untick the item instead.
    #[arg(long)]
    pub undo: bool,
    /// Why (journaled).
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[arg(long, value_enum, default_value = "canary")]
    pub template: crate::init::Template,
    /// The release name; default: the folder's name.
    #[arg(long)]
    pub name: Option<String>,
    /// Where to write plan.yaml and flags.yaml (made if missing).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum FlagsCmd {
    /// Would this user get the flag? Same bucketing as Unleash's gradual rollout.
    Eval {
        flag: String,
        #[arg(long)]
        user: String,
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
        #[arg(long, default_value = "flags.yaml")]
        file: PathBuf,
        /// Read the flag from this plan's backend (file, flagd or Unleash) and bucket the
        /// way that backend's SDKs do, instead of reading --file.
        #[arg(long)]
        plan: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// The plan's flag as its backend holds it, with a bucket preview for every step.
    List {
        plan: PathBuf,
        /// How many sample users (user-0, user-1, …) the preview buckets.
        #[arg(long, default_value_t = 1000)]
        users: usize,
        #[arg(long)]
        json: bool,
    },
}

fn parse_time(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("{e}; write it as RFC 3339, e.g. 2026-03-15T14:00:00Z"))
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    plan::units::parse_duration(s)
}

/// The operator: `--operator`, else `$SHIPDECK_OPERATOR` (clap reads it), else `$USER`.
fn operator(cli: &Cli) -> String {
    cli.operator
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn load_plan(path: &Path) -> Result<Arc<Plan>, u8> {
    match plan::load(path) {
        Ok(p) => Ok(Arc::new(p)),
        Err(e) => {
            eprintln!("{e}");
            Err(INVALID)
        }
    }
}

fn open_store(cli: &Cli, plan: &Plan) -> Result<Arc<dyn ReleaseStore>> {
    let dir = cli
        .state_dir
        .clone()
        .unwrap_or_else(|| crate::store::state_dir_for(&plan.path));
    let store = FileStore::open(&dir)
        .with_context(|| format!("cannot use the state directory {}", dir.display()))?;
    Ok(Arc::new(store))
}

/// The screen's options from `--theme` and `NO_COLOR`; a bad theme is the user's to fix.
pub fn screen_options(theme: Option<&str>) -> Result<crate::tui::TuiOptions, u8> {
    crate::tui::TuiOptions::from_args(theme).map_err(|e| {
        eprintln!("{e}");
        INVALID
    })
}

/// Runs the command line; returns the process exit code.
pub async fn main(cli: Cli) -> Result<u8> {
    match &cli.command {
        None => {
            crate::demo::run(
                &cli,
                &DemoArgs {
                    scenario: "incident".into(),
                    speed: None,
                    theme: None,
                },
            )
            .await
        }
        Some(Cmd::Demo(args)) => crate::demo::run(&cli, args).await,
        Some(Cmd::Open(args)) => {
            let plan = match load_plan(&args.plan) {
                Ok(p) => p,
                Err(code) => return Ok(code),
            };
            let tui = match screen_options(args.theme.as_deref()) {
                Ok(t) => t,
                Err(code) => return Ok(code),
            };
            let store = open_store(&cli, &plan)?;
            let mut opts = controller::Options::new(operator(&cli), args.clock.clock(), "screen");
            opts.record = args.record.clone();
            let session = controller::open(plan, opts, store).await?;
            if args.record.is_some() && !session.controller.holds() {
                eprintln!("warning: following another controller; only the holder records");
            }
            crate::tui::run(session, tui).await?;
            Ok(0)
        }
        Some(Cmd::Run(args)) => run(&cli, args).await,
        Some(Cmd::Check(args)) => check(args).await,
        Some(Cmd::Backtest(args)) => backtest(args).await,
        Some(Cmd::Replay(args)) => replay(&cli, args).await,
        Some(Cmd::Status { plan: path, json }) => status(&cli, path, *json),
        Some(Cmd::Promote(a)) => act(&cli, a, Command::Promote { force: a.force }).await,
        Some(Cmd::Pause(a)) => act(&cli, a, Command::Pause).await,
        Some(Cmd::Resume(a)) => act(&cli, a, Command::Resume { force: a.force }).await,
        Some(Cmd::Rollback(a)) => act(&cli, a, Command::Rollback).await,
        Some(Cmd::Flags(FlagsCmd::Eval {
            flag,
            user,
            groups,
            file,
            plan,
            json,
        })) => flags_eval(flag, user, groups, file, plan.as_deref(), *json).await,
        Some(Cmd::Flags(FlagsCmd::List { plan, users, json })) => {
            flags_list(plan, *users, *json).await
        }
        Some(Cmd::Tick(args)) => tick(&cli, args).await,
        Some(Cmd::Notes { plan: path, plain }) => {
            let plan = match load_plan(path) {
                Ok(p) => p,
                Err(code) => return Ok(code),
            };
            let today = chrono::Local::now().date_naive();
            out_part!("{}", crate::notes::markdown(&plan.release, today, !plain));
            if crate::notes::is_empty(&plan.release) {
                eprintln!(
                    "hint: {} has no release notes yet; add `release.notes` with `features`, `improvements`, `fixes` and `breaking` lists",
                    path.display()
                );
            }
            Ok(0)
        }
        Some(Cmd::Init(args)) => {
            let name = args
                .name
                .clone()
                .unwrap_or_else(|| crate::init::name_from_folder(&args.dir));
            match crate::init::write(&args.dir, args.template, &name) {
                Ok(files) => {
                    for f in &files {
                        out!("wrote {}", f.display());
                    }
                    let plan = args.dir.join("plan.yaml");
                    out!(
                        "next: edit {0}, then `shipdeck check {0}` and `shipdeck open {0}`",
                        plan.display()
                    );
                    Ok(0)
                }
                Err(e) => {
                    eprintln!("{e}");
                    Ok(INVALID)
                }
            }
        }
        Some(Cmd::Journal {
            plan: path,
            markdown,
        }) => {
            let plan = match load_plan(path) {
                Ok(p) => p,
                Err(code) => return Ok(code),
            };
            let store = open_store(&cli, &plan)?;
            let read = store.journal()?;
            if *markdown {
                out_part!(
                    "{}",
                    crate::engine::journal::markdown(
                        &format!("{} {}", plan.release.name, plan.release.version),
                        &read.entries
                    )
                );
            } else {
                for e in &read.entries {
                    out!(
                        "{} {:<12} {} ({})",
                        e.at.format("%Y-%m-%dT%H:%M:%SZ"),
                        e.action,
                        e.reason,
                        e.operator
                    );
                    if let Some(x) = &e.explain {
                        out!("    why: {}", x.summary());
                    }
                }
            }
            if let Some(t) = read.torn {
                eprintln!(
                    "warning: journal line {} was torn by a crash and is skipped: {}",
                    t.line, t.text
                );
            }
            Ok(0)
        }
    }
}

async fn run(cli: &Cli, args: &RunArgs) -> Result<u8> {
    if !args.headless {
        bail!(
            "`shipdeck run` drives a release without a screen: add --headless (or use `shipdeck open PLAN` for the screen)"
        );
    }
    let plan = match load_plan(&args.plan) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let store = open_store(cli, &plan)?;
    let mut opts = controller::Options::new(operator(cli), args.clock.clock(), "headless");
    opts.record = args.record.clone();
    let session = controller::open(plan, opts, store).await?;
    if let Some(h) = session.controller.follower_of() {
        eprintln!(
            "another controller holds this release: {h}\n  hint: send it commands with `shipdeck promote|pause|resume|rollback PLAN`, or watch it with `shipdeck status PLAN`"
        );
        return Ok(1);
    }
    let outcome = crate::headless::run(
        session,
        crate::headless::Options {
            json: args.json,
            once: args.once,
            wait_for_approval: args.wait_for_approval,
            max_pause: args.max_pause,
        },
    )
    .await;
    if args.json {
        out!(
            "{}",
            serde_json::json!({"exit": outcome.code, "why": outcome.why})
        );
    } else {
        eprintln!("{}", outcome.why);
    }
    Ok(outcome.code)
}

async fn check(args: &CheckArgs) -> Result<u8> {
    let plan = match load_plan(&args.plan) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    out!("{}", plan::summary(&plan));
    if args.no_probe {
        return Ok(0);
    }
    let at = args.at.unwrap_or_else(chrono::Utc::now);
    match crate::backtest::probe(&plan, at).await {
        Ok(None) => Ok(0),
        Ok(Some(probe)) => {
            out_part!("{}", probe.text(&plan));
            let failed = probe.failures();
            if failed == 0 {
                return Ok(0);
            }
            eprintln!(
                "{}: {failed} of {} series failed their query (above)",
                args.plan.display(),
                probe.readings.len()
            );
            Ok(INVALID)
        }
        Err(e) => {
            eprintln!(
                "{}: the metrics source: {e}\n  hint: `shipdeck check --no-probe` validates the file alone",
                args.plan.display()
            );
            Ok(INVALID)
        }
    }
}

async fn backtest(args: &BacktestArgs) -> Result<u8> {
    let plan = match load_plan(&args.plan) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let report = match controller::open_metrics(&plan) {
        Ok(mut source) => {
            crate::backtest::run(Arc::clone(&plan), source.as_mut(), args.from, args.to).await
        }
        Err(e) => {
            eprintln!("{}: the metrics source: {e}", args.plan.display());
            return Ok(INVALID);
        }
    };
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return Ok(INVALID);
        }
    };
    if args.json {
        out!("{}", serde_json::to_string(&report)?);
    } else {
        out_part!("{}", report.text());
    }
    // A series that never answered says nothing about its rules: the user must fix it.
    Ok(if report.failed().is_empty() {
        0
    } else {
        INVALID
    })
}

async fn replay(cli: &Cli, args: &ReplayArgs) -> Result<u8> {
    let recording = match crate::recorder::Recording::read(&args.recording) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return Ok(INVALID);
        }
    };
    if let Err(e) = recording.plan() {
        eprintln!("{e}");
        return Ok(INVALID);
    }
    if let Some(line) = recording.torn {
        eprintln!(
            "warning: {}:{line} was cut short (the recording process was killed) and is skipped",
            args.recording.display()
        );
    }
    if args.headless {
        return Ok(crate::recorder::play_headless(&recording, args.speed, args.json).await);
    }
    let tui = match screen_options(args.theme.as_deref()) {
        Ok(t) => t,
        Err(code) => return Ok(code),
    };
    let (sandbox, session) =
        crate::recorder::sandbox(&recording, args.speed, operator(cli)).await?;
    crate::tui::run(session, tui).await?;
    drop(sandbox);
    Ok(0)
}

fn status(cli: &Cli, path: &Path, json: bool) -> Result<u8> {
    let plan = match load_plan(path) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let store = open_store(cli, &plan)?;
    let progress = store.load()?;
    let holder = store.holder()?;
    let journal = store.journal()?;
    if json {
        let value = serde_json::json!({
            "release": plan.release.name,
            "version": plan.release.version,
            "progress": progress,
            "holder": holder,
            "journal_entries": journal.entries.len(),
        });
        out!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(0);
    }
    let Some(p) = progress else {
        out!(
            "{} {}: not started (no state in {})",
            plan.release.name,
            plan.release.version,
            store.describe()
        );
        return Ok(0);
    };
    let engine = crate::engine::Engine::follow(Arc::clone(&plan), p);
    let step = engine
        .step_index()
        .and_then(|i| {
            plan.rollout
                .steps
                .get(i)
                .map(|s| format!("step {}/{} {}", i + 1, plan.rollout.steps.len(), s.title()))
        })
        .unwrap_or_default();
    out!(
        "{} {} ─ {} ─ {} {step}",
        plan.release.name,
        plan.release.version,
        plan.release.strategy.name(),
        engine.phase().badge()
    );
    match engine.phase() {
        Phase::Paused { reason, .. }
        | Phase::RollingBack { reason }
        | Phase::RolledBack { reason } => out!("  why: {reason}"),
        _ => {}
    }
    if let Some(left) = engine.time_left() {
        out!(
            "  bake left: {}",
            crate::engine::guardrail::format_secs(left.as_secs() as i64)
        );
    }
    let p = engine.progress();
    if let Some(live) = &p.live {
        let over = p
            .overridden
            .map(|o| format!(" (slider override {o}%)"))
            .unwrap_or_default();
        out!(
            "  flag {}: {}{over}",
            plan.flag.name,
            crate::engine::describe_flag(live)
        );
    }
    if let Some(x) = p.trips.last() {
        out!(
            "  last trip at {}: {}",
            x.at.format("%Y-%m-%d %H:%M:%SZ"),
            x.summary()
        );
        out!("    rule: {}", x.rule_text);
        if let Some(q) = &x.query {
            out!("    query: {q}");
        }
        let samples: Vec<String> = x
            .samples
            .iter()
            .map(|s| {
                format!(
                    "{} {}",
                    s.at.format("%H:%M:%S"),
                    s.value
                        .map(|v| crate::engine::guardrail::format_value(v, x.unit))
                        .unwrap_or_else(|| "missing".into())
                )
            })
            .collect();
        out!("    samples: {}", samples.join(", "));
    }
    match holder {
        Some(h) => out!("  held by {}", controller::describe_holder(&h)),
        None => out!("  no controller running"),
    }
    if let Some(e) = journal.entries.last() {
        out!("  last: {}", e.line());
    }
    Ok(0)
}

/// A command from this terminal: the holder carries it out through the inbox, or, with
/// nobody holding the release, this process takes the lock and acts directly.
async fn act(cli: &Cli, args: &ActArgs, command: Command) -> Result<u8> {
    let plan = match load_plan(&args.plan) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let store = open_store(cli, &plan)?;
    let opts = controller::Options::new(operator(cli), Clock::live(), "command");
    let mut session = controller::open(plan, opts, store).await?;
    let result = if session.controller.holds() {
        act_directly(&mut session, command, args.reason.clone()).await
    } else {
        match session.controller.command(command, args.reason.clone()) {
            Err(e) => Err(e),
            Ok(_) => wait_answer(&mut session).await,
        }
    };
    session.controller.settle().await;
    match result {
        Ok(m) => {
            out!("{m}");
            Ok(0)
        }
        Err(m) => {
            eprintln!("{m}");
            Ok(1)
        }
    }
}

/// `shipdeck tick`: finds the item from what was typed, then acts like `promote` does.
async fn tick(cli: &Cli, args: &TickArgs) -> Result<u8> {
    let plan = match load_plan(&args.plan) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let (list, item) = match crate::checklist::find_item(&plan.checklists, &args.item, args.list) {
        Ok(found) => found,
        Err(e) => {
            eprintln!("{e}");
            return Ok(INVALID);
        }
    };
    if let Some(it) = plan.checklists.list(list).get(item)
        && let Some(check) = &it.check
    {
        eprintln!(
            "\"{}\" ticks itself ({}); it cannot be ticked by hand",
            it.text,
            crate::checklist::describe_check(check)
        );
        return Ok(1);
    }
    let act_args = ActArgs {
        plan: args.plan.clone(),
        reason: args.reason.clone(),
        force: false,
    };
    let done = !args.undo;
    act(cli, &act_args, Command::Tick { list, item, done }).await
}

async fn act_directly(
    session: &mut Session,
    command: Command,
    reason: Option<String>,
) -> Result<String, String> {
    // The baseline and the guardrails need the recent history first.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while let Ok(Some(m)) = tokio::time::timeout_at(deadline, session.messages.recv()).await {
        let history = matches!(m, Message::Input(Input::History { .. }));
        session.controller.handle(m);
        if history {
            break;
        }
    }
    let answer = session.controller.command(command, reason)?;
    while !session.controller.engine().progress().confirmed_or_idle() {
        match tokio::time::timeout_at(deadline, session.messages.recv()).await {
            Ok(Some(m)) => {
                session.controller.handle(m);
            }
            _ => {
                return Err(format!(
                    "{answer}; the flag backend has not confirmed yet ({}) — run the command again or check the backend",
                    session.controller.notice().unwrap_or("no answer")
                ));
            }
        }
    }
    Ok(answer)
}

async fn wait_answer(session: &mut Session) -> Result<String, String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(12);
    while let Ok(Some(m)) = tokio::time::timeout_at(deadline, session.messages.recv()).await {
        if let Message::Answer(_, a) = m {
            let holder = session
                .controller
                .follower_of()
                .unwrap_or("the holder")
                .to_string();
            return if a.ok {
                Ok(format!("{} (carried out by {holder})", a.message))
            } else {
                Err(a.message)
            };
        }
    }
    Err("no answer from the controller holding the release".into())
}

/// A flag error's exit code: 1 for a backend that could not be reached or refused
/// (try again), 2 for input the user can fix.
fn flag_error_code(e: &crate::flags::FlagError) -> u8 {
    match e {
        crate::flags::FlagError::Unleash { .. } => 1,
        _ => INVALID,
    }
}

/// `shipdeck flags eval`: from a flag file, or from a plan's backend with its bucketing.
async fn flags_eval(
    flag: &str,
    user: &str,
    groups: &[String],
    file: &Path,
    plan: Option<&Path>,
    json: bool,
) -> Result<u8> {
    let eval = match plan {
        Some(path) => {
            let plan = match load_plan(path) {
                Ok(p) => p,
                Err(code) => return Ok(code),
            };
            let spec = plan::FlagSpec {
                name: flag.to_string(),
                ..plan.flag.clone()
            };
            match crate::flags::inspect(&spec).await {
                Ok(found) => found.evaluate(user, groups),
                Err(e) => {
                    eprintln!("{e}");
                    return Ok(flag_error_code(&e));
                }
            }
        }
        None => match crate::flags::file::read_file_flag(file, flag) {
            Ok(state) => crate::flags::bucket::evaluate(flag, state.as_ref(), user, groups),
            Err(e) => {
                eprintln!("{e}");
                return Ok(INVALID);
            }
        },
    };
    if json {
        out!("{}", serde_json::to_string(&eval)?);
    } else {
        let word = if eval.enabled { "ON" } else { "off" };
        out!(
            "{} for {}: {word} ({}; bucket {})",
            eval.flag,
            eval.user,
            eval.reason,
            eval.bucket
        );
    }
    Ok(0)
}

/// `shipdeck flags list PLAN`: the flag where the plan's backend keeps it, and how many
/// sample users each step reaches by that backend's buckets.
async fn flags_list(path: &Path, users: usize, json: bool) -> Result<u8> {
    let plan = match load_plan(path) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let found = match crate::flags::inspect(&plan.flag).await {
        Ok(found) => found,
        Err(e) => {
            eprintln!("{e}");
            return Ok(flag_error_code(&e));
        }
    };
    let steps: Vec<serde_json::Value> = plan
        .rollout
        .steps
        .iter()
        .map(|s| {
            serde_json::json!({
                "step": s.name, "percent": s.percent, "groups": s.groups,
                "reach": found.reach(s.percent, users),
            })
        })
        .collect();
    let others = match &plan.flag.backend {
        plan::BackendSpec::File { path } => crate::flags::list_flags(path)
            .unwrap_or_default()
            .into_iter()
            .filter(|(name, _)| *name != plan.flag.name)
            .collect(),
        _ => Vec::new(),
    };
    if json {
        let value = serde_json::json!({
            "flag": found, "sample_users": users, "steps": steps,
            "other_flags": others.iter().map(|(n, s)| serde_json::json!({"name": n, "state": s})).collect::<Vec<_>>(),
        });
        out!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(0);
    }
    let state = found.state.as_ref().map_or(
        "missing (shipdeck creates it off at 0% on start)".into(),
        |s| format!("{} [{}]", s.summary(), s.kind.name()),
    );
    out!("{} in {}: {state}", found.flag, found.backend);
    match &found.bucketing {
        crate::flags::Bucketing::Flagd => out!(
            "  bucketing: flagd fractional over \"{}<user>\" (murmur3)",
            found.flag
        ),
        crate::flags::Bucketing::Unleash {
            group_id,
            stickiness,
        } => out!(
            "  bucketing: Unleash gradual rollout, murmur3(\"{group_id}:<user>\") % 100 + 1, stickiness {stickiness}"
        ),
    }
    if let Some(s) = &found.state {
        let now = found.reach(if s.enabled { s.percent() } else { 0 }, users);
        out!("  now: {now} of {users} sample users outside the groups");
    }
    out!("  preview over {users} sample users (user-0 …) by step:");
    for (step, value) in plan.rollout.steps.iter().zip(&steps) {
        let reach = value["reach"].as_u64().unwrap_or_default();
        let groups = if step.groups.is_empty() {
            String::new()
        } else {
            format!("  + everyone in [{}]", step.groups.join(", "))
        };
        out!(
            "    {:<16} {:>3}%  {reach:>6} users ({:.1}%){groups}",
            step.name,
            step.percent,
            reach as f64 * 100.0 / users.max(1) as f64
        );
    }
    let samples: Vec<String> = (0..5)
        .map(|i| {
            let user = format!("user-{i}");
            format!("{user} bucket {}", found.evaluate(&user, &[]).bucket)
        })
        .collect();
    out!("  sample buckets: {}", samples.join(", "));
    if !others.is_empty() {
        out!("  other flags in the file:");
        for (name, s) in &others {
            out!("    {name:<24} {} [{}]", s.summary(), s.kind.name());
        }
    }
    Ok(0)
}

/// Writes command output to stdout (through [`out!`]). A closed pipe ends the process with
/// success: whoever read the output has all they wanted. Any other failure to write (a
/// full disk behind a redirect) ends it with an error, instead of losing output quietly.
pub fn write_out(args: std::fmt::Arguments) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write the output: {e}");
        std::process::exit(1);
    }
}
