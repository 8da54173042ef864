//! A full disk and a state directory that cannot be made, through the real binary: store errors
//! exit 74 in the store's words; the daemon says a store it cannot write where a person looks
//! (status line, `payguard status`, the log, a `store_failing` message straight to the channels)
//! and carries on by itself, losing nothing, once there is room again. The disk is a real tmpfs,
//! filled to the last byte (root only; CI runs the tests as root).

use crate::support;

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use payguard::model::AccountRef;
use payguard::sim::{Advance, Simulator, demo_script};
use payguard::source::Source;
use payguard::store::Store;
use support::tmpfs::{Reaped, Tmpfs};
use support::{Fixture, Reply};

/// Only guards against a hang.
const BOUND: Duration = Duration::from_secs(60);
const WATCHDOG: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread")]
async fn once_exits_74_when_the_state_directory_cannot_be_made() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").expect("write a file");
    let text = support::sim_config_text(dir.path(), "http://u:p@127.0.0.1:9/simplefin", "0 * * * *", "")
        .replace(&dir.path().join("state").display().to_string(), &file.join("state").display().to_string());
    let config = dir.path().join("payguard.toml");
    std::fs::write(&config, text).expect("write the config");
    let output = support::run(&config, &["once"]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(74), "{stderr}");
    assert!(stderr.contains("cannot create the state directory") && stderr.contains("a-file/state"), "{stderr}");
}

/// One SimpleFIN account with two hundred payments (ids from `first`): more than fits in what the
/// store's log has taken from the disk already, so writing them needs new room; and no record so
/// large that sled writes it to a file of its own, which on a full disk hangs its flushes (see
/// `Store::flush`).
fn answer(first: i64) -> String {
    let transactions: Vec<String> = (first..first + 200)
        .map(|i| {
            format!(
                r#"{{"id": "t{i}", "posted": {}, "amount": "-3.{:02}", "description": "Coffee {i}", "payee": "Coffee {i}"}}"#,
                Utc::now().timestamp() - 86_400 - i * 60,
                i % 100
            )
        })
        .collect();
    format!(
        r#"{{"errors": [], "accounts": [{{"id": "ACT-1", "name": "Checking", "currency": "USD",
          "balance": "100.00", "balance-date": 1789990000, "transactions": [{}]}}]}}"#,
        transactions.join(",")
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn once_exits_74_when_its_poll_cannot_be_flushed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(disk) = Tmpfs::mount(&dir.path().join("state"), "8m") else { return };
    let bank = Fixture::start().await;
    let (open, gate) = tokio::sync::watch::channel(false);
    bank.reply("/simplefin/accounts", Reply::Gated { gate, then: Box::new(Reply::json(&answer(0))) });
    let config = support::sim_config(dir.path(), &bank.url_with_credentials("u", "p", "/simplefin"), "0 * * * *", "");

    // The store opens on a disk with room; while the bank's answer is on its way, the disk fills.
    let once = support::run(&config, &["once"]);
    let filled = async {
        bank.wait_for("the poll's request", |seen| !seen.is_empty()).await;
        disk.fill();
        open.send_replace(true);
    };
    let (output, ()) = tokio::join!(once, filled);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(74), "a store error: {stderr}");
    assert!(stderr.contains("the poll could not be stored in"), "{stderr}");
    assert!(stderr.contains("No space left on device"), "in the store's words: {stderr}");
    assert!(!stderr.contains("invalid source setup"), "not the source's fault: {stderr}");
}

