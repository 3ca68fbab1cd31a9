//! notify: tells people — Slack (an incoming webhook, or the Web API threaded per
//! release), a JSON webhook in a versioned schema, PagerDuty, and a plain-text deploy
//! log. Owns delivery and its retries; never delays the engine, the screen or a rollback
//! (events are queued without waiting, and a dead receiver only costs its own task's
//! time).

mod json;
mod log;
mod pagerduty;
mod post;
mod slack;

use std::time::Duration;
use tokio::sync::mpsc;

use crate::engine::{Event, EventKind};
use crate::plan::{NotifierSpec, Plan};

const QUEUE: usize = 256;

#[derive(Debug, thiserror::Error)]
pub(crate) enum NotifyError {
    #[error(
        "the {what} is read from the environment variable {var}, which is not set\n  hint: export {var}={example} before starting shipdeck"
    )]
    MissingSecret {
        var: String,
        what: &'static str,
        example: &'static str,
    },
}

/// The release the notifications are about, and the plan as the commands they suggest
/// name it.
#[derive(Debug, Clone)]
pub struct Release {
    pub name: String,
    pub version: String,
    pub flag: String,
    pub plan: String,
}

impl Release {
    pub fn of(plan: &Plan, named: Option<&std::path::Path>) -> Release {
        Release {
            name: plan.release.name.clone(),
            version: plan.release.version.clone(),
            flag: plan.flag.name.clone(),
            plan: named.map_or_else(|| "PLAN".to_string(), |p| p.display().to_string()),
        }
    }

    pub fn label(&self) -> String {
        format!("{} {}", self.name, self.version)
    }
}

/// The command a person would run next after this event, if one is called for.
pub(crate) fn next_command(release: &Release, event: &Event) -> Option<String> {
    let plan = &release.plan;
    let s = &event.situation;
    match event.kind {
        EventKind::Alert | EventKind::Paused if s.needs_human => {
            Some(format!("shipdeck rollback {plan}"))
        }
        EventKind::Paused => Some(format!("shipdeck resume {plan}")),
        EventKind::RollbackStarted => Some(format!("shipdeck status {plan}")),
        EventKind::RollbackConfirmed => Some(format!("shipdeck journal {plan} --markdown")),
        _ => None,
    }
}

fn secret(var: &str, what: &'static str, example: &'static str) -> Result<String, NotifyError> {
    std::env::var(var)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| NotifyError::MissingSecret {
            var: var.to_string(),
            what,
            example,
        })
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
    /// Starts one task per notifier; failures are reported on `failures`. A secret that
    /// is not in the environment stops the start: a notifier that cannot speak is found
    /// now, not during the incident.
    pub fn start(
        specs: &[NotifierSpec],
        release: &Release,
        failures: mpsc::Sender<Failure>,
    ) -> Result<Self, NotifyError> {
        let mut queues = Vec::new();
        let mut tasks = Vec::new();
        for spec in specs {
            let (tx, rx) = mpsc::channel(QUEUE);
            let name = spec.label();
            let poster = || post::Poster::new(name.clone(), failures.clone());
            let release = release.clone();
            let task = match spec {
                NotifierSpec::Webhook { url_env } => {
                    let url = secret(url_env, "webhook URL", "https://hooks.slack.com/services/…")?;
                    tokio::spawn(slack::run_webhook(url, release, poster(), rx))
                }
                NotifierSpec::Slack {
                    token_env,
                    channel,
                    api,
                } => {
                    let token = secret(token_env, "Slack bot token", "xoxb-…")?;
                    tokio::spawn(slack::run_thread(
                        api.clone(),
                        token,
                        channel.clone(),
                        release,
                        poster(),
                        rx,
                    ))
                }
                NotifierSpec::Json { url_env } => {
                    let url = secret(url_env, "JSON webhook URL", "https://…")?;
                    tokio::spawn(json::run_json(url, release, poster(), rx))
                }
                NotifierSpec::PagerDuty {
                    routing_key_env,
                    url,
                } => {
                    let key = secret(routing_key_env, "PagerDuty routing key", "R0…")?;
                    tokio::spawn(pagerduty::run_pagerduty(
                        url.clone(),
                        key,
                        release,
                        poster(),
                        rx,
                    ))
                }
                NotifierSpec::Log { path } => tokio::spawn(log::run_log(
                    path.clone(),
                    release.label(),
                    name.clone(),
                    rx,
                    failures.clone(),
                )),
            };
            tasks.push(task);
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
