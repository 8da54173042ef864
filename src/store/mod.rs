//! The store: payguard's history in one sled database under `state_dir`. The only code that knows
//! sled exists.
//!
//! Trees: `snapshots` (account, time), `transactions` (account, hour: the transactions posted in
//! that hour, so a poll reads a day of an account's past in 24 records), `tx_ids` (account, id →
//! its hour: what makes ingest idempotent), `payees` (account, payee key), `accounts` (account:
//! first and last poll), `alerts` (account, alert id), `outbox` (delivery id: messages owed),
//! `deliveries` (finished deliveries, by finish time), `silences` (id), `sources` (source name: its
//! health and request ledger), `notices` (notice source, notice id), `meta` (schema version),
//! `audit` (the hash-chained audit log, see [`audit`]).
//!
//! One observation is written in one sled transaction together with the alerts it changed and the
//! deliveries they owe (a poll puts several accounts' in one transaction: [`Store::ingest_all`]),
//! and flushed before the poll counts as done. Every write appends what it changed to the audit log
//! inside its own transaction. The per-account records (transactions, snapshots, payees, accounts)
//! are compact binary ([`codec`]); the rest is JSON.

mod anchor;
mod audit;
mod codec;
mod evidence;
mod health;
mod keys;
mod migrate;
mod private;
mod queries;
mod records;
mod retention;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

use crate::alert::{Alert, Delivery, DeliveryRecord, Silence};
use crate::detect::History;
use crate::model::{AccountRef, Notice, Observation, Snapshot, SourceHealth, Transaction};

pub use anchor::{Rollback, RollbackFile};
pub use audit::{AuditEntry, AuditEvent, AuditHead, AuditOutcome, AuditReport, BrokenLink, GENESIS, Problem};
pub use evidence::Kept;
pub use health::Failure;
pub use records::{AccountRecord, PayeeRecord};
pub use retention::Pruned;

/// The layout version this build reads and writes. Bump it with a migration (`migrate`) when a
/// record changes. Version 2: transactions kept by the hour with an id index, and the per-account
/// records in binary. Version 3: payee keys keep masked card and account numbers.
pub const SCHEMA_VERSION: u32 = 3;
const SCHEMA_KEY: &[u8] = b"schema_version";
/// sled's page cache. Its default (1 GiB) let the daemon grow to hundreds of MB on a big store;
/// a poll reads each account's recent pages once, so a small cache costs little speed (the
/// kernel's page cache still holds the file) and keeps the daemon small (see BENCHMARKS.md).
const CACHE_BYTES: u64 = 8 << 20;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store at {path} is in use by another payguard process (is the daemon running?)")]
    Locked { path: PathBuf },
    #[error(
        "the store at {path} has schema version {found}, written by a newer payguard (this one reads up to version {expected}): run that release or newer"
    )]
    SchemaMismatch { path: PathBuf, found: u32, expected: u32 },
    #[error("cannot open the store at {path}: {source}")]
    Open { path: PathBuf, source: sled::Error },
    #[error("store I/O failed: {0}")]
    Io(#[from] sled::Error),
    #[error("a stored record is corrupt ({what}): {detail}")]
    Corrupt { what: &'static str, detail: String },
    #[error("cannot create the state directory {path}: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("the store at {path} is closed after a failed write and could not be opened again: {reason}")]
    Closed { path: PathBuf, reason: String },
    #[error("the store at {path} failed a write and waits to be opened again while another task uses it")]
    Reopening { path: PathBuf },
    #[error(
        "the store at {path} did not finish a flush within {seconds} s ({disk}); after some failed writes sled never finishes one, so restart payguard once the disk has room"
    )]
    FlushHung { path: PathBuf, seconds: u64, disk: String },
}

impl StoreError {
    /// The store as a whole cannot be written or read (a full or failing disk), as opposed to one
    /// damaged record, which fails only what it belongs to.
    pub fn is_storage(&self) -> bool {
        matches!(
            self,
            StoreError::Io(sled::Error::Io(_))
                | StoreError::Closed { .. }
                | StoreError::Reopening { .. }
                | StoreError::FlushHung { .. }
        )
    }
}

/// What one ingest changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IngestReport {
    pub new_transactions: usize,
    pub updated_transactions: usize,
    pub first_poll: bool,
}

/// One observation to write, with the alerts it changed and the deliveries they owe.
#[derive(Debug, Clone, Copy)]
pub struct Ingest<'a> {
    pub observation: &'a Observation,
    pub alerts: &'a [Alert],
    pub owed: &'a [Delivery],
}

/// Cloning is cheap and shares the one open database, and its reopening (see [`health`]).
#[derive(Clone)]
pub struct Store {
    path: PathBuf,
    shared: Arc<Shared>,
}

