//! flags::unleash: a flag in Unleash, through its Admin API. Owns the HTTP calls and the
//! mapping between the reference flag shape and Unleash strategies in one environment:
//! the rollout is one `flexibleRollout` strategy without constraints, the user groups a
//! second one at 100% constrained to `groups IN [...]`, and `enabled` is the
//! environment's kill switch. Never decides what the flag should be, never shows the
//! token (not in Debug, not in any message), and never sends a percent outside 0..=100.
//!
//! `api` makes the calls, `strategies` maps the flag to and from strategies, `write`
//! makes a change; this module holds the backend, its reads and `flags eval`'s view.

mod api;
mod strategies;
mod write;

use futures::future::BoxFuture;

use crate::metrics::Secret;
use crate::plan::FlagKind;

use super::bucket::{Evaluation, evaluate};
use super::{DesiredFlag, FlagBackend, FlagError, FlagState};
use api::Api;
use strategies::{Feature, Strategies, kind_of};

/// One flag in one Unleash project and environment, as a [`FlagBackend`].
#[derive(Debug)]
pub struct UnleashBackend {
    api: Api,
    flag: String,
    kind: FlagKind,
    create: bool,
    /// The flag as this backend last read it or read it back.
    last: Option<FlagState>,
}

/// The flag as Unleash holds it, with what `flags eval` needs to bucket users as
/// Unleash's SDKs do.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UnleashFlag {
    pub state: FlagState,
    /// The rollout strategy's `groupId`: Unleash buckets `"<groupId>:<userId>"`.
    pub(crate) group_id: String,
    /// The rollout strategy's `stickiness`; `default` and `userId` bucket by user id.
    pub stickiness: String,
}

impl UnleashFlag {
    /// Would `user` (in `groups`) get the flag? Unleash's bucketing over the strategy's
    /// groupId. Unleash compares one `groups` context value with the groups strategy;
    /// a user given several groups is in when any of them is listed.
    pub fn evaluate(&self, flag: &str, user: &str, groups: &[String]) -> Evaluation {
        let mut eval = evaluate(&self.group_id, Some(&self.state), user, groups);
        eval.flag = flag.to_string();
        if !matches!(self.stickiness.as_str(), "default" | "userId") {
            eval.note = Some(format!(
                "the strategy is sticky on `{}`, so Unleash buckets by that field, not the \
                 user id",
                self.stickiness
            ));
        }
        eval
    }
}

impl UnleashBackend {
    /// The flag `flag` in `project`/`environment` of the Unleash at `url` (its base, with
    /// or without the `/api` suffix SDKs are given). A flag shipdeck creates gets `kind`.
    pub fn new(
        url: &str,
        token: Secret,
        project: &str,
        environment: &str,
        flag: String,
        kind: FlagKind,
    ) -> Result<UnleashBackend, FlagError> {
        Ok(UnleashBackend {
            api: Api::new(url, token, project, environment)?,
            flag,
            kind,
            create: false,
            last: None,
        })
    }

    /// As [`UnleashBackend::new`], with the token read now from the environment variable
    /// `token_env`; a missing or empty variable is an error naming it.
    pub fn from_env(
        url: &str,
        token_env: &str,
        project: &str,
        environment: &str,
        flag: String,
        kind: FlagKind,
    ) -> Result<UnleashBackend, FlagError> {
        let problem = match std::env::var(token_env) {
            Ok(value) if !value.trim().is_empty() => {
                let token = Secret::new(token_env, value.trim());
                return UnleashBackend::new(url, token, project, environment, flag, kind);
            }
            Ok(_) => "is empty",
            Err(std::env::VarError::NotPresent) => "is not set",
            Err(std::env::VarError::NotUnicode(_)) => "is not valid text",
        };
        Err(FlagError::Unleash {
            url: url.trim().to_string(),
            message: format!(
                "the environment variable `{token_env}` (flag.backend.token_env) {problem}"
            ),
            hint: format!(
                "export an Unleash admin API token or personal access token in `{token_env}`"
            ),
        })
    }

    /// Lets the backend create what is missing: the flag (with the plan's kind) and its
    /// rollout strategy. Without it, a missing one is an error saying how to create it.
    pub fn creating(mut self, create: bool) -> UnleashBackend {
        self.create = create;
        self
    }

    pub fn flag(&self) -> &str {
        &self.flag
    }

    /// The flag, its strategies sorted; `None` when the flag does not exist.
    async fn load(&self) -> Result<Option<(Feature, Strategies)>, FlagError> {
        let Some(mut feature) = self.api.fetch_feature(&self.flag).await? else {
            if let Some(error) = self.api.missing_project().await? {
                return Err(error);
            }
            return Ok(None);
        };
        let Some(at) = feature
            .environments
            .iter()
            .position(|e| e.name == self.api.environment)
        else {
            return Err(self.api.missing_environment(&self.flag).await);
        };
        let env = feature.environments.swap_remove(at);
        let strategies = Strategies::sort(&env).map_err(|reason| self.unmanaged(reason))?;
        feature.environments = vec![env];
        Ok(Some((feature, strategies)))
    }

