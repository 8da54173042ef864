//! The audit log: an append-only, hash-chained record of what the store wrote, so a person (or an
//! evidence export) can tell later whether payguard's history was altered behind its back.
//!
//! Entries live in the `audit` tree under their big-endian `seq` (1, 2, 3, …), so a scan comes out in
//! chain order; the key `head` in the same tree holds the last `seq` and hash. An entry is appended
//! inside the sled transaction of the write it records, and the head is read and updated in that
//! transaction: sled runs transactions one at a time, so concurrent writers (the per-source tasks,
//! the delivery worker) queue up behind each other and cannot fork the chain or reuse a `seq`.
//!
//! **Canonical bytes.** An entry's `hash` is the hex SHA-256 of `serde_json::to_vec` of
//! `{"seq":…,"at":…,"prev":…,"event":{"type":…,…}}`: exactly those fields in exactly that order, the
//! event's fields in their declaration order below. serde_json writes struct fields in declaration
//! order with no whitespace, and every value here is a string, an integer, null, or a list or
//! struct of those (times as chrono's RFC 3339, money as `Decimal` text with its scale; no maps, no
//! floats), so the bytes depend on the values alone. `prev` is the previous entry's hash, 64 zeros for the first. The stored value is the
//! entry (`seq`, `at`, `event`, `prev`, `hash`) in the same encoding, and verification also demands
//! that the stored bytes are exactly that encoding, so no byte of an entry can change unnoticed.
//!
//! Entries are small and never carry secrets: ids, kinds, states, a balance. No error text, URL,
//! title, message body or comment goes in.
//!
//! What a hash chain kept next to the data cannot catch: someone who rewrites an entry *and* every
//! hash after it, or cuts the tail and moves the head back. [`Store::audit_head`] exists so the head
//! can be written down elsewhere (an evidence export, the anchor of [`super::anchor`]), which turns
//! both into detectable changes.

use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use super::{Store, StoreError, abort, decode, encode, encode_plain};
use crate::alert::{Alert, AlertState, NoticeEvent, outbox};
use crate::model::{AccountRef, FindingKind};

/// The `prev` of the first entry, and the head of an empty chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const HEAD_KEY: &[u8] = b"head";

/// One link of the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    /// 1 for the first entry, one more for each after it, never reused.
    pub seq: u64,
    /// When the store wrote it (the wall clock, not the poll's `now`: this is when it happened).
    pub at: DateTime<Utc>,
    pub event: AuditEvent,
    /// The previous entry's `hash`; [`GENESIS`] for the first.
    pub prev: String,
    /// Hex SHA-256 of this entry's canonical bytes (see the module docs).
    pub hash: String,
}

/// What a write changed, in as few words as an auditor needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuditEvent {
    /// One observation of one account was stored. Transactions seen before and unchanged are not
    /// listed.
    Ingest {
        account: AccountRef,
        new_transactions: Vec<String>,
        updated_transactions: Vec<String>,
        balance: Decimal,
        currency: String,
    },
    /// An alert appeared, changed state (firing, resolved) or was said. `event` is the message it
    /// owes from this write, if any. A silent refresh of a firing alert (the same problem seen again
    /// by the next poll) is not an entry: it would add one per poll per firing alert and say nothing.
    AlertChanged {
        alert: String,
        kind: FindingKind,
        /// The alert's scope: an account, or a source or notice source with an empty account.
        account: AccountRef,
        state: AlertState,
        event: Option<NoticeEvent>,
    },
    /// A delivery was put in the outbox outside a poll, rescheduled, or left it with its outcome.
    DeliveryOutcome { delivery: String, alert: String, channel: String, outcome: AuditOutcome },
    /// A person acknowledged an alert.
    Ack { alert: String },
    /// A silence was added or changed (ended early: `expired_at`).
    Silence {
        id: String,
        account: Option<String>,
        source: Option<String>,
        kind: Option<FindingKind>,
        until: DateTime<Utc>,
        expired_at: Option<DateTime<Utc>>,
    },
    /// A source turned from healthy to failing or back. Polls that leave it as it was are not
    /// entries (the health record is rewritten on every poll for its request ledger).
    SourceHealth { source: String, consecutive_failures: u32 },
    /// The notices a notice source lists changed (by id); `ids` is the new list.
    Notices { source: String, ids: Vec<String> },
    /// A person trusted a payee of an account (`payguard trust`).
    PayeeTrusted { account: AccountRef, payee: String },
    /// A record transactions came from (a mail, a statement file) was kept: its name, the SHA-256
    /// of its bytes (kept beside the chain, in the export when it cites a transaction there), and
    /// the transactions it records, as `account/id`.
    Evidence { source: String, name: String, sha256: String, transactions: Vec<String> },
    /// Retention removed an account's snapshots and transactions from before `before`.
    Pruned { account: AccountRef, before: DateTime<Utc>, snapshots: usize, transactions: usize },
}

