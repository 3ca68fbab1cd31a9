//! plan::yaml: turns plan text (and the screen's keymap file) into a tree of YAML nodes,
//! each with its 1-based line and column, through serde-saphyr's `Spanned`. Owns the YAML
//! syntax layer only; it never knows what a plan means (that is `plan::read`).
//!
//! A generic tree (instead of derived structs with `deny_unknown_fields`) is what lets the
//! reader report every unknown key and every bad value in one pass, each at its place.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::{Location, MessageFormatter, Spanned, UserMessageFormatter};

/// One YAML node and where it sits in the file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub value: Value,
    pub line: usize,
    pub column: usize,
    /// The node's source text when it is a plain scalar that YAML typed as a number or a
    /// boolean: `version: 1.10` must stay "1.10", not become 1.1.
    pub raw: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// What the node is, in words a plan author knows.
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "nothing",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "text",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The scalar as the author wrote it, for values that are text in the plan's eyes
    /// (names, versions, units like `1%`). `None` for null, lists and mappings.
    pub(crate) fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Bool(b) => Some(self.raw.clone().unwrap_or_else(|| b.to_string())),
            Value::Int(i) => Some(self.raw.clone().unwrap_or_else(|| i.to_string())),
            Value::Float(f) => Some(self.raw.clone().unwrap_or_else(|| f.to_string())),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }
}

/// A YAML syntax error: the document cannot be read as YAML at all.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// How deep lists and mappings may nest. A plan needs about seven levels. Reading is
/// recursive and a level costs tens of KiB of stack in a debug build, so the parser's own
/// default (64) overflows a 2 MiB thread stack: this keeps a hostile file's worst case
/// inside 1 MiB.
pub(super) const MAX_DEPTH: usize = 16;
/// How many nodes (scalars, lists, mappings, counted again through every alias) a plan may
/// hold. A large real plan has a few thousand; the parser's default (250,000) lets an
/// alias bomb ("a billion laughs") take seconds before it is refused.
const MAX_NODES: usize = 25_000;

/// Parse one YAML document into a located tree.
pub(crate) fn parse(text: &str) -> Result<Node, SyntaxError> {
    let options = serde_saphyr::options! {
        with_snippet: false,
        // `name: no` is the text "no", not false (YAML 1.2 booleans only).
        strict_booleans: true,
        budget: serde_saphyr::budget! { max_depth: MAX_DEPTH, max_nodes: MAX_NODES },
    };
    match serde_saphyr::from_str_with_options::<Spanned<Raw>>(text, options) {
        Ok(root) => Ok(to_node(root, text)),
        Err(e) => {
            let (line, column) = e.location().map(position).unwrap_or((0, 0));
            let message = match breach(&e) {
                Some(BudgetBreach::Depth { .. }) => format!(
                    "lists and mappings nest deeper than {MAX_DEPTH} levels here; a plan needs far fewer"
                ),
                Some(BudgetBreach::Nodes { .. }) => format!(
                    "more than {MAX_NODES} values by here, counting each use of an alias again; a plan needs far fewer"
                ),
                _ => UserMessageFormatter
                    .format_message(e.without_snippet())
                    .into_owned(),
            };
            Err(SyntaxError {
                line,
                column,
                message,
            })
        }
    }
}

/// The budget limit behind an error, looking through the wrappers saphyr puts around it.
pub(crate) fn breach(e: &serde_saphyr::Error) -> Option<&BudgetBreach> {
    match e {
        serde_saphyr::Error::Budget { breach, .. } => Some(breach),
        serde_saphyr::Error::AliasError { error, .. }
        | serde_saphyr::Error::WithSnippet { error, .. } => breach(error),
        _ => None,
    }
}

fn position(loc: Location) -> (usize, usize) {
    let n = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    (n(loc.line()), n(loc.column()))
}

fn to_node(s: Spanned<Raw>, text: &str) -> Node {
    let (line, column) = position(s.referenced);
    // The definition site holds the scalar's text even when it is used through an alias.
    let span = s.defined.span();
    let source = || {
        let start = usize::try_from(span.byte_offset()?).ok()?;
        let len = usize::try_from(span.byte_len()?).ok()?;
        text.get(start..start.checked_add(len)?)
            .map(|t| t.trim().to_string())
    };
    let (value, raw) = match s.value {
        Raw::Null => (Value::Null, None),
        Raw::Bool(b) => (Value::Bool(b), source()),
        Raw::Int(i) => (Value::Int(i), source()),
        Raw::Float(f) => (Value::Float(f), source()),
        Raw::Str(v) => (Value::Str(v), None),
        Raw::Seq(items) => (
            Value::Seq(items.into_iter().map(|i| to_node(i, text)).collect()),
            None,
        ),
        Raw::Map(entries) => (
            Value::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| (to_node(k, text), to_node(v, text)))
                    .collect(),
            ),
            None,
        ),
    };
    // A raw slice that does not read back as the same kind of scalar (quoted, tagged,
    // or an alias token) is worse than none.
    let raw = raw.filter(|r| !r.starts_with(['"', '\'', '!', '*', '&']));
    Node {
        value,
        line,
        column,
        raw,
    }
}

