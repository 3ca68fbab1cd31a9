//! plan: the release plan file — parsing, validation and the validated model.
//! Owns every user-facing error about a plan; never performs I/O beyond reading the file.
//!
//! `load`/`parse` turn a plan file into a [`Plan`] or a [`PlanError`] that lists
//! every problem found, each at its `file:line:column` with a hint.

pub mod canary;
mod defaults;
mod error;
pub mod model;
mod read;
mod summary;
pub mod units;
pub(crate) mod yaml;

use std::path::Path;

pub use canary::{Arm, ArmKey, ArmScenario, ArmSeries, CanarySpec, Compared, CountsSpec};
pub use defaults::default_checklists;
pub(crate) use error::write_all as write_diagnostics;
pub use error::{Diagnostic, PlanError};
pub use model::*;
pub(crate) use summary::condition_text;
pub use summary::summary;

/// Whether a YAML error is a budget limit (too deep, or too many values through aliases),
/// for other readers of YAML files to explain it the way a plan's is.
pub(crate) fn yaml_budget_breached(error: &serde_saphyr::Error) -> bool {
    yaml::breach(error).is_some()
}

/// Read and validate the plan file at `path`.
pub fn load(path: &Path) -> Result<Plan, PlanError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::NotFound => {
                Some("check the path; relative paths start from the current directory".to_string())
            }
            std::io::ErrorKind::InvalidData => Some("a plan file is UTF-8 text".to_string()),
            _ => None,
        };
        PlanError::single(Diagnostic::whole_file(
            path,
            format!("cannot read the plan: {e}"),
            hint,
        ))
    })?;
    parse(&text, path)
}

/// Validate plan `text`; `path` names it in diagnostics and its folder anchors the plan's
/// relative paths (flag file, status files, replay recording, deploy log).
pub fn parse(text: &str, path: &Path) -> Result<Plan, PlanError> {
    let root = yaml::parse(text).map_err(|e| {
        PlanError::single(Diagnostic {
            file: path.to_path_buf(),
            line: e.line,
            column: e.column,
            message: format!("not valid YAML: {}", e.message),
            hint: Some("check the indentation, colons and quotes at this place".to_string()),
        })
    })?;
    read::plan(&root, path).map_err(|diagnostics| PlanError { diagnostics })
}
