//! control::follow: what a holder publishes for its followers, and the follower's task
//! that reads it. A follower runs no engine of its own: it shows the holder's state, the
//! samples the holder published and the journal, read only from where it left off.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

use super::Controller;
use super::message::{Message, Notice};
use super::writer::Job;
use crate::engine::Progress;
use crate::engine::history::Point;
use crate::engine::journal::Entry;
use crate::engine::values::{Batch, Outcome, Reading};
use crate::engine::{Engine, Input};
use crate::store::{Holder, ReleaseStore};

/// How often a follower looks at the store.
const EVERY: Duration = Duration::from_millis(500);
/// How many of each series' newest samples the holder publishes.
pub(crate) const PUBLISHED_SAMPLES: usize = 300;

/// The holder's heartbeat and what its screen shows that the state does not hold.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Published {
    pub holder: Holder,
    /// Wall-clock time of publishing: the heartbeat.
    pub heartbeat: DateTime<Utc>,
    /// The holder's engine clock then, and how fast it runs against the wall clock.
    pub now: DateTime<Utc>,
    #[serde(default = "real_time")]
    pub speed: f64,
    /// Each series' newest samples, oldest first.
    pub samples: BTreeMap<String, Vec<Point>>,
    /// Each series' last error.
    pub errors: BTreeMap<String, String>,
    pub notices: Vec<Notice>,
    /// Where the flag lives.
    pub flag: String,
    pub(crate) pipeline_settled: bool,
}

fn real_time() -> f64 {
    1.0
}

impl Published {
    /// The holder's engine clock now, as far as a follower can tell: it runs on from the
    /// last heartbeat, so a silent holder's data grows visibly old.
    pub(crate) fn engine_now(&self) -> DateTime<Utc> {
        let since = (Utc::now() - self.heartbeat).max(chrono::Duration::zero());
        let ms = since.num_milliseconds() as f64 * self.speed.clamp(0.0, 1e9);
        self.now + chrono::Duration::milliseconds(ms.min(1e15) as i64)
    }
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
    // A wake-up (a database notification) brings a change at once; the look every
    // `EVERY` still runs, for a holder that went away without a word.
    let mut wakes = store.change_wakes();
    loop {
        tokio::select! {
            woke = crate::store::wakes::woken(&mut wakes) => if !woke {
                wakes = None;
            },
            _ = tokio::time::sleep(EVERY) => {}
        }
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

impl Controller {
    /// A follower shows what the holder published: its state, its samples and the
    /// journal's new entries. It decides nothing.
    pub(super) fn on_followed(&mut self, f: Followed) {
        let plan = Arc::clone(self.engine.plan());
        let mut engine = match f.progress {
            Some(p) => Engine::follow(plan, p),
            None => Engine::new(plan),
        };
        if let Some(p) = &f.published {
            let batches = history_batches(&p.samples, &p.errors);
            if let Some(last) = batches.last() {
                let at = last.at;
                engine.handle(at, Input::History { batches });
            }
            self.flag_description = p.flag.clone();
        }
        self.engine = engine;
        if f.reset {
            self.recent.clear();
        }
        for e in f.entries {
            self.push_recent(e);
        }
        self.journal_recorded = self.journal_total;
        if let Some(view) = &mut self.follower {
            view.holder = f.holder;
            if f.published.is_some() {
                view.published = f.published;
            }
        }
    }

    /// The notice a screen shows first, then the flag's trouble when that one hides it:
    /// a follower's command must learn why the flag is not confirmed.
    fn published_notices(&self) -> Vec<Notice> {
        let mut notices: Vec<Notice> = self.notice().into_iter().collect();
        if let Some(trouble) = self.notice.clone().filter(Notice::is_flag_trouble)
            && !notices.contains(&trouble)
        {
            notices.push(trouble);
        }
        notices
    }

    /// Publishes the heartbeat and recent samples for followers (holder only).
    pub(super) fn publish(&mut self) {
        let Some(lease) = &self.lease else {
            return;
        };
        let samples: BTreeMap<String, Vec<Point>> = self
            .engine
            .plan()
            .metrics
            .series
            .iter()
            .filter_map(|s| {
                let h = self.engine.history(&s.name)?;
                let skip = h.len().saturating_sub(PUBLISHED_SAMPLES);
                Some((s.name.clone(), h.iter().skip(skip).copied().collect()))
            })
            .collect();
        let errors = self
            .engine
            .plan()
            .metrics
            .series
            .iter()
            .filter_map(|s| {
                let e = self.engine.series_error(&s.name)?;
                Some((s.name.clone(), e.to_string()))
            })
            .collect();
        let published = Published {
            holder: lease.holder().clone(),
            heartbeat: Utc::now(),
            now: self.now(),
            speed: self.opts.clock.speed(),
            samples,
            errors,
            notices: self.published_notices(),
            flag: self.flag_description.clone(),
            pipeline_settled: self.pipeline.settled(),
        };
        self.last_publish = Instant::now();
        if let Ok(bytes) = serde_json::to_vec(&published) {
            self.send(Job::Publish(bytes));
        }
    }
}

/// The published samples as the engine's history input, one batch per instant.
fn history_batches(
    samples: &BTreeMap<String, Vec<Point>>,
    errors: &BTreeMap<String, String>,
) -> Vec<Batch> {
    let mut at: BTreeMap<DateTime<Utc>, Vec<Reading>> = BTreeMap::new();
    for (series, points) in samples {
        for (i, p) in points.iter().enumerate() {
            let outcome = match (p.value, errors.get(series)) {
                (Some(v), _) => Outcome::Value(v),
                (None, Some(e)) if i + 1 == points.len() => Outcome::Error(e.clone()),
                (None, _) => Outcome::NoData,
            };
            at.entry(p.at).or_default().push(Reading {
                series: series.clone(),
                outcome,
            });
        }
    }
    at.into_iter()
        .map(|(at, readings)| Batch {
            arms: Vec::new(),
            at,
            readings,
        })
        .collect()
}
