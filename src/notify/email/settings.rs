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
    /// RFC 5322 mailboxes, checked by lettre's parser: `me@example.com` or
    /// `payguard <me@example.com>`. lettre encodes a display name when it writes the header, so the
    /// text never shapes one.
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
    from: Option<Spanned<String>>,
    to: Option<Vec<Spanned<String>>>,
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
        for (field, address) in std::iter::once(("from", &from)).chain(to.iter().map(|a| ("to", a))) {
            if address.get_ref().parse::<lettre::message::Mailbox>().is_err() {
                return entry.error(
                    address.span(),
                    field,
                    format!(
                        "{:?} is not an e-mail address: write \"me@example.com\" or, with a name, \"payguard <me@example.com>\"",
                        address.get_ref()
                    ),
                );
            }
        }
        Ok(EmailConfig {
            host,
            port,
            tls,
            username: raw.username,
            password: raw.password,
            from: from.into_inner(),
            to: to.into_iter().map(Spanned::into_inner).collect(),
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;
    use crate::notify::ChannelKind;

    fn email(from: &str, to: &str) -> Result<EmailConfig, ConfigError> {
        let text = format!(
            "[[source]]\nname = \"bank\"\nkind = \"simplefin\"\naccess_url = \"https://u:p@bridge.example.com/simplefin\"\nschedule = \"0 * * * *\"\n\n\
             [[channel]]\nname = \"mail\"\nkind = \"email\"\nsmtp_url = \"smtp://smtp.example.com\"\nfrom = {from:?}\nto = [{to}]\n"
        );
        let config = Config::parse(&text, Path::new("payguard.toml"))?;
        match &config.channel("mail").expect("the mail channel").kind {
            ChannelKind::Email(email) => Ok((**email).clone()),
            other => panic!("not an email channel: {other:?}"),
        }
    }

    #[test]
    fn bare_addresses_and_mailboxes_with_a_display_name_are_both_accepted() {
        let config = email("payguard <alerts@example.com>", r#""me@example.com", "Li Wei <li@example.com>""#)
            .expect("both forms are addresses");
        assert_eq!(config.from, "payguard <alerts@example.com>");
        assert_eq!(config.to, ["me@example.com", "Li Wei <li@example.com>"]);
        let quoted = email(r#""Payguard, home" <alerts@example.com>"#, r#""我 <me@example.com>""#)
            .expect("a quoted name with a comma, and a name in Chinese");
        assert_eq!(quoted.to, ["我 <me@example.com>"]);
    }

    #[test]
    fn a_bad_address_is_placed_where_it_is_written() {
        let error = email("payguard@example.com", r#""me@example.com", "Li Wei li@example.com""#)
            .expect_err("a name without angle brackets is not a mailbox");
        assert_eq!((error.line, error.column, error.key.as_str()), (12, 25, "channel[0].to"));
        assert!(error.message.contains("\"Li Wei li@example.com\" is not an e-mail address"), "{error}");
        assert!(error.message.contains("payguard <me@example.com>"), "says how to write one: {error}");
        let newline = email("payguard\r\nBcc: x@example.com <alerts@example.com>", r#""me@example.com""#)
            .expect_err("a line break cannot be in a name");
        assert_eq!((newline.line, newline.column, newline.key.as_str()), (11, 8, "channel[0].from"));
    }
}
