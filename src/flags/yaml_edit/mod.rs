//! flags::yaml_edit: surgical edits of the YAML flag file. Owns setting one flag's keys:
//! finding where they sit in the source text (`tree`, from the parser's event spans) and
//! splicing new value text in (`splice`); never gives values a meaning (file.rs does) and
//! never changes a byte outside the values it was asked to set or the keys it was asked
//! to add.
//!
//! Comments and formatting inside a replaced value are replaced with it (a block list of
//! groups becomes `[a, b]`); everything else stays byte for byte.

mod splice;
mod tree;

use splice::Editor;
use tree::{Body, Node, parse_tree};

/// Where and why an edit was refused. Lines and columns are 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EditError {
    pub(crate) line: u64,
    pub(crate) column: u64,
    pub(crate) reason: String,
    pub(crate) hint: String,
}

/// A value to write: a scalar's text exactly as it should appear, or a mapping.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NewValue {
    Text(String),
    Map(Vec<(String, NewValue)>),
}

/// The text of a string as a YAML scalar: plain when that reads back as the same
/// string in any context (flow included), double-quoted otherwise.
pub(crate) fn scalar_text(s: &str) -> String {
    const RESERVED: [&str; 11] = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", "",
    ];
    let plain = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && !RESERVED.contains(&s.to_ascii_lowercase().as_str());
    if plain {
        s.to_string()
    } else {
        // A JSON string is a valid YAML double-quoted scalar with the same value.
        serde_json::Value::String(s.to_string()).to_string()
    }
}

/// A flow sequence of strings: `[a, "b c"]`.
pub(crate) fn flow_list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| scalar_text(s)).collect();
    format!("[{}]", items.join(", "))
}

fn refuse_marked(node: &Node, what: &str) -> Result<(), EditError> {
    match node.first_marked() {
        Some(marked) => Err(marked.error(
            format!("{what} uses a YAML anchor, alias or tag"),
            "write the values out plainly (no `&anchor`, `*alias`, `<<:` or `!tag`)",
        )),
        None => Ok(()),
    }
}

/// Sets `keys` (name, value text) of the flag `flag` under the top-level `flags:` mapping,
/// adding the keys that are missing. A missing flag (or `flags:` key) is created with the
/// entries of `create` instead. Only the named values change; the rest of `text` is kept.
pub(crate) fn set_flag_keys(
    text: &str,
    flag: &str,
    keys: &[(&str, String)],
    create: &[(&str, String)],
) -> Result<String, EditError> {
    let root = parse_tree(text)?;
    let flag_key = scalar_text(flag);
    let as_entries = |pairs: &[(&str, String)]| -> Vec<(String, NewValue)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), NewValue::Text(v.clone())))
            .collect()
    };
    let new_flag = vec![(flag_key.clone(), NewValue::Map(as_entries(create)))];
    let mut editor = Editor::new(text);

    let root = match root {
        Some(root) if !(root.is_null() && root.start == root.end) => root,
        // An empty document (or only comments): the flags block goes at the end.
        _ => {
            let lead = if text.is_empty() || text.ends_with('\n') {
                ""
            } else {
                editor.newline
            };
            let block = editor.render_block("flags", &NewValue::Map(new_flag), 0);
            let at = text.len();
            editor.splice(at..at, format!("{lead}{block}{}", editor.newline));
            return editor.finish();
        }
    };
    refuse_marked_head(&root, "the top level")?;
    if !matches!(root.body, Body::Map { .. }) {
        return Err(root.error(
            "the top level is not a mapping",
            "the file must start with `flags:`",
        ));
    }
    let Some((flags_key, flags)) = root.entry("flags") else {
        editor.insert_entries(&root, &[("flags".to_string(), NewValue::Map(new_flag))]);
        return editor.finish();
    };
    refuse_marked_head(flags, "`flags`")?;
    if flags.is_null() {
        editor.fill_null(flags_key, flags, root.is_flow(), &new_flag)?;
        return editor.finish();
    }
    if !matches!(flags.body, Body::Map { .. }) {
        return Err(flags.error(
            "`flags` is not a mapping",
            "write `flags:` followed by one `name: {enabled, rollout, userGroups}` per flag",
        ));
    }
    if let Body::Map { entries, .. } = &flags.body {
        // The file's own indentation step, measured where flags sit under `flags:`.
        if let Some((first, _)) = entries.first()
            && !flags.is_flow()
            && first.column > flags_key.column
        {
            editor.step = (first.column - flags_key.column) as usize;
        }
    }
    let Some((key, value)) = flags.entry(flag) else {
        editor.insert_entries(flags, &new_flag);
        return editor.finish();
    };
    refuse_marked(key, "the flag's key")?;
    refuse_marked(value, "the flag")?;
    if value.is_null() {
        editor.fill_null(key, value, flags.is_flow(), &as_entries(keys))?;
        return editor.finish();
    }
    if !matches!(value.body, Body::Map { .. }) {
        return Err(value.error(
            "the flag is not a mapping",
            "write it as `name: {enabled: false, rollout: 0.0, userGroups: []}`",
        ));
    }
    let mut missing = Vec::new();
    for (name, text) in keys {
        match value.entry(name) {
            Some((k, v)) => editor.replace_value(k, v, text)?,
            None => missing.push((name.to_string(), NewValue::Text(text.clone()))),
        }
    }
    if !missing.is_empty() {
        editor.insert_entries(value, &missing);
    }
    editor.finish()
}

