//! Retention: old snapshots and transactions go, so the store does not grow without bound.
//!
//! What stays: anything newer than the cut; transactions that a still-firing alert cites (the
//! evidence of an open problem); and the whole audit log, which is append-only by design — each
//! pruning is itself an audit entry.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sled::Transactional;

use super::audit::{self, AuditEvent};
use super::{Store, StoreError, decode, keys, unwrap_transaction};
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
        let prefix = keys::account(account);
        let cut = keys::with(&prefix, &[&keys::time(before)]);
        let keep: HashSet<String> = self
            .alerts_of(account)?
            .into_iter()
            .filter(|a| a.state == AlertState::Firing)
            .flat_map(|a| a.finding.transaction_ids)
            .collect();
        let old_snapshots: Vec<sled::IVec> =
            self.snapshots.range(prefix.clone()..cut.clone()).keys().collect::<Result<_, _>>()?;
        let mut old_transactions = Vec::new();
        for entry in self.tx_time.range(prefix.clone()..cut) {
            let (time_key, _) = entry?;
            let id = time_key.get(prefix.len() + 8..).unwrap_or_default();
            if keep.contains(String::from_utf8_lossy(id).as_ref()) {
                continue;
            }
            let tx_key = keys::with(&prefix, &[id]);
            // A transaction moved later in time (pending → posted) keeps its newer index entry.
            let still_old = self
                .transactions
                .get(&tx_key)?
                .map(|b| decode::<Transaction>(&b, "transaction"))
                .transpose()?
                .is_none_or(|tx| tx.posted < before);
            old_transactions.push((time_key, still_old.then_some(tx_key)));
        }
        let pruned = Pruned { snapshots: old_snapshots.len(), transactions: old_transactions.len() };
        if pruned == Pruned::default() {
            return Ok(pruned);
        }
        let event = AuditEvent::Pruned {
            account: account.clone(),
            before,
            snapshots: pruned.snapshots,
            transactions: pruned.transactions,
        };
        (&self.snapshots, &self.transactions, &self.tx_time, &self.audit)
            .transaction(|(snapshots, transactions, tx_time, audit)| {
                for key in &old_snapshots {
                    snapshots.remove(key)?;
                }
                for (time_key, tx_key) in &old_transactions {
                    tx_time.remove(time_key)?;
                    if let Some(tx_key) = tx_key {
                        transactions.remove(tx_key.as_slice())?;
                    }
                }
                audit::append(audit, now, event.clone())
            })
            .map_err(unwrap_transaction)?;
        Ok(pruned)
    }
}
