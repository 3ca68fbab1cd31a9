//! flags::file: the YAML flag file backend (`flags: {name: {enabled, rollout, userGroups,
//! kind}}`). Owns reading and validating that file and editing one flag in it surgically;
//! never rewrites the file wholesale, never writes text that does not read back as
//! intended, and never decides what the flag should be.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_saphyr::Spanned;

use crate::plan::FlagKind;
use crate::support::suggest;

use super::disk::{DiskBackend, FlagFile, not_as_intended, parse_kind, read_text};
use super::yaml_edit::{self, EditError, flow_list, scalar_text};
use super::{FlagError, FlagState};

const SHAPE_HINT: &str = "a flag file looks like `flags: {new_checkout: {enabled: true, \
                          rollout: 0.25, userGroups: [beta-testers], kind: release}}`";

/// The keys of a flag that shipdeck reads; other keys are the user's and are kept.
const FLAG_KEYS: [&str; 4] = ["enabled", "rollout", "userGroups", "kind"];

/// A flag as written in the file, each value with where it was written.
struct RawFlag {
    enabled: Option<Spanned<bool>>,
    rollout: Option<Spanned<f64>>,
    groups: Option<Spanned<Vec<String>>>,
    kind: Option<Spanned<String>>,
    others: Vec<Spanned<String>>,
}

/// The flags in file order.
struct RawFlags(Vec<(Spanned<String>, Option<RawFlag>)>);

/// The whole file: the `flags` mapping and the names of any other top-level keys.
struct RawFile {
    flags: Option<RawFlags>,
    others: Vec<Spanned<String>>,
}

impl<'de> Deserialize<'de> for RawFlag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FlagVisitor;
        impl<'de> Visitor<'de> for FlagVisitor {
            type Value = RawFlag;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a flag: a mapping with enabled, rollout, userGroups and kind")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawFlag, A::Error> {
                let mut flag = RawFlag {
                    enabled: None,
                    rollout: None,
                    groups: None,
                    kind: None,
                    others: Vec::new(),
                };
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    match key.value.as_str() {
                        "enabled" => flag.enabled = map.next_value()?,
                        "rollout" => flag.rollout = map.next_value()?,
                        "userGroups" => flag.groups = map.next_value()?,
                        "kind" => flag.kind = map.next_value()?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            flag.others.push(key);
                        }
                    }
                }
                Ok(flag)
            }
        }
        deserializer.deserialize_map(FlagVisitor)
    }
}

impl<'de> Deserialize<'de> for RawFlags {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FlagsVisitor;
        impl<'de> Visitor<'de> for FlagsVisitor {
            type Value = RawFlags;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of flag names to flags")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawFlags, A::Error> {
                let mut flags = Vec::new();
                while let Some(name) = map.next_key::<Spanned<String>>()? {
                    let flag = map.next_value::<Option<RawFlag>>()?;
                    flags.push((name, flag));
                }
                Ok(RawFlags(flags))
            }
        }
        deserializer.deserialize_map(FlagsVisitor)
    }
}

impl<'de> Deserialize<'de> for RawFile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FileVisitor;
        impl<'de> Visitor<'de> for FileVisitor {
            type Value = RawFile;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping with a `flags` key")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawFile, A::Error> {
                let mut file = RawFile {
                    flags: None,
                    others: Vec::new(),
                };
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    if key.value == "flags" {
                        file.flags = map.next_value()?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                        file.others.push(key);
                    }
                }
                Ok(file)
            }
        }
        deserializer.deserialize_map(FileVisitor)
    }
}

/// A flag read from the file; `kind` is `None` when the file does not say.
#[derive(Debug, Clone, PartialEq)]
struct FileFlag {
    enabled: bool,
    rollout: f64,
    groups: Vec<String>,
    kind: Option<FlagKind>,
}

impl FileFlag {
    fn state(&self, default_kind: FlagKind) -> FlagState {
        FlagState {
            enabled: self.enabled,
            rollout: self.rollout,
            groups: self.groups.clone(),
            kind: self.kind.unwrap_or(default_kind),
        }
    }
}

fn invalid<T>(path: &Path, at: &Spanned<T>, message: String, hint: impl Into<String>) -> FlagError {
    FlagError::Invalid {
        path: path.to_path_buf(),
        line: at.referenced.line(),
        column: at.referenced.column(),
        message,
        hint: hint.into(),
    }
}

