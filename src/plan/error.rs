//! plan::error: what is wrong with a plan file, where, and what to do about it.
//! Owns the wording and layout of plan diagnostics; never decides what is wrong.

use std::fmt;
use std::path::{Path, PathBuf};

/// Every problem found in one plan file, in file order. Never empty.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct PlanError {
    pub diagnostics: Vec<Diagnostic>,
}

impl PlanError {
    pub(super) fn single(diagnostic: Diagnostic) -> Self {
        PlanError {
            diagnostics: vec![diagnostic],
        }
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_all(f, &self.diagnostics)
    }
}

/// Every diagnostic, one after another: how any file shipdeck reads lists its problems.
pub(crate) fn write_all(f: &mut fmt::Formatter<'_>, diagnostics: &[Diagnostic]) -> fmt::Result {
    for (i, d) in diagnostics.iter().enumerate() {
        if i > 0 {
            writeln!(f)?;
        }
        write!(f, "{d}")?;
    }
    Ok(())
}

/// One problem at one place: `plan.yaml:12:14: error: percent 120 is outside 0..=100`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based; 0 when the problem has no place in the text (the file cannot be read).
    pub line: usize,
    /// 1-based; 0 together with `line`.
    pub column: usize,
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A problem with the file as a whole (missing, unreadable): no line or column.
    pub(super) fn whole_file(file: &Path, message: String, hint: Option<String>) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            line: 0,
            column: 0,
            message,
            hint,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        write!(f, ": error: {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diag(line: usize, column: usize, hint: Option<&str>) -> Diagnostic {
        Diagnostic {
            file: PathBuf::from("plan.yaml"),
            line,
            column,
            message: "percent 120 is outside 0..=100".to_string(),
            hint: hint.map(str::to_string),
        }
    }

    #[test]
    fn display_names_the_place_then_the_hint() {
        let d = diag(12, 14, Some("write a whole number from 0 to 100"));
        assert_eq!(
            d.to_string(),
            "plan.yaml:12:14: error: percent 120 is outside 0..=100\n  hint: write a whole number from 0 to 100"
        );
    }

    #[test]
    fn whole_file_problems_have_no_line_or_column() {
        let d = Diagnostic::whole_file(Path::new("p.yaml"), "cannot read".into(), None);
        assert_eq!(d.to_string(), "p.yaml: error: cannot read");
    }

    #[test]
    fn every_diagnostic_is_shown() {
        let e = PlanError {
            diagnostics: vec![diag(1, 2, None), diag(3, 4, Some("h"))],
        };
        assert_eq!(
            e.to_string(),
            "plan.yaml:1:2: error: percent 120 is outside 0..=100\nplan.yaml:3:4: error: percent 120 is outside 0..=100\n  hint: h"
        );
    }
}
