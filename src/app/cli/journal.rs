//! journal: `shipdeck journal`, every action and decision as lines or a Markdown
//! timeline, read from the store without taking the lock and without holding the journal:
//! entries are printed as they are read, so its size never costs memory.

use anyhow::Result;
use std::path::Path;

use super::Cli;
use super::load::{load_plan, open_store_to_read};
use crate::engine::journal::Timeline;

pub(super) fn journal(cli: &Cli, path: Option<&Path>, markdown: bool) -> Result<u8> {
    let plan = match load_plan(path, "journal") {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let store = open_store_to_read(cli, &plan)?;
    let torn = if markdown {
        // The heading counts the entries and the end lists gaps and trips: a first pass
        // gathers those, a second prints the rows it counted (a running holder may have
        // appended more in between).
        let mut timeline = Timeline::default();
        store.journal_each(&mut |e| timeline.see(&e))?;
        let title = format!("{} {}", plan.release.name, plan.release.version);
        out_part!("{}", timeline.head(&title));
        let mut left = timeline.entries();
        let torn = store.journal_each(&mut |e| {
            if left > 0 {
                left -= 1;
                out_part!("{}", Timeline::row(&e, &plan.metrics));
            }
        })?;
        out_part!("{}", timeline.tail(&plan.metrics));
        torn
    } else {
        store.journal_each(&mut |e| {
            out!("{}", e.line());
            if let Some(x) = &e.explain {
                out!("    why: {}", crate::support::escape::shown(&x.summary()));
            }
        })?
    };
    if let Some(t) = torn {
        eprintln!(
            "warning: journal line {} was torn by a crash and is skipped: {}",
            t.line,
            crate::support::escape::shown(&t.text)
        );
    }
    Ok(0)
}
