//! Teller (teller.io), which reads US bank accounts: `GET /accounts`, then per account
//! `/accounts/{id}/balances` and `/accounts/{id}/transactions`, over mutual TLS with the
//! application's client certificate, the enrollment's access token as the Basic user name.
//!
//! Shapes are from Teller's API reference: an account (teller.io/docs/api/accounts) has `id`,
//! `name`, `currency`, `status` (`open`, `closed`); balances (…/account/balances) are `ledger` and
//! `available`, decimal strings, either possibly null but not both; a transaction
//! (…/account/transactions) has `id`, `amount` ("the signed amount of the transaction as a
//! string"), `date` (ISO 8601), `description`, `status` (`pending`, `posted`) and
//! `details.counterparty.name` (nullable). Errors (…/errors) are `{"error": {"code", "message"}}`;
//! a request without the client certificate is answered 400, a missing token 401, an invalid or
//! revoked one 403. The reasons an enrollment disconnects are those of the `enrollment.disconnected`
//! webhook (…/webhooks), which API errors carry as `enrollment.disconnected.REASON` codes.

use chrono::{DateTime, NaiveDate, Utc};
use reqwest::{Client, StatusCode, Url};
use serde_json::Value;

mod settings;

use super::fetch::{check_url, get_explained, host_of};
use super::values::{amount, kind, not_json, text, time};
use super::{Poll, SourceError, once_each};
use crate::config::{HttpLimits, Secret};
use crate::model::{
    AccountRef, AccountStatus, BalanceSource, Observation, Snapshot, Transaction, derive_ids, payee_key,
};

pub use settings::{DEFAULT_API_BASE, TellerConfig};

/// Transactions asked for per page (`count`).
const PAGE: usize = 100;
/// Pages read per account and poll at most: a pager that never ends (or never moves on) costs a
/// bounded number of requests, and an account that needs more fails rather than being half-read.
const MAX_PAGES: usize = 50;

pub struct Teller {
    source: String,
    base: Url,
    token: Secret,
    client: Client,
    limits: HttpLimits,
    host: String,
}

impl Teller {
    pub fn new(source: &str, config: &TellerConfig, limits: HttpLimits) -> Result<Self, SourceError> {
        let base = check_url(&config.api_base, limits.allow_insecure_http).map_err(SourceError::Setup)?;
        let Some(identity) = &config.identity else {
            return Err(SourceError::Setup(
                "the teller client certificate was not read: this command loaded the config without its secrets".into(),
            ));
        };
        let identity = reqwest::Identity::from_pem(identity.expose()?.as_bytes())
            .map_err(|e| SourceError::Setup(format!("cannot use the teller client certificate: {e}")))?;
        let client = super::fetch::builder(&limits).identity(identity).build().map_err(|e| {
            SourceError::Setup(match crate::tls_roots::require() {
                Err(missing) => missing.to_string(),
                Ok(()) => format!(
                    "cannot use the client certificate {} with the private key {} ({}): use the pair your Teller application downloaded from the dashboard, as it is",
                    config.certificate,
                    config.private_key,
                    super::fetch::error_chain(e)
                ),
            })
        })?;
        let host = host_of(&base);
        Ok(Self { source: source.to_owned(), base, token: config.access_token.clone(), client, limits, host })
    }

