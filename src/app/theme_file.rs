//! theme_file: what the screen's look is read from at start-up — `--theme NAME|PATH` (a
//! built-in name, or a theme file read here), the user's own `theme.yaml` (found by
//! `user_config`) and the `NO_COLOR` environment variable.
//! Owns that reading, so the screen does no I/O of its own; never parses a theme itself
//! (`tui::theme` does, from the text handed to it).

use std::path::{Path, PathBuf};

use crate::tui::theme::{self, Theme, ThemeError};

/// A `--theme` the user can cause to fail: a file that cannot be read, or a name or text
/// the screen's theme format rejects.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ThemeFileError {
    #[error(
        "{}: error: cannot read the theme: {source}\n  hint: check the path and its permissions, or use a built-in theme (dark, light, high-contrast)",
        path.display()
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Theme(#[from] ThemeError),
}

/// `--theme NAME|PATH`: a built-in theme by name, or a theme file merged over the theme it
/// `extends` (default `dark`).
pub(crate) fn load_theme(name_or_path: &str) -> Result<Theme, ThemeFileError> {
    if let Some(theme) = theme::named(name_or_path) {
        return Ok(theme);
    }
    let path = Path::new(name_or_path);
    let looks_like_path = name_or_path.contains(std::path::MAIN_SEPARATOR)
        || name_or_path.contains('/')
        || path.extension().is_some()
        || path.exists();
    if !looks_like_path {
        return Err(theme::unknown(name_or_path).into());
    }
    read_theme_file(path)
}

/// A theme file merged over the theme it `extends` (default `dark`).
pub(crate) fn read_theme_file(path: &Path) -> Result<Theme, ThemeFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ThemeFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(theme::parse_file(&path.display().to_string(), &text)?)
}

/// `NO_COLOR` set to anything non-empty turns colour off (no-color.org).
pub(crate) fn no_color_from_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::theme::built_in;
    use ratatui::style::Color;

    #[test]
    fn built_in_names_load() {
        assert_eq!(load_theme("light").unwrap().name, "light");
        assert_eq!(load_theme("high-contrast").unwrap(), built_in(2));
    }

    #[test]
    fn unknown_name_suggests_the_nearest() {
        let err = load_theme("ligth").unwrap_err().to_string();
        assert!(err.contains("did you mean `light`"), "{err}");
        assert!(err.contains("--theme"), "{err}");
    }

    #[test]
    fn partial_file_merges_over_dark() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mine.yaml");
        std::fs::write(&path, "ok: {fg: \"#00ff00\"}\n").unwrap();
        let theme = load_theme(path.to_str().unwrap()).unwrap();
        let dark = Theme::dark();
        assert_eq!(theme.ok.fg, Some(Color::Rgb(0, 255, 0)));
        assert_eq!(theme.ok.add_modifier, dark.ok.add_modifier);
        assert_eq!(theme.bad, dark.bad);
        assert_eq!(theme.text, dark.text);
    }

    #[test]
    fn missing_file_says_which() {
        let err = load_theme("/nonexistent/theme.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/theme.yaml"), "{err}");
    }
}
