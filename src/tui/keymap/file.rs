//! tui::keymap::file: a keymap file's text (`keymap.yaml`: `rollback: X`, or a list of
//! keys) laid over the default keys. Every problem — an unknown action, a key that is not
//! one, two actions on one key — is found in one pass and reported at its line and column
//! with what to do, as a plan's are. Never reads the file: start-up hands the text over.

use std::fmt;
use std::path::Path;

use super::key::KEY_FORMS;
use super::{Action, KEYS, Key, Keymap};
use crate::plan::Diagnostic;
use crate::plan::yaml::{self, Node, Value};
use crate::support::suggest;

/// Every problem found in one keymap file, in file order. Never empty.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct KeymapError {
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for KeymapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::plan::write_diagnostics(f, &self.diagnostics)
    }
}

/// One action's keys as the file gives them, with where each key is written.
struct Binding<'a> {
    action: Action,
    keys: Vec<(Key, &'a Node)>,
}

/// The keymap a file's `text` describes; `file` names it in diagnostics. An empty file
/// keeps every default.
pub fn parse(file: &Path, text: &str) -> Result<Keymap, KeymapError> {
    let at = |node: &Node, message: String, hint: String| Diagnostic {
        file: file.to_path_buf(),
        line: node.line,
        column: node.column,
        message,
        hint: Some(hint),
    };
    let root = yaml::parse(text).map_err(|e| KeymapError {
        diagnostics: vec![Diagnostic {
            file: file.to_path_buf(),
            line: e.line,
            column: e.column,
            message: format!("not valid YAML: {}", e.message),
            hint: Some(
                "check the indentation, colons and quotes here; quote a key YAML reads as syntax (\"?\", \"#\", \":\")"
                    .into(),
            ),
        }],
    })?;
    let entries = match &root.value {
        Value::Null => return Ok(Keymap::default()),
        Value::Map(entries) => entries,
        _ => {
            return Err(KeymapError {
                diagnostics: vec![at(
                    &root,
                    format!("a keymap file maps actions to keys, not {}", root.kind()),
                    "write one action a line: `rollback: X`, or `note: [n, ctrl-n]`".into(),
                )],
            });
        }
    };
    let mut diags = Vec::new();
    let mut bindings = Vec::new();
    for (name, value) in entries {
        match binding(name, value, &at) {
            Ok(b) => bindings.push(b),
            Err(mut d) => diags.append(&mut d),
        }
    }
    diags.extend(conflicts(&bindings, &at));
    if !diags.is_empty() {
        diags.sort_by_key(|d| (d.line, d.column));
        return Err(KeymapError { diagnostics: diags });
    }
    let mut keymap = Keymap::default();
    for b in bindings {
        keymap.bind(b.action, b.keys.into_iter().map(|(k, _)| k).collect());
    }
    Ok(keymap)
}

