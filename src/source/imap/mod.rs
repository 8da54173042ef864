//! `kind = "imap"`: transaction notices a bank (or an SMS forwarder) mails, read from one folder
//! of a mailbox.
//!
//! A poll logs in, opens the folder with `EXAMINE` (read-only: no flag is set, nothing is moved or
//! deleted), fetches the headers of the mail that arrived since the last UID read (nothing when
//! the folder's `UIDNEXT` says none did), then the whole mail only of those whose sender and
//! subject a rule could match, in bounded batches and each at most `max_body` bytes. The first rule whose pattern matches turns a mail into a transaction of
//! its account; mail no rule matches is counted, never an error.
//!
//! What was read is kept across restarts through [`Poller::kept`]: the folder's `UIDVALIDITY`, the
//! last UID read, and each account's balance (see [`State`]). When `UIDVALIDITY` changes the old
//! UIDs mean nothing: the mail then in the folder is taken as already read, never as new. The first
//! poll reads all the folder's mail: its notices are the accounts' history, the baseline later
//! polls are judged against.

mod notice;
pub mod probe;
mod settings;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use async_imap::Session;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::{Poll, PollFuture, Poller, SourceError};
use crate::config::HttpLimits;
use crate::model::{AccountRef, BalanceSource, Evidence, Observation, Snapshot, Transaction, UnreadRecord, payee_key};

use notice::{Headers, Mail, Reading, headers_match, read};
pub use settings::{ImapConfig, MailRule, Tls};

/// How many mails are fetched whole in one command.
const BODY_BATCH: usize = 50;

/// Logging in is bounded by the source's `timeout`; reading by this many times it, since a first
/// poll of a large folder reads the headers of all its mail.
const READING_TIMEOUTS: u32 = 10;

/// The byte stream a session runs over: TLS, or plain to this machine.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> Stream for T {}

pub type ImapSession = Session<Box<dyn Stream>>;

/// What a poll leaves for the next one, kept in the store between runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// The folder's `UIDVALIDITY` when `last_uid` was read.
    pub validity: u32,
    pub last_uid: u32,
    /// Each account's balance: the last one a notice stated, plus the amounts read since (from
    /// zero while no notice has stated one), and its currency.
    pub balances: BTreeMap<String, (Decimal, String)>,
}

/// What a poll read of the mail that arrived since the last.
struct NewMail {
    /// The state to keep once what was read is stored.
    state: State,
    readings: Vec<Reading>,
    /// Each notice's mail as it arrived, by the notice's id, with a name a person finds it by.
    raw: HashMap<String, (String, Vec<u8>)>,
    /// Mail a rule matched that could not be read: a notice of money whose amount is not known.
    unreadable: Vec<UnreadRecord>,
}

pub struct Imap {
    source: String,
    config: ImapConfig,
    limits: HttpLimits,
    state: Mutex<(State, bool)>,
}

impl Imap {
    pub fn new(source: &str, config: ImapConfig, limits: HttpLimits) -> Self {
        Self { source: source.to_owned(), config, limits, state: Mutex::default() }
    }