/// A serde-saphyr error as a located `FlagError`, in words a user can act on.
/// How many values a flag file may hold, counting each use of an alias again: thousands of
/// flags fit, and an alias bomb ("a billion laughs") is refused in milliseconds instead of
/// after the parser's default of 250,000.
const MAX_NODES: usize = 100_000;

fn parse_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! { max_nodes: MAX_NODES },
    }
}

/// Where a parse error points, 1-based; the start of the file when it does not say.
fn line_column(error: &serde_saphyr::Error) -> (u64, u64) {
    error
        .location()
        .map_or((1, 1), |at| (at.line().max(1), at.column().max(1)))
}

fn syntax_error(path: &Path, error: &serde_saphyr::Error) -> FlagError {
    if crate::plan::yaml_budget_breached(error) {
        let (line, column) = line_column(error);
        return FlagError::Invalid {
            path: path.to_path_buf(),
            line,
            column,
            message: format!(
                "more than {MAX_NODES} values by here, counting each use of an alias again"
            ),
            hint: "write the values out, or use fewer aliases: a flag file needs far fewer"
                .to_string(),
        };
    }
    let error = error.without_snippet();
    let (line, column) = line_column(error);
    let mut message = error.to_string();
    if let Some(stripped) = message.strip_suffix(&format!(" at line {line}, column {column}")) {
        message = stripped.to_string();
    }
    if let Some(at) = message.find(", set DuplicateKeyPolicy") {
        message.truncate(at);
    }
    let lower = message.to_ascii_lowercase();
    if lower.starts_with("multiple yaml documents") {
        message = "the file holds more than one YAML document".to_string();
    }
    let hint = if lower.contains("multiple yaml documents") {
        "keep a single document (no `---` between flags) with one `flags:` mapping"
    } else if lower.contains("duplicate") {
        "remove one of the two entries"
    } else if lower.contains("bool") {
        "`enabled` takes true or false"
    } else if lower.contains("sequence") {
        "write userGroups as a list, e.g. [beta-testers] or []"
    } else if lower.contains("float") || lower.contains("number") {
        "`rollout` takes a number from 0 to 1, e.g. 0.25 for 25%"
    } else {
        SHAPE_HINT
    };
    FlagError::Invalid {
        path: path.to_path_buf(),
        line,
        column,
        message,
        hint: hint.to_string(),
    }
}

/// Every flag in `text`, in file order, after checking the whole file.
fn parse_flags(path: &Path, text: &str) -> Result<Vec<(String, FileFlag)>, FlagError> {
    let file: Option<RawFile> = serde_saphyr::from_str_with_options(text, parse_options())
        .map_err(|error| syntax_error(path, &error))?;
    let Some(file) = file else {
        return Ok(Vec::new());
    };
    for key in &file.others {
        if let Some(meant) = suggest::closest(&key.value, ["flags"]) {
            return Err(invalid(
                path,
                key,
                format!("unknown top-level key `{}`", key.value),
                format!("did you mean `{meant}`?"),
            ));
        }
    }
    let mut flags = Vec::new();
    for (name, raw) in file.flags.map(|f| f.0).unwrap_or_default() {
        let Some(raw) = raw else {
            // `name:` with nothing under it: a flag with every value at its default.
            flags.push((
                name.value,
                FileFlag {
                    enabled: false,
                    rollout: 0.0,
                    groups: Vec::new(),
                    kind: None,
                },
            ));
            continue;
        };
        if let Some((key, meant)) = raw
            .others
            .iter()
            .find_map(|k| suggest::closest(&k.value, FLAG_KEYS).map(|meant| (k, meant)))
        {
            return Err(invalid(
                path,
                key,
                format!("unknown key `{}` in flag `{}`", key.value, name.value),
                format!("did you mean `{meant}`?"),
            ));
        }
        let rollout = match &raw.rollout {
            Some(r) if !(0.0..=1.0).contains(&r.value) => {
                return Err(invalid(
                    path,
                    r,
                    format!(
                        "rollout {} of flag `{}` is outside 0..=1",
                        r.value, name.value
                    ),
                    "write the share of users as a fraction, e.g. 0.25 for 25%",
                ));
            }
            Some(r) => r.value,
            None => 0.0,
        };
        let kind = match &raw.kind {
            None => None,
            Some(k) => Some(parse_kind(&k.value).ok_or_else(|| {
                let hint = match suggest::closest(&k.value, FlagKind::NAMES) {
                    Some(meant) => format!("did you mean `{meant}`?"),
                    None => format!("use one of {}", FlagKind::NAMES.join(", ")),
                };
                invalid(
                    path,
                    k,
                    format!("unknown kind `{}` for flag `{}`", k.value, name.value),
                    hint,
                )
            })?),
        };
        flags.push((
            name.value,
            FileFlag {
                enabled: raw.enabled.is_some_and(|e| e.value),
                rollout,
                groups: raw.groups.map(|g| g.value).unwrap_or_default(),
                kind,
            },
        ));
    }
    Ok(flags)
}