/// What happened to a delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    /// Put in the outbox outside a poll, not yet tried.
    Queued,
    /// Tried and failed for now; it will be tried again.
    Retrying,
    Delivered,
    Failed,
    Expired,
}

impl From<&outbox::Outcome> for AuditOutcome {
    fn from(outcome: &outbox::Outcome) -> Self {
        // The error text stays in the delivery log: it is the channel's words, not ours to chain.
        match outcome {
            outbox::Outcome::Delivered => AuditOutcome::Delivered,
            outbox::Outcome::Failed { .. } => AuditOutcome::Failed,
            outbox::Outcome::Expired { .. } => AuditOutcome::Expired,
        }
    }
}

/// The end of the chain: the last entry's `seq` and `hash` (0 and [`GENESIS`] when empty).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHead {
    pub seq: u64,
    pub hash: String,
}

impl AuditHead {
    pub(super) fn empty() -> AuditHead {
        AuditHead { seq: 0, hash: GENESIS.to_owned() }
    }
}

/// What [`Store::verify_audit`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditReport {
    /// Entries that verified, from the first up to the first broken link.
    pub entries: u64,
    /// The hash of the last entry that verified ([`GENESIS`] if none did).
    pub head: String,
    /// The first broken link; `None` when the chain is intact.
    pub broken: Option<BrokenLink>,
}

impl AuditReport {
    pub fn is_intact(&self) -> bool {
        self.broken.is_none()
    }
}

/// Where the chain first breaks, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokenLink {
    /// The entry that does not verify (for a missing entry, the `seq` that is missing).
    pub seq: u64,
    pub problem: Problem,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The stored bytes are not an entry.
    Undecodable { detail: String },
    /// No entry has this `seq`: the chain jumps to `next`, or (`None`) ends before the head.
    Missing { next: Option<u64> },
    /// Stored under this `seq`, the entry says it is entry `found`.
    SeqMismatch { found: u64 },
    /// The entry's `prev` is not the previous entry's hash.
    PrevMismatch { expected: String, found: String },
    /// The entry's content does not hash to its recorded hash: it was edited.
    HashMismatch { recorded: String, computed: String },
    /// The entry decodes and hashes right but its bytes are not its canonical encoding.
    NotCanonical,
    /// The `head` record is missing, unreadable or names another end of the chain.
    Head { detail: String },
}

impl fmt::Display for BrokenLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seq = self.seq;
        match &self.problem {
            Problem::Undecodable { detail } => write!(f, "entry {seq} cannot be decoded: {detail}"),
            Problem::Missing { next: Some(next) } => {
                write!(f, "entry {seq} is missing: the chain jumps to entry {next}")
            }
            Problem::Missing { next: None } => {
                write!(f, "entry {seq} is missing: the log ends before the chain's recorded head")
            }
            Problem::SeqMismatch { found } => write!(f, "the entry stored as {seq} says it is entry {found}"),
            Problem::PrevMismatch { expected, found } => write!(
                f,
                "entry {seq} does not link to its predecessor: it names {found}, the predecessor hashes to {expected}"
            ),
            Problem::HashMismatch { recorded, computed } => {
                write!(f, "entry {seq} was altered: its content hashes to {computed}, it records {recorded}")
            }
            Problem::NotCanonical => write!(f, "entry {seq} was altered: its bytes are not its canonical encoding"),
            Problem::Head { detail } => write!(f, "the chain's head does not match entry {seq}: {detail}"),
        }
    }
}

/// The bytes an entry's hash covers, in their fixed order.
#[derive(Serialize)]
struct Canonical<'a> {
    seq: u64,
    at: &'a DateTime<Utc>,
    prev: &'a str,
    event: &'a AuditEvent,
}

fn hash_of(seq: u64, at: &DateTime<Utc>, prev: &str, event: &AuditEvent) -> Result<String, StoreError> {
    let bytes = encode_plain(&Canonical { seq, at, prev, event })?;
    Ok(Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect())
}

