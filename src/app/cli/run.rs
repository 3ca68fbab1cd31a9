//! run: `shipdeck run --headless`, a release driven with no screen. Opens the release
//! and prints how the headless run ended; the driving is `app::headless`'s.

use anyhow::{Result, bail};

use super::Cli;
use super::args::RunArgs;
use super::load::{load_plan, metrics_listener, open_release, open_store, operator};
use crate::control as controller;

pub(super) async fn run(cli: &Cli, args: &RunArgs) -> Result<u8> {
    if !args.headless {
        bail!(
            "`shipdeck run` drives a release without a screen: add --headless (or use `shipdeck open PLAN` for the screen)"
        );
    }
    let plan = match load_plan(args.plan.as_deref(), "run") {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let exporter = match metrics_listener(args.metrics_listen.as_deref()).await {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    if let Some(l) = &exporter {
        eprintln!("serving metrics at http://{}/metrics", l.local_addr());
    }
    let store = open_store(cli, &plan)?;
    // A cron run guards only while it runs, by design: its stop is no warning.
    let mode = if args.once {
        controller::open::ONCE
    } else if args.standby {
        crate::store::postgres::STANDBY
    } else {
        "headless"
    };
    let mut opts = controller::Options::new(operator(cli), args.clock.clock(), mode);
    opts.record = args.record.clone();
    opts.plan_path = Some(plan.path.clone());
    opts.accept_plan_change = args.accept_plan_change;
    let mut session = match open_release(plan, opts, store).await? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    if let Some(l) = exporter {
        session.controller.serve_metrics(l);
    }
    if let Some(h) = session.controller.follower_of()
        && !args.standby
    {
        eprintln!(
            "another controller holds this release: {h}\n  hint: send it commands with `shipdeck promote|pause|resume|rollback PLAN`, watch it with `shipdeck status PLAN`, or stand by to take over with `--standby`"
        );
        return Ok(1);
    }
    let outcome = crate::app::headless::run(
        session,
        crate::app::headless::Options {
            json: args.json,
            once: args.once,
            wait_for_approval: args.wait_for_approval,
            max_pause: args.max_pause,
            standby: args.standby,
        },
    )
    .await;
    if args.json {
        out!(
            "{}",
            serde_json::json!({"exit": outcome.code, "why": outcome.why})
        );
    } else {
        // The why may quote a reason or a name from outside.
        eprintln!("{}", crate::support::escape::shown(&outcome.why));
    }
    Ok(outcome.code)
}
