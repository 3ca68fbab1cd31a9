//! journal: `shipdeck journal`, every action and decision as lines or a Markdown
//! timeline, read from the store without taking the lock.

use anyhow::Result;
use std::path::Path;

use super::Cli;
use super::load::{load_plan, open_store};

pub(super) fn journal(cli: &Cli, path: &Path, markdown: bool) -> Result<u8> {
    let plan = match load_plan(path) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let store = open_store(cli, &plan)?;
    let read = store.journal()?;
    if markdown {
        out_part!(
            "{}",
            crate::engine::journal::markdown(
                &format!("{} {}", plan.release.name, plan.release.version),
                &read.entries
            )
        );
    } else {
        for e in &read.entries {
            out!("{}", e.line());
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