/// What every clone of a [`Store`] shares.
struct Shared {
    /// The open database, or why it could not be opened again after a failed write. Each call
    /// takes its own handle, so a reopen can tell when nobody is inside the old database.
    trees: RwLock<Result<Arc<Handles>, String>>,
    /// The last write or flush that failed, until one succeeds again.
    failure: Mutex<Option<Failure>>,
    /// What was written to the audit anchor (see [`anchor`]); it outlives a reopen.
    anchored: Mutex<anchor::Anchoring>,
}

/// The database and its trees (sled handles are reference-counted).
struct Handles {
    db: sled::Db,
    meta: sled::Tree,
    snapshots: sled::Tree,
    transactions: sled::Tree,
    tx_ids: sled::Tree,
    payees: sled::Tree,
    accounts: sled::Tree,
    alerts: sled::Tree,
    outbox: sled::Tree,
    deliveries: sled::Tree,
    silences: sled::Tree,
    sources: sled::Tree,
    notices: sled::Tree,
    audit: sled::Tree,
    /// What a source kind keeps between runs (a provider's tokens), by source name: the kind's
    /// own bytes, never audited or exported.
    kind_state: sled::Tree,
    /// The records transactions came from, by SHA-256, and which record each transaction cites
    /// (see `evidence.rs`).
    evidence: sled::Tree,
    cited: sled::Tree,
}

impl Store {
    /// Opens (or creates) the database in `dir`, checking its schema version.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let trees = Handles::open(dir)?;
        let shared =
            Shared { trees: RwLock::new(Ok(Arc::new(trees))), failure: Mutex::new(None), anchored: Mutex::default() };
        let store = Store { path: dir.to_owned(), shared: Arc::new(shared) };
        store.check_anchor()?;
        Ok(store)
    }

    /// The open database, for one call.
    fn trees(&self) -> Result<Arc<Handles>, StoreError> {
        match &*self.shared.trees.read().unwrap_or_else(PoisonError::into_inner) {
            Ok(trees) => Ok(trees.clone()),
            Err(reason) => Err(StoreError::Closed { path: self.path.clone(), reason: reason.clone() }),
        }
    }
}

impl Handles {
    fn open(dir: &Path) -> Result<Handles, StoreError> {
        let path = dir.to_owned();
        let narrowed =
            private::make_private(dir).map_err(|source| StoreError::CreateDir { path: path.clone(), source })?;
        if !narrowed.changed.is_empty() {
            let changed = narrowed.changed.join(", ");
            tracing::warn!(state_dir = %dir.display(), "the store was readable by others; now only its owner's: {changed}");
        }
        if !narrowed.failed.is_empty() {
            let failed = narrowed.failed.join(", ");
            tracing::warn!(state_dir = %dir.display(), "cannot make the store private (chmod it 0700 and its files 0600): {failed}");
        }
        // No background flusher: payguard flushes when a poll or a command is done, and without
        // the flusher thread the lock goes with the last handle, so the next opener never waits.
        let db = sled::Config::new().path(dir).flush_every_ms(None).cache_capacity(CACHE_BYTES).open().map_err(
            |source| match &source {
                sled::Error::Io(e) if e.to_string().contains("could not acquire lock") => {
                    StoreError::Locked { path: path.clone() }
                }
                _ => StoreError::Open { path: path.clone(), source },
            },
        )?;
        let meta = db.open_tree("meta")?;
        match meta.get(SCHEMA_KEY)? {
            None => {
                meta.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())?;
                meta.flush()?;
            }
            Some(raw) => {
                // Versions count from 1: anything else in the key is damage, not a newer payguard.
                let found = <[u8; 4]>::try_from(raw.as_ref()).map(u32::from_be_bytes).ok().filter(|v| *v > 0);
                let Some(found) = found else {
                    let detail = format!("the bytes {:?} are not a version number", raw.as_ref());
                    return Err(StoreError::Corrupt { what: "schema version", detail });
                };
                if found > SCHEMA_VERSION {
                    return Err(StoreError::SchemaMismatch { path, found, expected: SCHEMA_VERSION });
                }
                migrate::upgrade(&db, &meta, found)?;
            }
        }
        Ok(Handles {
            meta,
            snapshots: db.open_tree("snapshots")?,
            transactions: db.open_tree("transactions")?,
            tx_ids: db.open_tree("tx_ids")?,
            payees: db.open_tree("payees")?,
            accounts: db.open_tree("accounts")?,
            alerts: db.open_tree("alerts")?,
            outbox: db.open_tree("outbox")?,
            deliveries: db.open_tree("deliveries")?,
            silences: db.open_tree("silences")?,
            sources: db.open_tree("sources")?,
            notices: db.open_tree("notices")?,
            audit: db.open_tree("audit")?,
            kind_state: db.open_tree("kind_state")?,
            evidence: db.open_tree("evidence")?,
            cited: db.open_tree("cited")?,
            db,
        })
    }
}

