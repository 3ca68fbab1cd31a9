//! flags::unleash::strategies: the reference flag shape in Unleash's terms. Owns the
//! Admin API's feature and strategy bodies, sorting one environment's strategies into the
//! two shipdeck manages (a `flexibleRollout` without constraints for the rollout, one at
//! 100% constrained to `groups IN [...]` for the groups), the state they add up to, and
//! flag kinds as Unleash flag types; never calls Unleash.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::engine::values::FlagState;
use crate::plan::FlagKind;

/// Unleash's gradual rollout strategy.
const FLEXIBLE: &str = "flexibleRollout";
/// The context field the groups strategy constrains; apps put the user's group in it.
pub(crate) const GROUPS_FIELD: &str = "groups";
const ROLLOUT_TITLE: &str = "shipdeck rollout";
const GROUPS_TITLE: &str = "shipdeck groups";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(super) struct Constraint {
    context_name: String,
    operator: String,
    #[serde(default)]
    pub(super) values: Vec<String>,
    #[serde(default)]
    inverted: bool,
    #[serde(default)]
    case_insensitive: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Strategy {
    #[serde(default, skip_serializing)]
    pub(super) id: Option<String>,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(default)]
    pub(super) constraints: Vec<Constraint>,
    #[serde(default)]
    parameters: Map<String, Value>,
    #[serde(default)]
    segments: Vec<Value>,
    #[serde(default)]
    disabled: Option<bool>,
}

impl Strategy {
    fn label(&self) -> String {
        match &self.title {
            Some(title) if !title.is_empty() => format!("`{}` ({title})", self.name),
            _ => format!("`{}`", self.name),
        }
    }

