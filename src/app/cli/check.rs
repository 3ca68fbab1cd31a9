//! check: `shipdeck check`, the plan validated and each metrics query asked once. Exit 2
//! for anything the user must fix in the plan or the metrics source.

use anyhow::Result;

use super::args::CheckArgs;
use super::load::load_plan;
use crate::app::options::INVALID;
use crate::plan;

pub(super) async fn check(args: &CheckArgs) -> Result<u8> {
    let plan = match load_plan(args.plan.as_deref(), "check") {
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
                plan.path.display(),
                probe.readings.len()
            );
            Ok(INVALID)
        }
        Err(e) => {
            eprintln!(
                "{}: the metrics source: {e}\n  hint: `shipdeck check --no-probe` validates the file alone",
                plan.path.display()
            );
            Ok(INVALID)
        }
    }
}
