//! Observations too large to write in one store transaction, cut into parts.
//!
//! sled holds every write of a transaction in memory until it commits: one observation of 100,000
//! transactions (a year's statement export, the first poll of a busy account) took about 4 KiB a
//! transaction (BENCHMARKS.md). An observation of more than [`PART`] transactions is judged whole,
//! then written [`PART`] transactions at a time, each part in a transaction of its own:
//! - the first part carries the alerts and the deliveries they owe, so no crash between parts
//!   leaves transactions known whose alerts were not written;
//! - each part's snapshot is the balance before the poll moved by what the parts so far posted
//!   ([`detect::posted`]), so the store is reconciled after every part: a poll read again after a
//!   crash finds unexplained only what the whole poll found;
//! - only the last part, with the observation's own snapshot, writes the account's record
//!   (`Store::ingest`); the parts before leave it (`Store::ingest_part`), so until then the
//!   account's last poll is the one before, the same window is read again, and a baseline cut short
//!   is still a baseline.
//!
//! A source's read too large for one poll (`Poll::more`) comes as several polls instead, each
//! observation a `BalanceSource::CarriedPart`: judged on its own for events, its balance carried
//! ([`carried`]), written like the parts here, the account's record left for the read's last poll.

use crate::detect::{self, History};
use rust_decimal::Decimal;

use crate::model::{Observation, Snapshot};

/// The most transactions written in one store transaction.
pub const PART: usize = 2_000;

/// `observation` cut into parts of at most [`PART`] transactions in posting order: the parts
/// before the last, and the last, which keeps the observation's snapshot and name.
pub fn split(mut observation: Observation, history: &History) -> (Vec<Observation>, Observation) {
    if observation.transactions.len() <= PART {
        return (Vec::new(), observation);
    }
    observation.transactions.sort_by(|a, b| (a.posted, &a.id).cmp(&(b.posted, &b.id)));
    let last = observation.transactions.split_off((observation.transactions.len() - 1) / PART * PART);
    let mut balance = previous(history, &observation.snapshot.currency);
    let mut earlier = Vec::new();
    let mut rest = std::mem::take(&mut observation.transactions).into_iter().peekable();
    while rest.peek().is_some() {
        let transactions: Vec<_> = rest.by_ref().take(PART).collect();
        balance = balance.map(|b| b + detect::posted(history, &transactions));
        let snapshot =
            Snapshot { balance: balance.unwrap_or(observation.snapshot.balance), ..observation.snapshot.clone() };
        earlier.push(Observation {
            account: observation.account.clone(),
            name: None,
            snapshot,
            transactions,
            balance: observation.balance,
        });
    }
    observation.transactions = last;
    (earlier, observation)
}

/// The balance of an observation whose source states none (`BalanceSource::Carried`): the one
/// stored last, for an account's first the observation's own, moved by what it posts.
pub fn carried(observation: &Observation, history: &History) -> Decimal {
    let base = previous(history, &observation.snapshot.currency).unwrap_or(observation.snapshot.balance);
    base + detect::posted(history, &observation.transactions)
}

/// The balance stored last, in `currency`.
fn previous(history: &History, currency: &str) -> Option<Decimal> {
    history.previous.as_ref().filter(|p| p.currency == currency).map(|p| p.balance)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::fixtures::{learned_history, observation, snapshot, tx};

    fn many(n: usize) -> Vec<crate::model::Transaction> {
        (0..n).map(|i| tx(&format!("t{i}"), 1 + (i % 20) as i64, "-1.00", "Shop")).collect()
    }

    #[test]
    fn a_small_observation_is_one_part() {
        let (earlier, last) = split(observation("100", many(PART)), &learned_history());
        assert!(earlier.is_empty());
        assert_eq!(last.transactions.len(), PART);
    }

    #[test]
    fn parts_keep_every_transaction_once_and_stay_reconciled() {
        let mut history = learned_history();
        history.previous = Some(snapshot(30, "10000"));
        let whole = observation("4999", many(2 * PART + 1));
        let (earlier, last) = split(whole.clone(), &history);
        assert_eq!(earlier.len(), 2);
        assert!(earlier.iter().all(|p| p.transactions.len() == PART));
        assert_eq!(last.transactions.len(), 1);
        let mut ids: Vec<_> =
            earlier.iter().chain([&last]).flat_map(|p| p.transactions.iter().map(|t| t.id.clone())).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), whole.transactions.len());
        // Each part's balance is what the parts so far explain; the last is the platform's own.
        let balances: Vec<Decimal> = earlier.iter().map(|p| p.snapshot.balance).collect();
        assert_eq!(balances, vec![Decimal::from(8000), Decimal::from(6000)]);
        assert_eq!(last.snapshot, whole.snapshot);
        assert_eq!(last.name, whole.name);
    }

    #[test]
    fn a_baseline_keeps_the_platforms_balance_in_every_part() {
        let mut history = learned_history();
        history.previous = None;
        let (earlier, _) = split(observation("123", many(PART + 1)), &history);
        assert_eq!(earlier[0].snapshot.balance, Decimal::from(123));
    }
}
