//! app::replay: `shipdeck replay`, a flight recording played back. On the screen it
//! runs through a real controller in a scratch release of its own — a temporary
//! directory, a scratch flag file, the recording as the metrics source — fed the recorded
//! cues; it never touches the recorded release's own files, flag backend, notifications or
//! pipeline. Headless, it replays the engine alone and prints what it journals.

use chrono::{DateTime, Utc};
use std::sync::Arc;

use crate::clock::Clock;
use crate::engine::Input;
use crate::recording::{Record, Recording, RecordingError, play};

/// A recording played on the screen: the recorded plan in a temporary directory of its
/// own — the flag in a scratch flag file, the metrics from the recording (the `replay`
/// source), no notifications, no pipeline commands — with the recorded operators'
/// commands, stage results and check results handed to the controller at their recorded
/// engine times. The directory lives as long as the returned `TempDir`.
pub async fn sandbox(
    recording: &Recording,
    speed: Option<f64>,
    operator: String,
) -> Result<(tempfile::TempDir, crate::control::Session), RecordingError> {
    use crate::plan::{BackendSpec, SourceSpec, StageSource, StageStatus};
    use crate::store::ReleaseStore;
    let fail =
        |what: &str, e: &dyn std::fmt::Display| RecordingError::Sandbox(format!("{what}: {e}"));
    let mut plan = recording.plan()?;
    let dir = tempfile::Builder::new()
        .prefix("shipdeck-replay-")
        .tempdir()
        .map_err(|e| fail("cannot create a temporary directory", &e))?;
    let flags = dir.path().join("flags.yaml");
    let name = serde_json::to_string(&plan.flag.name).map_err(|e| fail("flag name", &e))?;
    std::fs::write(
        &flags,
        format!(
            "flags:\n  {name}: {{enabled: false, rollout: 0.0, userGroups: [], kind: {}}}\n",
            plan.flag.kind.name()
        ),
    )
    .map_err(|e| fail("cannot write the scratch flag file", &e))?;
    plan.flag.backend = BackendSpec::File { path: flags };
    plan.metrics.source = SourceSpec::Replay {
        path: recording.path.clone(),
    };
    plan.notify.clear();
    for stage in &mut plan.pipeline {
        if matches!(
            stage.source,
            StageSource::Command { .. } | StageSource::StatusFile(_)
        ) {
            stage.source = StageSource::Static(StageStatus::Pending);
        }
    }
    let store = crate::store::FileStore::open(&dir.path().join(".shipdeck"))
        .map_err(|e| fail("cannot open the scratch state directory", &e))?;
    store
        .save(&recording.header.progress)
        .map_err(|e| fail("cannot write the starting state", &e))?;
    let clock = Clock::starting(
        recording.header.clock.start,
        speed.unwrap_or(recording.header.clock.speed),
    );
    let opts = crate::control::Options::new(operator, clock.clone(), "replay");
    let session = crate::control::open(Arc::new(plan), opts, Arc::new(store))
        .await
        .map_err(|e| fail("cannot open the recorded release", &e))?;
    let crate::control::Session {
        controller,
        mut messages,
    } = session;
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    let forward = tx.clone();
    tokio::spawn(async move {
        while let Some(m) = messages.recv().await {
            if forward.send(m).await.is_err() {
                return;
            }
        }
    });
    let cues = cues(recording);
    tokio::spawn(async move {
        for (at, message) in cues {
            tokio::time::sleep(clock.real_until(at)).await;
            if tx.send(message).await.is_err() {
                return;
            }
        }
    });
    Ok((
        dir,
        crate::control::Session {
            controller,
            messages: rx,
        },
    ))
}

/// What people and the pipeline did during the recording, as the messages that carry it
/// to a controller; samples and flag answers come from the sandbox's own adapters.
fn cues(recording: &Recording) -> Vec<(DateTime<Utc>, crate::control::Message)> {
    use crate::control::Message;
    recording
        .records
        .iter()
        .filter_map(|(_, r)| match r {
            Record::Input {
                at,
                input:
                    Input::Command {
                        command,
                        operator,
                        reason,
                    },
            } => Some((
                *at,
                Message::Request(crate::store::InboxRequest {
                    id: crate::store::new_request_id(),
                    command: command.clone(),
                    operator: operator.clone(),
                    reason: reason.clone(),
                    at: *at,
                    host: None,
                    role: None,
                    posted_by: None,
                }),
            )),
            Record::Input {
                at,
                input: input @ (Input::Stage { .. } | Input::Check { .. }),
            } => Some((*at, Message::Input(input.clone()))),
            _ => None,
        })
        .collect()
}

/// Plays a recording with no screen, printing what the engine journals (JSON lines with
/// `json`) and, last, whether it decided as recorded: 0 the same, 1 it diverged.
pub(crate) async fn play_headless(recording: &Recording, speed: Option<f64>, json: bool) -> u8 {
    let printed = play(recording, speed, |step| {
        for e in &step.replayed {
            out!("{}", e.printed(json));
        }
    })
    .await;
    let (code, why) = match printed {
        Ok(v) => (u8::from(v.divergence.is_some()), v.summary(&recording.path)),
        Err(e) => (1, e.to_string()),
    };
    if json {
        out!("{}", serde_json::json!({"exit": code, "why": why}));
    } else {
        eprintln!("{why}");
    }
    code
}