/// What serde-saphyr hands over, before locations are flattened into [`Node`].
enum Raw {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }

    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        Raw::deserialize(d)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Int(i128::from(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::Int(i128::from(v)))
    }

    fn visit_i128<E>(self, v: i128) -> Result<Raw, E> {
        Ok(Raw::Int(v))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Raw, E> {
        i128::try_from(v)
            .map(Raw::Int)
            .map_err(|_| E::custom("integer too large"))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }

    fn visit_char<E>(self, v: char) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_string()))
    }

    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }

    fn visit_bytes<E>(self, v: &[u8]) -> Result<Raw, E> {
        Ok(Raw::Str(String::from_utf8_lossy(v).into_owned()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Raw>>()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<Raw>>()? {
            let value = map.next_value::<Spanned<Raw>>()?;
            entries.push((key, value));
        }
        Ok(Raw::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(n: &Node) -> &[(Node, Node)] {
        match &n.value {
            Value::Map(m) => m,
            other => panic!("not a map: {other:?}"),
        }
    }

    #[test]
    fn locations_are_one_based_and_point_at_values() {
        let root = parse("release:\n  name: checkout\n  percent: 120\n").unwrap();
        assert_eq!((root.line, root.column), (1, 1));
        let (k, v) = &map(&root)[0];
        assert_eq!((k.line, k.column), (1, 1));
        let (k2, v2) = &map(v)[1];
        assert_eq!(k2.scalar_text().as_deref(), Some("percent"));
        assert_eq!((v2.line, v2.column), (3, 12));
        assert_eq!(v2.value, Value::Int(120));
    }

    #[test]
    fn number_like_text_keeps_its_spelling() {
        let root = parse("a: 1.10\nb: \"1.10\"\nc: no\nd: true\ne: ~\nf:\n").unwrap();
        let m = map(&root);
        assert_eq!(m[0].1.scalar_text().as_deref(), Some("1.10"));
        assert_eq!(m[1].1.scalar_text().as_deref(), Some("1.10"));
        assert_eq!(m[2].1.scalar_text().as_deref(), Some("no"));
        assert_eq!(m[3].1.value, Value::Bool(true));
        assert!(m[4].1.is_null());
        assert!(m[5].1.is_null());
    }

    #[test]
    fn aliases_resolve_and_point_at_their_use() {
        let root = parse("a: &x 1.50\nb: *x\n").unwrap();
        let b = &map(&root)[1].1;
        assert_eq!(b.scalar_text().as_deref(), Some("1.50"));
        assert_eq!(b.line, 2);
    }

    #[test]
    fn syntax_errors_have_a_place_and_no_snippet() {
        let e = parse("release:\n  name: [a, b\n  x: 1\n").unwrap_err();
        assert_eq!((e.line, e.column), (3, 4));
        assert!(!e.message.contains('\n'), "{}", e.message);
        assert!(!e.message.is_empty());
    }

    #[test]
    fn duplicate_keys_are_syntax_errors() {
        let e = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains('a'));
    }

    #[test]
    fn deep_nesting_is_refused_at_its_place_without_exhausting_the_stack() {
        // A 1 MiB stack: what a Windows main thread gets.
        let in_small_stack = |text: String| {
            std::thread::Builder::new()
                .stack_size(1 << 20)
                .spawn(move || parse(&text))
                .unwrap()
                .join()
                .unwrap()
        };
        let flow = |n: usize| format!("a: {}{}\n", "[".repeat(n), "]".repeat(n));
        let block: String = (0..40).map(|i| format!("{}- \n", "  ".repeat(i))).collect();
        for text in [flow(20), flow(10_000), block] {
            let e = in_small_stack(text).unwrap_err();
            assert!(e.line >= 1 && !e.message.is_empty(), "{e:?}");
        }
        let e = in_small_stack(flow(20)).unwrap_err();
        assert!(e.message.contains("deeper than 16 levels"), "{}", e.message);
        let fine = format!(
            "a: {}{}\n",
            "[".repeat(MAX_DEPTH - 1),
            "]".repeat(MAX_DEPTH - 1)
        );
        assert!(parse(&fine).is_ok());
    }

    #[test]
    fn an_alias_bomb_is_refused_before_it_expands() {
        let mut bomb = String::from("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..10 {
            let uses = vec![format!("*l{}", i - 1); 10].join(", ");
            bomb.push_str(&format!("l{i}: &l{i} [{uses}]\n"));
        }
        let e = parse(&format!("{bomb}release: *l9\n")).unwrap_err();
        assert!(
            e.message.contains("more than 25000 values"),
            "{}",
            e.message
        );
        assert!(e.line > 0);
    }

    #[test]
    fn empty_text_is_null() {
        assert!(parse("").unwrap().is_null());
        assert!(parse("# only a comment\n").unwrap().is_null());
    }
}
