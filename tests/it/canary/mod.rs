//! The canary judge: its false-alarm rates and power by seeded simulation, its invariants
//! by property, and the offline `shipdeck judge` command.

mod cli;
mod engine;
mod false_alarms;
mod props;
mod release;