    fn unmanaged(&self, reason: String) -> FlagError {
        self.api.error(
            format!(
                "flag `{}` in {}/{}: {reason}",
                self.flag, self.api.project, self.api.environment
            ),
            "remove or disable the other strategies in Unleash, or give this release its own flag",
        )
    }

    fn state_of(&self, feature: &Feature, strategies: &Strategies) -> Result<FlagState, FlagError> {
        strategies
            .state(kind_of(feature.kind.as_deref(), self.kind))
            .map_err(|reason| self.unmanaged(reason))
    }

    /// The flag as Unleash holds it, with its bucketing parameters, for `flags eval` and
    /// `flags list`. `None` when the flag does not exist.
    pub(crate) async fn inspect(&mut self) -> Result<Option<UnleashFlag>, FlagError> {
        let Some((feature, strategies)) = self.load().await? else {
            return Ok(None);
        };
        let state = self.state_of(&feature, &strategies)?;
        let rollout = strategies.rollout.as_ref();
        Ok(Some(UnleashFlag {
            state,
            group_id: rollout
                .and_then(|s| s.parameter("groupId"))
                .unwrap_or_else(|| self.flag.clone()),
            stickiness: rollout
                .and_then(|s| s.parameter("stickiness"))
                .unwrap_or_else(|| "default".into()),
        }))
    }

    async fn read_state(&mut self) -> Result<Option<FlagState>, FlagError> {
        let state = match self.load().await? {
            Some((feature, strategies)) => Some(self.state_of(&feature, &strategies)?),
            None => None,
        };
        self.last = state.clone();
        Ok(state)
    }
}

impl FlagBackend for UnleashBackend {
    fn describe(&self) -> String {
        format!(
            "unleash {} project {} env {}",
            self.api.shown, self.api.project, self.api.environment
        )
    }

    fn read(&mut self) -> BoxFuture<'_, Result<Option<FlagState>, FlagError>> {
        Box::pin(self.read_state())
    }

    fn write<'a>(
        &'a mut self,
        desired: &'a DesiredFlag,
    ) -> BoxFuture<'a, Result<FlagState, FlagError>> {
        Box::pin(self.write_state(desired))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(url: &str) -> UnleashBackend {
        UnleashBackend::new(
            url,
            Secret::new("UNLEASH_TOKEN", "*:*.very-secret-token"),
            "default",
            "development",
            "new_checkout".into(),
            FlagKind::Release,
        )
        .unwrap()
    }

    #[test]
    fn the_token_never_shows_in_debug() {
        let shown = format!("{:?}", backend("http://127.0.0.1:4242"));
        assert!(!shown.contains("very-secret-token"), "{shown}");
        assert!(shown.contains("Secret(***)"), "{shown}");
    }

    #[test]
    fn bad_urls_and_missing_tokens_name_the_setting() {
        let err = UnleashBackend::new(
            "ftp://x",
            Secret::new("T", "v"),
            "p",
            "e",
            "f".into(),
            FlagKind::Release,
        )
        .unwrap_err();
        assert!(err.to_string().contains("flag.backend.url"), "{err}");
        let err = UnleashBackend::from_env(
            "http://127.0.0.1:1",
            "SHIPDECK_TEST_SURELY_UNSET_TOKEN",
            "p",
            "e",
            "f".into(),
            FlagKind::Release,
        )
        .unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.contains("`SHIPDECK_TEST_SURELY_UNSET_TOKEN`"),
            "{shown}"
        );
        assert!(shown.contains("is not set"), "{shown}");
    }

    #[test]
    fn evaluation_buckets_over_the_group_id() {
        let flag = UnleashFlag {
            state: FlagState {
                enabled: true,
                rollout: 0.73,
                groups: vec![],
                kind: FlagKind::Release,
            },
            group_id: "gr1".into(),
            stickiness: "default".into(),
        };
        // gr1:123 is bucket 73.
        let e = flag.evaluate("new_checkout", "123", &[]);
        assert_eq!(e.flag, "new_checkout");
        assert_eq!(e.bucket, 73);
        assert!(e.enabled);
        let custom = UnleashFlag {
            stickiness: "tenantId".into(),
            ..flag
        };
        assert!(custom.evaluate("f", "123", &[]).why().contains("tenantId"));
    }

    #[tokio::test]
    async fn an_unreachable_server_says_where_and_what_to_do() {
        // A port nothing listens on: bind, note it, let it go.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut b = backend(&format!("http://127.0.0.1:{port}"));
        let err = b.read().await.unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.starts_with(&format!("unleash http://127.0.0.1:{port}: GET ")),
            "{shown}"
        );
        assert!(shown.contains("check that Unleash is running"), "{shown}");
        assert!(!shown.contains("very-secret-token"), "{shown}");
    }

    #[tokio::test]
    async fn percent_above_100_is_refused_before_anything_is_sent() {
        let mut b = backend("http://127.0.0.1:9");
        let err = b
            .write(&DesiredFlag {
                enabled: true,
                percent: 150,
                groups: vec![],
            })
            .await
            .unwrap_err();
        assert!(
            matches!(err, FlagError::Percent { percent: 150, .. }),
            "{err:?}"
        );
    }
}