/// `store_failing` is said when the failure starts, at most hourly while it lasts, and resolved
/// when a write succeeds again; walked on the manual clock against a real full tmpfs.
#[tokio::test(flavor = "multi_thread")]
async fn store_failing_is_said_at_most_hourly_and_resolved() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(disk) = Tmpfs::mount(&dir.path().join("state"), "8m") else { return };
    let bank = Fixture::start().await;
    let path = "/simplefin/accounts";
    bank.reply_sequence(path, vec![Reply::json(&answer(0)), Reply::json(&answer(200))]);
    bank.reply(path, Reply::json(&answer(400)));
    let receiver = Fixture::start().await;
    receiver.reply("/hook", Reply::json("{}"));
    let hook = format!("[[channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\n", receiver.url("/hook"));
    let text =
        support::sim_config_text(dir.path(), &bank.url_with_credentials("u", "p", "/simplefin"), "0 * * * *", &hook);
    let start = Utc::now();
    let clock = payguard::daemon::Clock::manual(start);
    let engine = support::engine(&text, clock.clone());
    let poll = |minutes: i64| {
        let (engine, clock) = (engine.clone(), clock.clone());
        async move {
            let at = start + TimeDelta::minutes(minutes);
            clock.set(at);
            engine.poll_source(0, at).await
        }
    };
    let said = || store_failing_messages(&receiver).into_iter().map(|(event, _)| event).collect::<Vec<_>>();

    assert!(poll(0).await.succeeded());
    disk.fill();
    let failed = poll(1).await;
    assert!(failed.store_error.as_ref().is_some_and(|e| e.to_string().contains("No space left")), "{failed:?}");
    assert_eq!(said(), ["firing"]);
    assert!(poll(30).await.store_error.is_some());
    assert_eq!(said(), ["firing"], "not again within the hour");
    assert!(poll(62).await.store_error.is_some());
    assert_eq!(said(), ["firing", "repeat"], "again after an hour");
    assert_eq!(bank.seen().len(), 2, "no request is spent while the store cannot keep the answer");
    disk.free();
    let recovered = poll(63).await;
    assert!(recovered.succeeded(), "{recovered:?}");
    assert_eq!(said(), ["firing", "repeat", "resolved"]);
    assert!(engine.store().failure().is_none());
}

/// The daemon's stderr, line by line, as it comes.
fn collect_lines(child: &mut std::process::Child) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let stderr = child.stderr.take().expect("stderr is piped");
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
            sink.lock().expect("lines").push(line);
        }
    });
    lines
}

/// The messages about `store_failing` the receiver got, as (event, body).
fn store_failing_messages(receiver: &Fixture) -> Vec<(String, String)> {
    receiver
        .seen()
        .into_iter()
        .filter(|r| r.path == "/hook")
        .filter_map(|r| {
            let body: serde_json::Value = serde_json::from_str(&r.body).ok()?;
            (body["kind"] == "store_failing").then(|| (body["event"].as_str().unwrap_or_default().to_owned(), r.body))
        })
        .collect()
}

