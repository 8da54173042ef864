//! The audit log on a real sled database: real writes chain up in order, survive a reopen, and any
//! edit, deletion or reformatting of a stored entry is reported at the entry it broke; concurrent
//! writers do not fork the chain; `payguard verify` says the same with its exit code.

use crate::support;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use payguard::alert::outbox::{self, Attempt, Next};
use payguard::alert::{self, AlertState, Delivery, DeliveryRecord, NoticeEvent, Silence};
use payguard::model::{AccountRef, Finding, FindingKind, Notice, NoticeKind, Phase, SourceHealth};
use payguard::store::{AuditEntry, AuditEvent, AuditOutcome, AuditReport, GENESIS, Problem, Store, StoreError};
use serde::Serialize;
use sha2::{Digest, Sha256};
use support::records::{account, now, observation, tx};
use support::reopen::reopened;

fn low_balance() -> Finding {
    Finding {
        currency: "USD".into(),
        balance: Some("12.34".parse().expect("decimal")),
        key: "below".into(),
        ..Finding::new(FindingKind::LowBalance, account(), "low", now())
    }
}

fn finished(delivery: Delivery, attempt: Attempt) -> DeliveryRecord {
    match outbox::after_attempt(delivery, attempt, now(), TimeDelta::hours(24), false) {
        Next::Finish(record) => *record,
        Next::Reschedule(d) => panic!("expected the delivery to finish, it was rescheduled: {d:?}"),
    }
}

fn failing(consecutive_failures: u32) -> SourceHealth {
    SourceHealth { consecutive_failures, last_error: Some("HTTP 503".into()), ..SourceHealth::default() }
}

fn notice(id: &str) -> Notice {
    Notice {
        source: "status".into(),
        id: id.into(),
        kind: NoticeKind::Maintenance,
        phase: Phase::Upcoming,
        status: "scheduled".into(),
        title: "Database upgrade".into(),
        impact: None,
        starts_at: Some(now() + TimeDelta::days(2)),
        ends_at: None,
        updated_at: None,
        url: None,
        update: String::new(),
        components: Vec::new(),
    }
}

