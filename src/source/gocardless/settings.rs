//! `kind = "gocardless"`: GoCardless Bank Account Data, the user secrets that mint its tokens, and
//! the requisition (one bank link) whose accounts are read.

use serde::Deserialize;
use toml::Spanned;

use super::GoCardless;
use crate::config::{ConfigError, Credentials, Entry, HttpLimits, Secret, host};
use crate::source::{Poller, SourceError};

/// Where the API lives unless `api_base` says.
pub const API_BASE: &str = "https://bankaccountdata.gocardless.com";

#[derive(Debug, Clone)]
pub struct GoCardlessConfig {
    pub api_base: String,
    /// The user secrets from the Bank Account Data portal: they mint access tokens.
    pub secret_id: Secret,
    pub secret_key: Secret,
    /// The requisition the bank link was made with; its accounts are the ones read.
    pub requisition_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGoCardless {
    api_base: Option<Spanned<String>>,
    secret_id: Option<Secret>,
    secret_key: Option<Secret>,
    requisition_id: Option<Spanned<String>>,
}

impl crate::config::Kind for GoCardlessConfig {
    type Raw = RawGoCardless;

    fn validate(raw: RawGoCardless, entry: &Entry<'_>) -> Result<Self, ConfigError> {
        let missing =
            |field: &str, what: &str| entry.missing(field, format!("a gocardless source needs {field}: {what}"));
        let Some(secret_id) = raw.secret_id else {
            return missing(
                "secret_id",
                "the secret id from the Bank Account Data portal, e.g. \"${credential:gocardless-id}\"",
            );
        };
        let Some(secret_key) = raw.secret_key else {
            return missing(
                "secret_key",
                "the secret key that goes with secret_id, e.g. \"${credential:gocardless-key}\"",
            );
        };
        let Some(requisition_id) = raw.requisition_id else {
            return missing("requisition_id", "the id of the bank link, which `payguard gocardless-link` prints");
        };
        if requisition_id.get_ref().trim().is_empty() || requisition_id.get_ref().contains(['/', '?', '#']) {
            return entry.error(
                requisition_id.span(),
                "requisition_id",
                "requisition_id is an id like \"8126e9fb-93c9-4228-937c-68f0383c2df7\"",
            );
        }
        let api_base = match raw.api_base {
            None => API_BASE.to_owned(),
            Some(base) => {
                entry.url(base.span(), "api_base", base.get_ref(), entry.allow_insecure_http)?;
                base.into_inner().trim_end_matches('/').to_owned()
            }
        };
        Ok(GoCardlessConfig { api_base, secret_id, secret_key, requisition_id: requisition_id.into_inner() })
    }

    fn credentials<'a>(&'a self, found: &mut Credentials<'a>) {
        let GoCardlessConfig { api_base, secret_id, secret_key, requisition_id: _ } = self;
        found.url("api_base", api_base);
        found.token("secret_id", secret_id);
        found.token("secret_key", secret_key);
    }

    fn describe(&self) -> String {
        format!("{}, requisition {}", host(&self.api_base), self.requisition_id)
    }
}

impl crate::source::Kind for GoCardlessConfig {
    /// A balance and a transactions request per account; the token and the requisition are not
    /// counted by the bank (GoCardless limits account requests, as few as 4 a day per account).
    fn requests_per_poll(&self, accounts: usize) -> u32 {
        u32::try_from(accounts).unwrap_or(u32::MAX).saturating_mul(2)
    }

    fn renewal(&self) -> Option<&'static str> {
        Some("run `payguard gocardless-link --institution …` again and set the new requisition_id")
    }

    /// PSD2 lets a bank refuse more than four unattended reads a day per account.
    fn polls_allowed_per_day(&self) -> Option<u32> {
        Some(4)
    }

    fn connect(&self, name: &str, client: reqwest::Client, limits: HttpLimits) -> Result<Box<dyn Poller>, SourceError> {
        Ok(Box::new(GoCardless::new(name, self.clone(), client, limits)?))
    }
}
