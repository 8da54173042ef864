//! Version 3: payees keyed by the rule that keeps masked card and account numbers
//! ([`crate::model::payee_key`]).
//!
//! Version 2's rule dropped every long digit run, so every card a person sent transfers to was one
//! payee. Keeping the old keys would make each payee with a masked number in it look new after the
//! upgrade: a false `new_payee` for a landlord paid for years. So payees are keyed again from what
//! the store still knows of their names: each payee record's first name, and the payee of every
//! transaction retention has kept. A record that the new rule does not split keeps its count, dates
//! and trust whole. One it splits (two cards that were one payee) gives each new payee the
//! transactions kept for it, and credits the rest (pruned by retention, names unknown) to the name
//! the record was first seen under; each part keeps the record's trust, since the person who
//! trusted it trusted every name it stood for. Records the new rule joins (`Shell #12`, `Shell #13`)
//! are added up. Stored transactions get their new keys too, so a poll compares like with like.
//!
//! Staged like version 2's upgrade: the new payees are built beside the old ones, `meta` marks them
//! durable, then the payee tree is replaced and the transactions re-keyed (both simply done again
//! after a crash), and the version moves last.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use chrono::{DateTime, Utc};

use super::MIGRATION_KEY;
use crate::model::{Transaction, payee_key};
use crate::store::{PayeeRecord, SCHEMA_KEY, StoreError, codec, keys};

const STAGED: &[u8] = b"3: payees staged";
pub(super) const STAGING_TREE: &str = "payees.v3";
const VERSION: u32 = 3;

/// An account's key prefix and a payee key under it.
type Slot = (Vec<u8>, String);

/// Brings a version 2 store to version 3.
pub(super) fn upgrade(db: &sled::Db, meta: &sled::Tree) -> Result<(), StoreError> {
    if meta.get(MIGRATION_KEY)?.as_deref() != Some(STAGED) {
        stage(db)?;
        meta.insert(MIGRATION_KEY, STAGED)?;
        db.flush()?;
    }
    swap_in(db, meta)
}

/// What the kept transactions show of one payee under the new rule.
struct Seen {
    name: String,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
    count: u64,
}

impl Seen {
    fn of(tx: &Transaction) -> Seen {
        Seen { name: tx.payee.clone(), first: tx.posted, last: tx.posted, count: 1 }
    }

    fn add(&mut self, tx: &Transaction) {
        if tx.posted < self.first {
            self.first = tx.posted;
            self.name = tx.payee.clone();
        }
        self.last = self.last.max(tx.posted);
        self.count += 1;
    }

    fn record(self, key: String, trusted: bool) -> PayeeRecord {
        PayeeRecord { key, name: self.name, first_seen: self.first, last_seen: self.last, count: self.count, trusted }
    }
}

/// Builds the re-keyed payees in the staging tree from the untouched old trees.
fn stage(db: &sled::Db) -> Result<(), StoreError> {
    // Whatever a crash left of an earlier attempt is built again.
    db.drop_tree(STAGING_TREE)?;
    let staging = db.open_tree(STAGING_TREE)?;
    // (account, old key) → new key → what the kept transactions show.
    let mut seen: BTreeMap<Slot, BTreeMap<String, Seen>> = BTreeMap::new();
    for entry in db.open_tree("transactions")?.iter() {
        let (key, bytes) = entry?;
        let account = account_of(&key, "transaction")?;
        for tx in codec::read_bucket(&bytes)? {
            match seen.entry((account.clone(), tx.payee_key.clone())).or_default().entry(payee_key(&tx.payee)) {
                Entry::Occupied(mut known) => known.get_mut().add(&tx),
                Entry::Vacant(new) => {
                    new.insert(Seen::of(&tx));
                }
            }
        }
    }
    let mut rekeyed: BTreeMap<Slot, PayeeRecord> = BTreeMap::new();
    for entry in db.open_tree("payees")?.iter() {
        let (key, bytes) = entry?;
        let account = account_of(&key, "payee")?;
        let old = codec::read_payee(&bytes)?;
        let split = seen.remove(&(account.clone(), old.key.clone())).unwrap_or_default();
        for record in split_record(old, split) {
            merge(&mut rekeyed, &account, record);
        }
    }
    // Kept transactions whose payee has no record (a store never writes one without the other):
    // they were paid, so they are known.
    for ((account, _), split) in seen {
        for (key, seen) in split {
            merge(&mut rekeyed, &account, seen.record(key, false));
        }
    }
    for ((account, key), record) in rekeyed {
        staging.insert(keys::with(&account, &[key.as_bytes()]), codec::payee(&record))?;
    }
    Ok(())
}