    fn state(&self) -> State {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).0.clone()
    }

    async fn poll(&self, accounts: &[String], now: DateTime<Utc>) -> Result<Poll, SourceError> {
        let timed_out = |bound: std::time::Duration| SourceError::Timeout {
            host: self.config.host.clone(),
            seconds: bound.as_secs().max(1),
        };
        let bound = self.limits.timeout.max(std::time::Duration::from_secs(1));
        let mut session =
            tokio::time::timeout(bound, login(&self.config, &self.limits)).await.map_err(|_| timed_out(bound))??;
        let reading = bound * READING_TIMEOUTS;
        let read = tokio::time::timeout(reading, self.read_new(&mut session, now)).await;
        // Logging out is a courtesy: what was read stands whether or not the server hears it.
        let _ = tokio::time::timeout(bound, session.logout()).await;
        let NewMail { state, readings, raw, unreadable } = read.map_err(|_| timed_out(reading))??;
        let mut poll = self.observe(accounts, state, readings, now);
        poll.evidence = records(&poll, raw);
        poll.unreadable = unreadable;
        Ok(poll)
    }

    /// The notices that arrived since the state's last UID, with the state to keep after them.
    async fn read_new(&self, session: &mut ImapSession, now: DateTime<Utc>) -> Result<NewMail, SourceError> {
        let mut state = self.state();
        let folder = session.examine(&self.config.folder).await.map_err(|e| self.failed(&e))?;
        let validity = folder.uid_validity.unwrap_or(0);
        let next = folder.uid_next.unwrap_or(1);
        if state.validity != validity {
            if state.validity != 0 {
                tracing::warn!(
                    source = %self.source,
                    folder = %self.config.folder,
                    "the folder's UIDVALIDITY changed (it was rebuilt or restored): the mail in it now is taken as already read, so a notice that arrived since the last poll is not read; look in the folder for one"
                );
                state.last_uid = next.saturating_sub(1);
            }
            state.validity = validity;
        }
        // UIDNEXT is above every UID in the folder: just past the last one read, it says no mail
        // arrived. Asking anyway with `n:*` fetches the last mail's headers, and on a large
        // maildir the server's lookup of it costs more than the rest of the poll.
        let nothing_new =
            folder.exists == 0 || folder.uid_next.is_some_and(|next| next <= state.last_uid.saturating_add(1));
        let candidates =
            if nothing_new { Candidates::default() } else { self.candidates(session, state.last_uid).await? };
        let mut readings = Vec::new();
        let mut raw_mails = HashMap::new();
        let mut unreadable = Vec::new();
        let mut unmatched = 0usize;
        let mut last = state.last_uid;
        for batch in candidates.uids.chunks(BODY_BATCH) {
            for (uid, raw) in self.bodies(session, batch).await? {
                let Some(mail) = Mail::parse(&raw) else {
                    tracing::warn!(source = %self.source, uid, "a mail could not be parsed; it is skipped");
                    unmatched += 1;
                    continue;
                };
                match read(&self.config.rules, &mail, now) {
                    Ok(Some(reading)) => {
                        let name = format!("{} {}.eml", reading.posted.format("%Y-%m-%d %H%M"), reading.description);
                        raw_mails.entry(reading.id.clone()).or_insert((name, raw));
                        readings.push(reading);
                    }
                    Ok(None) => unmatched += 1,
                    Err(reason) => {
                        let date = mail.headers.date.map(|d| d.format("%Y-%m-%d %H:%M %:z").to_string());
                        let record = format!(
                            "the mail of {} from {}, \"{}\" (UID {uid} in {})",
                            date.as_deref().unwrap_or("no date"),
                            mail.headers.from,
                            mail.headers.subject,
                            self.config.folder
                        );
                        unreadable.push(UnreadRecord { record, reason });
                        unmatched += 1;
                    }
                }
                last = last.max(uid);
            }
        }
        unmatched += candidates.others;
        if unmatched > 0 || !readings.is_empty() {
            tracing::info!(source = %self.source, matched = readings.len(), unmatched, "new mail read");
        }
        state.last_uid = last.max(candidates.highest);
        Ok(NewMail { state, readings, raw: raw_mails, unreadable })
    }

    /// The UIDs after `after` whose headers a rule could match, in order, and how many others.
    async fn candidates(&self, session: &mut ImapSession, after: u32) -> Result<Candidates, SourceError> {
        let query = "(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE MESSAGE-ID)])";
        // Read as they stream in: a first poll's answer is every mail's headers.
        let mut fetches =
            session.uid_fetch(format!("{}:*", after.saturating_add(1)), query).await.map_err(|e| self.failed(&e))?;
        let mut found = Candidates::default();
        while let Some(fetch) = fetches.try_next().await.map_err(|e| self.failed(&e))? {
            // `n:*` names the last mail even when its UID is below n.
            let Some(uid) = fetch.uid.filter(|uid| *uid > after) else { continue };
            found.highest = found.highest.max(uid);
            let headers = Headers::parse(fetch.header().unwrap_or_default());
            let too_large = fetch.size.is_some_and(|size| u64::from(size) > self.limits.max_body);
            if !self.config.rules.iter().any(|rule| headers_match(rule, &headers)) {
                found.others += 1;
            } else if too_large {
                tracing::warn!(source = %self.source, uid, limit = self.limits.max_body, "a mail is larger than max_body; it is skipped");
                found.others += 1;
            } else {
                found.uids.push(uid);
            }
        }
        found.uids.sort_unstable();
        Ok(found)
    }

    /// The whole mails of `uids`, by UID.
    async fn bodies(&self, session: &mut ImapSession, uids: &[u32]) -> Result<Vec<(u32, Vec<u8>)>, SourceError> {
        let set = uids.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        let fetches: Vec<_> = session
            .uid_fetch(set, "(UID BODY.PEEK[])")
            .await
            .map_err(|e| self.failed(&e))?
            .try_collect()
            .await
            .map_err(|e| self.failed(&e))?;
        let mut bodies: Vec<(u32, Vec<u8>)> = fetches
            .iter()
            .filter_map(|f| Some((f.uid?, f.body()?)))
            .filter(|(_, body)| u64::try_from(body.len()).unwrap_or(u64::MAX) <= self.limits.max_body)
            .map(|(uid, body)| (uid, body.to_vec()))
            .collect();
        bodies.sort_by_key(|(uid, _)| *uid);
        Ok(bodies)
    }

    /// The observations of `accounts` after the notices read; the state after them is kept.
    fn observe(&self, accounts: &[String], state: State, mails: Vec<Reading>, now: DateTime<Utc>) -> Poll {
        let (poll, state) = observe(&self.source, accounts, state, mails, now);
        let mut kept = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.0 != state {
            *kept = (state, true);
        }
        poll
    }

    /// An IMAP failure after logging in, as the source's error.
    fn failed(&self, error: &async_imap::error::Error) -> SourceError {
        imap_error(&self.config.host, error)
    }
}

