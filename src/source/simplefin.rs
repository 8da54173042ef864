//! The SimpleFIN protocol: `GET {access_url}/accounts?start-date=…&pending=1`.
//!
//! The access URL carries Basic credentials (`https://user:pass@bridge/simplefin`); they are taken out
//! of the URL, sent as an Authorization header, and never appear in a message. Amounts and balances
//! are decimal strings; unknown fields (`org`, `extra`, `holdings`, …) are ignored.

use chrono::{DateTime, Utc};
use reqwest::{Client, Url};
use serde_json::Value;

use super::fetch::{check_url, get, host_of};
use super::values::{amount, kind, not_json, text, time};
use super::{Poll, SourceError, once_each};
use crate::config::{HttpLimits, Secret};
use crate::model::{AccountRef, AccountStatus, Observation, Snapshot, Transaction, derive_ids, payee_key};

pub struct SimpleFin {
    source: String,
    base: Url,
    username: String,
    password: Secret,
    client: Client,
    limits: HttpLimits,
    host: String,
}

impl SimpleFin {
    pub fn new(source: &str, access_url: &Secret, client: Client, limits: HttpLimits) -> Result<Self, SourceError> {
        let mut base = check_url(access_url.expose(), limits.allow_insecure_http).map_err(SourceError::Setup)?;
        let username = percent_decode(base.username());
        let password = Secret::new(percent_decode(base.password().unwrap_or_default()));
        // Infallible for http(s) URLs, which check_url guarantees.
        let _ = base.set_username("");
        let _ = base.set_password(None);
        let host = host_of(&base);
        Ok(Self { source: source.to_owned(), base, username, password, client, limits, host })
    }

    pub async fn poll(
        &self,
        accounts: &[String],
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Poll, SourceError> {
        let url = format!("{}/accounts", self.base.as_str().trim_end_matches('/'));
        let request = self
            .client
            .get(url)
            .query(&[("start-date", since.timestamp().to_string()), ("pending", "1".to_owned())])
            .basic_auth(&self.username, Some(self.password.expose()));
        let body = get(request, &self.host, &self.limits).await?;
        self.parse(&body, accounts, now)
    }

    /// Turns an `/accounts` answer into per-account observations.
    pub fn parse(&self, body: &[u8], wanted: &[String], now: DateTime<Utc>) -> Result<Poll, SourceError> {
        let malformed = |detail: String| SourceError::Malformed { host: self.host.clone(), detail };
        let root: Value = serde_json::from_slice(body).map_err(|e| malformed(not_json(body, &e)))?;
        let Value::Object(root) = root else {
            return Err(malformed(format!("expected a JSON object, found {}", kind(&root))));
        };
        let warnings = platform_errors(&root);
        let statuses = account_statuses(&root);
        let accounts = match root.get("accounts") {
            // Nothing usable came back at all: a failed poll, which counts towards source_down,
            // not one "missing account" per configured account on a poll that succeeded.
            Some(Value::Array(a)) if a.is_empty() && !wanted.is_empty() => {
                if !warnings.is_empty() {
                    return Err(SourceError::Platform(warnings.join("; ")));
                }
                let why = "it lists no accounts at all; the bridge may have lost its connection to the bank";
                return Err(malformed(why.to_owned()));
            }
            Some(Value::Array(a)) => a.as_slice(),
            Some(other) => {
                return Err(malformed(format!("`accounts` should be an array, found {}", kind(other))));
            }
            None if !warnings.is_empty() => return Err(SourceError::Platform(warnings.join("; "))),
            None => return Err(malformed("no `accounts` in the answer".to_owned())),
        };
        let mut poll = Poll { warnings, ..Poll::default() };
        let mut found: Vec<(String, Result<Observation, SourceError>)> = Vec::new();
        for (i, account) in accounts.iter().enumerate() {
            let id = account.get("id").and_then(|v| text(v, "id").ok());
            let Some(id) = id else {
                return Err(malformed(format!("accounts[{i}] has no id")));
            };
            if !wanted.contains(&id) {
                poll.unconfigured.push(id);
                continue;
            }
            let status = statuses.get(id.as_str()).copied().unwrap_or(AccountStatus::Active);
            let observation =
                self.account(account, &id, status, now).map_err(|e| malformed(format!("account {id}: {e}")));
            found.push((id, observation));
        }
        for id in wanted {
            let result = match found.iter().position(|(f, _)| f == id) {
                Some(i) => found.swap_remove(i).1,
                None if !poll.warnings.is_empty() => Err(SourceError::Platform(poll.warnings.join("; "))),
                None => Err(SourceError::MissingAccount(id.clone())),
            };
            poll.accounts.push((id.clone(), result));
        }
        Ok(poll)
    }

    fn account(
        &self,
        account: &Value,
        id: &str,
        status: AccountStatus,
        now: DateTime<Utc>,
    ) -> Result<Observation, String> {
        let field = |name: &str| account.get(name).filter(|v| !v.is_null());
        let required = |name: &str| field(name).ok_or_else(|| format!("no `{name}`"));
        let balance = amount(required("balance")?, "balance")?;
        let available = field("available-balance").map(|v| amount(v, "available-balance")).transpose()?;
        let currency = text(required("currency")?, "currency")?;
        let as_of = field("balance-date").map(|v| time(v, "balance-date")).transpose()?;
        let mut transactions = match field("transactions") {
            None => Vec::new(),
            Some(Value::Array(txs)) => txs
                .iter()
                .enumerate()
                .map(|(i, tx)| transaction(tx, now).map_err(|e| format!("transactions[{i}]: {e}")))
                .collect::<Result<Vec<_>, _>>()?,
            Some(other) => {
                return Err(format!("`transactions` should be an array, found {}", kind(other)));
            }
        };
        derive_ids(&mut transactions);
        let transactions = once_each(transactions)?;
        Ok(Observation {
            account: AccountRef::new(self.source.clone(), id),
            name: field("name").and_then(|v| v.as_str()).map(str::to_owned),
            snapshot: Snapshot { observed_at: now, as_of, balance, available, currency, status, card_expiry: None },
            transactions,
        })
    }
}

fn transaction(tx: &Value, now: DateTime<Utc>) -> Result<Transaction, String> {
    let field = |name: &str| tx.get(name).filter(|v| !v.is_null());
    let id = field("id").map(|v| text(v, "id")).transpose()?.unwrap_or_default();
    let pending = match field("pending") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(format!("`pending` should be true or false, found {}", kind(other)));
        }
    };
    let amount = amount(field("amount").ok_or("no `amount`")?, "amount")?;
    // Pending transactions may carry posted = 0; fall back to when it happened, then to now.
    let posted = match field("posted").map(|v| time(v, "posted")).transpose()? {
        Some(t) if t.timestamp() > 0 => t,
        _ => match field("transacted_at") {
            Some(v) => time(v, "transacted_at")?,
            None if pending => now,
            None => return Err("no `posted` time".to_owned()),
        },
    };
    let description = field("description").map(|v| text(v, "description")).transpose()?.unwrap_or_default();
    let payee = field("payee").map(|v| text(v, "payee")).transpose()?.filter(|p| !p.trim().is_empty());
    let payee = payee.unwrap_or_else(|| description.clone());
    Ok(Transaction { id, posted, amount, payee_key: payee_key(&payee), payee, description, pending })
}

