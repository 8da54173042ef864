//! Enable Banking: EU and EEA banks through PSD2, for one's own accounts.
//!
//! Every request carries a JWT the application signs with its own key ([`jwt`]). A poll reads the
//! session (`GET /sessions/{id}`: its status, its accounts, and `access.valid_until`, when the
//! consent ends), then per account asked for `GET /accounts/{uid}/balances` and
//! `GET /accounts/{uid}/transactions?date_from=…`, page after page while the answer gives a
//! `continuation_key` (bounded as every paged list is, [`super::paged::Pages`]).
//!
//! Shapes follow the API reference (enablebanking.com/docs/api, the `HalBalances`,
//! `HalTransactions`, `Transaction`, `GetSessionResponse` and `ErrorResponse` schemas): amounts are
//! unsigned decimal strings whose direction is `credit_debit_indicator` (`CRDT` in, `DBIT` out);
//! a transaction's `status` is `BOOK`, `PDNG` (pending) and a few more; errors carry a text code in
//! `error` (`EXPIRED_SESSION`, `ASPSP_RATE_LIMIT_EXCEEDED`, …). A session no longer `AUTHORIZED`,
//! or an answer saying it ended, is [`SourceError::ConsentExpired`].

mod jwt;
pub mod link;
mod settings;

use chrono::{DateTime, Utc};
use reqwest::header::ACCEPT;
use reqwest::{Client, RequestBuilder, Url};
use rust_decimal::Decimal;
use serde_json::Value;

use super::fetch::{Answer, send};
use super::paged::{Api, Pages, items, next_of, read_accounts};
use super::values::{amount, text, time};
use super::{Poll, SourceError, once_each};
use crate::config::{HttpLimits, Secret};
use crate::model::{
    AccountRef, AccountStatus, BalanceSource, Observation, Snapshot, Transaction, derive_ids, payee_key,
};

pub use settings::{API_BASE, EnableBankingConfig};

pub struct EnableBanking {
    source: String,
    api: Api,
    client: Client,
    limits: HttpLimits,
    signer: jwt::Signer,
    session_id: Secret,
}

impl EnableBanking {
    pub fn new(
        source: &str,
        config: &EnableBankingConfig,
        client: Client,
        limits: HttpLimits,
    ) -> Result<Self, SourceError> {
        let Some(key) = &config.key else {
            return Err(SourceError::Setup(
                "the enablebanking private key was not read: this command loaded the config without its secrets".into(),
            ));
        };
        let signer = jwt::Signer::new(&config.application_id, key.expose()?)
            .map_err(|why| SourceError::Setup(format!("{} {why}", config.private_key)))?;
        Ok(EnableBanking {
            source: source.to_owned(),
            api: Api::new(&config.api_base, &[&config.session_id], client.clone(), limits)?,
            client,
            limits,
            signer,
            session_id: config.session_id.clone(),
        })
    }

    async fn poll(&self, wanted: &[String], since: DateTime<Utc>, now: DateTime<Utc>) -> Result<Poll, SourceError> {
        let (linked, consent_until) = self.session(now).await?;
        let is_linked = |uid: &str| linked.iter().any(|l| l == uid).then_some(());
        let accounts = read_accounts(wanted, is_linked, |uid, ()| self.account(uid, since, now)).await?;
        let unconfigured = linked.iter().filter(|a| !wanted.contains(a)).cloned().collect();
        Ok(Poll { accounts, unconfigured, consent_until, ..Poll::default() })
    }