/// One of everything the store writes, some of it twice to show what is not an entry; returns the
/// events the chain must hold, in order.
fn populate(store: &Store) -> Vec<AuditEvent> {
    let policy = alert::Policy::default();
    let first = alert::plan(&[], vec![low_balance()], now(), &policy, &[]);
    let (fired, event) = first.notices[0].clone();
    let owed = Delivery::new(&fired, event, "sms", now(), now());
    let baseline = observation(account(), now(), "1234.56", vec![tx("a", 30, "-5", "Shop"), tx("b", 20, "-7", "Cafe")]);
    store.ingest(&baseline, &first.changed, std::slice::from_ref(&owed), now()).expect("ingest");
    store.finish_delivery(&finished(owed, Attempt::Sent)).expect("finish");
    store.acknowledge(&fired.id, now()).expect("ack").expect("the alert exists");
    store.acknowledge(&fired.id, now()).expect("ack again").expect("the alert exists");
    let mut silence = Silence {
        id: "s1".into(),
        account: Some("ACT-1".into()),
        source: None,
        kind: Some(FindingKind::NewPayee),
        starts_at: now(),
        ends_at: now() + TimeDelta::hours(2),
        comment: "moving house".into(),
        created_at: now(),
        expired_at: None,
    };
    store.save_silence(&silence).expect("silence");
    silence.expired_at = Some(now() + TimeDelta::hours(1));
    store.save_silence(&silence).expect("expire");
    store.record_source("bank", &SourceHealth::default(), &[], &[]).expect("healthy poll");
    store.record_source("bank", &failing(1), &[], &[]).expect("failed poll");
    store.record_source("bank", &failing(2), &[], &[]).expect("failed again");
    store.record_source("bank", &SourceHealth::default(), &[], &[]).expect("recovered");
    // The next poll still finds the low balance: the alert is refreshed silently, not an entry.
    let later = now() + TimeDelta::minutes(10);
    let known = store.alerts_of(&account()).expect("alerts");
    let second = alert::plan(&known, vec![low_balance()], later, &policy, &[]);
    assert!(second.notices.is_empty() && second.changed.len() == 1, "{second:?}");
    let mut changed = tx("b", 20, "-7", "Cafe");
    changed.description = "card payment".into();
    let next =
        observation(account(), later, "1222.56", vec![tx("a", 30, "-5", "Shop"), changed, tx("c", 1, "-12", "Shop")]);
    store.ingest(&next, &second.changed, &[], later).expect("second ingest");
    let retry = Delivery { attempts: 1, ..Delivery::new(&fired, NoticeEvent::Repeat, "email", later, later) };
    store.save_delivery(&retry).expect("reschedule");
    store.record_notices("status", &[notice("n1")], &[], &[]).expect("notices");
    store.record_notices("status", &[notice("n1")], &[], &[]).expect("the same notices again");

    let ids = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let health = |consecutive_failures| AuditEvent::SourceHealth { source: "bank".into(), consecutive_failures };
    vec![
        AuditEvent::Ingest {
            account: account(),
            new_transactions: ids(&["a", "b"]),
            updated_transactions: vec![],
            balance: "1234.56".parse().expect("decimal"),
            currency: "USD".into(),
        },
        AuditEvent::AlertChanged {
            alert: fired.id.clone(),
            kind: FindingKind::LowBalance,
            account: account(),
            state: AlertState::Firing,
            event: Some(NoticeEvent::Firing),
        },
        AuditEvent::DeliveryOutcome {
            delivery: format!("{}.firing.sms.{}", fired.id, now().timestamp_millis()),
            alert: fired.id.clone(),
            channel: "sms".into(),
            outcome: AuditOutcome::Delivered,
        },
        AuditEvent::Ack { alert: fired.id.clone() },
        AuditEvent::Silence {
            id: "s1".into(),
            account: Some("ACT-1".into()),
            source: None,
            kind: Some(FindingKind::NewPayee),
            until: now() + TimeDelta::hours(2),
            expired_at: None,
        },
        AuditEvent::Silence {
            id: "s1".into(),
            account: Some("ACT-1".into()),
            source: None,
            kind: Some(FindingKind::NewPayee),
            until: now() + TimeDelta::hours(2),
            expired_at: Some(now() + TimeDelta::hours(1)),
        },
        health(1),
        health(0),
        AuditEvent::Ingest {
            account: account(),
            new_transactions: ids(&["c"]),
            updated_transactions: ids(&["b"]),
            balance: "1222.56".parse().expect("decimal"),
            currency: "USD".into(),
        },
        AuditEvent::DeliveryOutcome {
            delivery: format!("{}.repeat.email.{}", fired.id, later.timestamp_millis()),
            alert: fired.id.clone(),
            channel: "email".into(),
            outcome: AuditOutcome::Retrying,
        },
        AuditEvent::Notices { source: "status".into(), ids: ids(&["n1"]) },
    ]
}

/// The seq of the second ingest in [`populate`]'s chain: the entry the tampering tests edit.
const SECOND_INGEST: u64 = 9;

fn assert_intact(report: &AuditReport, entries: u64, head: &str) {
    assert_eq!(report.broken, None, "{report:?}");
    assert_eq!((report.entries, report.head.as_str()), (entries, head));
}

