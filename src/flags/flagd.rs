//! flags::flagd: the flagd flag-definition file backend. Owns turning a flag state into
//! flagd's JSON (state, on/off variants, JsonLogic targeting with `fractional`) and back;
//! never touches the other flags or keys of the file, and never writes JSON that does not
//! read back as intended.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::plan::FlagKind;

use super::disk::{DiskBackend, FlagFile, not_as_intended, parse_kind};
use super::{FlagError, FlagState};

const SCHEMA: &str = "https://flagd.dev/schema/v0/flags.json";

const SHAPE_HINT: &str = "shipdeck manages flags shaped `{\"state\": \"ENABLED\", \"variants\": \
                          {\"on\": true, \"off\": false}, \"defaultVariant\": \"off\", \
                          \"targeting\": {\"fractional\": [[\"on\", 25], [\"off\", 75]]}}`; \
                          remove the flag to let shipdeck create it";

/// The targeting shipdeck writes: group members first, then a `fractional` split keyed
/// by flagd's default bucketing key (flag key + targeting key).
fn targeting(percent: u8, groups: &[String]) -> Value {
    let split = json!({"fractional": [["on", percent], ["off", 100 - percent]]});
    if groups.is_empty() {
        return split;
    }
    let mut branches = Vec::new();
    for group in groups {
        branches.push(json!({"in": [group, {"var": "groups"}]}));
        branches.push(json!("on"));
    }
    branches.push(split);
    json!({ "if": branches })
}

/// The share of users a `fractional` rule sends to `on`, when the rule is one shipdeck can read.
fn fractional_share(rule: &Value) -> Option<f64> {
    let args = rule
        .as_object()
        .filter(|o| o.len() == 1)?
        .get("fractional")?
        .as_array()?;
    let mut on = 0u64;
    let mut total = 0u64;
    for arg in args {
        // A leading non-array argument is a bucketing-key expression; it does not change shares.
        let Some(pair) = arg.as_array() else {
            continue;
        };
        let (variant, weight) = match pair.as_slice() {
            [variant, weight] => (variant.as_str()?, weight.as_u64()?),
            [variant] => (variant.as_str()?, 1),
            _ => return None,
        };
        total += weight;
        match variant {
            "on" => on += weight,
            "off" => {}
            _ => return None,
        }
    }
    (total > 0).then(|| on as f64 / total as f64)
}

/// The else branch of the targeting: a split, or a fixed variant.
fn fallback_share(rule: &Value) -> Option<f64> {
    match rule.as_str() {
        Some("on") => Some(1.0),
        Some("off") => Some(0.0),
        _ => fractional_share(rule),
    }
}

/// `(rollout, groups)` from targeting shipdeck wrote (or an equivalent hand-written one).
fn read_targeting(rule: &Value) -> Option<(f64, Vec<String>)> {
    if let Some(share) = fallback_share(rule) {
        return Some((share, Vec::new()));
    }
    let branches = rule
        .as_object()
        .filter(|o| o.len() == 1)?
        .get("if")?
        .as_array()?;
    let (last, conditions) = branches.split_last()?;
    if conditions.len() % 2 != 0 {
        return None;
    }
    let mut groups = Vec::new();
    for pair in conditions.chunks(2) {
        if pair[1].as_str() != Some("on") {
            return None;
        }
        let test = pair[0]
            .as_object()
            .filter(|o| o.len() == 1)?
            .get("in")?
            .as_array()?;
        match test.as_slice() {
            [Value::String(group), var] if *var == json!({"var": "groups"}) => {
                groups.push(group.clone());
            }
            _ => return None,
        }
    }
    Some((fallback_share(last)?, groups))
}

/// The flagd flag definition format.
pub struct FlagdFlags;

impl FlagdFlags {
    fn shape(path: &Path, at: String, message: &str) -> FlagError {
        FlagError::Shape {
            path: path.to_path_buf(),
            at,
            message: message.to_string(),
            hint: SHAPE_HINT.to_string(),
        }
    }