/// What `errlist` entries about one account (`act.*` codes with an `account_id`) say of its state:
/// closed for codes that say so, frozen for the rest (locked, suspended, blocked, …).
fn account_statuses(root: &serde_json::Map<String, Value>) -> std::collections::HashMap<&str, AccountStatus> {
    let mut statuses = std::collections::HashMap::new();
    if let Some(Value::Array(errors)) = root.get("errlist") {
        for e in errors {
            let code = e.get("code").and_then(Value::as_str).unwrap_or_default();
            let Some(account) = e.get("account_id").and_then(Value::as_str) else { continue };
            if let Some(rest) = code.strip_prefix("act.") {
                let status = if rest.contains("closed") { AccountStatus::Closed } else { AccountStatus::Frozen };
                statuses.insert(account, status);
            }
        }
    }
    statuses
}

/// `errors` (protocol 1: strings) and `errlist` (protocol 2: `{code, msg}`), as readable lines.
fn platform_errors(root: &serde_json::Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(Value::Array(errors)) = root.get("errors") {
        out.extend(errors.iter().filter_map(|e| e.as_str()).map(str::to_owned));
    }
    if let Some(Value::Array(errors)) = root.get("errlist") {
        for e in errors {
            let code = e.get("code").and_then(Value::as_str).unwrap_or("error");
            let msg = e.get("msg").and_then(Value::as_str).unwrap_or_default();
            out.push(format!("{code}: {msg}"));
        }
    }
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_leave_the_url() {
        let limits = HttpLimits {
            connect_timeout: std::time::Duration::from_secs(1),
            timeout: std::time::Duration::from_secs(1),
            max_body: 1024,
            allow_insecure_http: false,
        };
        let source = SimpleFin::new(
            "s",
            &Secret::new("https://us%40er:p%2Fss@bridge.example.com/simplefin"),
            Client::new(),
            limits,
        );
        let source = source.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(source.base.as_str(), "https://bridge.example.com/simplefin");
        assert_eq!(source.username, "us@er");
        assert_eq!(source.password.expose(), "p/ss");
    }
}