#[test]
fn real_writes_chain_up_in_order_and_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (expected, head) = {
        let store = Store::open(dir.path()).expect("open");
        assert_eq!(store.audit_head().expect("head").hash, GENESIS, "an empty chain");
        assert_intact(&store.verify_audit().expect("verify"), 0, GENESIS);
        let expected = populate(&store);
        let log = store.audit_log().expect("log");
        assert_eq!(log.iter().map(|e| e.event.clone()).collect::<Vec<_>>(), expected);
        assert_eq!(log.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=expected.len() as u64).collect::<Vec<_>>());
        assert_eq!(log[0].prev, GENESIS);
        assert!(log.windows(2).all(|w| w[1].prev == w[0].hash && w[0].at <= w[1].at), "linked in order");
        let head = store.audit_head().expect("head");
        assert_eq!((head.seq, &head.hash), (expected.len() as u64, &log[log.len() - 1].hash));
        assert_intact(&store.verify_audit().expect("verify"), expected.len() as u64, &head.hash);
        assert_eq!(
            SECOND_INGEST,
            1 + expected.iter().rposition(|e| matches!(e, AuditEvent::Ingest { .. })).unwrap_or(0) as u64
        );
        (expected, head)
    };
    let store = reopened(|| Store::open(dir.path())).expect("the store opens");
    assert_intact(&store.verify_audit().expect("verify"), expected.len() as u64, &head.hash);
    assert_eq!(store.audit_head().expect("head"), head);
    // Writing on after a reopen continues the same chain.
    store.acknowledge("no-such-alert", now()).expect("ack");
    store.record_source("bank", &failing(1), &[], &[]).expect("failed poll");
    let log = store.audit_log().expect("log");
    assert_eq!((log.len(), &log[log.len() - 1].prev), (expected.len() + 1, &head.hash));
    assert!(store.verify_audit().expect("verify").is_intact());
}

/// The canonical bytes as the store's module docs define them, rebuilt here independently.
#[derive(Serialize)]
struct Canonical<'a> {
    seq: u64,
    at: &'a DateTime<Utc>,
    prev: &'a str,
    event: &'a AuditEvent,
}

fn rehash(entry: &mut AuditEntry) {
    let bytes =
        serde_json::to_vec(&Canonical { seq: entry.seq, at: &entry.at, prev: &entry.prev, event: &entry.event })
            .expect("encode");
    entry.hash = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
}

/// Populates a store in `dir`, closes it, lets `edit` loose on the raw `audit` tree, and verifies.
fn tampered(edit: impl FnOnce(&sled::Tree)) -> AuditReport {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let store = Store::open(dir.path()).expect("open");
        populate(&store);
        store.flush_blocking().expect("flush");
    }
    let hashes: Vec<String> = {
        let db =
            reopened(|| sled::Config::new().path(dir.path()).flush_every_ms(None).open()).expect("the store opens");
        let tree = db.open_tree("audit").expect("audit tree");
        edit(&tree);
        db.flush().expect("flush");
        // What each entry records as its hash after the edit, for checking the reported head.
        tree.iter()
            .values()
            .map(|v| serde_json::from_slice::<AuditEntry>(&v.expect("read")).map(|e| e.hash).unwrap_or_default())
            .collect()
    };
    let report = reopened(|| Store::open(dir.path())).expect("the store opens").verify_audit().expect("verify");
    // Whatever broke, everything before the break still verifies and is reported as such. A bad
    // head is reported at the entry it should name, which itself verified.
    if let Some(broken) = &report.broken {
        let before = match broken.problem {
            Problem::Head { .. } => broken.seq,
            _ => broken.seq.saturating_sub(1),
        };
        assert_eq!(report.entries, before, "{report:?}");
        let head = if before == 0 { GENESIS.to_owned() } else { hashes[before as usize - 1].clone() };
        assert_eq!(report.head, head);
    }
    report
}

fn key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

fn stored(tree: &sled::Tree, seq: u64) -> Vec<u8> {
    tree.get(key(seq)).expect("read").expect("the entry exists").to_vec()
}

fn broken_at(report: &AuditReport) -> (u64, &Problem) {
    let link = report.broken.as_ref().unwrap_or_else(|| panic!("the tampering went unnoticed: {report:?}"));
    (link.seq, &link.problem)
}

