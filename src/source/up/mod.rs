//! Up (Australia): a customer's own accounts through a personal access token, sent as
//! `Authorization: Bearer` to `GET {api_base}/accounts` and `GET {api_base}/accounts/{id}/transactions`.
//!
//! Shapes are those of Up's OpenAPI document (github.com/up-banking/api, `v1/openapi.json`):
//! lists are `{data: [resource…], links: {prev, next}}`, paged by following `links.next` (a full
//! URL, null on the last page); a resource is `{type, id, attributes}`. Money is a `MoneyObject`
//! `{currencyCode, value: "-12.34", valueInBaseUnits: -1234}`, negative when money leaves the
//! account. An account's `attributes.balance` is its *available* balance, holds included. A
//! transaction's `attributes` have `status` (`HELD` or `SETTLED`), `description` (usually the
//! merchant), `rawText` (the bank's text, nullable), `createdAt`, and `settledAt` (null while held).
//! Up documents no rate-limit headers; a 429 is read like any platform's.

use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::{Client, Url};
use rust_decimal::Decimal;
use serde_json::Value;

mod settings;

use super::paged::{Api, Listing, Pages, items, next_of};
use super::values::{amount, text, time};
use super::{Poll, SourceError, once_each};
use crate::config::{HttpLimits, Secret};
use crate::model::{AccountRef, BalanceSource, Observation, Snapshot, Transaction, derive_ids, payee_key};

pub use settings::{API_BASE, UpConfig};

/// Up serves at most 100 items a page.
const PAGE_SIZE: &str = "100";

pub struct Up {
    source: String,
    api: Api,
    token: Secret,
}

impl Up {
    pub fn new(source: &str, config: &UpConfig, client: Client, limits: HttpLimits) -> Result<Self, SourceError> {
        Ok(Up {
            source: source.to_owned(),
            api: Api::new(&config.api_base, &[&config.token], client, limits)?,
            token: config.token.clone(),
        })
    }

    /// The accounts list, then each wanted account's transactions. Refused credentials or a rate
    /// limit on any request fail the poll; anything else fails only the account it concerns.
    async fn poll(&self, wanted: &[String], since: DateTime<Utc>, now: DateTime<Utc>) -> Result<Poll, SourceError> {
        let first = with_query(self.api.url(&["accounts"]), &[("page[size]", PAGE_SIZE)]);
        let listed = &self.list(first, "accounts").await?;
        let listing = Listing::new(&self.api, listed, "id", wanted)?;
        listing.read_each(wanted, |id, account| self.account(id, account, since, now)).await
    }

