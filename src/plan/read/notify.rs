//! plan::read::notify: the notifiers. Every secret (a webhook URL, a token, a routing
//! key) is named by the environment variable that holds it, never written in the plan.

use super::Reader;
use crate::plan::defaults::{DEFAULT_PAGERDUTY_URL, DEFAULT_SLACK_API};
use crate::plan::model::NotifierSpec;
use crate::plan::yaml::Node;

impl Reader {
    pub(super) fn notify(&mut self, node: &Node) -> Option<Vec<NotifierSpec>> {
        let items = self.list(
            node,
            "`notify`",
            "list the notifiers, like `- {kind: log, path: deploy.log}`",
        )?;
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items {
            match self.notifier(item) {
                Some(n) => out.push(n),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn notifier(&mut self, node: &Node) -> Option<NotifierSpec> {
        #[derive(Clone, Copy)]
        enum K {
            Webhook,
            Slack,
            Json,
            PagerDuty,
            Log,
        }
        match self.kind(
            node,
            "notifier",
            &[
                ("webhook", K::Webhook),
                ("slack", K::Slack),
                ("json", K::Json),
                ("pagerduty", K::PagerDuty),
                ("log", K::Log),
            ],
        )? {
            K::Webhook => {
                let url_env = self.secret_env(node, "webhook", "url_env", "SLACK_WEBHOOK_URL")?;
                Some(NotifierSpec::Webhook { url_env })
            }
            K::Json => {
                let url_env = self.secret_env(node, "json", "url_env", "DEPLOY_HOOK_URL")?;
                Some(NotifierSpec::Json { url_env })
            }
            K::Slack => {
                let what = "the slack notifier";
                let f = self.fields(node, what, &["kind", "token_env", "channel", "api"])?;
                let token_env = self
                    .required(
                        &f,
                        "token_env",
                        what,
                        "add `token_env: SLACK_BOT_TOKEN`, the environment variable holding the bot token (xoxb-…)",
                    )
                    .and_then(|n| self.env_name(n, "slack token_env"));
                let channel = self
                    .required(
                        &f,
                        "channel",
                        what,
                        "add `channel: \"#releases\"` (or the channel's id), where the bot is a member",
                    )
                    .and_then(|n| self.text(n, "slack channel"));
                let api = match f.get("api") {
                    Some(n) => self.url(n, "slack api"),
                    None => Some(DEFAULT_SLACK_API.to_string()),
                };
                Some(NotifierSpec::Slack {
                    token_env: token_env?,
                    channel: channel?,
                    api: api?.trim_end_matches('/').to_string(),
                })
            }
            K::PagerDuty => {
                let what = "the pagerduty notifier";
                let f = self.fields(node, what, &["kind", "routing_key_env", "url"])?;
                let routing_key_env = self
                    .required(
                        &f,
                        "routing_key_env",
                        what,
                        "add `routing_key_env: PAGERDUTY_ROUTING_KEY`, the environment variable holding the integration key of an Events API v2 integration",
                    )
                    .and_then(|n| self.env_name(n, "pagerduty routing_key_env"));
                let url = match f.get("url") {
                    Some(n) => self.url(n, "pagerduty url"),
                    None => Some(DEFAULT_PAGERDUTY_URL.to_string()),
                };
                Some(NotifierSpec::PagerDuty {
                    routing_key_env: routing_key_env?,
                    url: url?,
                })
            }
            K::Log => {
                let f = self.fields(node, "the log notifier", &["kind", "path"])?;
                let path = self
                    .required(
                        &f,
                        "path",
                        "the log notifier",
                        "add `path: deploy.log` (relative to the plan)",
                    )
                    .and_then(|n| self.path(n, "log path"))?;
                Some(NotifierSpec::Log { path })
            }
        }
    }

    /// A notifier whose only setting is the variable holding its URL (a secret).
    fn secret_env(
        &mut self,
        node: &Node,
        kind: &str,
        key: &'static str,
        example: &str,
    ) -> Option<String> {
        let what = format!("the {kind} notifier");
        let f = self.fields(node, &what, &["kind", key])?;
        self.required(
            &f,
            key,
            &what,
            &format!("add `{key}: {example}`, the environment variable holding the URL"),
        )
        .and_then(|n| self.env_name(n, &format!("{kind} {key}")))
    }
}
