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
mod init;
mod journal;
mod load;
mod notes;
mod open;
mod replay;
mod run;
mod status;

pub use args::Cli;
use args::{Cmd, FlagsCmd};

/// Runs the command line; returns the process exit code.
pub async fn main(cli: Cli) -> Result<u8> {
    match &cli.command {
        None => {
            demo::run(
                cli.operator.clone(),
                cli.state_dir.clone(),
                &DemoArgs {
                    scenario: "incident".into(),
                    speed: None,
                    theme: None,
                },
            )
            .await
        }
        Some(Cmd::Demo(args)) => demo::run(cli.operator.clone(), cli.state_dir.clone(), args).await,
        Some(Cmd::Open(args)) => open::open(&cli, args).await,
        Some(Cmd::Run(args)) => run::run(&cli, args).await,
        Some(Cmd::Check(args)) => check::check(args).await,
        Some(Cmd::Backtest(args)) => backtest::backtest(args).await,
        Some(Cmd::Replay(args)) => replay::replay(&cli, args).await,
        Some(Cmd::Status { plan: path, json }) => status::status(&cli, path, *json),
        Some(Cmd::Promote(a)) => act::act(&cli, a, Command::Promote { force: a.force }).await,
        Some(Cmd::Pause(a)) => act::act(&cli, a, Command::Pause).await,
        Some(Cmd::Resume(a)) => act::act(&cli, a, Command::Resume { force: a.force }).await,
        Some(Cmd::Rollback(a)) => act::act(&cli, a, Command::Rollback).await,
        Some(Cmd::Flags(FlagsCmd::Eval {
            flag,
            user,
            groups,
            file,
            plan,
            json,
        })) => flags::flags_eval(flag, user, groups, file, plan.as_deref(), *json).await,
        Some(Cmd::Flags(FlagsCmd::List { plan, users, json })) => {
            flags::flags_list(plan, *users, *json).await
        }
        Some(Cmd::Tick(args)) => act::tick(&cli, args).await,
        Some(Cmd::Notes { plan: path, plain }) => notes::notes(path, *plain),
        Some(Cmd::Init(args)) => init::init(args),
        Some(Cmd::Journal {
            plan: path,
            markdown,
        }) => journal::journal(&cli, path, *markdown),
    }
}
