//! shipdeck: a terminal release control room.
//!
//! The functional core (`plan`, `engine` with its guardrails, `tui` layout) is pure; the
//! adapters (`metrics`, `flags`, `store`, `pipeline`) do I/O behind traits and run as
//! tokio tasks that talk to the `controller` over channels.

/// `println!` for command output. A reader that went away (`shipdeck journal | head`)
/// ends the command quietly, as other command-line tools do; `println!` would panic.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::app::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` for command output, with [`out!`]'s handling of a closed pipe.
macro_rules! out_part {
    ($($arg:tt)*) => {
        $crate::app::write_out(format_args!($($arg)*))
    };
}

/// [`out!`] for one line that holds text from outside (names, reasons, a flag file's
/// keys): the whole line is shown escaped ([`support::escape::shown`]), so it stays one
/// line and cannot drive the terminal.
macro_rules! out_line {
    ($($arg:tt)*) => {
        out!("{}", $crate::support::escape::shown(&format!($($arg)*)))
    };
}

pub mod app;
pub mod backtest;
pub mod canary;
pub mod clock;
pub mod control;
pub mod engine;
pub mod flags;
pub mod metrics;
pub mod notify;
pub mod pipeline;
pub mod plan;
pub mod recording;
pub mod store;
pub mod support;
pub mod tui;
pub mod watch;
