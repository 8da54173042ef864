//! `kind = "sms"`: the recipients' numbers and the provider that sends: Twilio, or any HTTP gateway
//! described by a URL and a body template.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::Sms;
use crate::config::{ConfigError, Credentials, Entry, Secret, secret_host};
use crate::notify::{Deliver, DeliveryError, Stream};

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

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum RawProvider {
    Twilio,
    Http,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSms {
    provider: Option<RawProvider>,
    to: Option<Vec<String>>,
    // twilio
    account_sid: Option<String>,
    auth_token: Option<Secret>,
    from: Option<String>,
    api_base: Option<Spanned<String>>,
    // http
    url: Option<Spanned<Secret>>,
    method: Option<String>,
    headers: Option<BTreeMap<String, Secret>>,
    body: Option<String>,
    content_type: Option<String>,
    /// Plain http to a host other than this machine, for `url` or `api_base`.
    allow_insecure_http: Option<bool>,
}

impl crate::config::Kind for SmsConfig {
    type Raw = RawSms;

    fn validate(raw: RawSms, entry: &Entry<'_>) -> Result<Self, ConfigError> {
        let missing = |field: &str, what: &str| entry.missing(field, format!("an sms channel needs `{field}`: {what}"));
        let insecure = raw.allow_insecure_http.unwrap_or(false);
        let to = raw.to.unwrap_or_default();
        if to.is_empty() {
            return missing("to", "a list of phone numbers, like [\"+491701234567\"]");
        }
        let provider = match raw.provider {
            None => return missing("provider", "\"twilio\" or \"http\""),
            Some(RawProvider::Twilio) => {
                let Some(account_sid) = raw.account_sid else {
                    return missing("account_sid", "your Twilio account SID");
                };
                let Some(auth_token) = raw.auth_token else {
                    return missing("auth_token", "your Twilio auth token, e.g. \"${credential:twilio-token}\"");
                };
                let Some(from) = raw.from else { return missing("from", "the sending number") };
                let api_base = match raw.api_base {
                    None => "https://api.twilio.com".to_owned(),
                    Some(base) => {
                        entry.url(base.span(), "api_base", base.get_ref(), insecure)?;
                        base.into_inner()
                    }
                };
                SmsProvider::Twilio { account_sid, auth_token, from, api_base }
            }
            Some(RawProvider::Http) => {
                let Some(url) = raw.url else { return missing("url", "the gateway's URL") };
                if let Ok(text) = url.get_ref().expose() {
                    entry.url(url.span(), "url", text, insecure)?;
                }
                let Some(body) = raw.body else {
                    return missing("body", "a template like \"to={to}&text={message}\"");
                };
                SmsProvider::Http {
                    url: url.into_inner(),
                    method: raw.method.unwrap_or_else(|| "POST".to_owned()).to_ascii_uppercase(),
                    headers: raw.headers.unwrap_or_default(),
                    body,
                    content_type: raw.content_type.unwrap_or_else(|| "application/x-www-form-urlencoded".to_owned()),
                }
            }
        };
        Ok(SmsConfig { provider, to })
    }

    fn credentials<'a>(&'a self, found: &mut Credentials<'a>) {
        match &self.provider {
            SmsProvider::Twilio { account_sid: _, auth_token, from: _, api_base } => {
                found.token("auth_token", auth_token);
                found.url("api_base", api_base);
            }
            SmsProvider::Http { url, method: _, headers, body: _, content_type: _ } => {
                found.secret_url("url", url, false);
                for (name, value) in headers {
                    found.token(&format!("headers.{name}"), value);
                }
            }
        }
    }

    fn describe(&self) -> String {
        match &self.provider {
            SmsProvider::Twilio { .. } => format!("twilio to {}", self.to.join(", ")),
            SmsProvider::Http { url, .. } => format!("{} to {}", secret_host(url), self.to.join(", ")),
        }
    }
}

impl crate::notify::Kind for SmsConfig {
    fn connect(&self, _console: Stream) -> Result<Box<dyn Deliver>, DeliveryError> {
        Ok(Box::new(Sms::new(self)?))
    }
}
