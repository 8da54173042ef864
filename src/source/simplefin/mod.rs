//! The SimpleFIN protocol: `GET {access_url}/accounts?start-date=…&pending=1`.
//!
//! The access URL carries Basic credentials (`https://user:pass@bridge/simplefin`); they are taken out
//! of the URL, sent as an Authorization header, and never appear in a message. Amounts and balances
//! are decimal strings; unknown fields (`org`, `extra`, `holdings`, …) are ignored.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use reqwest::{Client, Url};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

pub mod claim;
mod settings;

use super::fetch::{check_url, get, host_of};
use super::values::{amount, kind, text, time, unreadable};
use super::{Poll, SourceError, once_each};
use crate::config::{HttpLimits, Secret};
use crate::model::{
    AccountRef, AccountStatus, BalanceSource, Observation, Snapshot, Transaction, derive_ids, payee_key,
};

pub use settings::SimpleFinConfig;

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
        let mut base = check_url(access_url.expose()?, limits.allow_insecure_http).map_err(SourceError::Setup)?;
        let username = percent_decode(base.username());
        let password = Secret::new(percent_decode(base.password().unwrap_or_default()));
        // Infallible for http(s) URLs, which check_url guarantees.
        let _ = base.set_username("");
        let _ = base.set_password(None);
        let host = host_of(&base);
        Ok(Self { source: source.to_owned(), base, username, password, client, limits, host })
    }

    /// The SimpleFIN reader of `config`, outside the daemon: to read answers the way a poll does.
    pub fn of(config: &crate::config::SourceConfig) -> Result<Self, SourceError> {
        let super::SourceKind::SimpleFin(settings) = &config.kind else {
            return Err(SourceError::Setup(format!("source {} is not of kind \"simplefin\"", config.name)));
        };
        Self::new(&config.name, &settings.access_url, super::fetch::client(&config.http)?, config.http)
    }

    /// The ids of the accounts `access_url` reads, by one request (`payguard init`).
    pub async fn account_ids(access_url: &Secret) -> Result<Vec<String>, SourceError> {
        let limits = HttpLimits::SETUP;
        let reader = Self::new("simplefin", access_url, super::fetch::client(&limits)?, limits)?;
        let now = Utc::now();
        Ok(reader.poll(&[], now - chrono::TimeDelta::days(1), now).await?.unconfigured)
    }

    async fn poll(&self, accounts: &[String], since: DateTime<Utc>, now: DateTime<Utc>) -> Result<Poll, SourceError> {
        let url = format!("{}/accounts", self.base.as_str().trim_end_matches('/'));
        let request = self
            .client
            .get(url)
            .query(&[("start-date", since.timestamp().to_string()), ("pending", "1".to_owned())])
            .basic_auth(&self.username, Some(self.password.expose()?));
        let body = get(request, &self.host, &self.limits).await?;
        self.parse(&body, accounts, now)
    }

    /// Turns an `/accounts` answer into per-account observations.
    ///
    /// The answer is read as a stream: each account becomes its observation as soon as it is
    /// read, so a bridge listing 10,000 accounts never sits in memory as one JSON tree (hundreds
    /// of MB for a 20 MB answer). Any answer not shaped like SimpleFIN at the top (not an object,
    /// `accounts` not an array, not JSON at all) is read again as a whole by [`SimpleFin::read_tree`],
    /// whose words about what is wrong are the errors; both read accounts with the same code.
    pub fn parse(&self, body: &[u8], wanted: &[String], now: DateTime<Utc>) -> Result<Poll, SourceError> {
        let wanted_set: HashSet<&str> = wanted.iter().map(String::as_str).collect();
        let (top, accounts) = match self.read_stream(body, &wanted_set, now) {
            Some(read) => read,
            None => self.read_tree(body, &wanted_set, now)?,
        };
        self.answer(&top, accounts, wanted)
    }

    /// The answer read as a stream: its top-level messages and its accounts, or `None` if it is
    /// not shaped like SimpleFIN.
    fn read_stream(&self, body: &[u8], wanted: &HashSet<&str>, now: DateTime<Utc>) -> Option<(Top, Option<Listed>)> {
        let seed = Root { source: self, wanted, now };
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        let Streamed { errors, errlist, accounts } = seed.deserialize(&mut deserializer).ok()?;
        deserializer.end().ok()?;
        let mut top = Top::new();
        top.extend(errors.map(|e| ("errors".to_owned(), e)));
        top.extend(errlist.map(|e| ("errlist".to_owned(), e)));
        Some((top, accounts))
    }

    /// The answer read as one JSON tree, with an error that says what is wrong with its shape.
    fn read_tree(
        &self,
        body: &[u8],
        wanted: &HashSet<&str>,
        now: DateTime<Utc>,
    ) -> Result<(Top, Option<Listed>), SourceError> {
        let malformed = |detail: String| SourceError::Malformed { host: self.host.clone(), detail };
        let secrets = std::slice::from_ref(&self.password);
        let root: Value = serde_json::from_slice(body).map_err(|_| malformed(unreadable(body, secrets)))?;
        let Value::Object(mut root) = root else {
            return Err(malformed(format!("expected a JSON object, found {}", kind(&root))));
        };
        let listed = match root.remove("accounts") {
            Some(Value::Array(accounts)) => {
                let mut listed = Listed::default();
                for account in &accounts {
                    listed.take(self, wanted, account, now);
                }
                Some(listed)
            }
            Some(other) => {
                return Err(malformed(format!("`accounts` should be an array, found {}", kind(&other))));
            }
            None => None,
        };
        Ok((root, listed))
    }

    /// The poll an answer makes: each wanted account's observation or why there is none.
    fn answer(&self, top: &Top, accounts: Option<Listed>, wanted: &[String]) -> Result<Poll, SourceError> {
        let malformed = |detail: String| SourceError::Malformed { host: self.host.clone(), detail };
        let warnings = platform_errors(top);
        let statuses = account_statuses(top);
        let listed = match accounts {
            // Nothing usable came back at all: a failed poll, which counts towards source_down,
            // not one "missing account" per configured account on a poll that succeeded.
            Some(listed) if listed.count == 0 && !wanted.is_empty() => {
                if !warnings.is_empty() {
                    return Err(SourceError::Platform(warnings.join("; ")));
                }
                let why = "it lists no accounts at all; the bridge may have lost its connection to the bank";
                return Err(malformed(why.to_owned()));
            }
            Some(listed) => listed,
            None if !warnings.is_empty() => return Err(SourceError::Platform(warnings.join("; "))),
            None => return Err(malformed("no `accounts` in the answer".to_owned())),
        };
        if let Some(i) = listed.first_without_id {
            return Err(malformed(format!("accounts[{i}] has no id")));
        }
        let Listed { mut found, unconfigured, .. } = listed;
        let mut poll = Poll { warnings, unconfigured, accounts: Vec::with_capacity(wanted.len()), ..Poll::default() };
        for id in wanted {
            let result = match found.remove(id.as_str()) {
                Some(result) => result
                    .map(|mut observation| {
                        observation.snapshot.status =
                            statuses.get(id.as_str()).copied().unwrap_or(AccountStatus::Active);
                        observation
                    })
                    .map_err(|e| malformed(format!("account {id}: {e}"))),
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
            balance: BalanceSource::Platform,
        })
    }
}

