//! user_config: the user's own keys, colours and settings, read at start-up from the XDG
//! config folder — `$XDG_CONFIG_HOME/shipdeck/`, else `~/.config/shipdeck/` — as
//! `keymap.yaml`, `theme.yaml` and `config.yaml`. A file that is not there leaves the
//! defaults; one that is there must be right, or the screen does not start. Owns finding
//! and reading the files; the screen's keymap, theme and settings formats read their text.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::theme_file::{self, ThemeFileError};
use crate::plan::Diagnostic;
use crate::tui::Theme;
use crate::tui::keymap::{self, Keymap, KeymapError};
use crate::tui::settings::{self, Settings, SettingsError};

/// The folder the user's files are in: `$XDG_CONFIG_HOME/shipdeck`, or
/// `$HOME/.config/shipdeck` when that is unset, empty or relative (the XDG rule). `None`
/// with neither.
pub(crate) fn folder() -> Option<PathBuf> {
    folder_from(
        std::env::var_os("XDG_CONFIG_HOME"),
        std::env::var_os("HOME"),
    )
}

fn folder_from(xdg: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    let absolute = |v: Option<OsString>| v.map(PathBuf::from).filter(|p| p.is_absolute());
    absolute(xdg)
        .or_else(|| absolute(home).map(|h| h.join(".config")))
        .map(|base| base.join("shipdeck"))
}

/// `keymap.yaml` in `folder`, over the default keys; the defaults when it is not there.
pub(crate) fn keymap(folder: Option<&Path>) -> Result<Keymap, KeymapError> {
    let Some(path) = folder.map(|f| f.join("keymap.yaml")) else {
        return Ok(Keymap::default());
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => keymap::parse(&path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Keymap::default()),
        Err(e) => Err(KeymapError {
            diagnostics: vec![Diagnostic {
                file: path,
                line: 0,
                column: 0,
                message: format!("cannot read the keymap: {e}"),
                hint: Some(
                    "make it a readable UTF-8 file, or remove it to keep the default keys".into(),
                ),
            }],
        }),
    }
}

/// `config.yaml` in `folder` (`war_room: {flash: true, bell: true}`), over the default
/// settings; the defaults when it is not there.
pub(crate) fn settings(folder: Option<&Path>) -> Result<Settings, SettingsError> {
    let Some(path) = folder.map(|f| f.join("config.yaml")) else {
        return Ok(Settings::default());
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => settings::parse(&path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
        Err(e) => Err(SettingsError {
            diagnostics: vec![Diagnostic {
                file: path,
                line: 0,
                column: 0,
                message: format!("cannot read the settings: {e}"),
                hint: Some(
                    "make it a readable UTF-8 file, or remove it to keep the default settings"
                        .into(),
                ),
            }],
        }),
    }
}

/// `theme.yaml` in `folder`, over the theme it extends; `None` when it is not there.
pub(crate) fn theme(folder: Option<&Path>) -> Result<Option<Theme>, ThemeFileError> {
    let Some(path) = folder.map(|f| f.join("theme.yaml")) else {
        return Ok(None);
    };
    match theme_file::read_theme_file(&path) {
        Ok(theme) => Ok(Some(theme)),
        Err(ThemeFileError::Read { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::keymap::{Action, Key};

    #[test]
    fn the_folder_follows_the_xdg_rule() {
        let os = |s: &str| Some(OsString::from(s));
        assert_eq!(
            folder_from(os("/x/config"), os("/home/a")),
            Some(PathBuf::from("/x/config/shipdeck"))
        );
        assert_eq!(
            folder_from(os(""), os("/home/a")),
            Some(PathBuf::from("/home/a/.config/shipdeck"))
        );
        assert_eq!(
            folder_from(os("relative"), os("/home/a")),
            Some(PathBuf::from("/home/a/.config/shipdeck"))
        );
        assert_eq!(folder_from(None, None), None);
    }

    #[test]
    fn missing_files_leave_the_defaults_and_present_ones_must_be_right() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(keymap(Some(dir.path())).unwrap(), Keymap::default());
        assert!(theme(Some(dir.path())).unwrap().is_none());
        assert_eq!(keymap(None).unwrap(), Keymap::default());

        std::fs::write(dir.path().join("keymap.yaml"), "rollback: X\n").unwrap();
        std::fs::write(dir.path().join("theme.yaml"), "extends: light\n").unwrap();
        let map = keymap(Some(dir.path())).unwrap();
        assert_eq!(map.action(Key::char('X')), Some(Action::Rollback));
        let t = theme(Some(dir.path())).unwrap().unwrap();
        assert_eq!(t.text, crate::tui::theme::built_in(1).text);

        std::fs::write(dir.path().join("keymap.yaml"), "rollback: X\nnote: X\n").unwrap();
        let e = keymap(Some(dir.path())).unwrap_err().to_string();
        assert!(
            e.contains("keymap.yaml:2:7: error: `X` is bound to both"),
            "{e}"
        );
        std::fs::write(dir.path().join("theme.yaml"), "bda: {fg: red}\n").unwrap();
        let e = theme(Some(dir.path())).unwrap_err().to_string();
        assert!(e.contains("theme.yaml:1:1: error: "), "{e}");

        assert_eq!(settings(Some(dir.path())).unwrap(), Settings::default());
        std::fs::write(dir.path().join("config.yaml"), "war_room: {bell: false}\n").unwrap();
        assert!(!settings(Some(dir.path())).unwrap().war_room.bell);
        std::fs::write(dir.path().join("config.yaml"), "war_room: {bel: false}\n").unwrap();
        let e = settings(Some(dir.path())).unwrap_err().to_string();
        assert!(
            e.contains("config.yaml:1:12: error: unknown war_room setting `bel`"),
            "{e}"
        );

        // A folder where the file should be is an error, not the defaults.
        std::fs::remove_file(dir.path().join("keymap.yaml")).unwrap();
        std::fs::create_dir(dir.path().join("keymap.yaml")).unwrap();
        let e = keymap(Some(dir.path())).unwrap_err().to_string();
        assert!(e.contains("cannot read the keymap"), "{e}");
    }
}
