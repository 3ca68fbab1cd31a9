//! cli: the command line — parses arguments, opens what they name, and turns every
//! outcome into an exit code and a message that says what to do. Owns no release logic.
//! One file per command or group of commands; their arguments all live in `args`.

use anyhow::Result;

use crate::app::demo::{self, DemoArgs};
use crate::engine::Command;

mod act;
pub mod args;
mod backtest;
mod check;
mod flags;
mod fleet;
mod fleet_screen;
mod init;
mod journal;
mod judge;
mod load;
mod manual;
mod notes;
mod open;
mod replay;
mod run;
mod samples;
mod status;

use crate::app::options::INVALID;
pub use args::Cli;
use args::{Cmd, FlagsCmd, StoreArg, StoreCmd};

/// Runs the command line; returns the process exit code.
pub async fn main(cli: Cli) -> Result<u8> {
    if cli.command.is_some() && (!cli.plan_dir.is_empty() || cli.theme.is_some()) {
        eprintln!(
            "--plan-dir and --theme before a command are for the screen `shipdeck` opens with no command; give a command's own options after it (`shipdeck open PLAN --theme light`)"
        );
        return Ok(INVALID);
    }
    match &cli.command {
        None if cli.store == Some(StoreArg::Postgres) => fleet_screen::fleet_screen(&cli).await,
        None if !cli.plan_dir.is_empty() => {
            eprintln!(
                "--plan-dir is for the fleet screen: `shipdeck --store postgres --plan-dir DIR`"
            );
            Ok(INVALID)
        }
        None => {
            demo::run(
                cli.operator.clone(),
                cli.state_dir.clone(),
                &DemoArgs {
                    scenario: "incident".into(),
                    speed: None,
                    theme: cli.theme.clone(),
                },
            )
            .await
        }
        Some(Cmd::Demo(args)) => demo::run(cli.operator.clone(), cli.state_dir.clone(), args).await,
        Some(Cmd::Open(args)) => open::open(&cli, args).await,
        Some(Cmd::Run(args)) => run::run(&cli, args).await,
        Some(Cmd::Check(args)) => check::check(args).await,
        Some(Cmd::Backtest(args)) => backtest::backtest(args).await,
        Some(Cmd::Judge(args)) => Ok(judge::judge(args)),
        Some(Cmd::Replay(args)) => replay::replay(&cli, args).await,
        Some(Cmd::Status { plan: path, json }) => status::status(&cli, path.as_deref(), *json),
        Some(Cmd::Promote(a)) => act::act(&cli, a, Command::Promote { force: a.force }).await,
        Some(Cmd::Pause(a)) => act::act(&cli, a, Command::Pause).await,
        Some(Cmd::Resume(a)) => act::act(&cli, a, Command::Resume { force: a.force }).await,
        Some(Cmd::Rollback(a)) => act::act(&cli, a, Command::Rollback).await,
        Some(Cmd::Redeploy(a)) => act::act(&cli, a, Command::Redeploy).await,
        Some(Cmd::Flags(FlagsCmd::Eval {
            flag,
            user,
            groups,
            file,
            plan,
            json,
        })) => flags::flags_eval(flag, user, groups, file, plan.as_deref(), *json).await,
        Some(Cmd::Flags(FlagsCmd::List { plan, users, json })) => {
            flags::flags_list(plan.as_deref(), *users, *json).await
        }
        Some(Cmd::Tick(args)) => act::tick(&cli, args).await,
        Some(Cmd::Note(args)) => act::note(&cli, args).await,
        Some(Cmd::Notes { plan: path, plain }) => notes::notes(path.as_deref(), *plain),
        Some(Cmd::Init(args)) => init::init(args),
        Some(Cmd::Releases { json }) => fleet::releases(*json),
        Some(Cmd::Store(StoreCmd::Copy { plan, to })) => fleet::copy(&cli, plan.as_deref(), *to),
        Some(Cmd::Completions { shell }) => manual::completions(*shell),
        Some(Cmd::Man) => manual::man(),
        Some(Cmd::Journal {
            plan: path,
            markdown,
        }) => journal::journal(&cli, path.as_deref(), *markdown),
    }
}