    /// One account: its settled transactions since `since`, and every held one, however old: the
    /// settled balance is the available balance less what is held (see [`observation`]), and a
    /// hold older than the window still counts in it.
    async fn account(
        &self,
        id: &str,
        account: &Value,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Observation, SourceError> {
        let url = self.api.url(&["accounts", id, "transactions"]);
        let what = format!("transactions of account {id}");
        let since = since.to_rfc3339_opts(SecondsFormat::Secs, true);
        let settled_query =
            [("filter[status]", "SETTLED"), ("filter[since]", since.as_str()), ("page[size]", PAGE_SIZE)];
        let settled = self.list(with_query(url.clone(), &settled_query), &what).await?;
        let held_query = [("filter[status]", "HELD"), ("page[size]", PAGE_SIZE)];
        let held = self.list(with_query(url, &held_query), &what).await?;
        observation(AccountRef::new(self.source.clone(), id), account, &settled, &held, now)
            .map_err(|detail| self.api.malformed(format!("account {id}: {detail}")))
    }

    /// Every item of a list, following `links.next` from the first page at `first`.
    async fn list(&self, first: Url, what: &str) -> Result<Vec<Value>, SourceError> {
        let mut pages = Pages::new(what);
        let mut url = first;
        let mut all = Vec::new();
        loop {
            pages.turn(&self.api, url.as_str())?;
            let page = self.api.json(self.api.get(url).bearer_auth(self.token.expose()?)).await?;
            let read = items(&page, "data").and_then(|data| Ok((data, next_of(&page, "/links/next")?)));
            let (data, next) = read.map_err(|e| self.api.malformed(format!("the {what}: {e}")))?;
            all.extend_from_slice(data);
            let Some(next) = next else { return Ok(all) };
            url = self.api.link(&next)?;
        }
    }
}

/// `url` asking with `query`.
fn with_query(mut url: Url, query: &[(&str, &str)]) -> Url {
    url.query_pairs_mut().extend_pairs(query);
    url
}

/// An account resource and its transactions as an observation.
///
/// Up's balance is what is available, holds taken off; payguard's balance is the settled one,
/// which the settled transactions explain (`unexplained_change` compares them), so the holds
/// are added back: settled = available − Σ held amounts (held debits are negative). A
/// transaction listed both settled and held (it settled between the two requests) counts as
/// settled.
fn observation(
    account_ref: AccountRef,
    account: &Value,
    settled: &[Value],
    held: &[Value],
    now: DateTime<Utc>,
) -> Result<Observation, String> {
    let attributes = account.get("attributes").ok_or("no `attributes`")?;
    let (available, currency) = money(attributes.get("balance").ok_or("no `attributes.balance`")?, "balance")?;
    let read = |list: &[Value], name: &str| -> Result<Vec<Transaction>, String> {
        list.iter().enumerate().map(|(i, tx)| transaction(tx, now).map_err(|e| format!("{name}[{i}]: {e}"))).collect()
    };
    let settled = read(settled, "settled transactions")?;
    let settled_ids: HashSet<&str> = settled.iter().map(|tx| tx.id.as_str()).collect();
    let held: Vec<Transaction> =
        read(held, "held transactions")?.into_iter().filter(|tx| !settled_ids.contains(tx.id.as_str())).collect();
    let on_hold: Decimal = held.iter().map(|tx| tx.amount).sum();
    let balance = available.checked_sub(on_hold).ok_or("the holds add up to more than payguard can count")?;
    let mut transactions = settled;
    transactions.extend(held);
    derive_ids(&mut transactions);
    let transactions = once_each(transactions)?;
    Ok(Observation {
        account: account_ref,
        name: attributes.get("displayName").and_then(Value::as_str).map(str::to_owned),
        // Up lists open accounts and says nothing more of their state.
        snapshot: Snapshot { available: Some(available), ..Snapshot::seen(balance, currency, now) },
        transactions,
        balance: BalanceSource::Platform,
    })
}

/// A transaction resource: held ones are pending and dated when Up first saw them, settled ones
/// when they settled.
fn transaction(tx: &Value, now: DateTime<Utc>) -> Result<Transaction, String> {
    let id = tx.get("id").filter(|v| !v.is_null()).map(|v| text(v, "id")).transpose()?.unwrap_or_default();
    let attributes = tx.get("attributes").ok_or("no `attributes`")?;
    let field = |name: &str| attributes.get(name).filter(|v| !v.is_null());
    let status = text(field("status").ok_or("no `status`")?, "status")?;
    // Only SETTLED is booked; HELD, and any status Up adds later, is not yet.
    let pending = status != "SETTLED";
    let (amount, _) = money(field("amount").ok_or("no `amount`")?, "amount")?;
    let posted = match (pending, field("settledAt"), field("createdAt")) {
        (false, Some(settled), _) => time(settled, "settledAt")?,
        (_, _, Some(created)) => time(created, "createdAt")?,
        (true, _, None) => now,
        (false, None, None) => return Err("no `settledAt` or `createdAt`".to_owned()),
    };
    let optional = |name: &str| field(name).map(|v| text(v, name)).transpose();
    let merchant = optional("description")?.filter(|d| !d.trim().is_empty());
    let raw = optional("rawText")?;
    let payee = merchant.clone().or_else(|| raw.clone()).unwrap_or_default();
    let description = raw.or(merchant).unwrap_or_default();
    Ok(Transaction { id, posted, amount, payee_key: payee_key(&payee), payee, description, pending })
}

/// A `MoneyObject`: the amount from its `value` text, and its currency. `valueInBaseUnits`, when
/// present, must be the same amount in cents (or whatever the currency's smallest unit is): an
/// answer whose two forms disagree, in sign above all, is not trusted either way.
fn money(value: &Value, what: &str) -> Result<(Decimal, String), String> {
    let amount = amount(value.get("value").ok_or_else(|| format!("{what} has no `value`"))?, what)?;
    let currency = text(value.get("currencyCode").ok_or_else(|| format!("{what} has no `currencyCode`"))?, what)?;
    if let Some(base) = value.get("valueInBaseUnits").filter(|v| !v.is_null()) {
        let base = base.as_i64().ok_or_else(|| format!("{what}: `valueInBaseUnits` should be a whole number"))?;
        // Currencies have 0 to 4 decimal places (ISO 4217).
        if !(0..=4).any(|places| Decimal::new(base, places) == amount) {
            return Err(format!("{what}: `value` {amount} and `valueInBaseUnits` {base} disagree"));
        }
    }
    Ok((amount, currency))
}

impl super::Poller for Up {
    fn poll<'a>(&'a self, accounts: &'a [String], since: DateTime<Utc>, now: DateTime<Utc>) -> super::PollFuture<'a> {
        Box::pin(Up::poll(self, accounts, since, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
    }

    /// Up's sign convention: `value` is negative when money leaves the account, and
    /// `valueInBaseUnits` says the same in cents.
    #[test]
    fn money_signs_and_base_units() {
        let cases: &[(Value, Result<&str, &str>)] = &[
            (json!({"currencyCode": "AUD", "value": "-12.34", "valueInBaseUnits": -1234}), Ok("-12.34")),
            (json!({"currencyCode": "AUD", "value": "2500.00", "valueInBaseUnits": 250000}), Ok("2500.00")),
            (json!({"currencyCode": "AUD", "value": "0.00", "valueInBaseUnits": 0}), Ok("0.00")),
            (json!({"currencyCode": "JPY", "value": "-500", "valueInBaseUnits": -500}), Ok("-500")),
            (json!({"currencyCode": "AUD", "value": "-0.10"}), Ok("-0.10")),
            (json!({"currencyCode": "AUD", "value": "12.34", "valueInBaseUnits": -1234}), Err("disagree")),
            (json!({"currencyCode": "AUD", "value": "-12.34", "valueInBaseUnits": -123}), Err("disagree")),
            (json!({"currencyCode": "AUD", "value": "-12.34", "valueInBaseUnits": "-1234"}), Err("whole number")),
            (json!({"currencyCode": "AUD", "value": "$12.34"}), Err("not a decimal")),
            (json!({"currencyCode": "AUD", "valueInBaseUnits": 1}), Err("no `value`")),
            (json!({"value": "1.00"}), Err("no `currencyCode`")),
        ];
        for (value, expected) in cases {
            match (money(value, "amount"), expected) {
                (Ok((amount, _)), Ok(text)) => assert_eq!(amount.to_string(), *text, "{value}"),
                (Err(error), Err(needle)) => assert!(error.contains(needle), "{value}: {error}"),
                (got, _) => panic!("{value}: expected {expected:?}, got {got:?}"),
            }
        }
    }

    fn tx(id: &str, status: &str, value: &str, settled_at: Value) -> Value {
        json!({"type": "transactions", "id": id, "attributes": {
            "status": status, "description": "Coffee Co", "rawText": "COFFEE CO SYDNEY", "message": null,
            "amount": {"currencyCode": "AUD", "value": value}, "createdAt": "2026-09-20T09:00:00+10:00",
            "settledAt": settled_at
        }})
    }

    #[test]
    fn held_is_pending_and_the_balance_is_what_settled() {
        let account = json!({"id": "A", "attributes": {"displayName": "Spending", "balance": {"currencyCode": "AUD", "value": "75.00", "valueInBaseUnits": 7500}}});
        let settled = [tx("s1", "SETTLED", "-10.00", json!("2026-09-21T10:00:00+10:00"))];
        // s1 settled between the two requests: listed in both, it counts as settled.
        let held = [tx("h1", "HELD", "-25.00", Value::Null), tx("s1", "HELD", "-10.00", Value::Null)];
        let o = observation(AccountRef::new("up", "A"), &account, &settled, &held, now()).expect("an observation");
        assert_eq!(
            (o.snapshot.balance.to_string(), o.snapshot.available.map(|a| a.to_string())),
            ("100.00".into(), Some("75.00".into()))
        );
        assert_eq!(o.name.as_deref(), Some("Spending"));
        let shown: Vec<(&str, bool, i64)> =
            o.transactions.iter().map(|t| (t.id.as_str(), t.pending, t.posted.timestamp())).collect();
        // Settled: dated when it settled; held: when Up first saw it.
        assert_eq!(shown, [("s1", false, 1_789_948_800), ("h1", true, 1_789_858_800)]);
        assert_eq!(
            (o.transactions[0].payee.as_str(), o.transactions[0].description.as_str()),
            ("Coffee Co", "COFFEE CO SYDNEY")
        );
        let unknown = tx("x", "REVERSED", "-1.00", Value::Null);
        assert!(transaction(&unknown, now()).is_ok_and(|t| t.pending), "a status Up adds later is not booked");
        let no_status = json!({"id": "x", "attributes": {"amount": {"currencyCode": "AUD", "value": "1"}}});
        assert!(transaction(&no_status, now()).is_err_and(|e| e.contains("no `status`")));
    }
}
