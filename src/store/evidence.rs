//! The records transactions came from (a notification mail, an exported statement file), kept
//! whole: `evidence` holds each record's bytes by their SHA-256, once however often it is cited;
//! `cited` holds, per account and record, the ids of the account's transactions the record
//! states. Keeping a record appends its name and hash to the audit chain, so the bytes an export
//! hands over can be tied to the chain.
//!
//! One citation per record and batch of transactions (a poll's, or a part's of a read in parts)
//! rather than one per transaction: a statement of 100,000 rows is a few writes, not 100,000 in
//! one sled transaction, which held about 5 KiB a row (BENCHMARKS.md).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sled::Transactional;

use super::audit::{self, AuditEvent};
use super::{Store, StoreError, abort, decode, encode, keys, unwrap_transaction};
use crate::model::{AccountRef, Evidence};

/// A kept record as an export cites it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kept {
    pub name: String,
    pub sha256: String,
    pub bytes: Vec<u8>,
}

/// What `cited` holds for an account and a record.
#[derive(Serialize, Deserialize)]
struct Citation {
    name: String,
    /// The account's transactions the record states, sorted.
    ids: BTreeSet<String>,
}

impl Store {
    /// Keeps the records a poll of `source` read, with what each cites, in one transaction. A
    /// record is kept once; each call's citations of it are a record of their own (a file read in
    /// parts is cited by each part, never one growing list rewritten per part), and are logged
    /// when they cite something new.
    pub fn keep_evidence(&self, source: &str, evidence: &[Evidence]) -> Result<(), StoreError> {
        if evidence.is_empty() {
            return Ok(());
        }
        let t = self.trees()?;
        // Looked up before the transaction, in which a look at a kept record reads all its bytes;
        // only this source's poll keeps its records, so none is kept meanwhile.
        let first: Vec<bool> = evidence
            .iter()
            .map(|record| t.evidence.contains_key(record.sha256.as_bytes()).map(|kept| !kept))
            .collect::<Result<_, _>>()?;
        (&t.evidence, &t.cited, &t.audit)
            .transaction(|(kept, cited, audit_tree)| {
                let at = chrono::Utc::now();
                for (record, first) in evidence.iter().zip(&first) {
                    let mut by_account: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
                    for (account, id) in &record.cites {
                        by_account.entry(account).or_default().push(id);
                    }
                    let mut newly = Vec::new();
                    for (account, ids) in by_account {
                        let key = key(&AccountRef::new(source, account), &record.sha256, ids[0]);
                        let mut citation = match cited.get(&key)? {
                            Some(bytes) => decode::<Citation>(&bytes, "evidence citation").map_err(abort)?,
                            None => Citation { name: record.name.clone(), ids: BTreeSet::new() },
                        };
                        for id in ids {
                            if citation.ids.insert(id.clone()) {
                                newly.push(format!("{account}/{id}"));
                            }
                        }
                        cited.insert(key, encode(&citation)?)?;
                    }
                    if *first {
                        kept.insert(record.sha256.as_bytes(), &*record.bytes)?;
                    } else if newly.is_empty() {
                        continue;
                    }
                    let event = AuditEvent::Evidence {
                        source: source.to_owned(),
                        name: record.name.clone(),
                        sha256: record.sha256.clone(),
                        transactions: newly,
                    };
                    audit::append(audit_tree, at, event)?;
                }
                Ok(())
            })
            .map_err(unwrap_transaction)
    }

    /// The records the transactions `ids` of `account` came from, each once, in the order first
    /// cited.
    pub fn evidence_of<'a>(
        &self,
        account: &AccountRef,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<Kept>, StoreError> {
        let t = self.trees()?;
        // An account cites a record per mail or file read: few enough to hold while looking up.
        let prefix = keys::account(account);
        let mut citations = Vec::new();
        for entry in t.cited.scan_prefix(&prefix) {
            let (key, bytes) = entry?;
            // The record's hash, then (for citations since records were read in parts) the batch.
            let sha256 =
                String::from_utf8_lossy(key.get(prefix.len()..prefix.len() + 64).unwrap_or_default()).into_owned();
            citations.push((sha256, decode::<Citation>(&bytes, "evidence citation")?));
        }
        let mut found: Vec<Kept> = Vec::new();
        for id in ids {
            let Some((sha256, citation)) = citations.iter().find(|(_, c)| c.ids.contains(id)) else { continue };
            if found.iter().any(|k| k.sha256 == *sha256) {
                continue;
            }
            let Some(record) = t.evidence.get(sha256.as_bytes())? else {
                return Err(StoreError::Corrupt {
                    what: "evidence",
                    detail: format!("the record {} ({sha256}) is cited but not kept", citation.name),
                });
            };
            found.push(Kept { name: citation.name.clone(), sha256: sha256.clone(), bytes: record.to_vec() });
        }
        Ok(found)
    }
}

/// Where the citations of a record by an account's transactions are, one batch (named by its
/// first id) of them.
fn key(account: &AccountRef, sha256: &str, first: &str) -> Vec<u8> {
    let mut key = keys::account(account);
    key.extend_from_slice(sha256.as_bytes());
    key.push(b'/');
    key.extend_from_slice(crate::model::short_hash(first).as_bytes());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, bytes: &[u8], cites: &[(&str, &str)]) -> Evidence {
        Evidence::new(
            name.into(),
            bytes.into(),
            cites.iter().map(|(a, i)| ((*a).to_owned(), (*i).to_owned())).collect(),
        )
    }

    #[test]
    fn a_record_is_kept_once_cited_by_its_transactions_and_logged() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        let statement = record(
            "alipay-2026-11.csv",
            "交易时间,金额\n".as_bytes(),
            &[("ali", "2026111122001"), ("ali", "2026111122002")],
        );
        store.keep_evidence("alipay", std::slice::from_ref(&statement)).expect("kept");
        // Read again (a renamed re-download, say): kept once, logged once.
        store.keep_evidence("alipay", std::slice::from_ref(&statement)).expect("kept again");
        let account = AccountRef::new("alipay", "ali");
        let kept = store.evidence_of(&account, ["2026111122001", "2026111122002", "unknown"]).expect("read");
        assert_eq!(kept.len(), 1);
        assert_eq!((kept[0].name.as_str(), kept[0].bytes.as_slice()), ("alipay-2026-11.csv", &*statement.bytes));
        assert_eq!(kept[0].sha256, crate::model::sha256_hex(&statement.bytes));
        let logged: Vec<_> = store
            .audit_log()
            .expect("log")
            .into_iter()
            .filter(|e| matches!(&e.event, AuditEvent::Evidence { sha256, .. } if *sha256 == kept[0].sha256))
            .collect();
        assert_eq!(logged.len(), 1);
        assert!(store.verify_audit().expect("verify").is_intact());
    }
}
