//! The store on a real sled database in a temporary directory: idempotent ingest, updates that keep
//! the time index right, durability across reopen, the schema check and the single-process lock.

use crate::support;

use chrono::{DateTime, TimeDelta, Utc};
use payguard::alert::{self, AlertState};
use payguard::model::AccountRef;
use payguard::model::{Finding, FindingKind, Snapshot, Transaction};
use payguard::store::{Ingest, SCHEMA_VERSION, Store, StoreError};
use rust_decimal::Decimal;
use support::damage::drop_hours_of;
use support::records::{account, now, observation, tx};
use support::reopen::reopened;

fn everything(store: &Store) -> (Vec<Snapshot>, Vec<Transaction>, Vec<payguard::store::PayeeRecord>) {
    let since = now() - TimeDelta::days(400);
    (
        store.snapshots_between(&account(), since, None).expect("snapshots"),
        store.transactions_between(&account(), since, None).expect("transactions"),
        store.payees(&account()).expect("payees"),
    )
}

#[test]
fn the_same_poll_twice_is_stored_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("open");
    let obs = observation(
        account(),
        now(),
        "100",
        vec![tx("a", 30, "-5", "Shop"), tx("b", 20, "-7", "SHOP"), tx("c", 10, "50", "Employer")],
    );
    let first = store.ingest(&obs, &[], &[], now()).expect("ingest");
    assert_eq!((first.new_transactions, first.updated_transactions, first.first_poll), (3, 0, true));
    let before = everything(&store);
    let second = store.ingest(&obs, &[], &[], now()).expect("ingest");
    assert_eq!((second.new_transactions, second.updated_transactions, second.first_poll), (0, 0, false));
    assert_eq!(everything(&store), before);
    let (snapshots, transactions, payees) = before;
    assert_eq!(snapshots.len(), 1);
    assert_eq!(transactions.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
    let shop = payees.iter().find(|p| p.key == "shop").expect("shop is a payee");
    assert_eq!((shop.count, shop.name.as_str()), (2, "Shop"));
}

#[test]
fn a_settling_transaction_is_updated_in_place() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("open");
    let mut pending = tx("p", 60, "-20", "Shop");
    pending.pending = true;
    store.ingest(&observation(account(), now(), "100", vec![pending.clone()]), &[], &[], now()).expect("ingest");
    let mut posted = pending.clone();
    posted.pending = false;
    posted.posted = now() - TimeDelta::minutes(5);
    let report =
        store.ingest(&observation(account(), now(), "80", vec![posted.clone()]), &[], &[], now()).expect("ingest");
    assert_eq!((report.new_transactions, report.updated_transactions), (0, 1));
    let (_, transactions, payees) = everything(&store);
    // Moved in the time index, not duplicated, and the payee counted once.
    assert_eq!(transactions, vec![posted]);
    assert_eq!(payees[0].count, 1);
    let old_window =
        store.transactions_between(&account(), now() - TimeDelta::minutes(90), Some(now() - TimeDelta::minutes(30)));
    assert_eq!(old_window.expect("range").len(), 0);
}

/// A pending charge that posts to someone else: the payee it went to is learned, and counted
/// instead of the one the pending charge named, which stays known.
#[test]
fn a_posting_to_another_payee_moves_the_count() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("open");
    let mut pending = tx("p", 60, "-1.00", "Coffee Shop");
    pending.pending = true;
    let first = observation(account(), now() - TimeDelta::minutes(30), "2000", vec![pending]);
    store.ingest(&first, &[], &[], now() - TimeDelta::minutes(30)).expect("ingest");
    let posted = tx("p", 10, "-1600.00", "Thief Ltd");
    let report = store.ingest(&observation(account(), now(), "400", vec![posted]), &[], &[], now()).expect("ingest");
    assert_eq!((report.new_transactions, report.updated_transactions), (0, 1));
    let counts: Vec<(String, u64)> = everything(&store).2.into_iter().map(|p| (p.key, p.count)).collect();
    assert_eq!(counts, [("coffee shop".to_owned(), 0), ("thief ltd".to_owned(), 1)]);
    let again = observation(account(), now(), "400", vec![tx("p", 10, "-1600.00", "Thief Ltd")]);
    store.ingest(&again, &[], &[], now()).expect("ingest");
    assert_eq!(everything(&store).2.iter().map(|p| p.count).sum::<u64>(), 1, "seen again, counted once");
    let history = store.history(&again, TimeDelta::hours(24), now()).expect("history");
    assert!(history.known_payees.contains("thief ltd"));
}

