//! `kind = "akahu"`: Akahu's API as a personal app: the user token and the app token that
//! my.akahu.nz shows for it.

use serde::Deserialize;
use toml::Spanned;

use super::Akahu;
use crate::config::{ConfigError, Credentials, Entry, HttpLimits, Secret, host, redacted};
use crate::source::{Poller, SourceError};

/// Akahu's production API (its SDK's default host, API version `v1`).
pub const API_BASE: &str = "https://api.akahu.io/v1";

#[derive(Clone)]
pub struct AkahuConfig {
    /// Where Akahu's API is: [`API_BASE`] unless the config says otherwise (a test server).
    pub api_base: String,
    /// The user access token, sent as `Authorization: Bearer`.
    pub user_token: Secret,
    /// The app's token, sent as `X-Akahu-ID`.
    pub app_token: Secret,
}

/// Shows `api_base` without a login or query a credential could sit in.
impl std::fmt::Debug for AkahuConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AkahuConfig")
            .field("api_base", &redacted(&self.api_base))
            .field("user_token", &self.user_token)
            .field("app_token", &self.app_token)
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAkahu {
    api_base: Option<Spanned<String>>,
    user_token: Option<Secret>,
    app_token: Option<Secret>,
}

impl crate::config::Kind for AkahuConfig {
    type Raw = RawAkahu;

    const HINTS: &'static [(&'static str, &'static str)] = &[(
        "token",
        "an akahu source takes `user_token` and `app_token`, both shown at my.akahu.nz for a personal app",
    )];

    fn validate(raw: RawAkahu, entry: &Entry<'_>) -> Result<Self, ConfigError> {
        let needs = |key: &str, what: &str| {
            format!(
                "an akahu source needs {key}, {what} (shown for your personal app at my.akahu.nz), e.g. \"${{file:/etc/payguard/akahu-{}}}\"",
                key.replace('_', "-")
            )
        };
        let Some(user_token) = raw.user_token else {
            return entry.missing("user_token", needs("user_token", "the personal app's user token"));
        };
        let Some(app_token) = raw.app_token else {
            return entry.missing("app_token", needs("app_token", "the personal app's app token"));
        };
        let api_base = crate::source::paged::api_base(raw.api_base, API_BASE, entry)?;
        Ok(AkahuConfig { api_base, user_token, app_token })
    }

    fn credentials<'a>(&'a self, found: &mut Credentials<'a>) {
        let AkahuConfig { api_base, user_token, app_token } = self;
        found.url("api_base", api_base);
        found.token("user_token", user_token);
        found.token("app_token", app_token);
    }

    fn describe(&self) -> String {
        host(&self.api_base)
    }
}

impl crate::source::Kind for AkahuConfig {
    /// The accounts list, then per account its settled transactions since the window's start and
    /// its pending ones: one request each when the settled list fits a page. Each further page is
    /// one more request, which this estimate, and so the budget, does not see ahead.
    fn requests_per_poll(&self, accounts: usize) -> u32 {
        u32::try_from(accounts).unwrap_or(u32::MAX).saturating_mul(2).saturating_add(1)
    }

    fn connect(&self, name: &str, client: reqwest::Client, limits: HttpLimits) -> Result<Box<dyn Poller>, SourceError> {
        Ok(Box::new(Akahu::new(name, self, client, limits)?))
    }
}
