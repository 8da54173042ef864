//! `kind = "statements"`: exported statement files a person (or a mail rule, or a sync tool)
//! drops into a folder, for accounts that have no API.
//!
//! Each poll reads the files of `dir` it has not read before, oldest first, at most
//! [`FILES_PER_POLL`] of at most [`MAX_FILE`] bytes each; a file is known by the SHA-256 of its
//! bytes, so a renamed re-download is not read again. Files are never changed or deleted. What was
//! read is remembered between runs through [`Poller::kept`]: the hashes, and per account the
//! closing balance or the running sum (below).
//!
//! A file that cannot be read is one `unreadable_record` alert naming it and the line, remembered
//! as read (a fixed export has other bytes, so it is read); the other files are read as usual.
//!
//! Overlapping exports: a transaction keeps the platform's id where the format has one (Alipay's
//! 交易订单号); otherwise its id is derived from its time, amount, payee and description and its
//! place among identical rows *of the same file* (`derive_ids`, per file): two identical coffees
//! in one file are `#1` and `#2`, and the same coffee in two overlapping files is `#1` in both.
//!
//! The balance: a closing balance in the file is the snapshot at its date. A format without one
//! (CSV, Alipay) reports the sum of every posted amount read so far, starting from zero: it
//! moves by exactly what the files show, so `unexplained_change` stays quiet, `balance_drop`
//! fires on what the files show leaving, and `low_balance` means nothing (`check` says so).

mod archive;
mod formats;
mod settings;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Poll, Poller, SourceError};
use crate::model::{AccountRef, Evidence, Observation, Snapshot, Transaction, UnreadRecord, derive_ids, payee_key};
use formats::{Closing, Statement};

pub use formats::FileError;
pub use settings::{Amount, Mapping, StatementsConfig};

/// The largest file read; a bigger one is a warning, never a partial read.
pub const MAX_FILE: u64 = 64 * 1024 * 1024;
/// The most new files one poll reads; the rest wait for the next poll.
pub const FILES_PER_POLL: usize = 50;

pub struct Statements {
    source: String,
    config: StatementsConfig,
    /// What the store holds: the files read and the accounts' books.
    state: Mutex<State>,
    /// The state after the last poll, until the engine has stored what that poll read and takes
    /// it (`kept`). A poll whose results were not stored is not taken, so the next poll starts
    /// from `state` again and reads its files again: nothing is lost to a store that failed.
    read: Mutex<Option<State>>,
}

#[derive(Clone, Default, Serialize, Deserialize)]
struct State {
    /// The SHA-256 of every file read (or found unreadable).
    files: BTreeSet<String>,
    accounts: BTreeMap<String, Book>,
}

/// What one account's files said so far.
#[derive(Clone, Default, Serialize, Deserialize)]
struct Book {
    currency: String,
    /// The latest closing balance a file gave, and its date.
    closing: Option<(Decimal, DateTime<Utc>)>,
    /// Each posted transaction's amount by id, for the running sum of a format without a balance.
    posted: BTreeMap<String, Decimal>,
}

impl Book {
    fn balance(&self) -> Decimal {
        self.closing.map_or_else(|| self.posted.values().sum(), |(balance, _)| balance)
    }
}

/// A file of the folder, read or why not.
struct Read {
    name: String,
    hash: String,
    statement: Result<Statement, FileError>,
    /// The file as it was dropped (an archive whole), kept as the record of what it holds.
    record: Option<Arc<(String, Vec<u8>)>>,
}

impl Statements {
    pub fn new(source: &str, config: StatementsConfig) -> Self {
        Self { source: source.to_owned(), config, state: Mutex::default(), read: Mutex::default() }
    }

