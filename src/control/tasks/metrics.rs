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

/// Polls the metrics source at the engine clock, one batch per interval.
pub(in crate::control) async fn run_metrics(
    mut source: Box<dyn MetricsSource>,
    names: Vec<String>,
    clock: Clock,
    interval: Duration,
    backfill: Duration,
    exposure: watch::Receiver<Exposure>,
    tx: mpsc::Sender<Message>,
) {
    let step = chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::seconds(15));
    let now = clock.now();
    let from = now - chrono::Duration::from_std(backfill).unwrap_or_default();
    let batches = source.history(from, now, interval).await;
    if tx
        .send(Message::Input(Input::History { batches }))
        .await
        .is_err()
    {
        return;
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
            tokio::time::sleep(wait).await;
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
