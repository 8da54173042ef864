//! `balance_drop` and `low_balance`: conditions on the balance itself.

use super::{Input, OFF, Rules, threshold};
use crate::model::{Duration, Finding, FindingKind};
use rust_decimal::Decimal;

/// The balance fell by at least `drop_abs`, or `drop_pct` percent, below its peak within `drop_window`.
pub(super) fn balance_drop(input: &Input) -> Option<Finding> {
    let rules = input.rules;
    if rules.drop_abs.is_none() && rules.drop_pct.is_none() {
        return None;
    }
    let now = &input.observation.snapshot;
    let since = input.now - rules.drop_window;
    let peak = input
        .history
        .snapshots
        .iter()
        .filter(|s| s.observed_at >= since && s.currency == now.currency)
        .max_by(|a, b| a.balance.cmp(&b.balance).then(b.observed_at.cmp(&a.observed_at)))?;
    let drop = peak.balance - now.balance;
    if drop <= Decimal::ZERO {
        return None;
    }
    let by_abs = rules.drop_abs.filter(|limit| drop >= *limit).map(|limit| threshold("drop_abs", limit));
    let by_pct = rules
        .drop_pct
        .filter(|pct| peak.balance > Decimal::ZERO && drop * Decimal::ONE_HUNDRED >= *pct * peak.balance)
        .map(|pct| threshold("drop_pct", pct));
    let fired = by_abs.or(by_pct)?;
    let pct = if peak.balance > Decimal::ZERO {
        (drop * Decimal::ONE_HUNDRED / peak.balance).round_dp(1)
    } else {
        Decimal::ZERO
    };
    let mut finding = input.finding(
        FindingKind::BalanceDrop,
        format!("Balance dropped by {} {} ({pct}%)", drop, now.currency),
        format!(
            "The balance fell from {} to {} {} since {}, within the {} window.",
            peak.balance,
            now.balance,
            now.currency,
            rules.zone.time(peak.observed_at),
            Duration(rules.drop_window)
        ),
    );
    finding.amount = Some(drop);
    finding.threshold = fired;
    finding.transaction_ids = input.new.iter().filter(|tx| tx.is_debit()).map(|tx| tx.id.clone()).collect();
    finding.key = format!("peak@{}", peak.observed_at.timestamp());
    Some(finding)
}

/// `by 500.00 or 30% within 1d`, or `off`.
pub(super) fn balance_drop_rule(rules: &Rules) -> String {
    let limits: Vec<String> =
        rules.drop_abs.map(|a| a.to_string()).into_iter().chain(rules.drop_pct.map(|p| format!("{p}%"))).collect();
    if limits.is_empty() {
        return OFF.to_owned();
    }
    format!("by {} within {}", limits.join(" or "), Duration(rules.drop_window))
}

/// The balance is below `min_balance`. The alert pipeline turns this condition into one alert when it
/// starts and a resolution when the balance is back above.
pub(super) fn low_balance(input: &Input) -> Option<Finding> {
    let min = input.rules.min_balance?;
    let now = &input.observation.snapshot;
    if now.balance >= min {
        return None;
    }
    let mut finding = input.finding(
        FindingKind::LowBalance,
        format!("Balance {} {} is below {}", now.balance, now.currency, min),
        format!("The balance is {} {}, below the minimum of {} you set.", now.balance, now.currency, min),
    );
    finding.threshold = threshold("min_balance", min);
    finding.key = "below".to_owned();
    Some(finding)
}

/// `below 100.00`, or `off`.
pub(super) fn low_balance_rule(rules: &Rules) -> String {
    rules.min_balance.map_or_else(|| OFF.to_owned(), |min| format!("below {min}"))
}

#[cfg(test)]
mod tests {
    use crate::detect::fixtures::*;
    use crate::model::FindingKind;

    #[test]
    fn balance_drop_table() {
        /// (peak, now, drop_abs, drop_pct, fires, threshold key)
        type Case = (&'static str, &'static str, Option<&'static str>, Option<&'static str>, bool, &'static str);
        let cases: &[Case] = &[
            ("1000", "400", Some("500"), None, true, "drop_abs"),
            ("1000", "501", Some("500"), None, false, ""),
            ("1000", "500", Some("500"), None, true, "drop_abs"),
            ("1000", "790", None, Some("20"), true, "drop_pct"),
            ("1000", "810", None, Some("20"), false, ""),
            ("1000", "1200", Some("1"), Some("1"), false, ""),
            ("0", "-50", None, Some("10"), false, ""),
            ("0", "-50", Some("10"), Some("10"), true, "drop_abs"),
            ("1000", "0", None, None, false, ""),
        ];
        for (peak, now, abs, pct, fires, key) in cases {
            let mut rules = rules();
            rules.drop_abs = abs.map(dec);
            rules.drop_pct = pct.map(dec);
            let history = history_with_balances(&[(120, peak)]);
            let findings = run(&rules, &history, observation(now, vec![]));
            let got = of_kind(&findings, FindingKind::BalanceDrop);
            assert_eq!(got.is_some(), *fires, "peak {peak} now {now} abs {abs:?} pct {pct:?}");
            if let Some(f) = got {
                assert_eq!(f.threshold.as_ref().map(|t| t.key.as_str()), Some(*key));
                assert_eq!(f.amount, Some(dec(peak) - dec(now)));
            }
        }
    }

    #[test]
    fn balance_drop_forgets_peaks_outside_the_window() {
        let mut rules = rules();
        rules.drop_abs = Some(dec("100"));
        rules.drop_window = chrono::TimeDelta::hours(1);
        let history = history_with_balances(&[(120, "5000"), (30, "1000")]);
        let findings = run(&rules, &history, observation("950", vec![]));
        assert!(of_kind(&findings, FindingKind::BalanceDrop).is_none());
    }

    #[test]
    fn low_balance_table() {
        for (min, now, fires) in [("100", "99.99", true), ("100", "100", false), ("100", "-5", true), ("0", "0", false)]
        {
            let mut rules = rules();
            rules.min_balance = Some(dec(min));
            let findings = run(&rules, &history_with_balances(&[(60, "500")]), observation(now, vec![]));
            assert_eq!(of_kind(&findings, FindingKind::LowBalance).is_some(), fires, "min {min} now {now}");
        }
    }
}