/// The observations of `accounts` after the notices `mails` (in the order they arrived), and the
/// state after them; an account appears once a notice has been about it. A mail whose Message-ID an earlier one in the poll had (delivered twice) is
/// the same notice and is read once.
fn observe(
    source: &str,
    accounts: &[String],
    mut state: State,
    mails: Vec<Reading>,
    now: DateTime<Utc>,
) -> (Poll, State) {
    let mut transactions: BTreeMap<String, Vec<Transaction>> = BTreeMap::new();
    let mut unconfigured = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for reading in mails {
        if !accounts.contains(&reading.account) {
            if !unconfigured.contains(&reading.account) {
                unconfigured.push(reading.account.clone());
            }
            continue;
        }
        if !seen.insert(reading.id.clone()) {
            continue;
        }
        let entry = state.balances.entry(reading.account.clone()).or_default();
        entry.0 = reading.balance.unwrap_or(entry.0 + reading.amount);
        if let Some(currency) = &reading.currency {
            entry.1.clone_from(currency);
        }
        transactions.entry(reading.account.clone()).or_default().push(reading.transaction());
    }
    // An account no notice has been about yet is left out: a balance of zero reported for it now
    // would be its baseline, and its first stated balance would look like money from nowhere.
    let observations = accounts
        .iter()
        .filter_map(|account| {
            let (balance, currency) = state.balances.get(account).cloned()?;
            let observation = Observation {
                account: AccountRef::new(source, account.clone()),
                name: None,
                snapshot: Snapshot::seen(balance, currency, now),
                transactions: transactions.remove(account).unwrap_or_default(),
                balance: BalanceSource::Platform,
            };
            Some((account.clone(), Ok(observation)))
        })
        .collect();
    (Poll { accounts: observations, unconfigured, ..Poll::default() }, state)
}

