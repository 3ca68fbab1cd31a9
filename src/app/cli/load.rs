//! load: what most commands open first (the plan, the release's store, the operator's
//! name), each failure turned into the message or exit code the user sees.

use anyhow::{Context, Result};
use std::path::Path;
use std::sync::Arc;

use super::Cli;
use crate::app::options::INVALID;
use crate::control::exporter::MetricsListener;
use crate::plan::{self, Plan, StoreKind};
use crate::store::postgres::DbUrl;
use crate::store::{FileStore, PgStore, ReleaseStore};

/// The operator: `--operator`, else `$SHIPDECK_OPERATOR` (clap reads it), else `$USER`.
pub(super) fn operator(cli: &Cli) -> String {
    cli.operator
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// The plan a command names, else `./plan.yaml` (`command` is the command's name, for
/// the hint when there is neither), read and validated.
pub(super) fn load_plan(given: Option<&Path>, command: &str) -> Result<Arc<Plan>, u8> {
    let path = match given {
        Some(path) => path,
        None => default_plan(command)?,
    };
    match plan::load(path) {
        Ok(p) => Ok(Arc::new(p)),
        Err(e) => {
            eprintln!("{e}");
            Err(INVALID)
        }
    }
}

/// The plan a command takes when it names none.
const DEFAULT_PLAN: &str = "plan.yaml";

/// `./plan.yaml` when it is there; otherwise says how to name a plan.
fn default_plan(command: &str) -> Result<&'static Path, u8> {
    let path = Path::new(DEFAULT_PLAN);
    if path.exists() {
        return Ok(path);
    }
    let here = std::env::current_dir()
        .map(|d| format!(" ({})", d.display()))
        .unwrap_or_default();
    eprintln!(
        "error: no plan named, and there is no {DEFAULT_PLAN} in the current directory{here}\n  \
         hint: name the plan file after the command (`shipdeck {command} path/to/plan.yaml`), \
         or run it in the plan's folder; `shipdeck init` writes a new plan"
    );
    Err(INVALID)
}

/// `--metrics-listen ADDR` bound before the release opens, so that a port in use is the
/// user's to fix (exit 2) before anything is locked or started.
pub(super) async fn metrics_listener(addr: Option<&str>) -> Result<Option<MetricsListener>, u8> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    match MetricsListener::bind(addr).await {
        Ok(l) => Ok(Some(l)),
        Err(e) => {
            eprintln!("{e}");
            Err(INVALID)
        }
    }
}

/// The store the command line or the plan names.
pub(super) fn store_kind(cli: &Cli, plan: &Plan) -> StoreKind {
    cli.store.map(StoreKind::from).unwrap_or(plan.store)
}

/// The release's store, for a command that writes or acts (made if missing).
pub(super) fn open_store(cli: &Cli, plan: &Plan) -> Result<Arc<dyn ReleaseStore>> {
    match store_kind(cli, plan) {
        StoreKind::File => open_files(cli, plan),
        StoreKind::Postgres => open_database(plan),
    }
}

/// The release in the database at `$SHIPDECK_DATABASE_URL`.
pub(super) fn open_database(plan: &Plan) -> Result<Arc<dyn ReleaseStore>> {
    let url = DbUrl::from_env()?;
    let store = PgStore::open(url, &plan.release.name, &plan.release.version)?;
    Ok(Arc::new(store))
}

/// The release's files: `--state-dir`, else `.shipdeck/` beside the plan.
pub(super) fn open_files(cli: &Cli, plan: &Plan) -> Result<Arc<dyn ReleaseStore>> {
    let dir = state_dir(cli, plan);
    let store = FileStore::open(&dir)
        .with_context(|| format!("cannot use the state directory {}", dir.display()))?;
    Ok(Arc::new(store))
}

/// The release's store, for a command that only reads it: nothing is made or written.
pub(super) fn open_store_to_read(cli: &Cli, plan: &Plan) -> Result<Arc<dyn ReleaseStore>> {
    if store_kind(cli, plan) == StoreKind::Postgres {
        let url = DbUrl::from_env()?;
        let store = PgStore::open_existing(url, &plan.release.name, &plan.release.version)?;
        return Ok(Arc::new(store));
    }
    let dir = state_dir(cli, plan);
    let store = FileStore::open_read_only(&dir)
        .with_context(|| format!("cannot read the state directory {}", dir.display()))?;
    Ok(Arc::new(store))
}

/// Opens the release for a command; a plan whose steps changed under it is the user's
/// to settle, reported as a plan error (exit 2).
pub(super) async fn open_release(
    plan: Arc<Plan>,
    opts: crate::control::Options,
    store: Arc<dyn ReleaseStore>,
) -> Result<Result<crate::control::Session, u8>> {
    match crate::control::open(plan, opts, store).await {
        Ok(session) => Ok(Ok(session)),
        Err(e @ crate::control::ControllerError::PlanChanged { .. }) => {
            eprintln!("error: {e}");
            Ok(Err(INVALID))
        }
        Err(e) => Err(e.into()),
    }
}

fn state_dir(cli: &Cli, plan: &Plan) -> std::path::PathBuf {
    cli.state_dir
        .clone()
        .unwrap_or_else(|| crate::store::state_dir_for(&plan.path))
}
