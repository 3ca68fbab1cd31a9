//! notify::json: one JSON document per event for any receiver, in the versioned schema
//! `shipdeck.event/v1` (README, "Notifications"). Fields are only ever added within a
//! version; a receiver ignores what it does not know.

use tokio::sync::mpsc;

use super::post::{Poster, by_status};
use super::{Release, kind_name, next_command};
use crate::engine::{Event, EventKind};

pub(crate) const SCHEMA: &str = "shipdeck.event/v1";

/// The event's name in the schema: `rollback_started`, `paused`, ...
fn event_name(kind: EventKind) -> serde_json::Value {
    serde_json::to_value(kind).unwrap_or_default()
}

pub(crate) fn document(release: &Release, event: &Event) -> serde_json::Value {
    let s = &event.situation;
    let why = event.explain.as_ref().map(|x| {
        serde_json::json!({
            "metric": x.metric,
            "rule": x.rule_text,
            "summary": x.summary(),
            "value": x.value(),
            "threshold": x.threshold,
            "baseline": x.baseline,
            "held_seconds": x.held_secs,
            "since": x.since,
            "action": x.action,
            "query": x.query,
        })
    });
    serde_json::json!({
        "schema": SCHEMA,
        "event": event_name(event.kind),
        "title": kind_name(event.kind),
        "at": event.at,
        "release": {
            "name": release.name,
            "version": release.version,
            "flag": release.flag,
            "plan": release.plan,
        },
        "state": s.state,
        "step": s.step,
        "percent": s.percent,
        "reason": s.reason,
        "needs_human": s.needs_human,
        "text": event.text,
        "why": why,
        "next": next_command(release, event),
    })
}

pub(super) async fn run_json(
    url: String,
    release: Release,
    poster: Poster,
    mut rx: mpsc::Receiver<Event>,
) {
    while let Some(event) = rx.recv().await {
        let body = document(&release, &event);
        poster
            .post(&url, &[], &body, kind_name(event.kind), by_status)
            .await;
    }
}
