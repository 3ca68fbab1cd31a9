//! notify: tells people — Slack-compatible webhooks and a plain-text deploy log. Owns
//! delivery and its retries; never delays the engine, the screen or a rollback (events
//! are queued without waiting, and a dead receiver only costs its own task's time).

use std::path::PathBuf;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::engine::{Event, EventKind};
use crate::plan::NotifierSpec;
use crate::support::backoff::Backoff;

/// Attempts per webhook event before it is given up (and journaled as lost).
pub(crate) const ATTEMPTS: u32 = 5;
const QUEUE: usize = 256;

#[derive(Debug, thiserror::Error)]
pub(crate) enum NotifyError {
    #[error(
        "the webhook URL is read from the environment variable {0}, which is not set\n  hint: export {0}=https://hooks.slack.com/services/… before starting shipdeck"
    )]
    MissingUrl(String),
}

/// Where a notifier is, for messages (never the webhook URL itself: it is a secret).
fn label(spec: &NotifierSpec) -> String {
    match spec {
        NotifierSpec::Webhook { url_env } => format!("webhook ${url_env}"),
        NotifierSpec::Log { path } => format!("deploy log {}", path.display()),
    }
}

/// The running notifiers of one release. Dropping it stops them.
pub(crate) struct Notifiers {
    queues: Vec<(String, mpsc::Sender<Event>)>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// A delivery problem, for the journal.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub(crate) notifier: String,
    pub message: String,
}

impl Notifiers {
    /// Starts one task per notifier; failures are reported on `failures`.
    pub fn start(
        specs: &[NotifierSpec],
        release: &str,
        failures: mpsc::Sender<Failure>,
    ) -> Result<Self, NotifyError> {
        let mut queues = Vec::new();
        let mut tasks = Vec::new();
        for spec in specs {
            let (tx, rx) = mpsc::channel(QUEUE);
            let name = label(spec);
            match spec {
                NotifierSpec::Webhook { url_env } => {
                    let url = std::env::var(url_env)
                        .map_err(|_| NotifyError::MissingUrl(url_env.clone()))?;
                    tasks.push(tokio::spawn(run_webhook(
                        url,
                        name.clone(),
                        rx,
                        failures.clone(),
                    )));
                }
                NotifierSpec::Log { path } => {
                    tasks.push(tokio::spawn(run_log(
                        path.clone(),
                        release.to_string(),
                        name.clone(),
                        rx,
                        failures.clone(),
                    )));
                }
            }
            queues.push((name, tx));
        }
        Ok(Notifiers { queues, tasks })
    }

    /// For an exiting process: lets the queued events (the rollback just confirmed) go
    /// out, retries included, for at most `grace`; what is left after that is dropped.
    pub async fn close(self, grace: Duration) {
        drop(self.queues);
        let _ = tokio::time::timeout(grace, futures::future::join_all(self.tasks)).await;
    }

    /// A handle that queues events, for whoever learns first that an event is recorded.
    pub(crate) fn dispatch(&self) -> Dispatch {
        Dispatch {
            queues: self.queues.clone(),
        }
    }
}

/// Queues events for the notifiers; the notifiers stop once every handle is gone.
#[derive(Clone)]
pub(crate) struct Dispatch {
    queues: Vec<(String, mpsc::Sender<Event>)>,
}

impl Dispatch {
    /// Queues an event for every notifier without waiting; a full queue drops the event and says so.
    pub fn send(&self, event: &Event) -> Vec<Failure> {
        self.queues
            .iter()
            .filter_map(|(name, q)| {
                q.try_send(event.clone()).err().map(|_| Failure {
                    notifier: name.clone(),
                    message: format!(
                        "{QUEUE} events are waiting; this one was dropped: {}",
                        event.text
                    ),
                })
            })
            .collect()
    }
}

fn emoji(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Started => ":rocket:",
        EventKind::Promoted => ":arrow_up:",
        EventKind::Paused => ":double_vertical_bar:",
        EventKind::Resumed => ":arrow_forward:",
        EventKind::Alert => ":warning:",
        EventKind::RollbackStarted => ":rotating_light:",
        EventKind::RollbackConfirmed => ":leftwards_arrow_with_hook:",
        EventKind::Completed => ":white_check_mark:",
    }
}