fn account_of(key: &[u8], what: &'static str) -> Result<Vec<u8>, StoreError> {
    keys::account_prefix(key)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| StoreError::Corrupt { what, detail: "a key names no account".into() })
}

/// One old payee record as the payees the new rule sees in it (`split`: its kept transactions by
/// new key).
fn split_record(old: PayeeRecord, mut split: BTreeMap<String, Seen>) -> Vec<PayeeRecord> {
    let named = payee_key(&old.name);
    let own = split.remove(&named);
    if split.is_empty() {
        return vec![PayeeRecord { key: named, ..old }];
    }
    let mut parts: Vec<PayeeRecord> = split.into_iter().map(|(key, seen)| seen.record(key, old.trusted)).collect();
    let others: u64 = parts.iter().map(|p| p.count).sum();
    let (own_count, own_last) = own.map_or((0, old.first_seen), |seen| (seen.count, seen.last));
    parts.push(PayeeRecord {
        key: named,
        count: old.count.saturating_sub(others).max(own_count),
        last_seen: own_last.max(old.first_seen),
        ..old
    });
    parts
}

/// Adds `record` to the payees of `account`, joining it with one of the same key.
fn merge(into: &mut BTreeMap<Slot, PayeeRecord>, account: &[u8], record: PayeeRecord) {
    match into.entry((account.to_vec(), record.key.clone())) {
        Entry::Vacant(new) => {
            new.insert(record);
        }
        Entry::Occupied(mut known) => {
            let known = known.get_mut();
            if record.first_seen < known.first_seen {
                known.first_seen = record.first_seen;
                known.name = record.name;
            }
            known.last_seen = known.last_seen.max(record.last_seen);
            known.count = known.count.saturating_add(record.count);
            known.trusted |= record.trusted;
        }
    }
}