#[test]
fn one_changed_byte_is_reported_at_its_entry() {
    let report = tampered(|tree| {
        let mut bytes = stored(tree, SECOND_INGEST);
        let text = String::from_utf8(bytes.clone()).expect("utf-8");
        let at = text.find(r#""balance":"1222.56""#).expect("the balance is in the entry") + r#""balance":"1"#.len();
        assert_eq!(bytes[at], b'2');
        bytes[at] = b'9'; // 1222.56 becomes 1922.56
        tree.insert(key(SECOND_INGEST), bytes).expect("write");
    });
    assert!(matches!(broken_at(&report), (SECOND_INGEST, Problem::HashMismatch { .. })), "{report:?}");
    let message = report.broken.as_ref().map(ToString::to_string).unwrap_or_default();
    assert!(message.starts_with(&format!("entry {SECOND_INGEST} was altered")), "{message}");
}

#[test]
fn an_edit_with_a_fixed_up_hash_is_reported_at_the_next_entry() {
    let report = tampered(|tree| {
        let mut entry: AuditEntry = serde_json::from_slice(&stored(tree, SECOND_INGEST)).expect("decode");
        if let AuditEvent::Ingest { balance, .. } = &mut entry.event {
            *balance = "1922.56".parse().expect("decimal");
        }
        rehash(&mut entry);
        tree.insert(key(SECOND_INGEST), serde_json::to_vec(&entry).expect("encode")).expect("write");
    });
    assert!(
        matches!(broken_at(&report), (seq, Problem::PrevMismatch { .. }) if seq == SECOND_INGEST + 1),
        "{report:?}"
    );
}

#[test]
fn a_deleted_entry_is_a_gap() {
    let report = tampered(|tree| {
        tree.remove(key(SECOND_INGEST)).expect("remove");
    });
    assert_eq!(broken_at(&report), (SECOND_INGEST, &Problem::Missing { next: Some(SECOND_INGEST + 1) }));
    // Cutting the tail is caught by the head, which still names the last entry.
    let report = tampered(|tree| {
        let last = tree.iter().keys().filter_map(Result::ok).rfind(|k| k.len() == 8).expect("entries");
        tree.remove(last).expect("remove");
    });
    assert_eq!(broken_at(&report), (11, &Problem::Missing { next: None }));
}

#[test]
fn garbage_and_reformatting_are_reported_too() {
    let report = tampered(|tree| {
        tree.insert(key(3), b"{\"seq\":3".to_vec()).expect("write");
    });
    assert!(matches!(broken_at(&report), (3, Problem::Undecodable { .. })), "{report:?}");
    // Same meaning, different bytes: a space after the opening brace.
    let report = tampered(|tree| {
        let mut bytes = stored(tree, 4);
        bytes.insert(1, b' ');
        tree.insert(key(4), bytes).expect("write");
    });
    assert_eq!(broken_at(&report), (4, &Problem::NotCanonical));
    // An entry moved to another seq.
    let report = tampered(|tree| {
        let moved = stored(tree, 6);
        tree.insert(key(5), moved).expect("write");
    });
    assert_eq!(broken_at(&report), (5, &Problem::SeqMismatch { found: 6 }));
    let report = tampered(|tree| {
        tree.remove("head").expect("remove");
    });
    assert!(matches!(broken_at(&report), (11, Problem::Head { .. })), "{report:?}");
}

#[test]
fn a_lost_head_stops_writes_instead_of_overwriting_history() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = {
        let store = Store::open(dir.path()).expect("open");
        populate(&store);
        store.flush_blocking().expect("flush");
        store.audit_log().expect("log")
    };
    {
        let db =
            reopened(|| sled::Config::new().path(dir.path()).flush_every_ms(None).open()).expect("the store opens");
        db.open_tree("audit").expect("audit tree").remove("head").expect("remove");
        db.flush().expect("flush");
    }
    let store = reopened(|| Store::open(dir.path())).expect("the store opens");
    match store.record_source("bank", &failing(1), &[], &[]) {
        Err(StoreError::Corrupt { what, .. }) => assert_eq!(what, "audit chain head"),
        other => panic!("expected the write to be refused, got {other:?}"),
    }
    // Refused as a whole: neither the health nor an entry was written.
    assert_eq!(store.source_health("bank").expect("health"), SourceHealth::default());
    assert_eq!(store.audit_log().expect("log"), log);
}