fn create_hint(path: &Path) -> String {
    format!(
        "create it beside the plan (`echo 'flags: {{}}' > {}`) or fix flag.backend.path in the plan",
        path.display()
    )
}

/// The YAML structure of `text` without the keys shipdeck manages on `flag`, for
/// checking that an edit changed nothing else.
fn unmanaged_structure(text: &str, flag: &str) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    let parsed: Option<Value> = serde_saphyr::from_str_with_options(text, parse_options())
        .map_err(|error| error.without_snippet().to_string())?;
    let mut root = match parsed {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(map)) => map,
        Some(other) => return Ok(other),
    };
    let mut flags = match root.shift_remove("flags") {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(map)) => map,
        Some(other) => return Err(format!("`flags` became {other}")),
    };
    let mut this = match flags.shift_remove(flag) {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(map)) => map,
        Some(other) => return Err(format!("the flag became {other}")),
    };
    for key in FLAG_KEYS {
        this.shift_remove(key);
    }
    if !this.is_empty() {
        flags.insert(flag.to_string(), Value::Object(this));
    }
    if !flags.is_empty() {
        root.insert("flags".to_string(), Value::Object(flags));
    }
    Ok(Value::Object(root))
}

/// The YAML flag file format.
pub struct YamlFlags;

impl YamlFlags {
    fn refused(path: &Path, flag: &str, error: EditError) -> FlagError {
        FlagError::Unsupported {
            path: path.to_path_buf(),
            line: error.line,
            column: error.column,
            flag: flag.to_string(),
            reason: error.reason,
            hint: error.hint,
        }
    }
}

impl FlagFile for YamlFlags {
    const LABEL: &'static str = "file";

    fn create_hint(&self, path: &Path) -> String {
        create_hint(path)
    }

    fn read_flag(
        &self,
        path: &Path,
        text: &str,
        flag: &str,
        kind: FlagKind,
    ) -> Result<Option<FlagState>, FlagError> {
        Ok(parse_flags(path, text)?
            .into_iter()
            .find(|(name, _)| name == flag)
            .map(|(_, f)| f.state(kind)))
    }

    fn edit(
        &self,
        path: &Path,
        text: &str,
        flag: &str,
        current: Option<&FlagState>,
        target: &FlagState,
    ) -> Result<String, FlagError> {
        let enabled = target.enabled.to_string();
        let rollout = format!("{:?}", target.rollout);
        let groups = flow_list(&target.groups);
        let create = [
            ("enabled", enabled.clone()),
            ("rollout", rollout.clone()),
            ("userGroups", groups.clone()),
            ("kind", scalar_text(target.kind.name())),
        ];
        let mut keys = Vec::new();
        if let Some(current) = current {
            if current.enabled != target.enabled {
                keys.push(("enabled", enabled));
            }
            if (current.rollout - target.rollout).abs() >= 1e-9 {
                keys.push(("rollout", rollout));
            }
            if current.groups != target.groups {
                keys.push(("userGroups", groups));
            }
        }
        let edited = yaml_edit::set_flag_keys(text, flag, &keys, &create)
            .map_err(|error| Self::refused(path, flag, error))?;

        // Never write text that does not say what was meant, or that says anything else new.
        let verify = |detail: String| not_as_intended(path, flag, detail);
        let reread = parse_flags(path, &edited)
            .map_err(|error| verify(format!("the edited file would not parse: {error}")))?;
        match reread.iter().find(|(name, _)| name == flag) {
            Some((_, f)) if f.state(target.kind).same_as(target) => {}
            other => {
                return Err(verify(format!(
                    "it would read back as {:?}",
                    other.map(|(_, f)| f)
                )));
            }
        }
        let before = unmanaged_structure(text, flag).map_err(verify)?;
        let after = unmanaged_structure(&edited, flag).map_err(verify)?;
        if before != after {
            return Err(verify("other flags or keys would change".to_string()));
        }
        Ok(edited)
    }
}

