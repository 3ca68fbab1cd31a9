//! manual: `shipdeck completions` and `shipdeck man`, the command line described for
//! shells and for man, both generated from clap's own description so neither drifts.

use anyhow::Result;
use clap::CommandFactory;

use super::Cli;
use super::args::ShellArg;

/// The binary's name as the shell and man know it.
const NAME: &str = "shipdeck";

/// The completion script for `shell`, on stdout.
pub(super) fn completions(shell: ShellArg) -> Result<u8> {
    let mut script = Vec::new();
    clap_complete::generate(
        clap_complete::Shell::from(shell),
        &mut Cli::command(),
        NAME,
        &mut script,
    );
    out_part!("{}", String::from_utf8_lossy(&script));
    Ok(0)
}

/// The man page, as roff on stdout.
pub(super) fn man() -> Result<u8> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command().name(NAME)).render(&mut page)?;
    out_part!("{}", title_first(&String::from_utf8_lossy(&page)));
    Ok(0)
}

/// The page with its `.TH` title line first, where a man page opens. clap_mangen puts
/// roff's definition of the apostrophe string (`.ie`/`.el`) before it; the title uses no
/// apostrophe, so the definition works as well right after it.
fn title_first(page: &str) -> String {
    let Some(title) = page.lines().find(|l| l.starts_with(".TH ")) else {
        return page.to_string();
    };
    let mut out = format!("{title}\n");
    for line in page.lines().filter(|l| *l != title) {
        out.push_str(line);
        out.push('\n');
    }
    out
}
