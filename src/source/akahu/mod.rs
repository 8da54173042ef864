//! Akahu (New Zealand), as a personal app: the user token as `Authorization: Bearer` and the app
//! token as `X-Akahu-ID` on `GET {api_base}/accounts`, then per account
//! `GET {api_base}/accounts/{id}/transactions?start=…` (settled, paged) and
//! `GET {api_base}/accounts/{id}/transactions/pending`.
//!
//! Shapes are those of Akahu's API reference (developers.akahu.nz: `get_accounts`,
//! `get_accounts-id-transactions`, `get_accounts-id-transactions-pending`) and of its SDK's models
//! (github.com/akahu-io/akahu-sdk-js, `src/models/`): every answer is `{success, …}` with the
//! list under `items`; settled transactions come a page at a time, the next asked for with
//! `cursor` = the answer's `cursor.next` (null on the last page); `start` is exclusive, ISO 8601.
//! Amounts are JSON numbers, negative when money leaves the account. An account has `_id`,
//! `name`, `status` (`ACTIVE`, or `INACTIVE` when Akahu lost its access to the bank) and `balance`
//! `{currency, current, available?}`. A settled transaction has `_id`, `date`, `description`,
//! `amount` and, when Akahu enriched it, `merchant.name`; a pending one has no id and may change
//! its date or description before it settles.

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::{Client, RequestBuilder, Url};
use serde_json::Value;

mod settings;

use super::paged::{Api, Listing, Pages, items, next_of};
use super::values::{amount, text, time};
use super::{Poll, SourceError, once_each};
use crate::config::{HttpLimits, Secret};
use crate::model::{
    AccountRef, AccountStatus, BalanceSource, Observation, Snapshot, Transaction, derive_ids, payee_key,
};

pub use settings::{API_BASE, AkahuConfig};

pub struct Akahu {
    source: String,
    api: Api,
    user_token: Secret,
    app_token: Secret,
}

impl Akahu {
    pub fn new(source: &str, config: &AkahuConfig, client: Client, limits: HttpLimits) -> Result<Self, SourceError> {
        Ok(Akahu {
            source: source.to_owned(),
            api: Api::new(&config.api_base, &[&config.user_token, &config.app_token], client, limits)?,
            user_token: config.user_token.clone(),
            app_token: config.app_token.clone(),
        })
    }

    /// The accounts list, then each wanted account's transactions. Refused credentials or a rate
    /// limit on any request fail the poll; anything else fails only the account it concerns.
    async fn poll(&self, wanted: &[String], since: DateTime<Utc>, now: DateTime<Utc>) -> Result<Poll, SourceError> {
        let answer = self.ask(self.api.url(&["accounts"])).await?;
        let listed = items(&answer, "items").map_err(|e| self.api.malformed(format!("the accounts: {e}")))?;
        let listing = Listing::new(&self.api, listed, "_id", wanted)?;
        listing.read_each(wanted, |id, account| self.account(id, account, since, now)).await
    }

