//! flags::unleash::write: the Admin API writes. Owns creating a missing flag and bringing
//! one environment's strategies and kill switch to the desired state, turning the flag off
//! before anything else changes; never writes over a flag changed outside shipdeck since
//! it last looked (a rollback excepted).

use reqwest::Method;
use serde_json::json;

use crate::engine::values::{DesiredFlag, FlagState};
use crate::flags::{FlagError, check_percent};

use super::UnleashBackend;
use super::strategies::{Strategy, unleash_type};

impl UnleashBackend {
    fn missing_strategy(&self) -> FlagError {
        self.api.error(
            format!(
                "flag `{}` has no gradual rollout strategy in {}",
                self.flag, self.api.environment
            ),
            format!(
                "add a Gradual rollout (flexibleRollout) strategy without constraints to `{}` in \
                 {}/{} in Unleash, or set `create: true` in flag.backend to let shipdeck add it",
                self.flag, self.api.project, self.api.environment
            ),
        )
    }

    async fn create_flag(&self) -> Result<(), FlagError> {
        if !self.create {
            return Err(self.api.error(
                format!(
                    "flag `{}` does not exist in project `{}`",
                    self.flag, self.api.project
                ),
                format!(
                    "create it in Unleash (a {} flag named `{}` in project {}), or set \
                     `create: true` in flag.backend to let shipdeck create it",
                    unleash_type(self.kind),
                    self.flag,
                    self.api.project
                ),
            ));
        }
        let body = json!({
            "name": self.flag,
            "type": unleash_type(self.kind),
            "description": "created by shipdeck for a progressive rollout",
        });
        self.api
            .post(
                &["api", "admin", "projects", &self.api.project, "features"],
                Some(&body),
            )
            .await
    }

    pub(super) async fn write_state(
        &mut self,
        desired: &DesiredFlag,
    ) -> Result<FlagState, FlagError> {
        check_percent(&self.flag, desired)?;
        let (feature, strategies) = match self.load().await? {
            Some(found) => found,
            // Gone since shipdeck last saw it: deleted outside shipdeck. Creating it again
            // is a person's decision (a resume), never a side effect of the next step.
            None if desired.enabled && self.last.is_some() => {
                self.last = None;
                return Err(FlagError::Vanished {
                    where_: format!("unleash {}", self.api.shown),
                    flag: self.flag.clone(),
                });
            }
            None => {
                self.create_flag().await?;
                self.load().await?.ok_or_else(|| {
                    self.api.error(
                        format!("flag `{}` was created but cannot be read back", self.flag),
                        "check the flag in Unleash; shipdeck retries",
                    )
                })?
            }
        };
        let current = self.state_of(&feature, &strategies)?;
        // A change decided on what shipdeck last saw must not land on a flag someone else
        // changed since: report it instead. Turning the flag off always goes on.
        if desired.enabled
            && let Some(last) = &self.last
            && !last.same_as(&current)
        {
            self.last = Some(current.clone());
            return Err(FlagError::ChangedOutside {
                where_: format!("unleash {}", self.api.shown),
                flag: self.flag.clone(),
                found: Box::new(current),
            });
        }
        let env_path = self.api.environment_path(&self.flag);
        let at = |tail: &[&'static str]| {
            let mut path = env_path.clone();
            path.extend_from_slice(tail);
            path
        };
        // Off first, before anything else changes: a failure later leaves the flag off.
        if !desired.enabled && strategies.enabled {
            self.api.post(&at(&["off"]), None).await?;
        }
        match &strategies.rollout {
            Some(s) if s.percent().ok() != Some(f64::from(desired.percent)) => {
                let updated = Strategy::rollout(
                    &self.flag,
                    desired.percent,
                    s.parameter("groupId"),
                    s.parameter("stickiness"),
                );
                let path = strategy_path(env_path.clone(), s);
                self.api
                    .expect(Method::PUT, &path, Some(&updated.body()))
                    .await?;
            }
            Some(_) => {}
            None if self.create => {
                let created = Strategy::rollout(&self.flag, desired.percent, None, None);
                self.api
                    .post(&at(&["strategies"]), Some(&created.body()))
                    .await?;
            }
            // An off flag reaches nobody whatever its rollout: nothing to add.
            None if !desired.enabled => {}
            None => return Err(self.missing_strategy()),
        }
        match (&strategies.groups, desired.groups.is_empty()) {
            (Some(s), false) if s.constraints[0].values != desired.groups => {
                let body = Strategy::groups(&self.flag, &desired.groups).body();
                let path = strategy_path(env_path.clone(), s);
                self.api.expect(Method::PUT, &path, Some(&body)).await?;
            }
            (None, false) => {
                let body = Strategy::groups(&self.flag, &desired.groups).body();
                self.api.post(&at(&["strategies"]), Some(&body)).await?;
            }
            (Some(s), true) => {
                let path = strategy_path(env_path.clone(), s);
                // Already gone is as good as removed.
                self.api.call(Method::DELETE, &path, None).await?;
            }
            _ => {}
        }
        if desired.enabled && !strategies.enabled {
            self.api.post(&at(&["on"]), None).await?;
        }
        self.read_state().await?.ok_or_else(|| {
            self.api.error(
                format!(
                    "flag `{}` was gone when read back after the change",
                    self.flag
                ),
                "someone removed it in Unleash meanwhile; recreate it or set `create: true`",
            )
        })
    }
}

/// The address of `strategy` under the environment at `environment`.
fn strategy_path<'p>(mut environment: Vec<&'p str>, strategy: &'p Strategy) -> Vec<&'p str> {
    environment.extend(["strategies", strategy.id.as_deref().unwrap_or_default()]);
    environment
}
