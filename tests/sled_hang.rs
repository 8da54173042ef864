//! A flush that sled never finishes: a record too large for sled's log goes to a file of its own,
//! and on a full disk that write fails in a way after which sled 0.34.7 finishes no flush and
//! holds its process-wide transaction lock. Its own test binary, so the database it leaves stuck
//! cannot stall another test's. A real tmpfs, filled (root only; CI runs the tests as root).

// Test code: a failed unwrap is a failed test, and clippy's allow-unwrap-in-tests does not
// reach the helper functions outside `#[test]`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "it/support/mod.rs"]
mod support;

use std::time::Duration;

use payguard::store::Store;
use support::tmpfs::Tmpfs;

/// The flush gives up within its bound instead of hanging the poll, and the store counts as
/// failing.
#[test]
fn a_flush_sled_never_finishes_fails_within_its_bound() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state");
    let Some(disk) = Tmpfs::mount(&state, "8m") else { return };
    let store = Store::open(&state).expect("the store opens");
    let (account, now) = (support::records::account(), support::records::now());
    let small = support::records::observation(account.clone(), now, "10.00", vec![]);
    store.ingest(&small, &[], &[], now).expect("a write with room");
    store.flush_blocking().expect("a flush with room");
    disk.fill();
    // A thousand payments in one hour: one record of some 300 KB.
    let large: Vec<_> = (0..1000)
        .map(|i| payguard::model::Transaction {
            description: "x".repeat(300),
            ..support::records::tx(&format!("t{i}"), 5, "-1.00", "Coffee")
        })
        .collect();
    let _ = store.ingest(&support::records::observation(account, now, "9.00", large), &[], &[], now);
    let (done, flushed) = std::sync::mpsc::channel();
    let flushing = store.clone();
    std::thread::spawn(move || done.send(flushing.flush_blocking()));
    let flushed = flushed.recv_timeout(Duration::from_secs(45)).expect("the flush answers within its bound");
    assert!(flushed.is_err(), "nothing could be written");
    assert!(store.failure().is_some(), "the store counts as failing");
}