/// An answer's top level without its accounts: where the platform's messages are.
type Top = serde_json::Map<String, Value>;

/// What the streaming read of an answer keeps: the platform's messages and the accounts.
#[derive(Default)]
struct Streamed {
    errors: Option<Value>,
    errlist: Option<Value>,
    accounts: Option<Listed>,
}

/// The accounts of an answer, each read into its observation (status still to be set from
/// `errlist`, which may come after them).
#[derive(Default)]
struct Listed {
    count: usize,
    /// The first account without an id: the answer is unusable.
    first_without_id: Option<usize>,
    /// Wanted accounts by id; an account listed twice counts with its first listing.
    found: HashMap<String, Result<Observation, String>>,
    unconfigured: Vec<String>,
}

impl Listed {
    /// Reads the next account of the answer.
    fn take(&mut self, source: &SimpleFin, wanted: &HashSet<&str>, account: &Value, now: DateTime<Utc>) {
        let i = self.count;
        self.count += 1;
        let Some(id) = account.get("id").and_then(|v| text(v, "id").ok()) else {
            self.first_without_id.get_or_insert(i);
            return;
        };
        if !wanted.contains(id.as_str()) {
            self.unconfigured.push(id);
        } else if let Entry::Vacant(slot) = self.found.entry(id) {
            let observation = source.account(account, slot.key(), AccountStatus::Active, now);
            slot.insert(observation);
        }
    }
}

/// The top of an answer, read key by key; `accounts` is streamed.
struct Root<'a> {
    source: &'a SimpleFin,
    wanted: &'a HashSet<&'a str>,
    now: DateTime<Utc>,
}

impl<'de> DeserializeSeed<'de> for Root<'_> {
    type Value = Streamed;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Streamed, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Root<'_> {
    type Value = Streamed;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a SimpleFIN answer")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Streamed, A::Error> {
        let mut out = Streamed::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "accounts" if out.accounts.is_none() => {
                    out.accounts = Some(map.next_value_seed(Accounts { root: &self })?);
                }
                // Listed twice: left to the whole-tree reading, which keeps the last, as JSON does.
                "accounts" => return Err(serde::de::Error::custom("`accounts` twice")),
                "errors" => out.errors = Some(map.next_value()?),
                "errlist" => out.errlist = Some(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

struct Accounts<'r, 'a> {
    root: &'r Root<'a>,
}

impl<'de> DeserializeSeed<'de> for Accounts<'_, '_> {
    type Value = Listed;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Listed, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Accounts<'_, '_> {
    type Value = Listed;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of accounts")
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Listed, S::Error> {
        let mut listed = Listed::default();
        let Root { source, wanted, now } = *self.root;
        while let Some(account) = seq.next_element::<Value>()? {
            listed.take(source, wanted, &account, now);
        }
        Ok(listed)
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
fn account_statuses(root: &serde_json::Map<String, Value>) -> HashMap<&str, AccountStatus> {
    let mut statuses = HashMap::new();
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

/// The access URL's user name or password as the bridge meant it: a URL keeps them
/// percent-encoded (`%40` for `@`).
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

impl super::Poller for SimpleFin {
    fn poll<'a>(&'a self, accounts: &'a [String], since: DateTime<Utc>, now: DateTime<Utc>) -> super::PollFuture<'a> {
        Box::pin(SimpleFin::poll(self, accounts, since, now))
    }
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
        assert_eq!(source.password.expose(), Ok("p/ss"));
    }
}
