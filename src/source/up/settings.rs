//! `kind = "up"`: Up's API and the personal access token a customer makes at api.up.com.au.

use serde::Deserialize;
use toml::Spanned;

use super::Up;
use crate::config::{ConfigError, Credentials, Entry, HttpLimits, Secret, host, redacted};
use crate::source::{Poller, SourceError};

/// Up's production API (`servers` in its OpenAPI document).
pub const API_BASE: &str = "https://api.up.com.au/api/v1";

#[derive(Clone)]
pub struct UpConfig {
    /// Where Up's API is: [`API_BASE`] unless the config says otherwise (a test server).
    pub api_base: String,
    /// The personal access token, sent as `Authorization: Bearer`.
    pub token: Secret,
}

/// Shows `api_base` without a login or query a credential could sit in.
impl std::fmt::Debug for UpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpConfig").field("api_base", &redacted(&self.api_base)).field("token", &self.token).finish()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUp {
    api_base: Option<Spanned<String>>,
    token: Option<Secret>,
}

impl crate::config::Kind for UpConfig {
    type Raw = RawUp;

    const HINTS: &'static [(&'static str, &'static str)] =
        &[("access_url", "an up source takes `token`, the personal access token from api.up.com.au")];

    fn validate(raw: RawUp, entry: &Entry<'_>) -> Result<Self, ConfigError> {
        let Some(token) = raw.token else {
            return entry.missing(
                "token",
                "an up source needs token, the personal access token made at https://api.up.com.au, e.g. \"${file:/etc/payguard/up-token}\"",
            );
        };
        let api_base = crate::source::paged::api_base(raw.api_base, API_BASE, entry)?;
        Ok(UpConfig { api_base, token })
    }

    fn credentials<'a>(&'a self, found: &mut Credentials<'a>) {
        let UpConfig { api_base, token } = self;
        found.url("api_base", api_base);
        found.token("token", token);
    }

    fn describe(&self) -> String {
        host(&self.api_base)
    }
}

impl crate::source::Kind for UpConfig {
    /// The accounts list, then per account its settled transactions since the window's start and
    /// its held ones: one request each when every list fits a page (100 items). Each further page
    /// is one more request, which this estimate, and so the budget, does not see ahead.
    fn requests_per_poll(&self, accounts: usize) -> u32 {
        u32::try_from(accounts).unwrap_or(u32::MAX).saturating_mul(2).saturating_add(1)
    }

    fn connect(&self, name: &str, client: reqwest::Client, limits: HttpLimits) -> Result<Box<dyn Poller>, SourceError> {
        Ok(Box::new(Up::new(name, self, client, limits)?))
    }
}
