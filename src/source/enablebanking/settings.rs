//! `kind = "enablebanking"`: Enable Banking (EU/EEA banks through PSD2), the application that signs
//! the requests (its id and RSA private key) and the session (one bank consent) whose accounts are
//! read.

use serde::Deserialize;
use toml::Spanned;

use super::EnableBanking;
use crate::config::{ConfigError, Credentials, Entry, HttpLimits, Secret, host};
use crate::source::{Poller, SourceError};

/// Where the API lives unless `api_base` says (the API reference's server).
pub const API_BASE: &str = "https://api.enablebanking.com";

#[derive(Debug, Clone)]
pub struct EnableBankingConfig {
    pub api_base: String,
    /// The application id from the Enable Banking control panel: the JWT's `kid`.
    pub application_id: String,
    /// Where the application's private key was read from, for messages.
    pub private_key: String,
    /// The private key's PEM text, as read when the config was loaded; `None` when it was loaded
    /// without its secrets (`Secrets::Skip`), which never polls.
    pub key: Option<Secret>,
    /// The authorised session (`payguard enablebanking-link` writes it to a file): with a signed
    /// token it reads the accounts, so it is kept like a credential.
    pub session_id: Secret,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEnableBanking {
    api_base: Option<Spanned<String>>,
    application_id: Option<Spanned<String>>,
    private_key: Option<Spanned<String>>,
    session_id: Option<Secret>,
}

impl crate::config::Kind for EnableBankingConfig {
    type Raw = RawEnableBanking;

    fn validate(raw: RawEnableBanking, entry: &Entry<'_>) -> Result<Self, ConfigError> {
        let Some(application_id) = raw.application_id else {
            return entry.missing(
                "application_id",
                "an enablebanking source needs application_id, the id the Enable Banking control panel shows for your application",
            );
        };
        if !is_id(application_id.get_ref()) {
            return entry.error(
                application_id.span(),
                "application_id",
                "application_id is an id like \"cf589be3-3755-465b-a8df-a90a16a31403\", as the control panel shows it",
            );
        }
        let Some(private_key) = raw.private_key else {
            return entry.missing(
                "private_key",
                "an enablebanking source needs private_key, the path of the application's private key (the PEM file saved when the application was registered)",
            );
        };
        let Some(session_id) = raw.session_id else {
            return entry.missing(
                "session_id",
                "an enablebanking source needs session_id: run `payguard enablebanking-link` to link your bank, then set session_id = \"${file:/etc/payguard/enablebanking-session}\" (the file it wrote)",
            );
        };
        if let Ok(id) = session_id.expose()
            && !is_id(id)
        {
            return entry.error_at_key(
                "session_id",
                "session_id is an id like \"4b6e7c2a-…\" (one line, no spaces or slashes): give the file `payguard enablebanking-link` wrote, as it is",
            );
        }
        let api_base = crate::source::paged::api_base(raw.api_base, API_BASE, entry)?;
        let key = entry.file(private_key.span(), "private_key", private_key.get_ref(), true)?;
        if let Some(pem) = &key
            && let Err(why) = super::jwt::parse_key(pem)
        {
            return entry.error(
                private_key.span(),
                "private_key",
                format!(
                    "{} {why}: give the RSA private key saved when the application was registered in the Enable Banking control panel",
                    private_key.get_ref()
                ),
            );
        }
        Ok(EnableBankingConfig {
            api_base,
            application_id: application_id.into_inner(),
            private_key: private_key.into_inner(),
            key: key.map(Secret::new),
            session_id,
        })
    }

    fn credentials<'a>(&'a self, found: &mut Credentials<'a>) {
        // The key's file is judged where it is read (`Entry::file`); the key is not in the config.
        let EnableBankingConfig { api_base, application_id: _, private_key: _, key: _, session_id } = self;
        found.url("api_base", api_base);
        found.token("session_id", session_id);
    }

    fn describe(&self) -> String {
        format!("{}, application {}", host(&self.api_base), self.application_id)
    }
}

/// An id as Enable Banking gives them (UUIDs): one word that is safe in a URL path and a JWT header.
pub(super) fn is_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 128
        && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl crate::source::Kind for EnableBankingConfig {
    /// The session, then a balance and (one page of) transactions per account. The session is not
    /// a read of the bank; each further page of transactions is, which this does not see ahead.
    fn requests_per_poll(&self, accounts: usize) -> u32 {
        u32::try_from(accounts).unwrap_or(u32::MAX).saturating_mul(2).saturating_add(1)
    }

    fn renewal(&self) -> Option<&'static str> {
        Some("run `payguard enablebanking-link` again and point session_id at the new session's file")
    }

    /// PSD2 lets a bank refuse more than four unattended reads a day per account.
    fn polls_allowed_per_day(&self) -> Option<u32> {
        Some(4)
    }

    fn connect(&self, name: &str, client: reqwest::Client, limits: HttpLimits) -> Result<Box<dyn Poller>, SourceError> {
        Ok(Box::new(EnableBanking::new(name, self, client, limits)?))
    }
}