fn entry_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// Appends `event` to the chain inside the caller's transaction. Reading the head here, not before
/// the transaction, is what makes concurrent appends queue up instead of forking the chain.
pub(super) fn append(
    tree: &TransactionalTree,
    at: DateTime<Utc>,
    event: AuditEvent,
) -> Result<(), ConflictableTransactionError<StoreError>> {
    let head = match tree.get(HEAD_KEY)? {
        // An unreadable head means the chain was tampered with or damaged: appending after a guess
        // would hide that, so the write fails instead.
        Some(bytes) => decode::<AuditHead>(&bytes, "audit chain head").map_err(abort)?,
        None => AuditHead::empty(),
    };
    let seq = head.seq.checked_add(1).ok_or_else(|| {
        abort(StoreError::Corrupt { what: "audit chain head", detail: "the sequence number is exhausted".into() })
    })?;
    // A head that was deleted or moved back would make this overwrite recorded history; refusing is
    // the only answer that keeps the evidence (the daemon logs the error, `verify` says where).
    if tree.get(entry_key(seq))?.is_some() {
        return Err(abort(StoreError::Corrupt {
            what: "audit chain head",
            detail: format!("entry {seq} exists already, so the head is behind; run `payguard verify`"),
        }));
    }
    let hash = hash_of(seq, &at, &head.hash, &event).map_err(abort)?;
    let entry = AuditEntry { seq, at, event, prev: head.hash, hash };
    tree.insert(&entry_key(seq), encode(&entry)?)?;
    tree.insert(HEAD_KEY, encode(&AuditHead { seq, hash: entry.hash })?)?;
    Ok(())
}

/// The entry for writing `alert` over `previous` (the stored bytes it replaces), or `None` for a
/// silent refresh. An unreadable previous record counts as a change: better one entry too many.
pub(super) fn alert_changed(previous: Option<&[u8]>, alert: &Alert, event: Option<NoticeEvent>) -> Option<AuditEvent> {
    let changed = match previous.map(|bytes| decode::<Alert>(bytes, "alert")) {
        Some(Ok(old)) => old.state != alert.state || old.last_notified != alert.last_notified || event.is_some(),
        None | Some(Err(_)) => true,
    };
    changed.then(|| AuditEvent::AlertChanged {
        alert: alert.id.clone(),
        kind: alert.kind(),
        account: alert.account().clone(),
        state: alert.state,
        event,
    })
}

/// Whether a source counts as failing, for [`AuditEvent::SourceHealth`].
pub(super) fn failing(consecutive_failures: u32) -> bool {
    consecutive_failures > 0
}

enum HeadRecord {
    Absent,
    Unreadable(String),
    Present(AuditHead),
}

impl Store {
    /// The chain's current end, as recorded (not verified: [`Store::verify_audit`] does that).
    pub fn audit_head(&self) -> Result<AuditHead, StoreError> {
        let t = self.trees()?;
        match t.audit.get(HEAD_KEY)? {
            Some(bytes) => decode(&bytes, "audit chain head"),
            None => Ok(AuditHead::empty()),
        }
    }

    /// The entry with this `seq`, if the store has one (undecodable: an error).
    pub(super) fn audit_entry(&self, seq: u64) -> Result<Option<AuditEntry>, StoreError> {
        self.trees()?.audit.get(entry_key(seq))?.map(|bytes| decode(&bytes, "audit entry")).transpose()
    }

    /// Every entry, oldest first. Fails on an undecodable one; [`Store::verify_audit`] says which.
    pub fn audit_log(&self) -> Result<Vec<AuditEntry>, StoreError> {
        let t = self.trees()?;
        let mut entries = Vec::new();
        for kv in t.audit.iter() {
            let (key, value) = kv?;
            if key.len() == 8 {
                entries.push(decode(&value, "audit entry")?);
            }
        }
        Ok(entries)
    }

