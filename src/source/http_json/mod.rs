//! Any platform's JSON API, described in the config by URL templates and JSON pointers.
//!
//! Each account costs one GET for the balance and one for the transactions (one in all when both
//! templates are the same URL). An account whose answer does not fit the mapping fails as a whole.

use chrono::{DateTime, Utc};
use reqwest::{Client, RequestBuilder};
use serde_json::Value;

mod settings;

use super::fetch::{check_url, get, host_of};
use super::values::{amount, kind, text, time, unreadable};
use super::{Poll, SourceError, once_each};
use crate::config::{HttpAuth, HttpLimits};

use crate::model::{
    AccountRef, AccountStatus, BalanceSource, Observation, Snapshot, Transaction, derive_ids, payee_key,
};
pub use settings::{HttpJsonConfig, Mapping};

pub struct HttpJson {
    source: String,
    config: Box<HttpJsonConfig>,
    client: Client,
    limits: HttpLimits,
}

impl HttpJson {
    pub fn new(source: &str, config: Box<HttpJsonConfig>, client: Client, limits: HttpLimits) -> Self {
        Self { source: source.to_owned(), config, client, limits }
    }

    /// Reads every account. The platform itself is judged down (for `source_down`, budgets and
    /// `Retry-After`) when it refuses the credentials or rate-limits any request, or when no account
    /// could be fetched at all; data that was fetched but is unusable fails only its account.
    async fn poll(&self, accounts: &[String], _since: DateTime<Utc>, now: DateTime<Utc>) -> Result<Poll, SourceError> {
        let mut poll = Poll::default();
        for account in accounts {
            let result = self.poll_account(account, now).await;
            if let Err(e @ (SourceError::Auth { .. } | SourceError::RateLimited { .. })) = &result {
                return Err(e.clone());
            }
            poll.accounts.push((account.clone(), result));
        }
        let unreachable = |r: &Result<Observation, SourceError>| matches!(r, Err(e) if !matches!(e, SourceError::Malformed { .. } | SourceError::MissingAccount(_)));
        if !poll.accounts.is_empty()
            && poll.accounts.iter().all(|(_, r)| unreachable(r))
            && let Some((_, Err(first))) = poll.accounts.drain(..).next()
        {
            return Err(first);
        }
        Ok(poll)
    }

    async fn poll_account(&self, account: &str, now: DateTime<Utc>) -> Result<Observation, SourceError> {
        let balance_url = expand(&self.config.balance_url, account);
        let transactions_url = expand(&self.config.transactions_url, account);
        let balance_doc = self.fetch(&balance_url).await?;
        let transactions_doc =
            if transactions_url == balance_url { balance_doc.clone() } else { self.fetch(&transactions_url).await? };
        let host = check_url(&balance_url, self.limits.allow_insecure_http).map(|u| host_of(&u)).unwrap_or_default();
        map_account(&self.config, &AccountRef::new(self.source.clone(), account), &balance_doc, &transactions_doc, now)
            .map_err(|detail| SourceError::Malformed { host, detail: format!("account {account}: {detail}") })
    }

    async fn fetch(&self, url: &str) -> Result<Value, SourceError> {
        let parsed = check_url(url, self.limits.allow_insecure_http).map_err(SourceError::Setup)?;
        let host = host_of(&parsed);
        let body = get(authorise(self.client.get(parsed), &self.config.auth)?, &host, &self.limits).await?;
        let secrets = crate::config::secrets_of_kind(self.config.as_ref());
        serde_json::from_slice(&body).map_err(|_| SourceError::Malformed { host, detail: unreadable(&body, &secrets) })
    }
}

/// Adds the configured credentials to a request (shared with the http-json notice source).
pub(super) fn authorise(request: RequestBuilder, auth: &HttpAuth) -> Result<RequestBuilder, SourceError> {
    Ok(match auth {
        HttpAuth::None => request,
        HttpAuth::Bearer(token) => request.bearer_auth(token.expose()?),
        HttpAuth::Basic { username, password } => request.basic_auth(username, Some(password.expose()?)),
        HttpAuth::Header { name, value } => request.header(name.as_str(), value.expose()?),
    })
}

/// `{account}` in a template becomes the account id, percent-encoded for a URL path.
fn expand(template: &str, account: &str) -> String {
    template.replace("{account}", &super::fetch::segment(account))
}