/// Refuses an anchor or tag on a container the edit walks through (its children may
/// carry them: other flags are not touched).
fn refuse_marked_head(node: &Node, what: &str) -> Result<(), EditError> {
    if node.marked {
        return Err(node.error(
            format!("{what} uses a YAML anchor, alias or tag"),
            "write it out plainly (no `&anchor`, `*alias` or `!tag`)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str, flag: &str, keys: &[(&str, &str)]) -> Result<String, EditError> {
        let keys: Vec<(&str, String)> = keys.iter().map(|(k, v)| (*k, v.to_string())).collect();
        let create = vec![
            ("enabled", "false".to_string()),
            ("rollout", "0.0".to_string()),
            ("userGroups", "[]".to_string()),
            ("kind", "release".to_string()),
        ];
        set_flag_keys(text, flag, &keys, &create)
    }

    #[test]
    fn replaces_block_values_in_place() {
        let text = "flags:\n  a:   # mine\n    enabled: true  # on\n    rollout: 0.25\n    userGroups:\n      - x\n      - y\n    kind: ops\n";
        let out = set(text, "a", &[("enabled", "false"), ("userGroups", "[z]")]).unwrap();
        assert_eq!(
            out,
            "flags:\n  a:   # mine\n    enabled: false  # on\n    rollout: 0.25\n    userGroups: [z]\n    kind: ops\n"
        );
    }

    #[test]
    fn replaces_flow_values_and_adds_missing_keys() {
        let text = "flags:\n  a: {enabled: false, userGroups: []}  # c\n";
        let out = set(
            text,
            "a",
            &[
                ("enabled", "true"),
                ("rollout", "0.5"),
                ("userGroups", "[b]"),
            ],
        )
        .unwrap();
        assert_eq!(
            out,
            "flags:\n  a: {enabled: true, userGroups: [b], rollout: 0.5}  # c\n"
        );
        let out = set("flags: {a: {}}\n", "a", &[("enabled", "true")]).unwrap();
        assert_eq!(out, "flags: {a: {enabled: true}}\n");
    }

    #[test]
    fn adds_a_missing_key_at_the_flags_indentation() {
        let text =
            "flags:\n    a:\n        enabled: true   # keep\n    b:\n        enabled: false\n";
        let out = set(text, "a", &[("rollout", "0.05")]).unwrap();
        assert_eq!(
            out,
            "flags:\n    a:\n        enabled: true   # keep\n        rollout: 0.05\n    b:\n        enabled: false\n"
        );
    }

    #[test]
    fn creates_a_missing_flag_in_the_files_style() {
        let text = "# top\nflags:\n   a:\n      enabled: true\n# bottom\n";
        let out = set(text, "new-one", &[]).unwrap();
        assert_eq!(
            out,
            "# top\nflags:\n   a:\n      enabled: true\n   new-one:\n      enabled: false\n      rollout: 0.0\n      userGroups: []\n      kind: release\n# bottom\n"
        );
        let out = set("flags: {a: {enabled: true}}", "b", &[]).unwrap();
        assert_eq!(
            out,
            "flags: {a: {enabled: true}, b: {enabled: false, rollout: 0.0, userGroups: [], kind: release}}"
        );
    }

    #[test]
    fn creates_flags_in_empty_or_flagless_files() {
        let block = "flags:\n  f:\n    enabled: false\n    rollout: 0.0\n    userGroups: []\n    kind: release\n";
        assert_eq!(set("", "f", &[]).unwrap(), block);
        assert_eq!(
            set("# only a comment", "f", &[]).unwrap(),
            format!("# only a comment\n{block}")
        );
        assert_eq!(set("flags:\n", "f", &[]).unwrap(), block);
        assert_eq!(
            set("other: 1\n", "f", &[]).unwrap(),
            format!("other: 1\n{block}")
        );
    }

    #[test]
    fn fills_a_null_flag() {
        let out = set("flags:\n  a:\n  b: {}\n", "a", &[("enabled", "true")]).unwrap();
        assert_eq!(out, "flags:\n  a:\n    enabled: true\n  b: {}\n");
    }

    #[test]
    fn keeps_crlf_line_endings() {
        let out = set(
            "flags:\r\n  a:\r\n    enabled: true\r\n",
            "a",
            &[("rollout", "1.0")],
        )
        .unwrap();
        assert_eq!(
            out,
            "flags:\r\n  a:\r\n    enabled: true\r\n    rollout: 1.0\r\n"
        );
    }

    #[test]
    fn refuses_anchors_aliases_and_tags_on_the_flag() {
        let anchored = "flags:\n  a: &base {enabled: true}\n  b: *base\n";
        let err = set(anchored, "a", &[("enabled", "false")]).unwrap_err();
        assert_eq!((err.line, err.column), (2, 12));
        assert!(err.reason.contains("anchor"), "{err:?}");
        assert!(set(anchored, "b", &[("enabled", "false")]).is_err());
        let merged = "flags:\n  a:\n    <<: *x\n    enabled: true\n";
        assert!(set(merged, "a", &[("enabled", "false")]).is_err());
        // Anchors on other flags do not stop an edit of this one.
        let elsewhere = "flags:\n  a: &base {enabled: true}\n  b: *base\n  c: {enabled: true}\n";
        let out = set(elsewhere, "c", &[("enabled", "false")]).unwrap();
        assert_eq!(
            out,
            "flags:\n  a: &base {enabled: true}\n  b: *base\n  c: {enabled: false}\n"
        );
    }

    #[test]
    fn adds_keys_after_a_block_scalar_without_changing_it() {
        let text = "flags:\n  a:\n    enabled: true\n    notes: |+\n      keep\n\n  b: {}\n";
        let out = set(text, "a", &[("rollout", "0.5")]).unwrap();
        assert_eq!(
            out,
            "flags:\n  a:\n    enabled: true\n    notes: |+\n      keep\n\n    rollout: 0.5\n  b: {}\n"
        );
        let text = "flags:\n  a:\n    notes: >\n      folded\n";
        let out = set(text, "a", &[("enabled", "true")]).unwrap();
        assert_eq!(
            out,
            "flags:\n  a:\n    notes: >\n      folded\n    enabled: true\n"
        );
    }

    #[test]
    fn refuses_several_documents() {
        let err = set("flags: {}\n---\nflags: {}\n", "a", &[]).unwrap_err();
        assert_eq!(err.line, 2);
    }

    #[test]
    fn refuses_block_scalars_as_values() {
        let err = set(
            "flags:\n  a:\n    enabled: |\n      true\n",
            "a",
            &[("enabled", "false")],
        )
        .unwrap_err();
        assert!(err.reason.contains("block scalar"), "{err:?}");
    }

    #[test]
    fn quotes_what_would_not_read_back_as_a_string() {
        assert_eq!(scalar_text("beta-testers"), "beta-testers");
        assert_eq!(scalar_text("release.new-checkout"), "release.new-checkout");
        for tricky in [
            "yes", "No", "123", "1e3", "a b", "a: b", "#x", "", "[x]", "é", "null",
        ] {
            assert!(scalar_text(tricky).starts_with('"'), "{tricky}");
        }
        assert_eq!(flow_list(&["a".into(), "b c".into()]), r#"[a, "b c"]"#);
    }
}