    async fn poll(&self, accounts: &[String], now: DateTime<Utc>) -> Result<Poll, SourceError> {
        let single = match accounts {
            [only] => Some(only.clone()),
            _ if self.config.format.names_account() => None,
            _ => {
                return Err(SourceError::Setup(format!(
                    "{} files do not name their account, so the source {} needs exactly one [[account]] (it has {})",
                    self.config.format.name(),
                    self.source,
                    accounts.len()
                )));
            }
        };
        let known = self.state.lock().unwrap_or_else(PoisonError::into_inner).files.clone();
        let config = self.config.clone();
        let read = tokio::task::spawn_blocking(move || read_new(&config, &known))
            .await
            .map_err(|e| SourceError::Setup(format!("reading the statements folder stopped: {e}")))??;
        let mut poll = Poll::default();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let changed = !read.is_empty();
        let mut found: BTreeMap<String, BTreeMap<String, Transaction>> = BTreeMap::new();
        // The files read, by hash, with the transactions each records.
        let mut records: BTreeMap<String, Evidence> = BTreeMap::new();
        for file in read {
            state.files.insert(file.hash.clone());
            let statement = match file.statement {
                Ok(statement) => statement,
                Err(e) => {
                    poll.unreadable.push(UnreadRecord { record: file.name, reason: e.to_string() });
                    continue;
                }
            };
            let account = match (&statement.account, accounts) {
                (Some(named), _) if accounts.contains(named) => named.clone(),
                (Some(named), _) => {
                    poll.unconfigured.push(named.clone());
                    continue;
                }
                (None, _) => match &single {
                    Some(only) => only.clone(),
                    None => {
                        let reason = "it names no account, and the source has more than one".to_owned();
                        poll.unreadable.push(UnreadRecord { record: file.name, reason });
                        continue;
                    }
                },
            };
            let book = state.accounts.entry(account.clone()).or_default();
            book.currency = statement.currency.clone().unwrap_or_else(|| self.config.format.currency().to_owned());
            if let Some(Closing { balance, at }) = statement.closing
                && book.closing.is_none_or(|(_, was)| was <= at)
            {
                book.closing = Some((balance, at));
            }
            let transactions = found.entry(account.clone()).or_default();
            let mut cites = file.record.as_ref().map(|record| {
                let kept = records.entry(file.hash.clone()).or_insert_with(|| Evidence {
                    name: record.0.clone(),
                    bytes: record.1.clone(),
                    cites: Vec::new(),
                });
                &mut kept.cites
            });
            for tx in transactions_of(statement) {
                if let Some(cites) = cites.as_mut() {
                    cites.push((account.clone(), tx.id.clone()));
                }
                if !tx.pending {
                    book.posted.insert(tx.id.clone(), tx.amount);
                }
                // A later export of the same transaction says where it stands now.
                transactions.insert(tx.id.clone(), tx);
            }
        }
        poll.evidence = records.into_values().filter(|r| !r.cites.is_empty()).collect();
        for account in accounts {
            let result = match state.accounts.get(account) {
                Some(book) => Ok(self.observation(account, book, found.remove(account), now)),
                None if !self.config.format.names_balance() => {
                    let book = Book { currency: self.config.format.currency().to_owned(), ..Book::default() };
                    Ok(self.observation(account, &book, None, now))
                }
                None => Err(SourceError::MissingAccount(account.clone())),
            };
            poll.accounts.push((account.clone(), result));
        }
        if changed {
            *self.read.lock().unwrap_or_else(PoisonError::into_inner) = Some(state);
        }
        Ok(poll)
    }

    fn observation(
        &self,
        account: &str,
        book: &Book,
        transactions: Option<BTreeMap<String, Transaction>>,
        now: DateTime<Utc>,
    ) -> Observation {
        Observation {
            account: AccountRef::new(self.source.clone(), account),
            name: None,
            snapshot: Snapshot {
                as_of: book.closing.map(|(_, at)| at),
                ..Snapshot::seen(book.balance(), book.currency.clone(), now)
            },
            transactions: transactions.map(|t| t.into_values().collect()).unwrap_or_default(),
        }
    }
}

