//! init: a new release's starting files — a commented `plan.yaml` with the reference
//! defaults for one of four templates, and the `flags.yaml` it points at. Never overwrites
//! a file that exists, and writes nothing at all when either file is already there.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The release shapes `shipdeck init` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Template {
    /// 5%, 25%, then everyone, an hour apart (the reference canary).
    Canary,
    /// Green for staff, then all traffic on green; rollback switches back to blue.
    BlueGreen,
    /// The reference phases behind a flag: internal, beta 5%, 25%, 50%, full.
    Flag,
    /// The reference hotfix process: short bakes, 15 minutes of monitoring.
    Hotfix,
}

impl Template {
    pub const ALL: [Template; 4] = [
        Template::Canary,
        Template::BlueGreen,
        Template::Flag,
        Template::Hotfix,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Template::Canary => "canary",
            Template::BlueGreen => "blue-green",
            Template::Flag => "flag",
            Template::Hotfix => "hotfix",
        }
    }

    fn plan_text(self) -> &'static str {
        match self {
            Template::Canary => include_str!("../../templates/canary.yaml"),
            Template::BlueGreen => include_str!("../../templates/blue-green.yaml"),
            Template::Flag => include_str!("../../templates/flag.yaml"),
            Template::Hotfix => include_str!("../../templates/hotfix.yaml"),
        }
    }

    fn flag_kind(self) -> &'static str {
        match self {
            Template::BlueGreen | Template::Hotfix => "ops",
            Template::Canary | Template::Flag => "release",
        }
    }
}

const FLAGS_TEXT: &str = include_str!("../../templates/flags.yaml");
const MAX_NAME: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(
        "--name `{0}` cannot name a release\n  hint: use letters, digits, `-`, `_` and `.`, starting with a letter or digit (at most {MAX_NAME}), like `checkout-v2`"
    )]
    BadName(String),
    #[error(
        "{} already exists; shipdeck init never overwrites a file\n  hint: pick another folder with --dir, or move the file away",
        .0.display()
    )]
    Exists(PathBuf),
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.len() <= MAX_NAME
}

/// A release name from a folder's name (`~/src/Checkout V2` → `checkout-v2`), or
/// `my-release` when nothing usable is left.
pub(crate) fn name_from_folder(dir: &Path) -> String {
    let folder = std::path::absolute(dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let mut name = String::new();
    for c in folder.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '_' | '.') {
            name.push(c.to_ascii_lowercase());
        } else if !name.is_empty() && !name.ends_with('-') {
            name.push('-');
        }
    }
    let name: String = name
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .chars()
        .take(MAX_NAME)
        .collect();
    if valid_name(&name) {
        name
    } else {
        "my-release".into()
    }
}

/// The flag a release is rolled out behind: `checkout-v2` → `checkout_v2`.
pub(crate) fn flag_name(release: &str) -> String {
    release.replace(['-', '.'], "_")
}

/// The plan and flag file texts for `template` and release `name`.
pub fn render(template: Template, name: &str) -> Result<(String, String), InitError> {
    if !valid_name(name) {
        return Err(InitError::BadName(name.to_string()));
    }
    let flag = flag_name(name);
    let plan = template
        .plan_text()
        .replace("{{name}}", name)
        .replace("{{flag}}", &flag);
    let flags = FLAGS_TEXT
        .replace("{{flag}}", &flag)
        .replace("{{kind}}", template.flag_kind());
    Ok((plan, flags))
}

/// Writes `plan.yaml` and `flags.yaml` into `dir` (made if missing). Returns the paths
/// written. Refuses, writing nothing, when either exists.
pub fn write(dir: &Path, template: Template, name: &str) -> Result<Vec<PathBuf>, InitError> {
    let (plan, flags) = render(template, name)?;
    let files = [
        (dir.join("plan.yaml"), plan),
        (dir.join("flags.yaml"), flags),
    ];
    for (path, _) in &files {
        if path.exists() {
            return Err(InitError::Exists(path.clone()));
        }
    }
    std::fs::create_dir_all(dir).map_err(|source| InitError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    for (path, text) in files {
        // create_new: a file that appeared since the check above is still not overwritten.
        let result = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| {
                f.write_all(text.as_bytes())?;
                f.sync_all()
            });
        match result {
            Ok(()) => written.push(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(InitError::Exists(path));
            }
            Err(source) => return Err(InitError::Write { path, source }),
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders_a_plan_that_loads() {
        for t in Template::ALL {
            let (plan, flags) = render(t, "checkout-v2").unwrap();
            assert!(
                !plan.contains("{{") && !flags.contains("{{"),
                "{}",
                t.name()
            );
            let p = crate::plan::parse(&plan, Path::new("/tmp/x/plan.yaml"))
                .unwrap_or_else(|e| panic!("{}: {e}", t.name()));
            assert_eq!(p.release.name, "checkout-v2");
            assert_eq!(p.flag.name, "checkout_v2");
            assert_eq!(
                p.release.strategy.name(),
                match t {
                    Template::Canary | Template::Hotfix => "canary",
                    Template::BlueGreen => "blue-green",
                    Template::Flag => "flag",
                }
            );
        }
    }

    #[test]
    fn names_are_checked_and_folders_give_names() {
        assert!(matches!(
            render(Template::Canary, "a b"),
            Err(InitError::BadName(_))
        ));
        assert!(matches!(
            render(Template::Canary, "-x"),
            Err(InitError::BadName(_))
        ));
        assert_eq!(
            name_from_folder(Path::new("/src/Checkout V2")),
            "checkout-v2"
        );
        assert_eq!(name_from_folder(Path::new("/src/--")), "my-release");
        assert_eq!(flag_name("search.api-v3"), "search_api_v3");
    }
}
