//! Sources: the account APIs payguard polls, one folder per kind behind one `poll` call.
//!
//! A kind brings its settings (`kind = "…"` and its keys, see `config::Kind`), what a poll costs,
//! and its [`Poller`]; [`SourceKind`] lists the kinds, one line each.
//!
//! A poll either yields an [`Observation`] per account or says why not. Answers are treated as
//! hostile: every size and time is capped, unknown fields are ignored, and an account whose data is
//! unusable in any part is a failed account, never a half-read one. Every text field is bounded in
//! one place, [`bounded`], before anything is judged or stored.

pub mod akahu;
pub mod enablebanking;
mod error;
mod fetch;
pub mod gocardless;
pub mod http_json;
pub mod imap;
pub mod notices;
mod paged;
pub mod simplefin;
pub mod statements;
pub mod teller;
pub mod up;
mod values;

use chrono::{DateTime, Utc};

use crate::config::{HttpLimits, SourceConfig};
use crate::model::{Observation, Transaction, payee_key, short_hash};
use crate::text;

pub use error::SourceError;
pub use fetch::{check_url, host_of, post};

crate::config::kinds! {
    /// The kinds of account source, each with its settings.
    pub enum SourceKind: dyn Kind {
        SimpleFin(simplefin::SimpleFinConfig) = "simplefin",
        HttpJson(http_json::HttpJsonConfig) = "http-json",
        GoCardless(gocardless::GoCardlessConfig) = "gocardless",
        Teller(teller::TellerConfig) = "teller",
        Up(up::UpConfig) = "up",
        Akahu(akahu::AkahuConfig) = "akahu",
        EnableBanking(enablebanking::EnableBankingConfig) = "enablebanking",
        Statements(statements::StatementsConfig) = "statements",
        Imap(imap::ImapConfig) = "imap",
    }
}

/// What payguard asks of every kind of account source.
pub trait Kind {
    /// How many HTTP requests one poll of `accounts` accounts makes: what the daily budget counts.
    fn requests_per_poll(&self, accounts: usize) -> u32;

    /// The daily request budget when `max_requests_per_day` does not say.
    fn default_budget(&self) -> Option<u32> {
        None
    }

    /// How the person renews their consent when it ends, for `consent_expiry`: the command to
    /// run, when the kind has one.
    fn renewal(&self) -> Option<&'static str> {
        None
    }

    /// How many polls a day the provider may allow at the least, when it limits them (`check`
    /// warns of a schedule that asks for more).
    fn polls_allowed_per_day(&self) -> Option<u32> {
        None
    }

    /// Why all the source's data belongs to one `[[account]]`, when it names no account (a file
    /// format without account numbers): the config then needs exactly one.
    fn single_account(&self) -> Option<String> {
        None
    }

    /// Whether the platform keeps the data current by itself, so data that stops moving means a
    /// broken connection: `stale_data` is then on unless the account's `stale_after` says "off".
    fn stays_current(&self) -> bool {
        true
    }

    /// The accounts the kind's own keys name (a mail rule's `account`), each with its key: each
    /// must be an `[[account]]` of the source, or what it feeds would go unwatched.
    fn named_accounts(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// The kind's poller for the source `name`, asking with `client`, which keeps `limits`.
    fn connect(&self, name: &str, client: reqwest::Client, limits: HttpLimits) -> Result<Box<dyn Poller>, SourceError>;
}

impl SourceKind {
    /// See [`Kind::requests_per_poll`].
    pub fn requests_per_poll(&self, accounts: usize) -> u32 {
        self.get().requests_per_poll(accounts)
    }
}

/// A kind's work: one poll of some accounts (see [`Source::poll`]).
pub trait Poller: Send + Sync {
    fn poll<'a>(&'a self, accounts: &'a [String], since: DateTime<Utc>, now: DateTime<Utc>) -> PollFuture<'a>;

    /// What the kind wants kept until the source is built again (a provider's tokens, so a
    /// restart need not send the secrets that mint them), when it changed since last asked.
    fn kept(&self) -> Option<Vec<u8>> {
        None
    }

