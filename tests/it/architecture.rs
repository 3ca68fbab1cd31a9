//! The layering of `ARCHITECTURE.md` ("Layers"), held by reading the sources.
//!
//! Two rules, so that arrows only ever point down:
//! 1. The core (`canary/`, `engine/`, `plan/`, `support/`) imports no adapter, no control
//!    layer, no front-end, and none of tokio, reqwest, notify, ratatui or crossterm: it
//!    decides, and stays testable without a runtime, a network or a terminal.
//! 2. No top-level module imports another that imports it back, directly or round a loop:
//!    a cycle makes the two one module in all but name.
//!
//! The check reads tokens, not text: comments and string literals are skipped, `use`
//! trees (grouped, nested, over several lines) and inline paths such as
//! `crate::flags::X` are both followed, `super::` is resolved through inline modules,
//! and a crate-root macro that expands to `$crate::m::…` counts as a use of `m`.
//! Test modules are read like any other code: a test build links them too, so a core
//! test that reaches into an adapter ties the core to that adapter.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs;
use std::path::Path;

const CORE: &[&str] = &["canary", "engine", "plan", "support"];
#[rustfmt::skip]
const FORBIDDEN_MODULES: &[&str] = &[
    "flags", "metrics", "store", "control", "controller", "tui", "app", "cli", "pipeline",
    "checklist", "notify", "recorder", "recording", "backtest", "headless", "demo", "watch",
];
const FORBIDDEN_CRATES: &[&str] = &["tokio", "reqwest", "notify", "ratatui", "crossterm"];

struct Source {
    path: String,
    text: String,
}

/// What a path reaches: a top-level module of this crate, or the first segment of any
/// other path (an external crate, `std`, or a local type: only the names above matter).
enum Dep {
    Module(String),
    Crate(String),
}

/// One reference, with the file and line that make it.
struct Found<'a> {
    path: &'a str,
    line: usize,
    dep: Dep,
}

/// A word (token or path segment) and the line it is on.
type Word = (String, usize);

/// Every `.rs` file under `src/`, in path order, with paths like `src/engine/mod.rs`.
fn sources() -> Vec<Source> {
    fn walk(dir: &Path, out: &mut Vec<Source>) {
        let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {dir:?}: {e}"));
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                let text =
                    fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path:?}: {e}"));
                let root = Path::new(env!("CARGO_MANIFEST_DIR"));
                let rel = path.strip_prefix(root).unwrap_or(&path);
                let path = rel.to_string_lossy().replace('\\', "/");
                out.push(Source { path, text });
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
    // So that no rule can hold by reading nothing.
    assert!(out.len() >= 30, "read only {} files under src/", out.len());
    out
}

/// The top-level module a file belongs to; `None` for the crate roots.
fn top(path: &str) -> Option<&str> {
    let rel = path.strip_prefix("src/")?;
    let name = rel.split('/').next()?.trim_end_matches(".rs");
    (!matches!(rel, "lib.rs" | "main.rs")).then_some(name)
}

/// The module path of a file: `src/plan/read/mod.rs` is `plan::read`.
fn module_path(path: &str) -> Vec<String> {
    let rel = path.trim_start_matches("src/").trim_end_matches(".rs");
    let mut parts: Vec<String> = rel.split('/').map(str::to_string).collect();
    if parts.last().is_some_and(|p| p == "mod") || matches!(rel, "lib" | "main") {
        parts.pop();
    }
    parts
}

fn is_ident(s: &str) -> bool {
    s.starts_with(|c: char| c.is_alphabetic() || c == '_')
}

