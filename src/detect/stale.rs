//! `stale_data`: the platform still answers, but the account's data has stopped moving — a bank
//! connection behind an aggregator (a SimpleFIN bridge) that silently stopped updating. Every poll
//! succeeds and says the same, so nothing else fires while payments go unseen.
//!
//! What "moved" is known from: the balance date the platform reports (`Snapshot::as_of`,
//! SimpleFIN's `balance-date`), its own word for when its data was current, and the newest booked
//! transaction, among those read now and those kept from recent polls. The data last moved at the
//! later of the two, and is stale once that is more than `stale_after` ago.
//!
//! Without a balance date nothing fires: from transactions alone a quiet account (no payment for a
//! week) and a dead connection look the same, and the quiet account is the common case. With a
//! fresh balance date, no new transactions is a quiet account too; and a booked transaction newer
//! than the balance date shows data still arriving, whatever the date says. Pending transactions do
//! not count: a source dates an undated pending charge by the poll itself (SimpleFIN, Enable
//! Banking), which would make any standstill look fresh, and a dead connection keeps listing the
//! holds it last saw. A date ahead of `now` (the platform's clock) counts as fresh.
//!
//! A condition with one alert per account: it is resolved by the first poll whose data moved.

use chrono::{DateTime, TimeDelta, Utc};

use super::{Input, OFF, Rules, threshold};
use crate::model::{Duration, Finding, FindingKind};

/// The data of the account has not moved for longer than `stale_after`.
pub(super) fn stale_data(input: &Input) -> Option<Finding> {
    let stale_after = input.rules.stale_after?;
    let as_of = input.observation.snapshot.as_of?;
    let booked = input.history.recent.iter().chain(&input.observation.transactions).filter(|tx| !tx.pending);
    let newest = booked.map(|tx| tx.posted).max();
    let moved = newest.map_or(as_of, |posted| posted.max(as_of));
    let still = input.now - moved;
    if still <= stale_after {
        return None;
    }
    let transaction = match newest {
        Some(posted) => format!("its newest booked transaction posted {}", day(posted)),
        None => "it lists no recent booked transaction".to_owned(),
    };
    let mut finding = input.finding(
        FindingKind::StaleData,
        format!("No new data from the platform since {} ({})", day(moved), age(still)),
        format!(
            "The platform still answers, but its data for this account has not moved for {}: the balance is dated {} and {transaction}. The bank connection behind it may have stopped updating, so payments made since are not seen.",
            age(still),
            day(as_of)
        ),
    );
    finding.when = Some(moved);
    finding.threshold = threshold("stale_after", Duration(stale_after));
    Some(finding)
}

/// How `check` states the rule.
pub(super) fn stale_data_rule(rules: &Rules) -> String {
    rules.stale_after.map_or_else(
        || OFF.to_owned(),
        |after| format!("the balance date and newest booked transaction older than {}", Duration(after)),
    )
}

