//! `duplicate_charge`: the same payee took the same amount twice within `duplicate_window`.
//!
//! A pending charge and its posted twin are the same charge seen twice, so pairs are only formed
//! between two pending or two posted debits.

use super::{Input, Rules, threshold};
use crate::model::{Duration, Finding, FindingKind};

pub(super) fn duplicate_charge(input: &Input) -> Vec<Finding> {
    let width = input.rules.duplicate_window;
    let window = input.window(width * 2);
    let mut findings: Vec<Finding> = Vec::new();
    for tx in input.new.iter().filter(|tx| tx.is_debit()) {
        let twin = window.iter().find(|other| {
            other.id != tx.id
                && other.is_debit()
                && other.payee_key == tx.payee_key
                && other.amount == tx.amount
                && other.pending == tx.pending
                && (other.posted - tx.posted).abs() <= width
        });
        let Some(twin) = twin else { continue };
        let mut ids = [tx.id.clone(), twin.id.clone()];
        ids.sort();
        let key = ids.join("+");
        if findings.iter().any(|f| f.key == key) {
            continue;
        }
        let currency = &input.observation.snapshot.currency;
        let mut finding = input.finding(
            FindingKind::DuplicateCharge,
            format!("Possible double charge: {} {} to {} twice", tx.outflow(), currency, tx.payee),
            format!(
                "{} charged {} {} at {} and again at {}.",
                tx.payee,
                tx.outflow(),
                currency,
                input.rules.zone.time(twin.posted.min(tx.posted)),
                input.rules.zone.time(twin.posted.max(tx.posted))
            ),
        );
        finding.amount = Some(tx.outflow());
        finding.payees = vec![tx.payee.clone()];
        finding.transaction_ids = ids.to_vec();
        finding.threshold = threshold("duplicate_window", Duration(width));
        finding.key = key;
        findings.push(finding);
    }
    findings
}

/// `same payee and amount within 1d`.
pub(super) fn duplicate_charge_rule(rules: &Rules) -> String {
    format!("same payee and amount within {}", Duration(rules.duplicate_window))
}

#[cfg(test)]
mod tests {
    use crate::detect::fixtures::*;
    use crate::model::FindingKind;

    #[test]
    fn duplicate_table() {
        // (second payee, second amount, minutes apart, second pending, fires)
        let cases = [
            ("Shop", "-9.99", 10, false, true),
            ("SHOP", "-9.99", 10, false, true),
            ("Shop", "-9.98", 10, false, false),
            ("Other", "-9.99", 10, false, false),
            ("Shop", "-9.99", 60 * 25, false, false), // outside the 24h window
            ("Shop", "-9.99", 10, true, false),       // pending twin of a posted charge
            ("Shop", "9.99", 10, false, false),       // a refund
        ];
        for (payee, amount, apart, pending, fires) in cases {
            let mut history = learned_history();
            history.recent = vec![tx("old", 1 + apart, "-9.99", "Shop")];
            let mut second = tx("new", 1, amount, payee);
            second.pending = pending;
            let findings = run(&rules(), &history, observation("100", vec![second]));
            assert_eq!(
                of_kind(&findings, FindingKind::DuplicateCharge).is_some(),
                fires,
                "{payee} {amount} {apart} {pending}"
            );
        }
    }

    #[test]
    fn two_new_twins_make_one_finding() {
        let txs = vec![tx("a", 2, "-29.99", "Shop"), tx("b", 1, "-29.99", "Shop")];
        let findings = run(&rules(), &learned_history(), observation("100", txs));
        let dups: Vec<_> = findings.iter().filter(|f| f.kind == FindingKind::DuplicateCharge).collect();
        assert_eq!(dups.len(), 1);
        assert_eq!(dups[0].transaction_ids, ["a", "b"]);
    }
}
