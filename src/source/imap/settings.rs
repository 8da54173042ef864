//! `kind = "imap"`: the mailbox a bank's notification mail arrives in, how to reach it, and the
//! rules that turn a notice into a transaction.

use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use super::Imap;
use crate::config::{ConfigError, Credentials, Entry, HttpLimits, Secret, is_loopback_host};
use crate::source::{Poller, SourceError};

/// How the connection is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tls {
    /// TLS from the first byte (IMAPS, port 993).
    Implicit,
    /// A plain connection upgraded with `STARTTLS` before logging in (port 143).
    Starttls,
    /// No encryption: a server on this machine only.
    None,
}

#[derive(Debug, Clone)]
pub struct ImapConfig {
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    pub username: String,
    pub password: Secret,
    pub folder: String,
    pub rules: Vec<MailRule>,
}

/// One `[[source.rule]]`: which notices it reads, and how.
#[derive(Debug, Clone)]
pub struct MailRule {
    /// The `[[account]] id` a match feeds, unless the pattern's `account` group names another.
    pub account: String,
    /// Lowercased substrings the sender and subject must contain.
    pub from: Option<String>,
    pub subject: Option<String>,
    pub pattern: Regex,
    /// Lowercased words that, found in the `direction` group, make the amount money out.
    pub out_words: Vec<String>,
    /// The currency when the pattern has no `currency` group.
    pub currency: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawImap {
    host: Option<Spanned<String>>,
    port: Option<u16>,
    tls: Option<Tls>,
    username: Option<String>,
    password: Option<Secret>,
    folder: Option<String>,
    rule: Option<Vec<Spanned<RawRule>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    account: Option<String>,
    from: Option<String>,
    subject: Option<String>,
    pattern: Option<Spanned<String>>,
    out_words: Option<Vec<String>>,
    currency: Option<String>,
}

impl crate::config::Kind for ImapConfig {
    type Raw = RawImap;

    fn validate(raw: RawImap, entry: &Entry<'_>) -> Result<Self, ConfigError> {
        let missing = |field: &str, what: &str| entry.missing(field, format!("an imap source needs {field}: {what}"));
        let Some(host) = raw.host else { return missing("host", "the mail server, e.g. \"imap.example.com\"") };
        let tls = raw.tls.unwrap_or(Tls::Implicit);
        if tls == Tls::None && !is_loopback_host(host.get_ref()) {
            return entry.error(
                host.span(),
                "tls",
                "tls = \"none\" sends the password and the mail in clear text: it is allowed for a server on this machine only; use \"implicit\" (port 993) or \"starttls\" (port 143)",
            );
        }
        let Some(username) = raw.username else { return missing("username", "the mailbox's login name") };
        let Some(password) = raw.password else {
            return missing("password", "the mailbox's password (an app password), e.g. \"${credential:bank-mail}\"");
        };
        let rules = raw.rule.unwrap_or_default();
        if rules.is_empty() {
            return missing("rule", "at least one [[source.rule]] with account and pattern");
        }
        let rules =
            rules.into_iter().enumerate().map(|(i, rule)| mail_rule(i, rule, entry)).collect::<Result<_, _>>()?;
        let port = raw.port.unwrap_or(match tls {
            Tls::Implicit => 993,
            Tls::Starttls | Tls::None => 143,
        });
        let folder = raw.folder.unwrap_or_else(|| "INBOX".to_owned());
        Ok(ImapConfig { host: host.into_inner(), port, tls, username, password, folder, rules })
    }

    fn credentials<'a>(&'a self, found: &mut Credentials<'a>) {
        found.token("password", &self.password);
    }

    fn describe(&self) -> String {
        format!("{}:{}, folder {}, user {}", self.host, self.port, self.folder, self.username)
    }
}

/// The rule at `rule[i]`, its pattern compiled and checked for the groups it must have.
fn mail_rule(i: usize, rule: Spanned<RawRule>, entry: &Entry<'_>) -> Result<MailRule, ConfigError> {
    let span = rule.span();
    let rule = rule.into_inner();
    let key = |field: &str| format!("rule[{i}].{field}");
    let Some(account) = rule.account.filter(|a| !a.trim().is_empty()) else {
        return entry.error(span, &key("account"), "a rule needs account: the [[account]] id its mail is about");
    };
    let Some(pattern) = rule.pattern else {
        return entry.error(
            span,
            &key("pattern"),
            "a rule needs pattern: a regular expression over the mail's text with (?P<amount>…), e.g. \"spent (?P<amount>[0-9.,]+)\"",
        );
    };
    let compiled = match regex::RegexBuilder::new(pattern.get_ref()).size_limit(1 << 20).build() {
        Ok(compiled) => compiled,
        Err(e) => return entry.error(pattern.span(), &key("pattern"), format!("not a regular expression: {e}")),
    };
    if !compiled.capture_names().flatten().any(|name| name == "amount") {
        return entry.error(
            pattern.span(),
            &key("pattern"),
            "the pattern has no (?P<amount>…) group: name the part of the text that is the amount",
        );
    }
    let lower = |text: Option<String>| text.map(|t| t.to_lowercase()).filter(|t| !t.is_empty());
    Ok(MailRule {
        account,
        from: lower(rule.from),
        subject: lower(rule.subject),
        pattern: compiled,
        out_words: rule.out_words.unwrap_or_default().into_iter().map(|w| w.to_lowercase()).collect(),
        currency: rule.currency,
    })
}

impl crate::source::Kind for ImapConfig {
    /// One IMAP session per poll, however many accounts its rules feed.
    fn requests_per_poll(&self, _accounts: usize) -> u32 {
        1
    }

    /// A rule whose pattern reads the account from the mail names none here.
    fn named_accounts(&self) -> Vec<(String, String)> {
        self.rules
            .iter()
            .enumerate()
            .filter(|(_, rule)| !rule.pattern.capture_names().any(|name| name == Some("account")))
            .map(|(i, rule)| (format!("rule[{i}].account"), rule.account.clone()))
            .collect()
    }

    fn connect(
        &self,
        name: &str,
        _client: reqwest::Client,
        limits: HttpLimits,
    ) -> Result<Box<dyn Poller>, SourceError> {
        Ok(Box::new(Imap::new(name, self.clone(), limits)))
    }
}
