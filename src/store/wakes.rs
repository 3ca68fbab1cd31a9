//! store::wakes: how a store says "look again" — a watched folder for the file store, a
//! database notification for PostgreSQL. A wake-up is a hint, never the data: whoever
//! wakes reads the store, and still looks now and then in case a wake-up was missed.

use tokio::sync::mpsc;

use crate::watch::FileWatch;

#[derive(Debug)]
pub enum Wakes {
    File(FileWatch),
    /// Sent by a task of the store's (a database listener); a queued wake covers the next.
    Signal(mpsc::Receiver<()>),
}

impl Wakes {
    /// Waits for the next wake-up; `false` when none will come again.
    pub async fn changed(&mut self) -> bool {
        match self {
            Wakes::File(w) => w.changed().await,
            Wakes::Signal(rx) => {
                if rx.recv().await.is_none() {
                    return false;
                }
                while rx.try_recv().is_ok() {}
                true
            }
        }
    }
}

/// Waits for a wake-up from `wakes`, or for ever when there is none.
pub(crate) async fn woken(wakes: &mut Option<Wakes>) -> bool {
    match wakes {
        Some(w) => w.changed().await,
        None => std::future::pending().await,
    }
}