/// The mails the transactions of `poll` came from, each the record of its own transaction.
fn records(poll: &Poll, mut raw: HashMap<String, (String, Vec<u8>)>) -> Vec<Evidence> {
    let mut records = Vec::new();
    for (account, observation) in &poll.accounts {
        for tx in observation.iter().flat_map(|o| &o.transactions) {
            if let Some((name, bytes)) = raw.remove(&tx.id) {
                records.push(Evidence::new(name, bytes.into(), vec![(account.clone(), tx.id.clone())]));
            }
        }
    }
    records
}

#[derive(Default)]
struct Candidates {
    uids: Vec<u32>,
    /// Mails after the last UID that no rule could match by their headers, or too large.
    others: usize,
    highest: u32,
}

impl Reading {
    fn transaction(self) -> Transaction {
        Transaction {
            id: self.id,
            posted: self.posted,
            amount: self.amount,
            payee_key: payee_key(&self.payee),
            payee: self.payee,
            description: self.description,
            pending: false,
        }
    }
}

impl Poller for Imap {
    fn poll<'a>(&'a self, accounts: &'a [String], _since: DateTime<Utc>, now: DateTime<Utc>) -> PollFuture<'a> {
        Box::pin(self.poll(accounts, now))
    }

    fn kept(&self) -> Option<Vec<u8>> {
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !guard.1 {
            return None;
        }
        guard.1 = false;
        serde_json::to_vec(&guard.0).ok()
    }

    fn restore(&self, kept: &[u8]) {
        if let Ok(state) = serde_json::from_slice::<State>(kept) {
            *self.state.lock().unwrap_or_else(PoisonError::into_inner) = (state, false);
        }
    }
}

/// Connects, encrypts as `tls` says, and logs in.
pub async fn login(config: &ImapConfig, limits: &HttpLimits) -> Result<ImapSession, SourceError> {
    let host = &config.host;
    let unreachable = |reason: String| SourceError::Unreachable { host: host.clone(), reason };
    let seconds = limits.connect_timeout.as_secs().max(1);
    let tcp = tokio::time::timeout(limits.connect_timeout, TcpStream::connect((host.as_str(), config.port)))
        .await
        .map_err(|_| SourceError::Timeout { host: host.clone(), seconds })?
        .map_err(|e| unreachable(e.to_string()))?;
    let stream: Box<dyn Stream> = match config.tls {
        Tls::Implicit => Box::new(encrypt(host, tcp).await?),
        Tls::None => Box::new(tcp),
        Tls::Starttls => {
            let mut client = async_imap::Client::new(tcp);
            greeting(&mut client, host).await?;
            client.run_command_and_check_ok("STARTTLS", None).await.map_err(|e| {
                unreachable(format!("the server did not start TLS ({e}); check tls = \"starttls\" and the port"))
            })?;
            Box::new(encrypt(host, client.into_inner()).await?)
        }
    };
    let mut client = async_imap::Client::new(stream);
    if config.tls != Tls::Starttls {
        greeting(&mut client, host).await?;
    }
    let password = config.password.expose()?;
    match client.login(&config.username, password).await {
        Ok(session) => Ok(session),
        Err((async_imap::error::Error::No(_), _)) => Err(SourceError::Auth { host: host.clone(), status: 0 }),
        Err((e, _)) => Err(imap_error(host, &e)),
    }
}

async fn greeting<T: Stream>(client: &mut async_imap::Client<T>, host: &str) -> Result<(), SourceError> {
    match client.read_response().await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(SourceError::Unreachable {
            host: host.to_owned(),
            reason: "it closed the connection before greeting".into(),
        }),
        Err(e) => Err(SourceError::Unreachable { host: host.to_owned(), reason: e.to_string() }),
    }
}

