//! GoCardless Bank Account Data (formerly Nordigen): EU and UK banks through PSD2.
//!
//! A poll reads the requisition (the bank link: its status and its accounts), then for each
//! account asked for `GET /api/v2/accounts/{id}/balances/` and
//! `GET /api/v2/accounts/{id}/transactions/?date_from=…` (`booked` and `pending`), with an access
//! token that [`tokens`] mints and refreshes from the user secrets.
//!
//! Banks allow few account reads (as few as 4 a day per account); GoCardless reports what is left
//! in `http_x_ratelimit_account_success_{remaining,reset}` on each account answer. A poll that an
//! account's spent quota would have refused is not made: it fails as rate-limited until the reset,
//! which the daemon waits for. A requisition whose access has ended (`EX`), or an answer saying
//! the end-user agreement expired, is [`SourceError::ConsentExpired`].
//!
//! Shapes follow the provider's documentation (the NextGenPSD2 account-information model):
//! amounts are signed decimal strings, negative for money out.

pub mod link;
mod settings;
mod tokens;

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Client, StatusCode, Url};
use serde_json::Value;

use super::fetch::{Answer, check_url, host_of, segment, send};
use super::paged::read_accounts;
use super::values::{amount, kind, not_json, text, time};
use super::{Poll, SourceError, once_each};
use crate::config::{HttpLimits, Secret};
use crate::model::{
    AccountRef, AccountStatus, BalanceSource, Observation, Quota, Snapshot, Transaction, derive_ids, payee_key,
};

pub use settings::{API_BASE, GoCardlessConfig};

pub struct GoCardless {
    source: String,
    config: GoCardlessConfig,
    base: Url,
    host: String,
    client: Client,
    limits: HttpLimits,
    tokens: tokens::Cache,
    /// What each account's quota was at its last answer.
    quotas: Mutex<HashMap<String, Quota>>,
}

impl GoCardless {
    pub fn new(
        source: &str,
        config: GoCardlessConfig,
        client: Client,
        limits: HttpLimits,
    ) -> Result<Self, SourceError> {
        let base = check_url(&config.api_base, limits.allow_insecure_http).map_err(SourceError::Setup)?;
        let host = host_of(&base);
        Ok(Self {
            source: source.to_owned(),
            config,
            base,
            host,
            client,
            limits,
            tokens: tokens::Cache::default(),
            quotas: Mutex::default(),
        })
    }

    async fn poll(&self, accounts: &[String], since: DateTime<Utc>, now: DateTime<Utc>) -> Result<Poll, SourceError> {
        if let Some(wait) = self.spent(accounts, now) {
            return Err(SourceError::RateLimited { host: self.host.clone(), retry_after: Some(wait) });
        }
        let (linked, agreement) = self.requisition(now).await?;
        let mut poll = Poll {
            unconfigured: linked.iter().filter(|a| !accounts.contains(a)).cloned().collect(),
            consent_until: match agreement {
                Some(id) => self.consent_until(&id, now).await?,
                None => None,
            },
            ..Poll::default()
        };
        let is_linked = |id: &str| linked.iter().any(|l| l == id).then_some(());
        poll.accounts = read_accounts(accounts, is_linked, |id, ()| self.account(id, since, now)).await?;
        let quotas = self.quotas.lock().unwrap_or_else(PoisonError::into_inner);
        poll.quotas = accounts.iter().filter_map(|a| Some((a.clone(), *quotas.get(a)?))).collect();
        Ok(poll)
    }

    /// The longest wait, in seconds, until an account asked for has quota again; `None` when each has.
    fn spent(&self, accounts: &[String], now: DateTime<Utc>) -> Option<u64> {
        let quotas = self.quotas.lock().unwrap_or_else(PoisonError::into_inner);
        accounts
            .iter()
            .filter_map(|a| quotas.get(a))
            .filter(|q| q.remaining == 0 && q.resets_at > now)
            .map(|q| u64::try_from((q.resets_at - now).num_seconds()).unwrap_or(0).max(1))
            .max()
    }