#[test]
fn concurrent_writers_do_not_fork_the_chain() {
    const WRITERS: usize = 8;
    const POLLS: usize = 25;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(Store::open(dir.path()).expect("open"));
    let threads: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let account = AccountRef::new("bank", format!("ACT-{w}"));
                for poll in 0..POLLS {
                    let at = now() + TimeDelta::minutes(poll as i64);
                    let obs =
                        observation(account.clone(), at, "100", vec![tx(&format!("{w}-{poll}"), 1, "-1", "Shop")]);
                    store.ingest(&obs, &[], &[], at).expect("ingest");
                    if poll % 5 == 0 {
                        store
                            .record_source(&format!("source-{w}"), &failing(poll as u32 % 2), &[], &[])
                            .expect("health");
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("a writer panicked");
    }
    let report = store.verify_audit().expect("verify");
    let log = store.audit_log().expect("log");
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.entries as usize, log.len());
    assert_eq!(log.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=log.len() as u64).collect::<Vec<_>>());
    for w in 0..WRITERS {
        let ingested: Vec<String> = log
            .iter()
            .filter_map(|e| match &e.event {
                AuditEvent::Ingest { account, new_transactions, .. } if account.account == format!("ACT-{w}") => {
                    Some(new_transactions.join(","))
                }
                _ => None,
            })
            .collect();
        let expected: Vec<String> = (0..POLLS).map(|poll| format!("{w}-{poll}")).collect();
        assert_eq!(ingested, expected, "writer {w}'s polls, each once, in its order");
    }
}

fn payguard(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_payguard")).arg("--config").arg(config).args(args).output().expect("run payguard")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn payguard_verify_says_intact_or_where_it_broke() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = support::sim_config(dir.path(), "https://bridge.example.com/simplefin", "0 * * * *", "");
    let state = dir.path().join("state");
    let head = {
        let store = Store::open(&state).expect("open");
        populate(&store);
        store.flush_blocking().expect("flush");
        store.audit_head().expect("head")
    };
    let intact = payguard(&config, &["verify"]);
    assert_eq!(intact.status.code(), Some(0), "{}", text(&intact.stderr));
    assert_eq!(text(&intact.stdout), format!("audit chain intact: 11 entries, head {}\n", head.hash));

    {
        let db = reopened(|| sled::Config::new().path(&state).flush_every_ms(None).open()).expect("the store opens");
        let tree = db.open_tree("audit").expect("audit tree");
        let mut bytes = tree.get(key(SECOND_INGEST)).expect("read").expect("entry").to_vec();
        let at = text(&bytes).find("1222.56").expect("the balance") + 1;
        bytes[at] = b'9';
        tree.insert(key(SECOND_INGEST), bytes).expect("write");
        db.flush().expect("flush");
    }
    let broken = payguard(&config, &["verify"]);
    assert_eq!(broken.status.code(), Some(1), "{}", text(&broken.stderr));
    let stdout = text(&broken.stdout);
    assert!(stdout.starts_with(&format!("audit chain broken: entry {SECOND_INGEST} was altered")), "{stdout}");
    assert!(stdout.contains(&format!("the {} entries before it verify", SECOND_INGEST - 1)), "{stdout}");
}

/// Copies the files of a state directory (sled's `db`, `conf`, `snap.*`, the anchor) into `to`,
/// except those named in `except`.
fn copy_state(from: &Path, to: &Path, except: &[&str]) {
    std::fs::create_dir_all(to).expect("create the copy's directory");
    for entry in std::fs::read_dir(from).expect("read the state directory") {
        let path = entry.expect("an entry").path();
        let name = path.file_name().expect("a name").to_string_lossy().into_owned();
        if path.is_file() && !except.contains(&name.as_str()) {
            std::fs::copy(&path, to.join(&name)).expect("copy a state file");
        }
    }
}

/// Adds `turns` audit entries: a source turning failing and healthy again, in turn.
fn write_more(state: &Path, turns: u32) {
    let store = reopened(|| Store::open(state)).expect("reopen");
    for turn in 0..turns {
        store.record_source("bank", &failing(1 - turn % 2), &[], &[]).expect("a turn of the source");
    }
    store.flush_blocking().expect("flush");
}