/// One `action: keys` line, read.
fn binding<'a>(
    name: &Node,
    value: &'a Node,
    at: &impl Fn(&Node, String, String) -> Diagnostic,
) -> Result<Binding<'a>, Vec<Diagnostic>> {
    let written = name.scalar_text().unwrap_or_default();
    let rebindable = || {
        KEYS.iter()
            .map(|r| r.action)
            .filter(|a| a.fixed().is_none())
    };
    let Some(action) = KEYS.iter().map(|r| r.action).find(|a| a.name() == written) else {
        let names: Vec<&str> = rebindable().map(Action::name).collect();
        let hint = match suggest::closest(&written, names.iter().copied()) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!("the actions are {}", names.join(", ")),
        };
        return Err(vec![at(name, format!("unknown action `{written}`"), hint)]);
    };
    if let Some(why) = action.fixed() {
        return Err(vec![at(
            name,
            format!("`{written}` cannot be rebound"),
            why.to_string(),
        )]);
    }
    let nodes: Vec<&Node> = match &value.value {
        Value::Seq(items) => items.iter().collect(),
        Value::Map(_) | Value::Null => {
            return Err(vec![at(
                value,
                format!(
                    "`{written}:` takes a key or a list of keys, not {}",
                    value.kind()
                ),
                format!("`{written}: X`, or `{written}: [X, ctrl-x]`"),
            )]);
        }
        _ => vec![value],
    };
    if nodes.is_empty() && matches!(action, Action::Help | Action::Quit) {
        return Err(vec![at(
            value,
            format!("`{written}` needs a key"),
            "without one the screen cannot be left, or its keys found; give it any free key".into(),
        )]);
    }
    let mut diags = Vec::new();
    let mut keys: Vec<(Key, &Node)> = Vec::new();
    for node in nodes {
        let parsed = node
            .scalar_text()
            .ok_or_else(|| format!("a key is a name, not {}", node.kind()));
        match parsed.and_then(|t| Key::parse(&t)) {
            Ok(key) if key == Key::ctrl('c') => diags.push(at(
                node,
                "ctrl-c cannot be bound: it always quits at once".into(),
                "pick another key".into(),
            )),
            // The same key twice for one action is the same binding.
            Ok(key) if keys.iter().any(|(k, _)| *k == key) => {}
            Ok(key) => keys.push((key, node)),
            Err(message) => diags.push(at(node, message, format!("write {KEY_FORMS}"))),
        }
    }
    if diags.is_empty() {
        Ok(Binding { action, keys })
    } else {
        Err(diags)
    }
}