    /// The whole document; an empty file is an empty definition.
    fn parse(path: &Path, text: &str) -> Result<Map<String, Value>, FlagError> {
        if text.trim().is_empty() {
            return Ok(Map::new());
        }
        let value: Value = serde_json::from_str(text).map_err(|error| FlagError::Invalid {
            path: path.to_path_buf(),
            line: error.line() as u64,
            column: error.column() as u64,
            message: crate::support::jsonl::error_text(&error),
            hint: "fix the JSON; a flagd file looks like {\"flags\": {\"name\": {...}}}"
                .to_string(),
        })?;
        match value {
            Value::Object(root) => {
                if !matches!(root.get("flags"), None | Some(Value::Object(_))) {
                    return Err(Self::shape(path, "flags".into(), "is not an object"));
                }
                Ok(root)
            }
            _ => Err(Self::shape(path, "(top level)".into(), "is not an object")),
        }
    }

    fn decode(
        path: &Path,
        flag: &str,
        entry: &Value,
        kind: FlagKind,
    ) -> Result<FlagState, FlagError> {
        let at = |key: &str| format!("flags.{flag}{key}");
        let entry = entry
            .as_object()
            .ok_or_else(|| Self::shape(path, at(""), "is not an object"))?;
        let enabled = match entry.get("state").and_then(Value::as_str) {
            Some("ENABLED") => true,
            Some("DISABLED") => false,
            _ => {
                return Err(Self::shape(
                    path,
                    at(".state"),
                    "must be \"ENABLED\" or \"DISABLED\"",
                ));
            }
        };
        let kind = entry
            .get("metadata")
            .and_then(|m| m.get("kind"))
            .and_then(Value::as_str)
            .and_then(parse_kind)
            .unwrap_or(kind);
        let variants = entry.get("variants").and_then(Value::as_object);
        let on_is_true = variants.and_then(|v| v.get("on")) == Some(&Value::Bool(true))
            && variants.and_then(|v| v.get("off")) == Some(&Value::Bool(false));
        let targeting = entry
            .get("targeting")
            .filter(|t| !matches!(t, Value::Null) && t.as_object().is_none_or(|o| !o.is_empty()));
        let (rollout, groups) = match targeting {
            // No targeting: everyone gets the default variant.
            None => {
                let default = entry.get("defaultVariant").and_then(Value::as_str);
                match default.and_then(|d| variants.and_then(|v| v.get(d))) {
                    Some(Value::Bool(true)) => (1.0, Vec::new()),
                    Some(Value::Bool(false)) => (0.0, Vec::new()),
                    _ => {
                        return Err(Self::shape(
                            path,
                            at(".defaultVariant"),
                            "does not name a boolean variant",
                        ));
                    }
                }
            }
            Some(rule) if on_is_true => read_targeting(rule).ok_or_else(|| {
                Self::shape(path, at(".targeting"), "is not a rollout shipdeck can read")
            })?,
            Some(_) => {
                return Err(Self::shape(
                    path,
                    at(".variants"),
                    "must be {\"on\": true, \"off\": false} for targeting shipdeck reads",
                ));
            }
        };
        Ok(FlagState {
            enabled,
            rollout,
            groups,
            kind,
        })
    }

    /// The document without `flag`, for checking that an edit changed nothing else.
    fn without(mut root: Map<String, Value>, flag: &str) -> Map<String, Value> {
        if let Some(Value::Object(flags)) = root.get_mut("flags") {
            flags.shift_remove(flag);
        }
        root
    }
}

impl FlagFile for FlagdFlags {
    const LABEL: &'static str = "flagd";

    fn create_hint(&self, path: &Path) -> String {
        format!(
            "create it beside the plan (`echo '{{\"flags\": {{}}}}' > {}`) or fix \
             flag.backend.path in the plan",
            path.display()
        )
    }

