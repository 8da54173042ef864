//! Builders shared by the detector tests.

use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;

use super::{History, Rules, detect};
use crate::model::{
    AccountRef, AccountStatus, BalanceSource, Finding, FindingKind, Observation, Snapshot, Transaction, payee_key,
};

pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
}

pub fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_else(|e| panic!("bad decimal {s}: {e}"))
}

/// Rules with every detector off except those a test switches on.
pub fn rules() -> Rules {
    Rules {
        drop_pct: None,
        velocity_count: None,
        learning_period: TimeDelta::zero(),
        stale_after: None,
        ..Rules::default()
    }
}

pub fn snapshot(minutes_ago: i64, balance: &str) -> Snapshot {
    Snapshot {
        observed_at: now() - TimeDelta::minutes(minutes_ago),
        balance: dec(balance),
        available: None,
        currency: "USD".into(),
        status: AccountStatus::Active,
        card_expiry: None,
        as_of: None,
    }
}

pub fn tx(id: &str, minutes_ago: i64, amount: &str, payee: &str) -> Transaction {
    Transaction {
        id: id.into(),
        posted: now() - TimeDelta::minutes(minutes_ago),
        amount: dec(amount),
        payee: payee.into(),
        payee_key: payee_key(payee),
        description: format!("card payment {payee}"),
        pending: false,
    }
}

pub fn observation(balance: &str, transactions: Vec<Transaction>) -> Observation {
    Observation {
        account: AccountRef::new("bank", "ACT-1"),
        name: None,
        snapshot: snapshot(0, balance),
        transactions,
        balance: BalanceSource::Platform,
    }
}

/// An account polled once before, an hour ago, with nothing else known.
pub fn baseline_history() -> History {
    History { first_poll_at: Some(now() - TimeDelta::hours(1)), ..History::default() }
}

/// An account past its learning period.
pub fn learned_history() -> History {
    History { first_poll_at: Some(now() - TimeDelta::days(30)), ..History::default() }
}

pub fn history_with_balances(balances: &[(i64, &str)]) -> History {
    History { snapshots: balances.iter().map(|(m, b)| snapshot(*m, b)).collect(), ..learned_history() }
}

pub fn run(rules: &Rules, history: &History, observation: Observation) -> Vec<Finding> {
    detect(rules, history, &observation, now())
}

pub fn of_kind(findings: &[Finding], kind: FindingKind) -> Option<&Finding> {
    findings.iter().find(|f| f.kind == kind)
}
