//! The audit anchor: the chain's head written down outside sled, so a store that silently lost its
//! newest writes (sled opening an older state after its files were cut, an old copy of the state
//! directory put back) is told from an intact one. The chain alone cannot tell: its older state is
//! a perfectly valid, shorter chain.
//!
//! `audit-anchor` in the state directory holds `{"seq":…,"hash":…}`: a head that was durable. It is
//! written after each flush with the head read *before* that flush, so it never names an entry a
//! crash could take back; written atomically (a temporary file, fsync, rename, fsync of the
//! directory), so it is the old anchor or the new one, never a torn one.
//!
//! On open the store's head is compared with it. A store at or ahead of its anchor is fine (a crash
//! between a flush and the anchor's write leaves it ahead; the anchor catches up). A store behind
//! it, or whose entry at the anchored `seq` hashes otherwise, lost entries: the finding is written
//! to `audit-anchor.rollback-<time>` beside it, which nothing overwrites, the anchor moves on to the
//! head the store has now (so entries written from here on are guarded too), and every open logs
//! it at error and `payguard verify` reports it (exit 65) until a person removes that file.

use std::fmt;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AuditHead, Store, StoreError};

const ANCHOR: &str = "audit-anchor";
const ROLLBACK_PREFIX: &str = "audit-anchor.rollback-";

/// A store found behind the head its anchor recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollback {
    /// What the anchor said was durable.
    pub anchored: AuditHead,
    /// The head the store opened with.
    pub found: AuditHead,
    pub noticed_at: DateTime<Utc>,
}

impl Rollback {
    /// Entries the anchor recorded that the store no longer has (0 when the store holds as many but
    /// not the same ones: its history was replaced).
    pub fn missing(&self) -> u64 {
        self.anchored.seq.saturating_sub(self.found.seq)
    }
}

impl fmt::Display for Rollback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (anchored, found, at) = (&self.anchored, &self.found, self.noticed_at.format("%Y-%m-%d %H:%M:%S UTC"));
        match self.missing() {
            0 => write!(
                f,
                "the store's history was replaced: the anchor recorded entry {} with hash {}, the store's entry {} differs (noticed {at})",
                anchored.seq, anchored.hash, anchored.seq
            ),
            missing => write!(
                f,
                "the store lost its newest writes: {missing} audit entries are missing (the anchor recorded entry {}, the store ends at entry {}; noticed {at})",
                anchored.seq, found.seq
            ),
        }
    }
}

/// What this process has done with the anchor, shared by every clone of a [`Store`].
#[derive(Debug, Default)]
pub(super) struct Anchoring {
    /// The head last written to the anchor.
    written: Option<AuditHead>,
    /// A rollback was found that could not be recorded: the anchor is its only evidence, so it is
    /// not moved on.
    frozen: bool,
}

/// A rollback on record, and the file that records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RollbackFile {
    pub path: PathBuf,
    pub rollback: Rollback,
}

impl Store {
    /// Compares the store with its anchor on open; records a rollback and moves the anchor on to
    /// the store's head (see the module docs).
    pub(super) fn check_anchor(&self) -> Result<(), StoreError> {
        let head = self.audit_head()?;
        let behind = self.behind_anchor(&head).or_else(|error| match error {
            // Damage to the anchor itself must not keep the store from opening (a daemon that does
            // not start watches nothing): it is put aside, said, and a new anchor starts here.
            StoreError::Corrupt { .. } => {
                let aside = self.path.join(format!("{ANCHOR}.unreadable-{}", Utc::now().format("%Y%m%dT%H%M%S%.fZ")));
                std::fs::rename(self.path.join(ANCHOR), &aside).map_err(|e| anchor_error(&aside, e))?;
                tracing::error!(%error, kept = %aside.display(), "the audit anchor is unreadable; a new one starts at the store's head");
                Ok(None)
            }
            error => Err(error),
        })?;
        if let Some(rollback) = behind {
            let name = format!("{ROLLBACK_PREFIX}{}", rollback.noticed_at.format("%Y%m%dT%H%M%S%.fZ"));
            if let Err(error) = write_atomically(&self.path, &name, &rollback) {
                // The anchor then stays where it is, so every open and `verify` still find this.
                tracing::error!(%error, "{rollback}; it cannot be recorded beside the store");
                self.shared.anchored.lock().unwrap_or_else(std::sync::PoisonError::into_inner).frozen = true;
                return Ok(());
            }
        }
        for found in self.rollbacks()? {
            tracing::error!(
                evidence = %found.path.display(),
                "{}: run `payguard verify`; remove the file once this is looked into",
                found.rollback
            );
        }
        self.anchor(head);
        Ok(())
    }

