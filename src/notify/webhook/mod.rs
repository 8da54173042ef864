//! Webhooks: payguard's own JSON, or the shapes ntfy, Gotify, Slack and Discord expect. One POST
//! per message through the shared [`http::send`], so status handling and `Retry-After` are the
//! same as for every other web channel.
//!
//! The URL is a secret (Slack and Discord keep their token in its path), so errors name only the
//! host, and any part of the URL or token a receiver echoes back in an error body is cut out
//! before the error leaves this module.

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Url};
use serde_json::{Value, json};

use super::http::{self, base64, scrub};
use super::{Deliver, DeliveryError, Message, SendFuture, level};
use crate::config::Secret;

mod settings;

use crate::model::Severity;
use crate::redact::url_secrets;
pub use settings::{WebhookConfig, WebhookPreset};

/// Discord rejects `content` longer than this many characters.
const DISCORD_LIMIT: usize = 2000;

pub struct Webhook {
    client: Client,
    preset: WebhookPreset,
    /// Where to POST: the configured URL, or for Gotify its `/message` endpoint.
    url: Secret,
    /// The token header and the configured headers, validated once so a bad value is a config
    /// problem reported up front rather than a retryable "could not connect" on every send.
    headers: HeaderMap,
    receiver: String,
    secrets: Vec<Secret>,
}

impl Webhook {
    pub fn new(config: &WebhookConfig) -> Result<Self, DeliveryError> {
        let receiver = http::receiver(config.url.expose()?);
        let url = match config.preset {
            WebhookPreset::Gotify => gotify_endpoint(config.url.expose()?)
                .ok_or_else(|| DeliveryError::permanent(format!("the Gotify URL for {receiver} is not a base URL")))?,
            _ => config.url.clone(),
        };
        let mut headers = HeaderMap::new();
        if let Some(token) = &config.token {
            // Slack and Discord carry their credential in the URL, so a token means nothing to
            // them and is not sent anywhere it was not meant for.
            let header = match config.preset {
                WebhookPreset::Gotify => Some((HeaderName::from_static("x-gotify-key"), token.expose()?.to_owned())),
                WebhookPreset::Generic | WebhookPreset::Ntfy => {
                    Some((AUTHORIZATION, format!("Bearer {}", token.expose()?)))
                }
                WebhookPreset::Slack | WebhookPreset::Discord => None,
            };
            if let Some((name, value)) = header {
                headers.insert(
                    name,
                    secret_value(&value).ok_or_else(|| {
                        DeliveryError::permanent("the webhook token is not a valid HTTP header value")
                    })?,
                );
            }
        }
        // Configured headers go in last so they can override anything the preset sets.
        for (name, value) in &config.headers {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| DeliveryError::permanent(format!("{name:?} is not a valid HTTP header name")))?;
            let value = secret_value(value.expose()?).ok_or_else(|| {
                DeliveryError::permanent(format!("the value of header {name} is not a valid HTTP header value"))
            })?;
            headers.insert(header, value);
        }
        let mut secrets = vec![config.url.clone()];
        secrets.extend(url_secrets(config.url.expose()?));
        secrets.extend(config.token.iter().cloned());
        secrets.extend(config.headers.values().cloned());
        Ok(Self { client: http::client()?, preset: config.preset, url, headers, receiver, secrets })
    }

    pub async fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        let mut headers = HeaderMap::new();
        let body: Vec<u8> = match self.preset {
            WebhookPreset::Generic => json_body(&mut headers, &message.json)?,
            WebhookPreset::Ntfy => {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
                let title = HeaderValue::from_str(&header_text(&message.subject))
                    .map_err(|_| DeliveryError::permanent("the message subject cannot be an HTTP header"))?;
                headers.insert(HeaderName::from_static("title"), title);
                headers.insert(
                    HeaderName::from_static("priority"),
                    HeaderValue::from(3 + u16::from(level(message.severity))),
                );
                // Info gets no tag: a warning sign on a test message or a notice would cry wolf.
                let tag = match message.severity {
                    Severity::Critical => Some("rotating_light"),
                    Severity::Warning => Some("warning"),
                    Severity::Info => None,
                };
                if let Some(tag) = tag {
                    headers.insert(HeaderName::from_static("tags"), HeaderValue::from_static(tag));
                }
                message.text.clone().into_bytes()
            }
            WebhookPreset::Gotify => {
                let priority = match message.severity {
                    Severity::Critical => 8,
                    Severity::Warning => 5,
                    Severity::Info => 2,
                };
                json_body(
                    &mut headers,
                    &json!({ "title": message.subject, "message": message.text, "priority": priority }),
                )?
            }
            WebhookPreset::Slack => {
                // Slack reads `<…>` as links and mentions (`<!channel>`): text from a bank (a payee
                // name) must not be able to page a whole workspace, so the three characters Slack
                // asks to be escaped are escaped.
                let text = slack_escape(&format!("{}\n{}", message.subject, message.text));
                json_body(&mut headers, &json!({ "text": text }))?
            }
            WebhookPreset::Discord => {
                // `allowed_mentions` with nothing to parse: an `@everyone` in a payee name stays text.
                let content = truncate(&format!("{}\n{}", message.subject, message.text), DISCORD_LIMIT);
                json_body(&mut headers, &json!({ "content": content, "allowed_mentions": { "parse": [] } }))?
            }
        };
        for (name, value) in &self.headers {
            headers.insert(name.clone(), value.clone());
        }
        let request = self.client.post(self.url.expose()?).headers(headers).body(body);
        http::send(request, &self.receiver).await.map_err(|e| scrub(e, &self.secrets))
    }
}

impl Deliver for Webhook {
    fn send<'a>(&'a self, message: &'a Message) -> SendFuture<'a> {
        Box::pin(Webhook::send(self, message))
    }
}

/// Serialises `value` and marks the body as JSON (the `json` feature of reqwest is not enabled).
fn json_body(headers: &mut HeaderMap, value: &Value) -> Result<Vec<u8>, DeliveryError> {
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // Exact values, with controls and invisible characters as `\uXXXX`, so a receiver that shows a
    // field as it is cannot be made to show a bank's escape sequences.
    Ok(crate::text::json(value).into_bytes())
}

/// Gotify takes messages at `{base}/message`; built on the parsed URL so a base with or without a
/// trailing slash, or served under a sub-path, all work.
fn gotify_endpoint(base: &str) -> Option<Secret> {
    let mut url = Url::parse(base).ok()?;
    url.path_segments_mut().ok()?.pop_if_empty().push("message");
    Some(Secret::new(url.as_str()))
}

/// A header value that stays out of `Debug` output.
fn secret_value(value: &str) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(value).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// Header values must be visible ASCII. Anything else (every alert subject has a `·`) goes as one
/// RFC 2047 encoded word, which ntfy decodes; encoding rather than stripping keeps accents and
/// Chinese subjects intact. Text that merely looks like an encoded word is encoded too, so ntfy
/// does not misread it.
fn header_text(text: &str) -> String {
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) && !text.contains("=?") {
        text.to_owned()
    } else {
        format!("=?UTF-8?B?{}?=", base64(text.as_bytes()))
    }
}

fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// At most `limit` characters, ending in `…` when cut.
fn truncate(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(limit - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_non_ascii_titles_are_encoded() {
        assert_eq!(header_text("plain title"), "plain title");
        assert_eq!(header_text("a · b"), format!("=?UTF-8?B?{}?=", base64("a · b".as_bytes())));
        assert!(header_text("line\nbreak").starts_with("=?UTF-8?B?"));
    }

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("余额下降了", 3), "余额…");
    }
}
