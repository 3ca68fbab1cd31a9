//! control::tasks::metrics: polls the metrics source at the engine clock, one batch per
//! interval; a source that hangs still yields a batch (of errors) so the data goes stale.

use chrono::{DateTime, Utc};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

use crate::clock::Clock;
use crate::control::message::Message;
use crate::engine::Input;
use crate::engine::values::{Batch, Exposure, Outcome, Reading};
use crate::metrics::MetricsSource;

/// Polls the metrics source at the engine clock, one batch per interval. The history
/// before it (`backfill` long) fills sparklines and baselines; a cron run passes the
/// time of its last evaluation as `catch_up`, and gets the history up to then, then the
/// samples since then as one catch-up (asked over that range only when the engine would
/// credit it: see [`crate::engine::catch_up_limit`]).
/// The longest the poller sleeps before it looks at the clock again.
const NAP: Duration = Duration::from_millis(100);

#[allow(clippy::too_many_arguments)]
pub(in crate::control) async fn run_metrics(
    mut source: Box<dyn MetricsSource>,
    names: Vec<String>,
    clock: Clock,
    interval: Duration,
    backfill: Duration,
    catch_up: Option<DateTime<Utc>>,
    exposure: watch::Receiver<Exposure>,
    tx: mpsc::Sender<Message>,
) {
    let step = chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::seconds(15));
    let now = clock.now();
    let since = catch_up.filter(|s| *s < now);
    let until = since.unwrap_or(now);
    let from = until - chrono::Duration::from_std(backfill).unwrap_or_default();
    let batches = source.history(from, until, interval).await;
    if tx
        .send(Message::Input(Input::History { batches }))
        .await
        .is_err()
    {
        return;
    }
    if let Some(since) = since {
        let limit =
            chrono::Duration::from_std(crate::engine::catch_up_limit(interval)).unwrap_or_default();
        let batches = if now - since <= limit {
            source.history(since, now, interval).await
        } else {
            Vec::new()
        };
        let input = Input::CatchUp { since, batches };
        if tx.send(Message::Input(input)).await.is_err() {
            return;
        }
    }
    // The first poll is at once, at the last instant on the interval grid: waiting for the
    // next one would hold the engine clock (capped one interval past the newest batch)
    // still for up to an interval, and a grid shared by every run lets a replay ask for
    // exactly the instants a recording holds.
    let mut next = align(now, step);
    // A hung source must still produce a batch (of errors) so the data can go stale.
    let limit = (interval * 2).clamp(Duration::from_secs(2), Duration::from_secs(30));
    loop {
        let wait = clock.real_until(next);
        if wait >= Duration::from_millis(1) {
            // Short naps: the clock may speed up meanwhile (the demo's pace), and a long
            // sleep at the old speed would leave a gap that reads as stale data.
            tokio::time::sleep(wait.min(NAP)).await;
            if clock.now() < next {
                continue;
            }
        } else {
            tokio::task::yield_now().await;
        }
        let exp = *exposure.borrow();
        let batch = match tokio::time::timeout(limit, source.poll(next, exp)).await {
            Ok(b) => b,
            Err(_) => failed_batch(
                &names,
                next,
                &format!("no answer within {}s", limit.as_secs()),
            ),
        };
        if tx
            .send(Message::Input(Input::Samples { batch }))
            .await
            .is_err()
        {
            return;
        }
        next += step;
        // Far behind (a suspended laptop): skip ahead instead of replaying hours at once.
        let now = clock.now();
        if now - next > step * 1000 {
            next = align(now, step);
        }
    }
}

fn failed_batch(names: &[String], at: DateTime<Utc>, why: &str) -> Batch {
    Batch {
        arms: Vec::new(),
        at,
        readings: names
            .iter()
            .map(|series| Reading {
                series: series.clone(),
                outcome: Outcome::Error(why.to_string()),
            })
            .collect(),
    }
}

fn align(t: DateTime<Utc>, step: chrono::Duration) -> DateTime<Utc> {
    let ms = step.num_milliseconds().max(1);
    let floored = t.timestamp_millis().div_euclid(ms) * ms;
    DateTime::from_timestamp_millis(floored).unwrap_or(t)
}