/// Splits Rust source into identifiers, `::` and single punctuation characters, each with
/// its line. Comments, string, raw-string and char literals yield nothing; `$crate` in a
/// macro body reads as `crate`.
fn tokens(src: &str) -> Vec<Word> {
    let c: Vec<char> = src.chars().collect();
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    let run = |i: usize, f: fn(char) -> bool| {
        c.get(i..)
            .map_or(0, |s| s.iter().take_while(|&&ch| f(ch)).count())
    };
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut line = Vec::with_capacity(c.len());
    c.iter().fold(1, |n, &ch| {
        line.push(n);
        n + usize::from(ch == '\n')
    });
    // Past a string whose body starts at `i`; a raw one, closed by `"` and `hashes` `#`s,
    // has no escapes.
    let string = |mut i: usize, hashes: Option<usize>| {
        while i < c.len() {
            match (c[i], hashes) {
                ('\\', None) => i += 1,
                ('"', None) => return i + 1,
                ('"', Some(n)) if run(i + 1, |ch| ch == '#') >= n => return i + 1 + n,
                _ => {}
            }
            i += 1;
        }
        i
    };
    let (mut i, mut out) = (0, Vec::new());
    while i < c.len() {
        match (c[i], at(i + 1)) {
            ('/', '/') => i += run(i, |ch| ch != '\n'),
            ('/', '*') => {
                let mut depth = 0;
                while i < c.len() {
                    match (c[i], at(i + 1)) {
                        ('/', '*') => (depth, i) = (depth + 1, i + 2),
                        ('*', '/') => (depth, i) = (depth - 1, i + 2),
                        _ => i += 1,
                    }
                    if depth == 0 {
                        break;
                    }
                }
            }
            ('"', _) => i = string(i + 1, None),
            ('\'', '\\') => i += 4 + run(i + 3, |ch| ch != '\''),
            ('\'', _) if at(i + 2) == '\'' => i += 3,
            (ch, _) if ident(ch) => {
                let (len, start) = (run(i, ident), i);
                let word: String = c[i..i + len].iter().collect();
                let hashes = run(i + len, |ch| ch == '#');
                i += len;
                if matches!(word.as_str(), "r" | "br" | "cr") && at(i + hashes) == '"' {
                    i = string(i + hashes + 1, Some(hashes));
                } else if matches!(word.as_str(), "b" | "c") && at(i) == '"' {
                    i = string(i + 1, None);
                } else {
                    out.push((word, line[start]));
                }
            }
            (':', ':') => {
                out.push(("::".into(), line[i]));
                i += 2;
            }
            (ch, _) => {
                // `$crate` is `crate`; a lifetime's quote carries nothing either.
                if !ch.is_whitespace() && ch != '$' && ch != '\'' {
                    out.push((ch.into(), line[i]));
                }
                i += 1;
            }
        }
    }
    out
}

/// Collects each leaf path of a `use` tree starting at `toks[*i]`, leaving `*i` past it.
fn use_tree(toks: &[Word], i: &mut usize, prefix: &mut Vec<Word>, leaves: &mut Vec<Vec<Word>>) {
    let base = prefix.len();
    while let Some(t) = toks.get(*i) {
        *i += 1;
        if t.0 == "{" {
            while toks.get(*i).is_some_and(|t| t.0 != "}") {
                let before = *i;
                use_tree(toks, i, prefix, leaves);
                if toks.get(*i).is_some_and(|t| t.0 == ",") || *i == before {
                    *i += 1;
                }
            }
            *i += 1;
            break;
        } else if is_ident(&t.0) {
            prefix.push(t.clone());
            if toks.get(*i).is_some_and(|t| t.0 == "::") {
                continue;
            }
            leaves.push(prefix.clone());
            if toks.get(*i).is_some_and(|t| t.0 == "as") {
                *i += 2;
            }
            break;
        } else if t.0 == "*" {
            leaves.push(prefix.clone());
            break;
        } else if t.0 != "::" {
            *i -= 1;
            break;
        }
    }
    prefix.truncate(base);
}

/// What a path reaches from inside `module`, and the line of the segment that names it.
fn resolve(segs: &[Word], module: &[String]) -> Option<(Dep, usize)> {
    let (first, line) = segs.first()?;
    let module_at = |k: usize| segs.get(k).map(|(m, l)| (Dep::Module(m.clone()), *l));
    match first.as_str() {
        "crate" => module_at(1),
        "self" | "super" => {
            let ups = segs.iter().take_while(|s| s.0 == "super").count();
            let base = module.get(..module.len().checked_sub(ups)?)?;
            match base.first() {
                Some(top) => Some((Dep::Module(top.clone()), *line)),
                None => module_at(ups.max(1)),
            }
        }
        _ => Some((Dep::Crate(first.clone()), *line)),
    }
}

/// Crate-root macros (`macro_rules!` in `src/lib.rs`) and the module each expands into.
fn root_macros(sources: &[Source]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(lib) = sources.iter().find(|s| s.path == "src/lib.rs") else {
        return out;
    };
    let toks = tokens(&lib.text);
    let mut name = None;
    for w in toks.windows(3) {
        if w[0].0 == "macro_rules" && w[1].0 == "!" {
            name = Some(w[2].0.clone());
        } else if let (Some(n), "crate", "::") = (&name, w[0].0.as_str(), w[1].0.as_str()) {
            out.entry(n.clone()).or_insert_with(|| w[2].0.clone());
        }
    }
    out
}

