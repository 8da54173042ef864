//! `new_payee`: money went to someone this account has never paid or been paid by.
//!
//! The first poll of an account is its baseline and teaches the known payees; during the
//! `learning_period` after it, new payees are learned silently. Trusted payees never fire.

use std::collections::BTreeMap;

use super::{Input, Rules};
use crate::model::{Duration, Finding, FindingKind, Transaction};
use rust_decimal::Decimal;

pub(super) fn new_payee(input: &Input) -> Vec<Finding> {
    let Some(first_poll) = input.history.first_poll_at else {
        return Vec::new();
    };
    if input.now < first_poll + input.rules.learning_period {
        return Vec::new();
    }
    let mut by_payee: BTreeMap<&str, Vec<&Transaction>> = BTreeMap::new();
    for tx in input.new.iter().filter(|tx| tx.is_debit()) {
        let key = tx.payee_key.as_str();
        if !input.history.known_payees.contains(key) && !input.rules.trusted_payees.contains(key) {
            by_payee.entry(key).or_default().push(tx);
        }
    }
    by_payee
        .into_values()
        .map(|txs| {
            let currency = &input.observation.snapshot.currency;
            let total: Decimal = txs.iter().map(|tx| tx.outflow()).sum();
            let payee = txs[0].payee.clone();
            let mut finding = input.finding(
                FindingKind::NewPayee,
                format!("{total} {currency} paid to a new payee: {payee}"),
                format!(
                    "{} payment(s) totalling {total} {currency} went to {payee}, who has not been paid from this account before.",
                    txs.len()
                ),
            );
            finding.amount = Some(total);
            finding.payees = vec![payee];
            finding.transaction_ids = txs.iter().map(|tx| tx.id.clone()).collect();
            finding.key = txs[0].payee_key.clone() + "|" + &txs[0].id;
            finding
        })
        .collect()
}

/// `after a learning period of 7d`, and how many payees are trusted.
pub(super) fn new_payee_rule(rules: &Rules) -> String {
    let trusted = match rules.trusted_payees.len() {
        0 => String::new(),
        n => format!(", {n} trusted"),
    };
    format!("after a learning period of {}{trusted}", Duration(rules.learning_period))
}

#[cfg(test)]
mod tests {
    use crate::detect::fixtures::*;
    use crate::model::FindingKind;
    use chrono::TimeDelta;

    #[test]
    fn new_payee_table() {
        // (first poll hours ago, learning hours, payee, amount, fires)
        let cases = [
            (None, 0, "Stranger", "-10", false),          // baseline poll
            (Some(1), 0, "Stranger", "-10", true),        // learning_period = 0s: second poll alerts
            (Some(1), 24, "Stranger", "-10", false),      // still learning
            (Some(48), 24, "Stranger", "-10", true),      // learned
            (Some(48), 24, "Grocer", "-10", false),       // known payee
            (Some(48), 24, "GROCER!", "-10", false),      // known, spelled differently
            (Some(48), 24, "Landlord Co", "-900", false), // trusted
            (Some(48), 24, "Stranger", "25", false),      // money in, not out
        ];
        for (first, learning, payee, amount, fires) in cases {
            let mut rules = rules();
            rules.learning_period = TimeDelta::hours(learning);
            rules.trusted_payees.insert("landlord co".into());
            let mut history = baseline_history();
            history.first_poll_at = first.map(|h| now() - TimeDelta::hours(h));
            history.known_payees.insert("grocer".into());
            let findings = run(&rules, &history, observation("100", vec![tx("t1", 5, amount, payee)]));
            assert_eq!(
                of_kind(&findings, FindingKind::NewPayee).is_some(),
                fires,
                "{first:?} {learning} {payee} {amount}"
            );
        }
    }

    #[test]
    fn several_payments_to_one_new_payee_are_one_finding() {
        let txs = vec![tx("a", 9, "-100", "Thief"), tx("b", 8, "-200", "THIEF"), tx("c", 7, "-5", "Other")];
        let findings = run(&rules(), &learned_history(), observation("100", txs));
        let payees: Vec<_> = findings.iter().filter(|f| f.kind == FindingKind::NewPayee).collect();
        assert_eq!(payees.len(), 2);
        assert_eq!(payees.iter().find(|f| f.payees == ["Thief"]).and_then(|f| f.amount), Some(dec("300")));
    }
}