/// The YAML flag file as a [`FlagBackend`](super::FlagBackend) for one flag.
pub type FileBackend = DiskBackend<YamlFlags>;

impl FileBackend {
    /// The flag `flag` in the YAML file at `path`; a flag shipdeck creates gets `kind`,
    /// and so does a flag whose entry names no kind.
    pub fn new(path: PathBuf, flag: String, kind: FlagKind) -> FileBackend {
        DiskBackend::open(YamlFlags, path, flag, kind)
    }
}

/// The flag `flag` in the YAML flag file at `path`, for one-off reads such as
/// `shipdeck flags eval --file`. A flag with no kind reads as `release`.
pub fn read_file_flag(path: &Path, flag: &str) -> Result<Option<FlagState>, FlagError> {
    let text = read_text(path, &create_hint(path))?;
    YamlFlags.read_flag(path, &text, flag, FlagKind::Release)
}

/// Every flag in the YAML flag file at `path`, in file order.
pub fn list_flags(path: &Path) -> Result<Vec<(String, FlagState)>, FlagError> {
    let text = read_text(path, &create_hint(path))?;
    Ok(parse_flags(path, &text)?
        .into_iter()
        .map(|(name, flag)| {
            let state = flag.state(FlagKind::Release);
            (name, state)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::values::DesiredFlag;
    use crate::flags::{WriteStep, step_target};

    const SAMPLE: &str = "# comments the user wrote\nflags:\n  new_checkout:          # trailing comments too\n    enabled: true\n    rollout: 0.25\n    userGroups: [beta-testers]\n    kind: release\n  other_flag: {enabled: false, rollout: 0.0, userGroups: []}\n";

    fn state(enabled: bool, rollout: f64, groups: &[&str]) -> FlagState {
        FlagState {
            enabled,
            rollout,
            groups: groups.iter().map(|g| g.to_string()).collect(),
            kind: FlagKind::Release,
        }
    }

    fn edit(text: &str, flag: &str, target: &FlagState) -> Result<String, FlagError> {
        let current =
            YamlFlags.read_flag(Path::new("flags.yaml"), text, flag, FlagKind::Release)?;
        YamlFlags.edit(
            Path::new("flags.yaml"),
            text,
            flag,
            current.as_ref(),
            target,
        )
    }

    #[test]
    fn parses_the_reference_shape_in_order() {
        let flags = parse_flags(Path::new("f.yaml"), SAMPLE).unwrap();
        let names: Vec<&str> = flags.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["new_checkout", "other_flag"]);
        assert_eq!(
            flags[0].1.state(FlagKind::Ops),
            state(true, 0.25, &["beta-testers"])
        );
        assert_eq!(flags[1].1.kind, None);
        assert_eq!(flags[1].1.state(FlagKind::Ops).kind, FlagKind::Ops);
    }

    #[test]
    fn rollout_out_of_range_names_its_place() {
        let text = "flags:\n  a:\n    rollout: 1.5\n";
        let err = parse_flags(Path::new("f.yaml"), text).unwrap_err();
        let shown = err.to_string();
        assert!(shown.starts_with("f.yaml:3:14: rollout 1.5"), "{shown}");
        let err = parse_flags(Path::new("f.yaml"), "flags: {a: {rollout: .nan}}").unwrap_err();
        assert!(err.to_string().starts_with("f.yaml:1:22:"), "{err}");
    }

    #[test]
    fn typos_are_caught_with_a_suggestion() {
        let err =
            parse_flags(Path::new("f.yaml"), "flags:\n  a:\n    enabeld: true\n").unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.starts_with("f.yaml:3:5: unknown key `enabeld`"),
            "{shown}"
        );
        assert!(shown.contains("did you mean `enabled`?"), "{shown}");
        let err = parse_flags(Path::new("f.yaml"), "flags:\n  a: {user_groups: []}\n").unwrap_err();
        assert!(err.to_string().contains("`userGroups`"), "{err}");
        let err = parse_flags(Path::new("f.yaml"), "flag:\n  a: {}\n").unwrap_err();
        assert!(err.to_string().contains("did you mean `flags`?"), "{err}");
        let err = parse_flags(Path::new("f.yaml"), "flags: {a: {kind: relase}}\n").unwrap_err();
        assert!(err.to_string().contains("did you mean `release`?"), "{err}");
        // Keys nowhere near a known one are the user's own and are kept.
        let own = "owner: me\nflags: {a: {description: x, id: 7, tags: [t]}}\n";
        assert!(parse_flags(Path::new("f.yaml"), own).is_ok());
        assert_eq!(suggest::closest("kidn", FLAG_KEYS), Some("kind"));
        assert_eq!(suggest::closest("Enabled", FLAG_KEYS), Some("enabled"));
    }

    #[test]
    fn an_alias_bomb_is_refused_with_a_located_error() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let prev = vec![format!("*a{}", i - 1); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{prev}]\n"));
        }
        text.push_str("flags:\n  f: {enabled: true, rollout: 0.5, userGroups: *a8}\n");
        match parse_flags(Path::new("f.yaml"), &text) {
            Err(FlagError::Invalid {
                line,
                message,
                hint,
                ..
            }) => {
                assert!(line >= 1, "{message}");
                assert!(message.contains("100000 values"), "{message}");
                assert!(hint.contains("aliases"), "{hint}");
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn syntax_errors_are_located_and_explained() {
        for (text, at, hint) in [
            ("flags: {a: {enabled: 3}}", (1, 22), "true or false"),
            ("flags:\n  a: {userGroups: beta}\n", (2, 19), "as a list"),
            ("flags: {a: {}, a: {}}", (1, 16), "remove one"),
            (
                "flags: {a: {}}\n---\nflags: {}\n",
                (3, 1),
                "single document",
            ),
            ("flags: {a: {enabled: true}\n", (1, 8), "flags:"),
        ] {
            match parse_flags(Path::new("f.yaml"), text) {
                Err(FlagError::Invalid {
                    line,
                    column,
                    hint: h,
                    message,
                    ..
                }) => {
                    assert_eq!((line, column), at, "{text:?}: {message}");
                    assert!(h.contains(hint), "{text:?}: {h}");
                    assert!(!message.contains("Options"), "{message}");
                }
                other => panic!("{text:?}: expected Invalid, got {other:?}"),
            }
        }
    }

    #[test]
    fn edits_only_the_values_that_change() {
        let out = edit(SAMPLE, "new_checkout", &state(true, 0.5, &["beta-testers"])).unwrap();
        assert_eq!(out, SAMPLE.replace("rollout: 0.25", "rollout: 0.5"));
        let out = edit(
            SAMPLE,
            "other_flag",
            &state(true, 0.05, &["internal", "qa team"]),
        )
        .unwrap();
        assert_eq!(
            out,
            SAMPLE.replace(
                "{enabled: false, rollout: 0.0, userGroups: []}",
                "{enabled: true, rollout: 0.05, userGroups: [internal, \"qa team\"]}"
            )
        );
    }

    #[test]
    fn disable_step_leaves_rollout_and_groups() {
        let current = YamlFlags
            .read_flag(
                Path::new("f.yaml"),
                SAMPLE,
                "new_checkout",
                FlagKind::Release,
            )
            .unwrap();
        let desired = DesiredFlag {
            enabled: false,
            percent: 0,
            groups: vec![],
        };
        let first = step_target(
            WriteStep::DisableOnly,
            &desired,
            current.as_ref(),
            FlagKind::Release,
        );
        let out = edit(SAMPLE, "new_checkout", &first).unwrap();
        assert_eq!(
            out,
            SAMPLE.replace("    enabled: true", "    enabled: false")
        );
        let second = step_target(WriteStep::Apply, &desired, Some(&first), FlagKind::Release);
        let out = edit(&out, "new_checkout", &second).unwrap();
        assert_eq!(
            out,
            SAMPLE
                .replace("    enabled: true", "    enabled: false")
                .replace("rollout: 0.25", "rollout: 0.0")
                .replace("userGroups: [beta-testers]", "userGroups: []")
        );
    }

    #[test]
    fn unmanaged_structure_ignores_only_managed_keys() {
        let a = unmanaged_structure(SAMPLE, "new_checkout").unwrap();
        let b = unmanaged_structure(&SAMPLE.replace("0.25", "0.5"), "new_checkout").unwrap();
        assert_eq!(a, b);
        let c = unmanaged_structure(
            &SAMPLE.replace("rollout: 0.0", "rollout: 0.1"),
            "new_checkout",
        )
        .unwrap();
        assert_ne!(a, c);
        // A missing flags key, a null one and an empty one are the same nothing.
        let empty = unmanaged_structure("", "x").unwrap();
        assert_eq!(empty, unmanaged_structure("flags:\n", "x").unwrap());
        assert_eq!(
            empty,
            unmanaged_structure("flags: {x: {enabled: true}}", "x").unwrap()
        );
    }
}
