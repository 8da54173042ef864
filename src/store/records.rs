//! Records the store keeps about accounts and payees (transactions and snapshots are `model` types).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What the store knows of an account as a whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    /// The baseline poll: its transactions taught the known payees; `learning_period` counts from here.
    pub first_poll_at: DateTime<Utc>,
    pub last_poll_at: DateTime<Utc>,
    pub name: Option<String>,
    pub currency: String,
}

/// A counterparty an account has dealt with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayeeRecord {
    pub key: String,
    /// The payee as first written by the source.
    pub name: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// How many distinct transactions involved this payee.
    pub count: u64,
    /// The person said so (`payguard trust`): never a `new_payee`.
    #[serde(default)]
    pub trusted: bool,
}