    /// [`Store::write_anchor`], where a failure must not fail the caller: the data is durable
    /// whether or not its anchor could be written (a full disk). Said at error; the next flush
    /// tries again.
    pub(super) fn anchor(&self, head: AuditHead) {
        if let Err(error) = self.write_anchor(head) {
            tracing::error!(%error, "cannot write the audit anchor; a rollback of the store may go unnoticed until it can");
        }
    }

    /// The rollback the store shows against its anchor now, if any (nothing is written).
    fn behind_anchor(&self, head: &AuditHead) -> Result<Option<Rollback>, StoreError> {
        let Some(anchored) = read_json::<AuditHead>(&self.path.join(ANCHOR))? else { return Ok(None) };
        let kept = match anchored.seq {
            // The empty chain's head, anchored when a new store first opened: every chain starts
            // there. A crash after the first flush and before the anchor caught up leaves it so.
            0 => anchored.hash == super::audit::GENESIS,
            seq if seq > head.seq => false,
            seq if seq == head.seq => anchored.hash == head.hash,
            seq => self.audit_entry(seq)?.is_some_and(|entry| entry.hash == anchored.hash),
        };
        Ok((!kept).then(|| Rollback { anchored, found: head.clone(), noticed_at: Utc::now() }))
    }

    /// Every rollback recorded beside the store, oldest first, and one the store shows now but
    /// has not recorded yet (the files were swapped under a running daemon).
    pub fn rollbacks(&self) -> Result<Vec<RollbackFile>, StoreError> {
        let mut found = Vec::new();
        let entries = std::fs::read_dir(&self.path).map_err(|e| anchor_error(&self.path, e))?;
        for entry in entries {
            let path = entry.map_err(|e| anchor_error(&self.path, e))?.path();
            let recorded = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(ROLLBACK_PREFIX));
            if !recorded || path.extension().is_some_and(|e| e == "tmp") {
                continue;
            }
            if let Some(rollback) = read_json::<Rollback>(&path)? {
                found.push(RollbackFile { path, rollback });
            }
        }
        found.sort_by(|a, b| a.path.cmp(&b.path));
        if let Some(rollback) = self.behind_anchor(&self.audit_head()?)? {
            found.push(RollbackFile { path: self.path.join(ANCHOR), rollback });
        }
        Ok(found)
    }

    /// Records `head` (read before a flush that has now returned) as durable, unless the anchor
    /// already records it or a later head. Writers flush concurrently; the lock keeps the anchor
    /// from moving back.
    fn write_anchor(&self, head: AuditHead) -> Result<(), StoreError> {
        let mut anchoring = self.shared.anchored.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let known = anchoring.written.as_ref().is_some_and(|a| a.seq > head.seq || *a == head);
        if anchoring.frozen || known {
            return Ok(());
        }
        write_atomically(&self.path, ANCHOR, &head)?;
        anchoring.written = Some(head);
        Ok(())
    }
}

/// Writes `value` as JSON to `dir/name`: a temporary file, fsync, rename over `name`, fsync of
/// the directory, so a crash leaves the old file or the new one whole.
fn write_atomically<T: Serialize>(dir: &Path, name: &str, value: &T) -> Result<(), StoreError> {
    let (path, temp) = (dir.join(name), dir.join(format!("{name}.tmp")));
    let bytes = super::encode_plain(value)?;
    let written = (|| {
        let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&temp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, &path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    written.map_err(|e| anchor_error(&path, e))
}

/// The JSON in `path`, or `None` when there is no such file.
fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, StoreError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt { what: "audit anchor", detail: format!("{}: {e}", path.display()) }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anchor_error(path, e)),
    }
}

