//! tui::settings: the screen's settings as the user's `config.yaml` gives them —
//! `war_room: {flash: true, bell: true}` — over the defaults. Every problem (an unknown
//! section or setting, a value that is not a yes or no) is found in one pass and reported
//! at its line and column with what to do, as a keymap's and a plan's are. Never reads the
//! file: start-up hands the text over.

use std::fmt;
use std::path::Path;

use crate::plan::Diagnostic;
use crate::plan::yaml::{self, Node, Value};
use crate::support::suggest;

/// What a new guardrail trip does in the war-room view (`z` on Health).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarRoom {
    /// The state badge flashes for a few seconds.
    pub flash: bool,
    /// The terminal bell rings, once.
    pub bell: bool,
}

impl Default for WarRoom {
    fn default() -> WarRoom {
        WarRoom {
            flash: true,
            bell: true,
        }
    }
}

/// The screen's settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settings {
    pub war_room: WarRoom,
}

/// Every problem found in one settings file, in file order. Never empty.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct SettingsError {
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::plan::write_diagnostics(f, &self.diagnostics)
    }
}

const SECTIONS: [&str; 1] = ["war_room"];
const WAR_ROOM: [&str; 2] = ["flash", "bell"];
const EXAMPLE: &str = "war_room: {flash: true, bell: false}";

/// The settings a file's `text` gives; `file` names it in diagnostics. An empty file keeps
/// every default.
pub fn parse(file: &Path, text: &str) -> Result<Settings, SettingsError> {
    let at = |node: &Node, message: String, hint: String| Diagnostic {
        file: file.to_path_buf(),
        line: node.line,
        column: node.column,
        message,
        hint: Some(hint),
    };
    let root = yaml::parse(text).map_err(|e| SettingsError {
        diagnostics: vec![Diagnostic {
            file: file.to_path_buf(),
            line: e.line,
            column: e.column,
            message: format!("not valid YAML: {}", e.message),
            hint: Some("check the indentation, colons and brackets here".into()),
        }],
    })?;
    let mut settings = Settings::default();
    let entries = match &root.value {
        Value::Null => return Ok(settings),
        Value::Map(entries) => entries,
        _ => {
            return Err(SettingsError {
                diagnostics: vec![at(
                    &root,
                    format!(
                        "the settings are a mapping of sections, not {}",
                        root.kind()
                    ),
                    format!("write `{EXAMPLE}`"),
                )],
            });
        }
    };
    let mut diags = Vec::new();
    for (name, value) in entries {
        let written = name.scalar_text().unwrap_or_default();
        if written != "war_room" {
            diags.push(unknown(&at, name, &written, "section", &SECTIONS));
            continue;
        }
        let Value::Map(fields) = &value.value else {
            diags.push(at(
                value,
                format!("`war_room:` takes flash and bell, not {}", value.kind()),
                format!("write `{EXAMPLE}`"),
            ));
            continue;
        };
        for (key, v) in fields {
            let written = key.scalar_text().unwrap_or_default();
            let slot = match written.as_str() {
                "flash" => &mut settings.war_room.flash,
                "bell" => &mut settings.war_room.bell,
                _ => {
                    diags.push(unknown(&at, key, &written, "war_room setting", &WAR_ROOM));
                    continue;
                }
            };
            match v.value {
                Value::Bool(b) => *slot = b,
                _ => diags.push(at(
                    v,
                    format!(
                        "`{written}:` is true or false, not `{}`",
                        v.scalar_text().unwrap_or_else(|| v.kind().to_string())
                    ),
                    format!("`{written}: true` or `{written}: false`"),
                )),
            }
        }
    }
    if diags.is_empty() {
        Ok(settings)
    } else {
        diags.sort_by_key(|d| (d.line, d.column));
        Err(SettingsError { diagnostics: diags })
    }
}

/// An unknown `what` named `written`, with the nearest of `known` as a hint.
fn unknown(
    at: &impl Fn(&Node, String, String) -> Diagnostic,
    node: &Node,
    written: &str,
    what: &str,
    known: &[&str],
) -> Diagnostic {
    let hint = match suggest::closest(written, known.iter().copied()) {
        Some(near) => format!("did you mean `{near}`?"),
        None => format!("the {what}s are {}", known.join(", ")),
    };
    at(node, format!("unknown {what} `{written}`"), hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Settings, SettingsError> {
        parse(Path::new("config.yaml"), text)
    }

    fn errors(text: &str) -> Vec<String> {
        read(text)
            .unwrap_err()
            .diagnostics
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn what_a_file_leaves_out_keeps_its_default() {
        assert_eq!(read("").unwrap(), Settings::default());
        assert_eq!(read("# nothing yet\n").unwrap(), Settings::default());
        let s = read("war_room: {bell: false}\n").unwrap();
        assert_eq!(
            s.war_room,
            WarRoom {
                flash: true,
                bell: false
            }
        );
        let s = read("war_room:\n  flash: false\n  bell: true\n").unwrap();
        assert!(!s.war_room.flash && s.war_room.bell);
    }

    #[test]
    fn every_problem_is_located_with_a_hint() {
        assert_eq!(
            errors("war_rom: {bell: false}\n"),
            ["config.yaml:1:1: error: unknown section `war_rom`\n  hint: did you mean `war_room`?"]
        );
        let e = errors("war_room:\n  flsh: true\n  bell: yes\n");
        assert_eq!(e.len(), 2, "{e:?}");
        assert_eq!(
            e[0],
            "config.yaml:2:3: error: unknown war_room setting `flsh`\n  hint: did you mean `flash`?"
        );
        assert_eq!(
            e[1],
            "config.yaml:3:9: error: `bell:` is true or false, not `yes`\n  hint: `bell: true` or `bell: false`"
        );
        let e = errors("war_room: true\n");
        assert!(
            e[0].contains("`war_room:` takes flash and bell, not a boolean"),
            "{e:?}"
        );
        let e = errors("- war_room\n");
        assert!(
            e[0].starts_with("config.yaml:1:1: error: the settings are a mapping"),
            "{e:?}"
        );
        let e = errors("war_room: {bell: [\n");
        assert!(e[0].contains("error: not valid YAML"), "{e:?}");
    }
}
