//! Reads for the command line: the latest balances; and the person's own word on payees, the one
//! write that only the command line makes (audited like every other).

use chrono::{DateTime, Utc};

use sled::Transactional;

use super::audit::{self, AuditEvent};
use super::{PayeeRecord, Store, StoreError, codec, keys, unwrap_transaction};
use crate::model::{AccountRef, Snapshot, payee_key};

impl Store {
    /// The account's last `n` snapshots, newest first.
    pub fn latest_snapshots(&self, account: &AccountRef, n: usize) -> Result<Vec<Snapshot>, StoreError> {
        let t = self.trees()?;
        t.snapshots.scan_prefix(keys::account(account)).rev().take(n).map(|kv| codec::read_snapshot(&kv?.1)).collect()
    }

    /// Marks a payee trusted on an account: `new_payee` never fires for it. A payee not seen yet
    /// is recorded now, so trusting ahead of the first payment works.
    pub fn trust_payee(
        &self,
        account: &AccountRef,
        payee: &str,
        now: DateTime<Utc>,
    ) -> Result<PayeeRecord, StoreError> {
        let t = self.trees()?;
        let key = payee_key(payee);
        let tree_key = keys::with(&keys::account(account), &[key.as_bytes()]);
        let record = match t.payees.get(&tree_key)? {
            Some(bytes) => PayeeRecord { trusted: true, ..codec::read_payee(&bytes)? },
            None => {
                PayeeRecord { key, name: payee.to_owned(), first_seen: now, last_seen: now, count: 0, trusted: true }
            }
        };
        let value = codec::payee(&record);
        let event = AuditEvent::PayeeTrusted { account: account.clone(), payee: record.key.clone() };
        (&t.payees, &t.audit)
            .transaction(|(payees, audit)| {
                payees.insert(tree_key.as_slice(), value.as_slice())?;
                audit::append(audit, now, event.clone())
            })
            .map_err(unwrap_transaction)?;
        Ok(record)
    }
}