#[test]
fn history_tells_known_from_new() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("open");
    let baseline = observation(account(), now(), "100", vec![tx("a", 120, "-5", "Shop")]);
    store.ingest(&baseline, &[], &[], now() - TimeDelta::hours(1)).expect("ingest");
    let next = observation(account(), now(), "90", vec![tx("a", 120, "-5", "Shop"), tx("b", 1, "-5", "Stranger")]);
    let history = store.history(&next, TimeDelta::hours(24), now()).expect("history");
    assert_eq!(history.first_poll_at, Some(now() - TimeDelta::hours(1)));
    assert_eq!(history.known.keys().collect::<Vec<_>>(), ["a"]);
    assert!(history.known_payees.contains("shop") && !history.known_payees.contains("stranger"));
    assert_eq!(history.recent.len(), 1);
    assert_eq!(history.snapshots.len(), 1);
}

#[test]
fn everything_survives_a_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let finding = Finding {
        currency: "USD".into(),
        balance: Some(Decimal::ONE),
        key: "below".into(),
        ..Finding::new(FindingKind::LowBalance, account(), "low", now())
    };
    let plan = alert::plan(&[], vec![finding], now(), &alert::Policy::default(), &[]);
    {
        let store = Store::open(dir.path()).expect("open");
        store
            .ingest(&observation(account(), now(), "1", vec![tx("a", 5, "-5", "Shop")]), &plan.changed, &[], now())
            .expect("ingest");
    }
    let store = reopened(|| Store::open(dir.path())).expect("reopen");
    let (snapshots, transactions, payees) = everything(&store);
    assert_eq!((snapshots.len(), transactions.len(), payees.len()), (1, 1, 1));
    let record = store.account(&account()).expect("read").expect("account record");
    assert_eq!((record.first_poll_at, record.name.as_deref()), (now(), Some("Checking")));
    let alerts = store.alerts_of(&account()).expect("alerts");
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].state, AlertState::Firing);
}

#[test]
fn a_group_of_observations_is_written_whole_or_not_at_all() {
    let dir = tempfile::tempdir().expect("temp dir");
    let other = AccountRef::new("bank", "ACT-2");
    let baseline = |account: &AccountRef| observation(account.clone(), now(), "100", vec![tx("a", 30, "-5", "Shop")]);
    {
        let store = Store::open(dir.path()).expect("open");
        let writes = [baseline(&account()), baseline(&other)];
        let writes: Vec<Ingest<'_>> =
            writes.iter().map(|o| Ingest { observation: o, alerts: &[], owed: &[] }).collect();
        let reports = store.ingest_all(&writes, now()).expect("a group of two");
        assert_eq!(reports.iter().map(|r| r.new_transactions).collect::<Vec<_>>(), [1, 1]);
        store.flush_blocking().expect("flush");
    }
    // ACT-2's hour of transactions goes missing while its id index still names it.
    {
        let db = reopened(|| sled::Config::new().path(dir.path()).flush_every_ms(None).open()).expect("sled");
        assert_eq!(drop_hours_of(&db, "ACT-2"), 1, "ACT-2's one hour");
        db.flush().expect("flush");
    }
    let store = reopened(|| Store::open(dir.path())).expect("reopen");
    let later = now() + TimeDelta::minutes(10);
    let next = observation(account(), later, "90", vec![tx("a", 30, "-5", "Shop"), tx("b", 1, "-10", "Shop")]);
    let damaged = baseline(&other);
    let group = [
        Ingest { observation: &next, alerts: &[], owed: &[] },
        Ingest { observation: &damaged, alerts: &[], owed: &[] },
    ];
    match store.ingest_all(&group, later) {
        Err(e @ StoreError::Corrupt { .. }) => assert!(e.to_string().contains("\"a\""), "{e}"),
        other => panic!("expected ACT-2's damage to fail the group, got {other:?}"),
    }
    let (snapshots, transactions, _) = everything(&store);
    assert_eq!((snapshots.len(), transactions.len()), (1, 1), "nothing of ACT-1's part was written");
    let report = store.ingest_all(&group[..1], later).expect("ACT-1 alone");
    assert_eq!(report[0].new_transactions, 1);
    assert_eq!(everything(&store).1.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
}

#[test]
fn an_acknowledgement_made_while_a_poll_was_judging_is_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("open");
    let finding = Finding::new(FindingKind::LowBalance, account(), "balance low", now());
    let fired = alert::Alert::firing(finding, now());
    store
        .ingest(&observation(account(), now(), "10", vec![]), std::slice::from_ref(&fired), &[], now())
        .expect("ingest");
    // The next poll planned from what it read before the ack: the alert seen again, unacknowledged.
    let later = now() + TimeDelta::minutes(10);
    let planned = alert::Alert { last_seen: later, ..fired.clone() };
    store.acknowledge(&fired.id, later).expect("ack").expect("the alert exists");
    store.ingest(&observation(account(), later, "10", vec![]), &[planned], &[], later).expect("ingest");
    let stored = store.alerts_of(&account()).expect("alerts");
    assert_eq!((stored[0].acknowledged_at, stored[0].last_seen), (Some(later), later));
    // Fired again after it resolved: a new episode, which no one has acknowledged.
    let again = now() + TimeDelta::hours(2);
    let refired = alert::Alert { first_fired: again, last_seen: again, acknowledged_at: None, ..fired };
    store.ingest(&observation(account(), again, "10", vec![]), &[refired], &[], again).expect("ingest");
    assert_eq!(store.alerts_of(&account()).expect("alerts")[0].acknowledged_at, None);
}

