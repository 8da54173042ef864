//! `large_debit`: one payment out of at least `large_debit`.

use super::{Input, OFF, Rules, threshold};
use crate::model::{Finding, FindingKind};

pub(super) fn large_debit(input: &Input) -> Vec<Finding> {
    let Some(limit) = input.rules.large_debit else {
        return Vec::new();
    };
    input
        .new
        .iter()
        .filter(|tx| tx.outflow() >= limit && tx.is_debit())
        .map(|tx| {
            let currency = &input.observation.snapshot.currency;
            let mut finding = input.finding(
                FindingKind::LargeDebit,
                format!("Large payment of {} {} to {}", tx.outflow(), currency, tx.payee),
                format!(
                    "{} {} left the account to {} at {} ({}), at or above your limit of {}.",
                    tx.outflow(),
                    currency,
                    tx.payee,
                    input.rules.zone.time(tx.posted),
                    tx.description,
                    limit
                ),
            );
            finding.threshold = threshold("large_debit", limit);
            Finding { key: input.event_key(tx), ..finding.citing(tx) }
        })
        .collect()
}

/// `1000.00 or more`, or `off`.
pub(super) fn large_debit_rule(rules: &Rules) -> String {
    rules.large_debit.map_or_else(|| OFF.to_owned(), |limit| format!("{limit} or more"))
}

#[cfg(test)]
mod tests {
    use crate::detect::fixtures::*;
    use crate::model::FindingKind;

    #[test]
    fn large_debit_table() {
        for (limit, amount, fires) in
            [("1000", "-1000", true), ("1000", "-999.99", false), ("1000", "5000", false), ("1000", "-1000.01", true)]
        {
            let mut rules = rules();
            rules.large_debit = Some(dec(limit));
            let findings = run(&rules, &baseline_history(), observation("100", vec![tx("t1", 5, amount, "Shop")]));
            assert_eq!(of_kind(&findings, FindingKind::LargeDebit).is_some(), fires, "limit {limit} amount {amount}");
        }
    }

    /// The finding's words tell the payment's time on the configured clock, and the finding
    /// carries that clock for the words made from it later (the Chinese ones).
    #[test]
    fn the_time_is_told_on_the_configured_clock() {
        let mut rules = rules();
        rules.large_debit = Some(dec("10"));
        rules.zone = crate::model::Zone(chrono_tz::Asia::Shanghai);
        let debit = tx("t1", 5, "-50", "Shop");
        let local = debit.posted.with_timezone(&chrono_tz::Asia::Shanghai).format("%Y-%m-%d %H:%M +08:00").to_string();
        let findings = run(&rules, &baseline_history(), observation("100", vec![debit]));
        let finding = of_kind(&findings, FindingKind::LargeDebit).expect("large_debit");
        assert!(finding.detail.contains(&local) && !finding.detail.contains("UTC"), "{local}: {}", finding.detail);
        assert_eq!(finding.zone, rules.zone);
    }

    #[test]
    fn a_known_transaction_is_not_new() {
        let mut rules = rules();
        rules.large_debit = Some(dec("10"));
        let old = tx("t1", 5, "-50", "Shop");
        let mut history = baseline_history();
        history.known.insert(old.id.clone(), old.clone());
        let findings = run(&rules, &history, observation("100", vec![old]));
        assert!(findings.is_empty(), "{findings:?}");
    }
}
