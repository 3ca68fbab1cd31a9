//! options: what more than one front-end reads from the command line (the screen's
//! theme, the engine clock, RFC 3339 times) and the exit code for input a user can fix.
//! Imports no front-end, so the command line and the demo can both import it.

use clap::Args;

use crate::clock::Clock;

/// Exit code for input a user can fix (a bad plan, a bad flag file).
pub const INVALID: u8 = 2;

#[derive(Debug, Args, Clone)]
pub struct ClockArgs {
    /// The engine clock starts here (RFC 3339); metrics are asked for at that clock.
    #[arg(long, value_parser = parse_time)]
    pub clock_start: Option<chrono::DateTime<chrono::Utc>>,
    /// The engine clock runs N times real time.
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
}

impl ClockArgs {
    pub(crate) fn clock(&self) -> Clock {
        Clock::starting(
            self.clock_start.unwrap_or_else(chrono::Utc::now),
            self.speed,
        )
    }
}

pub(crate) fn parse_time(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("{e}; write it as RFC 3339, e.g. 2026-03-15T14:00:00Z"))
}

/// The screen's options from `--theme` and `NO_COLOR`; a bad theme is the user's to fix.
pub(crate) fn screen_options(theme: Option<&str>) -> Result<crate::tui::TuiOptions, u8> {
    crate::tui::TuiOptions::from_args(theme).map_err(|e| {
        eprintln!("{e}");
        INVALID
    })
}