/// Every transaction id the simulated bank lists now for ACT-1 (read without advancing it).
async fn listed_by_the_bank(sim: &Simulator) -> Vec<String> {
    let source = Source::new(&support::simplefin(&sim.access_url(), support::limits())).expect("source");
    let poll = source.poll(&["ACT-1".to_owned()], Utc::now() - TimeDelta::days(60), Utc::now()).await.expect("poll");
    let (_, observation) = poll.accounts.into_iter().next().expect("ACT-1 is listed");
    let mut ids: Vec<String> = observation.expect("readable").transactions.into_iter().map(|t| t.id).collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_is_said_everywhere_and_the_daemon_recovers_when_space_returns() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state");
    let Some(disk) = Tmpfs::mount(&state, "16m") else { return };
    let sim = Simulator::start(demo_script(), Advance::Manual).await.expect("simulator");
    sim.advance();
    let receiver = Fixture::start().await;
    receiver.reply("/hook", Reply::json("{}"));
    let hook = format!("[[channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\n", receiver.url("/hook"));
    let text = support::sim_config_text(dir.path(), &sim.access_url(), "* * * * * *", &hook)
        .replace("schedule = \"* * * * * *\"", "schedule = \"* * * * * *\"\nmax_requests_per_day = 100000");
    let config = dir.path().join("payguard.toml");
    std::fs::write(&config, text).expect("write the config");
    let mut manager = support::notify_socket::Manager::listen(&dir.path().join("notify.sock"));
    let mut daemon = Reaped(Some(
        support::daemon(&config)
            .env("NOTIFY_SOCKET", dir.path().join("notify.sock"))
            .env("WATCHDOG_USEC", WATCHDOG.as_micros().to_string())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start payguard run"),
    ));
    let log = collect_lines(daemon.child());
    manager.next_saying("READY=1");
    let mut requests = sim.watch_requests();
    tokio::time::timeout(BOUND, requests.wait_for(|n| *n >= 2)).await.expect("two polls").expect("watch");

    // The disk fills; the bank goes on, with payments made while nothing can be stored.
    disk.fill();
    let failing = next_status(&mut manager, |s| s.contains("STORE FAILING"));
    assert!(failing.contains("No space left on device"), "{failing}");
    sim.advance();
    sim.advance();
    let status = support::run(&config, &["status"]).await;
    let text = String::from_utf8_lossy(&status.stdout);
    assert_eq!(status.status.code(), Some(74), "{text}{}", String::from_utf8_lossy(&status.stderr));
    assert!(text.starts_with("store: FAILING since") && text.contains("No space left on device"), "{text}");
    let json = support::run(&config, &["status", "--json"]).await;
    assert_eq!(json.status.code(), Some(74));
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).expect("status JSON");
    assert_eq!(json["store"]["state"], "failing", "{json}");
    receiver.wait_for("store_failing", |_| !store_failing_messages(&receiver).is_empty()).await;
    // More failing polls, while the watchdog is still fed: the store can be read.
    let pings = manager.pings.len();
    for _ in 0..3 {
        next_status(&mut manager, |s| s.contains("STORE FAILING"));
    }
    manager.wait_for_pings(pings + 2);
    let said: Vec<String> = store_failing_messages(&receiver).into_iter().map(|(event, _)| event).collect();
    assert_eq!(said, ["firing"], "said once, not at every failing poll");
    let errors: Vec<String> = log
        .lock()
        .expect("lines")
        .iter()
        .filter(|l| l.contains("ERROR") && l.contains("cannot write the store") && l.contains("No space left"))
        .cloned()
        .collect();
    assert!(!errors.is_empty(), "logged at error: {:?}", log.lock().expect("lines"));

    // Room again: the daemon reopens its store by itself and catches up.
    disk.free();
    let recovered = next_status(&mut manager, |s| !s.contains("STORE FAILING"));
    assert!(recovered.contains("1 accounts"), "{recovered}");
    receiver
        .wait_for("store_failing resolved", |_| store_failing_messages(&receiver).iter().any(|(e, _)| e == "resolved"))
        .await;
    let status = support::run(&config, &["status"]).await;
    assert_eq!(status.status.code(), Some(0), "{}", String::from_utf8_lossy(&status.stdout));
    let at_recovery = *requests.borrow();
    tokio::time::timeout(BOUND, requests.wait_for(|n| *n >= at_recovery + 2)).await.expect("polls").expect("watch");

    let mut child = daemon.take();
    support::signal(&child, "TERM");
    let exit = tokio::task::spawn_blocking(move || child.wait()).await.expect("join").expect("wait");
    assert_eq!(exit.code(), Some(0), "{:?}", log.lock().expect("lines"));
    // Nothing is lost: everything the bank listed, including what it did while the disk was full.
    let store = Store::open(&state).expect("the store opens");
    let account = AccountRef::new("sim-bank", "ACT-1");
    let mut stored: Vec<String> = store
        .transactions_between(&account, Utc::now() - TimeDelta::days(60), None)
        .expect("read")
        .into_iter()
        .map(|t| t.id)
        .collect();
    stored.sort();
    assert_eq!(stored, listed_by_the_bank(&sim).await);
    assert!(store.verify_audit().expect("verify").is_intact(), "the audit chain survived the reopen");
}

/// The next status line that satisfies `wanted`, skipping others; a minute at most.
fn next_status(manager: &mut support::notify_socket::Manager, wanted: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + BOUND;
    let mut last = String::new();
    while std::time::Instant::now() < deadline {
        let datagram = manager.next();
        if let Some(status) = datagram.lines().find_map(|l| l.strip_prefix("STATUS=")) {
            if wanted(status) {
                return status.to_owned();
            }
            status.clone_into(&mut last);
        }
    }
    panic!("no status line as wanted within {BOUND:?}; the last was {last:?}");
}