fn day(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// A long while in days, a short one in hours.
fn age(span: TimeDelta) -> String {
    match span.num_days() {
        days @ 2.. => format!("{days} days"),
        _ => format!("{} hours", span.num_hours()),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use crate::detect::fixtures::*;
    use crate::detect::{History, Rules};
    use crate::model::{Finding, FindingKind};

    const HOUR: i64 = 60;
    const DAY: i64 = 24 * HOUR;

    fn stale_rules() -> Rules {
        Rules { stale_after: Some(TimeDelta::days(3)), ..rules() }
    }

    /// One poll now of an account whose balance is dated `as_of` minutes ago (or undated), listing
    /// transactions posted the given minutes ago.
    fn judged(history: &History, as_of: Option<i64>, posted: &[i64]) -> Option<Finding> {
        let transactions =
            posted.iter().enumerate().map(|(i, ago)| tx(&format!("t{i}"), *ago, "-5.00", "Shop")).collect();
        let mut obs = observation("100", transactions);
        obs.snapshot.as_of = as_of.map(|ago| now() - TimeDelta::minutes(ago));
        let findings = run(&stale_rules(), history, obs);
        of_kind(&findings, FindingKind::StaleData).cloned()
    }

    #[test]
    fn stale_data_table() {
        // (balance dated minutes ago, transactions posted minutes ago, fires) with stale_after = 3d
        let cases: &[(Option<i64>, &[i64], bool)] = &[
            (Some(4 * DAY), &[], true),
            (Some(4 * DAY), &[5 * DAY, 10 * DAY], true),
            (Some(3 * DAY + 1), &[], true),
            (Some(3 * DAY), &[], false),
            // A quiet account: its balance date is fresh, no transaction for weeks.
            (Some(HOUR), &[], false),
            (Some(HOUR), &[20 * DAY], false),
            // No balance date: quiet and stale cannot be told apart, so never stale.
            (None, &[], false),
            (None, &[30 * DAY], false),
            // A transaction newer than the balance date: data still arrives.
            (Some(10 * DAY), &[DAY], false),
            (Some(10 * DAY), &[4 * DAY], true),
            // The platform's clock ahead of ours.
            (Some(-HOUR), &[], false),
        ];
        for (as_of, posted, fires) in cases {
            let found = judged(&learned_history(), *as_of, posted);
            assert_eq!(found.is_some(), *fires, "as_of {as_of:?}, posted {posted:?}: {found:?}");
        }
    }

    /// A pending charge the source had to date by the poll (posted = now) proves nothing moved.
    #[test]
    fn a_pending_charge_dated_by_the_poll_does_not_count() {
        let mut hold = tx("hold", 0, "-12.00", "Metro");
        hold.pending = true;
        let mut obs = observation("100", vec![hold]);
        obs.snapshot.as_of = Some(now() - TimeDelta::days(4));
        let findings = run(&stale_rules(), &learned_history(), obs);
        assert!(of_kind(&findings, FindingKind::StaleData).is_some(), "{findings:?}");
    }

    #[test]
    fn it_says_since_when_and_what_fired_it() {
        let found = judged(&learned_history(), Some(4 * DAY), &[5 * DAY]).expect("stale");
        assert_eq!(found.when, Some(now() - TimeDelta::days(4)));
        assert_eq!(found.threshold.as_ref().map(|t| (t.key.as_str(), t.value.as_str())), Some(("stale_after", "3d")));
        assert_eq!(found.title, "No new data from the platform since 2026-09-17 (4 days)");
        assert!(
            found.detail.contains("balance is dated 2026-09-17 and its newest booked transaction posted 2026-09-16")
        );
        // One alert per account: the key does not follow the dates, so a longer standstill is the
        // same alert, not a new one.
        assert_eq!(found.key, judged(&learned_history(), Some(9 * DAY), &[]).expect("stale").key);
    }

    /// A transaction kept from an earlier poll moved the data as much as one read now.
    #[test]
    fn a_recent_transaction_in_history_counts() {
        let history = History { recent: vec![tx("old", DAY, "-5.00", "Shop")], ..learned_history() };
        assert!(judged(&history, Some(5 * DAY), &[]).is_none());
        let history = History { recent: vec![tx("old", 6 * DAY, "-5.00", "Shop")], ..learned_history() };
        assert!(judged(&history, Some(5 * DAY), &[]).is_some());
    }

    /// The condition holds while the date stands still and clears by itself: the poll after the
    /// balance date moved (or a transaction arrived) finds nothing.
    #[test]
    fn it_resolves_when_the_data_moves() {
        let history = learned_history();
        assert!(judged(&history, Some(5 * DAY), &[]).is_some());
        assert!(judged(&history, Some(5 * DAY), &[]).is_some(), "still stale on the next poll");
        assert!(judged(&history, Some(HOUR), &[]).is_none(), "the balance date moved");
        assert!(judged(&history, Some(5 * DAY), &[2 * HOUR]).is_none(), "a new transaction posted");
    }

    /// The first poll already knows the platform's date: a connection that is dead when payguard
    /// starts watching it is said at once, not taken as normal.
    #[test]
    fn the_baseline_is_judged_too() {
        let baseline = History::default();
        assert!(judged(&baseline, Some(4 * DAY), &[10 * DAY]).is_some());
        assert!(judged(&baseline, Some(HOUR), &[10 * DAY]).is_none());
    }

    #[test]
    fn off_never_fires() {
        let mut obs = observation("100", vec![]);
        obs.snapshot.as_of = Some(now() - TimeDelta::days(400));
        let findings = run(&Rules { stale_after: None, ..rules() }, &learned_history(), obs);
        assert!(of_kind(&findings, FindingKind::StaleData).is_none(), "{findings:?}");
    }
}