/// Slack-compatible JSON: `text` for clients that show only that, `blocks` for the rest.
pub(crate) fn slack_payload(event: &Event) -> serde_json::Value {
    let headline = format!("{} {}", emoji(event.kind), event.text);
    let mut blocks = vec![serde_json::json!({
        "type": "section",
        "text": {"type": "mrkdwn", "text": headline},
    })];
    if let Some(x) = &event.explain {
        let mut why = format!("*Why:* {}\n*Rule:* `{}`", x.summary(), x.rule_text);
        if let Some(q) = &x.query {
            why.push_str(&format!("\n*Query:* `{q}`"));
        }
        blocks
            .push(serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": why}}));
    }
    blocks.push(serde_json::json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": format!("shipdeck · {} · {}", kind_name(event.kind), event.at.format("%Y-%m-%d %H:%M:%SZ"))}],
    }));
    serde_json::json!({"text": headline, "blocks": blocks})
}

pub(crate) fn kind_name(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Started => "rollout started",
        EventKind::Promoted => "step promoted",
        EventKind::Paused => "paused",
        EventKind::Resumed => "resumed",
        EventKind::Alert => "alert",
        EventKind::RollbackStarted => "rollback started",
        EventKind::RollbackConfirmed => "rollback confirmed",
        EventKind::Completed => "completed",
    }
}

async fn run_webhook(
    url: String,
    name: String,
    mut rx: mpsc::Receiver<Event>,
    failures: mpsc::Sender<Failure>,
) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            let _ = failures
                .send(Failure {
                    notifier: name,
                    message: format!("cannot build an HTTP client: {e}"),
                })
                .await;
            return;
        }
    };
    while let Some(event) = rx.recv().await {
        let body = slack_payload(&event);
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(8));
        for attempt in 1..=ATTEMPTS {
            let result = client.post(&url).json(&body).send().await;
            let error = match result {
                Ok(r) if r.status().is_success() => None,
                Ok(r) => Some(format!("the receiver answered HTTP {}", r.status())),
                Err(e) if e.is_timeout() => Some("no answer within 5s".to_string()),
                Err(e) => Some(format!("cannot reach the receiver: {}", without_url(&e))),
            };
            let Some(error) = error else { break };
            let last = attempt == ATTEMPTS;
            let what = if last { "gave up on" } else { "retrying" };
            let message = format!(
                "attempt {attempt}/{ATTEMPTS} {what} \"{}\": {error}",
                kind_name(event.kind)
            );
            if failures
                .send(Failure {
                    notifier: name.clone(),
                    message,
                })
                .await
                .is_err()
            {
                return;
            }
            if !last {
                tokio::time::sleep(backoff.next_delay()).await;
            }
        }
    }
}

/// reqwest errors carry the URL; a webhook URL is a secret.
fn without_url(e: &reqwest::Error) -> String {
    let mut e = e.to_string();
    if let Some(i) = e.find(" for url (") {
        e.truncate(i);
    }
    e
}

async fn run_log(
    path: PathBuf,
    release: String,
    name: String,
    mut rx: mpsc::Receiver<Event>,
    failures: mpsc::Sender<Failure>,
) {
    while let Some(event) = rx.recv().await {
        let line = format!(
            "{} {release} {}: {}\n",
            event.at.format("%Y-%m-%dT%H:%M:%SZ"),
            kind_name(event.kind),
            event.text
        );
        let written = async {
            let mut f = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .await?;
            f.write_all(line.as_bytes()).await?;
            f.flush().await
        }
        .await;
        if let Err(e) = written {
            let message = format!("cannot append to {}: {e}", path.display());
            if failures
                .send(Failure {
                    notifier: name.clone(),
                    message,
                })
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn payload_has_text_and_blocks() {
        let e = Event {
            kind: EventKind::RollbackStarted,
            at: chrono::Utc.with_ymd_and_hms(2026, 3, 15, 14, 0, 0).unwrap(),
            text: "Rolling back checkout-v2 2.5.0".into(),
            explain: None,
        };
        let p = slack_payload(&e);
        assert!(
            p["text"]
                .as_str()
                .unwrap()
                .contains("Rolling back checkout-v2")
        );
        assert_eq!(p["blocks"][0]["type"], "section");
        assert!(
            p["blocks"][1]["elements"][0]["text"]
                .as_str()
                .unwrap()
                .contains("rollback started")
        );
    }
}
