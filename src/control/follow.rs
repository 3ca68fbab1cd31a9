//! control::follow: what a holder publishes for its followers, and the follower's task
//! that reads it. A follower runs no engine of its own: it shows the holder's state, the
//! samples the holder published and the journal, read only from where it left off.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

use super::message::{Message, Notice};
use crate::engine::Progress;
use crate::engine::history::Point;
use crate::journal::Entry;
use crate::store::{Holder, ReleaseStore};

/// How often a follower looks at the store.
const EVERY: Duration = Duration::from_millis(500);
/// How many of each series' newest samples the holder publishes.
pub const PUBLISHED_SAMPLES: usize = 300;

/// The holder's heartbeat and what its screen shows that the state does not hold.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Published {
    pub holder: Holder,
    /// Wall-clock time of publishing: the heartbeat.
    pub heartbeat: DateTime<Utc>,
    /// The holder's engine clock then.
    pub now: DateTime<Utc>,
    /// Each series' newest samples, oldest first.
    pub samples: BTreeMap<String, Vec<Point>>,
    /// Each series' last error.
    pub errors: BTreeMap<String, String>,
    pub notices: Vec<Notice>,
    /// Where the flag lives.
    pub flag: String,
    pub pipeline_settled: bool,
}

/// What a follower found new in the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Followed {
    pub progress: Option<Progress>,
    pub published: Option<Published>,
    /// Appended since the last read.
    pub entries: Vec<Entry>,
    /// The journal was replaced: `entries` start from its beginning.
    pub reset: bool,
    /// Who holds the lock now; `None`: nobody.
    pub holder: Option<Holder>,
}

/// Reads what the holder wrote, from `cursor` on in the journal, and sends what changed.
pub(super) async fn run_follow(
    store: Arc<dyn ReleaseStore>,
    cursor: u64,
    tx: mpsc::Sender<Message>,
) {
    let mut cursor = cursor;
    let mut last: Option<(Option<Progress>, Option<Published>, Option<Holder>)> = None;
    loop {
        tokio::time::sleep(EVERY).await;
        let s = Arc::clone(&store);
        let read = tokio::task::spawn_blocking(move || {
            let tail = s.journal_since(cursor)?;
            let published = s
                .published()?
                .and_then(|bytes| serde_json::from_slice::<Published>(&bytes).ok());
            Ok::<_, crate::store::StoreError>((s.load()?, published, tail, s.holder()?))
        })
        .await;
        let Ok(Ok((progress, published, tail, holder))) = read else {
            continue;
        };
        cursor = tail.cursor;
        let seen = (progress, published, holder);
        if tail.entries.is_empty() && !tail.reset && last.as_ref() == Some(&seen) {
            continue;
        }
        let (progress, published, holder) = seen.clone();
        let followed = Followed {
            progress,
            published,
            entries: tail.entries,
            reset: tail.reset,
            holder,
        };
        if tx
            .send(Message::Followed(Box::new(followed)))
            .await
            .is_err()
        {
            return;
        }
        last = Some(seen);
    }
}
