//! Builders for the records the store keeps, shared by the store's tests (`store.rs`) and the audit
//! log's (`audit.rs`): one fixed "now", the account `bank`/`ACT-1`, transactions dated relative to
//! that now, and observations of an account's balance and transactions.

use chrono::{DateTime, TimeDelta, Utc};
use payguard::model::{AccountRef, AccountStatus, Observation, Snapshot, Transaction, payee_key};

/// The fixed instant every test record is dated from.
pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).expect("a valid time")
}

/// The account `ACT-1` of the source `bank`.
pub fn account() -> AccountRef {
    AccountRef::new("bank", "ACT-1")
}

/// A posted transaction `minutes_ago` before [`now`], with no description.
pub fn tx(id: &str, minutes_ago: i64, amount: &str, payee: &str) -> Transaction {
    Transaction {
        id: id.into(),
        posted: now() - TimeDelta::minutes(minutes_ago),
        amount: amount.parse().expect("decimal"),
        payee: payee.into(),
        payee_key: payee_key(payee),
        description: String::new(),
        pending: false,
    }
}

/// A poll of the active USD account "Checking" at `at`, with `balance` and `transactions`.
pub fn observation(
    account: AccountRef,
    at: DateTime<Utc>,
    balance: &str,
    transactions: Vec<Transaction>,
) -> Observation {
    Observation {
        account,
        name: Some("Checking".into()),
        snapshot: Snapshot {
            observed_at: at,
            balance: balance.parse().expect("decimal"),
            available: None,
            currency: "USD".into(),
            status: AccountStatus::Active,
            card_expiry: None,
            as_of: None,
        },
        transactions,
        balance: payguard::model::BalanceSource::Platform,
    }
}