impl Store {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads one key: a store that cannot answer this (a hung disk, a broken database) is a
    /// daemon that must not tell the watchdog it is well. It reads through a handle kept open:
    /// once a write has failed, sled refuses to open even an existing tree, though reads work.
    pub fn responsive(&self) -> Result<(), StoreError> {
        self.trees()?.meta.get(SCHEMA_KEY)?;
        Ok(())
    }

    /// What the detectors need to judge `observation`: the account's recent past and which of the
    /// observation's transactions and payees are already known.
    pub fn history(
        &self,
        observation: &Observation,
        lookback: TimeDelta,
        now: DateTime<Utc>,
    ) -> Result<History, StoreError> {
        let t = self.trees()?;
        let prefix = keys::account(&observation.account);
        let since = now - lookback;
        let first_poll_at = self.account(&observation.account)?.map(|a| a.first_poll_at);
        let snapshots = self.snapshots_between(&observation.account, since, None)?;
        let recent = self.transactions_between(&observation.account, since, None)?;
        let mut known = HashMap::new();
        let mut known_payees = HashSet::new();
        {
            // Most transactions seen again are recent: found in what was just read, not looked up.
            let recent_by_id: HashMap<&str, &Transaction> = recent.iter().map(|tx| (tx.id.as_str(), tx)).collect();
            for tx in &observation.transactions {
                let stored = match recent_by_id.get(tx.id.as_str()) {
                    Some(stored) => Some((*stored).clone()),
                    None => self.stored_transaction(&prefix, &tx.id)?,
                };
                if let Some(stored) = stored {
                    known.insert(tx.id.clone(), stored);
                }
                if t.payees.contains_key(keys::with(&prefix, &[tx.payee_key.as_bytes()]))? {
                    known_payees.insert(tx.payee_key.clone());
                }
            }
        }
        // The range above runs to the end of the account's snapshots, so its last is the last.
        let previous = match snapshots.last() {
            Some(last) => Some(last.clone()),
            None => t
                .snapshots
                .scan_prefix(&prefix)
                .next_back()
                .transpose()?
                .map(|(_, v)| codec::read_snapshot(&v))
                .transpose()?,
        };
        Ok(History { first_poll_at, snapshots, previous, recent, known, known_payees })
    }

    /// The stored transaction with this id, found through the id index.
    fn stored_transaction(&self, prefix: &[u8], id: &str) -> Result<Option<Transaction>, StoreError> {
        let t = self.trees()?;
        let Some(hour) = t.tx_ids.get(keys::with(prefix, &[id.as_bytes()]))? else { return Ok(None) };
        let Some(bytes) = t.transactions.get(keys::with(prefix, &[hour.as_ref()]))? else { return Ok(None) };
        Ok(codec::read_bucket(&bytes)?.into_iter().find(|tx| tx.id == id))
    }

    /// Writes one observation, the alerts it changed and the deliveries they owe in one transaction.
    /// Idempotent: the same transaction seen in ten polls is stored once, and payee counts only grow
    /// for new ones (or move with one that posted to another payee than its pending charge named).
    pub fn ingest(
        &self,
        observation: &Observation,
        alerts: &[Alert],
        owed: &[Delivery],
        now: DateTime<Utc>,
    ) -> Result<IngestReport, StoreError> {
        let mut reports = self.ingest_all(&[Ingest { observation, alerts, owed }], now)?;
        Ok(reports.pop().unwrap_or_default())
    }

    /// Writes several observations (each as [`Store::ingest`] would) in one transaction: all of them
    /// or none. sled pays per transaction (two log buffers sealed and written, its I/O threads
    /// woken), so a big poll writes its accounts in groups; see BENCHMARKS.md.
    pub fn ingest_all(&self, writes: &[Ingest<'_>], now: DateTime<Utc>) -> Result<Vec<IngestReport>, StoreError> {
        let t = self.trees()?;
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        let trees = (&t.snapshots, &t.transactions, &t.tx_ids, &t.payees, &t.accounts, &t.alerts, &t.outbox, &t.audit);
        let result =
            trees.transaction(|trees| writes.iter().map(|write| write_observation(trees, write, now)).collect());
        result.map_err(unwrap_transaction)
    }

    /// Writes part of an observation too large for one sled transaction (which holds every write
    /// it makes in memory until it commits): as [`Store::ingest`], but the account's record is left
    /// as it was. Until the last part is written with [`Store::ingest`], the account's last poll is
    /// the one before, so a poll cut short is read again, and its baseline is still a baseline.
    pub fn ingest_part(&self, write: &Ingest<'_>) -> Result<IngestReport, StoreError> {
        let t = self.trees()?;
        let trees = (&t.snapshots, &t.transactions, &t.tx_ids, &t.payees, &t.accounts, &t.alerts, &t.outbox, &t.audit);
        trees.transaction(|trees| write_part(trees, write)).map_err(unwrap_transaction)
    }

    /// Makes everything written so far durable. A poll counts as done only after this returns.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let store = self.clone();
        match tokio::task::spawn_blocking(move || store.flush_blocking()).await {
            Ok(flushed) => flushed,
            Err(e) => Err(StoreError::Io(sled::Error::ReportableBug(format!("the flush task failed: {e}")))),
        }
    }