    fn read_flag(
        &self,
        path: &Path,
        text: &str,
        flag: &str,
        kind: FlagKind,
    ) -> Result<Option<FlagState>, FlagError> {
        let root = Self::parse(path, text)?;
        match root.get("flags").and_then(|flags| flags.get(flag)) {
            Some(entry) => Ok(Some(Self::decode(path, flag, entry, kind)?)),
            None => Ok(None),
        }
    }

    fn edit(
        &self,
        path: &Path,
        text: &str,
        flag: &str,
        current: Option<&FlagState>,
        target: &FlagState,
    ) -> Result<String, FlagError> {
        let before = Self::parse(path, text)?;
        let mut root = before.clone();
        if root.is_empty() {
            root.insert("$schema".into(), Value::String(SCHEMA.into()));
        }
        let flags = root
            .entry("flags")
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(flags) = flags else {
            return Err(Self::shape(path, "flags".into(), "is not an object"));
        };
        let entry = flags
            .entry(flag)
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(entry) = entry else {
            return Err(Self::shape(
                path,
                format!("flags.{flag}"),
                "is not an object",
            ));
        };
        let state = if target.enabled {
            "ENABLED"
        } else {
            "DISABLED"
        };
        entry.insert("state".into(), json!(state));
        let only_state_changes = current.is_some_and(|c| {
            FlagState {
                enabled: target.enabled,
                ..c.clone()
            }
            .same_as(target)
        });
        if !only_state_changes {
            entry.insert("variants".into(), json!({"on": true, "off": false}));
            entry.insert("defaultVariant".into(), json!("off"));
            entry.insert(
                "targeting".into(),
                targeting(target.percent(), &target.groups),
            );
            if current.is_none() {
                entry.insert("metadata".into(), json!({"kind": target.kind.name()}));
            }
        }
        let mut edited = serde_json::to_string_pretty(&Value::Object(root)).map_err(|error| {
            FlagError::Other(format!("cannot render {}: {error}", path.display()))
        })?;
        edited.push('\n');

        let verify = |detail: String| not_as_intended(path, flag, detail);
        let reread = Self::parse(path, &edited).map_err(|e| verify(e.to_string()))?;
        let state = reread
            .get("flags")
            .and_then(|flags| flags.get(flag))
            .map(|entry| Self::decode(path, flag, entry, target.kind))
            .transpose()
            .map_err(|e| verify(e.to_string()))?;
        if !state.as_ref().is_some_and(|s| s.same_as(target)) {
            return Err(verify(format!("it would read back as {state:?}")));
        }
        let mut unchanged = Self::without(before, flag);
        unchanged.shift_remove("$schema");
        let mut now = Self::without(reread, flag);
        now.shift_remove("$schema");
        let empty_flags = |m: &mut Map<String, Value>| {
            if m.get("flags")
                .is_some_and(|f| f.as_object().is_some_and(Map::is_empty))
            {
                m.shift_remove("flags");
            }
        };
        empty_flags(&mut unchanged);
        empty_flags(&mut now);
        if unchanged != now {
            return Err(verify("other flags or keys would change".to_string()));
        }
        Ok(edited)
    }
}

/// A flagd flag-definition file (the one a running flagd watches) as a
/// [`FlagBackend`](super::FlagBackend).
/// The names of every flag in the flagd definition at `path`, in file order.
pub(crate) fn flag_names(path: &Path) -> Result<Vec<String>, FlagError> {
    let text = super::disk::read_text(path, &FlagdFlags.create_hint(path))?;
    let root = FlagdFlags::parse(path, &text)?;
    Ok(match root.get("flags") {
        Some(Value::Object(flags)) => flags.keys().cloned().collect(),
        _ => Vec::new(),
    })
}

pub type FlagdBackend = DiskBackend<FlagdFlags>;

impl FlagdBackend {
    /// The flag `flag` in the flagd definition at `path`. The kind comes from the flag's
    /// `metadata.kind` when it has one; shipdeck records `release` on flags it creates
    /// unless told otherwise with [`FlagdBackend::with_kind`].
    pub fn new(path: PathBuf, flag: String) -> FlagdBackend {
        FlagdBackend::with_kind(path, flag, FlagKind::Release)
    }