/// Replaces the payees with the staged ones, re-keys the transactions and marks the store version
/// 3. Run again after a crash, it does the same from the staging tree, which stays until the
/// version has moved.
fn swap_in(db: &sled::Db, meta: &sled::Tree) -> Result<(), StoreError> {
    let payees = db.open_tree("payees")?;
    payees.clear()?;
    for entry in db.open_tree(STAGING_TREE)?.iter() {
        let (key, value) = entry?;
        payees.insert(key, value)?;
    }
    let transactions = db.open_tree("transactions")?;
    for entry in transactions.iter() {
        let (key, bytes) = entry?;
        let mut txs = codec::read_bucket(&bytes)?;
        let mut changed = false;
        for tx in &mut txs {
            let new = payee_key(&tx.payee);
            if new != tx.payee_key {
                tx.payee_key = new;
                changed = true;
            }
        }
        if changed {
            transactions.insert(key, codec::bucket(&txs))?;
        }
    }
    db.flush()?;
    let mut done = sled::Batch::default();
    done.insert(SCHEMA_KEY, &VERSION.to_be_bytes());
    done.remove(MIGRATION_KEY);
    meta.apply_batch(done)?;
    db.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use rust_decimal::Decimal;

    use super::super::tests::{account, at, raw, reopen, snapshot};
    use super::*;
    use crate::model::Observation;
    use crate::store::{AccountRecord, Store};

    fn paid(id: &str, posted: DateTime<Utc>, payee: &str, old_key: &str) -> Transaction {
        Transaction {
            id: id.into(),
            posted,
            amount: Decimal::new(-50_000, 2),
            payee: payee.into(),
            payee_key: old_key.into(),
            description: "transfer".into(),
            pending: false,
        }
    }

    /// What retention has kept, keyed by version 2's rule (digit runs of four or more dropped).
    fn kept() -> Vec<Transaction> {
        vec![
            paid("t-1", at(-48, 0), "Transfer 6222****5678", "transfer"),
            paid("t-2", at(-24, 0), "Transfer 6222****1111", "transfer"),
            paid("t-3", at(-1, 0), "Transfer 6222****5678", "transfer"),
            paid("s-1", at(-5, 0), "Shell #12", "shell 12"),
            paid("s-2", at(-4, 0), "Shell #13", "shell 13"),
            paid("g-1", at(-3, 0), "Grocer", "grocer"),
        ]
    }

    fn payee(key: &str, name: &str, first_hours: i64, count: u64, trusted: bool) -> PayeeRecord {
        PayeeRecord {
            key: key.into(),
            name: name.into(),
            first_seen: at(first_hours, 0),
            last_seen: at(-1, 0),
            count,
            trusted,
        }
    }

    /// The payees a version 2 store learned: a card paid for years whose record also counts a
    /// second card, two store numbers, a trusted payee not paid yet.
    fn v2_payees() -> Vec<PayeeRecord> {
        vec![
            payee("transfer", "Transfer 6222****5678", -20_000, 40, false),
            payee("shell 12", "Shell #12", -100, 3, false),
            payee("shell 13", "Shell #13", -50, 2, true),
            payee("grocer", "Grocer", -300, 10, false),
            payee("landlord co", "Landlord Co", -10, 0, true),
        ]
    }

    /// Writes a store exactly as version 2 did: binary records, transactions by the hour with old keys.
    fn write_v2(dir: &std::path::Path) {
        let db = raw(dir);
        let tree = |name: &str| db.open_tree(name).unwrap_or_else(|e| panic!("{e}"));
        let prefix = keys::account(&account());
        let insert = |name: &str, key: Vec<u8>, value: Vec<u8>| {
            tree(name).insert(key, value).unwrap_or_else(|e| panic!("{e}"));
        };
        insert("meta", SCHEMA_KEY.to_vec(), 2u32.to_be_bytes().to_vec());
        let mut hours: BTreeMap<[u8; 8], Vec<Transaction>> = BTreeMap::new();
        for tx in kept() {
            insert("tx_ids", keys::with(&prefix, &[tx.id.as_bytes()]), keys::hour(tx.posted).to_vec());
            hours.entry(keys::hour(tx.posted)).or_default().push(tx);
        }
        for (hour, txs) in hours {
            insert("transactions", keys::with(&prefix, &[&hour]), codec::bucket(&txs));
        }
        for p in v2_payees() {
            insert("payees", keys::with(&prefix, &[p.key.as_bytes()]), codec::payee(&p));
        }
        let s = snapshot(at(-1, 0));
        insert("snapshots", keys::with(&prefix, &[&keys::time(s.observed_at)]), codec::snapshot(&s));
        let record = AccountRecord {
            first_poll_at: at(-20_000, 0),
            last_poll_at: at(-1, 0),
            name: None,
            currency: "USD".into(),
        };
        insert("accounts", prefix.clone(), codec::account(&record));
        db.flush().unwrap_or_else(|e| panic!("{e}"));
    }

    fn summary(p: &PayeeRecord) -> (&str, &str, u64, bool, DateTime<Utc>, DateTime<Utc>) {
        (p.key.as_str(), p.name.as_str(), p.count, p.trusted, p.first_seen, p.last_seen)
    }

    fn assert_rekeyed(store: &Store) {
        let payees = store.payees(&account()).unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<_> = payees.iter().map(summary).collect();
        assert_eq!(
            got,
            [
                ("grocer", "Grocer", 10, false, at(-300, 0), at(-1, 0)),
                ("landlord co", "Landlord Co", 0, true, at(-10, 0), at(-1, 0)),
                // The two store numbers are one payee now, trusted since one of them was.
                ("shell", "Shell #12", 5, true, at(-100, 0), at(-1, 0)),
                // The second card, as the kept transactions show it.
                ("transfer 6222*1111", "Transfer 6222****1111", 1, false, at(-24, 0), at(-24, 0)),
                // The first card keeps the years and every payment not shown to be another card's.
                ("transfer 6222*5678", "Transfer 6222****5678", 39, false, at(-20_000, 0), at(-1, 0)),
            ]
        );
        let txs = store.transactions_between(&account(), at(-100, 0), None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(txs.len(), kept().len());
        for tx in &txs {
            assert_eq!(tx.payee_key, payee_key(&tx.payee), "{} keeps its old key", tx.id);
        }
        // What a poll after the upgrade knows: both cards paid before, a third card is new.
        let next = |id: &str, payee: &str| Transaction { payee_key: payee_key(payee), ..paid(id, at(1, 0), payee, "") };
        let poll = Observation {
            account: account(),
            name: None,
            balance: crate::model::BalanceSource::Platform,
            snapshot: snapshot(at(1, 0)),
            transactions: vec![
                next("n-1", "Transfer 6222****1111"),
                next("n-2", "TRANSFER 6222 **** **** 5678"),
                next("n-3", "Transfer 6222****9999"),
                next("n-4", "SHELL #40"),
            ],
        };
        let history = store.history(&poll, chrono::TimeDelta::hours(1), at(1, 0)).unwrap_or_else(|e| panic!("{e}"));
        let mut known: Vec<&str> = history.known_payees.iter().map(String::as_str).collect();
        known.sort_unstable();
        assert_eq!(known, ["shell", "transfer 6222*1111", "transfer 6222*5678"]);
        let names = store.trees().unwrap_or_else(|e| panic!("{e}")).db.tree_names();
        assert!(!names.iter().any(|n| n.as_ref() == STAGING_TREE.as_bytes()), "the staging tree is still there");
    }

    #[test]
    fn a_version_2_store_is_rekeyed_without_losing_a_known_payee() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        write_v2(dir.path());
        let store = reopen(dir.path());
        assert_rekeyed(&store);
        let meta =
            store.trees().unwrap_or_else(|e| panic!("{e}")).db.open_tree("meta").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(meta.get(SCHEMA_KEY).ok().flatten().as_deref(), Some(&VERSION.to_be_bytes()[..]));
        drop(meta);
        drop(store);
        // Opened again, nothing moves.
        assert_rekeyed(&reopen(dir.path()));
    }

    /// A version 2 store left as a crash during its upgrade would leave it, with `then` done to it.
    fn crashed_during_upgrade(then: impl FnOnce(&sled::Db)) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        write_v2(dir.path());
        {
            let db = raw(dir.path());
            stage(&db).unwrap_or_else(|e| panic!("{e}"));
            then(&db);
            db.flush().unwrap_or_else(|e| panic!("{e}"));
        }
        assert_rekeyed(&reopen(dir.path()));
    }

    /// A crash after the staging was durable, with the payees cleared and some transactions
    /// re-keyed: the next open finishes from the staging tree, counting nothing twice.
    #[test]
    fn an_upgrade_cut_short_is_finished_on_the_next_open() {
        crashed_during_upgrade(|db| {
            let meta = db.open_tree("meta").unwrap_or_else(|e| panic!("{e}"));
            meta.insert(MIGRATION_KEY, STAGED).unwrap_or_else(|e| panic!("{e}"));
            db.open_tree("payees").and_then(|t| t.clear()).unwrap_or_else(|e| panic!("{e}"));
            let transactions = db.open_tree("transactions").unwrap_or_else(|e| panic!("{e}"));
            let (key, bytes) = transactions.iter().next().and_then(Result::ok).unwrap_or_else(|| panic!("a record"));
            let mut txs = codec::read_bucket(&bytes).unwrap_or_else(|e| panic!("{e}"));
            for tx in &mut txs {
                tx.payee_key = payee_key(&tx.payee);
            }
            transactions.insert(key, codec::bucket(&txs)).unwrap_or_else(|e| panic!("{e}"));
        });
    }

    /// A crash half-way through staging (the marker not yet set) builds the staging again from the
    /// untouched old trees.
    #[test]
    fn a_staging_cut_short_is_done_again() {
        crashed_during_upgrade(|db| {
            let staging = db.open_tree(STAGING_TREE).unwrap_or_else(|e| panic!("{e}"));
            let first = staging.iter().keys().next().and_then(Result::ok).unwrap_or_else(|| panic!("a record"));
            staging.remove(first).unwrap_or_else(|e| panic!("{e}"));
        });
    }
}
