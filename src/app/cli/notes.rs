//! notes: `shipdeck notes`, the plan's release notes printed as Markdown, with a hint
//! when the plan has none yet.

use anyhow::Result;
use std::path::Path;

use super::load::load_plan;

pub(super) fn notes(path: Option<&Path>, plain: bool) -> Result<u8> {
    let plan = match load_plan(path, "notes") {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let today = chrono::Local::now().date_naive();
    out_part!(
        "{}",
        crate::app::notes::markdown(&plan.release, today, !plain)
    );
    if crate::app::notes::is_empty(&plan.release) {
        eprintln!(
            "hint: {} has no release notes yet; add `release.notes` with `features`, `improvements`, `fixes` and `breaking` lists",
            plan.path.display()
        );
    }
    Ok(0)
}