    /// [`Store::flush`] for code outside an async runtime (the command line).
    pub fn flush_blocking(&self) -> Result<(), StoreError> {
        // The head before the flush is one the flush makes durable; one read after it might not be.
        let flushed = self.audit_head().and_then(|head| {
            let trees = self.trees()?;
            health::flush_bounded(&trees.db, &self.path)?;
            Ok(head)
        });
        self.note_flush(flushed.map(|head| self.anchor(head)))
    }

    pub fn account(&self, account: &AccountRef) -> Result<Option<AccountRecord>, StoreError> {
        let t = self.trees()?;
        t.accounts.get(keys::account(account))?.map(|b| codec::read_account(&b)).transpose()
    }

    /// Every alert of an account, firing or resolved.
    pub fn alerts_of(&self, account: &AccountRef) -> Result<Vec<Alert>, StoreError> {
        let t = self.trees()?;
        t.alerts.scan_prefix(keys::account(account)).map(|kv| decode(&kv?.1, "alert")).collect()
    }

    /// Snapshots observed in `[since, until)` (until `None`: up to now), oldest first.
    pub fn snapshots_between(
        &self,
        account: &AccountRef,
        since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    ) -> Result<Vec<Snapshot>, StoreError> {
        let t = self.trees()?;
        let prefix = keys::account(account);
        let (start, end) = time_range(&prefix, since, until);
        t.snapshots.range(start..end).map(|kv| codec::read_snapshot(&kv?.1)).collect()
    }

    /// Transactions posted in `[since, until)`, in posting order.
    pub fn transactions_between(
        &self,
        account: &AccountRef,
        since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    ) -> Result<Vec<Transaction>, StoreError> {
        let t = self.trees()?;
        let prefix = keys::account(account);
        let start = keys::with(&prefix, &[&keys::hour(since)]);
        // The hour of `until` is read too: it holds transactions from before `until`.
        let end = match until {
            Some(until) => keys::with(&prefix, &[&keys::hour(until), &[0]]),
            None => keys::with(&prefix, &[&[0xff; 9]]),
        };
        let (from, to) = (keys::time(since), until.map(keys::time));
        let mut out = Vec::new();
        for entry in t.transactions.range(start..end) {
            let (_, bytes) = entry?;
            let within = |tx: &Transaction| {
                let at = keys::time(tx.posted);
                at >= from && to.is_none_or(|to| at < to)
            };
            out.extend(codec::read_bucket(&bytes)?.into_iter().filter(within));
        }
        Ok(out)
    }

