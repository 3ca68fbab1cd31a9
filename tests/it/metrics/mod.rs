//! The metrics sources: simulated, and the Prometheus query API against real Prometheus
//! and VictoriaMetrics servers, down to headless runs over past data.

mod prometheus;
mod prometheus_run;
mod simulated;
mod victoria;
