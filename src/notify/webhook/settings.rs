//! `kind = "webhook"`: where to POST an alert, in which service's shape, with which credentials.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::Webhook;
use crate::config::{ConfigError, Credentials, Entry, Secret, secret_host};
use crate::notify::{Deliver, DeliveryError, Stream};

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// May carry a token in its path (Slack, Discord), so it is a secret.
    pub url: Secret,
    pub preset: WebhookPreset,
    /// Gotify's application token, or ntfy's access token.
    pub token: Option<Secret>,
    pub headers: BTreeMap<String, Secret>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookPreset {
    /// payguard's own JSON: the alert with its facts.
    Generic,
    Ntfy,
    Gotify,
    Slack,
    Discord,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    url: Option<Spanned<Secret>>,
    preset: Option<WebhookPreset>,
    token: Option<Secret>,
    headers: Option<BTreeMap<String, Secret>>,
    /// Plain http to a host other than this machine.
    allow_insecure_http: Option<bool>,
}

impl crate::config::Kind for WebhookConfig {
    type Raw = RawWebhook;

    fn validate(raw: RawWebhook, entry: &Entry<'_>) -> Result<Self, ConfigError> {
        let Some(url) = raw.url else {
            return entry.missing("url", "a webhook channel needs `url`: where to POST the alert");
        };
        // A URL the config was loaded without (see `Secrets`) is checked where it is resolved.
        if let Ok(text) = url.get_ref().expose() {
            entry.url(url.span(), "url", text, raw.allow_insecure_http.unwrap_or(false))?;
        }
        let preset = raw.preset.unwrap_or(WebhookPreset::Generic);
        if raw.token.is_some() && !matches!(preset, WebhookPreset::Ntfy | WebhookPreset::Gotify) {
            return entry.error_at_key(
                "token",
                "`token` is for the ntfy and gotify presets; Slack and Discord keep theirs in the url, and generic webhooks take `headers`",
            );
        }
        if preset == WebhookPreset::Gotify && raw.token.is_none() {
            return entry.missing("token", "a webhook channel needs `token`: the Gotify application token");
        }
        Ok(WebhookConfig { url: url.into_inner(), preset, token: raw.token, headers: raw.headers.unwrap_or_default() })
    }

    fn credentials<'a>(&'a self, found: &mut Credentials<'a>) {
        let WebhookConfig { url, preset, token, headers } = self;
        let token_in_path = matches!(preset, WebhookPreset::Slack | WebhookPreset::Discord);
        found.secret_url("url", url, token_in_path);
        if let Some(token) = token {
            found.token("token", token);
        }
        for (name, value) in headers {
            found.token(&format!("headers.{name}"), value);
        }
    }

    fn describe(&self) -> String {
        format!("{:?} preset, {}", self.preset, secret_host(&self.url)).to_lowercase()
    }
}

impl crate::notify::Kind for WebhookConfig {
    fn connect(&self, _console: Stream) -> Result<Box<dyn Deliver>, DeliveryError> {
        Ok(Box::new(Webhook::new(self)?))
    }
}