    /// What is remembered of a source's polls; a source never polled is healthy.
    /// What the kind of `source` kept at its last poll (see `source::Poller::kept`).
    pub fn kind_state(&self, source: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.trees()?.kind_state.get(source.as_bytes())?.map(|b| b.to_vec()))
    }

    /// Keeps what the kind of `source` wants back when it is built again; flushed with the poll.
    pub fn set_kind_state(&self, source: &str, state: &[u8]) -> Result<(), StoreError> {
        self.trees()?.kind_state.insert(source.as_bytes(), state)?;
        Ok(())
    }

    pub fn source_health(&self, source: &str) -> Result<SourceHealth, StoreError> {
        let t = self.trees()?;
        Ok(t.sources.get(source.as_bytes())?.map(|b| decode(&b, "source health")).transpose()?.unwrap_or_default())
    }

    /// Writes a source's health with the alerts it changed and the deliveries they owe, atomically.
    pub fn record_source(
        &self,
        source: &str,
        health: &SourceHealth,
        alerts: &[Alert],
        owed: &[Delivery],
    ) -> Result<(), StoreError> {
        let t = self.trees()?;
        let scope = keys::account(&AccountRef::new(source, ""));
        let bytes = encode_plain(health)?;
        (&t.sources, &t.alerts, &t.outbox, &t.audit)
            .transaction(|(sources, alerts_tree, outbox, audit)| {
                let at = Utc::now();
                let previous = sources.insert(source.as_bytes(), bytes.as_slice())?;
                // Only a turn between healthy and failing is an entry: the record is rewritten on
                // every poll for its request ledger. An unreadable old record counts as a turn.
                let turned = match previous.map(|b| decode::<SourceHealth>(&b, "source health")) {
                    Some(Ok(old)) => {
                        audit::failing(old.consecutive_failures) != audit::failing(health.consecutive_failures)
                    }
                    Some(Err(_)) => true,
                    None => audit::failing(health.consecutive_failures),
                };
                if turned {
                    let event = AuditEvent::SourceHealth {
                        source: source.to_owned(),
                        consecutive_failures: health.consecutive_failures,
                    };
                    audit::append(audit, at, event)?;
                }
                write_alerts(alerts_tree, outbox, audit, at, &scope, alerts, owed)
            })
            .map_err(unwrap_transaction)
    }

    /// The notices a notice source listed at its last successful poll.
    pub fn notices_of(&self, source: &str) -> Result<Vec<Notice>, StoreError> {
        let t = self.trees()?;
        let prefix = keys::account(&AccountRef::new(source, ""));
        t.notices.scan_prefix(prefix).map(|kv| decode(&kv?.1, "notice")).collect()
    }

    /// Replaces what a notice source lists with `current`, and writes the alerts and deliveries
    /// that changed, atomically.
    pub fn record_notices(
        &self,
        source: &str,
        current: &[Notice],
        alerts: &[Alert],
        owed: &[Delivery],
    ) -> Result<(), StoreError> {
        let t = self.trees()?;
        let scope = keys::account(&AccountRef::new(source, ""));
        let old: Vec<sled::IVec> = t.notices.scan_prefix(&scope).keys().collect::<Result<_, _>>()?;
        let mut rows = Vec::with_capacity(current.len());
        for notice in current {
            rows.push((keys::with(&scope, &[notice.id.as_bytes()]), encode_plain(notice)?));
        }
        // The listed ids, sorted: an entry only when the list changed, since a notice source is
        // polled often and usually lists the same notices again.
        let ids = |keys: &mut dyn Iterator<Item = &[u8]>| -> Vec<String> {
            let mut ids: Vec<String> =
                keys.map(|k| String::from_utf8_lossy(k.get(scope.len()..).unwrap_or_default()).into_owned()).collect();
            ids.sort();
            ids.dedup();
            ids
        };
        let old_ids = ids(&mut old.iter().map(|k| k.as_ref()));
        let new_ids = ids(&mut rows.iter().map(|(k, _)| k.as_slice()));
        (&t.notices, &t.alerts, &t.outbox, &t.audit)
            .transaction(|(notices, alerts_tree, outbox, audit)| {
                let at = Utc::now();
                for key in &old {
                    notices.remove(key)?;
                }
                for (key, value) in &rows {
                    notices.insert(key.as_slice(), value.as_slice())?;
                }
                if old_ids != new_ids {
                    audit::append(audit, at, AuditEvent::Notices { source: source.to_owned(), ids: new_ids.clone() })?;
                }
                write_alerts(alerts_tree, outbox, audit, at, &scope, alerts, owed)
            })
            .map_err(unwrap_transaction)
    }

    /// Every message still owed, in no particular order.
    pub fn pending_deliveries(&self) -> Result<Vec<Delivery>, StoreError> {
        let t = self.trees()?;
        t.outbox.iter().map(|kv| decode(&kv?.1, "delivery")).collect()
    }

    /// Puts a delivery (back) in the outbox: enqueued outside a poll, or rescheduled after a failure.
    pub fn save_delivery(&self, delivery: &Delivery) -> Result<(), StoreError> {
        let t = self.trees()?;
        let value = encode_plain(delivery)?;
        let outcome = if delivery.attempts == 0 { AuditOutcome::Queued } else { AuditOutcome::Retrying };
        (&t.outbox, &t.audit)
            .transaction(|(outbox, audit)| {
                outbox.insert(delivery.id.as_bytes(), value.as_slice())?;
                let event = AuditEvent::DeliveryOutcome {
                    delivery: delivery.id.clone(),
                    alert: delivery.alert.id.clone(),
                    channel: delivery.channel.clone(),
                    outcome,
                };
                audit::append(audit, Utc::now(), event)
            })
            .map_err(unwrap_transaction)
    }

    /// Moves a delivery from the outbox to the delivery log, atomically.
    pub fn finish_delivery(&self, record: &DeliveryRecord) -> Result<(), StoreError> {
        let t = self.trees()?;
        let key = keys::with(&keys::time(record.finished_at), &[record.id.as_bytes()]);
        let value = encode_plain(record)?;
        (&t.outbox, &t.deliveries, &t.audit)
            .transaction(|(outbox, log, audit)| {
                outbox.remove(record.id.as_bytes())?;
                log.insert(key.as_slice(), value.as_slice())?;
                let event = AuditEvent::DeliveryOutcome {
                    delivery: record.id.clone(),
                    alert: record.alert_id.clone(),
                    channel: record.channel.clone(),
                    outcome: AuditOutcome::from(&record.outcome),
                };
                audit::append(audit, Utc::now(), event)
            })
            .map_err(unwrap_transaction)
    }

    /// Finished deliveries since `since`, oldest first.
    pub fn delivery_log(&self, since: DateTime<Utc>) -> Result<Vec<DeliveryRecord>, StoreError> {
        let t = self.trees()?;
        t.deliveries.range(keys::time(since).to_vec()..).map(|kv| decode(&kv?.1, "delivery record")).collect()
    }

    /// Every alert of every account.
    pub fn all_alerts(&self) -> Result<Vec<Alert>, StoreError> {
        let t = self.trees()?;
        t.alerts.iter().map(|kv| decode(&kv?.1, "alert")).collect()
    }

    /// Marks an alert acknowledged: it is not repeated. `None` when no alert has that id.
    pub fn acknowledge(&self, alert_id: &str, now: DateTime<Utc>) -> Result<Option<Alert>, StoreError> {
        let Some(key) = self.alert_keys(|alert| alert.id == alert_id)?.into_iter().next() else { return Ok(None) };
        self.acknowledge_key(&key, now)
    }

    /// Acknowledges every alert of `incident`; none when no alert is of it.
    pub fn acknowledge_incident(&self, incident: &str, now: DateTime<Utc>) -> Result<Vec<Alert>, StoreError> {
        let keys = self.alert_keys(|alert| alert.incident.as_deref() == Some(incident))?;
        let mut acknowledged = Vec::new();
        for key in keys {
            acknowledged.extend(self.acknowledge_key(&key, now)?);
        }
        Ok(acknowledged)
    }

    /// The keys of the stored alerts that `wanted` picks.
    fn alert_keys(&self, wanted: impl Fn(&Alert) -> bool) -> Result<Vec<sled::IVec>, StoreError> {
        let mut keys = Vec::new();
        for entry in self.trees()?.alerts.iter() {
            let (key, value) = entry?;
            if wanted(&decode(&value, "alert")?) {
                keys.push(key);
            }
        }
        Ok(keys)
    }

    fn acknowledge_key(&self, key: &[u8], now: DateTime<Utc>) -> Result<Option<Alert>, StoreError> {
        let t = self.trees()?;
        // Found outside, changed inside the transaction: sled transactions cannot scan, and a poll
        // may rewrite the alert in between, so it is read again here.
        (&t.alerts, &t.audit)
            .transaction(|(alerts, audit)| {
                let Some(value) = alerts.get(key)? else { return Ok(None) };
                let mut alert: Alert = decode(&value, "alert").map_err(abort)?;
                if alert.acknowledged_at.is_some() {
                    // Acknowledged already: nothing changes, so nothing is written or chained.
                    return Ok(Some(alert));
                }
                alert.acknowledged_at = Some(now);
                alerts.insert(key, encode(&alert)?)?;
                audit::append(audit, Utc::now(), AuditEvent::Ack { alert: alert.id.clone() })?;
                Ok(Some(alert))
            })
            .map_err(unwrap_transaction)
    }

    pub fn silences(&self) -> Result<Vec<Silence>, StoreError> {
        let t = self.trees()?;
        t.silences.iter().map(|kv| decode(&kv?.1, "silence")).collect()
    }

    pub fn save_silence(&self, silence: &Silence) -> Result<(), StoreError> {
        let t = self.trees()?;
        let value = encode_plain(silence)?;
        (&t.silences, &t.audit)
            .transaction(|(silences, audit)| {
                silences.insert(silence.id.as_bytes(), value.as_slice())?;
                let event = AuditEvent::Silence {
                    id: silence.id.clone(),
                    account: silence.account.clone(),
                    source: silence.source.clone(),
                    kind: silence.kind,
                    until: silence.ends_at,
                    expired_at: silence.expired_at,
                };
                audit::append(audit, Utc::now(), event)
            })
            .map_err(unwrap_transaction)
    }

    /// Every payee the account has dealt with.
    pub fn payees(&self, account: &AccountRef) -> Result<Vec<PayeeRecord>, StoreError> {
        let t = self.trees()?;
        t.payees.scan_prefix(keys::account(account)).map(|kv| codec::read_payee(&kv?.1)).collect()
    }
}

