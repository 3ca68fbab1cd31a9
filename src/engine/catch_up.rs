//! engine::catch_up: a cron run (`run --once`) is not there between its calls, so it
//! takes the samples of that time from the source's history and credits the bake time
//! they cover as a controller running all along would have: only while the step is
//! running on a confirmed flag, and only as far as the data stays fresh. Every sample is
//! judged by the guardrails on its own time; what a trip does is done now.

use chrono::{DateTime, Utc};
use std::time::Duration;

use crate::support::fmt;

use super::effect::Effect;
use super::journal::{Kind, Verb};
use super::progress::Phase;
use super::values::Batch;
use super::{ENGINE, Engine};

/// The longest gap a cron run catches up on: a day, and at most 10,000 intervals, so
/// that one range query per series stays within what Prometheus answers (11,000 points).
pub fn catch_up_limit(interval: Duration) -> Duration {
    (interval * 10_000).min(Duration::from_secs(24 * 3600))
}

impl Engine {
    pub(super) fn on_catch_up(
        &mut self,
        now: DateTime<Utc>,
        since: DateTime<Utc>,
        batches: Vec<Batch>,
        fx: &mut Vec<Effect>,
    ) {
        let live = self.progress.phase.is_live();
        // This engine's own time starts where it woke: from there the live clock serves.
        let until = self.woke.unwrap_or(now).min(now);
        let gap = (until - since).to_std().unwrap_or_default();
        let limit = catch_up_limit(self.plan.metrics.interval);
        let credit = since < until && gap <= limit;
        let mut served = 0u64;
        let mut samples = 0usize;
        let mut clock = since;
        for batch in batches {
            if !credit || batch.at <= since || batch.at > until {
                self.record(&batch, false);
                continue;
            }
            let at = batch.at;
            let running = matches!(self.progress.phase, Phase::Baking { .. } | Phase::Watching);
            if running && self.flag_serves() {
                // Time after the data went quiet is not healthy time: it never bakes. A
                // metric with no sample at all was last fresh at the last evaluation.
                let end = self.fresh_until_from(Some(since)).map_or(at, |f| f.min(at));
                let dt = (end - clock).num_milliseconds().max(0) as u64;
                self.progress.served_ms = self.progress.served_ms.saturating_add(dt);
                served += dt;
            }
            clock = at;
            samples += 1;
            self.on_samples(now, batch, fx);
        }
        if !live || since >= until {
            return;
        }
        let last = since.format("%Y-%m-%dT%H:%M:%SZ");
        let reason = if gap > limit {
            format!(
                "the last evaluation was at {last}, {} ago, longer than the {} a cron run catches up on: none of it is baked",
                fmt::duration(gap),
                fmt::duration(limit)
            )
        } else {
            format!(
                "{} since the last evaluation at {last}: {samples} samples, {} of bake served on healthy data",
                fmt::duration(gap),
                fmt::duration(Duration::from_millis(served))
            )
        };
        fx.push(Effect::Journal(self.entry(
            now,
            ENGINE,
            Kind::Note,
            Verb::CatchUp,
            reason,
        )));
    }
}
