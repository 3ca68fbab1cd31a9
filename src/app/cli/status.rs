//! status: `shipdeck status`, where a release stands and why, read from its store
//! without taking the lock. Words and countdowns come from the engine.

use anyhow::Result;
use std::path::Path;
use std::sync::Arc;

use super::Cli;
use super::load::{load_plan, open_store_to_read};
use crate::control as controller;
use crate::engine::Phase;

pub(super) fn status(cli: &Cli, path: Option<&Path>, json: bool) -> Result<u8> {
    let plan = match load_plan(path, "status") {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let store = open_store_to_read(cli, &plan)?;
    let progress = store.load()?;
    let holder = store.holder()?;
    // Only the count and the newest entry: the journal may be large.
    let journal_entries = store.journal_count()?;
    let newest = store.journal_recent(1)?.entries.pop();
    if json {
        let value = serde_json::json!({
            "release": plan.release.name,
            "version": plan.release.version,
            "progress": progress,
            "holder": holder,
            "heartbeat": published(store.as_ref()).map(|p| p.heartbeat),
            "journal_entries": journal_entries,
        });
        out!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(0);
    }
    let Some(p) = progress else {
        out_line!(
            "{} {}: not started (no state in {})",
            plan.release.name,
            plan.release.version,
            store.describe()
        );
        if let Some(h) = &holder {
            out_line!("  held by {}", controller::describe_holder(h));
            out_line!("  {}", heartbeat_line(store.as_ref()));
        }
        return Ok(0);
    };
    // The engine time the state was saved at: what happens next is counted from there.
    let saved_at = p.now;
    let engine = crate::engine::Engine::follow(Arc::clone(&plan), p);
    let step = engine
        .step_index()
        .and_then(|i| {
            plan.rollout
                .steps
                .get(i)
                .map(|s| format!("step {}/{} {}", i + 1, plan.rollout.steps.len(), s.title()))
        })
        .unwrap_or_default();
    out_line!(
        "{} {} ─ {} ─ {} {step}",
        plan.release.name,
        plan.release.version,
        plan.release.strategy.name(),
        engine.phase().badge()
    );
    match engine.phase() {
        Phase::Paused { reason, .. }
        | Phase::RollingBack { reason, .. }
        | Phase::RolledBack { reason, .. } => out_line!("  why: {reason}"),
        _ => {}
    }
    if let Some(left) = engine.time_left() {
        out_line!("  bake left: {}", crate::support::fmt::duration(left));
    }
    let next = engine.next_words(&engine.next_at(saved_at));
    if !next.is_empty() {
        let at = saved_at
            .map(|t| format!(" (at {})", t.format("%H:%M:%S")))
            .unwrap_or_default();
        out_line!("  next{at}: {next}");
    }
    let p = engine.progress();
    if let Some(live) = &p.live {
        let over = p
            .overridden
            .map(|o| format!(" (slider override {o}%)"))
            .unwrap_or_default();
        out_line!(
            "  flag {}: {}{over}",
            plan.flag.name,
            crate::engine::describe_flag(live)
        );
    }
    // The trip behind where the release stands; else, the newest, named as such.
    let trip = match engine.cause() {
        Some(x) => Some(("the trip that did it", x)),
        None => p.trips.last().map(|x| ("last trip", x)),
    };
    if let Some((what, x)) = trip {
        out_line!(
            "  {what} at {}: {}",
            x.at.format("%Y-%m-%d %H:%M:%SZ"),
            x.summary()
        );
        out_line!("    rule: {}", x.rule_text);
        if let Some(q) = &x.query {
            out_line!("    query: {q}");
        }
        let samples: Vec<String> = x
            .samples
            .iter()
            .map(|s| {
                format!(
                    "{} {}",
                    s.at.format("%H:%M:%S"),
                    s.value
                        .map(|v| crate::engine::guardrail::format_value(v, x.unit))
                        .unwrap_or_else(|| "missing".into())
                )
            })
            .collect();
        out_line!("    samples: {}", samples.join(", "));
    }
    if let Some(r) = engine.canary() {
        out_line!("  {} (judged at {})", r.headline(), r.at.format("%H:%M:%S"));
        for line in r.lines(&plan.metrics) {
            out_line!("    {line}");
        }
    }
    match holder {
        Some(h) => {
            out_line!("  held by {}", controller::describe_holder(&h));
            out_line!("  {}", heartbeat_line(store.as_ref()));
        }
        None => out_line!("  no controller running"),
    }
    if let Some(e) = &newest {
        out_line!("  last: {}", e.line());
    }
    Ok(0)
}

/// When the holder last said it was alive, and what that means.
fn heartbeat_line(store: &dyn crate::store::ReleaseStore) -> String {
    let Some(p) = published(store) else {
        return "no heartbeat published yet".into();
    };
    let age = (chrono::Utc::now() - p.heartbeat).num_seconds().max(0);
    let limit = controller::HEARTBEAT_LIMIT.as_secs() as i64;
    if age > limit {
        format!(
            "last heartbeat {} ({age}s ago): it may be frozen or cut off, and nobody may be guarding",
            p.heartbeat.format("%Y-%m-%d %H:%M:%SZ")
        )
    } else {
        format!(
            "last heartbeat {} ({age}s ago)",
            p.heartbeat.format("%H:%M:%SZ")
        )
    }
}

/// What the holder last published, if it can be read.
fn published(store: &dyn crate::store::ReleaseStore) -> Option<controller::follow::Published> {
    let bytes = store.published().ok().flatten()?;
    serde_json::from_slice(&bytes).ok()
}