type Trees = (
    TransactionalTree,
    TransactionalTree,
    TransactionalTree,
    TransactionalTree,
    TransactionalTree,
    TransactionalTree,
    TransactionalTree,
    TransactionalTree,
);

/// One observation's part of an ingest transaction: what [`write_part`] writes, and the
/// account's record, which says it was polled.
fn write_observation(
    trees: &Trees,
    write: &Ingest<'_>,
    now: DateTime<Utc>,
) -> Result<IngestReport, ConflictableTransactionError<StoreError>> {
    let observation = write.observation;
    let accounts = &trees.4;
    let prefix = keys::account(&observation.account);
    let mut report = write_part(trees, write)?;
    let record = match accounts.get(&prefix)? {
        Some(bytes) => codec::read_account(&bytes).map_err(abort)?,
        None => {
            report.first_poll = true;
            AccountRecord { first_poll_at: now, last_poll_at: now, name: None, currency: String::new() }
        }
    };
    let record = AccountRecord {
        last_poll_at: now,
        name: observation.name.clone().or(record.name),
        currency: observation.snapshot.currency.clone(),
        ..record
    };
    accounts.insert(prefix.as_slice(), codec::account(&record))?;
    Ok(report)
}

/// An observation's snapshot and transactions (the payees counted, the id index kept), the alerts
/// it changed and the deliveries they owe, with their audit entries.
fn write_part(trees: &Trees, write: &Ingest<'_>) -> Result<IngestReport, ConflictableTransactionError<StoreError>> {
    let (snapshots, transactions, tx_ids, payees, _, alerts_tree, outbox, audit) = trees;
    let Ingest { observation, alerts, owed } = *write;
    let prefix = keys::account(&observation.account);
    let at = Utc::now();
    let mut report = IngestReport::default();
    let (mut new_ids, mut updated_ids) = (Vec::new(), Vec::new());
    let snapshot = &observation.snapshot;
    snapshots.insert(keys::with(&prefix, &[&keys::time(snapshot.observed_at)]), codec::snapshot(snapshot))?;
    // The hours this observation touches, read once and written back once.
    let mut hours: BTreeMap<Vec<u8>, (Vec<Transaction>, bool)> = BTreeMap::new();
    let mut load = |key: Vec<u8>| -> Result<Vec<u8>, ConflictableTransactionError<StoreError>> {
        if !hours.contains_key(&key) {
            let stored = match transactions.get(&key)? {
                Some(bytes) => codec::read_bucket(&bytes).map_err(abort)?,
                None => Vec::new(),
            };
            hours.insert(key.clone(), (stored, false));
        }
        Ok(key)
    };
    let mut placed: Vec<(Vec<u8>, Transaction)> = Vec::new();
    for tx in &observation.transactions {
        let id_key = keys::with(&prefix, &[tx.id.as_bytes()]);
        let hour = keys::hour(tx.posted);
        match tx_ids.get(&id_key)? {
            Some(stored_hour) => {
                let old = load(keys::with(&prefix, &[stored_hour.as_ref()]))?;
                placed.push((old, tx.clone()));
                if stored_hour.as_ref() != hour.as_slice() {
                    tx_ids.insert(id_key, &hour)?;
                }
            }
            None => {
                report.new_transactions += 1;
                new_ids.push(tx.id.clone());
                count_payee(payees, &prefix, tx)?;
                tx_ids.insert(id_key, &hour)?;
                placed.push((Vec::new(), tx.clone()));
            }
        }
        load(keys::with(&prefix, &[&hour]))?;
    }
    for (old, tx) in placed {
        if !old.is_empty() {
            let Some((list, dirty)) = hours.get_mut(&old) else { continue };
            let at = list.iter().position(|stored| stored.id == tx.id).ok_or_else(|| {
                abort(StoreError::Corrupt {
                    what: "transaction",
                    detail: format!("the id index names {:?}, which is missing", tx.id),
                })
            })?;
            if list[at] == tx {
                continue;
            }
            if list[at].payee_key != tx.payee_key {
                // Posted to someone else than the pending charge named: the count follows.
                uncount_payee(payees, &prefix, &list[at].payee_key)?;
                count_payee(payees, &prefix, &tx)?;
            }
            list.remove(at);
            *dirty = true;
            report.updated_transactions += 1;
            updated_ids.push(tx.id.clone());
        }
        let Some((list, dirty)) = hours.get_mut(&keys::with(&prefix, &[&keys::hour(tx.posted)])) else {
            continue;
        };
        let at = list.partition_point(|stored| (stored.posted, &stored.id) < (tx.posted, &tx.id));
        list.insert(at, tx);
        *dirty = true;
    }
    for (key, (list, dirty)) in &hours {
        match (dirty, list.is_empty()) {
            (false, _) => {}
            (true, true) => drop(transactions.remove(key.as_slice())?),
            (true, false) => drop(transactions.insert(key.as_slice(), codec::bucket(list))?),
        }
    }
    let event = AuditEvent::Ingest {
        account: observation.account.clone(),
        new_transactions: new_ids,
        updated_transactions: updated_ids,
        balance: snapshot.balance,
        currency: snapshot.currency.clone(),
    };
    audit::append(audit, at, event)?;
    write_alerts(alerts_tree, outbox, audit, at, &prefix, alerts, owed)?;
    Ok(report)
}