fn anchored_seq(state: &Path) -> u64 {
    let anchor = std::fs::read(state.join("audit-anchor")).expect("the anchor is written");
    serde_json::from_slice::<serde_json::Value>(&anchor).expect("JSON")["seq"].as_u64().expect("a seq")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_put_back_to_an_older_state_is_reported_with_the_entries_it_lost() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = support::sim_config(dir.path(), "https://bridge.example.com/simplefin", "0 0 1 1 *", "");
    let state = dir.path().join("state");
    {
        let store = Store::open(&state).expect("open");
        populate(&store);
        store.flush_blocking().expect("flush");
    }
    assert_eq!(anchored_seq(&state), 11);
    let older = dir.path().join("older");
    copy_state(&state, &older, &[]);
    write_more(&state, 5);
    assert_eq!(anchored_seq(&state), 16);

    // What sled opening an older state amounts to: the database of 11 entries, the anchor of 16.
    for entry in std::fs::read_dir(&state).expect("read the state") {
        let path = entry.expect("an entry").path();
        if path.is_file() && !path.ends_with("audit-anchor") {
            std::fs::remove_file(path).expect("remove");
        }
    }
    copy_state(&older, &state, &["audit-anchor"]);

    // The daemon runs on it, and says so in its log and in `status`.
    let mut daemon = support::daemon_log::Logged::spawn(support::daemon(&config));
    let line = daemon.wait_for(&["ERROR", "5 audit entries are missing"], Duration::from_secs(30));
    assert!(line.contains("the anchor recorded entry 16, the store ends at entry 11"), "{line}");
    daemon.wait_for(&["control socket listening"], Duration::from_secs(30));
    let status = support::run(&config, &["status"]).await;
    assert!(text(&status.stderr).contains("5 audit entries are missing"), "{}", text(&status.stderr));
    let verify = support::run(&config, &["verify"]).await;
    let stdout = text(&verify.stdout);
    assert_eq!(verify.status.code(), Some(65), "{stdout}{}", text(&verify.stderr));
    // The daemon may have written since it opened (at entry 11): the chain is whole as far as it goes.
    assert!(stdout.starts_with("audit chain intact as far as it goes: "), "{stdout}");
    assert!(stdout.contains("audit chain rolled back: the store lost its newest writes: 5 audit entries"), "{stdout}");
    support::signal(&daemon.child, "TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(30)), Some(0));

    // The anchor moves on with new writes; the finding is not overwritten by them.
    let since = anchored_seq(&state);
    assert!(since >= 11, "the anchor starts again at the store's head");
    write_more(&state, 1);
    assert_eq!(anchored_seq(&state), since + 1);
    let again = payguard(&config, &["verify"]);
    assert_eq!(again.status.code(), Some(65), "{}", text(&again.stdout));
    let evidence = text(&again.stdout)
        .lines()
        .find_map(|l| {
            l.trim().strip_prefix("recorded in ").map(|rest| rest.split(';').next().unwrap_or_default().to_owned())
        })
        .expect("the file that records it");
    assert!(evidence.contains("audit-anchor.rollback-"), "{evidence}");
    // A person who has looked into it removes the record: the store verifies again.
    std::fs::remove_file(&evidence).expect("remove the record");
    let cleared = payguard(&config, &["verify"]);
    assert_eq!(cleared.status.code(), Some(0), "{}", text(&cleared.stdout));
    let intact = format!("audit chain intact: {} entries", since + 1);
    assert!(text(&cleared.stdout).starts_with(&intact), "{}", text(&cleared.stdout));
}

#[test]
fn a_store_ahead_of_its_anchor_is_intact_and_the_anchor_catches_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = support::sim_config(dir.path(), "https://bridge.example.com/simplefin", "0 0 1 1 *", "");
    let state = dir.path().join("state");
    {
        let store = Store::open(&state).expect("open");
        populate(&store);
        store.flush_blocking().expect("flush");
    }
    let anchor = std::fs::read(state.join("audit-anchor")).expect("the anchor");
    write_more(&state, 3);
    // A crash between the flush and the anchor's write leaves the anchor of 11 behind the store.
    std::fs::write(state.join("audit-anchor"), anchor).expect("put the older anchor back");

    let verify = payguard(&config, &["verify"]);
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify.stdout));
    assert!(text(&verify.stdout).starts_with("audit chain intact: 14 entries"), "{}", text(&verify.stdout));
    assert_eq!(anchored_seq(&state), 14, "the anchor caught up on open");
}