    /// One account: its settled transactions since `since` and its pending ones. An account Akahu
    /// can no longer refresh fails (and so, kept up, raises `source_down` for it): its balance
    /// would be an old one shown as today's.
    async fn account(
        &self,
        id: &str,
        account: &Value,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Observation, SourceError> {
        if account.get("status").and_then(Value::as_str) == Some("INACTIVE") {
            return Err(SourceError::Platform(format!(
                "Akahu has lost its access to account {id} (status INACTIVE); reconnect the bank at my.akahu.nz"
            )));
        }
        let settled = self.settled(id, since).await?;
        let answer = self.ask(self.api.url(&["accounts", id, "transactions", "pending"])).await?;
        let pending = items(&answer, "items")
            .map_err(|e| self.api.malformed(format!("pending transactions of account {id}: {e}")))?;
        observation(AccountRef::new(self.source.clone(), id), account, &settled, pending, now)
            .map_err(|detail| self.api.malformed(format!("account {id}: {detail}")))
    }

    /// Every settled transaction of account `id` after `since`, page by page.
    async fn settled(&self, id: &str, since: DateTime<Utc>) -> Result<Vec<Value>, SourceError> {
        let what = format!("transactions of account {id}");
        let mut url = self.api.url(&["accounts", id, "transactions"]);
        url.query_pairs_mut().append_pair("start", &since.to_rfc3339_opts(SecondsFormat::Millis, true));
        let mut pages = Pages::new(&what);
        let mut cursor: Option<String> = None;
        let mut all = Vec::new();
        loop {
            let mut page_url = url.clone();
            if let Some(cursor) = &cursor {
                page_url.query_pairs_mut().append_pair("cursor", cursor);
            }
            pages.turn(&self.api, page_url.as_str())?;
            let answer = self.ask(page_url).await?;
            let read = items(&answer, "items").and_then(|items| Ok((items, next_of(&answer, "/cursor/next")?)));
            let (items, next) = read.map_err(|e| self.api.malformed(format!("the {what}: {e}")))?;
            all.extend_from_slice(items);
            match next {
                Some(next) => cursor = Some(next),
                None => return Ok(all),
            }
        }
    }

    /// A GET with both tokens, read as JSON; an answer that says `success: false` is the
    /// platform's refusal, in its own words.
    async fn ask(&self, url: Url) -> Result<Value, SourceError> {
        let answer = self.api.json(self.authorised(self.api.get(url))?).await?;
        if answer.get("success") == Some(&Value::Bool(false)) {
            let message = answer.get("message").and_then(Value::as_str).unwrap_or("no reason given");
            return Err(SourceError::Platform(format!("Akahu refused the request: {message}")));
        }
        Ok(answer)
    }

    fn authorised(&self, request: RequestBuilder) -> Result<RequestBuilder, SourceError> {
        Ok(request.bearer_auth(self.user_token.expose()?).header("X-Akahu-ID", self.app_token.expose()?))
    }
}

/// An account and its transactions as an observation: `balance.current` is the balance,
/// `balance.available` what may be spent.
fn observation(
    account_ref: AccountRef,
    account: &Value,
    settled: &[Value],
    pending: &[Value],
    now: DateTime<Utc>,
) -> Result<Observation, String> {
    let balance = account.get("balance").filter(|v| !v.is_null()).ok_or("no `balance`")?;
    let field = |name: &str| balance.get(name).filter(|v| !v.is_null());
    let current = amount(field("current").ok_or("no `balance.current`")?, "balance.current")?;
    let available = field("available").map(|v| amount(v, "balance.available")).transpose()?;
    let currency = text(field("currency").ok_or("no `balance.currency`")?, "balance.currency")?;
    let read = |list: &[Value], name: &str, pending: bool| -> Result<Vec<Transaction>, String> {
        list.iter()
            .enumerate()
            .map(|(i, tx)| transaction(tx, pending).map_err(|e| format!("{name}[{i}]: {e}")))
            .collect()
    };
    let mut transactions = read(settled, "transactions", false)?;
    transactions.extend(read(pending, "pending transactions", true)?);
    derive_ids(&mut transactions);
    let transactions = once_each(transactions)?;
    let status = match account.get("status").and_then(Value::as_str) {
        Some("ACTIVE") => AccountStatus::Active,
        _ => AccountStatus::Unknown,
    };
    Ok(Observation {
        account: account_ref,
        name: account.get("name").and_then(Value::as_str).map(str::to_owned),
        snapshot: Snapshot { available, status, ..Snapshot::seen(current, currency, now) },
        transactions,
        balance: BalanceSource::Platform,
    })
}

/// A transaction, settled or pending. Pending ones have no id: one is derived from the fields
/// (`derive_ids`), so a pending transaction whose text changes is a new one, and the old one,
/// no longer listed, is no longer stuck.
fn transaction(tx: &Value, pending: bool) -> Result<Transaction, String> {
    let field = |name: &str| tx.get(name).filter(|v| !v.is_null());
    let id = if pending { None } else { field("_id").map(|v| text(v, "_id")).transpose()? };
    let amount = amount(field("amount").ok_or("no `amount`")?, "amount")?;
    let posted = time(field("date").ok_or("no `date`")?, "date")?;
    let description = field("description").map(|v| text(v, "description")).transpose()?.unwrap_or_default();
    let merchant = tx.pointer("/merchant/name").and_then(Value::as_str).filter(|m| !m.trim().is_empty());
    let payee = merchant.map_or_else(|| description.clone(), str::to_owned);
    Ok(Transaction {
        id: id.unwrap_or_default(),
        posted,
        amount,
        payee_key: payee_key(&payee),
        payee,
        description,
        pending,
    })
}

impl super::Poller for Akahu {
    fn poll<'a>(&'a self, accounts: &'a [String], since: DateTime<Utc>, now: DateTime<Utc>) -> super::PollFuture<'a> {
        Box::pin(Akahu::poll(self, accounts, since, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Value {
        serde_json::from_str(text).unwrap_or_default()
    }

    /// Akahu's sign convention: `amount` is a JSON number, negative when money leaves the
    /// account, read from its text (never through a float).
    #[test]
    fn amounts_signs_and_types() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            (r#"{"_id": "t", "date": "2026-09-20T00:00:00Z", "amount": -12.34}"#, Ok("-12.34")),
            (r#"{"_id": "t", "date": "2026-09-20T00:00:00Z", "amount": 2500}"#, Ok("2500")),
            (r#"{"_id": "t", "date": "2026-09-20T00:00:00Z", "amount": 0.1}"#, Ok("0.1")),
            (
                r#"{"_id": "t", "date": "2026-09-20T00:00:00Z", "amount": -0.30000000000000004}"#,
                Ok("-0.30000000000000004"),
            ),
            (r#"{"_id": "t", "date": "2026-09-20T00:00:00Z", "amount": "-5.00"}"#, Ok("-5.00")),
            (r#"{"_id": "t", "date": "2026-09-20T00:00:00Z", "amount": true}"#, Err("should be a decimal amount")),
            (r#"{"_id": "t", "date": "2026-09-20T00:00:00Z"}"#, Err("no `amount`")),
            (r#"{"_id": "t", "amount": 1}"#, Err("no `date`")),
        ];
        for (tx, expected) in cases {
            match (transaction(&parsed(tx), false), expected) {
                (Ok(t), Ok(text)) => assert_eq!(t.amount.to_string(), *text, "{tx}"),
                (Err(error), Err(needle)) => assert!(error.contains(needle), "{tx}: {error}"),
                (got, _) => panic!("{tx}: expected {expected:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn payees_ids_and_pending() {
        let enriched = parsed(
            r#"{"_id": "trans_1", "date": "2026-09-20T01:00:00Z", "amount": -4.5, "description": "POS 1234 COFFEE", "merchant": {"_id": "m", "name": "Coffee Co"}}"#,
        );
        let t = transaction(&enriched, false).expect("a transaction");
        assert_eq!(
            (t.id.as_str(), t.payee.as_str(), t.description.as_str(), t.pending),
            ("trans_1", "Coffee Co", "POS 1234 COFFEE", false)
        );
        // A pending transaction's id, were one sent, is not Akahu's promise: ids are derived.
        let pending =
            parsed(r#"{"_id": "x", "date": "2026-09-20T01:00:00Z", "amount": -4.5, "description": "COFFEE"}"#);
        let t = transaction(&pending, true).expect("a pending transaction");
        assert_eq!((t.id.as_str(), t.payee.as_str(), t.pending), ("", "COFFEE", true));
        let account = parsed(
            r#"{"_id": "acc_1", "name": "Everyday", "status": "ACTIVE", "balance": {"currency": "NZD", "current": 100.5, "available": 90}}"#,
        );
        let now = DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default();
        let o = observation(AccountRef::new("a", "acc_1"), &account, &[], &[pending.clone(), pending], now);
        let o = o.expect("an observation");
        assert_eq!(
            (o.snapshot.balance.to_string(), o.snapshot.available.map(|a| a.to_string())),
            ("100.5".into(), Some("90".into()))
        );
        assert_eq!(o.snapshot.status, AccountStatus::Active);
        assert_eq!(o.transactions.len(), 2, "two identical pending charges stay two");
        assert!(o.transactions.iter().all(|t| t.id.starts_with("derived:")));
        let no_balance = parsed(r#"{"_id": "acc_1", "status": "ACTIVE"}"#);
        assert!(
            observation(AccountRef::new("a", "acc_1"), &no_balance, &[], &[], now).is_err_and(|e| e == "no `balance`")
        );
    }
}