/// Every reference every file makes, through `use` trees, inline paths and root macros.
fn scan(sources: &[Source]) -> Vec<Found<'_>> {
    let macros = root_macros(sources);
    let mut out = Vec::new();
    for Source { path, text } in sources {
        let toks = tokens(text);
        let text = |k: usize| toks.get(k).map_or("", |t| t.0.as_str());
        let file_module = module_path(path);
        // Inline `mod name { … }` blocks open at a brace depth, so `super::` resolves right.
        let (mut inline, mut depth): (Vec<(String, usize)>, usize) = (Vec::new(), 0);
        let mut paths: Vec<Vec<Word>> = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            let (t, before) = (text(i), if i == 0 { "" } else { text(i - 1) });
            if t == "mod" && is_ident(text(i + 1)) && text(i + 2) == "{" {
                inline.push((text(i + 1).to_string(), depth));
                depth += 1;
                i += 3;
                continue;
            } else if t == "{" {
                depth += 1;
            } else if t == "}" {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|m| m.1 == depth) {
                    inline.pop();
                }
            } else if t == "use" {
                i += 1;
                use_tree(&toks, &mut i, &mut Vec::new(), &mut paths);
            } else if is_ident(t) && text(i + 1) == "::" && before != "::" {
                let mut segs = vec![toks[i].clone()];
                while text(i + 1) == "::" && is_ident(text(i + 2)) {
                    i += 2;
                    segs.push(toks[i].clone());
                }
                paths.push(segs);
            } else if let Some(m) = macros.get(t)
                && text(i + 1) == "!"
                && matches!(text(i + 2), "(" | "[" | "{")
            {
                let line = toks[i].1;
                paths.push(vec![("crate".into(), line), (m.clone(), line)]);
            }
            for segs in paths.drain(..) {
                let inner = inline.iter().map(|m| &m.0);
                let module: Vec<String> = file_module.iter().chain(inner).cloned().collect();
                if let Some((dep, line)) = resolve(&segs, &module) {
                    out.push(Found { path, line, dep });
                }
            }
            i += 1;
        }
    }
    out
}

/// `file:line: what` for each reference the core must not make.
fn core_violations(found: &[Found]) -> Vec<String> {
    let mut bad = BTreeSet::new();
    for f in found
        .iter()
        .filter(|f| top(f.path).is_some_and(|t| CORE.contains(&t)))
    {
        let what = match &f.dep {
            Dep::Module(m) if FORBIDDEN_MODULES.contains(&m.as_str()) => format!("crate::{m}"),
            Dep::Crate(c) if FORBIDDEN_CRATES.contains(&c.as_str()) => format!("{c} (crate)"),
            _ => continue,
        };
        bad.insert((f.path, f.line, what));
    }
    let show = |(path, line, what)| format!("  {path}:{line}: {what}");
    bad.into_iter().map(show).collect()
}

/// Module → module it imports → one file:line that does.
type Edges<'a> = BTreeMap<&'a str, BTreeMap<&'a str, (&'a str, usize)>>;

/// The shortest way from `from` to `to` (breadth first), both ends included.
fn way<'a>(edges: &Edges<'a>, from: &'a str, to: &'a str) -> Option<Vec<&'a str>> {
    let mut came: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([from]);
    while let Some(n) = queue.pop_front() {
        for &next in edges.get(n).into_iter().flat_map(|e| e.keys()) {
            if next != from && !came.contains_key(next) {
                came.insert(next, n);
                queue.push_back(next);
            }
        }
    }
    let mut path = vec![to];
    while let Some(&prev) = came.get(path[path.len() - 1]) {
        path.push(prev);
    }
    path.reverse();
    (path[0] == from).then_some(path)
}

