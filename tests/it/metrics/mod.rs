//! The metrics sources: simulated, and the Prometheus query API against real Prometheus
//! (plain, and behind basic auth over TLS) and VictoriaMetrics servers, down to headless
//! runs over past data, the canary judge's among them over two arms (run, and backtested);
//! and shipdeck's own metrics as a real Prometheus scrapes them.

mod canary_arms;
mod canary_backtest;
mod exported;
mod prometheus;
mod prometheus_run;
mod secured;
mod simulated;
mod victoria;

use chrono::{DateTime, Utc};
use shipdeck::plan::{Better, Series, Unit};

/// A ratio series, lower is better, read by `query`.
fn series(name: &str, query: &str) -> Series {
    Series {
        name: name.into(),
        query: Some(query.into()),
        unit: Unit::Ratio,
        better: Better::Lower,
    }
}

/// `secs` seconds after the Unix epoch.
fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap()
}
