//! Upgrades a store an older payguard wrote to the layout this one reads, in place, on open.
//!
//! Version 1 kept every record as JSON and every transaction under its own id, with a `tx_time`
//! index beside it. Version 2 keeps the per-account records in [`codec`]'s binary form and an
//! account's transactions by the hour, with the `tx_ids` index. Version 3 keys payees by the rule
//! that keeps masked card and account numbers ([`payee_keys`]). A person upgrading keeps every
//! snapshot, transaction, payee and account record; alerts, deliveries and the audit chain are
//! the same in every version and are not touched. A store is brought up one version at a time.
//!
//! A crash at any point loses nothing. The new transactions are built in a staging tree while the
//! old ones stay where they were; only once the staging is durable does `meta` say so, and only
//! then is the old tree replaced, which a restart simply does again. The schema version moves last.

mod payee_keys;

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;

use super::{SCHEMA_KEY, StoreError, codec, decode, keys};
use crate::model::{Snapshot, Transaction};

/// Set in `meta` once the staged transactions are durable: from then on the old tree may go.
const MIGRATION_KEY: &[u8] = b"migration";
const STAGED: &[u8] = b"2: transactions staged";
const STAGING_TREE: &str = "transactions.v2";
/// Version 1's index of transactions by time, which the hour records replace.
const V1_TIME_INDEX: &str = "tx_time";

/// Brings a store at version `found` to [`super::SCHEMA_VERSION`].
pub(super) fn upgrade(db: &sled::Db, meta: &sled::Tree, found: u32) -> Result<(), StoreError> {
    if found == 1 {
        if meta.get(MIGRATION_KEY)?.as_deref() != Some(STAGED) {
            stage_v1(db)?;
            meta.insert(MIGRATION_KEY, STAGED)?;
            db.flush()?;
        }
        swap_in_staged(db, meta)?;
    }
    if found <= 2 {
        payee_keys::upgrade(db, meta)?;
    }
    tidy(db, meta)
}

/// Builds version 2's transactions and id index beside version 1's, and rewrites the other
/// per-account records in binary (which is idempotent: a record already binary is left alone).
fn stage_v1(db: &sled::Db) -> Result<(), StoreError> {
    // Whatever a crash left of an earlier attempt is built again from the untouched old tree.
    db.drop_tree(STAGING_TREE)?;
    let staging = db.open_tree(STAGING_TREE)?;
    let tx_ids = db.open_tree("tx_ids")?;
    tx_ids.clear()?;
    // Version 1 keys transactions by (account, id), so one account's come together.
    let mut account: Option<(Vec<u8>, Vec<Transaction>)> = None;
    for entry in db.open_tree("transactions")?.iter() {
        let (key, value) = entry?;
        let prefix = keys::account_prefix(&key)
            .ok_or_else(|| StoreError::Corrupt { what: "transaction", detail: "a key names no account".into() })?;
        let tx: Transaction = decode(&value, "transaction")?;
        match &mut account {
            Some((current, txs)) if current.as_slice() == prefix => txs.push(tx),
            _ => {
                if let Some((done, txs)) = account.replace((prefix.to_vec(), vec![tx])) {
                    stage_account(&staging, &tx_ids, &done, txs)?;
                }
            }
        }
    }
    if let Some((done, txs)) = account {
        stage_account(&staging, &tx_ids, &done, txs)?;
    }
    rewrite_binary::<Snapshot>(&db.open_tree("snapshots")?, "snapshot", codec::snapshot)?;
    rewrite_binary(&db.open_tree("payees")?, "payee", codec::payee)?;
    rewrite_binary(&db.open_tree("accounts")?, "account", codec::account)?;
    Ok(())
}

fn stage_account(
    staging: &sled::Tree,
    tx_ids: &sled::Tree,
    prefix: &[u8],
    transactions: Vec<Transaction>,
) -> Result<(), StoreError> {
    let mut hours: BTreeMap<[u8; 8], Vec<Transaction>> = BTreeMap::new();
    for tx in transactions {
        let hour = keys::hour(tx.posted);
        tx_ids.insert(keys::with(prefix, &[tx.id.as_bytes()]), &hour)?;
        hours.entry(hour).or_default().push(tx);
    }
    for (hour, mut txs) in hours {
        // The order ingest keeps within an hour.
        txs.sort_by(|a, b| (a.posted, &a.id).cmp(&(b.posted, &b.id)));
        staging.insert(keys::with(prefix, &[&hour]), codec::bucket(&txs))?;
    }
    Ok(())
}

/// Rewrites the JSON records of `tree` (version 1's, which all start with `{`) in binary.
fn rewrite_binary<T: DeserializeOwned>(
    tree: &sled::Tree,
    what: &'static str,
    encode: impl Fn(&T) -> Vec<u8>,
) -> Result<(), StoreError> {
    for entry in tree.iter() {
        let (key, value) = entry?;
        if value.first() == Some(&b'{') {
            tree.insert(key, encode(&decode(&value, what)?))?;
        }
    }
    Ok(())
}

