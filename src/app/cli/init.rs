//! init: `shipdeck init`, a new release's starting files written and the next steps
//! printed. Exit 2 when a file is already there.

use anyhow::Result;

use super::args::InitArgs;
use crate::app::options::INVALID;

pub(super) fn init(args: &InitArgs) -> Result<u8> {
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| crate::app::init::name_from_folder(&args.dir));
    match crate::app::init::write(&args.dir, args.template, &name) {
        Ok(files) => {
            for f in &files {
                out!("wrote {}", f.display());
            }
            let plan = args.dir.join("plan.yaml");
            out!(
                "next: edit {0}, then `shipdeck check {0}` and `shipdeck open {0}`",
                plan.display()
            );
            Ok(0)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(INVALID)
        }
    }
}
