//! store::postgres::listen: LISTEN/NOTIFY wakes followers and the holder's inbox. One
//! connection per store listens on both channels; every (re)connect wakes everyone,
//! because NOTIFY keeps nothing for a connection that was down.

use futures::StreamExt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;

use super::db::Db;
use crate::store::Wakes;

/// The holder wrote something (state, journal, heartbeat, holder): the payload is the
/// release's id.
pub(super) const CHANGES: &str = "shipdeck_changes";
/// A command was posted to a release's inbox.
pub(super) const INBOX: &str = "shipdeck_inbox";

/// Who wants waking, per channel.
pub(super) struct Subscribers {
    id: i64,
    changes: Mutex<Vec<mpsc::Sender<()>>>,
    inbox: Mutex<Vec<mpsc::Sender<()>>>,
    started: Mutex<bool>,
}

impl Subscribers {
    pub(super) fn new(id: i64) -> Arc<Subscribers> {
        Arc::new(Subscribers {
            id,
            changes: Mutex::new(Vec::new()),
            inbox: Mutex::new(Vec::new()),
            started: Mutex::new(false),
        })
    }

    fn list(&self, channel: &str) -> &Mutex<Vec<mpsc::Sender<()>>> {
        if channel == INBOX {
            &self.inbox
        } else {
            &self.changes
        }
    }

    /// Wakes a channel's subscribers; forgets those that went away. `false` when nobody
    /// listens on either channel any more.
    fn wake(&self, channel: &str) -> bool {
        let mut list = self
            .list(channel)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        list.retain(|tx| !matches!(tx.try_send(()), Err(mpsc::error::TrySendError::Closed(()))));
        drop(list);
        self.anyone()
    }

    fn anyone(&self) -> bool {
        [&self.changes, &self.inbox].iter().any(|l| {
            l.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .any(|tx| !tx.is_closed())
        })
    }
}

/// A new subscriber to `channel`; starts the store's listener on first use.
pub(super) fn subscribe(db: &Arc<Db>, subs: &Arc<Subscribers>, channel: &str) -> Wakes {
    let (tx, rx) = mpsc::channel(1);
    subs.list(channel)
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(tx);
    let mut started = subs.started.lock().unwrap_or_else(PoisonError::into_inner);
    if !*started {
        *started = true;
        db.spawn(listen(Arc::clone(db), Arc::clone(subs)));
    }
    Wakes::Signal(rx)
}

async fn listen(db: Arc<Db>, subs: Arc<Subscribers>) {
    let id = subs.id.to_string();
    loop {
        if let Ok((client, mut messages)) = db.url.connect_raw().await {
            let (tx, mut notes) = mpsc::unbounded_channel();
            let driver = tokio::spawn(async move {
                while let Some(Ok(message)) = messages.next().await {
                    if let AsyncMessage::Notification(n) = message
                        && tx.send(n).is_err()
                    {
                        return;
                    }
                }
            });
            let sql = format!("LISTEN {CHANGES}; LISTEN {INBOX}");
            if client.batch_execute(&sql).await.is_ok() {
                // Anything written while this connection was not listening.
                subs.wake(CHANGES);
                subs.wake(INBOX);
                while let Some(n) = notes.recv().await {
                    if n.payload() == id && !subs.wake(n.channel()) {
                        driver.abort();
                        return;
                    }
                }
            }
            driver.abort();
        }
        if !subs.anyone() {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
