//! replay: `shipdeck replay`, a flight recording played on the screen or checked
//! headless. Reads the recording and reports what is wrong with it; playing it is the
//! recorder's.

use anyhow::Result;

use super::Cli;
use super::args::ReplayArgs;
use super::load::operator;
use crate::app::options::{INVALID, screen_options};

pub(super) async fn replay(cli: &Cli, args: &ReplayArgs) -> Result<u8> {
    let recording = match crate::recording::Recording::read(&args.recording) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return Ok(INVALID);
        }
    };
    if let Err(e) = recording.plan() {
        eprintln!("{e}");
        return Ok(INVALID);
    }
    if let Some(line) = recording.torn {
        eprintln!(
            "warning: {}:{line} was cut short (the recording process was killed) and is skipped",
            args.recording.display()
        );
    }
    if args.headless {
        return Ok(crate::app::replay::play_headless(&recording, args.speed, args.json).await);
    }
    let tui = match screen_options(
        args.theme.as_deref(),
        "shipdeck replay RECORDING --headless",
    ) {
        Ok(t) => t,
        Err(code) => return Ok(code),
    };
    let (sandbox, session) =
        crate::app::replay::sandbox(&recording, args.speed, operator(cli)).await?;
    crate::tui::run(session, tui).await?;
    drop(sandbox);
    Ok(0)
}