    /// The accounts of the requisition and the id of its end-user agreement, or why it can no
    /// longer be read.
    async fn requisition(&self, now: DateTime<Utc>) -> Result<(Vec<String>, Option<String>), SourceError> {
        let path = format!("/api/v2/requisitions/{}/", segment(&self.config.requisition_id));
        let doc = self.read(&path, now).await?;
        let status = doc.get("status").and_then(Value::as_str).unwrap_or_default();
        if matches!(status, "EX" | "EXPIRED") {
            return Err(SourceError::ConsentExpired {
                host: self.host.clone(),
                detail: relink("the requisition expired"),
            });
        }
        let accounts = match doc.get("accounts") {
            Some(Value::Array(ids)) => ids,
            other => {
                let found = other.map_or("nothing", kind);
                return Err(self.malformed(format!("the requisition's accounts should be an array, found {found}")));
            }
        };
        let accounts = accounts
            .iter()
            .enumerate()
            .map(|(i, id)| text(id, &format!("accounts[{i}]")).map_err(|e| self.malformed(e)))
            .collect::<Result<_, _>>()?;
        let agreement = doc.get("agreement").and_then(Value::as_str).filter(|id| !id.is_empty()).map(str::to_owned);
        Ok((accounts, agreement))
    }

    /// When the agreement's access ends: accepted, plus the days it was granted for. `None` while
    /// it is not accepted (the requisition is not linked yet) or says neither.
    async fn consent_until(&self, agreement: &str, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, SourceError> {
        let doc = self.read(&format!("/api/v2/agreements/enduser/{}/", segment(agreement)), now).await?;
        let accepted = match doc.get("accepted") {
            None | Some(Value::Null) => return Ok(None),
            Some(value) => time(value, "accepted").map_err(|e| self.malformed(format!("agreement: {e}")))?,
        };
        let days = doc.get("access_valid_for_days").and_then(Value::as_i64).unwrap_or(90).clamp(1, 3650);
        Ok(Some(accepted + TimeDelta::days(days)))
    }

    async fn account(
        &self,
        account: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Observation, SourceError> {
        let id = segment(account);
        let balances = self.read(&format!("/api/v2/accounts/{id}/balances/"), now).await?;
        let path = format!("/api/v2/accounts/{id}/transactions/?date_from={}", since.format("%Y-%m-%d"));
        let transactions = self.read(&path, now).await?;
        let account_ref = AccountRef::new(self.source.clone(), account);
        observation(account_ref, &balances, &transactions, now)
            .map_err(|detail| self.malformed(format!("account {account}: {detail}")))
    }

    /// GETs `path` with a valid token (minted again once if the provider says it is not), notes the
    /// account quota the answer reports, and reads it as JSON.
    async fn read(&self, path: &str, now: DateTime<Utc>) -> Result<Value, SourceError> {
        let url = format!("{}{path}", self.base.as_str().trim_end_matches('/'));
        let mut answer = self.get(&url, now).await?;
        if answer.status == StatusCode::UNAUTHORIZED && about_the_token(&answer.body) {
            self.tokens.forget_access();
            answer = self.get(&url, now).await?;
        }
        if let Some(account) = path.strip_prefix("/api/v2/accounts/").and_then(|rest| rest.split('/').next()) {
            self.note_quota(&percent_encoding::percent_decode_str(account).decode_utf8_lossy(), &answer, now);
        }
        if !answer.status.is_success() {
            return Err(self.refusal(&answer));
        }
        serde_json::from_slice(&answer.body).map_err(|e| self.malformed(not_json(&answer.body, &e)))
    }

    /// POSTs `body` as JSON to `path` with the access token; the answer as JSON.
    async fn post(&self, path: &str, body: &Value) -> Result<Value, SourceError> {
        let token = self.tokens.access(self, Utc::now()).await?;
        self.posted(self.post_request(path, body).bearer_auth(token.expose()?), &[]).await
    }

    /// A POST of `body` as JSON to `path`, without credentials yet.
    fn post_request(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        let url = format!("{}{path}", self.base.as_str().trim_end_matches('/'));
        self.client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(body.to_string())
    }

    /// Sends a POST whose body carries the secrets `sent` (a refusal that echoes them is cut free
    /// of them); the answer as JSON.
    async fn posted(&self, request: reqwest::RequestBuilder, sent: &[Secret]) -> Result<Value, SourceError> {
        let mut answer = send(request, &self.host, &self.limits).await?;
        if !answer.status.is_success() {
            // What the request sent is cut out of a refusal that may echo it.
            answer.body = crate::redact::redact(String::from_utf8_lossy(&answer.body).into_owned(), sent).into_bytes();
            return Err(self.refusal(&answer));
        }
        serde_json::from_slice(&answer.body).map_err(|e| self.malformed(not_json(&answer.body, &e)))
    }

    async fn get(&self, url: &str, now: DateTime<Utc>) -> Result<Answer, SourceError> {
        let token = self.tokens.access(self, now).await?;
        let request = self.client.get(url).bearer_auth(token.expose()?).header(ACCEPT, "application/json");
        send(request, &self.host, &self.limits).await
    }

    fn note_quota(&self, account: &str, answer: &Answer, now: DateTime<Utc>) {
        let number = |name: &str| -> Option<i64> { answer.headers.get(name)?.to_str().ok()?.trim().parse().ok() };
        let (Some(remaining), Some(reset)) =
            (number("http_x_ratelimit_account_success_remaining"), number("http_x_ratelimit_account_success_reset"))
        else {
            return;
        };
        let quota = Quota {
            limit: number("http_x_ratelimit_account_success_limit").and_then(|l| u32::try_from(l).ok()),
            remaining: u32::try_from(remaining.max(0)).unwrap_or(u32::MAX),
            resets_at: now + TimeDelta::seconds(reset.clamp(0, 7 * 86_400)),
        };
        self.quotas.lock().unwrap_or_else(PoisonError::into_inner).insert(account.to_owned(), quota);
    }

    /// The error an unsuccessful answer is: the provider's codes where they say more than the status.
    fn refusal(&self, answer: &Answer) -> SourceError {
        let (summary, detail) = error_words(&answer.body);
        let words = format!("{summary} {detail}");
        match answer.status.as_u16() {
            401 if words.contains("End User Agreement") || words.contains("AccessExpiredError") => {
                SourceError::ConsentExpired { host: self.host.clone(), detail: relink(&summary) }
            }
            429 => SourceError::RateLimited {
                host: self.host.clone(),
                retry_after: match answer.error(&self.host) {
                    SourceError::RateLimited { retry_after: Some(wait), .. } => Some(wait),
                    _ => wait_in(&detail),
                },
            },
            _ => answer.error(&self.host),
        }
    }

    fn malformed(&self, detail: String) -> SourceError {
        SourceError::Malformed { host: self.host.clone(), detail }
    }
}

impl super::Poller for GoCardless {
    fn poll<'a>(&'a self, accounts: &'a [String], since: DateTime<Utc>, now: DateTime<Utc>) -> super::PollFuture<'a> {
        Box::pin(GoCardless::poll(self, accounts, since, now))
    }

    fn kept(&self) -> Option<Vec<u8>> {
        self.tokens.kept()
    }

    fn restore(&self, kept: &[u8]) {
        self.tokens.restore(kept);
    }
}

/// What to tell a person whose bank link ended.
fn relink(why: &str) -> String {
    format!(
        "{why}; banks grant access for a limited time (90 days unless agreed otherwise): link the bank again (`payguard gocardless-link`, a new requisition) and set its id as requisition_id"
    )
}

/// The provider's error body: `{"summary": …, "detail": …, "status_code": …}`.
fn error_words(body: &[u8]) -> (String, String) {
    let doc: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let field = |name: &str| doc.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    (field("summary"), field("detail"))
}

/// Whether a 401 is about our access token (expired mid-poll, say) rather than the bank link.
fn about_the_token(body: &[u8]) -> bool {
    let (summary, detail) = error_words(body);
    let words = format!("{summary} {detail}").to_lowercase();
    words.contains("token") && !words.contains("agreement")
}

/// "Please try again in 3600 seconds" → 3600.
fn wait_in(detail: &str) -> Option<u64> {
    let rest = &detail[detail.find("try again in ")? + "try again in ".len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// The balance types, most settled first: the booked balance is what the account holds.
const BOOKED: &[&str] = &["interimBooked", "closingBooked", "expected", "openingBooked"];
/// What may be spent, when the bank says.
const AVAILABLE: &[&str] = &["interimAvailable", "closingAvailable", "forwardAvailable", "openingAvailable"];

/// One account out of its balances and transactions answers.
pub fn observation(
    account: AccountRef,
    balances: &Value,
    transactions: &Value,
    now: DateTime<Utc>,
) -> Result<Observation, String> {
    let list = match balances.get("balances") {
        Some(Value::Array(list)) => list.as_slice(),
        other => return Err(format!("balances should be an array, found {}", other.map_or("nothing", kind))),
    };
    let of_type = |types: &[&str]| {
        types.iter().find_map(|t| list.iter().find(|b| b.get("balanceType").and_then(Value::as_str) == Some(t)))
    };
    let booked = of_type(BOOKED)
        .or_else(|| of_type(AVAILABLE))
        .or_else(|| list.first())
        .ok_or("the bank reported no balance")?;
    let (balance, currency) = money(booked.get("balanceAmount"), "balanceAmount")?;
    let available = match of_type(AVAILABLE) {
        Some(b) => Some(money(b.get("balanceAmount"), "available balanceAmount")?.0),
        None => None,
    };
    let lists = transactions.get("transactions").ok_or("nothing at \"transactions\"")?;
    let mut read = Vec::new();
    for (part, pending) in [("booked", false), ("pending", true)] {
        match lists.get(part) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    read.push(transaction(item, pending, now).map_err(|e| format!("{part}[{i}]: {e}"))?);
                }
            }
            Some(other) => return Err(format!("transactions.{part} should be an array, found {}", kind(other))),
        }
    }
    derive_ids(&mut read);
    Ok(Observation {
        account,
        name: None,
        snapshot: Snapshot { available, status: AccountStatus::Active, ..Snapshot::seen(balance, currency, now) },
        transactions: once_each(read)?,
        balance: BalanceSource::Platform,
    })
}

/// `{"amount": "-12.50", "currency": "EUR"}`.
fn money(value: Option<&Value>, what: &str) -> Result<(rust_decimal::Decimal, String), String> {
    let value = value.ok_or_else(|| format!("no {what}"))?;
    let sum = amount(value.get("amount").unwrap_or(&Value::Null), &format!("{what}.amount"))?;
    let currency = text(value.get("currency").unwrap_or(&Value::Null), &format!("{what}.currency"))?;
    Ok((sum, currency))
}

/// One transaction. Amounts are signed; where a bank also says `creditDebitIndicator`, a debit is
/// money out whatever sign its amount was written with.
fn transaction(item: &Value, pending: bool, now: DateTime<Utc>) -> Result<Transaction, String> {
    let field = |name: &str| item.get(name).filter(|v| !v.is_null());
    let (written, _) = money(field("transactionAmount"), "transactionAmount")?;
    let amount = signed(written, field("creditDebitIndicator").and_then(Value::as_str));
    let id = match field("transactionId").or_else(|| field("internalTransactionId")) {
        Some(id) => text(id, "transactionId")?,
        None => String::new(),
    };
    let date = ["bookingDateTime", "bookingDate", "valueDateTime", "valueDate"].into_iter().find_map(field);
    let posted = match date {
        Some(value) => time(value, "bookingDate")?,
        // A pending item may carry no date yet: it is happening now.
        None if pending => now,
        None => return Err("a booked transaction without bookingDate or valueDate".to_owned()),
    };
    let counterpart = if amount.is_sign_negative() { "creditorName" } else { "debtorName" };
    let description = field("remittanceInformationUnstructured")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            let lines = field("remittanceInformationUnstructuredArray")?.as_array()?;
            Some(lines.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "))
        })
        .or_else(|| field("additionalInformation").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    let payee = match field(counterpart) {
        Some(name) => text(name, counterpart)?,
        None => description.clone(),
    };
    Ok(Transaction { id, posted, amount, payee_key: payee_key(&payee), payee, description, pending })
}

/// The amount as money in (positive) or out (negative).
fn signed(written: rust_decimal::Decimal, indicator: Option<&str>) -> rust_decimal::Decimal {
    match indicator {
        Some("DBIT") => -written.abs(),
        Some("CRDT") => written.abs(),
        _ => written,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;
    use serde_json::json;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
    }

    #[test]
    fn signs_follow_the_amount_unless_an_indicator_says() {
        let cases = [
            ("-12.50", None, "-12.50"),
            ("12.50", None, "12.50"),
            ("12.50", Some("DBIT"), "-12.50"),
            ("-12.50", Some("DBIT"), "-12.50"),
            ("-12.50", Some("CRDT"), "12.50"),
            ("12.50", Some("CRDT"), "12.50"),
            ("12.50", Some("OTHER"), "12.50"),
        ];
        for (written, indicator, expected) in cases {
            let written: Decimal = written.parse().unwrap_or_default();
            assert_eq!(signed(written, indicator).to_string(), expected, "{written} {indicator:?}");
        }
    }

    #[test]
    fn balances_prefer_the_booked_one_and_keep_the_available() {
        let balances = json!({"balances": [
            {"balanceAmount": {"amount": "90.00", "currency": "EUR"}, "balanceType": "interimAvailable"},
            {"balanceAmount": {"amount": "100.00", "currency": "EUR"}, "balanceType": "closingBooked"},
        ]});
        let transactions = json!({"transactions": {"booked": [], "pending": []}});
        let seen =
            observation(AccountRef::new("gc", "acc"), &balances, &transactions, at()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(seen.snapshot.balance.to_string(), "100.00");
        assert_eq!(seen.snapshot.available.map(|a| a.to_string()), Some("90.00".into()));
        assert_eq!(seen.snapshot.currency, "EUR");
    }

    #[test]
    fn the_payee_is_the_other_side_of_the_money() {
        let transactions = json!({"transactions": {
            "booked": [
                {"transactionId": "t1", "bookingDate": "2026-11-30", "transactionAmount": {"amount": "-45.00", "currency": "EUR"}, "creditorName": "Thief Ltd", "debtorName": "Me", "remittanceInformationUnstructured": "INV 7"},
                {"transactionId": "t2", "bookingDate": "2026-11-30", "transactionAmount": {"amount": "1000.00", "currency": "EUR"}, "debtorName": "Employer", "creditorName": "Me"},
            ],
            "pending": [
                {"transactionAmount": {"amount": "-3.20", "currency": "EUR"}, "remittanceInformationUnstructuredArray": ["Coffee", "Shop"]},
            ],
        }});
        let balances =
            json!({"balances": [{"balanceAmount": {"amount": "1.00", "currency": "EUR"}, "balanceType": "expected"}]});
        let seen =
            observation(AccountRef::new("gc", "acc"), &balances, &transactions, at()).unwrap_or_else(|e| panic!("{e}"));
        let read: Vec<(&str, &str, bool)> =
            seen.transactions.iter().map(|t| (t.payee.as_str(), t.description.as_str(), t.pending)).collect();
        assert_eq!(
            read,
            [("Thief Ltd", "INV 7", false), ("Employer", "", false), ("Coffee Shop", "Coffee Shop", true)]
        );
        assert!(seen.transactions.iter().all(|t| !t.id.is_empty()), "ids are derived where the bank gives none");
    }

    #[test]
    fn a_booked_transaction_needs_a_date_and_a_balance_needs_an_amount() {
        let balances = json!({"balances": [{"balanceAmount": {"amount": "1.00", "currency": "EUR"}}]});
        let undated = json!({"transactions": {"booked": [{"transactionAmount": {"amount": "-1", "currency": "EUR"}}]}});
        let error = observation(AccountRef::new("gc", "a"), &balances, &undated, at()).err().unwrap_or_default();
        assert!(error.contains("booked[0]") && error.contains("bookingDate"), "{error}");
        let float = json!({"balances": [{"balanceAmount": {"amount": true, "currency": "EUR"}}]});
        let error = observation(AccountRef::new("gc", "a"), &float, &undated, at()).err().unwrap_or_default();
        assert!(error.contains("balanceAmount.amount"), "{error}");
    }

    #[test]
    fn the_provider_words_decide_what_a_refusal_means() {
        assert!(about_the_token(
            br#"{"summary": "Invalid token", "detail": "Token is invalid or expired", "status_code": 401}"#
        ));
        assert!(!about_the_token(br#"{"summary": "End User Agreement (EUA) 3 has expired", "detail": "EUA was valid for 90 days", "status_code": 401}"#));
        assert_eq!(wait_in("Please try again in 3600 seconds"), Some(3600));
        assert_eq!(wait_in("later"), None);
    }
}
