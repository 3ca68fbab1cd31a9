//! flags::yaml_edit::splice: new text into the old. Owns rendering new keys in the
//! file's own style (block or flow, its indentation step, its line breaks) and splicing
//! them, and new values, in at the right bytes; never touches a byte outside the ranges
//! it was given.

use std::ops::Range;

use serde_saphyr::granit_parser::{ScalarStyle, StructureStyle};

use super::tree::{Body, Node};
use super::{EditError, NewValue};

/// The edits to one text, made all at once by [`Editor::finish`].
pub(super) struct Editor<'t> {
    text: &'t str,
    /// The file's line break: `\r\n` when it uses any, else `\n`.
    pub(super) newline: &'static str,
    /// The file's indentation step, used for new nested blocks.
    pub(super) step: usize,
    splices: Vec<(Range<usize>, String)>,
}

impl<'t> Editor<'t> {
    /// No edits yet to `text`, whose indentation step is taken to be 2 until measured.
    pub(super) fn new(text: &'t str) -> Editor<'t> {
        Editor {
            text,
            newline: if text.contains("\r\n") { "\r\n" } else { "\n" },
            step: 2,
            splices: Vec::new(),
        }
    }

    pub(super) fn splice(&mut self, range: Range<usize>, with: String) {
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

    pub(super) fn render_block(&self, key: &str, value: &NewValue, indent: usize) -> String {
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
    pub(super) fn insert_entries(&mut self, map: &Node, new: &[(String, NewValue)]) {
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
    pub(super) fn fill_null(
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
    pub(super) fn replace_value(
        &mut self,
        key: &Node,
        value: &Node,
        text: &str,
    ) -> Result<(), EditError> {
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

    pub(super) fn finish(mut self) -> Result<String, EditError> {
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