    /// Lists the enrollment's accounts, then reads each one asked for. Refused credentials and
    /// rate limits fail the whole poll (they say something about the source, not one account);
    /// anything else fails only its account.
    async fn poll(&self, accounts: &[String], since: DateTime<Utc>, now: DateTime<Utc>) -> Result<Poll, SourceError> {
        let listed = self.get_json(&["accounts"], &[]).await?;
        let Value::Array(listed) = listed else {
            return Err(self.malformed(format!("/accounts should be an array of accounts, found {}", kind(&listed))));
        };
        if listed.is_empty() && !accounts.is_empty() {
            return Err(self.malformed("/accounts lists no accounts for this access token".to_owned()));
        }
        let mut poll = Poll::default();
        let mut found = std::collections::HashMap::new();
        for (i, account) in listed.iter().enumerate() {
            let id = account.get("id").and_then(|v| text(v, "id").ok());
            let Some(id) = id else { return Err(self.malformed(format!("/accounts[{i}] has no id"))) };
            if accounts.contains(&id) {
                found.entry(id).or_insert(account);
            } else {
                poll.unconfigured.push(id);
            }
        }
        for id in accounts {
            let result = match found.get(id) {
                Some(account) => self.account(id, account, since, now).await,
                None => Err(SourceError::MissingAccount(id.clone())),
            };
            if let Err(e @ (SourceError::Auth { .. } | SourceError::RateLimited { .. })) = &result {
                return Err(e.clone());
            }
            poll.accounts.push((id.clone(), result));
        }
        Ok(poll)
    }

    /// One account: its listing (name, currency, status), its balances and its transactions
    /// posted on or after the day of `since`.
    async fn account(
        &self,
        id: &str,
        listing: &Value,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Observation, SourceError> {
        let bad = |detail: String| self.malformed(format!("account {id}: {detail}"));
        let field = |doc: &'_ Value, name: &str| doc.get(name).filter(|v| !v.is_null()).cloned();
        let currency =
            text(&field(listing, "currency").ok_or_else(|| bad("no `currency`".into()))?, "currency").map_err(&bad)?;
        let status = match field(listing, "status").as_ref().and_then(Value::as_str) {
            Some("open") => AccountStatus::Active,
            Some("closed") => AccountStatus::Closed,
            _ => AccountStatus::Unknown,
        };
        let balances = self.get_json(&["accounts", id, "balances"], &[]).await?;
        let (balance, available) = balances_of(&balances).map_err(&bad)?;
        let mut transactions = self.transactions(id, since.date_naive()).await?;
        derive_ids(&mut transactions);
        let transactions = once_each(transactions).map_err(&bad)?;
        Ok(Observation {
            account: AccountRef::new(self.source.clone(), id),
            name: field(listing, "name").and_then(|v| v.as_str().map(str::to_owned)),
            snapshot: Snapshot { available, status, ..Snapshot::seen(balance, currency, now) },
            transactions,
            balance: BalanceSource::Platform,
        })
    }

    /// The account's transactions dated `from` or later, `count` per page, `from_id` the last id
    /// of the page before. Teller lists the newest first, so a page is the one before in time;
    /// that order is how its clients page (it is not spelled out on the reference page read), and
    /// all that rests on it is where reading stops: at a short page or at a page that reaches back
    /// before `from`. Older transactions on that page are dropped, as a server-side window would.
    async fn transactions(&self, id: &str, from: NaiveDate) -> Result<Vec<Transaction>, SourceError> {
        let bad = |detail: String| self.malformed(format!("account {id}: {detail}"));
        let mut kept = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![("count", PAGE.to_string())];
            query.extend(after.clone().map(|last| ("from_id", last)));
            let page = self.get_json(&["accounts", id, "transactions"], &query).await?;
            let Value::Array(page) = page else {
                return Err(bad(format!("transactions should be an array, found {}", kind(&page))));
            };
            let mut reached_back = false;
            for (i, tx) in page.iter().enumerate() {
                let tx = transaction(tx).map_err(|e| bad(format!("transactions[{i}]: {e}")))?;
                reached_back |= tx.posted.date_naive() < from;
                if tx.posted.date_naive() >= from {
                    kept.push(tx);
                }
            }
            let last = page.last().and_then(|tx| tx.get("id")).and_then(|v| text(v, "id").ok());
            if page.len() < PAGE || reached_back || last.is_none() {
                return Ok(kept);
            }
            if last == after {
                return Err(bad(format!("paging from_id={} gave the same page again", after.unwrap_or_default())));
            }
            after = last;
        }
        Err(bad(format!(
            "more than {} transactions since {from}; payguard reads at most {MAX_PAGES} pages of {PAGE} per poll",
            MAX_PAGES * PAGE
        )))
    }