    /// The session's accounts and when its access ends, or why it can no longer be read.
    async fn session(&self, now: DateTime<Utc>) -> Result<(Vec<String>, Option<DateTime<Utc>>), SourceError> {
        let doc = self.read(self.api.url(&["sessions", self.session_id.expose()?]), now).await?;
        let status = doc.get("status").and_then(Value::as_str).unwrap_or("without a status");
        if status != "AUTHORIZED" {
            let status = crate::text::clipped(status, crate::text::LINE);
            return Err(self.ended(&format!("the session is {status}, no longer AUTHORIZED")));
        }
        let until = match doc.pointer("/access/valid_until") {
            None | Some(Value::Null) => None,
            Some(value) => Some(time(value, "access.valid_until").map_err(|e| self.api.malformed(e))?),
        };
        if let Some(until) = until.filter(|until| *until <= now) {
            return Err(self.ended(&format!("the session's access ended at {}", until.format("%Y-%m-%d %H:%M UTC"))));
        }
        let accounts = items(&doc, "accounts").map_err(|e| self.api.malformed(format!("the session: {e}")))?;
        let accounts = accounts
            .iter()
            .enumerate()
            .map(|(i, uid)| text(uid, &format!("accounts[{i}]")).map_err(|e| self.api.malformed(e)))
            .collect::<Result<_, _>>()?;
        Ok((accounts, until))
    }

    async fn account(&self, uid: &str, since: DateTime<Utc>, now: DateTime<Utc>) -> Result<Observation, SourceError> {
        let balances = self.read(self.api.url(&["accounts", uid, "balances"]), now).await?;
        let transactions = self.transactions(uid, since, now).await?;
        observation(AccountRef::new(self.source.clone(), uid), &balances, &transactions, now)
            .map_err(|detail| self.api.malformed(format!("account {uid}: {detail}")))
    }

