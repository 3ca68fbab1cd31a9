//! act: `promote`, `pause`, `resume`, `rollback` and `tick`. A command goes to the
//! controller holding the release, or with none, this process takes the lock and carries
//! it out itself. Decides nothing: the engine accepts or refuses every command.

use anyhow::Result;
use std::time::Duration;

use super::Cli;
use super::args::{ActArgs, TickArgs};
use super::load::{load_plan, open_store, operator};
use crate::app::options::INVALID;
use crate::clock::Clock;
use crate::controller::{self, Message, Session};
use crate::engine::{Command, Input};

/// A command from this terminal: the holder carries it out through the inbox, or, with
/// nobody holding the release, this process takes the lock and acts directly.
pub(super) async fn act(cli: &Cli, args: &ActArgs, command: Command) -> Result<u8> {
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
pub(super) async fn tick(cli: &Cli, args: &TickArgs) -> Result<u8> {
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
