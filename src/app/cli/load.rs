//! load: what most commands open first (the plan, the release's store, the operator's
//! name), each failure turned into the message or exit code the user sees.

use anyhow::{Context, Result};
use std::path::Path;
use std::sync::Arc;

use super::Cli;
use crate::app::options::INVALID;
use crate::plan::{self, Plan};
use crate::store::{FileStore, ReleaseStore};

/// The operator: `--operator`, else `$SHIPDECK_OPERATOR` (clap reads it), else `$USER`.
pub(super) fn operator(cli: &Cli) -> String {
    cli.operator
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "unknown".into())
}

pub(super) fn load_plan(path: &Path) -> Result<Arc<Plan>, u8> {
    match plan::load(path) {
        Ok(p) => Ok(Arc::new(p)),
        Err(e) => {
            eprintln!("{e}");
            Err(INVALID)
        }
    }
}

pub(super) fn open_store(cli: &Cli, plan: &Plan) -> Result<Arc<dyn ReleaseStore>> {
    let dir = cli
        .state_dir
        .clone()
        .unwrap_or_else(|| crate::store::state_dir_for(&plan.path));
    let store = FileStore::open(&dir)
        .with_context(|| format!("cannot use the state directory {}", dir.display()))?;
    Ok(Arc::new(store))
}
