//! `kind = "email"`: the mail server, its TLS mode and login, the sender and the recipients.

use serde::Deserialize;
use toml::Spanned;

use super::Email;
use crate::config::{ConfigError, Credentials, Duration, Entry, Secret, is_loopback_host};
use crate::notify::{Deliver, DeliveryError, Stream};

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEmail {
    smtp_url: Option<Spanned<String>>,
    tls: Option<Tls>,
    allow_insecure: Option<bool>,
    username: Option<String>,
    password: Option<Secret>,
    from: Option<String>,
    to: Option<Vec<String>>,
    timeout: Option<Duration>,
}

impl crate::config::Kind for EmailConfig {
    type Raw = RawEmail;

    const HINTS: &'static [(&'static str, &'static str)] =
        &[("allow_insecure_http", "for a mail server without TLS, tls = \"none\" with allow_insecure = true")];

    fn validate(raw: RawEmail, entry: &Entry<'_>) -> Result<Self, ConfigError> {
        let missing =
            |field: &str, what: &str| entry.missing(field, format!("an email channel needs `{field}`: {what}"));
        let Some(smtp_url) = raw.smtp_url else {
            return missing("smtp_url", "the mail server, like \"smtp://smtp.example.com:587\"");
        };
        let tls = raw.tls.unwrap_or(Tls::Starttls);
        let (host, port) = match parse_smtp_url(smtp_url.get_ref(), tls) {
            Ok(parts) => parts,
            Err(message) => return entry.error(smtp_url.span(), "smtp_url", message),
        };
        if tls == Tls::None && !raw.allow_insecure.unwrap_or(false) && !is_loopback_host(&host) {
            return entry.error(
                smtp_url.span(),
                "tls",
                "tls = \"none\" sends mail and passwords in clear text: it is allowed for a relay on this machine only, unless allow_insecure = true",
            );
        }
        if raw.username.is_some() != raw.password.is_some() {
            return entry.missing("password", "username and password go together: give both or neither");
        }
        let Some(from) = raw.from else { return missing("from", "the sender address") };
        let to = raw.to.unwrap_or_default();
        if to.is_empty() {
            return missing("to", "a list of recipient addresses");
        }
        for address in std::iter::once(&from).chain(&to) {
            if address.parse::<lettre::Address>().is_err() {
                let field = if address == &from { "from" } else { "to" };
                return entry.missing(field, format!("{address:?} is not an e-mail address"));
            }
        }
        Ok(EmailConfig {
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

    fn credentials<'a>(&'a self, found: &mut Credentials<'a>) {
        let EmailConfig { host: _, port: _, tls: _, username: _, password, from: _, to: _, timeout: _ } = self;
        if let Some(password) = password {
            found.token("password", password);
        }
    }

    fn describe(&self) -> String {
        format!("{}:{} to {}", self.host, self.port, self.to.join(", "))
    }
}

impl crate::notify::Kind for EmailConfig {
    fn connect(&self, _console: Stream) -> Result<Box<dyn Deliver>, DeliveryError> {
        Ok(Box::new(Email::new(self)?))
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
