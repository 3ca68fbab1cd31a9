//! flags::yaml_edit: surgical edits of the YAML flag file. Owns finding where a flag's
//! keys sit in the source text (from the parser's event spans) and splicing new value
//! text in; never gives values a meaning (file.rs does) and never changes a byte outside
//! the values it was asked to set or the keys it was asked to add.
//!
//! Comments and formatting inside a replaced value are replaced with it (a block list of
//! groups becomes `[a, b]`); everything else stays byte for byte.

use std::ops::Range;

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, Span, StructureStyle};

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

/// One node of the document with the byte range of its text.
#[derive(Debug)]
struct Node {
    body: Body,
    /// First byte of the node's text (for a flow collection, its bracket).
    start: usize,
    /// Just past the last byte of content: trailing blanks and line breaks excluded,
    /// except that a block scalar ends after its last line break.
    end: usize,
    line: u64,
    column: u64,
    /// An anchor, an alias or an explicit tag is on this node.
    marked: bool,
}

#[derive(Debug)]
enum Body {
    Scalar {
        value: String,
        style: ScalarStyle,
    },
    Seq {
        flow: bool,
        items: Vec<Node>,
    },
    Map {
        style: StructureStyle,
        entries: Vec<(Node, Node)>,
    },
    Alias,
}

impl Node {
    fn is_null(&self) -> bool {
        matches!(&self.body, Body::Scalar { value, style: ScalarStyle::Plain }
            if value.is_empty() || value == "~" || value.eq_ignore_ascii_case("null"))
    }

    fn is_flow(&self) -> bool {
        match &self.body {
            Body::Map { style, .. } => *style == StructureStyle::Flow,
            Body::Seq { flow, .. } => *flow,
            Body::Scalar { .. } | Body::Alias => false,
        }
    }

    fn error(&self, reason: impl Into<String>, hint: impl Into<String>) -> EditError {
        EditError {
            line: self.line,
            column: self.column,
            reason: reason.into(),
            hint: hint.into(),
        }
    }

    fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        let Body::Map { entries, .. } = &self.body else {
            return None;
        };
        entries.iter().find_map(|(k, v)| match &k.body {
            Body::Scalar { value, .. } if value == key => Some((k, v)),
            _ => None,
        })
    }

    /// The first node in this subtree (itself included) carrying an anchor, alias or tag.
    fn first_marked(&self) -> Option<&Node> {
        if self.marked {
            return Some(self);
        }
        match &self.body {
            Body::Seq { items, .. } => items.iter().find_map(Node::first_marked),
            Body::Map { entries, .. } => entries
                .iter()
                .find_map(|(k, v)| k.first_marked().or_else(|| v.first_marked())),
            Body::Scalar { .. } | Body::Alias => None,
        }
    }
}

