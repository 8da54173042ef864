//! CSV for people who open it in a spreadsheet: the bundle's two tables, quoted like
//! `payguard history --format csv`.
//!
//! Amounts are written as the store holds them (`Decimal`'s own text), so `-720.00` stays
//! `-720.00`: the bank and the police compare these figures with their own records.

use std::fmt::Write as _;

use crate::model::{Snapshot, Transaction};

/// One CSV field, quoted and with formula starts defused: the one rule `history --format csv`
/// also follows, so both exports read the same in a spreadsheet.
use crate::text::csv as field;

/// `transactions.csv`: one row per stored transaction, in posting order. Transactions carry no
/// currency of their own, so the account's is given.
pub fn transactions(transactions: &[Transaction], currency: &str) -> String {
    let mut out = String::from("posted,amount,currency,payee,description,id,pending\n");
    for t in transactions {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{}",
            t.posted.to_rfc3339(),
            t.amount,
            field(currency),
            field(&t.payee),
            field(&t.description),
            field(&t.id),
            t.pending
        );
    }
    out
}

/// `balances.csv`: one row per poll that saw the account.
pub fn balances(snapshots: &[Snapshot]) -> String {
    let mut out = String::from("observed_at,balance,available,currency,status\n");
    for s in snapshots {
        let available = s.available.map(|a| a.to_string()).unwrap_or_default();
        let status =
            serde_json::to_value(s.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let _ = writeln!(
            out,
            "{},{},{available},{},{}",
            s.observed_at.to_rfc3339(),
            s.balance,
            field(&s.currency),
            field(&status)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::fixtures::{dec, now};

    #[test]
    fn amounts_are_written_as_stored() {
        let t = Transaction {
            id: "t1".into(),
            posted: now(),
            amount: dec("-720.00"),
            payee: "=cmd|' /C calc'!A0".into(),
            payee_key: "x".into(),
            description: "a, b".into(),
            pending: false,
        };
        let csv = transactions(&[t], "USD");
        let row = csv.lines().nth(1).unwrap_or_default();
        assert!(row.contains(",-720.00,USD,'=cmd|' /C calc'!A0,\"a, b\",t1,false"), "{row}");
    }
}