/// Alerts under their scope's prefix and the deliveries they owe, inside a transaction, with an
/// audit entry for each alert that appeared, changed state or owes a message.
fn write_alerts(
    alerts_tree: &TransactionalTree,
    outbox: &TransactionalTree,
    audit: &TransactionalTree,
    at: DateTime<Utc>,
    scope: &[u8],
    alerts: &[Alert],
    owed: &[Delivery],
) -> Result<(), ConflictableTransactionError<StoreError>> {
    for planned in alerts {
        let key = keys::with(scope, &[planned.id.as_bytes()]);
        let previous = alerts_tree.get(&key)?;
        let alert = keep_acknowledgement(previous.as_deref(), planned);
        alerts_tree.insert(key, encode(&alert)?)?;
        // One plan owes one kind of message per alert, whatever the number of channels.
        let event = owed.iter().find(|d| d.alert.id == alert.id).map(|d| d.event);
        if let Some(entry) = audit::alert_changed(previous.as_deref(), &alert, event) {
            audit::append(audit, at, entry)?;
        }
    }
    for delivery in owed {
        outbox.insert(delivery.id.as_bytes(), encode(delivery)?)?;
    }
    Ok(())
}

/// The planned alert, keeping an acknowledgement the plan did not know of. Alerts are planned from
/// a read made before the write's transaction, so a `payguard ack` can land in between; writing the
/// plan as it stands would undo it and the alert would be repeated. A new episode (fired again
/// after it resolved) starts unacknowledged.
fn keep_acknowledgement(previous: Option<&[u8]>, planned: &Alert) -> Alert {
    let stored = previous.and_then(|bytes| decode::<Alert>(bytes, "alert").ok());
    match stored {
        Some(stored)
            if planned.acknowledged_at.is_none()
                && stored.acknowledged_at.is_some()
                && stored.first_fired == planned.first_fired =>
        {
            Alert { acknowledged_at: stored.acknowledged_at, ..planned.clone() }
        }
        _ => planned.clone(),
    }
}