/// A node under construction, waiting for its end event.
enum Frame {
    Seq {
        head: Node,
        flow: bool,
        items: Vec<Node>,
    },
    Map {
        head: Node,
        style: StructureStyle,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

fn byte_range(span: &Span, at: (u64, u64)) -> Result<Range<usize>, EditError> {
    span.byte_range().ok_or_else(|| EditError {
        line: at.0,
        column: at.1,
        reason: "the parser gave no byte position".to_string(),
        hint: "edit the flag by hand".to_string(),
    })
}

fn position(span: &Span) -> (u64, u64) {
    (span.start.line() as u64, span.start.col() as u64 + 1)
}

/// Builds the node tree of a single-document YAML text; `None` for a document with no node.
/// Iterative on purpose: nesting depth comes from the file and must not grow the stack.
fn parse_tree(text: &str) -> Result<Option<Node>, EditError> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0;
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|error| EditError {
            line: error.marker().line() as u64,
            column: error.marker().col() as u64 + 1,
            reason: error.info(),
            hint: "fix the YAML syntax".to_string(),
        })?;
        let (line, column) = position(&span);
        let finished = match event {
            Event::DocumentStart(..) => {
                documents += 1;
                if documents > 1 {
                    return Err(EditError {
                        line,
                        column,
                        reason: "the file holds more than one YAML document".to_string(),
                        hint: "keep a single document with one `flags:` mapping".to_string(),
                    });
                }
                None
            }
            Event::Scalar(value, style, anchor, tag) => {
                let range = byte_range(&span, (line, column))?;
                let raw = text.get(range.clone()).unwrap_or_default();
                // A block scalar (`|`, `>`) owns its line breaks (with `|+` its trailing
                // blank lines are content), so it ends after its last line break.
                let content = match style {
                    ScalarStyle::Literal | ScalarStyle::Folded => raw.trim_end_matches([' ', '\t']),
                    _ => raw.trim_end_matches([' ', '\t', '\r', '\n']),
                };
                Some(Node {
                    body: Body::Scalar {
                        value: value.into_owned(),
                        style,
                    },
                    start: range.start,
                    end: range.start + content.len(),
                    line,
                    column,
                    marked: anchor != 0 || tag.is_some(),
                })
            }
            Event::Alias(_) => {
                let range = byte_range(&span, (line, column))?;
                Some(Node {
                    body: Body::Alias,
                    start: range.start,
                    end: range.end,
                    line,
                    column,
                    marked: true,
                })
            }
            Event::SequenceStart(style, anchor, tag) => {
                let range = byte_range(&span, (line, column))?;
                stack.push(Frame::Seq {
                    head: Node {
                        body: Body::Alias,
                        start: range.start,
                        end: range.end,
                        line,
                        column,
                        marked: anchor != 0 || tag.is_some(),
                    },
                    flow: style == StructureStyle::Flow,
                    items: Vec::new(),
                });
                None
            }
            Event::MappingStart(style, anchor, tag) => {
                let range = byte_range(&span, (line, column))?;
                stack.push(Frame::Map {
                    head: Node {
                        body: Body::Alias,
                        start: range.start,
                        end: range.end,
                        line,
                        column,
                        marked: anchor != 0 || tag.is_some(),
                    },
                    style,
                    entries: Vec::new(),
                    key: None,
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let range = byte_range(&span, (line, column))?;
                match stack.pop() {
                    Some(Frame::Seq { head, flow, items }) => {
                        let end = if flow {
                            range.end
                        } else {
                            items.iter().map(|n| n.end).max().unwrap_or(head.start)
                        };
                        Some(Node {
                            body: Body::Seq { flow, items },
                            end,
                            ..head
                        })
                    }
                    Some(Frame::Map {
                        head,
                        style,
                        entries,
                        ..
                    }) => {
                        let end = if style == StructureStyle::Flow {
                            range.end
                        } else {
                            entries
                                .iter()
                                .map(|(k, v)| if v.start < v.end { v.end } else { k.end })
                                .max()
                                .unwrap_or(head.start)
                        };
                        Some(Node {
                            body: Body::Map { style, entries },
                            end,
                            ..head
                        })
                    }
                    None => None,
                }
            }
            _ => None,
        };
        if let Some(node) = finished {
            match stack.last_mut() {
                Some(Frame::Seq { items, .. }) => items.push(node),
                Some(Frame::Map { entries, key, .. }) => match key.take() {
                    Some(k) => entries.push((k, node)),
                    None => *key = Some(node),
                },
                None => root = Some(node),
            }
        }
    }
    Ok(root)
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

struct Editor<'t> {
    text: &'t str,
    newline: &'static str,
    /// The file's indentation step, used for new nested blocks.
    step: usize,
    splices: Vec<(Range<usize>, String)>,
}

impl Editor<'_> {
    fn splice(&mut self, range: Range<usize>, with: String) {
        self.splices.push((range, with));
    }

    /// Where the line holding byte `at` ends (before its line break).
    fn line_end(&self, at: usize) -> usize {
        match self.text.get(at..).and_then(|rest| rest.find('\n')) {
            Some(offset) => {
                let newline = at + offset;
                if newline > 0 && self.text.as_bytes().get(newline - 1) == Some(&b'\r') {
                    newline - 1
                } else {
                    newline
                }
            }
            None => self.text.len(),
        }
    }

    /// Where new block lines go after content ending at `end`, and whether they need a
    /// line break first (content that ends its own line, like a block scalar, does not).
    fn after_line(&self, end: usize) -> (usize, bool) {
        if end > 0 && self.text.as_bytes().get(end - 1) == Some(&b'\n') {
            (end, false)
        } else {
            (self.line_end(end), true)
        }
    }

    /// New block lines at `indent` after content ending at `end`.
    fn add_lines(&mut self, end: usize, indent: usize, new: &[(String, NewValue)]) {
        let (at, break_first) = self.after_line(end);
        let lines: Vec<String> = new
            .iter()
            .map(|(k, v)| self.render_block(k, v, indent))
            .collect();
        let block = if break_first {
            format!("{}{}", self.newline, lines.join(self.newline))
        } else {
            format!("{}{}", lines.join(self.newline), self.newline)
        };
        self.splice(at..at, block);
    }

    /// The byte of the `:` after an implicit key.
    fn colon_after(&self, key: &Node) -> Result<usize, EditError> {
        let rest = self.text.get(key.end..).unwrap_or_default();
        let blanks = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        if rest[blanks..].starts_with(':') {
            Ok(key.end + blanks)
        } else {
            Err(key.error(
                "its key is not followed by `:` on the same line",
                "write the key as `name: value`",
            ))
        }
    }

