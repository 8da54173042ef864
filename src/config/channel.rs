//! `[[channel]]`: where alerts go, and how to reach each place.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::schema::Validator;
use super::values::Duration;
use super::{ConfigError, Secret};

#[derive(Debug, Clone)]
pub struct ChannelConfig {
    pub name: String,
    pub kind: ChannelKind,
    /// At most this many messages an hour; the rest are folded into one digest, never dropped.
    pub max_per_hour: Option<u32>,
}

#[derive(Debug, Clone)]
pub enum ChannelKind {
    Console,
    Desktop,
    Email(EmailConfig),
    Sms(SmsConfig),
    Webhook(WebhookConfig),
}

impl ChannelKind {
    pub fn name(&self) -> &'static str {
        match self {
            ChannelKind::Console => "console",
            ChannelKind::Desktop => "desktop",
            ChannelKind::Email(_) => "email",
            ChannelKind::Sms(_) => "sms",
            ChannelKind::Webhook(_) => "webhook",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tls {
    /// Plain connection upgraded with STARTTLS (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No encryption: loopback relays only, unless `allow_insecure = true`.
    None,
}

#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub from: String,
    pub to: Vec<String>,
    pub timeout: std::time::Duration,
}

#[derive(Debug, Clone)]
pub struct SmsConfig {
    pub provider: SmsProvider,
    pub to: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum SmsProvider {
    /// Twilio's Messages API.
    Twilio { account_sid: String, auth_token: Secret, from: String, api_base: String },
    /// Any HTTP gateway: the body template gets `{to}`, `{message}`, `{title}`, `{severity}` and
    /// `{alert_id}` filled in (JSON-escaped when the content type is JSON).
    Http { url: Secret, method: String, headers: BTreeMap<String, Secret>, body: String, content_type: String },
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

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// May carry a token in its path (Slack, Discord), so it is a secret.
    pub url: Secret,
    pub preset: WebhookPreset,
    /// Gotify's application token, or ntfy's access token.
    pub token: Option<Secret>,
    pub headers: BTreeMap<String, Secret>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum RawKind {
    Console,
    Desktop,
    Email,
    Sms,
    Webhook,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum RawSmsProvider {
    Twilio,
    Http,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChannel {
    name: Spanned<String>,
    kind: RawKind,
    max_per_hour: Option<u32>,
    // email
    smtp_url: Option<Spanned<String>>,
    tls: Option<Tls>,
    allow_insecure: Option<bool>,
    username: Option<String>,
    password: Option<Secret>,
    from: Option<String>,
    timeout: Option<Duration>,
    // email and sms
    to: Option<Vec<String>>,
    // sms
    provider: Option<RawSmsProvider>,
    account_sid: Option<String>,
    auth_token: Option<Secret>,
    api_base: Option<Spanned<String>>,
    method: Option<String>,
    body: Option<String>,
    content_type: Option<String>,
    // sms and webhook
    /// Plain http to a host other than this machine, for `url` or `api_base`.
    allow_insecure_http: Option<bool>,
    // sms (http) and webhook
    url: Option<Spanned<Secret>>,
    headers: Option<BTreeMap<String, Secret>>,
    // webhook
    preset: Option<WebhookPreset>,
    token: Option<Secret>,
}

impl RawChannel {
    pub(super) fn name(&self) -> &Spanned<String> {
        &self.name
    }
}

/// Which keys each kind takes, so a key given to the wrong kind is an error, not ignored.
fn allowed(kind: RawKind) -> &'static [&'static str] {
    match kind {
        RawKind::Console | RawKind::Desktop => &[],
        RawKind::Email => &["smtp_url", "tls", "allow_insecure", "username", "password", "from", "to", "timeout"],
        RawKind::Sms => &[
            "provider",
            "to",
            "account_sid",
            "auth_token",
            "from",
            "api_base",
            "url",
            "method",
            "headers",
            "body",
            "content_type",
            "allow_insecure_http",
        ],
        RawKind::Webhook => &["url", "preset", "token", "headers", "allow_insecure_http"],
    }
}

impl Validator<'_> {
    pub(super) fn channel(&self, i: usize, raw: Spanned<RawChannel>) -> Result<ChannelConfig, ConfigError> {
        let table = raw.span();
        let raw = raw.into_inner();
        let key = |field: &str| format!("channel[{i}].{field}");
        let given: Vec<&str> = [
            ("smtp_url", raw.smtp_url.is_some()),
            ("tls", raw.tls.is_some()),
            ("allow_insecure", raw.allow_insecure.is_some()),
            ("username", raw.username.is_some()),
            ("password", raw.password.is_some()),
            ("from", raw.from.is_some()),
            ("timeout", raw.timeout.is_some()),
            ("to", raw.to.is_some()),
            ("provider", raw.provider.is_some()),
            ("account_sid", raw.account_sid.is_some()),
            ("auth_token", raw.auth_token.is_some()),
            ("api_base", raw.api_base.is_some()),
            ("method", raw.method.is_some()),
            ("body", raw.body.is_some()),
            ("content_type", raw.content_type.is_some()),
            ("url", raw.url.is_some()),
            ("headers", raw.headers.is_some()),
            ("preset", raw.preset.is_some()),
            ("token", raw.token.is_some()),
            ("allow_insecure_http", raw.allow_insecure_http.is_some()),
        ]
        .into_iter()
        .filter_map(|(field, present)| present.then_some(field))
        .collect();
        let kind_name = ChannelKind::name_of(raw.kind);
        let article = if matches!(raw.kind, RawKind::Email | RawKind::Sms) { "an" } else { "a" };
        if let Some(field) = given.iter().find(|f| !allowed(raw.kind).contains(f)) {
            let at = self.key_span(&table, field);
            let hint = match (*field, raw.kind) {
                ("allow_insecure_http", RawKind::Email) => {
                    " (for a mail server without TLS, tls = \"none\" with allow_insecure = true)"
                }
                _ => "",
            };
            return self.error(
                at,
                key(field),
                format!("`{field}` does not apply to {article} {kind_name} channel{hint}"),
            );
        }
        let insecure = raw.allow_insecure_http.unwrap_or(false);
        if raw.max_per_hour == Some(0) {
            return self.error(
                table,
                key("max_per_hour"),
                "max_per_hour must be at least 1 (leave it out for no limit)",
            );
        }
        let missing = |field: &str, what: &str| {
            self.error(table.clone(), key(field), format!("{article} {kind_name} channel needs `{field}`: {what}"))
        };
        let kind = match raw.kind {
            RawKind::Console => ChannelKind::Console,
            RawKind::Desktop => ChannelKind::Desktop,
            RawKind::Email => {
                let Some(smtp_url) = raw.smtp_url else {
                    return missing("smtp_url", "the mail server, like \"smtp://smtp.example.com:587\"");
                };
                let tls = raw.tls.unwrap_or(Tls::Starttls);
                let (host, port) = match parse_smtp_url(smtp_url.get_ref(), tls) {
                    Ok(parts) => parts,
                    Err(message) => return self.error(smtp_url.span(), key("smtp_url"), message),
                };
                if tls == Tls::None && !raw.allow_insecure.unwrap_or(false) && !super::is_loopback_host(&host) {
                    return self.error(
                        smtp_url.span(),
                        key("tls"),
                        "tls = \"none\" sends mail and passwords in clear text: it is allowed for a relay on this machine only, unless allow_insecure = true",
                    );
                }
                if raw.username.is_some() != raw.password.is_some() {
                    return self.error(
                        table,
                        key("password"),
                        "username and password go together: give both or neither",
                    );
                }
                let Some(from) = raw.from else { return missing("from", "the sender address") };
                let to = raw.to.unwrap_or_default();
                if to.is_empty() {
                    return missing("to", "a list of recipient addresses");
                }
                for address in std::iter::once(&from).chain(&to) {
                    if address.parse::<lettre::Address>().is_err() {
                        return self.error(
                            table,
                            key(if address == &from { "from" } else { "to" }),
                            format!("{address:?} is not an e-mail address"),
                        );
                    }
                }
                ChannelKind::Email(EmailConfig {
                    host,
                    port,
                    tls,
                    username: raw.username,
                    password: raw.password,
                    from,
                    to,
                    timeout: raw.timeout.map_or(std::time::Duration::from_secs(30), Duration::to_std),
                })
            }
            RawKind::Sms => {
                let to = raw.to.unwrap_or_default();
                if to.is_empty() {
                    return missing("to", "a list of phone numbers, like [\"+491701234567\"]");
                }
                let provider = match raw.provider {
                    None => return missing("provider", "\"twilio\" or \"http\""),
                    Some(RawSmsProvider::Twilio) => {
                        let Some(account_sid) = raw.account_sid else {
                            return missing("account_sid", "your Twilio account SID");
                        };
                        let Some(auth_token) = raw.auth_token else {
                            return missing(
                                "auth_token",
                                "your Twilio auth token, e.g. \"${credential:twilio-token}\"",
                            );
                        };
                        let Some(from) = raw.from else { return missing("from", "the sending number") };
                        let api_base = match raw.api_base {
                            None => "https://api.twilio.com".to_owned(),
                            Some(base) => {
                                self.url(base.span(), key("api_base"), base.get_ref(), insecure, "[[channel]]")?;
                                base.into_inner()
                            }
                        };
                        SmsProvider::Twilio { account_sid, auth_token, from, api_base }
                    }
                    Some(RawSmsProvider::Http) => {
                        let Some(url) = raw.url else { return missing("url", "the gateway's URL") };
                        if let Ok(text) = url.get_ref().expose() {
                            self.url(url.span(), key("url"), text, insecure, "[[channel]]")?;
                        }
                        let Some(body) = raw.body else {
                            return missing("body", "a template like \"to={to}&text={message}\"");
                        };
                        SmsProvider::Http {
                            url: url.into_inner(),
                            method: raw.method.unwrap_or_else(|| "POST".to_owned()).to_ascii_uppercase(),
                            headers: raw.headers.unwrap_or_default(),
                            body,
                            content_type: raw
                                .content_type
                                .unwrap_or_else(|| "application/x-www-form-urlencoded".to_owned()),
                        }
                    }
                };
                ChannelKind::Sms(SmsConfig { provider, to })
            }
            RawKind::Webhook => {
                let Some(url) = raw.url else { return missing("url", "where to POST the alert") };
                // A URL the config was loaded without (see `Secrets`) is checked where it is resolved.
                if let Ok(text) = url.get_ref().expose() {
                    self.url(url.span(), key("url"), text, insecure, "[[channel]]")?;
                }
                let preset = raw.preset.unwrap_or(WebhookPreset::Generic);
                if raw.token.is_some() && !matches!(preset, WebhookPreset::Ntfy | WebhookPreset::Gotify) {
                    let at = self.key_span(&table, "token");
                    return self.error(at, key("token"), "`token` is for the ntfy and gotify presets; Slack and Discord keep theirs in the url, and generic webhooks take `headers`");
                }
                if preset == WebhookPreset::Gotify && raw.token.is_none() {
                    return missing("token", "the Gotify application token");
                }
                ChannelKind::Webhook(WebhookConfig {
                    url: url.into_inner(),
                    preset,
                    token: raw.token,
                    headers: raw.headers.unwrap_or_default(),
                })
            }
        };
        Ok(ChannelConfig { name: raw.name.into_inner(), kind, max_per_hour: raw.max_per_hour })
    }
}

impl ChannelKind {
    fn name_of(kind: RawKind) -> &'static str {
        match kind {
            RawKind::Console => "console",
            RawKind::Desktop => "desktop",
            RawKind::Email => "email",
            RawKind::Sms => "sms",
            RawKind::Webhook => "webhook",
        }
    }
}

/// `smtp://host:port` (or `smtps://`); the port defaults by TLS mode: 465 implicit, 587 STARTTLS, 25 none.
fn parse_smtp_url(text: &str, tls: Tls) -> Result<(String, u16), String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("not a URL ({e}): expected \"smtp://host:port\""))?;
    if !matches!(url.scheme(), "smtp" | "smtps") {
        return Err("the mail server URL must start with smtp:// (or smtps://)".to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("put the SMTP login in `username` and `password`, not in the URL".to_owned());
    }
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or("the mail server URL has no host")?;
    let default_port = match tls {
        Tls::Implicit => 465,
        Tls::Starttls => 587,
        Tls::None => 25,
    };
    Ok((host.trim_matches(['[', ']']).to_owned(), url.port().unwrap_or(default_port)))
}
