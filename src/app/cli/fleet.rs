//! fleet: `shipdeck releases`, every release in the database, and `shipdeck store copy`,
//! which moves a release's files into it.

use anyhow::{Result, bail};
use chrono::Utc;
use std::path::Path;

use super::Cli;
use super::args::StoreArg;
use super::load::{load_plan, open_database, open_files, operator};
use crate::engine::journal::{Entry, Kind, Verb};
use crate::store::postgres::{self, DbUrl};
use crate::store::{Acquired, Holder};
use crate::tui::fleet;

/// How many journal entries go into the database per transaction.
const COPY_BATCH: usize = 1000;

pub(super) fn releases(json: bool) -> Result<u8> {
    let all = postgres::releases(DbUrl::from_env()?)?;
    if json {
        out!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(0);
    }
    if all.is_empty() {
        out!(
            "no releases in the database yet: start one with `shipdeck --store postgres run PLAN --headless`"
        );
        return Ok(0);
    }
    for line in table(&all, Utc::now()) {
        out!("{line}");
    }
    Ok(0)
}

/// The fleet as aligned text rows, a header first.
pub(crate) fn table(all: &[postgres::Release], now: chrono::DateTime<Utc>) -> Vec<String> {
    let rows: Vec<[String; 8]> = all.iter().map(|r| fleet::cells(r, now)).collect();
    let header = fleet::HEADER.map(String::from);
    let mut widths = [0usize; 8];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    std::iter::once(&header)
        .chain(&rows)
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            cells.join("  ").trim_end().to_string()
        })
        .collect()
}

pub(super) fn copy(cli: &Cli, path: Option<&Path>, to: StoreArg) -> Result<u8> {
    if to != StoreArg::Postgres {
        bail!("`store copy` moves a release from its files into the database: use --to postgres");
    }
    let plan = match load_plan(path, "store copy") {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let files = open_files(cli, &plan)?;
    let database = open_database(&plan)?;
    let me = Holder::here(&operator(cli), "copy");
    // Both locks, so that nobody starts the release on either side while it moves.
    let _files_lock = match files.acquire(&me)? {
        Acquired::Controller(lease) => lease,
        Acquired::HeldBy(h) => bail!(
            "{} holds the release in {}: stop it first (q, or `shipdeck pause` and then stop its process), then copy",
            crate::control::describe_holder(&h),
            files.describe()
        ),
    };
    let _database_lock = match database.acquire(&me)? {
        Acquired::Controller(lease) => lease,
        Acquired::HeldBy(h) => bail!(
            "{} holds the release in the database already; nothing was copied",
            crate::control::describe_holder(&h)
        ),
    };
    if database.load()?.is_some() || database.journal_count()? > 0 {
        bail!(
            "{} already has a state or a journal; nothing was copied (the database's copy is the one to keep)",
            database.describe()
        );
    }
    let read = files.journal()?;
    for chunk in read.entries.chunks(COPY_BATCH) {
        database.append(chunk)?;
    }
    let progress = files.load()?;
    if let Some(p) = &progress {
        database.save(p)?;
    }
    let at = progress
        .as_ref()
        .and_then(|p| p.now)
        .unwrap_or_else(Utc::now);
    let note = |reason: String| Entry::plain(at, &me.operator, Kind::Note, Verb::Moved, reason);
    database.append(&[note(format!(
        "moved in from {} ({} journal entries)",
        files.describe(),
        read.entries.len()
    ))])?;
    files.append(&[note(format!(
        "moved to {}; the release is kept there from now on",
        database.describe()
    ))])?;
    out!(
        "copied {} journal entries{} into {}\n  from now on: `shipdeck --store postgres …` on every machine, or `store: {{kind: postgres}}` in the plan",
        read.entries.len(),
        if progress.is_some() {
            " and the state"
        } else {
            ""
        },
        database.describe()
    );
    Ok(0)
}
