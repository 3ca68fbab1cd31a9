//! flags::yaml_edit::tree: the YAML text as a tree of nodes that know their bytes. Owns
//! building that tree from the parser's events and spans, one document at most; never
//! interprets a value and never edits.

use std::ops::Range;

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, Span, StructureStyle};

use super::EditError;

/// One node of the document with the byte range of its text.
#[derive(Debug)]
pub(super) struct Node {
    pub(super) body: Body,
    /// First byte of the node's text (for a flow collection, its bracket).
    pub(super) start: usize,
    /// Just past the last byte of content: trailing blanks and line breaks excluded,
    /// except that a block scalar ends after its last line break.
    pub(super) end: usize,
    pub(super) line: u64,
    pub(super) column: u64,
    /// An anchor, an alias or an explicit tag is on this node.
    pub(super) marked: bool,
}

#[derive(Debug)]
pub(super) enum Body {
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
    pub(super) fn is_null(&self) -> bool {
        matches!(&self.body, Body::Scalar { value, style: ScalarStyle::Plain }
            if value.is_empty() || value == "~" || value.eq_ignore_ascii_case("null"))
    }

    pub(super) fn is_flow(&self) -> bool {
        match &self.body {
            Body::Map { style, .. } => *style == StructureStyle::Flow,
            Body::Seq { flow, .. } => *flow,
            Body::Scalar { .. } | Body::Alias => false,
        }
    }

    pub(super) fn error(&self, reason: impl Into<String>, hint: impl Into<String>) -> EditError {
        EditError {
            line: self.line,
            column: self.column,
            reason: reason.into(),
            hint: hint.into(),
        }
    }

    pub(super) fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        let Body::Map { entries, .. } = &self.body else {
            return None;
        };
        entries.iter().find_map(|(k, v)| match &k.body {
            Body::Scalar { value, .. } if value == key => Some((k, v)),
            _ => None,
        })
    }

    /// The first node in this subtree (itself included) carrying an anchor, alias or tag.
    pub(super) fn first_marked(&self) -> Option<&Node> {
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
pub(super) fn parse_tree(text: &str) -> Result<Option<Node>, EditError> {
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
