//! control::tasks::inbox: commands from other terminals reach the holder through the
//! store's inbox; a follower waits there for the holder's answer.

use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

use crate::control::message::Message;
use crate::store::{InboxAnswer, ReleaseStore};

/// Hands commands from other terminals to the controller: at once when the store can wake
/// it, and by polling, fast without a wake-up and slowly beside one in case it misses.
pub(in crate::control) async fn run_inbox(store: Arc<dyn ReleaseStore>, tx: mpsc::Sender<Message>) {
    let mut wakes = store.request_wakes();
    loop {
        let every = if wakes.is_some() {
            Duration::from_secs(2)
        } else {
            Duration::from_millis(200)
        };
        tokio::select! {
            woke = crate::store::wakes::woken(&mut wakes) => if !woke {
                wakes = None;
            },
            _ = tokio::time::sleep(every) => {}
        }
        let s = Arc::clone(&store);
        let taken = tokio::task::spawn_blocking(move || s.take_requests()).await;
        if let Ok(Ok(requests)) = taken {
            for r in requests {
                if tx.send(Message::Request(r)).await.is_err() {
                    return;
                }
            }
        }
    }
}

pub(in crate::control) async fn await_answer(
    store: Arc<dyn ReleaseStore>,
    id: &str,
    limit: Duration,
) -> InboxAnswer {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(a)) = store.take_answer(id) {
            return a;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let message = match store.withdraw(id) {
        Ok(true) => format!(
            "no answer from the holder within {}s; the request is withdrawn and will not run (is the holder stopped?)",
            limit.as_secs()
        ),
        _ => format!(
            "the holder took the request but has not answered within {}s; it may still act on it",
            limit.as_secs()
        ),
    };
    InboxAnswer { ok: false, message }
}