    /// GETs `segments` under the API base (each one percent-encoded) and reads the answer as JSON.
    async fn get_json(&self, segments: &[&str], query: &[(&str, String)]) -> Result<Value, SourceError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| SourceError::Setup("api_base cannot take a path".into()))?
            .pop_if_empty()
            .extend(segments);
        let request = self.client.get(url).query(query).basic_auth(self.token.expose()?, Some(""));
        let explained = |status, body: &str| explain(status, body, &self.host);
        let body = get_explained(request, &self.host, &self.limits, explained).await.map_err(certificate_refused)?;
        serde_json::from_slice(&body).map_err(|e| self.malformed(not_json(&body, &e)))
    }

    fn malformed(&self, detail: String) -> SourceError {
        SourceError::Malformed { host: self.host.clone(), detail }
    }
}

/// `ledger` and `available`: Teller always gives at least one. The balance is the ledger one (what
/// the account holds) or, without it, the available one.
fn balances_of(balances: &Value) -> Result<(rust_decimal::Decimal, Option<rust_decimal::Decimal>), String> {
    let field = |name: &str| balances.get(name).filter(|v| !v.is_null());
    let ledger = field("ledger").map(|v| amount(v, "ledger")).transpose()?;
    let available = field("available").map(|v| amount(v, "available")).transpose()?;
    match (ledger, available) {
        (Some(ledger), available) => Ok((ledger, available)),
        (None, Some(available)) => Ok((available, Some(available))),
        (None, None) => Err("balances has neither `ledger` nor `available`".into()),
    }
}

/// One of Teller's transactions. The amount keeps Teller's sign: negative is money leaving the
/// account, positive money coming in.
fn transaction(tx: &Value) -> Result<Transaction, String> {
    let field = |name: &str| tx.get(name).filter(|v| !v.is_null());
    let id = field("id").map(|v| text(v, "id")).transpose()?.unwrap_or_default();
    let amount = amount(field("amount").ok_or("no `amount`")?, "amount")?;
    let posted = time(field("date").ok_or("no `date`")?, "date")?;
    let pending = match field("status").map(|v| text(v, "status")).transpose()?.as_deref() {
        Some("pending") => true,
        Some("posted") => false,
        other => return Err(format!("`status` should be \"pending\" or \"posted\", found {other:?}")),
    };
    let description = field("description").map(|v| text(v, "description")).transpose()?.unwrap_or_default();
    let counterparty = tx.pointer("/details/counterparty/name").filter(|v| !v.is_null());
    let payee = counterparty.map(|v| text(v, "counterparty")).transpose()?.filter(|p| !p.trim().is_empty());
    let payee = payee.unwrap_or_else(|| description.clone());
    Ok(Transaction { id, posted, amount, payee_key: payee_key(&payee), payee, description, pending })
}

/// What Teller's documented errors mean for the person running payguard; `None` leaves the usual
/// mapping (401/403 refused credentials, 429 with its wait). A disconnected enrollment is an ended
/// consent: only the person can reconnect it, so it is said at once.
fn explain(status: StatusCode, body: &str, host: &str) -> Option<SourceError> {
    let error = serde_json::from_str::<Value>(body).ok()?;
    let code = error.pointer("/error/code").and_then(Value::as_str).unwrap_or_default();
    let message = error.pointer("/error/message").and_then(Value::as_str).unwrap_or_default();
    if let Some(reason) = code.strip_prefix("enrollment.disconnected") {
        let detail = disconnected(reason.trim_start_matches('.'), message);
        return Some(SourceError::ConsentExpired { host: host.to_owned(), detail });
    }
    if status == StatusCode::BAD_REQUEST && message.to_ascii_lowercase().contains("certificate") {
        return Some(SourceError::Setup(format!(
            "Teller did not accept the client certificate ({message}): certificate and private_key must be the pair your Teller application downloaded from the dashboard"
        )));
    }
    None
}

