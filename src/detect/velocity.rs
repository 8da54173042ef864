//! `velocity`: too many debits, or too much money out, in a short window.

use super::{Input, OFF, Rules, threshold};
use crate::model::{Duration, Finding, FindingKind};
use rust_decimal::Decimal;

pub(super) fn velocity(input: &Input) -> Option<Finding> {
    let rules = input.rules;
    if rules.velocity_count.is_none() && rules.velocity_sum.is_none() {
        return None;
    }
    // Only new money out can start a burst: old debits alone were judged in earlier polls.
    if !input.new.iter().any(|tx| tx.is_debit()) {
        return None;
    }
    let debits: Vec<_> = input.window(rules.velocity_window).into_iter().filter(|tx| tx.is_debit()).collect();
    let count = debits.len();
    let sum: Decimal = debits.iter().map(|tx| tx.outflow()).sum();
    let by_count =
        rules.velocity_count.filter(|limit| count >= *limit as usize).map(|limit| threshold("velocity_count", limit));
    let by_sum = rules.velocity_sum.filter(|limit| sum >= *limit).map(|limit| threshold("velocity_sum", limit));
    let fired = by_count.or(by_sum)?;
    let currency = &input.observation.snapshot.currency;
    let window = Duration(rules.velocity_window);
    let mut finding = input.finding(
        FindingKind::Velocity,
        format!("{count} payments totalling {sum} {currency} within {window}"),
        format!(
            "{count} debits took {sum} {currency} out of the account within {window}, faster than the limits you set."
        ),
    );
    finding.amount = Some(sum);
    let mut payees: Vec<String> = debits.iter().map(|tx| tx.payee.clone()).collect();
    payees.dedup();
    finding.payees = payees;
    finding.transaction_ids = debits.iter().map(|tx| tx.id.clone()).collect();
    finding.threshold = fired;
    // The burst is named by its first debit, so a burst that goes on is one alert, not one per poll.
    finding.key = debits.first().map(|tx| tx.id.clone()).unwrap_or_default();
    Some(finding)
}

/// `5 debits or 2000.00 out within 1h`, or `off`.
pub(super) fn velocity_rule(rules: &Rules) -> String {
    let limits: Vec<String> = rules
        .velocity_count
        .map(|c| format!("{c} debits"))
        .into_iter()
        .chain(rules.velocity_sum.map(|s| format!("{s} out")))
        .collect();
    if limits.is_empty() {
        return OFF.to_owned();
    }
    format!("{} within {}", limits.join(" or "), Duration(rules.velocity_window))
}

#[cfg(test)]
mod tests {
    use crate::detect::fixtures::*;
    use crate::model::FindingKind;

    #[test]
    fn velocity_table() {
        /// (count limit, sum limit, minutes ago of debits, amount each, fires)
        type Case = (Option<u32>, Option<&'static str>, &'static [i64], &'static str, bool);
        let cases: &[Case] = &[
            (Some(3), None, &[1, 2, 3], "-10", true),
            (Some(3), None, &[1, 2], "-10", false),
            (Some(3), None, &[1, 2, 90], "-10", false), // one outside the 1h window
            (None, Some("100"), &[1, 2], "-50", true),
            (None, Some("100"), &[1, 2], "-49.99", false),
            (Some(2), None, &[1, 2], "10", false), // credits are not debits
        ];
        for (count, sum, minutes, amount, fires) in cases {
            let mut rules = rules();
            rules.velocity_count = *count;
            rules.velocity_sum = sum.map(dec);
            let txs = minutes.iter().enumerate().map(|(i, m)| tx(&format!("t{i}"), *m, amount, "Shop")).collect();
            let findings = run(&rules, &learned_history(), observation("100", txs));
            assert_eq!(
                of_kind(&findings, FindingKind::Velocity).is_some(),
                *fires,
                "{count:?} {sum:?} {minutes:?} {amount}"
            );
        }
    }

    #[test]
    fn old_debits_alone_do_not_fire() {
        let mut rules = rules();
        rules.velocity_count = Some(2);
        let mut history = learned_history();
        history.recent = vec![tx("a", 5, "-10", "Shop"), tx("b", 4, "-10", "Shop")];
        let findings = run(&rules, &history, observation("100", vec![]));
        assert!(of_kind(&findings, FindingKind::Velocity).is_none());
        let findings = run(&rules, &history, observation("100", vec![tx("c", 1, "-10", "Shop")]));
        assert_eq!(of_kind(&findings, FindingKind::Velocity).map(|f| f.transaction_ids.len()), Some(3));
    }
}
