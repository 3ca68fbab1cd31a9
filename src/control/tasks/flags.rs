//! control::tasks::flags: writes the flag when the engine asks and reads it back, and
//! watches for changes made outside shipdeck.

use std::time::Duration;
use tokio::sync::{mpsc, watch};

use super::file_changed;
use crate::control::message::{Adapter, Message};
use crate::control::writer::Wish;
use crate::engine::values::{DesiredFlag, FlagState};
use crate::engine::{FlagEvent, Input};
use crate::flags::{FlagBackend, FlagError};
use crate::support::backoff::Backoff;

/// Writes the flag when the engine asks, retrying loudly with backoff until the backend
/// confirms; in between, watches for changes made outside shipdeck: a file backend through
/// a file watcher (the poll stays as a slower fallback), any other by polling.
///
/// `initial` is the flag as opening read it (and told the engine). A missing flag is
/// created, off at 0%, only when `create` says the release has never asked anything of
/// it; otherwise its absence was an outside change, and stays the engine's to decide.
pub(in crate::control) async fn run_flags(
    mut backend: Box<dyn FlagBackend>,
    initial: Option<FlagState>,
    create: bool,
    mut desired: watch::Receiver<Option<Wish>>,
    poll: Duration,
    tx: mpsc::Sender<Message>,
) {
    let mut seen: Option<FlagState> = initial;
    let mut last_error: Option<String> = None;
    // Outside changes reported to the engine, to tell stale wishes from fresh ones.
    let mut outside_sent = 0u64;
    if seen.is_none() && create {
        let off = DesiredFlag {
            enabled: false,
            percent: 0,
            groups: vec![],
        };
        match backend.write(&off).await {
            Ok(state) => {
                seen = Some(state.clone());
                send_flag(&tx, FlagEvent::Created { state }).await;
            }
            Err(e) => {
                last_error = Some(e.to_string());
                let error = e.to_string();
                send_flag(&tx, FlagEvent::Unreadable { error }).await;
            }
        }
    }
    let mut watcher = match backend.watched_file().map(crate::watch::FileWatch::start) {
        Some(Ok(w)) => Some(w),
        Some(Err(e)) => {
            let _ = tx
                .send(Message::AdapterStopped(Adapter::FlagWatcher, e.to_string()))
                .await;
            None
        }
        None => None,
    };
    let fallback = if watcher.is_some() { poll * 5 } else { poll };
    loop {
        tokio::select! {
            changed = desired.changed() => {
                if changed.is_err() {
                    return;
                }
                let Some(wish) = desired.borrow_and_update().clone() else { continue };
                // Decided before the engine heard of the newest outside change: writing it
                // would undo that change blindly. A rollback is always written.
                if wish.flag.enabled && wish.outside_seen < outside_sent {
                    continue;
                }
                let want = wish.flag.clone();
                let mut attempt = 0u32;
                let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
                loop {
                    // Refused because the flag changed outside since shipdeck last saw it:
                    // nothing was written, and that change is reported like any other.
                    // Refused because the flag is gone since shipdeck last saw it: nothing
                    // was created in its place (`None`), and the engine is told.
                    let written = match backend.write(&want).await {
                        Ok(state) => Ok(Some(state)),
                        Err(FlagError::ChangedOutside { found, .. }) => Ok(Some(*found)),
                        Err(FlagError::Vanished { .. }) => Ok(None),
                        Err(e) => Err(e.to_string()),
                    };
                    let failure = match written {
                        Ok(None) => {
                            seen = None;
                            last_error = None;
                            outside_sent += 1;
                            if !send_flag(&tx, FlagEvent::Missing).await {
                                return;
                            }
                            break;
                        }
                        Ok(Some(state)) if want.is_met_by(&state) => {
                            seen = Some(state.clone());
                            last_error = None;
                            if !send_flag(&tx, FlagEvent::Confirmed { state }).await {
                                return;
                            }
                            break;
                        }
                        // Turned back on right after shipdeck turned it off: the rollback
                        // wins, so it is written again.
                        Ok(Some(state)) if !want.enabled => {
                            seen = Some(state);
                            "the flag read back on right after it was turned off".to_string()
                        }
                        // An outside edit landed before the write or between the write and
                        // the read-back: not written over; the engine decides what it means.
                        Ok(Some(state)) => {
                            seen = Some(state.clone());
                            last_error = None;
                            outside_sent += 1;
                            if !send_flag(&tx, FlagEvent::Outside { state }).await {
                                return;
                            }
                            break;
                        }
                        Err(e) => e,
                    };
                    attempt += 1;
                    if !send_flag(&tx, FlagEvent::Failed { error: failure, attempt }).await {
                        return;
                    }
                    // A newer wish (a rollback after a promote) replaces this one at once.
                    tokio::select! {
                        _ = tokio::time::sleep(backoff.next_delay()) => {}
                        c = desired.changed() => if c.is_err() { return },
                    }
                    if desired.has_changed().unwrap_or(false) || desired.borrow().as_ref() != Some(&wish) {
                        break;
                    }
                }
                if desired.borrow().as_ref() != Some(&wish) {
                    desired.mark_changed();
                }
            }
            woke = file_changed(&mut watcher) => {
                if !woke {
                    watcher = None;
                }
                if !check_flag(backend.as_mut(), &mut seen, &mut last_error, &mut outside_sent, &tx).await {
                    return;
                }
            }
            _ = tokio::time::sleep(fallback) => {
                if !check_flag(backend.as_mut(), &mut seen, &mut last_error, &mut outside_sent, &tx).await {
                    return;
                }
            }
        }
    }
}

async fn send_flag(tx: &mpsc::Sender<Message>, event: FlagEvent) -> bool {
    tx.send(Message::Input(Input::Flag { event })).await.is_ok()
}

/// Reads the flag and reports what is new since `seen`: an outside change, a flag gone
/// from the backend, a flag gone unreadable (the last good state stays), or readable
/// again. `false` once nobody listens.
async fn check_flag(
    backend: &mut dyn FlagBackend,
    seen: &mut Option<FlagState>,
    last_error: &mut Option<String>,
    outside_sent: &mut u64,
    tx: &mpsc::Sender<Message>,
) -> bool {
    match backend.read().await {
        Ok(Some(state)) => {
            let recovered = last_error.take().is_some();
            if seen.as_ref() != Some(&state) {
                *seen = Some(state.clone());
                *outside_sent += 1;
                return send_flag(tx, FlagEvent::Outside { state }).await;
            }
            if recovered {
                return send_flag(tx, FlagEvent::Loaded { state }).await;
            }
            true
        }
        Ok(None) => {
            let recovered = last_error.take().is_some();
            if seen.is_none() && !recovered {
                return true;
            }
            *seen = None;
            *outside_sent += 1;
            send_flag(tx, FlagEvent::Missing).await
        }
        Err(e) => {
            let error = e.to_string();
            if last_error.as_deref() == Some(error.as_str()) {
                return true;
            }
            *last_error = Some(error.clone());
            send_flag(tx, FlagEvent::Unreadable { error }).await
        }
    }
}