    /// Every transaction of account `uid` from the day of `since`, page by page.
    async fn transactions(
        &self,
        uid: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Value>, SourceError> {
        let what = format!("transactions of account {uid}");
        let mut url = self.api.url(&["accounts", uid, "transactions"]);
        url.query_pairs_mut().append_pair("date_from", &since.format("%Y-%m-%d").to_string());
        let mut pages = Pages::new(&what);
        let mut key: Option<String> = None;
        let mut all = Vec::new();
        loop {
            let mut page = url.clone();
            if let Some(key) = &key {
                page.query_pairs_mut().append_pair("continuation_key", key);
            }
            pages.turn(&self.api, key.as_deref().unwrap_or_default())?;
            let answer = self.read(page, now).await?;
            let read =
                items(&answer, "transactions").and_then(|items| Ok((items, next_of(&answer, "/continuation_key")?)));
            let (items, next) = read.map_err(|e| self.api.malformed(format!("the {what}: {e}")))?;
            all.extend_from_slice(items);
            match next {
                Some(next) => key = Some(next),
                None => return Ok(all),
            }
        }
    }

    /// GETs `url` and reads the answer as JSON.
    async fn read(&self, url: Url, now: DateTime<Utc>) -> Result<Value, SourceError> {
        self.ask(self.client.get(url), now).await
    }

    /// Sends `request` with a signed token and reads the answer as JSON.
    async fn ask(&self, request: RequestBuilder, now: DateTime<Utc>) -> Result<Value, SourceError> {
        let token = self.signer.token(now)?;
        let request = request.bearer_auth(token.expose()?).header(ACCEPT, "application/json");
        let answer = send(request, &self.api.host, &self.limits).await?;
        if !answer.status.is_success() {
            return Err(self.refusal(answer));
        }
        serde_json::from_slice(&answer.body).map_err(|_| self.api.malformed(self.api.not_json(&answer.body)))
    }

    /// The error an unsuccessful answer is: the API's text codes where they say more than the status.
    fn refusal(&self, mut answer: Answer) -> SourceError {
        // The error may name the session, which is kept like a credential.
        let body = String::from_utf8_lossy(&answer.body).into_owned();
        answer.body = crate::redact::redact(body, std::slice::from_ref(&self.session_id)).into_bytes();
        let doc: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        let code = doc.get("error").and_then(Value::as_str).unwrap_or_default();
        match code {
            "EXPIRED_SESSION" | "CLOSED_SESSION" | "REVOKED_SESSION" | "SESSION_DOES_NOT_EXIST" => {
                let message = doc.get("message").and_then(Value::as_str).unwrap_or(code);
                self.ended(&format!("Enable Banking says: {}", crate::text::clipped(message, crate::text::LINE)))
            }
            // The bank's own PSD2 allowance (about four unattended reads a day) is spent.
            "ASPSP_RATE_LIMIT_EXCEEDED" => SourceError::RateLimited {
                host: self.api.host.clone(),
                retry_after: match answer.error(&self.api.host) {
                    SourceError::RateLimited { retry_after, .. } => retry_after,
                    _ => None,
                },
            },
            _ => answer.error(&self.api.host),
        }
    }

    /// The consent ended: only the person can give it again, at their bank.
    fn ended(&self, why: &str) -> SourceError {
        SourceError::ConsentExpired {
            host: self.api.host.clone(),
            detail: format!(
                "{why}; a bank grants access for a limited time (at most about 180 days): run `payguard enablebanking-link` again and point session_id at the new session's file"
            ),
        }
    }
}

impl super::Poller for EnableBanking {
    fn poll<'a>(&'a self, accounts: &'a [String], since: DateTime<Utc>, now: DateTime<Utc>) -> super::PollFuture<'a> {
        Box::pin(EnableBanking::poll(self, accounts, since, now))
    }
}

/// The balance types (ISO 20022 codes), most settled first: the booked balance is what the account
/// holds.
const BOOKED: &[&str] = &["CLBD", "ITBD", "XPCD", "OPBD", "PRCD"];
/// What may be spent, when the bank says.
const AVAILABLE: &[&str] = &["ITAV", "CLAV", "FWAV", "OPAV"];

/// One account out of its balances answer and its transactions (every page).
pub fn observation(
    account: AccountRef,
    balances: &Value,
    transactions: &[Value],
    now: DateTime<Utc>,
) -> Result<Observation, String> {
    let list = items(balances, "balances")?;
    let of_type = |types: &[&str]| {
        types.iter().find_map(|t| list.iter().find(|b| b.get("balance_type").and_then(Value::as_str) == Some(t)))
    };
    let booked = of_type(BOOKED)
        .or_else(|| of_type(AVAILABLE))
        .or_else(|| list.first())
        .ok_or("the bank reported no balance")?;
    let (balance, currency) = money(booked.get("balance_amount"), "balance_amount")?;
    let available = match of_type(AVAILABLE) {
        Some(b) => Some(money(b.get("balance_amount"), "available balance_amount")?.0),
        None => None,
    };
    let mut read = Vec::new();
    let mut undated = Vec::new();
    for (i, item) in transactions.iter().enumerate() {
        if let Some((transaction, dated)) = transaction(item).map_err(|e| format!("transactions[{i}]: {e}"))? {
            if !dated {
                undated.push(read.len());
            }
            read.push(transaction);
        }
    }
    // An id is derived from the time among the rest; a pending item without a date has none of its
    // own, so its id is derived without one, and the same hold is the same transaction in every
    // poll. It is then dated by the poll: it is happening now.
    derive_ids(&mut read);
    for at in undated {
        read[at].posted = now;
    }
    Ok(Observation {
        account,
        name: None,
        snapshot: Snapshot { available, status: AccountStatus::Active, ..Snapshot::seen(balance, currency, now) },
        transactions: once_each(read)?,
        balance: BalanceSource::Platform,
    })
}

/// `{"currency": "EUR", "amount": "12.50"}` (`AmountType`).
fn money(value: Option<&Value>, what: &str) -> Result<(Decimal, String), String> {
    let value = value.filter(|v| !v.is_null()).ok_or_else(|| format!("no {what}"))?;
    let sum = amount(value.get("amount").unwrap_or(&Value::Null), &format!("{what}.amount"))?;
    let currency = text(value.get("currency").unwrap_or(&Value::Null), &format!("{what}.currency"))?;
    Ok((sum, currency))
}

/// One transaction and whether the bank dated it, or `None` for one that moved no money
/// (cancelled or rejected). An undated one (pending only) is dated at the epoch for the caller
/// to date.
fn transaction(item: &Value) -> Result<Option<(Transaction, bool)>, String> {
    let field = |name: &str| item.get(name).filter(|v| !v.is_null());
    let pending = match field("status").and_then(Value::as_str) {
        None | Some("BOOK") => false,
        Some("CNCL" | "RJCT") => return Ok(None),
        // PDNG, HOLD and the rest may yet move money: judged as pending until booked.
        Some(_) => true,
    };
    let (written, _) = money(field("transaction_amount"), "transaction_amount")?;
    let amount = signed(written, field("credit_debit_indicator").and_then(Value::as_str))?;
    let id = match field("entry_reference").or_else(|| field("transaction_id")) {
        Some(id) => text(id, "entry_reference")?,
        None => String::new(),
    };
    let (posted, dated) = match ["booking_date", "value_date", "transaction_date"].into_iter().find_map(field) {
        Some(value) => (time(value, "booking_date")?, true),
        // A pending item may carry no date yet.
        None if pending => (DateTime::UNIX_EPOCH, false),
        None => return Err("a booked transaction without booking_date or value_date".to_owned()),
    };
    let description = match field("remittance_information") {
        Some(Value::Array(lines)) => lines.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "),
        Some(other) => text(other, "remittance_information")?,
        None => String::new(),
    };
    let counterpart = if amount.is_sign_negative() { "creditor" } else { "debtor" };
    let payee = match item.get(counterpart).and_then(|party| party.get("name")).filter(|v| !v.is_null()) {
        Some(name) => text(name, &format!("{counterpart}.name"))?,
        None => description.clone(),
    };
    let transaction = Transaction { id, posted, amount, payee_key: payee_key(&payee), payee, description, pending };
    Ok(Some((transaction, dated)))
}

/// An unsigned amount as money in (positive) or out (negative), by the indicator the API always
/// gives; a sign written on the amount as well does not turn a debit into a credit.
fn signed(written: Decimal, indicator: Option<&str>) -> Result<Decimal, String> {
    match indicator {
        // Subtracted rather than negated: a zero debit stays 0, not -0.
        Some("DBIT") => Ok(Decimal::ZERO - written.abs()),
        Some("CRDT") => Ok(written.abs()),
        Some(other) => Err(format!(
            "credit_debit_indicator should be CRDT or DBIT, found {:?}",
            crate::text::clipped(other, crate::text::LINE)
        )),
        None => Err("no credit_debit_indicator, so the direction of the money is unknown".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
    }

    #[test]
    fn the_indicator_decides_the_sign() {
        let cases = [
            ("12.50", Some("DBIT"), Ok("-12.50")),
            ("-12.50", Some("DBIT"), Ok("-12.50")),
            ("12.50", Some("CRDT"), Ok("12.50")),
            ("-12.50", Some("CRDT"), Ok("12.50")),
            ("0", Some("DBIT"), Ok("0")),
            ("12.50", Some("dbit"), Err("should be CRDT or DBIT")),
            ("12.50", None, Err("no credit_debit_indicator")),
        ];
        for (written, indicator, expected) in cases {
            let written: Decimal = written.parse().unwrap_or_default();
            match (signed(written, indicator), expected) {
                (Ok(got), Ok(want)) => assert_eq!(got.to_string(), want, "{written} {indicator:?}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{written} {indicator:?}: {got}"),
                (got, want) => panic!("{written} {indicator:?}: {got:?}, expected {want:?}"),
            }
        }
    }

    #[test]
    fn balances_prefer_the_booked_one_and_keep_the_available() {
        let balances = json!({"balances": [
            {"name": "Available", "balance_amount": {"currency": "EUR", "amount": "90.00"}, "balance_type": "ITAV"},
            {"name": "Booked", "balance_amount": {"currency": "EUR", "amount": "100.00"}, "balance_type": "CLBD"},
        ]});
        let seen = observation(AccountRef::new("eb", "acc"), &balances, &[], at()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(seen.snapshot.balance.to_string(), "100.00");
        assert_eq!(seen.snapshot.available.map(|a| a.to_string()), Some("90.00".into()));
        assert_eq!(seen.snapshot.currency, "EUR");
    }

    #[test]
    fn statuses_payees_and_descriptions_are_read_as_documented() {
        let balances =
            json!({"balances": [{"balance_amount": {"currency": "EUR", "amount": "1.00"}, "balance_type": "XPCD"}]});
        let transactions = [
            json!({"entry_reference": "e1", "transaction_amount": {"currency": "EUR", "amount": "45.00"}, "credit_debit_indicator": "DBIT", "status": "BOOK", "booking_date": "2026-11-30", "creditor": {"name": "Thief Ltd"}, "debtor": {"name": "Me"}, "remittance_information": ["INV", "7"]}),
            json!({"entry_reference": "e2", "transaction_amount": {"currency": "EUR", "amount": "1000.00"}, "credit_debit_indicator": "CRDT", "status": "BOOK", "value_date": "2026-11-30", "debtor": {"name": "Employer"}}),
            json!({"transaction_amount": {"currency": "EUR", "amount": "3.20"}, "credit_debit_indicator": "DBIT", "status": "PDNG", "remittance_information": ["Coffee Shop"]}),
            json!({"entry_reference": "e4", "transaction_amount": {"currency": "EUR", "amount": "9.99"}, "credit_debit_indicator": "DBIT", "status": "RJCT", "booking_date": "2026-11-30"}),
        ];
        let seen =
            observation(AccountRef::new("eb", "acc"), &balances, &transactions, at()).unwrap_or_else(|e| panic!("{e}"));
        let read: Vec<(&str, String, &str, &str, bool)> = seen
            .transactions
            .iter()
            .map(|t| (t.id.as_str(), t.amount.to_string(), t.payee.as_str(), t.description.as_str(), t.pending))
            .collect();
        assert_eq!(read[0], ("e1", "-45.00".into(), "Thief Ltd", "INV 7", false));
        assert_eq!(read[1], ("e2", "1000.00".into(), "Employer", "", false));
        assert_eq!((read[2].1.as_str(), read[2].2, read[2].4), ("-3.20", "Coffee Shop", true));
        assert_eq!(read.len(), 3, "a rejected transaction moved no money");
        assert!(!read[2].0.is_empty(), "an id is derived where the bank gives none");
        assert_eq!(seen.transactions[2].posted, at(), "an undated hold is dated by the poll");
        // The same undated hold an hour later is the same transaction, not a second charge.
        let later =
            observation(AccountRef::new("eb", "acc"), &balances, &transactions, at() + chrono::TimeDelta::hours(1))
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(later.transactions[2].id, seen.transactions[2].id);
    }

    #[test]
    fn a_booked_transaction_needs_a_date_and_an_amount_its_text() {
        let balances =
            json!({"balances": [{"balance_amount": {"currency": "EUR", "amount": "1.00"}, "balance_type": "CLBD"}]});
        let undated = [
            json!({"transaction_amount": {"currency": "EUR", "amount": "1"}, "credit_debit_indicator": "DBIT", "status": "BOOK"}),
        ];
        let error = observation(AccountRef::new("eb", "a"), &balances, &undated, at()).err().unwrap_or_default();
        assert!(error.contains("transactions[0]") && error.contains("booking_date"), "{error}");
        let float = json!({"balances": [{"balance_amount": {"currency": "EUR", "amount": true}}]});
        let error = observation(AccountRef::new("eb", "a"), &float, &[], at()).err().unwrap_or_default();
        assert!(error.contains("balance_amount.amount"), "{error}");
    }
}
