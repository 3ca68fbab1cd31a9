//! notify::pagerduty: PagerDuty's Events API v2. A rollback, a guardrail alert or a pause
//! shipdeck made (a person must decide) triggers an alert; the release completing or
//! being resumed resolves it. One dedup key per release, so every trigger of a release
//! lands on one incident and the resolve closes it.

use tokio::sync::mpsc;

use super::post::{Poster, by_status};
use super::{Release, kind_name, next_command};
use crate::engine::{Event, EventKind};

/// What an event asks of PagerDuty, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Trigger(&'static str),
    Resolve,
}

pub(crate) fn action(event: &Event) -> Option<Action> {
    match event.kind {
        EventKind::RollbackStarted => Some(Action::Trigger("critical")),
        EventKind::Alert => Some(Action::Trigger("error")),
        EventKind::Paused if event.situation.needs_human => Some(Action::Trigger("error")),
        EventKind::Completed | EventKind::Resumed => Some(Action::Resolve),
        _ => None,
    }
}

pub(crate) fn dedup_key(release: &Release) -> String {
    format!("shipdeck/{}/{}", release.name, release.version)
}

/// The Events API v2 document for an event, or `None` when PagerDuty need not hear of it.
pub(crate) fn document(
    release: &Release,
    routing_key: &str,
    source: &str,
    event: &Event,
) -> Option<serde_json::Value> {
    let severity = match action(event)? {
        Action::Resolve => {
            return Some(serde_json::json!({
                "routing_key": routing_key,
                "event_action": "resolve",
                "dedup_key": dedup_key(release),
            }));
        }
        Action::Trigger(severity) => severity,
    };
    let s = &event.situation;
    let summary: String = event.text.chars().take(1024).collect();
    Some(serde_json::json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key(release),
        "client": "shipdeck",
        "payload": {
            "summary": summary,
            "source": source,
            "severity": severity,
            "timestamp": event.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "component": release.flag,
            "group": release.name,
            "class": kind_name(event.kind),
            "custom_details": {
                "release": release.label(),
                "state": s.state,
                "step": s.step,
                "percent": s.percent,
                "reason": s.reason,
                "why": event.explain.as_ref().map(|x| x.summary()),
                "next": next_command(release, event),
            },
        },
    }))
}

pub(super) async fn run_pagerduty(
    url: String,
    routing_key: String,
    release: Release,
    poster: Poster,
    mut rx: mpsc::Receiver<Event>,
) {
    let source = crate::support::host::name();
    while let Some(event) = rx.recv().await {
        if let Some(body) = document(&release, &routing_key, &source, &event) {
            poster
                .post(&url, &[], &body, kind_name(event.kind), by_status)
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Situation;
    use chrono::TimeZone;

    fn event(kind: EventKind, needs_human: bool) -> Event {
        Event {
            kind,
            at: chrono::Utc.with_ymd_and_hms(2026, 3, 15, 14, 0, 0).unwrap(),
            text: "checkout-v2 2.5.0 paused".into(),
            explain: None,
            situation: Situation {
                needs_human,
                ..Situation::default()
            },
        }
    }

    #[test]
    fn only_what_needs_a_person_pages_and_the_end_resolves() {
        assert_eq!(
            action(&event(EventKind::RollbackStarted, true)),
            Some(Action::Trigger("critical"))
        );
        assert_eq!(
            action(&event(EventKind::Paused, true)),
            Some(Action::Trigger("error"))
        );
        assert_eq!(
            action(&event(EventKind::Paused, false)),
            None,
            "an operator's pause"
        );
        assert_eq!(action(&event(EventKind::Promoted, false)), None);
        assert_eq!(action(&event(EventKind::RollbackConfirmed, false)), None);
        assert_eq!(
            action(&event(EventKind::Resumed, false)),
            Some(Action::Resolve)
        );
        assert_eq!(
            action(&event(EventKind::Completed, false)),
            Some(Action::Resolve)
        );
    }
}
