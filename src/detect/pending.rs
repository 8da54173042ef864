//! `stuck_pending`: a pending debit the platform still lists as pending after `pending_max_age` —
//! "the payment failed but the money is gone". A condition: it clears once the platform posts or
//! drops the transaction.

use super::{Input, threshold};
use crate::model::{Finding, FindingKind};

pub(super) fn stuck_pending(input: &Input) -> Vec<Finding> {
    let max_age = input.rules.pending_max_age;
    let currency = &input.observation.snapshot.currency;
    input
        .observation
        .transactions
        .iter()
        .filter(|tx| tx.pending && tx.is_debit() && input.now - tx.posted > max_age)
        .map(|tx| {
            let days = (input.now - tx.posted).num_days();
            let mut finding = input.finding(
                FindingKind::StuckPending,
                format!("{} {currency} to {} pending for {days} days", tx.outflow(), tx.payee),
                format!(
                    "A payment of {} {currency} to {} has been pending since {}: neither posted nor returned.",
                    tx.outflow(),
                    tx.payee,
                    tx.posted.format("%Y-%m-%d")
                ),
            );
            finding.when = Some(tx.posted);
            finding.threshold = threshold("pending_max_age", crate::model::Duration(max_age));
            finding.citing(tx)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::detect::fixtures::*;
    use crate::model::FindingKind;

    #[test]
    fn stuck_pending_table() {
        // (minutes ago, amount, pending, fires) with pending_max_age = 5 days
        let day = 24 * 60;
        for (ago, amount, pending, fires) in [
            (6 * day, "-20", true, true),
            (4 * day, "-20", true, false),
            (6 * day, "-20", false, false), // posted
            (6 * day, "20", true, false),   // a pending refund is not stuck money
        ] {
            let mut t = tx("p", ago, amount, "Shop");
            t.pending = pending;
            // Known already: a stuck payment is old news, still it is found on every poll.
            let mut history = learned_history();
            history.known.insert(t.id.clone(), t.clone());
            let findings = run(&rules(), &history, observation("100", vec![t]));
            assert_eq!(of_kind(&findings, FindingKind::StuckPending).is_some(), fires, "{ago} {amount} {pending}");
        }
    }
}
