//! `kind = "statements"`: exported statement files a person (or a mail rule, or a sync tool)
//! drops into a folder, for accounts that have no API.
//!
//! Each poll reads the files of `dir` it has not read before, oldest first, at most
//! [`FILES_PER_POLL`] of at most [`MAX_FILE`] bytes each; a file is known by the SHA-256 of its
//! bytes, so a renamed re-download is not read again. Files are never changed or deleted. A read
//! of more than [`ENTRIES_PER_POLL`] entries is handed over in parts (`reading`). What was read is
//! remembered between runs through [`Poller::kept`]: the hashes, per account the latest closing
//! balance, and where a read cut short stands.
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
//! (CSV, Alipay) states none, and the engine carries the account's balance from zero by every
//! posted amount stored (`BalanceSource::Carried`): it moves by exactly what the files show, so `unexplained_change` stays quiet, `balance_drop`
//! fires on what the files show leaving, and `low_balance` means nothing (`check` says so).

mod archive;
mod formats;
mod reading;
mod settings;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Poll, Poller, SourceError};
use crate::model::{AccountRef, BalanceSource, Observation, Snapshot, Transaction};
use reading::{Accounts, Cursor};

pub use formats::FileError;
pub use reading::ENTRIES_PER_POLL;
pub use settings::{Amount, Mapping, StatementsConfig};

/// The largest file read; a bigger one is a warning, never a partial read.
pub const MAX_FILE: u64 = 64 * 1024 * 1024;
/// The most new files one read opens; the rest wait for the next scheduled poll.
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
    /// A read the last poll left unfinished (see `reading`).
    cursor: Mutex<Option<Cursor>>,
}

#[derive(Clone, Default, Serialize, Deserialize)]
struct State {
    /// The SHA-256 of every file read (or found unreadable).
    files: BTreeSet<String>,
    accounts: BTreeMap<String, Book>,
    /// The file a read stopped in, between the polls of a read or after a restart cut it short.
    #[serde(default)]
    within: Option<Within>,
}

/// Where a read of a file stands: its hash, and how many of its entries were handed over.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Within {
    hash: String,
    handed: usize,
}

/// What one account's files said so far. (Earlier versions kept every posted amount here for a
/// running sum; the engine carries the balance now, and reading such a state ignores them.)
#[derive(Clone, Default, Serialize, Deserialize)]
struct Book {
    currency: String,
    /// The latest closing balance a file gave, and its date.
    closing: Option<(Decimal, DateTime<Utc>)>,
}

impl Statements {
    pub fn new(source: &str, config: StatementsConfig) -> Self {
        Self {
            source: source.to_owned(),
            config,
            state: Mutex::default(),
            read: Mutex::default(),
            cursor: Mutex::default(),
        }
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
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner).clone();
        // A read goes on only from where its last part was stored.
        let cursor = self.cursor.lock().unwrap_or_else(PoisonError::into_inner).take();
        let cursor = cursor.filter(|c| c.expects == state.within);
        let config = self.config.clone();
        let configured = accounts.to_vec();
        let (cursor, part, state) = tokio::task::spawn_blocking(move || {
            let mut cursor = match cursor {
                Some(cursor) => cursor,
                None => Cursor::start(&config.dir)?,
            };
            let accounts = Accounts { configured: &configured, single: single.as_deref() };
            let part = cursor.take(&config, &accounts, &mut state);
            Ok::<_, SourceError>((cursor, part, state))
        })
        .await
        .map_err(|e| SourceError::Setup(format!("reading the statements folder stopped: {e}")))??;
        let more = !cursor.is_done();
        let mut poll = Poll {
            more,
            unreadable: part.unreadable,
            unconfigured: part.unconfigured,
            evidence: part.evidence.into_values().filter(|r| !r.cites.is_empty()).collect(),
            ..Poll::default()
        };
        let mut found = part.found;
        if more {
            // A part: only the accounts it holds transactions of, each carried from where it stood.
            for (account, transactions) in found {
                let book = state.accounts.get(&account).cloned().unwrap_or_default();
                let opening = part.opening.get(&account).copied().unwrap_or_default();
                let observation =
                    self.observation(&account, &book, opening, BalanceSource::CarriedPart, transactions, now);
                poll.accounts.push((account, Ok(observation)));
            }
            *self.cursor.lock().unwrap_or_else(PoisonError::into_inner) = Some(cursor);
        } else {
            for account in accounts {
                let transactions = found.remove(account).unwrap_or_default();
                let result = match state.accounts.get(account) {
                    Some(book @ Book { closing: Some((balance, _)), .. }) => {
                        Ok(self.observation(account, book, *balance, BalanceSource::Platform, transactions, now))
                    }
                    Some(book) => Ok(self.carried(account, book, transactions, now)),
                    None if !self.config.format.names_balance() => {
                        let book = Book { currency: self.config.format.currency().to_owned(), ..Book::default() };
                        Ok(self.carried(account, &book, transactions, now))
                    }
                    None => Err(SourceError::MissingAccount(account.clone())),
                };
                poll.accounts.push((account.clone(), result));
            }
        }
        if part.changed {
            *self.read.lock().unwrap_or_else(PoisonError::into_inner) = Some(state);
        }
        Ok(poll)
    }

    /// An account whose files state no balance: the engine carries it from zero by what posts.
    fn carried(
        &self,
        account: &str,
        book: &Book,
        transactions: BTreeMap<String, Transaction>,
        now: DateTime<Utc>,
    ) -> Observation {
        self.observation(account, book, Decimal::ZERO, BalanceSource::Carried, transactions, now)
    }

    fn observation(
        &self,
        account: &str,
        book: &Book,
        balance: Decimal,
        source: BalanceSource,
        transactions: BTreeMap<String, Transaction>,
        now: DateTime<Utc>,
    ) -> Observation {
        Observation {
            account: AccountRef::new(self.source.clone(), account),
            name: None,
            snapshot: Snapshot {
                as_of: book.closing.map(|(_, at)| at),
                ..Snapshot::seen(balance, book.currency.clone(), now)
            },
            transactions: transactions.into_values().collect(),
            balance: source,
        }
    }
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
