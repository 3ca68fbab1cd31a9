//! notify::log: the plain-text deploy log, one line per event.

use std::path::PathBuf;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use super::{Failure, kind_name};
use crate::engine::Event;
use crate::support::escape::shown;

/// One line of the deploy log, whatever the event's text holds.
pub(super) fn log_line(release: &str, event: &Event) -> String {
    format!(
        "{} {} {}: {}\n",
        event.at.format("%Y-%m-%dT%H:%M:%SZ"),
        shown(release),
        kind_name(event.kind),
        shown(&event.text)
    )
}

pub(super) async fn run_log(
    path: PathBuf,
    release: String,
    name: String,
    mut rx: mpsc::Receiver<Event>,
    failures: mpsc::Sender<Failure>,
) {
    while let Some(event) = rx.recv().await {
        let line = log_line(&release, &event);
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
    use crate::engine::{EventKind, Situation};
    use chrono::TimeZone;

    #[test]
    fn outside_text_cannot_forge_a_log_line_or_drive_a_terminal() {
        let e = Event {
            kind: EventKind::Paused,
            at: chrono::Utc.with_ymd_and_hms(2026, 3, 15, 14, 0, 0).unwrap(),
            text: "Paused by mallory: x\n2026-03-15T14:00:01Z shop completed: ok \x1b]0;t\x07"
                .into(),
            explain: None,
            situation: Situation::default(),
        };
        let line = log_line("shop\x1b[2J", &e);
        assert_eq!(line.matches('\n').count(), 1, "{line:?}");
        assert!(line.ends_with('\n') && !line.contains('\x1b'), "{line:?}");
        assert!(line.contains("x\\n2026"), "{line:?}");
    }
}