    /// Takes back what [`Poller::kept`] gave, from an earlier run; what it cannot read it ignores.
    fn restore(&self, _kept: &[u8]) {}
}

/// What [`Poller::poll`] returns: kinds are many, so the future is boxed.
pub type PollFuture<'a> = std::pin::Pin<Box<dyn Future<Output = Result<Poll, SourceError>> + Send + 'a>>;

/// What one poll of one source produced.
#[derive(Debug, Default)]
pub struct Poll {
    /// One entry per account asked for, in the order asked.
    pub accounts: Vec<(String, Result<Observation, SourceError>)>,
    /// Accounts the source reported that no `[[account]]` names: not watched, worth a warning.
    pub unconfigured: Vec<String>,
    /// Problems the platform reported alongside usable data (SimpleFIN `errors`).
    pub warnings: Vec<String>,
    /// When the provider says the person's consent to read the accounts ends.
    pub consent_until: Option<DateTime<Utc>>,
    /// Each account's request quota, as the provider reported it.
    pub quotas: Vec<(String, crate::model::Quota)>,
    /// The records the transactions came from (mails, files), for kinds that read such records.
    pub evidence: Vec<crate::model::Evidence>,
    /// Records read for the first time that could not be read: each is one `unreadable_record`.
    pub unreadable: Vec<crate::model::UnreadRecord>,
    /// The source has more of this read to hand over, at once: the engine stores this poll as a
    /// part and polls again (a statement export too large for one poll, `statements::reading`).
    pub more: bool,
}

/// A configured source, ready to poll.
pub struct Source {
    poller: Box<dyn Poller>,
    /// The kind's credentials, cut out of every error a poll returns, whatever the kind did.
    secrets: Vec<crate::config::Secret>,
}

impl Source {
    pub fn new(config: &SourceConfig) -> Result<Source, SourceError> {
        let client = fetch::client(&config.http)?;
        let poller = config.kind.get().connect(&config.name, client, config.http)?;
        Ok(Source { poller, secrets: crate::config::secrets_of(&config.kind) })
    }

    /// Polls `accounts` for their balance and for transactions posted since `since`.
    ///
    /// `Err` means nothing usable came back at all (the platform is down, refused us, or answered
    /// nonsense); per-account failures are inside the [`Poll`].
    pub async fn poll(
        &self,
        accounts: &[String],
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Poll, SourceError> {
        let poll = self.poller.poll(accounts, since, now).await;
        poll.map(|poll| bounded(poll, &self.secrets)).map_err(|e| bounded_error(e, &self.secrets))
    }

    /// See [`Poller::kept`].
    pub fn kept(&self) -> Option<Vec<u8>> {
        self.poller.kept()
    }

    /// See [`Poller::restore`].
    pub fn restore(&self, kept: &[u8]) {
        self.poller.restore(kept);
    }
}

/// Every text field of a poll at most [`text::STORED`] bytes, so a hostile answer cannot make the
/// store keep (and every message repeat) megabytes per transaction. What was cut is logged per
/// account, naming the fields and never their content.
///
/// Bounding runs after the sources derived ids and dropped repeats (`derive_ids`, `once_each`),
/// which see the whole text: a derived id stays what it was before there was a bound, and two
/// transactions that differ only beyond the bound stay two. A source's own id longer than the
/// bound becomes `long:` and a digest of the whole id, which is as distinct and as stable as the id
/// itself. The payee key is taken again from the cut payee, so it matches what is stored.
fn bounded(mut poll: Poll, secrets: &[crate::config::Secret]) -> Poll {
    for (_, result) in &mut poll.accounts {
        match result {
            Ok(observation) => bound_observation(observation),
            Err(error) => *error = bounded_error(error.clone(), secrets),
        }
    }
    poll.warnings
        .iter_mut()
        .chain(&mut poll.unconfigured)
        .chain(poll.evidence.iter_mut().map(|e| &mut e.name))
        .chain(poll.unreadable.iter_mut().flat_map(|u| [&mut u.record, &mut u.reason]))
        .for_each(|t| {
            text::cut(t, text::STORED);
        });
    poll
}

fn bound_observation(observation: &mut Observation) {
    let mut cut: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    let mut note = |field: &'static str, was_cut: bool| {
        if was_cut {
            *cut.entry(field).or_default() += 1;
        }
    };
    if let Some(name) = &mut observation.name {
        note("name", text::cut(name, text::STORED));
    }
    note("currency", text::cut(&mut observation.snapshot.currency, text::STORED));
    for tx in &mut observation.transactions {
        note("id", bound_id(&mut tx.id));
        note("description", text::cut(&mut tx.description, text::STORED));
        if text::cut(&mut tx.payee, text::STORED) {
            note("payee", true);
            tx.payee_key = payee_key(&tx.payee);
        }
        note("payee_key", text::cut(&mut tx.payee_key, text::STORED));
    }
    if !cut.is_empty() {
        let fields: Vec<String> = cut.iter().map(|(field, n)| format!("{field} ×{n}")).collect();
        tracing::warn!(
            account = %observation.account,
            fields = %fields.join(", "),
            limit = text::STORED,
            "the source sent text longer than payguard keeps; it was cut"
        );
    }
}

