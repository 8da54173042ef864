//! Load: a generated bank of many accounts, for the benchmarks.
//!
//! A [`Load`] describes `accounts` accounts that each gain `per_poll` new transactions at every
//! `/accounts` answer; nothing is precomputed and no history is kept beyond one running balance per
//! account, so 10,000 accounts cost the simulator 80 KB of state and one pass of text formatting
//! per answer. Answer `n` (counting from 0) is the bank as it stands at `first_poll_at + n *
//! interval`: its transactions posted within the interval before, its balances moved by exactly
//! their sum, so reconciliation stays quiet. The story is tuned to be a busy but mostly healthy
//! bank: per account and answer, four debits and six credits, at sixteen recurring payees, with
//! amounts that never repeat (no double charges) and no more than four debits an hour (under the
//! default velocity limit). One account in a hundred takes a large debit (750.00) per answer, so
//! the `large_debit` rule, when set, makes alerts and outbox rows at a steady rate.

use std::fmt::Write as _;

use chrono::{DateTime, TimeDelta, Utc};

/// The shape of a generated bank.
#[derive(Debug, Clone)]
pub struct Load {
    /// How many accounts the bank lists: `LOAD-0000000` and on (see [`Load::account_id`]).
    pub accounts: usize,
    /// New transactions per account in each answer.
    pub per_poll: usize,
    /// The time answer 0 describes.
    pub first_poll_at: DateTime<Utc>,
    /// How far apart in (simulated) time consecutive answers are.
    pub interval: TimeDelta,
}

/// Every account opens with 1,000,000.00, far from any balance rule.
const OPENING_CENTS: i64 = 100_000_000;
/// The payees every account deals with, in turn.
const PAYEES: usize = 16;
/// One account in this many takes a large debit per answer.
const LARGE_EVERY: usize = 100;
const LARGE_CENTS: i64 = 75_000;

impl Load {
    /// A bank of `accounts` accounts, 10 new transactions each per answer, answers an hour apart
    /// starting now.
    pub fn new(accounts: usize) -> Load {
        Load { accounts, per_poll: 10, first_poll_at: Utc::now(), interval: TimeDelta::hours(1) }
    }

    /// The id of account `index`, as the answers and a config name it.
    pub fn account_id(index: usize) -> String {
        format!("LOAD-{index:07}")
    }

    /// The time answer `n` describes.
    pub fn poll_time(&self, n: u64) -> DateTime<Utc> {
        let n = i32::try_from(n).unwrap_or(i32::MAX);
        self.first_poll_at + self.interval * n
    }

    /// The amount in cents of transaction `k` of account `index` in answer `n`. Even `k` below 8
    /// are debits, the rest credits; amounts grow with `n` so no payee sees the same amount twice.
    fn cents(&self, index: usize, n: u64, k: usize) -> i64 {
        let unique = 1_000 + (n as i64) * (self.per_poll as i64) + k as i64;
        let debit = k.is_multiple_of(2) && k < 8;
        if debit && k == 0 && (index + n as usize).is_multiple_of(LARGE_EVERY) {
            -(LARGE_CENTS + unique)
        } else if debit {
            -unique
        } else {
            unique
        }
    }
}

/// A [`Load`] being played: where it stands.
#[derive(Debug)]
pub(super) struct Generator {
    load: Load,
    /// Answers given so far.
    answers: u64,
    balances: Vec<i64>,
    /// The last answer's length: the next one is about as long, so its buffer is allocated once.
    last_len: usize,
}

impl Generator {
    pub(super) fn new(load: Load) -> Generator {
        let balances = vec![OPENING_CENTS; load.accounts];
        Generator { load, answers: 0, balances, last_len: 0 }
    }

    /// The next `/accounts` answer, as JSON text.
    pub(super) fn next_answer(&mut self) -> String {
        let n = self.answers;
        self.answers += 1;
        let load = &self.load;
        let at = load.poll_time(n);
        let per_poll = load.per_poll.max(1) as i32;
        let step = load.interval / (per_poll + 1);
        let mut out = String::with_capacity(self.last_len + self.last_len / 16 + 1024);
        out.push_str(r#"{"errors":[],"accounts":["#);
        for (index, balance) in self.balances.iter_mut().enumerate() {
            if index > 0 {
                out.push(',');
            }
            let id = Load::account_id(index);
            let mut transactions = String::with_capacity(load.per_poll * 180);
            for k in 0..load.per_poll {
                let cents = load.cents(index, n, k);
                *balance += cents;
                let posted = (at - load.interval + step * (k as i32 + 1)).timestamp();
                let payee = (n as usize * load.per_poll + k + index) % PAYEES;
                if k > 0 {
                    transactions.push(',');
                }
                let _ = write!(
                    transactions,
                    r#"{{"id":"{id}-{n}-{k}","posted":{posted},"amount":"{}","description":"{}","payee":"Payee {payee}","pending":false,"transacted_at":{posted}}}"#,
                    Money(cents),
                    if cents < 0 { "Card payment" } else { "Transfer in" },
                );
            }
            let _ = write!(
                out,
                r#"{{"org":{{"domain":"sim.payguard.invalid","name":"Simulated Bank"}},"id":"{id}","name":"Load account {index}","currency":"USD","balance":"{b}","available-balance":"{b}","balance-date":{at},"transactions":[{transactions}],"extra":{{}}}}"#,
                b = Money(*balance),
                at = at.timestamp(),
            );
        }
        out.push_str("]}");
        self.last_len = out.len();
        out
    }
}

/// Cents written as decimal money text: `-1234` is `-12.34`.
struct Money(i64);

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;
    use serde_json::Value;

    fn decimal(v: &Value) -> Decimal {
        v.as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("a decimal string: {v}"))
    }

    #[test]
    fn answers_are_simplefin_and_balances_move_by_their_transactions() {
        let mut generator = Generator::new(Load::new(3));
        let first: Value = serde_json::from_str(&generator.next_answer()).unwrap_or_else(|e| panic!("{e}"));
        let second: Value = serde_json::from_str(&generator.next_answer()).unwrap_or_else(|e| panic!("{e}"));
        let accounts = second["accounts"].as_array().unwrap_or_else(|| panic!("accounts"));
        assert_eq!(accounts.len(), 3);
        for (i, account) in accounts.iter().enumerate() {
            assert_eq!(account["id"], Load::account_id(i));
            let txs = account["transactions"].as_array().unwrap_or_else(|| panic!("transactions"));
            assert_eq!(txs.len(), 10);
            let moved: Decimal = txs.iter().map(|t| decimal(&t["amount"])).sum();
            let before = decimal(&first["accounts"][i]["balance"]);
            assert_eq!(decimal(&account["balance"]) - before, moved);
            assert_eq!(txs.iter().filter(|t| decimal(&t["amount"]) < Decimal::ZERO).count(), 4);
        }
        assert_eq!(Money(-1234).to_string(), "-12.34");
        assert_eq!(Money(5).to_string(), "0.05");
    }
}