/// A handshake the server broke off over our certificate (TLS alerts `UnknownCA`,
/// `BadCertificate`, `CertificateRequired`, …) is what Teller does with a client certificate it
/// did not issue: said as such, since "cannot reach" alone sends people looking at the network.
/// Under TLS 1.3 the client deems the handshake done before the server has judged its
/// certificate, so the alert can also close a connection the request was about to use, and the
/// error then says only that: that is said as the likely cause, not as a certainty.
fn certificate_refused(error: SourceError) -> SourceError {
    const PAIR: &str =
        "certificate and private_key must be the pair your Teller application downloaded from the dashboard";
    match error {
        SourceError::Unreachable { host, reason }
            if reason
                .split("alert: ")
                .nth(1)
                .is_some_and(|alert| alert.contains("Certificate") || alert.contains("UnknownCA")) =>
        {
            let reason = format!("{reason}; the server refused payguard's client certificate: {PAIR}");
            SourceError::Unreachable { host, reason }
        }
        SourceError::Unreachable { host, reason }
            if reason.contains("connection was not ready")
                || reason.contains("connection closed before message completed") =>
        {
            let reason = format!(
                "{reason}; the server closed the connection as soon as it was made, as it does with a client certificate it did not issue: {PAIR}"
            );
            SourceError::Unreachable { host, reason }
        }
        other => other,
    }
}

/// The words for a disconnected enrollment: why (the reasons Teller's webhooks reference lists)
/// and what to do.
fn disconnected(reason: &str, message: &str) -> String {
    let why = match reason {
        "credentials_invalid" => {
            "the bank no longer accepts the login Teller holds; if you did not change your bank password, someone else may have"
        }
        "account_locked" => "the bank has locked the account",
        "enrollment_inactive" => "the enrollment was not used for too long",
        "user_action.mfa_required" => "the bank asks for a one-time code again",
        r if r.starts_with("user_action.") => "the bank wants you to sign in and act on its website",
        _ => "Teller lost the connection to the bank",
    };
    let code = if reason.is_empty() {
        "enrollment.disconnected".to_owned()
    } else {
        format!("enrollment.disconnected.{reason}")
    };
    let said = if message.is_empty() { String::new() } else { format!(", \"{message}\"") };
    format!(
        "Teller says the enrollment is disconnected ({code}{said}): {why}. Reconnect the bank through Teller Connect; if that gives a new access token, put it in access_token"
    )
}