/// Replaces version 1's transactions with the staged ones and marks the store version 2. Run again
/// after a crash, it starts over from the staging tree, which stays until the version has moved.
fn swap_in_staged(db: &sled::Db, meta: &sled::Tree) -> Result<(), StoreError> {
    let transactions = db.open_tree("transactions")?;
    transactions.clear()?;
    for entry in db.open_tree(STAGING_TREE)?.iter() {
        let (key, value) = entry?;
        transactions.insert(key, value)?;
    }
    db.flush()?;
    let mut done = sled::Batch::default();
    done.insert(SCHEMA_KEY, &2u32.to_be_bytes());
    done.remove(MIGRATION_KEY);
    meta.apply_batch(done)?;
    db.flush()?;
    Ok(())
}

/// Drops what an upgrade no longer needs; a crash between the version moving and this is
/// tidied on the next open.
fn tidy(db: &sled::Db, meta: &sled::Tree) -> Result<(), StoreError> {
    let names = db.tree_names();
    for name in [STAGING_TREE, V1_TIME_INDEX, payee_keys::STAGING_TREE] {
        if names.iter().any(|n| n.as_ref() == name.as_bytes()) {
            db.drop_tree(name)?;
        }
    }
    if meta.remove(MIGRATION_KEY)?.is_some() {
        db.flush()?;
    }
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
    use chrono::{DateTime, TimeDelta, Utc};
    use rust_decimal::Decimal;

    use super::*;
    use crate::model::{AccountRef, AccountStatus, Observation};
    use crate::store::{AccountRecord, PayeeRecord, Store};

    pub(super) fn account() -> AccountRef {
        AccountRef::new("bank", "checking")
    }

    pub(super) fn at(hours: i64, minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default()
            + TimeDelta::hours(hours)
            + TimeDelta::minutes(minutes)
    }

    fn transaction(id: &str, posted: DateTime<Utc>, amount: i64) -> Transaction {
        Transaction {
            id: id.into(),
            posted,
            amount: Decimal::new(amount, 2),
            payee: "Corner Shop".into(),
            payee_key: "corner shop".into(),
            description: "groceries".into(),
            pending: false,
        }
    }

    pub(super) fn snapshot(observed_at: DateTime<Utc>) -> Snapshot {
        Snapshot {
            observed_at,
            as_of: Some(observed_at),
            balance: Decimal::new(120_000, 2),
            available: None,
            currency: "USD".into(),
            status: AccountStatus::Active,
            card_expiry: None,
        }
    }

    fn json<T: serde::Serialize>(value: &T) -> Vec<u8> {
        serde_json::to_vec(value).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The transactions the version 1 store of [`write_v1`] holds, out of id order on purpose.
    fn v1_transactions() -> Vec<Transaction> {
        vec![
            transaction("t-3", at(0, 50), -4_200),
            transaction("t-1", at(0, 10), -1_000),
            transaction("t-2", at(2, 5), 250_000),
            transaction("t-0", at(-30, 0), -99),
        ]
    }

    /// Opens the store just closed. sled's writer threads may hold the lock a moment after the
    /// last handle goes, and nothing signals when they let go, so a bounded wait.
    pub(super) fn reopen(dir: &std::path::Path) -> Store {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match Store::open(dir) {
                Err(StoreError::Locked { .. }) if std::time::Instant::now() < deadline => std::thread::yield_now(),
                opened => return opened.unwrap_or_else(|e| panic!("{e}")),
            }
        }
    }

    /// sled as version 1 opened it, with no background flusher to hold the lock after a drop.
    /// A store just closed may still hold its lock for a moment (see [`reopen`]): a bounded wait.
    pub(super) fn raw(dir: &std::path::Path) -> sled::Db {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match sled::Config::new().path(dir).flush_every_ms(None).open() {
                Err(sled::Error::Io(e))
                    if e.kind() == std::io::ErrorKind::WouldBlock && std::time::Instant::now() < deadline =>
                {
                    std::thread::yield_now()
                }
                opened => return opened.unwrap_or_else(|e| panic!("{e}")),
            }
        }
    }

    /// Writes a store exactly as version 1 did: JSON records, transactions under their ids with
    /// the `tx_time` index, schema version 1.
    fn write_v1(dir: &std::path::Path) {
        let db = raw(dir);
        let tree = |name: &str| db.open_tree(name).unwrap_or_else(|e| panic!("{e}"));
        let prefix = keys::account(&account());
        let insert = |name: &str, key: Vec<u8>, value: Vec<u8>| {
            tree(name).insert(key, value).unwrap_or_else(|e| panic!("{e}"));
        };
        insert("meta", SCHEMA_KEY.to_vec(), 1u32.to_be_bytes().to_vec());
        for tx in v1_transactions() {
            insert("transactions", keys::with(&prefix, &[tx.id.as_bytes()]), json(&tx));
            insert("tx_time", keys::with(&prefix, &[&keys::time(tx.posted), tx.id.as_bytes()]), Vec::new());
        }
        for hours in [0, 1, 2] {
            let s = snapshot(at(hours, 0));
            insert("snapshots", keys::with(&prefix, &[&keys::time(s.observed_at)]), json(&s));
        }
        let payee = PayeeRecord {
            key: "corner shop".into(),
            name: "Corner Shop".into(),
            first_seen: at(-30, 0),
            last_seen: at(2, 5),
            count: 4,
            trusted: true,
        };
        insert("payees", keys::with(&prefix, &[payee.key.as_bytes()]), json(&payee));
        let record = AccountRecord {
            first_poll_at: at(-30, 0),
            last_poll_at: at(2, 0),
            name: Some("Checking".into()),
            currency: "USD".into(),
        };
        insert("accounts", prefix.clone(), json(&record));
        db.flush().unwrap_or_else(|e| panic!("{e}"));
    }

    fn sorted(mut txs: Vec<Transaction>) -> Vec<Transaction> {
        txs.sort_by(|a, b| (a.posted, &a.id).cmp(&(b.posted, &b.id)));
        txs
    }

    /// Everything a version 1 store held reads back the same from version 2.
    fn assert_upgraded(store: &Store) {
        let all = store.transactions_between(&account(), at(-100, 0), None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(all, sorted(v1_transactions()));
        let snapshots = store.latest_snapshots(&account(), 10).unwrap_or_else(|e| panic!("{e}"));
        // Newest first; a second look also finds the snapshot the first look's ingest wrote.
        assert!(snapshots.ends_with(&[snapshot(at(2, 0)), snapshot(at(1, 0)), snapshot(at(0, 0))]), "{snapshots:?}");
        let payees = store.payees(&account()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((payees.len(), payees.first().map(|p| (p.count, p.trusted))), (1, Some((4, true))));
        let record = store.account(&account()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(record.and_then(|r| r.name), Some("Checking".into()));
        let names = store.trees().unwrap_or_else(|e| panic!("{e}")).db.tree_names();
        for gone in [V1_TIME_INDEX, STAGING_TREE, payee_keys::STAGING_TREE] {
            assert!(!names.iter().any(|n| n.as_ref() == gone.as_bytes()), "{gone} is still there");
        }
        let meta =
            store.trees().unwrap_or_else(|e| panic!("{e}")).db.open_tree("meta").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(meta.get(MIGRATION_KEY).unwrap_or_else(|e| panic!("{e}")), None);
        // The id index came over: a transaction seen again is not new, nor counted again.
        let seen_again = Observation {
            account: account(),
            name: None,
            balance: crate::model::BalanceSource::Platform,
            snapshot: snapshot(at(3, 0)),
            transactions: vec![transaction("t-1", at(0, 10), -1_000)],
        };
        let report = store.ingest(&seen_again, &[], &[], at(3, 0)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((report.new_transactions, report.updated_transactions), (0, 0));
    }

    #[test]
    fn a_version_1_store_is_upgraded_whole() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        write_v1(dir.path());
        let store = reopen(dir.path());
        assert_upgraded(&store);
        store.flush_blocking().unwrap_or_else(|e| panic!("{e}"));
        drop(store);
        // And it opens as version 2 from then on.
        assert_upgraded(&reopen(dir.path()));
    }

    /// A version 1 store left as a crash after staging would leave it, with `then` done to it
    /// before the crash; the next open must finish the upgrade whole.
    fn crashed_after_staging(then: impl FnOnce(&sled::Db)) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        write_v1(dir.path());
        {
            let db = raw(dir.path());
            stage_v1(&db).unwrap_or_else(|e| panic!("{e}"));
            then(&db);
            db.flush().unwrap_or_else(|e| panic!("{e}"));
        }
        assert_upgraded(&reopen(dir.path()));
    }

    /// A crash after the staging was durable and the old transactions were cleared, before the
    /// version moved: the next open finishes the job from the staging tree.
    #[test]
    fn an_upgrade_cut_short_is_finished_on_the_next_open() {
        crashed_after_staging(|db| {
            let meta = db.open_tree("meta").unwrap_or_else(|e| panic!("{e}"));
            meta.insert(MIGRATION_KEY, STAGED).unwrap_or_else(|e| panic!("{e}"));
            db.open_tree("transactions").and_then(|t| t.clear()).unwrap_or_else(|e| panic!("{e}"));
        });
    }

    /// A crash half-way through staging (some records rewritten, the marker not yet set) starts
    /// the staging over from the untouched old transactions.
    #[test]
    fn a_staging_cut_short_is_done_again() {
        crashed_after_staging(|db| {
            db.open_tree(STAGING_TREE).and_then(|t| t.clear()).unwrap_or_else(|e| panic!("{e}"));
        });
    }
}
