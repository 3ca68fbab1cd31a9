//! metrics: where health numbers come from (simulated, prometheus, replay). Owns every
//! query; never judges a value (guardrails do) and never blocks the screen.

pub mod prometheus;
pub mod replay;
pub mod simulated;

pub use prometheus::{Access, Credential, Prometheus};
pub use simulated::Simulated;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use std::fmt;
use std::time::Duration;

use crate::engine::values::{Batch, Exposure};

/// A source of metric samples, asked at the engine's clock, never at "now".
pub trait MetricsSource: Send {
    fn describe(&self) -> String;
    /// One reading per plan series at `at`.
    fn poll(&mut self, at: DateTime<Utc>, exposure: Exposure) -> BoxFuture<'_, Batch>;
    /// Batches every `step` over `[from, to)`, oldest first; fills sparklines and the baseline.
    fn history(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        step: Duration,
    ) -> BoxFuture<'_, Vec<Batch>>;
}

/// Setting up a metrics source went wrong; each variant says where and what to do.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error(
        "the environment variable `{var}` (named by the metrics source's `{key}`) is not set; \
         export the secret in `{var}` before starting shipdeck"
    )]
    TokenMissing { var: String, key: &'static str },
    #[error(
        "the environment variable `{var}` (named by the metrics source's `{key}`) is empty; \
         export the secret in `{var}` before starting shipdeck"
    )]
    TokenEmpty { var: String, key: &'static str },
    #[error(
        "the environment variable `{var}` (named by the metrics source's `{key}`) is not \
         valid in an HTTP header; it must be plain ASCII with no line breaks"
    )]
    TokenInvalid { var: String, key: &'static str },
    #[error(
        "cannot use the CA file {path} (the metrics source's `ca_file`): {reason}; give the PEM \
         certificate of the CA that signed the server's certificate"
    )]
    CaFile { path: String, reason: String },
    #[error(
        "the metrics source url `{url}` is not usable: {reason}; write it like http://127.0.0.1:9090"
    )]
    BadUrl { url: String, reason: String },
    #[error(
        "series `{series}` has no `query`; the prometheus source needs a PromQL query for every series"
    )]
    MissingQuery { series: String },
    #[error("metrics source header `{name}`: {reason}")]
    BadHeader { name: String, reason: String },
    #[error("could not set up the HTTP client for the metrics source: {0}")]
    Client(String),
    #[error(transparent)]
    Recording(#[from] crate::recording::RecordingError),
}

/// A credential read from an environment variable. It never prints itself: Debug is
/// `Secret(***)` and there is no Display; only the variable's name may be shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    var: String,
    value: String,
}

impl Secret {
    /// Reads the secret from the environment variable `var`, which the plan's `key`
    /// (`token_env`, `basic_auth.password_env`) named.
    pub fn from_env(var: &str, key: &'static str) -> Result<Secret, MetricsError> {
        let var_owned = var.to_string();
        match std::env::var(var) {
            Ok(value) if value.trim().is_empty() => Err(MetricsError::TokenEmpty {
                var: var_owned,
                key,
            }),
            Ok(value) => Ok(Secret {
                var: var_owned,
                value,
            }),
            Err(std::env::VarError::NotPresent) => Err(MetricsError::TokenMissing {
                var: var_owned,
                key,
            }),
            Err(std::env::VarError::NotUnicode(_)) => Err(MetricsError::TokenInvalid {
                var: var_owned,
                key,
            }),
        }
    }

    /// A secret already in hand, said to come from the environment variable `var` (the name
    /// error messages point the user to).
    pub fn new(var: impl Into<String>, value: impl Into<String>) -> Secret {
        Secret {
            var: var.into(),
            value: value.into(),
        }
    }

    /// The environment variable the secret came from; safe to show.
    pub fn var(&self) -> &str {
        &self.var
    }

    pub(crate) fn expose(&self) -> &str {
        &self.value
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The source a plan names.
pub fn open(spec: &crate::plan::MetricsSpec) -> Result<Box<dyn MetricsSource>, MetricsError> {
    use crate::plan::SourceSpec;
    match &spec.source {
        SourceSpec::Simulated {
            scenario,
            seed,
            arms,
        } => Ok(Box::new(
            simulated::Simulated::new(*scenario, *seed, &spec.series)
                .with_interval(spec.interval)
                .with_arms(*arms, &spec.arms),
        )),
        SourceSpec::Prometheus {
            url,
            token_env,
            basic_auth,
            timeout,
            headers,
            ca_file,
        } => {
            let access =
                prometheus::Access::from_env(token_env.as_deref(), basic_auth.as_ref(), headers)?
                    .with_ca_file(ca_file.clone());
            Ok(Box::new(
                prometheus::Prometheus::new(url, access, *timeout, &spec.series)?
                    .with_arms(&spec.arms)?,
            ))
        }
        SourceSpec::Replay { path } => Ok(Box::new(replay::Replay::open(
            path,
            &spec.series,
            spec.interval,
        )?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_never_shows_the_value() {
        let s = Secret::new("PROM_TOKEN", "hunter2");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(Secret(***))");
        assert_eq!(s.var(), "PROM_TOKEN");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn missing_token_env_names_the_variable() {
        let err =
            Secret::from_env("SHIPDECK_TEST_SURELY_UNSET_TOKEN_7f3a", "token_env").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("`SHIPDECK_TEST_SURELY_UNSET_TOKEN_7f3a`"),
            "{text}"
        );
        assert!(text.contains("token_env"), "{text}");
    }

    #[test]
    fn present_env_var_is_read() {
        // PATH is set in every environment cargo runs tests in.
        let s = Secret::from_env("PATH", "token_env").unwrap();
        assert_eq!(s.var(), "PATH");
        assert!(!s.expose().is_empty());
        assert!(!format!("{s:?}").contains(s.expose()));
    }
}