/// TLS over `tcp`, the server verified against the system's CA certificates (`SSL_CERT_FILE` and
/// `SSL_CERT_DIR` are honoured, as for https).
async fn encrypt(host: &str, tcp: TcpStream) -> Result<tokio_rustls::client::TlsStream<TcpStream>, SourceError> {
    use tokio_rustls::rustls;
    let unreachable = |reason: String| SourceError::Unreachable { host: host.to_owned(), reason };
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if added == 0 {
        let missing =
            crate::tls_roots::require().err().map_or_else(|| "no usable CA certificate".to_owned(), |e| e.to_string());
        return Err(SourceError::Setup(missing));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SourceError::Setup(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls_pki_types::ServerName::try_from(host.to_owned())
        .map_err(|_| SourceError::Setup(format!("{host:?} is not a host name TLS can verify")))?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| unreachable(format!("TLS failed: {e}")))
}

fn imap_error(host: &str, error: &async_imap::error::Error) -> SourceError {
    use async_imap::error::Error;
    match error {
        Error::Io(e) => SourceError::Unreachable { host: host.to_owned(), reason: e.to_string() },
        Error::ConnectionLost => {
            SourceError::Unreachable { host: host.to_owned(), reason: "the connection was lost".into() }
        }
        Error::No(text) | Error::Bad(text) => SourceError::Platform(format!("{host} refused: {text}")),
        other => SourceError::Malformed { host: host.to_owned(), detail: other.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
    }

    fn reading(id: &str, account: &str, amount: i64, balance: Option<i64>) -> Reading {
        Reading {
            id: id.into(),
            rule: 0,
            account: account.into(),
            amount: Decimal::new(amount, 2),
            currency: Some("USD".into()),
            payee: "Shop".into(),
            description: String::new(),
            balance: balance.map(|b| Decimal::new(b, 2)),
            posted: at(),
        }
    }

    fn balances(poll: &Poll) -> Vec<(String, String)> {
        poll.accounts
            .iter()
            .map(|(a, o)| (a.clone(), o.as_ref().map(|o| o.snapshot.balance.to_string()).unwrap_or_default()))
            .collect()
    }

    #[test]
    fn a_balance_is_the_last_stated_one_plus_what_was_read_since() {
        let accounts = ["card".to_owned(), "quiet".to_owned()];
        let mails = vec![
            reading("a", "card", -500, None),
            reading("b", "card", -250, Some(10_000)),
            reading("c", "card", -100, None),
        ];
        let (poll, state) = observe("mail", &accounts, State::default(), mails, at());
        assert_eq!(balances(&poll), [("card".into(), "99.00".into())], "nothing is known of the quiet one");
        // A later poll goes on from what was kept; a notice for an account nobody names is not kept.
        let (poll, state) = observe(
            "mail",
            &accounts,
            state,
            vec![reading("d", "card", -1_000, None), reading("e", "other", -1, None)],
            at(),
        );
        assert_eq!(balances(&poll)[0], ("card".into(), "89.00".into()));
        assert_eq!(poll.unconfigured, ["other"]);
        assert!(!state.balances.contains_key("other"));
        let restored = Imap::new(
            "mail",
            test_config(),
            crate::config::HttpLimits {
                connect_timeout: std::time::Duration::from_secs(1),
                timeout: std::time::Duration::from_secs(1),
                max_body: 1,
                allow_insecure_http: false,
            },
        );
        *restored.state.lock().unwrap_or_else(PoisonError::into_inner) = (state.clone(), true);
        let kept = restored.kept().unwrap_or_default();
        assert_eq!(restored.kept(), None, "kept once after each change");
        let again = Imap::new("mail", test_config(), restored.limits);
        again.restore(&kept);
        assert_eq!(again.state(), state);
    }

    #[test]
    fn a_notice_delivered_twice_is_read_once() {
        let accounts = ["card".to_owned()];
        let mails = vec![reading("a", "card", -500, None), reading("a", "card", -500, None)];
        let (poll, _) = observe("mail", &accounts, State::default(), mails, at());
        let listed = poll.accounts[0].1.as_ref().map(|o| o.transactions.len()).unwrap_or_default();
        assert_eq!((listed, balances(&poll)[0].1.as_str()), (1, "-5.00"));
    }

    fn test_config() -> ImapConfig {
        ImapConfig {
            host: "localhost".into(),
            port: 993,
            tls: Tls::Implicit,
            username: "u".into(),
            password: crate::config::Secret::new("p".to_owned()),
            folder: "INBOX".into(),
            rules: Vec::new(),
        }
    }
}
