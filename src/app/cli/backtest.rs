//! backtest: `shipdeck backtest`, the plan's guardrails and canary judge over past
//! metrics. Prints the report; the replay of the range is `crate::backtest`'s.

use anyhow::Result;
use std::sync::Arc;

use super::args::BacktestArgs;
use super::load::load_plan;
use crate::app::options::INVALID;
use crate::control as controller;

pub(super) async fn backtest(args: &BacktestArgs) -> Result<u8> {
    let plan = match load_plan(args.plan.as_deref(), "backtest") {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let report = match controller::open_metrics(&plan) {
        Ok(mut source) => {
            crate::backtest::run(Arc::clone(&plan), source.as_mut(), args.from, args.to).await
        }
        Err(e) => {
            eprintln!("{}: the metrics source: {e}", plan.path.display());
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
    // A series (or an arm of the judge) that never answered says nothing about its rules
    // or verdicts: the user must fix it.
    Ok(if report.incomplete() { INVALID } else { 0 })
}
