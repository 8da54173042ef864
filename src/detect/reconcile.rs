//! `unexplained_change`: the balance moved by more than the transactions that posted explain.
//!
//! Between the previous snapshot and this one, the balance should change by exactly the sum of the
//! transactions that posted in between: those first seen posted now, those that were pending
//! before and have posted now (for what they posted), and what changed of an amount posted before.
//! Pending transactions do not count until they post. A difference beyond `tolerance` means money
//! moved without a record.

use rust_decimal::Decimal;

use super::{History, Input, threshold};
use crate::model::{Finding, FindingKind, Transaction};

pub(super) fn unexplained_change(input: &Input) -> Option<Finding> {
    // The baseline has nothing to compare with; a change of currency is not a movement of money.
    input.history.first_poll_at?;
    let previous = input.history.previous.as_ref()?;
    let now = &input.observation.snapshot;
    if previous.currency != now.currency {
        return None;
    }
    let posted_now = posted(input.history, &input.observation.transactions);
    let actual = now.balance - previous.balance;
    let unexplained = actual - posted_now;
    if unexplained.abs() <= input.rules.tolerance {
        return None;
    }
    let currency = &now.currency;
    let direction = if unexplained.is_sign_negative() { "left" } else { "arrived in" };
    let mut finding = input.finding(
        FindingKind::UnexplainedChange,
        format!("{} {currency} {direction} the account without a transaction", unexplained.abs()),
        format!(
            "The balance went from {} to {} {currency} ({actual:+}), but the transactions that posted meanwhile add up to {posted_now:+}: {} {currency} is unaccounted for.",
            previous.balance,
            now.balance,
            unexplained.abs()
        ),
    );
    finding.amount = Some(unexplained.abs());
    finding.threshold = threshold("tolerance", input.rules.tolerance);
    finding.key = format!("{}..{}", previous.observed_at.timestamp(), now.observed_at.timestamp());
    Some(finding)
}

/// How far `transactions` move the balance from the last snapshot `history` holds: what posted
/// since, less what had posted before.
pub fn posted(history: &History, transactions: &[Transaction]) -> Decimal {
    transactions
        .iter()
        .filter(|tx| !tx.pending)
        .map(|tx| match history.known.get(&tx.id) {
            // Posted before: the balance moved since only by what the platform changed of it.
            Some(known) if !known.pending => tx.amount - known.amount,
            _ => tx.amount,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use crate::detect::fixtures::*;
    use crate::model::FindingKind;

    #[test]
    fn reconciliation_table() {
        // (previous balance, now, new transactions (amount, pending), fires)
        type Case = (&'static str, &'static str, &'static [(&'static str, bool)], bool);
        let cases: &[Case] = &[
            ("100", "90", &[("-10", false)], false),
            ("100", "90", &[], true),                   // 10 gone without a record
            ("100", "90.01", &[("-10", false)], false), // within the tolerance
            ("100", "89.98", &[("-10", false)], true),
            ("100", "100", &[("-10", true)], false), // pending does not count yet
            ("100", "90", &[("-10", true)], true),
            ("100", "150", &[("60", false), ("-10", false)], false),
            ("100", "160", &[("60", false)], false),
            ("100", "170", &[("60", false)], true), // money arrived unexplained too
        ];
        for (before, after, txs, fires) in cases {
            let mut history = learned_history();
            history.previous = Some(snapshot(10, before));
            let new = txs.iter().enumerate().map(|(i, (amount, pending))| {
                let mut t = tx(&format!("t{i}"), 5, amount, "Shop");
                t.pending = *pending;
                t
            });
            let findings = run(&rules(), &history, observation(after, new.collect()));
            assert_eq!(
                of_kind(&findings, FindingKind::UnexplainedChange).is_some(),
                *fires,
                "{before} → {after} {txs:?}"
            );
        }
    }

    #[test]
    fn a_pending_transaction_that_posts_now_explains_the_change() {
        let mut pending = tx("p", 60, "-20", "Shop");
        pending.pending = true;
        let mut history = learned_history();
        history.previous = Some(snapshot(30, "100"));
        history.known.insert(pending.id.clone(), pending.clone());
        let mut posted = pending;
        posted.pending = false;
        let findings = run(&rules(), &history, observation("80", vec![posted.clone()]));
        assert!(of_kind(&findings, FindingKind::UnexplainedChange).is_none());
        // Already known as posted: it explains nothing now.
        history.known.insert(posted.id.clone(), posted.clone());
        let findings = run(&rules(), &history, observation("80", vec![posted]));
        assert!(of_kind(&findings, FindingKind::UnexplainedChange).is_some());
    }

    /// A pending charge that posts for more, to someone else: the balance moves by what posted.
    #[test]
    fn a_pending_charge_counts_for_what_it_posted() {
        let mut pending = tx("p", 60, "-1.00", "Coffee Shop");
        pending.pending = true;
        let mut history = learned_history();
        history.previous = Some(snapshot(30, "2000"));
        history.known.insert(pending.id.clone(), pending);
        let posted = tx("p", 60, "-1600.00", "Thief Ltd");
        let findings = run(&rules(), &history, observation("400", vec![posted.clone()]));
        assert!(of_kind(&findings, FindingKind::UnexplainedChange).is_none(), "{findings:?}");
        let findings = run(&rules(), &history, observation("1999", vec![posted]));
        assert!(of_kind(&findings, FindingKind::UnexplainedChange).is_some(), "1599 arrived unexplained");
    }

    /// A posted amount the platform corrected moves the balance by the difference, no more.
    #[test]
    fn a_corrected_posted_amount_explains_its_difference() {
        let mut history = learned_history();
        history.previous = Some(snapshot(30, "100"));
        let before = tx("c", 60, "-10", "Shop");
        history.known.insert(before.id.clone(), before);
        let corrected = tx("c", 60, "-15", "Shop");
        let findings = run(&rules(), &history, observation("95", vec![corrected.clone()]));
        assert!(of_kind(&findings, FindingKind::UnexplainedChange).is_none(), "{findings:?}");
        let findings = run(&rules(), &history, observation("85", vec![corrected]));
        assert!(of_kind(&findings, FindingKind::UnexplainedChange).is_some());
    }
}
