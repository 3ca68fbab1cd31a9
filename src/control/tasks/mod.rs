//! control::tasks: the holder's adapter tasks. Each runs on its own, talks to the
//! controller only through its channel, and reports its failures as messages.

pub(super) mod flags;
pub(super) mod inbox;
pub(super) mod metrics;

use std::future::Future;
use tokio::sync::mpsc;

use super::message::{Adapter, Message};

/// Spawns an adapter task and tells the controller when it ends, as it never should
/// while the controller listens: a task that panicked or returned is a silent adapter.
pub(super) fn spawn(
    adapter: Adapter,
    task: impl Future<Output = ()> + Send + 'static,
    tx: mpsc::Sender<Message>,
) {
    let handle = tokio::spawn(task);
    tokio::spawn(async move {
        let why = match handle.await {
            Ok(()) => "stopped".to_string(),
            Err(e) if e.is_panic() => "stopped by a fault (a panic); restart shipdeck".to_string(),
            Err(_) => "cancelled".to_string(),
        };
        let _ = tx.send(Message::AdapterStopped(adapter, why)).await;
    });
}

/// The next change a watcher saw; never, without one. `false` when it stopped.
pub(super) async fn file_changed(watcher: &mut Option<crate::watch::FileWatch>) -> bool {
    match watcher {
        Some(w) => w.changed().await,
        None => std::future::pending().await,
    }
}