/// An I/O error on an anchor file, naming the file.
fn anchor_error(path: &Path, source: std::io::Error) -> StoreError {
    let named = std::io::Error::new(source.kind(), format!("{}: {source}", path.display()));
    StoreError::Io(sled::Error::Io(named))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SourceHealth;

    /// A store in `dir` with `turns` audit entries (a source turning failing and back), flushed.
    fn store_with(dir: &Path, turns: u32) -> Store {
        let store = Store::open(dir).expect("open");
        for turn in 0..turns {
            let health = SourceHealth { consecutive_failures: 1 - turn % 2, ..SourceHealth::default() };
            store.record_source("bank", &health, &[], &[]).expect("write");
        }
        store.flush_blocking().expect("flush");
        store
    }

    /// Opens a store this test just closed: sled's writer threads may hold its lock a moment longer.
    fn reopen(dir: &Path) -> Store {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match Store::open(dir) {
                Err(StoreError::Locked { .. }) if std::time::Instant::now() < deadline => std::thread::yield_now(),
                opened => return opened.expect("reopen"),
            }
        }
    }

    #[test]
    fn a_store_with_other_entries_than_its_anchor_names_is_said_to_be_replaced() {
        let (a, b) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
        drop(store_with(a.path(), 3));
        drop(store_with(b.path(), 3));
        // Same length, other entries (their times differ): another store under this anchor.
        std::fs::copy(a.path().join(ANCHOR), b.path().join(ANCHOR)).expect("swap the anchor");
        let store = reopen(b.path());
        let found = store.rollbacks().expect("read");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rollback.missing(), 0);
        assert!(found[0].rollback.to_string().starts_with("the store's history was replaced"), "{}", found[0].rollback);
    }

    /// A new store anchors the empty chain when it first opens. Killed after its first flush and
    /// before the anchor caught up, it opens with entries past an anchor at entry 0: that is no
    /// rollback.
    #[test]
    fn a_store_ahead_of_an_anchor_at_its_empty_start_is_intact() {
        let dir = tempfile::tempdir().expect("dir");
        drop(Store::open(dir.path()).expect("open"));
        let at_start: AuditHead = read_json(&dir.path().join(ANCHOR)).expect("read").expect("the first anchor");
        assert_eq!(at_start, AuditHead::empty());
        drop(store_with(dir.path(), 3));
        write_atomically(dir.path(), ANCHOR, &at_start).expect("the anchor as the crash left it");
        let store = reopen(dir.path());
        assert!(store.rollbacks().expect("read").is_empty(), "{:?}", store.rollbacks());
    }

    #[test]
    fn a_flush_succeeds_when_the_anchor_cannot_be_written() {
        let dir = tempfile::tempdir().expect("dir");
        let store = store_with(dir.path(), 1);
        // The anchor's temporary file cannot be created (a directory has its name), as on a full disk.
        std::fs::create_dir(dir.path().join(format!("{ANCHOR}.tmp"))).expect("block the anchor");
        let health = SourceHealth { consecutive_failures: 1, ..SourceHealth::default() };
        store.record_source("bank", &health, &[], &[]).expect("write");
        store.flush_blocking().expect("the data is durable whether or not its anchor is written");
        let anchored: AuditHead = read_json(&dir.path().join(ANCHOR)).expect("read").expect("the older anchor");
        assert_eq!(anchored.seq, 1, "the anchor stays at what it could record");
    }

    #[test]
    fn an_unreadable_anchor_is_put_aside_and_a_new_one_starts() {
        let dir = tempfile::tempdir().expect("dir");
        drop(store_with(dir.path(), 2));
        std::fs::write(dir.path().join(ANCHOR), b"\0\0 not an anchor").expect("damage the anchor");
        // A damaged anchor does not keep the store shut.
        let store = reopen(dir.path());
        let anchored: AuditHead = read_json(&dir.path().join(ANCHOR)).expect("read").expect("a new anchor");
        assert_eq!(anchored, store.audit_head().expect("head"));
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().any(|n| n.starts_with("audit-anchor.unreadable-")), "{names:?}");
        assert!(store.rollbacks().expect("read").is_empty());
    }
}
