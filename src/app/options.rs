//! options: what more than one front-end reads from the command line (the screen's
//! options, the engine clock, RFC 3339 times) and the exit code for input a user can fix.
//! Imports no front-end, so the command line and the demo can both import it.

use clap::Args;

use super::{theme_file, user_config};
use crate::clock::{Clock, MAX_SPEED};
use crate::tui::{Theme, TuiOptions};

/// Exit code for input a user can fix (a bad plan, a bad flag file).
pub(crate) const INVALID: u8 = 2;

/// What runs a release where the screen cannot: no terminal, a pipe, cron, CI.
pub(crate) const HEADLESS: &str = "shipdeck run PLAN --headless";

#[derive(Debug, Args, Clone)]
pub struct ClockArgs {
    /// The engine clock starts here (RFC 3339); metrics are asked for at that clock.
    #[arg(long, value_parser = parse_time)]
    pub clock_start: Option<chrono::DateTime<chrono::Utc>>,
    /// The engine clock runs N times real time (above 0, at most 1000000).
    #[arg(long, default_value_t = 1.0, value_parser = parse_speed, allow_hyphen_values = true)]
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

/// `--speed`: how many times real time the engine clock runs. Anything but a number above
/// zero and at most [`MAX_SPEED`] is refused, never quietly run at real time or capped.
pub(crate) fn parse_speed(s: &str) -> Result<f64, String> {
    let fastest = MAX_SPEED;
    let speed: f64 = s.trim().parse().map_err(|_| {
        format!(
            "`{s}` is not a number; write how many times real time the engine clock runs, e.g. 60"
        )
    })?;
    if !speed.is_finite() {
        return Err(format!(
            "the engine clock needs a finite speed: a number above 0 and at most {fastest} (1 is real time)"
        ));
    }
    if speed <= 0.0 {
        return Err(format!(
            "the engine clock cannot stand still or run backwards: a number above 0 and at most {fastest} (1 is real time, 0.5 half of it)"
        ));
    }
    if speed > fastest {
        return Err(format!(
            "at most {fastest} (a year in about half a minute); a faster clock would run past the last date the engine can hold"
        ));
    }
    Ok(speed)
}

pub(crate) fn parse_time(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("{e}; write it as RFC 3339, e.g. 2026-03-15T14:00:00Z"))
}

/// The screen's options, read at start-up before the screen's loop runs: the theme from
/// `--theme NAME|PATH`, else the user's `theme.yaml`, else dark; the user's `keymap.yaml`
/// over the default keys; the user's `config.yaml` over the default settings; and
/// `NO_COLOR`. A broken file is the user's to fix: it is
/// reported and nothing starts, rather than a screen with keys or colours they did not ask
/// for. Without a terminal (a pipe, cron, CI) it says to run `without` instead, before
/// anything starts: taking the terminal there would fail, and its undoing would print
/// escape codes.
pub(crate) fn screen_options(theme: Option<&str>, without: &str) -> Result<TuiOptions, u8> {
    use std::io::IsTerminal;
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        eprintln!("the screen needs a terminal; use `{without}`");
        return Err(INVALID);
    }
    let refuse = |e: &dyn std::fmt::Display| {
        eprintln!("{e}");
        INVALID
    };
    let folder = user_config::folder();
    let theme = match theme {
        Some(t) => theme_file::load_theme(t).map_err(|e| refuse(&e))?,
        None => user_config::theme(folder.as_deref())
            .map_err(|e| refuse(&e))?
            .unwrap_or_else(Theme::dark),
    };
    let keymap = user_config::keymap(folder.as_deref()).map_err(|e| refuse(&e))?;
    let settings = user_config::settings(folder.as_deref()).map_err(|e| refuse(&e))?;
    Ok(TuiOptions {
        theme,
        no_color: theme_file::no_color_from_env(),
        keymap,
        settings,
    })
}