impl super::Poller for Teller {
    fn poll<'a>(&'a self, accounts: &'a [String], since: DateTime<Utc>, now: DateTime<Utc>) -> super::PollFuture<'a> {
        Box::pin(Teller::poll(self, accounts, since, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tx(amount: Value, status: &str) -> Value {
        json!({"id": "txn_1", "amount": amount, "date": "2026-11-30", "description": "CARD 1234 SHOP",
               "status": status, "details": {"counterparty": {"name": "Shop", "type": "organization"}}})
    }

    /// Teller's amount is signed as the account sees it: kept exactly, never flipped or rounded.
    #[test]
    fn amounts_keep_tellers_sign() {
        let cases: [(Value, Option<&str>); 8] = [
            (json!("-42.50"), Some("-42.50")),
            (json!("2500.00"), Some("2500.00")),
            (json!("+12.00"), Some("12.00")),
            (json!("-0.01"), Some("-0.01")),
            (json!("0.10"), Some("0.10")),
            (json!(-3.5), Some("-3.5")),
            (json!("12,50"), None),
            (json!(true), None),
        ];
        for (amount, expected) in cases {
            let got = transaction(&tx(amount.clone(), "posted")).map(|t| t.amount.to_string()).ok();
            assert_eq!(got.as_deref(), expected, "{amount}");
        }
    }

    #[test]
    fn pending_and_posted_and_nothing_else() {
        assert_eq!(transaction(&tx(json!("-1"), "pending")).map(|t| t.pending), Ok(true));
        assert_eq!(transaction(&tx(json!("-1"), "posted")).map(|t| t.pending), Ok(false));
        let odd = transaction(&tx(json!("-1"), "reversed")).err().unwrap_or_default();
        assert!(odd.contains("`status`") && odd.contains("reversed"), "{odd}");
    }

    #[test]
    fn the_counterparty_is_the_payee_else_the_description() {
        let named = transaction(&tx(json!("-1"), "posted")).map(|t| (t.payee, t.description));
        assert_eq!(named, Ok(("Shop".into(), "CARD 1234 SHOP".into())));
        let mut anonymous = tx(json!("-1"), "posted");
        anonymous["details"]["counterparty"]["name"] = Value::Null;
        assert_eq!(transaction(&anonymous).map(|t| t.payee), Ok("CARD 1234 SHOP".into()));
    }

    #[test]
    fn balances_take_the_ledger_first() {
        let d = |s: &str| s.parse::<rust_decimal::Decimal>().ok();
        let both = balances_of(&json!({"ledger": "28575.02", "available": "28500.00"}));
        assert_eq!(both.map(|(b, a)| (Some(b), a)), Ok((d("28575.02"), d("28500.00"))));
        let only_available = balances_of(&json!({"ledger": null, "available": "10"}));
        assert_eq!(only_available.map(|(b, a)| (Some(b), a)), Ok((d("10"), d("10"))));
        assert!(balances_of(&json!({"ledger": null})).is_err());
    }

    #[test]
    fn a_refused_client_certificate_is_named() {
        let unreachable =
            |reason: &str| SourceError::Unreachable { host: "api.teller.io".into(), reason: reason.into() };
        for alert in ["UnknownCA", "BadCertificate", "CertificateRequired"] {
            let said = certificate_refused(unreachable(&format!("connection error: received fatal alert: {alert}")));
            assert!(said.to_string().contains("refused payguard's client certificate"), "{said}");
        }
        // The alert closing the connection the request was about to use: the likely cause.
        let closed = "error sending request: client error (Canceled): operation was canceled: connection was not ready";
        let said = certificate_refused(unreachable(closed)).to_string();
        assert!(said.contains("as it does with a client certificate it did not issue"), "{said}");
        // Our refusal of the server's certificate, or a plain network failure, is not that.
        for reason in ["invalid peer certificate: UnknownIssuer", "tcp connect error: Connection refused"] {
            assert_eq!(certificate_refused(unreachable(reason)), unreachable(reason));
        }
    }

    #[test]
    fn documented_errors_say_what_to_do() {
        let body = r#"{"error": {"code": "enrollment.disconnected.user_action.mfa_required", "message": "Enrollment is not healthy"}}"#;
        let words = explain(StatusCode::NOT_FOUND, body, "h").map(|e| e.to_string()).unwrap_or_default();
        assert!(
            words.contains("one-time code") && words.contains("Reconnect the bank through Teller Connect"),
            "{words}"
        );
        let body = r#"{"error": {"code": "bad_request", "message": "Missing certificate: Retry request using your Teller client certificate."}}"#;
        let words = explain(StatusCode::BAD_REQUEST, body, "h").map(|e| e.to_string()).unwrap_or_default();
        assert!(words.contains("did not accept the client certificate"), "{words}");
        // Anything else keeps the usual mapping (403 is refused credentials, 429 a wait).
        assert!(explain(StatusCode::FORBIDDEN, r#"{"error": {"code": "forbidden", "message": "x"}}"#, "h").is_none());
        assert!(explain(StatusCode::TOO_MANY_REQUESTS, "slow down", "h").is_none());
    }
}