/// Each cycle among top-level modules as `a → b → a`, then one file:line for each import
/// on a cycle. Every such import appears: for each edge a → b, the shortest way back.
fn cycles(found: &[Found], sources: &[Source]) -> Vec<String> {
    let modules: BTreeSet<&str> = sources.iter().filter_map(|s| top(&s.path)).collect();
    let mut edges: Edges = BTreeMap::new();
    for f in found {
        let (Some(a), Dep::Module(b)) = (top(f.path), &f.dep) else {
            continue;
        };
        if let Some(&b) = modules.get(b.as_str()).filter(|&&b| b != a) {
            edges
                .entry(a)
                .or_default()
                .entry(b)
                .or_insert((f.path, f.line));
        }
    }
    let mut seen = BTreeSet::new();
    for (&a, next) in &edges {
        for &b in next.keys() {
            // The way back b → … → a, closed by a → b, is the cycle; it starts at its least name.
            if let Some(mut ring) = way(&edges, b, a) {
                let start = (0..ring.len()).min_by_key(|&k| ring[k]).unwrap_or(0);
                ring.rotate_left(start);
                seen.insert(ring);
            }
        }
    }
    // Shortest first: a two-way import is the first thing to break.
    let mut rings: Vec<Vec<&str>> = seen.into_iter().collect();
    rings.sort_by_key(|r| r.len());
    if rings.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut used = BTreeSet::new();
    for ring in rings {
        let names: Vec<&str> = ring.iter().chain(ring.first()).copied().collect();
        out.push(format!("  {}", names.join(" → ")));
        used.extend(names.windows(2).map(|p| (p[0], p[1])));
    }
    out.push("where each import on a cycle is made (one example each):".into());
    for (a, b) in used {
        let (file, line) = edges[a][b];
        out.push(format!("  {a} → {b}: {file}:{line}"));
    }
    out
}

#[test]
fn the_core_imports_no_adapter_no_control_and_no_front_end() {
    let bad = core_violations(&scan(&sources()));
    assert!(
        bad.is_empty(),
        "the core (canary/, engine/, plan/, support/) must not import adapters, control, front-ends \
         or tokio, reqwest, notify, ratatui, crossterm (ARCHITECTURE.md, \"Layers\"):\n{}\n",
        bad.join("\n")
    );
}

#[test]
fn top_level_modules_import_one_another_in_no_cycle() {
    let sources = sources();
    let found = cycles(&scan(&sources), &sources);
    assert!(
        found.is_empty(),
        "top-level modules import one another in a cycle; arrows must point down only \
         (ARCHITECTURE.md, \"Layers\"):\n{}\n",
        found.join("\n")
    );
}

fn fixture(files: &[(&str, &str)]) -> Vec<Source> {
    let source = |&(path, text): &(&str, &str)| Source {
        path: path.into(),
        text: text.into(),
    };
    files.iter().map(source).collect()
}

#[test]
fn the_checker_sees_forbidden_imports_and_skips_comments_and_strings() {
    let engine = r##"//! Never crate::tui::X: this is a comment.
use crate::{
    plan::Plan,
    metrics::{Batch, Reading},
};
/* crate::app::X, /* nested */ crate::cli::X */
fn f(plan: &Plan) -> char {
    let _ = ("crate::demo::X", r#"tokio::spawn"#, b"reqwest::get", plan.notify.len());
    crate::flags::FlagState::Off;
    let _ = ::std::mem::size_of::<super::store::Store>();
    '"'
}
mod inner {
    fn g() { super::super::watch::run(); ratatui::init(); }
}
"##;
    let lib = "macro_rules! out { ($($a:tt)*) => { $crate::cli::write_out($($a)*) } }";
    let plan = "use notify::Watcher;\nfn h() { out!(\"x\"); }\n";
    let sources = fixture(&[
        ("src/lib.rs", lib),
        ("src/engine/mod.rs", engine),
        ("src/plan/mod.rs", plan),
    ]);
    // `super::store` from `src/engine/mod.rs` is `crate::store`.
    let expected = [
        "  src/engine/mod.rs:4: crate::metrics",
        "  src/engine/mod.rs:9: crate::flags",
        "  src/engine/mod.rs:10: crate::store",
        "  src/engine/mod.rs:14: crate::watch",
        "  src/engine/mod.rs:14: ratatui (crate)",
        "  src/plan/mod.rs:1: notify (crate)",
        "  src/plan/mod.rs:2: crate::cli",
    ];
    assert_eq!(core_violations(&scan(&sources)), expected);
}

#[test]
fn the_checker_finds_a_cycle_and_names_each_edge() {
    let sources = fixture(&[
        ("src/a.rs", "use crate::b::X;\n"),
        ("src/b/mod.rs", "//! b\nfn f() {\n    crate::a::y();\n}\n"),
        ("src/c.rs", "use crate::{a, b};\n"),
        ("src/d.rs", "use crate::a;\n"),
    ]);
    let found = cycles(&scan(&sources), &sources);
    let expected = [
        "  a → b → a",
        "where each import on a cycle is made (one example each):",
        "  a → b: src/a.rs:1",
        "  b → a: src/b/mod.rs:3",
    ];
    assert_eq!(found, expected);
    let downward = fixture(&[
        ("src/a.rs", "use crate::b;\n"),
        ("src/b.rs", "use crate::c;\n"),
    ]);
    assert_eq!(cycles(&scan(&downward), &downward), Vec::<String>::new());
}
