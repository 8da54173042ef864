//! The store's own health: the last write or flush that failed, and getting back to work after it.
//!
//! sled stops for good after one failed write (a full disk): it records the I/O error and returns
//! it from every later write and flush, and even from opening a tree, until the database is
//! opened again (sled 0.34.7, `Config::global_error`; reads of open trees still work). So a store
//! whose write failed is closed and opened again once there is room, which [`Store::recover`]
//! checks by writing a probe file first: opening sled writes a snapshot of its page table and
//! fails on a full disk, and a store that could not be opened again cannot even be read. A flush
//! that sled never finishes (see [`flush_bounded`]) fails after a bound instead of hanging a poll.

use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, PoisonError, mpsc};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::{Handles, Store, StoreError};

/// Room the probe asks for at least: a reopen writes a snapshot of sled's page table (about
/// 400 KB for 200,000 records) and starts a log segment (512 KiB).
const MIN_ROOM: u64 = 4 << 20;
/// How long a reopen waits for sled's writer threads to let go of the file lock.
const LOCK_WAIT: Duration = Duration::from_secs(10);
/// The longest a flush may take (a poll of 10,000 accounts flushes in about a second).
const FLUSH_LIMIT: Duration = Duration::from_secs(30);
const PROBE: &str = "write-probe";

/// A write or flush that failed, until one succeeds again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// When the first failure of this run of failures happened.
    pub since: DateTime<Utc>,
    /// The latest failure, in the store's words.
    pub error: String,
}

impl Store {
    /// The write failure the store has not got over yet, if any.
    pub fn failure(&self) -> Option<Failure> {
        self.shared.failure.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Notes how a flush (the end of every unit of work) went: a failure starts or continues a
    /// run of failures, a success ends it.
    pub(super) fn note_flush(&self, result: Result<(), StoreError>) -> Result<(), StoreError> {
        let mut failure = self.shared.failure.lock().unwrap_or_else(PoisonError::into_inner);
        match &result {
            Ok(()) => *failure = None,
            Err(e) => {
                let since = failure.as_ref().map_or_else(Utc::now, |f| f.since);
                *failure = Some(Failure { since, error: e.to_string() });
            }
        }
        result
    }

    /// Gets a store whose write failed ready for writing again: when there is room for what
    /// reopening writes, closes the database and opens it again. Nothing to do for a healthy
    /// store. Fails while there is no room yet, or while another call is inside the database
    /// (the next attempt tries again); the failure stays on record until a flush succeeds.
    pub fn recover(&self) -> Result<(), StoreError> {
        if self.failure().is_none() {
            return Ok(());
        }
        probe(&self.path, room(&self.path)).map_err(|e| StoreError::Io(sled::Error::Io(e)))?;
        let mut slot = self.shared.trees.write().unwrap_or_else(PoisonError::into_inner);
        if let Ok(trees) = &*slot {
            // Each call holds its own handle while it runs; ours is in the slot.
            if Arc::strong_count(trees) > 1 {
                return Err(StoreError::Reopening { path: self.path.clone() });
            }
        }
        // The old database goes first: sled locks its file, and a failed one does not flush.
        *slot = Err("being reopened".to_owned());
        let deadline = Instant::now() + LOCK_WAIT;
        let reopened = loop {
            match Handles::open(&self.path) {
                Err(StoreError::Locked { .. }) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                other => break other,
            }
        };
        match reopened {
            Ok(trees) => {
                *slot = Ok(Arc::new(trees));
                tracing::info!(path = %self.path.display(), "the store was opened again after a failed write");
                Ok(())
            }
            Err(e) => {
                *slot = Err(e.to_string());
                Err(StoreError::Closed { path: self.path.clone(), reason: e.to_string() })
            }
        }
    }
}

/// Flushes `db`, but waits at most [`FLUSH_LIMIT`]. sled 0.34.7 can wait forever: when writing a
/// large record to its own file fails (a full disk), it returns the error without releasing its
/// claim on the log buffer, which is then never written, and records no error (`Log::reserve`,
/// `IoBufs::encapsulate`; seen in a `payguard once` hung in `make_stable`). Such a flush holds
/// the database until the process ends, so the error says payguard must be restarted.
pub(super) fn flush_bounded(db: &sled::Db, dir: &Path) -> Result<(), StoreError> {
    let (done, answered) = mpsc::channel();
    let flushing = db.clone();
    let started = std::thread::Builder::new().name("payguard-flush".into()).spawn(move || {
        let flushed = flushing.flush();
        // Let go of the database before answering: the caller may close it and open it again
        // at once, and sled's file lock goes with the last handle.
        drop(flushing);
        let _ = done.send(flushed);
    });
    if started.is_err() {
        return Ok(db.flush().map(drop)?);
    }
    match answered.recv_timeout(FLUSH_LIMIT) {
        Ok(flushed) => Ok(flushed.map(drop)?),
        Err(_) => {
            let disk = match probe(dir, 64 << 10) {
                Ok(()) => "the disk takes writes".to_owned(),
                Err(e) => format!("a write in {} fails: {e}", dir.display()),
            };
            Err(StoreError::FlushHung { path: dir.to_owned(), seconds: FLUSH_LIMIT.as_secs(), disk })
        }
    }
}

/// Room for what reopening the store writes: [`MIN_ROOM`], or twice its last snapshot.
fn room(dir: &Path) -> u64 {
    let snapshots = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("snap."))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .max()
        .unwrap_or(0);
    MIN_ROOM.max(snapshots.saturating_mul(2))
}

/// Writes and syncs a file of `size` bytes in `dir`, and removes it: an error means there is no
/// room for that much.
fn probe(dir: &Path, size: u64) -> std::io::Result<()> {
    let path = dir.join(PROBE);
    let written = (|| {
        let mut file = std::fs::File::create(&path)?;
        let block = vec![0u8; 64 << 10];
        let mut left = size;
        while left > 0 {
            let n = left.min(block.len() as u64) as usize;
            file.write_all(&block[..n])?;
            left -= n as u64;
        }
        file.sync_all()
    })();
    let removed = std::fs::remove_file(&path);
    written.and(removed)
}