    /// As [`FlagdBackend::new`], recording `kind` on a flag it creates.
    pub fn with_kind(path: PathBuf, flag: String, kind: FlagKind) -> FlagdBackend {
        DiskBackend::open(FlagdFlags, path, flag, kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(enabled: bool, rollout: f64, groups: &[&str]) -> FlagState {
        FlagState {
            enabled,
            rollout,
            groups: groups.iter().map(|g| g.to_string()).collect(),
            kind: FlagKind::Release,
        }
    }

    #[test]
    fn targeting_round_trips() {
        for (percent, groups) in [
            (0u8, vec![]),
            (25, vec!["beta-testers".to_string()]),
            (100, vec!["a".into(), "b".into()]),
        ] {
            let rule = targeting(percent, &groups);
            let (rollout, read_groups) = read_targeting(&rule).unwrap();
            assert_eq!(rollout, f64::from(percent) / 100.0);
            assert_eq!(read_groups, groups);
        }
    }

    #[test]
    fn targeting_has_flagds_shape() {
        let rule = targeting(25, &["beta-testers".to_string()]);
        assert_eq!(
            rule,
            json!({"if": [
                {"in": ["beta-testers", {"var": "groups"}]}, "on",
                {"fractional": [["on", 25], ["off", 75]]}
            ]})
        );
    }

    #[test]
    fn reads_hand_written_equivalents() {
        let with_key = json!({"fractional": [{"cat": [{"var": "$flagd.flagKey"}, {"var": "targetingKey"}]}, ["on", 1], ["off", 3]]});
        assert_eq!(read_targeting(&with_key), Some((0.25, vec![])));
        assert_eq!(
            read_targeting(&json!({"if": [{"in": ["g", {"var": "groups"}]}, "on", "off"]})),
            Some((0.0, vec!["g".to_string()]))
        );
        assert_eq!(
            read_targeting(&json!({"if": [{"==": [1, 1]}, "on", "off"]})),
            None
        );
        assert_eq!(
            read_targeting(&json!({"fractional": [["blue", 50], ["green", 50]]})),
            None
        );
    }

    #[test]
    fn no_targeting_means_the_default_variant() {
        let entry = json!({"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "on"});
        let s = FlagdFlags::decode(Path::new("f.json"), "f", &entry, FlagKind::Ops).unwrap();
        assert_eq!(
            s,
            FlagState {
                kind: FlagKind::Ops,
                ..state(true, 1.0, &[])
            }
        );
        let entry = json!({"state": "ENABLED", "variants": {"a": "x"}, "defaultVariant": "a"});
        let err = FlagdFlags::decode(Path::new("f.json"), "f", &entry, FlagKind::Ops).unwrap_err();
        assert!(err.to_string().contains("flags.f.defaultVariant"), "{err}");
    }

    #[test]
    fn disable_only_touches_state() {
        let text = r#"{"flags": {"f": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "on"}}}"#;
        let current = FlagdFlags
            .read_flag(Path::new("f.json"), text, "f", FlagKind::Release)
            .unwrap();
        assert_eq!(current, Some(state(true, 1.0, &[])));
        let out = FlagdFlags
            .edit(
                Path::new("f.json"),
                text,
                "f",
                current.as_ref(),
                &state(false, 1.0, &[]),
            )
            .unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v["flags"]["f"],
            json!({"state": "DISABLED", "variants": {"on": true, "off": false}, "defaultVariant": "on"})
        );
    }

    #[test]
    fn invalid_json_is_located() {
        let err = FlagdFlags
            .read_flag(
                Path::new("f.json"),
                "{\n  \"flags\": {,}\n}",
                "f",
                FlagKind::Release,
            )
            .unwrap_err();
        let shown = err.to_string();
        assert!(shown.starts_with("f.json:2:13: "), "{shown}");
        assert!(!shown.contains(" at line "), "{shown}");
    }
}
