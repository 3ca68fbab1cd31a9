//! plan::read::values: one YAML value read as a setting. Owns the readers every section
//! shares: mappings whose keys are checked (with did-you-mean), required keys, text,
//! lists, durations, whole numbers, names from a fixed set, paths, URLs, environment
//! variable names and commands. Each reports its problem at the value and returns `None`,
//! so the walk goes on; none knows which section it is reading.

use std::path::PathBuf;
use std::time::Duration;

use super::Reader;
use crate::plan::units;
use crate::plan::yaml::{Node, Value};
use crate::support::suggest;

/// The entries of one YAML mapping whose keys were all checked against the allowed set.
pub(super) struct Fields<'n> {
    pub(super) at: &'n Node,
    pub(super) entries: Vec<(String, &'n Node)>,
    /// Allowed keys an unknown key looked like; already reported, so not "missing" too.
    pub(super) typos: Vec<&'static str>,
}

impl<'n> Fields<'n> {
    /// The value under `key`; a key with an empty value counts as absent.
    pub(super) fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, v)| k == key && !v.is_null())
            .map(|(_, v)| *v)
    }

    pub(super) fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

pub(super) fn backticked(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A hint for a name that is not one of `valid`: the likely typo, else the whole list.
fn choice_hint(word: &str, valid: &[&str]) -> String {
    match suggest::closest(word, valid.iter().copied()) {
        Some(s) => format!("did you mean `{s}`? valid: {}", backticked(valid)),
        None => format!("valid: {}", backticked(valid)),
    }
}

/// Spelling-insensitive key for enum names: `blue-green`, `blue_green`, `BlueGreen`.
pub(super) fn fold(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '-' && *c != '_' && !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Reader {
    /// `node` as a mapping whose keys are all in `allowed`; unknown keys are reported at
    /// themselves with a did-you-mean. `what` names the mapping in messages.
    pub(super) fn fields<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        allowed: &[&'static str],
    ) -> Option<Fields<'n>> {
        let Value::Map(entries) = &node.value else {
            let found = node.kind();
            self.error(
                node,
                format!("{what} must be a mapping, found {found}"),
                Some(format!(
                    "write it as `key: value` lines; keys: {}",
                    backticked(allowed)
                )),
            );
            return None;
        };
        let mut fields = Fields {
            at: node,
            entries: Vec::with_capacity(entries.len()),
            typos: Vec::new(),
        };
        for (k, v) in entries {
            let Some(key) = k.scalar_text() else {
                self.error(
                    k,
                    format!("a key in {what} must be a name, found {}", k.kind()),
                    None,
                );
                continue;
            };
            if allowed.contains(&key.as_str()) {
                fields.entries.push((key, v));
            } else {
                let hint = match suggest::closest(&key, allowed.iter().copied()) {
                    Some(s) => {
                        fields.typos.push(s);
                        format!("did you mean `{s}`?")
                    }
                    None => format!("valid keys here: {}", backticked(allowed)),
                };
                self.error(k, format!("unknown key `{key}` in {what}"), Some(hint));
            }
        }
        Some(fields)
    }

    /// The value under a key that must be there.
    pub(super) fn required<'n>(
        &mut self,
        f: &Fields<'n>,
        key: &str,
        what: &str,
        hint: &str,
    ) -> Option<&'n Node> {
        let v = f.get(key);
        if v.is_some() || f.typos.contains(&key) {
            return v;
        }
        match f.entries.iter().find(|(k, _)| k == key) {
            Some((_, empty)) => self.error(
                empty,
                format!("`{key}` in {what} has no value"),
                Some(hint.to_string()),
            ),
            None => self.error(
                f.at,
                format!("{what} is missing `{key}`"),
                Some(hint.to_string()),
            ),
        }
        None
    }

    /// A non-empty scalar read as text.
    pub(super) fn text(&mut self, node: &Node, what: &str) -> Option<String> {
        match node.scalar_text() {
            Some(t) if !t.trim().is_empty() => Some(t),
            Some(_) => {
                self.error(node, format!("{what} is empty"), None);
                None
            }
            None => {
                self.error(
                    node,
                    format!("{what} must be text, found {}", node.kind()),
                    None,
                );
                None
            }
        }
    }

    pub(super) fn list<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        hint: &str,
    ) -> Option<&'n [Node]> {
        match &node.value {
            Value::Seq(items) => Some(items),
            _ => {
                self.error(
                    node,
                    format!("{what} must be a list, found {}", node.kind()),
                    Some(hint.to_string()),
                );
                None
            }
        }
    }

    pub(super) fn texts(&mut self, node: &Node, what: &str) -> Option<Vec<String>> {
        let items = self.list(node, what, "write it as `[a, b]` or as `- a` lines")?;
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items {
            match self.text(item, &format!("an entry of {what}")) {
                Some(t) => out.push(t),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    pub(super) fn duration(&mut self, node: &Node, what: &str) -> Option<Duration> {
        let Some(text) = node.scalar_text() else {
            self.error(
                node,
                format!("{what} must be a duration, found {}", node.kind()),
                Some("write it like `30s`, `15m`, `2h` or `1d`".to_string()),
            );
            return None;
        };
        match units::parse_duration(&text) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(node, format!("bad {what}: {e}"), None);
                None
            }
        }
    }

    /// A positive duration (an interval or a timeout: zero would spin or never wait).
    pub(super) fn positive_duration(&mut self, node: &Node, what: &str) -> Option<Duration> {
        let d = self.duration(node, what)?;
        if d.is_zero() {
            self.error(node, format!("{what} must be longer than 0"), None);
            return None;
        }
        Some(d)
    }

    pub(super) fn whole(&mut self, node: &Node, what: &str, min: u64, max: u64) -> Option<u64> {
        self.whole_or(node, what, min, max, None)
    }

    /// [`Self::whole`], with `hint` on its errors.
    pub(super) fn whole_or(
        &mut self,
        node: &Node,
        what: &str,
        min: u64,
        max: u64,
        hint: Option<String>,
    ) -> Option<u64> {
        let range = format!("{min}..={max}");
        match &node.value {
            Value::Int(i) => match u64::try_from(*i) {
                Ok(v) if (min..=max).contains(&v) => Some(v),
                _ => {
                    self.error(node, format!("{what} {i} is outside {range}"), hint);
                    None
                }
            },
            _ => {
                let shown = match node.scalar_text() {
                    Some(t) => format!("{} `{t}`", node.kind()),
                    None => node.kind().to_string(),
                };
                self.error(
                    node,
                    format!("{what} must be a whole number {range}, found {shown}"),
                    hint,
                );
                None
            }
        }
    }

    /// One of a fixed set of names; the message lists them and guesses the typo.
    pub(super) fn choice<T: Copy>(
        &mut self,
        node: &Node,
        what: &str,
        options: &[(&str, T)],
    ) -> Option<T> {
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let Some(text) = node.scalar_text() else {
            self.error(
                node,
                format!("{what} must be a name, found {}", node.kind()),
                Some(format!("valid: {}", backticked(&names))),
            );
            return None;
        };
        let folded = fold(&text);
        if let Some((_, v)) = options.iter().find(|(n, _)| fold(n) == folded) {
            return Some(*v);
        }
        self.error(
            node,
            format!("unknown {what} `{text}`"),
            Some(choice_hint(&text, &names)),
        );
        None
    }

    pub(super) fn path(&mut self, node: &Node, what: &str) -> Option<PathBuf> {
        let p = self.text(node, what)?;
        Some(self.dir.join(p))
    }

    /// The name of an environment variable that holds a secret. Never echoes the value:
    /// if it is not a name, it may be the secret itself.
    pub(super) fn env_name(&mut self, node: &Node, what: &str) -> Option<String> {
        let t = self.text(node, what)?;
        if is_env_name(&t) {
            Some(t)
        } else {
            self.error(
                node,
                format!("{what} must be the name of an environment variable"),
                Some(
                    "put the secret in an environment variable and write its name here, like `UNLEASH_TOKEN`; never the secret itself"
                        .to_string(),
                ),
            );
            None
        }
    }

    pub(super) fn url(&mut self, node: &Node, what: &str) -> Option<String> {
        let t = self.text(node, what)?;
        match url::Url::parse(&t) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => Some(t),
            _ => {
                self.error(
                    node,
                    format!("{what} `{t}` is not an http(s) URL"),
                    Some("write it like `http://127.0.0.1:9090`".to_string()),
                );
                None
            }
        }
    }

    /// The `kind` of a tagged mapping (backend, source, notifier), read before its keys are
    /// checked, because the allowed keys depend on it.
    pub(super) fn kind<T: Copy>(
        &mut self,
        node: &Node,
        what: &str,
        options: &[(&str, T)],
    ) -> Option<T> {
        let Value::Map(entries) = &node.value else {
            self.error(
                node,
                format!(
                    "{what} must be a mapping with a `kind`, found {}",
                    node.kind()
                ),
                None,
            );
            return None;
        };
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let kind = entries
            .iter()
            .find(|(k, _)| k.scalar_text().as_deref() == Some("kind"))
            .map(|(_, v)| v)
            .filter(|v| !v.is_null());
        if let Some(k) = kind {
            return self.choice(k, &format!("{what} kind"), options);
        }
        // `kidn: file` would otherwise only say `kind` is missing.
        let typo = entries
            .iter()
            .filter_map(|(k, _)| k.scalar_text().map(|t| (k, t)))
            .find(|(_, t)| suggest::closest(t, ["kind"]).is_some());
        match typo {
            Some((at, t)) => self.error(
                at,
                format!("unknown key `{t}` in {what}"),
                Some("did you mean `kind`?".to_string()),
            ),
            None => self.error(
                node,
                format!("{what} is missing `kind`"),
                Some(format!("add `kind:`, one of {}", backticked(&names))),
            ),
        }
        None
    }

    pub(super) fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.value {
            Value::Bool(b) => Some(b),
            _ => {
                self.error(
                    node,
                    format!("{what} must be true or false, found {}", node.kind()),
                    None,
                );
                None
            }
        }
    }

    /// A command as argv (run without a shell), never empty.
    pub(super) fn argv(&mut self, node: &Node, what: &str) -> Option<Vec<String>> {
        if let Value::Str(s) = &node.value {
            self.error(
                node,
                format!("{what} must be a list of arguments, found text `{s}`"),
                Some(
                    "commands run without a shell: write `[cargo, test]`, not `cargo test`"
                        .to_string(),
                ),
            );
            return None;
        }
        let argv = self.texts(node, what)?;
        if argv.is_empty() {
            self.error(
                node,
                format!("{what} is empty"),
                Some("write it like `[cargo, test]`".to_string()),
            );
            return None;
        }
        Some(argv)
    }
}
