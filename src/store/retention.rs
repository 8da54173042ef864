//! Retention: old snapshots and transactions go, so the store does not grow without bound.
//!
//! What stays: anything newer than the cut; transactions that a still-firing alert cites (the
//! evidence of an open problem); and the whole audit log, which is append-only by design — each
//! pruning is itself an audit entry.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use super::audit::{self, AuditEvent};
use super::{Store, StoreError, codec, keys, unwrap_transaction};
use crate::alert::AlertState;
use crate::model::{AccountRef, Transaction};

/// What one account lost to retention.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pruned {
    pub snapshots: usize,
    pub transactions: usize,
}

impl Store {
    /// Removes `account`'s snapshots observed and transactions posted before `before`, except the
    /// transactions its firing alerts cite.
    pub fn prune(&self, account: &AccountRef, before: DateTime<Utc>, now: DateTime<Utc>) -> Result<Pruned, StoreError> {
        let t = self.trees()?;
        let prefix = keys::account(account);
        let cut = keys::with(&prefix, &[&keys::time(before)]);
        let keep: HashSet<String> = self
            .alerts_of(account)?
            .into_iter()
            .filter(|a| a.state == AlertState::Firing)
            .flat_map(|a| a.finding.transaction_ids)
            .collect();
        let old_snapshots: Vec<sled::IVec> =
            t.snapshots.range(prefix.clone()..cut.clone()).keys().collect::<Result<_, _>>()?;
        // The hours that hold anything from before the cut; what goes is decided again inside the
        // transaction, so a transaction stored meanwhile is never dropped with its hour.
        let before_key = keys::time(before);
        let last_hour = keys::with(&prefix, &[&keys::hour(before), &[0]]);
        let mut hours = Vec::new();
        for entry in t.transactions.range(prefix.clone()..last_hour) {
            let (key, bytes) = entry?;
            let old = codec::read_bucket(&bytes)?
                .iter()
                .any(|tx| keys::time(tx.posted) < before_key && !keep.contains(&tx.id));
            if old {
                hours.push(key);
            }
        }
        if old_snapshots.is_empty() && hours.is_empty() {
            return Ok(Pruned::default());
        }
        (&t.snapshots, &t.transactions, &t.tx_ids, &t.audit)
            .transaction(|(snapshots, transactions, tx_ids, audit)| {
                for key in &old_snapshots {
                    snapshots.remove(key)?;
                }
                let mut gone = 0;
                for key in &hours {
                    let Some(bytes) = transactions.get(key)? else { continue };
                    let hour = key.get(prefix.len()..).unwrap_or_default();
                    let (old, kept): (Vec<Transaction>, Vec<Transaction>) = codec::read_bucket(&bytes)
                        .map_err(ConflictableTransactionError::Abort)?
                        .into_iter()
                        .partition(|tx| keys::time(tx.posted) < before_key && !keep.contains(&tx.id));
                    for tx in &old {
                        // The id index goes with the transaction only if it names this hour.
                        let id_key = keys::with(&prefix, &[tx.id.as_bytes()]);
                        if tx_ids.get(&id_key)?.is_some_and(|at| at.as_ref() == hour) {
                            tx_ids.remove(id_key)?;
                        }
                    }
                    gone += old.len();
                    if kept.is_empty() {
                        transactions.remove(key)?;
                    } else {
                        transactions.insert(key, codec::bucket(&kept))?;
                    }
                }
                let pruned = Pruned { snapshots: old_snapshots.len(), transactions: gone };
                let event = AuditEvent::Pruned {
                    account: account.clone(),
                    before,
                    snapshots: pruned.snapshots,
                    transactions: pruned.transactions,
                };
                audit::append(audit, now, event)?;
                Ok(pruned)
            })
            .map_err(unwrap_transaction)
    }
}
