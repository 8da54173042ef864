//! The records transactions came from (a notification mail, an exported statement file), kept
//! whole: `evidence` holds each record's bytes by their SHA-256, once however often it is cited;
//! `cited` maps an account's transaction to the record it came from. Keeping a record appends its
//! name and hash to the audit chain, so the bytes an export hands over can be tied to the chain.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use sled::Transactional;

use super::audit::{self, AuditEvent};
use super::{Store, StoreError, decode, encode, keys, unwrap_transaction};
use crate::model::{AccountRef, Evidence};

/// A kept record as an export cites it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kept {
    pub name: String,
    pub sha256: String,
    pub bytes: Vec<u8>,
}

/// What `cited` holds for a transaction.
#[derive(Serialize, Deserialize)]
struct Citation {
    sha256: String,
    name: String,
}

impl Store {
    /// Keeps the records a poll of `source` read, with what each cites, in one transaction; a
    /// record kept before is not kept or logged again.
    pub fn keep_evidence(&self, source: &str, evidence: &[Evidence]) -> Result<(), StoreError> {
        if evidence.is_empty() {
            return Ok(());
        }
        let t = self.trees()?;
        (&t.evidence, &t.cited, &t.audit)
            .transaction(|(kept, cited, audit_tree)| {
                let at = chrono::Utc::now();
                for record in evidence {
                    let sha256 = hex(&Sha256::digest(&record.bytes));
                    let citation = encode(&Citation { sha256: sha256.clone(), name: record.name.clone() })?;
                    for (account, id) in &record.cites {
                        cited.insert(key(&AccountRef::new(source, account.as_str()), id), citation.clone())?;
                    }
                    if kept.insert(sha256.as_bytes(), record.bytes.as_slice())?.is_some() {
                        continue;
                    }
                    let transactions = record.cites.iter().map(|(account, id)| format!("{account}/{id}")).collect();
                    let event = AuditEvent::Evidence {
                        source: source.to_owned(),
                        name: record.name.clone(),
                        sha256,
                        transactions,
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
        let mut found: Vec<Kept> = Vec::new();
        for id in ids {
            let Some(bytes) = t.cited.get(key(account, id))? else { continue };
            let citation: Citation = decode(&bytes, "evidence citation")?;
            if found.iter().any(|k| k.sha256 == citation.sha256) {
                continue;
            }
            let Some(record) = t.evidence.get(citation.sha256.as_bytes())? else {
                return Err(StoreError::Corrupt {
                    what: "evidence",
                    detail: format!("the record {} ({}) is cited but not kept", citation.name, citation.sha256),
                });
            };
            found.push(Kept { name: citation.name, sha256: citation.sha256, bytes: record.to_vec() });
        }
        Ok(found)
    }
}

fn key(account: &AccountRef, id: &str) -> Vec<u8> {
    let mut key = keys::account(account);
    key.extend_from_slice(id.as_bytes());
    key
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, bytes: &[u8], cites: &[(&str, &str)]) -> Evidence {
        Evidence {
            name: name.into(),
            bytes: bytes.to_vec(),
            cites: cites.iter().map(|(a, i)| ((*a).to_owned(), (*i).to_owned())).collect(),
        }
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
        assert_eq!(
            (kept[0].name.as_str(), kept[0].bytes.as_slice()),
            ("alipay-2026-11.csv", statement.bytes.as_slice())
        );
        assert_eq!(kept[0].sha256, hex(&Sha256::digest(&statement.bytes)));
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