/// One file's entries as transactions, ids derived (per file) where the format has none.
fn transactions_of(statement: Statement) -> Vec<Transaction> {
    let mut transactions: Vec<Transaction> = statement
        .entries
        .into_iter()
        .map(|e| Transaction {
            id: e.id.unwrap_or_default(),
            posted: e.time,
            amount: e.amount,
            payee_key: payee_key(&e.payee),
            payee: e.payee,
            description: e.description,
            pending: e.pending,
        })
        .collect();
    derive_ids(&mut transactions);
    transactions
}

/// The files of `dir` not in `known`, oldest first, at most [`FILES_PER_POLL`], each read (a zip
/// archive's files each, under the archive's hash).
fn read_new(config: &StatementsConfig, known: &BTreeSet<String>) -> Result<Vec<Read>, SourceError> {
    let dir = config.dir.as_path();
    let listing = std::fs::read_dir(dir).map_err(|e| {
        SourceError::Setup(format!(
            "cannot read the statements folder {}: {e} (check dir and its permissions)",
            dir.display()
        ))
    })?;
    let mut files: Vec<(std::time::SystemTime, PathBuf, u64)> = listing
        .filter_map(Result::ok)
        .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|entry| {
            let meta = entry.metadata().ok().filter(std::fs::Metadata::is_file)?;
            Some((meta.modified().unwrap_or(std::time::UNIX_EPOCH), entry.path(), meta.len()))
        })
        .collect();
    files.sort();
    let mut read = Vec::new();
    for (_, path, size) in files {
        if read.len() >= FILES_PER_POLL {
            break;
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if size > MAX_FILE {
            // Known by its name and size, so it is said once, not every poll.
            let hash = format!("large:{}", crate::model::short_hash(&format!("{name}|{size}")));
            if !known.contains(&hash) {
                let reason = format!("it is {size} bytes, more than the {MAX_FILE} payguard reads: split the export");
                read.push(Read { name, hash, statement: Err(FileError::whole(reason)), record: None });
            }
            continue;
        }
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            // Still being written, or taken away meanwhile: the next poll tries again.
            Err(e) => {
                tracing::info!(file = %path.display(), error = %e, "cannot read a statement file yet");
                continue;
            }
        };
        let hash = sha256(&bytes);
        if known.contains(&hash) || read.iter().any(|r: &Read| r.hash == hash) {
            continue;
        }
        let statement = (!archive::is_archive(&bytes)).then(|| config.format.read(&bytes));
        let record = Arc::new((name.clone(), bytes));
        match statement {
            Some(statement) => read.push(Read { name, hash, statement, record: Some(record) }),
            None => read.extend(unzipped(&name, &hash, record, config)),
        }
    }
    Ok(read)
}

/// Each file of the archive `name`, read as the source's format.
fn unzipped(name: &str, hash: &str, record: Arc<(String, Vec<u8>)>, config: &StatementsConfig) -> Vec<Read> {
    let read =
        |inner: String, statement| Read { name: inner, hash: hash.to_owned(), statement, record: Some(record.clone()) };
    match archive::unpack(&record.1, config.zip_password.as_ref()) {
        Err(e) => vec![read(name.to_owned(), Err(e))],
        Ok(files) => files
            .into_iter()
            .map(|(inner, bytes)| read(format!("{name}/{inner}"), bytes.and_then(|b| config.format.read(&b))))
            .collect(),
    }
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

impl Poller for Statements {
    fn poll<'a>(&'a self, accounts: &'a [String], _since: DateTime<Utc>, now: DateTime<Utc>) -> super::PollFuture<'a> {
        Box::pin(Statements::poll(self, accounts, now))
    }

    fn kept(&self) -> Option<Vec<u8>> {
        let read = self.read.lock().unwrap_or_else(PoisonError::into_inner).take()?;
        let bytes = serde_json::to_vec(&read).ok();
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = read;
        bytes
    }

    fn restore(&self, kept: &[u8]) {
        match serde_json::from_slice::<State>(kept) {
            Ok(state) => *self.state.lock().unwrap_or_else(PoisonError::into_inner) = state,
            Err(e) => {
                tracing::warn!(source = %self.source, error = %e, "the record of statement files read is unreadable; every file in dir is read again")
            }
        }
    }
}