#[test]
fn a_store_from_a_newer_payguard_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let db = sled::open(dir.path()).expect("sled");
        let meta = db.open_tree("meta").expect("meta");
        meta.insert("schema_version", &(SCHEMA_VERSION + 1).to_be_bytes()).expect("write");
        db.flush().expect("flush");
    }
    match Store::open(dir.path()) {
        Err(e @ StoreError::SchemaMismatch { found, expected, .. }) => {
            assert_eq!((found, expected), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
            assert!(e.to_string().contains("newer payguard"), "{e}");
        }
        Err(e) => panic!("expected a schema mismatch, got {e}"),
        Ok(_) => panic!("expected a schema mismatch, the store opened"),
    }
}

#[test]
fn a_second_opener_is_told_the_store_is_in_use() {
    let dir = tempfile::tempdir().expect("temp dir");
    let _first = Store::open(dir.path()).expect("open");
    match Store::open(dir.path()) {
        Err(e @ StoreError::Locked { .. }) => assert!(e.to_string().contains("daemon running"), "{e}"),
        Err(e) => panic!("expected the lock error, got {e}"),
        Ok(_) => panic!("two openers of one store"),
    }
}

#[test]
fn retention_prunes_the_old_but_keeps_recent_data_open_evidence_and_the_audit_chain() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("open");
    let day = TimeDelta::days(1);
    // A poll 500 days ago, with two transactions; one of them an open alert still cites.
    let mut old = observation(
        account(),
        now(),
        "100",
        vec![tx("old-1", 500 * 24 * 60, "-5", "Shop"), tx("old-2", 500 * 24 * 60, "-7", "Cited")],
    );
    old.snapshot.observed_at = now() - day * 500;
    let cited = Finding {
        transaction_ids: vec!["old-2".into()],
        key: "old-2".into(),
        ..Finding::new(FindingKind::LargeDebit, account(), "cited", now())
    };
    let plan = alert::plan(&[], vec![cited], now(), &alert::Policy::default(), &[]);
    store.ingest(&old, &plan.changed, &[], now() - day * 500).expect("ingest");
    store
        .ingest(&observation(account(), now(), "88", vec![tx("new-1", 60, "-12", "Shop")]), &[], &[], now())
        .expect("ingest");

    let pruned = store.prune(&account(), now() - day * 400, now()).expect("prune");
    assert_eq!((pruned.snapshots, pruned.transactions), (1, 1));
    let (snapshots, transactions, payees) = everything_since(&store, now() - day * 1000);
    assert_eq!(snapshots.len(), 1, "the recent snapshot stays");
    let ids: Vec<&str> = transactions.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["old-2", "new-1"], "old-1 goes; the cited old-2 stays");
    assert_eq!(payees.len(), 2, "who the account dealt with is not forgotten");
    let report = store.verify_audit().expect("verify");
    assert!(report.broken.is_none(), "pruning is itself an audit entry, and the chain holds");
    assert_eq!(store.prune(&account(), now() - day * 400, now()).expect("prune again"), Default::default());
}

fn everything_since(
    store: &Store,
    since: DateTime<Utc>,
) -> (Vec<Snapshot>, Vec<Transaction>, Vec<payguard::store::PayeeRecord>) {
    (
        store.snapshots_between(&account(), since, None).expect("snapshots"),
        store.transactions_between(&account(), since, None).expect("transactions"),
        store.payees(&account()).expect("payees"),
    )
}

/// A part of a large observation is stored and audited, but the account is not yet polled: a poll
/// cut short after it is read again, and a baseline cut short is a baseline again.
#[test]
fn a_part_stores_its_transactions_and_leaves_the_account_unpolled() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("open");
    let part = observation(account(), now(), "100", vec![tx("a", 30, "-5", "Shop"), tx("b", 20, "-7", "Shop")]);
    let report = store.ingest_part(&Ingest { observation: &part, alerts: &[], owed: &[] }).expect("part");
    assert_eq!(report.new_transactions, 2);
    assert!(store.account(&account()).expect("read").is_none(), "no part but the last says the account was polled");
    let history = store.history(&part, TimeDelta::days(30), now()).expect("history");
    assert_eq!((history.first_poll_at, history.known.len()), (None, 2));
    assert!(store.verify_audit().expect("verify").is_intact());
}
