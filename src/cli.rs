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
    /// Validate a plan; exit 2 with file:line:column errors.
    Check { plan: PathBuf },
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

/// The control room screen for a session.
pub async fn screen(session: Session, theme: Option<String>, _demo: bool) -> Result<u8> {
    let opts = crate::tui::TuiOptions::from_args(theme.as_deref())?;
    crate::tui::run(session, opts).await?;
    Ok(0)
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
            let store = open_store(&cli, &plan)?;
            let opts = controller::Options::new(operator(&cli), args.clock.clock(), "screen");
            let session = controller::open(plan, opts, store).await?;
            screen(session, args.theme.clone(), false).await
        }
        Some(Cmd::Run(args)) => run(&cli, args).await,
        Some(Cmd::Check { plan: path }) => match plan::load(path) {
            Ok(p) => {
                println!("{}", plan::summary(&p));
                Ok(0)
            }
            Err(e) => {
                eprintln!("{e}");
                Ok(INVALID)
            }
        },
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
            json,
        })) => {
            let state = match crate::flags::file::read_file_flag(file, flag) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("{e}");
                    return Ok(INVALID);
                }
            };
            let eval = crate::flags::bucket::evaluate(flag, state.as_ref(), user, groups);
            if *json {
                println!("{}", serde_json::to_string(&eval)?);
            } else {
                let word = if eval.enabled { "ON" } else { "off" };
                println!(
                    "{} for {}: {word} ({}; bucket {})",
                    eval.flag, eval.user, eval.reason, eval.bucket
                );
            }
            Ok(0)
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
                print!(
                    "{}",
                    crate::journal::markdown(
                        &format!("{} {}", plan.release.name, plan.release.version),
                        &read.entries
                    )
                );
            } else {
                for e in &read.entries {
                    println!(
                        "{} {:<12} {} ({})",
                        e.at.format("%Y-%m-%dT%H:%M:%SZ"),
                        e.action,
                        e.reason,
                        e.operator
                    );
                    if let Some(x) = &e.explain {
                        println!("    why: {}", x.summary());
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
    let opts = controller::Options::new(operator(cli), args.clock.clock(), "headless");
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
        println!(
            "{}",
            serde_json::json!({"exit": outcome.code, "why": outcome.why})
        );
    } else {
        eprintln!("{}", outcome.why);
    }
    Ok(outcome.code)
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
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(0);
    }
    let Some(p) = progress else {
        println!(
            "{} {}: not started (no state in {})",
            plan.release.name,
            plan.release.version,
            store.describe()
        );
        return Ok(0);
    };
    let engine = crate::engine::Engine::restore(Arc::clone(&plan), p);
    let step = engine
        .step_index()
        .and_then(|i| {
            plan.rollout.steps.get(i).map(|s| {
                format!(
                    "step {}/{} {} ({}%)",
                    i + 1,
                    plan.rollout.steps.len(),
                    s.name,
                    s.percent
                )
            })
        })
        .unwrap_or_default();
    println!(
        "{} {} ─ {} ─ {} {step}",
        plan.release.name,
        plan.release.version,
        plan.release.strategy.name(),
        engine.phase().badge()
    );
    match engine.phase() {
        Phase::Paused { reason, .. }
        | Phase::RollingBack { reason }
        | Phase::RolledBack { reason } => println!("  why: {reason}"),
        _ => {}
    }
    if let Some(left) = engine.time_left() {
        println!(
            "  bake left: {}",
            crate::guardrail::format_secs(left.as_secs() as i64)
        );
    }
    let p = engine.progress();
    if let Some(live) = &p.live {
        let over = p
            .overridden
            .map(|o| format!(" (slider override {o}%)"))
            .unwrap_or_default();
        println!(
            "  flag {}: {}{over}",
            plan.flag.name,
            crate::engine::describe_flag(live)
        );
    }
    if let Some(x) = p.trips.last() {
        println!(
            "  last trip at {}: {}",
            x.at.format("%Y-%m-%d %H:%M:%SZ"),
            x.summary()
        );
        println!("    rule: {}", x.rule_text);
        if let Some(q) = &x.query {
            println!("    query: {q}");
        }
        let samples: Vec<String> = x
            .samples
            .iter()
            .map(|s| {
                format!(
                    "{} {}",
                    s.at.format("%H:%M:%S"),
                    s.value
                        .map(|v| crate::guardrail::format_value(v, x.unit))
                        .unwrap_or_else(|| "missing".into())
                )
            })
            .collect();
        println!("    samples: {}", samples.join(", "));
    }
    match holder {
        Some(h) => println!("  held by {}", controller::describe_holder(&h)),
        None => println!("  no controller running"),
    }
    if let Some(e) = journal.entries.last() {
        println!("  last: {}", e.line());
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
            println!("{m}");
            Ok(0)
        }
        Err(m) => {
            eprintln!("{m}");
            Ok(1)
        }
    }
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