/// An id longer than [`text::STORED`] bytes becomes `long:` and the digest of the whole id; says
/// whether it did.
fn bound_id(id: &mut String) -> bool {
    if id.len() <= text::STORED {
        return false;
    }
    *id = format!("long:{}", short_hash(id));
    true
}

/// A platform's words in an error, bounded like the data (errors are shown and kept as the
/// source's last error), and cut free of the source's credentials first: an answer that echoes one
/// back cannot put it in an error, whichever kind read it.
fn bounded_error(mut error: SourceError, secrets: &[crate::config::Secret]) -> SourceError {
    match &mut error {
        SourceError::Unreachable { reason: t, .. }
        | SourceError::BrokenOff { reason: t, .. }
        | SourceError::Status { detail: t, .. }
        | SourceError::Malformed { detail: t, .. }
        | SourceError::ConsentExpired { detail: t, .. }
        | SourceError::Platform(t)
        | SourceError::MissingAccount(t)
        | SourceError::Setup(t) => {
            if !secrets.is_empty() {
                *t = crate::redact::redact(std::mem::take(t), secrets);
            }
            text::cut(t, text::STORED);
        }
        SourceError::Timeout { .. }
        | SourceError::Auth { .. }
        | SourceError::RateLimited { .. }
        | SourceError::TooLarge { .. } => {}
    }
    error
}

/// The transactions of one account, each id once. A transaction listed twice in one answer (an
/// overlapping page, a retried one) is one transaction: counting it twice would double its amount
/// in reconciliation and its payee's count. Copies that differ are contradictory, and so unusable.
/// Runs after `derive_ids`, which gives identical id-less transactions distinct ids on purpose.
fn once_each(transactions: Vec<Transaction>) -> Result<Vec<Transaction>, String> {
    let mut first_at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut kept: Vec<Transaction> = Vec::with_capacity(transactions.len());
    for (i, tx) in transactions.into_iter().enumerate() {
        match first_at.get(&tx.id).map(|at| kept.get(*at)) {
            Some(Some(first)) if *first == tx => {}
            Some(_) => return Err(format!("transactions[{i}] repeats the id {:?} with different data", tx.id)),
            None => {
                first_at.insert(tx.id.clone(), kept.len());
                kept.push(tx);
            }
        }
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(id: &str, amount: i64) -> Transaction {
        Transaction {
            id: id.into(),
            posted: chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default(),
            amount: rust_decimal::Decimal::new(amount, 2),
            payee: "Shop".into(),
            payee_key: "shop".into(),
            description: String::new(),
            pending: false,
        }
    }

    #[test]
    fn a_transaction_listed_twice_counts_once() {
        let kept = once_each(vec![tx("a", -100), tx("b", -200), tx("a", -100)]);
        assert_eq!(kept.map(|t| t.into_iter().map(|t| t.id).collect::<Vec<_>>()), Ok(vec!["a".into(), "b".into()]));
        let contradictory = once_each(vec![tx("a", -100), tx("a", -999)]);
        assert_eq!(contradictory, Err("transactions[1] repeats the id \"a\" with different data".to_owned()));
    }
}
