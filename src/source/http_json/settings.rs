//! `kind = "http-json"` for accounts: URL templates for the balance and the transactions, and JSON
//! pointers (RFC 6901) saying where each field is in the answers.

use serde::Deserialize;
use toml::Spanned;

use super::HttpJson;
use crate::config::{ConfigError, Credentials, Entry, HttpAuth, HttpLimits, RawAuth, host, redacted};
use crate::source::{Poller, SourceError};

/// A JSON API described by URL templates and JSON pointers.
#[derive(Clone)]
pub struct HttpJsonConfig {
    /// URL templates; `{account}` is replaced by the account id.
    pub balance_url: String,
    pub transactions_url: String,
    pub auth: HttpAuth,
    /// The currency when the API does not say (`mapping.currency` unset).
    pub currency: Option<String>,
    pub mapping: Mapping,
}

/// Shows the URLs without the login or query an API key may sit in.
impl std::fmt::Debug for HttpJsonConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpJsonConfig")
            .field("balance_url", &redacted(&self.balance_url))
            .field("transactions_url", &redacted(&self.transactions_url))
            .field("auth", &self.auth)
            .field("currency", &self.currency)
            .field("mapping", &self.mapping)
            .finish()
    }
}

/// Where each field lives in the API's answers.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub balance: String,
    pub available: Option<String>,
    pub currency: Option<String>,
    pub status: Option<String>,
    /// The array of transactions in the transactions answer (`""` for a bare array).
    pub transactions: String,
    /// Inside one transaction:
    pub id: Option<String>,
    pub posted: String,
    pub amount: String,
    pub payee: Option<String>,
    pub description: Option<String>,
    pub pending: Option<String>,
    /// Values of `pending` that mean the transaction is not settled (a JSON `true` always does).
    pub pending_values: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttpJson {
    balance_url: Option<Spanned<String>>,
    transactions_url: Option<Spanned<String>>,
    currency: Option<String>,
    auth: Option<RawAuth>,
    mapping: Option<RawMapping>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMapping {
    balance: String,
    available: Option<String>,
    currency: Option<String>,
    status: Option<String>,
    #[serde(default)]
    transactions: String,
    id: Option<String>,
    posted: String,
    amount: String,
    payee: Option<String>,
    description: Option<String>,
    pending: Option<String>,
    #[serde(default)]
    pending_values: Vec<String>,
}

impl crate::config::Kind for HttpJsonConfig {
    type Raw = RawHttpJson;

    fn validate(raw: RawHttpJson, entry: &Entry<'_>) -> Result<Self, ConfigError> {
        let mut urls = Vec::new();
        for (field, value) in [("balance_url", raw.balance_url), ("transactions_url", raw.transactions_url)] {
            let Some(value) = value else {
                return entry.missing(
                    field,
                    format!("an http-json source needs {field}, a URL template with {{account}} in it"),
                );
            };
            let example = value.get_ref().replace("{account}", "x");
            entry.url(value.span(), field, &example, entry.allow_insecure_http)?;
            urls.push(value.into_inner());
        }
        let Some(mapping) = raw.mapping else {
            return entry.missing(
                "mapping",
                "an http-json source needs a [source.mapping] table saying where balance, posted and amount are",
            );
        };
        if mapping.currency.is_none() && raw.currency.is_none() {
            return entry.missing(
                "currency",
                "an http-json source needs `currency` (like \"EUR\") or `mapping.currency` (a pointer)",
            );
        }
        let transactions_url = urls.pop().unwrap_or_default();
        let balance_url = urls.pop().unwrap_or_default();
        Ok(HttpJsonConfig {
            balance_url,
            transactions_url,
            auth: RawAuth::into_auth(raw.auth),
            currency: raw.currency,
            mapping: Mapping {
                balance: mapping.balance,
                available: mapping.available,
                currency: mapping.currency,
                status: mapping.status,
                transactions: mapping.transactions,
                id: mapping.id,
                posted: mapping.posted,
                amount: mapping.amount,
                payee: mapping.payee,
                description: mapping.description,
                pending: mapping.pending,
                pending_values: mapping.pending_values,
            },
        })
    }

    fn credentials<'a>(&'a self, found: &mut Credentials<'a>) {
        let HttpJsonConfig { balance_url, transactions_url, auth, currency: _, mapping: _ } = self;
        found.url("balance_url", balance_url);
        found.url("transactions_url", transactions_url);
        found.auth(auth);
    }

    fn describe(&self) -> String {
        host(&self.balance_url)
    }
}

impl crate::source::Kind for HttpJsonConfig {
    /// One request when balance and transactions share a URL, two otherwise.
    fn requests_per_poll(&self, accounts: usize) -> u32 {
        let accounts = u32::try_from(accounts).unwrap_or(u32::MAX);
        if self.balance_url == self.transactions_url { accounts } else { accounts.saturating_mul(2) }
    }

    fn connect(&self, name: &str, client: reqwest::Client, limits: HttpLimits) -> Result<Box<dyn Poller>, SourceError> {
        Ok(Box::new(HttpJson::new(name, Box::new(self.clone()), client, limits)))
    }
}