fn unwrap_transaction(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => StoreError::Io(e),
    }
}

fn time_range(prefix: &[u8], since: DateTime<Utc>, until: Option<DateTime<Utc>>) -> (Vec<u8>, Vec<u8>) {
    let start = keys::with(prefix, &[&keys::time(since)]);
    let end = match until {
        Some(until) => keys::with(prefix, &[&keys::time(until)]),
        None => keys::with(prefix, &[&[0xff; 9]]),
    };
    (start, end)
}

fn count_payee(
    payees: &TransactionalTree,
    prefix: &[u8],
    tx: &Transaction,
) -> Result<(), ConflictableTransactionError<StoreError>> {
    let key = keys::with(prefix, &[tx.payee_key.as_bytes()]);
    let record = match payees.get(&key)? {
        Some(bytes) => {
            let mut record = codec::read_payee(&bytes).map_err(abort)?;
            record.count += 1;
            record.first_seen = record.first_seen.min(tx.posted);
            record.last_seen = record.last_seen.max(tx.posted);
            record
        }
        None => PayeeRecord {
            key: tx.payee_key.clone(),
            name: tx.payee.clone(),
            first_seen: tx.posted,
            last_seen: tx.posted,
            count: 1,
            trusted: false,
        },
    };
    payees.insert(key, codec::payee(&record))?;
    Ok(())
}

/// One transaction less for a payee. The record stays even at zero: the platform showed the name
/// on this account (a pre-authorisation is often named otherwise than its posting), and forgetting
/// it would make the next such charge a `new_payee`.
fn uncount_payee(
    payees: &TransactionalTree,
    prefix: &[u8],
    payee_key: &str,
) -> Result<(), ConflictableTransactionError<StoreError>> {
    let key = keys::with(prefix, &[payee_key.as_bytes()]);
    let Some(bytes) = payees.get(&key)? else { return Ok(()) };
    let mut record = codec::read_payee(&bytes).map_err(abort)?;
    record.count = record.count.saturating_sub(1);
    payees.insert(key, codec::payee(&record))?;
    Ok(())
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, ConflictableTransactionError<StoreError>> {
    encode_plain(value).map_err(abort)
}

fn encode_plain<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt { what: "record to write", detail: e.to_string() })
}

fn decode<T: DeserializeOwned>(bytes: &[u8], what: &'static str) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt { what, detail: e.to_string() })
}

fn abort(e: StoreError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e)
}
