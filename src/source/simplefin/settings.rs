//! `kind = "simplefin"`: one access URL, which carries the login the setup token was exchanged for.

use serde::Deserialize;
use toml::Spanned;

use super::SimpleFin;
use crate::config::{ConfigError, Credentials, Entry, HttpLimits, Secret, secret_host};
use crate::source::{Poller, SourceError};

#[derive(Debug, Clone)]
pub struct SimpleFinConfig {
    pub access_url: Secret,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSimpleFin {
    access_url: Option<Spanned<Secret>>,
}

impl crate::config::Kind for SimpleFinConfig {
    type Raw = RawSimpleFin;

    fn validate(raw: RawSimpleFin, entry: &Entry<'_>) -> Result<Self, ConfigError> {
        let Some(access_url) = raw.access_url else {
            return entry.missing(
                "access_url",
                "a simplefin source needs access_url (the URL the setup token was exchanged for), e.g. \"${file:/etc/payguard/simplefin-url}\"",
            );
        };
        let span = access_url.span();
        let access_url = access_url.into_inner();
        // A URL the config was loaded without (see `Secrets`) is checked where it is resolved.
        if let Ok(text) = access_url.expose() {
            entry.url(span, "access_url", text, entry.allow_insecure_http)?;
        }
        Ok(SimpleFinConfig { access_url })
    }

    fn credentials<'a>(&'a self, found: &mut Credentials<'a>) {
        let SimpleFinConfig { access_url } = self;
        found.secret_url("access_url", access_url, false);
    }

    fn describe(&self) -> String {
        secret_host(&self.access_url)
    }
}

impl crate::source::Kind for SimpleFinConfig {
    /// One request answers for every account.
    fn requests_per_poll(&self, _accounts: usize) -> u32 {
        1
    }

    /// SimpleFIN bridges ask for at most 24 requests a day.
    fn default_budget(&self) -> Option<u32> {
        Some(24)
    }

    fn connect(&self, name: &str, client: reqwest::Client, limits: HttpLimits) -> Result<Box<dyn Poller>, SourceError> {
        Ok(Box::new(SimpleFin::new(name, &self.access_url, client, limits)?))
    }
}
