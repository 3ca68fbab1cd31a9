//! app: the front-ends that are not the screen — the command line and its commands, the
//! headless driver, the built-in demo, `init`'s starting files, the release notes and the
//! reading of the screen's theme, the user's keymap and `NO_COLOR` at start-up.
//! Owns what the process prints and its exit codes; decides nothing about a release (the
//! engine does) and must never be imported by the layers below it.

pub mod cli;
pub mod demo;
pub mod headless;
pub mod init;
pub mod notes;
pub(crate) mod options;
pub mod replay;
pub(crate) mod theme_file;
pub(crate) mod user_config;

/// Writes command output to stdout (through [`out!`]). A closed pipe ends the process with
/// success: whoever read the output has all they wanted. Any other failure to write (a
/// full disk behind a redirect) ends it with an error, instead of losing output quietly.
pub(crate) fn write_out(args: std::fmt::Arguments) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write the output: {e}");
        std::process::exit(1);
    }
}