/// Reads one account out of its balance and transactions documents by the configured pointers.
pub fn map_account(
    config: &HttpJsonConfig,
    account: &AccountRef,
    balance_doc: &Value,
    transactions_doc: &Value,
    now: DateTime<Utc>,
) -> Result<Observation, String> {
    let m = &config.mapping;
    let at = |doc: &'_ Value, pointer: &str, what: &str| -> Result<Value, String> {
        doc.pointer(pointer)
            .filter(|v| !v.is_null())
            .cloned()
            .ok_or_else(|| format!("nothing at {pointer:?} for {what}"))
    };
    let balance = amount(&at(balance_doc, &m.balance, "balance")?, "balance")?;
    // Optional fields may be missing from an answer; when present they must be right.
    let optional =
        |pointer: &Option<String>| pointer.as_deref().and_then(|p| balance_doc.pointer(p)).filter(|v| !v.is_null());
    let available = optional(&m.available).map(|v| amount(v, "available")).transpose()?;
    let currency = match (&m.currency, &config.currency) {
        (Some(p), _) => text(&at(balance_doc, p, "currency")?, "currency")?,
        (None, Some(fixed)) => fixed.clone(),
        (None, None) => return Err("no currency configured".to_owned()),
    };
    let status = optional(&m.status).map(status_of);
    let list = match transactions_doc.pointer(&m.transactions) {
        Some(Value::Array(items)) => items.as_slice(),
        Some(other) => {
            return Err(format!("{:?} should be an array of transactions, found {}", m.transactions, kind(other)));
        }
        None => {
            return Err(format!("nothing at {:?} for the transactions", m.transactions));
        }
    };
    let mut transactions = list
        .iter()
        .enumerate()
        .map(|(i, tx)| map_transaction(m, tx).map_err(|e| format!("transaction {i}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    derive_ids(&mut transactions);
    let transactions = once_each(transactions)?;
    Ok(Observation {
        account: account.clone(),
        name: None,
        snapshot: Snapshot { available, status: status.unwrap_or_default(), ..Snapshot::seen(balance, currency, now) },
        transactions,
        balance: BalanceSource::Platform,
    })
}

fn map_transaction(m: &Mapping, tx: &Value) -> Result<Transaction, String> {
    let get = |pointer: &str| tx.pointer(pointer).filter(|v| !v.is_null());
    let optional_text = |pointer: &Option<String>, what: &str| -> Result<Option<String>, String> {
        pointer.as_deref().and_then(get).map(|v| text(v, what)).transpose()
    };
    let amount = amount(get(&m.amount).ok_or_else(|| format!("nothing at {:?} for the amount", m.amount))?, "amount")?;
    let posted = time(get(&m.posted).ok_or_else(|| format!("nothing at {:?} for the time", m.posted))?, "time")?;
    let id = optional_text(&m.id, "id")?.unwrap_or_default();
    let description = optional_text(&m.description, "description")?.unwrap_or_default();
    let payee =
        optional_text(&m.payee, "payee")?.filter(|p| !p.trim().is_empty()).unwrap_or_else(|| description.clone());
    let pending = match m.pending.as_deref().and_then(get) {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(v) => {
            let value = text(v, "pending")?;
            m.pending_values.iter().any(|p| p.eq_ignore_ascii_case(&value))
        }
    };
    Ok(Transaction { id, posted, amount, payee_key: payee_key(&payee), payee, description, pending })
}

fn status_of(value: &Value) -> AccountStatus {
    let text = value.as_str().map(str::to_ascii_lowercase).unwrap_or_default();
    match text.as_str() {
        "active" | "open" | "enabled" | "ok" => AccountStatus::Active,
        "frozen" | "blocked" | "suspended" | "locked" => AccountStatus::Frozen,
        "closed" | "terminated" => AccountStatus::Closed,
        _ => AccountStatus::Unknown,
    }
}

impl super::Poller for HttpJson {
    fn poll<'a>(&'a self, accounts: &'a [String], since: DateTime<Utc>, now: DateTime<Utc>) -> super::PollFuture<'a> {
        Box::pin(HttpJson::poll(self, accounts, since, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_encoded_into_the_path() {
        assert_eq!(expand("https://x/acc/{account}/tx", "a b/c"), "https://x/acc/a%20b%2Fc/tx");
    }
}