    /// Walks the chain from the first entry to the recorded head and reports the first broken link.
    ///
    /// The head is read first and the walk stops there: entries appended while it runs (by this
    /// process) are left for the next verification instead of being mistaken for tampering.
    pub fn verify_audit(&self) -> Result<AuditReport, StoreError> {
        let t = self.trees()?;
        let head = match t.audit.get(HEAD_KEY)? {
            None => HeadRecord::Absent,
            Some(bytes) => match decode::<AuditHead>(&bytes, "audit chain head") {
                Ok(head) => HeadRecord::Present(head),
                Err(e) => HeadRecord::Unreadable(e.to_string()),
            },
        };
        let limit = match &head {
            HeadRecord::Present(head) => head.seq,
            _ => u64::MAX,
        };
        let mut report = AuditReport { entries: 0, head: GENESIS.to_owned(), broken: None };
        let mut expected: u64 = 1;
        let broken = |seq, problem| Some(BrokenLink { seq, problem });
        for kv in t.audit.range(entry_key(1)..) {
            let (key, value) = kv?;
            // Entry keys are exactly 8 bytes; `head` is the only other key, and it sorts among them.
            let Ok(seq) = <[u8; 8]>::try_from(key.as_ref()).map(u64::from_be_bytes) else { continue };
            if seq > limit {
                break;
            }
            if seq != expected {
                report.broken = broken(expected, Problem::Missing { next: Some(seq) });
                return Ok(report);
            }
            let entry: AuditEntry = match decode(&value, "audit entry") {
                Ok(entry) => entry,
                Err(e) => {
                    report.broken = broken(seq, Problem::Undecodable { detail: e.to_string() });
                    return Ok(report);
                }
            };
            let problem = if entry.seq != seq {
                Some(Problem::SeqMismatch { found: entry.seq })
            } else if entry.prev != report.head {
                Some(Problem::PrevMismatch { expected: report.head.clone(), found: entry.prev.clone() })
            } else {
                let computed = hash_of(entry.seq, &entry.at, &entry.prev, &entry.event)?;
                if computed != entry.hash {
                    Some(Problem::HashMismatch { recorded: entry.hash.clone(), computed })
                } else if encode_plain(&entry)? != value.as_ref() {
                    Some(Problem::NotCanonical)
                } else {
                    None
                }
            };
            if let Some(problem) = problem {
                report.broken = broken(seq, problem);
                return Ok(report);
            }
            report.entries += 1;
            report.head = entry.hash;
            expected += 1;
        }
        report.broken = match head {
            HeadRecord::Absent if report.entries == 0 => None,
            HeadRecord::Absent => broken(report.entries, Problem::Head { detail: "no head is recorded".into() }),
            HeadRecord::Unreadable(detail) => broken(report.entries, Problem::Head { detail }),
            HeadRecord::Present(recorded) if recorded.seq >= expected => {
                broken(expected, Problem::Missing { next: None })
            }
            HeadRecord::Present(recorded) if recorded.hash != report.head => broken(
                recorded.seq,
                Problem::Head {
                    detail: format!("the head records hash {}, the entry hashes to {}", recorded.hash, report.head),
                },
            ),
            HeadRecord::Present(_) => None,
        };
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events() -> Vec<AuditEvent> {
        let at = DateTime::from_timestamp(1_790_000_000, 5).unwrap_or_default();
        vec![
            AuditEvent::Ingest {
                account: AccountRef::new("bank", "A"),
                new_transactions: vec!["t1".into()],
                updated_transactions: vec![],
                balance: "1200.50".parse().unwrap_or_default(),
                currency: "USD".into(),
            },
            AuditEvent::AlertChanged {
                alert: "abc".into(),
                kind: FindingKind::LowBalance,
                account: AccountRef::new("bank", "A"),
                state: AlertState::Firing,
                event: Some(NoticeEvent::Firing),
            },
            AuditEvent::DeliveryOutcome {
                delivery: "d".into(),
                alert: "abc".into(),
                channel: "sms".into(),
                outcome: AuditOutcome::Retrying,
            },
            AuditEvent::Ack { alert: "abc".into() },
            AuditEvent::Silence {
                id: "s".into(),
                account: None,
                source: Some("bank".into()),
                kind: None,
                until: at,
                expired_at: Some(at),
            },
            AuditEvent::SourceHealth { source: "bank".into(), consecutive_failures: 3 },
            AuditEvent::Notices { source: "status".into(), ids: vec!["n1".into()] },
        ]
    }

    #[test]
    fn every_event_survives_its_encoding_byte_for_byte() {
        // serde_json's arbitrary_precision has tripped internally tagged enums holding numbers
        // before; the chain depends on decode-then-encode giving back the very same bytes.
        for event in events() {
            let entry = AuditEntry {
                seq: 7,
                at: DateTime::from_timestamp(1_790_000_000, 123_456_789).unwrap_or_default(),
                event,
                prev: GENESIS.into(),
                hash: "h".into(),
            };
            let bytes = serde_json::to_vec(&entry).unwrap_or_default();
            let back: AuditEntry = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}: {entry:?}"));
            assert_eq!(back, entry);
            assert_eq!(serde_json::to_vec(&back).unwrap_or_default(), bytes);
        }
    }

    #[test]
    fn the_canonical_form_is_the_documented_one() {
        let at = DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default();
        let event = AuditEvent::Ack { alert: "abc".into() };
        let text = r#"{"seq":1,"at":"2026-09-21T14:13:20Z","prev":"0000000000000000000000000000000000000000000000000000000000000000","event":{"type":"ack","alert":"abc"}}"#;
        let expected: String = Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hash_of(1, &at, GENESIS, &event).ok(), Some(expected));
    }
}