    fn render_block(&self, key: &str, value: &NewValue, indent: usize) -> String {
        let pad = " ".repeat(indent);
        match value {
            NewValue::Text(text) => format!("{pad}{key}: {text}"),
            NewValue::Map(entries) if entries.is_empty() => format!("{pad}{key}: {{}}"),
            NewValue::Map(entries) => {
                let mut out = format!("{pad}{key}:");
                for (k, v) in entries {
                    out.push_str(self.newline);
                    out.push_str(&self.render_block(k, v, indent + self.step));
                }
                out
            }
        }
    }

    fn render_flow(key: &str, value: &NewValue) -> String {
        match value {
            NewValue::Text(text) => format!("{key}: {text}"),
            NewValue::Map(entries) => {
                let inner: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| Self::render_flow(k, v))
                    .collect();
                format!("{key}: {{{}}}", inner.join(", "))
            }
        }
    }

    /// Adds entries at the end of an existing mapping, in the mapping's own style.
    fn insert_entries(&mut self, map: &Node, new: &[(String, NewValue)]) {
        let Body::Map { style, entries } = &map.body else {
            return;
        };
        if *style == StructureStyle::Flow {
            let pieces: Vec<String> = new.iter().map(|(k, v)| Self::render_flow(k, v)).collect();
            let joined = pieces.join(", ");
            match entries.last() {
                None => self.splice(map.start + 1..map.start + 1, joined),
                Some((k, v)) => {
                    let after = if v.start < v.end { v.end } else { k.end };
                    self.splice(after..after, format!(", {joined}"));
                }
            }
        } else {
            let indent = entries
                .first()
                .map_or(0, |(k, _)| (k.column as usize).saturating_sub(1));
            self.add_lines(map.end, indent, new);
        }
    }

    /// Gives an empty (null) value under `key` a mapping of `new` entries.
    fn fill_null(
        &mut self,
        key: &Node,
        value: &Node,
        in_flow: bool,
        new: &[(String, NewValue)],
    ) -> Result<(), EditError> {
        let colon = self.colon_after(key)?;
        let null_end = if value.start < value.end {
            value.end
        } else {
            colon + 1
        };
        if in_flow {
            let inner: Vec<String> = new.iter().map(|(k, v)| Self::render_flow(k, v)).collect();
            self.splice(colon + 1..null_end, format!(" {{{}}}", inner.join(", ")));
        } else {
            self.splice(colon + 1..null_end, String::new());
            let indent = (key.column as usize).saturating_sub(1) + self.step;
            self.add_lines(null_end, indent, new);
        }
        Ok(())
    }

    /// Replaces the value under `key` with `text`.
    fn replace_value(&mut self, key: &Node, value: &Node, text: &str) -> Result<(), EditError> {
        match &value.body {
            Body::Alias => Err(value.error(
                "its value is an alias",
                "write the value out instead of `*alias`",
            )),
            Body::Scalar {
                style: ScalarStyle::Literal | ScalarStyle::Folded,
                ..
            } => Err(value.error(
                "its value is a block scalar (`|` or `>`)",
                "write the value on the key's line",
            )),
            Body::Scalar { .. } if value.start < value.end => {
                self.splice(value.start..value.end, text.to_string());
                Ok(())
            }
            Body::Scalar { .. } => {
                let colon = self.colon_after(key)?;
                self.splice(colon + 1..colon + 1, format!(" {text}"));
                Ok(())
            }
            Body::Seq { .. } | Body::Map { .. } if value.is_flow() => {
                self.splice(value.start..value.end, text.to_string());
                Ok(())
            }
            Body::Seq { .. } | Body::Map { .. } => {
                // A block collection runs from the next line; the value restarts after `:`.
                let colon = self.colon_after(key)?;
                self.splice(colon + 1..value.end, format!(" {text}"));
                Ok(())
            }
        }
    }

    fn finish(mut self) -> Result<String, EditError> {
        self.splices
            .sort_by_key(|(range, _)| (range.start, range.end));
        let mut out = String::with_capacity(self.text.len() + 64);
        let mut at = 0;
        for (range, with) in &self.splices {
            if range.start < at || range.end > self.text.len() {
                return Err(EditError {
                    line: 1,
                    column: 1,
                    reason: "two edits overlap".to_string(),
                    hint: "edit the flag by hand".to_string(),
                });
            }
            out.push_str(&self.text[at..range.start]);
            out.push_str(with);
            at = range.end;
        }
        out.push_str(&self.text[at..]);
        Ok(out)
    }
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
    let mut editor = Editor {
        text,
        newline: if text.contains("\r\n") { "\r\n" } else { "\n" },
        step: 2,
        splices: Vec::new(),
    };

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
