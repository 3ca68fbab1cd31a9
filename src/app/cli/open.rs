//! open: `shipdeck open`, the control room on a real plan. Gets the session and the
//! screen's options ready; the screen does the rest.

use anyhow::Result;

use super::Cli;
use super::args::OpenArgs;
use super::load::{load_plan, metrics_listener, open_release, open_store, operator};
use crate::app::options::{HEADLESS, screen_options};
use crate::control as controller;

pub(super) async fn open(cli: &Cli, args: &OpenArgs) -> Result<u8> {
    let plan = match load_plan(args.plan.as_deref(), "open") {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let tui = match screen_options(args.theme.as_deref(), HEADLESS) {
        Ok(t) => t,
        Err(code) => return Ok(code),
    };
    let exporter = match metrics_listener(args.metrics_listen.as_deref()).await {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let store = open_store(cli, &plan)?;
    let mut opts = controller::Options::new(operator(cli), args.clock.clock(), "screen");
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
    if args.record.is_some() && !session.controller.holds() {
        eprintln!("warning: following another controller; only the holder records");
    }
    crate::tui::run(session, tui).await?;
    Ok(0)
}