/// Two actions on one key, each reported once, at the key written last: against another
/// line of the file, or against a default the file left in place.
fn conflicts(
    bindings: &[Binding],
    at: &impl Fn(&Node, String, String) -> Diagnostic,
) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    for (i, b) in bindings.iter().enumerate() {
        for (key, node) in &b.keys {
            let earlier = bindings[..i]
                .iter()
                .find_map(|o| o.keys.iter().find(|(k, _)| k == key).map(|(_, n)| (o, n)));
            if let Some((other, first)) = earlier {
                diags.push(at(
                    node,
                    format!(
                        "`{}` is bound to both {} (line {}) and {}",
                        key.name(),
                        other.action.name(),
                        first.line,
                        b.action.name()
                    ),
                    "give one of them another key".into(),
                ));
                continue;
            }
            let default = KEYS.iter().find(|r| {
                r.action != b.action
                    && r.action.on_screen()
                    && r.keys.contains(key)
                    && !bindings.iter().any(|o| o.action == r.action)
            });
            if let Some(r) = default {
                let other = r.action.name();
                diags.push(at(
                    node,
                    format!("`{}` is already the key for {other}", key.name()),
                    format!(
                        "rebind {other} too (`{other}: KEY`, or `{other}: []` to leave it without one), or pick another key"
                    ),
                ));
            }
        }
    }
    diags
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyCode;

    fn read(text: &str) -> Result<Keymap, KeymapError> {
        parse(Path::new("keymap.yaml"), text)
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
    fn a_rebound_action_leaves_its_old_key_free_and_the_rest_as_they_were() {
        let map = read("rollback: X\nnote: [n, ctrl-n]\nslider_down: left\n").unwrap();
        assert_eq!(map.action(Key::char('X')), Some(Action::Rollback));
        assert_eq!(map.action(Key::char('R')), None);
        assert_eq!(map.action(Key::ctrl('n')), Some(Action::Note));
        assert_eq!(map.action(Key::char('h')), None);
        assert_eq!(
            map.action(Key::code(KeyCode::Left)),
            Some(Action::SliderDown)
        );
        assert_eq!(map.action(Key::char('P')), Some(Action::Promote));
        assert_eq!(read("").unwrap(), Keymap::default());
        assert_eq!(read("# nothing yet\n").unwrap(), Keymap::default());
    }

    #[test]
    fn the_journals_keys_are_the_users_too() {
        let map = read("filter: F\nfirst: ctrl-g\nlast: []\n").unwrap();
        assert_eq!(map.action(Key::char('F')), Some(Action::Filter));
        assert_eq!(map.action(Key::char('/')), None);
        assert_eq!(map.action(Key::ctrl('g')), Some(Action::First));
        assert_eq!(map.action(Key::char('G')), None);
        let e = errors("zoom: g\n");
        assert!(
            e[0].starts_with("keymap.yaml:1:7: error: `g` is already the key for first"),
            "{e:?}"
        );
    }

    #[test]
    fn two_actions_may_swap_keys_in_one_file() {
        let map = read("theme: z\nzoom: t\n").unwrap();
        assert_eq!(map.action(Key::char('z')), Some(Action::Theme));
        assert_eq!(map.action(Key::char('t')), Some(Action::Zoom));
        let map = read("theme: []\nnote: t\n").unwrap();
        assert_eq!(map.action(Key::char('t')), Some(Action::Note));
        assert!(map.keys(Action::Theme).is_empty());
    }

    #[test]
    fn unknown_actions_and_keys_are_located_with_a_hint() {
        assert_eq!(
            errors("rollbak: X\n"),
            ["keymap.yaml:1:1: error: unknown action `rollbak`\n  hint: did you mean `rollback`?"]
        );
        let e = errors("pause: space\nnote: ctl-n\n");
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with(
                "keymap.yaml:2:7: error: `ctl-n` is not a key\n  hint: write a character"
            ),
            "{e:?}"
        );
        let e = errors("zoom: {key: z}\n");
        assert!(
            e[0].contains("takes a key or a list of keys, not a mapping"),
            "{e:?}"
        );
        let e = errors("- rollback\n");
        assert!(
            e[0].starts_with("keymap.yaml:1:1: error: a keymap file maps actions to keys"),
            "{e:?}"
        );
        let e = errors("rollback: [X\n");
        assert!(e[0].contains("error: not valid YAML"), "{e:?}");
    }

    #[test]
    fn conflicts_are_errors_at_the_later_key() {
        assert_eq!(
            errors("rollback: X\nnote: [m, X]\n"),
            [
                "keymap.yaml:2:11: error: `X` is bound to both rollback (line 1) and note\n  hint: give one of them another key"
            ]
        );
        let e = errors("rollback: t\n");
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("keymap.yaml:1:11: error: `t` is already the key for theme\n  hint: rebind theme too"),
            "{e:?}"
        );
        // The answers to a question are not taken: y may act on the screen.
        assert!(read("note: y\n").is_ok());
    }

    #[test]
    fn what_must_stay_cannot_be_rebound_or_left_without_a_key() {
        let e = errors("confirm: Y\nquit_now: Q\nquit: []\nrollback: ctrl-c\n");
        assert_eq!(e.len(), 4, "{e:?}");
        assert!(e[0].contains("`confirm` cannot be rebound"), "{e:?}");
        assert!(e[1].contains("`quit_now` cannot be rebound"), "{e:?}");
        assert!(e[2].contains("`quit` needs a key"), "{e:?}");
        assert!(e[3].contains("ctrl-c cannot be bound"), "{e:?}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Whatever a keymap file holds, reading it ends in keys or in located errors.
        #[test]
        fn any_text_reads_or_is_refused_at_a_place(
            text in proptest::prelude::any::<String>()
        ) {
            if let Err(e) = read(&text) {
                proptest::prop_assert!(!e.diagnostics.is_empty());
            }
        }

        #[test]
        fn keymap_shaped_text_reads_or_is_refused_at_a_place(
            lines in proptest::collection::vec(
                (
                    proptest::sample::select(vec!["rollback", "note", "theme", "quit", "help", "confirm", "rollbak", "- x", "[", "{a: b}"]),
                    proptest::sample::select(vec!["X", "t", "[]", "[n, ctrl-n]", "ctrl-c", "\"?\"", "?", "f13", "{k: v}", "[a, [b]]", "", "&a x", "*a"]),
                ),
                0..8,
            )
        ) {
            let text: String = lines.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
            match read(&text) {
                Ok(map) => {
                    proptest::prop_assert!(!map.keys(Action::Quit).is_empty());
                    proptest::prop_assert!(!map.keys(Action::Help).is_empty());
                }
                Err(e) => proptest::prop_assert!(e.diagnostics.iter().all(|d| d.line > 0), "{e}"),
            }
        }
    }
}