    pub(super) fn parameter(&self, key: &str) -> Option<String> {
        match self.parameters.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// The rollout percent, when it is a number Unleash would honour as written.
    pub(super) fn percent(&self) -> Result<f64, String> {
        let text = self.parameter("rollout").unwrap_or_else(|| "100".into());
        match text.trim().parse::<f64>() {
            Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
            _ => Err(format!(
                "strategy {} has rollout `{text}`, outside 0..=100",
                self.label()
            )),
        }
    }

    pub(super) fn rollout(
        flag: &str,
        percent: u8,
        group_id: Option<String>,
        stickiness: Option<String>,
    ) -> Strategy {
        let mut parameters = Map::new();
        parameters.insert("rollout".into(), Value::String(percent.to_string()));
        parameters.insert(
            "stickiness".into(),
            Value::String(stickiness.unwrap_or_else(|| "default".into())),
        );
        parameters.insert(
            "groupId".into(),
            Value::String(group_id.unwrap_or_else(|| flag.to_string())),
        );
        Strategy {
            id: None,
            name: FLEXIBLE.into(),
            title: Some(ROLLOUT_TITLE.into()),
            constraints: Vec::new(),
            parameters,
            segments: Vec::new(),
            disabled: Some(false),
        }
    }

    /// The strategy as the Admin API takes it in a request body.
    pub(super) fn body(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    pub(super) fn groups(flag: &str, groups: &[String]) -> Strategy {
        Strategy {
            title: Some(GROUPS_TITLE.into()),
            constraints: vec![Constraint {
                context_name: GROUPS_FIELD.into(),
                operator: "IN".into(),
                values: groups.to_vec(),
                inverted: false,
                case_insensitive: false,
            }],
            ..Strategy::rollout(flag, 100, None, None)
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct Feature {
    #[serde(rename = "type", default)]
    pub(super) kind: Option<String>,
    #[serde(default)]
    pub(super) environments: Vec<FeatureEnvironment>,
}

#[derive(Debug, Deserialize)]
pub(super) struct FeatureEnvironment {
    pub(super) name: String,
    #[serde(default)]
    enabled: bool,
    #[serde(default)]
    strategies: Vec<Strategy>,
}

/// The strategies of one environment, sorted into the two shipdeck manages.
#[derive(Debug)]
pub(super) struct Strategies {
    pub(super) enabled: bool,
    pub(super) rollout: Option<Strategy>,
    pub(super) groups: Option<Strategy>,
    /// Enabled with no strategy at all: Unleash's SDKs give it to everyone.
    bare: bool,
}

impl Strategies {
    pub(super) fn sort(env: &FeatureEnvironment) -> Result<Strategies, String> {
        let mut out = Strategies {
            enabled: env.enabled,
            rollout: None,
            groups: None,
            bare: env.strategies.is_empty(),
        };
        for s in env.strategies.iter().filter(|s| s.disabled != Some(true)) {
            let is_groups = s.constraints.len() == 1
                && s.constraints[0].context_name == GROUPS_FIELD
                && s.constraints[0].operator == "IN"
                && !s.constraints[0].inverted;
            let slot = match () {
                _ if s.name != FLEXIBLE || !s.segments.is_empty() => None,
                _ if s.constraints.is_empty() => Some(&mut out.rollout),
                _ if is_groups && s.percent() == Ok(100.0) => Some(&mut out.groups),
                _ => None,
            };
            match slot {
                Some(slot @ None) => *slot = Some(s.clone()),
                Some(Some(first)) => {
                    return Err(format!(
                        "strategies {} and {} both apply to everyone they match; shipdeck \
                         cannot tell which one is the rollout",
                        first.label(),
                        s.label()
                    ));
                }
                None => {
                    return Err(format!(
                        "strategy {} is not one shipdeck manages (a gradual rollout without \
                         constraints, and one at 100% constrained to `{GROUPS_FIELD} IN`)",
                        s.label()
                    ));
                }
            }
        }
        Ok(out)
    }

    pub(super) fn state(&self, kind: FlagKind) -> Result<FlagState, String> {
        let rollout = match &self.rollout {
            Some(s) => s.percent()? / 100.0,
            None if self.bare => 1.0,
            None => 0.0,
        };
        let groups = self
            .groups
            .as_ref()
            .map(|s| s.constraints[0].values.clone())
            .unwrap_or_default();
        Ok(FlagState {
            enabled: self.enabled,
            rollout,
            groups,
            kind,
        })
    }
}

pub(super) fn kind_of(unleash_type: Option<&str>, fallback: FlagKind) -> FlagKind {
    match unleash_type {
        Some("release") => FlagKind::Release,
        Some("experiment") => FlagKind::Experiment,
        Some("operational" | "kill-switch") => FlagKind::Ops,
        Some("permission") => FlagKind::Permission,
        _ => fallback,
    }
}

pub(super) fn unleash_type(kind: FlagKind) -> &'static str {
    match kind {
        FlagKind::Release => "release",
        FlagKind::Experiment => "experiment",
        FlagKind::Ops => "operational",
        FlagKind::Permission => "permission",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn env(enabled: bool, strategies: Value) -> FeatureEnvironment {
        FeatureEnvironment {
            name: "development".into(),
            enabled,
            strategies: serde_json::from_value(strategies).unwrap(),
        }
    }

    fn rollout(percent: &str) -> Value {
        json!({"id": "r", "name": "flexibleRollout", "constraints": [],
               "parameters": {"rollout": percent, "stickiness": "default", "groupId": "new_checkout"}})
    }

    fn groups(values: &[&str]) -> Value {
        json!({"id": "g", "name": "flexibleRollout",
               "constraints": [{"contextName": "groups", "operator": "IN", "values": values}],
               "parameters": {"rollout": "100", "stickiness": "default", "groupId": "new_checkout"}})
    }

    #[test]
    fn strategies_map_to_the_reference_shape() {
        let s = Strategies::sort(&env(
            true,
            json!([rollout("25"), groups(&["internal", "beta-testers"])]),
        ))
        .unwrap();
        let state = s.state(FlagKind::Release).unwrap();
        assert!(state.enabled);
        assert_eq!(state.percent(), 25);
        assert_eq!(state.groups, ["internal", "beta-testers"]);

        // Numbers as well as strings; no rollout strategy is 0% for everyone else.
        let s = Strategies::sort(&env(false, json!([groups(&["qa"])]))).unwrap();
        assert_eq!(s.state(FlagKind::Ops).unwrap().rollout, 0.0);
        let mut numeric = rollout("0");
        numeric["parameters"]["rollout"] = json!(40);
        let s = Strategies::sort(&env(true, json!([numeric]))).unwrap();
        assert_eq!(s.state(FlagKind::Ops).unwrap().percent(), 40);

        // Enabled with no strategy at all: Unleash gives it to everyone.
        let s = Strategies::sort(&env(true, json!([]))).unwrap();
        assert_eq!(s.state(FlagKind::Ops).unwrap().rollout, 1.0);

        // A disabled strategy does not count.
        let mut off = groups(&["x"]);
        off["disabled"] = json!(true);
        let s = Strategies::sort(&env(true, json!([rollout("5"), off]))).unwrap();
        assert!(s.groups.is_none());
    }

    #[test]
    fn strategies_shipdeck_does_not_manage_are_refused_by_name() {
        let other =
            json!({"name": "userWithId", "title": "VIPs", "parameters": {"userIds": "1,2"}});
        let err = Strategies::sort(&env(true, json!([rollout("5"), other]))).unwrap_err();
        assert!(err.contains("`userWithId` (VIPs)"), "{err}");
        let err = Strategies::sort(&env(true, json!([rollout("5"), rollout("7")]))).unwrap_err();
        assert!(err.contains("cannot tell which one"), "{err}");
        // Unleash accepts 150; shipdeck will not pretend it is a percent.
        let s = Strategies::sort(&env(true, json!([rollout("150")]))).unwrap();
        let err = s.state(FlagKind::Release).unwrap_err();
        assert!(err.contains("`150`, outside 0..=100"), "{err}");
    }

    #[test]
    fn written_strategies_have_unleash_shape() {
        let body = Strategy::groups("f", &["internal".into()]).body();
        assert_eq!(
            body,
            json!({
                "name": "flexibleRollout",
                "title": "shipdeck groups",
                "constraints": [{"contextName": "groups", "operator": "IN", "values": ["internal"],
                                 "inverted": false, "caseInsensitive": false}],
                "parameters": {"rollout": "100", "stickiness": "default", "groupId": "f"},
                "segments": [],
                "disabled": false,
            })
        );
        let kept = Strategy::rollout("f", 25, Some("g".into()), Some("userId".into()));
        assert_eq!(kept.parameter("groupId").as_deref(), Some("g"));
        assert_eq!(kept.parameter("stickiness").as_deref(), Some("userId"));
        assert_eq!(kept.parameter("rollout").as_deref(), Some("25"));
    }

    #[test]
    fn kinds_follow_unleash_flag_types() {
        for kind in [
            FlagKind::Release,
            FlagKind::Experiment,
            FlagKind::Ops,
            FlagKind::Permission,
        ] {
            assert_eq!(kind_of(Some(unleash_type(kind)), FlagKind::Release), kind);
        }
        assert_eq!(
            kind_of(Some("kill-switch"), FlagKind::Release),
            FlagKind::Ops
        );
        assert_eq!(kind_of(None, FlagKind::Experiment), FlagKind::Experiment);
    }
}
